/**
 * The Internet checksum (RFC 1071): the 16-bit one's complement of the one's
 * complement sum of the data taken as big-endian 16-bit words.
 *
 * Sums are accumulated unfolded in a plain number (exact up to 2^53, i.e.
 * well over 10^11 words), then folded once at the end.
 *
 * @module
 */

import type { IpAddress } from "./address.ts";

/**
 * Adds `data` as big-endian 16-bit words to the running sum `sum`.
 *
 * An odd trailing byte is padded with a zero byte, so only the last chunk of a
 * multi-chunk sum may have odd length.
 */
export function checksumAdd(sum: number, data: Uint8Array): number {
  const n = data.length;
  const even = n & ~1;
  let s = sum;
  let i = 0;
  // Unrolled by 8 bytes: this is the hot loop of the data path.
  const fast = even & ~7;
  for (; i < fast; i += 8) {
    s += ((data[i]! << 8) | data[i + 1]!) + ((data[i + 2]! << 8) | data[i + 3]!) +
      ((data[i + 4]! << 8) | data[i + 5]!) + ((data[i + 6]! << 8) | data[i + 7]!);
  }
  for (; i < even; i += 2) s += (data[i]! << 8) | data[i + 1]!;
  if (n & 1) s += data[n - 1]! << 8;
  return s;
}

/** Folds a running sum to 16 bits with end-around carry. */
export function checksumFold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** Finishes a running sum: fold, then one's complement. */
export function checksumFinish(sum: number): number {
  return ~checksumFold(sum) & 0xffff;
}

/** The Internet checksum of `data` alone. */
export function checksum(data: Uint8Array): number {
  return checksumFinish(checksumAdd(0, data));
}

/**
 * The running sum of the pseudo-header used by UDP, TCP and ICMPv6: source and
 * destination address, upper-layer protocol and upper-layer length. The IPv4
 * form (RFC 768/9293) and the IPv6 form (RFC 8200 §8.1) sum to the same words
 * except for the address widths, so one function serves both.
 */
export function pseudoHeaderSum(h: { src: IpAddress; dst: IpAddress; protocol: number; length: number }): number {
  let s = checksumAdd(0, h.src.bytes);
  s = checksumAdd(s, h.dst.bytes);
  s += h.protocol;
  s += (h.length >>> 16) + (h.length & 0xffff);
  return s;
}
