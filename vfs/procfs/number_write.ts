/**
 * How Linux's /proc/PID number files read a write. oom_score_adj (oom_score_adj_write) copies
 * at most PROC_NUMBUF - 1 bytes, takes them as a C string (up to the first NUL), strips
 * surrounding whitespace (strstrip) and parses with kstrtoint; coredump_filter
 * (kstrtouint_from_user) copies at most 34 bytes, as a C string too, and parses them unstripped.
 *
 * @module
 */

import { EINVAL, ERANGE } from "../../kernel/errno.ts";

/** Linux's PROC_NUMBUF: the buffer oom_score_adj's write is copied into, one byte kept for the NUL. */
export const PROC_NUMBUF = 13;

/** The C string in the first max bytes of data, as Latin-1 (kstrto* sees bytes, not UTF-8). */
export function cString(data: Uint8Array, max: number): string {
  let bytes = data.subarray(0, max);
  const nul = bytes.indexOf(0);
  if (nul >= 0) bytes = bytes.subarray(0, nul);
  return String.fromCharCode(...bytes);
}

/** Linux's strstrip: isspace() (space, \t \n \v \f \r) removed from both ends. */
export function strstrip(s: string): string {
  return s.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, "");
}

const LIMITS = {
  int: [-(2n ** 31n), 2n ** 31n - 1n],
  uint: [0n, 2n ** 32n - 1n],
} as const;

/**
 * Linux's kstrtoint/kstrtouint with base 0: an optional sign ('+', or '-' when signed), then
 * 0x/0X and hex digits, a leading 0 and octal digits, or decimal digits, then at most one
 * newline. EINVAL for anything else, ERANGE when the value does not fit the type (or 64 bits).
 */
export function kstrtoBase0(text: string, type: keyof typeof LIMITS): number {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)\n?$/.exec(text);
  if (m === null || (m[1] === "-" && type === "uint")) throw EINVAL;
  const digits = m[2]!;
  const v = /^0[xX]/.test(digits) ? BigInt(digits) : digits.length > 1 ? (digits[0] === "0" ? BigInt("0o" + digits.slice(1)) : BigInt(digits)) : BigInt(digits);
  if (v >= 2n ** 64n) throw ERANGE;
  const n = m[1] === "-" ? -v : v;
  const [min, max] = LIMITS[type];
  if (n < min || n > max) throw ERANGE;
  return Number(n);
}
