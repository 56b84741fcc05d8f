/**
 * TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 §3.4).
 *
 * A `SeqNumber` is a branded number so that it is never mixed up with a length
 * or a plain integer; use the functions here for all arithmetic.
 *
 * @module
 */

declare const seqBrand: unique symbol;

/** A sequence number in [0, 2^32). */
export type SeqNumber = number & { readonly [seqBrand]: true };

/** Makes a sequence number from any integer, wrapping it. */
export function seq(n: number): SeqNumber {
  return (n >>> 0) as SeqNumber;
}

/** `a + n` modulo 2^32. */
export function seqAdd(a: SeqNumber, n: number): SeqNumber {
  return ((a + n) >>> 0) as SeqNumber;
}

/** The signed distance `a - b` in (-2^31, 2^31]. */
export function seqDiff(a: SeqNumber, b: SeqNumber): number {
  return (a - b) | 0;
}

export function seqLt(a: SeqNumber, b: SeqNumber): boolean {
  return ((a - b) | 0) < 0;
}
export function seqLe(a: SeqNumber, b: SeqNumber): boolean {
  return ((a - b) | 0) <= 0;
}
export function seqGt(a: SeqNumber, b: SeqNumber): boolean {
  return ((a - b) | 0) > 0;
}
export function seqGe(a: SeqNumber, b: SeqNumber): boolean {
  return ((a - b) | 0) >= 0;
}
export function seqMax(a: SeqNumber, b: SeqNumber): SeqNumber {
  return seqGt(a, b) ? a : b;
}
export function seqMin(a: SeqNumber, b: SeqNumber): SeqNumber {
  return seqLt(a, b) ? a : b;
}
