/**
 * Helpers for socket options shared by the families: encoding an int option's value the way
 * Linux's sock_getsockopt does (truncated to the caller's optlen), decoding an int argument,
 * the buffer-size rules of SO_SNDBUF/SO_RCVBUF, and the host's net.core sysctls they use.
 *
 * @module
 */

import { EINVAL } from "../errno.ts";

/** An int option value, cut to optlen bytes (Linux copies min(optlen, sizeof(int))). */
export function intOption(v: number, optlen: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return b.subarray(0, Math.min(4, optlen));
}

/** The int argument of setsockopt: EINVAL when optlen < sizeof(int). */
export function intArgument(value: Uint8Array): number {
  if (value.length < 4) throw EINVAL;
  return new DataView(value.buffer, value.byteOffset, 4).getInt32(0, true);
}

/** SOCK_MIN_SNDBUF and SOCK_MIN_RCVBUF on x86-64. */
export const SOCK_MIN_SNDBUF = 4608;
export const SOCK_MIN_RCVBUF = 2304;

function hostSysctl(path: string, fallback: number): number {
  try {
    const v = Number(Deno.readTextFileSync(path).trim());
    return Number.isSafeInteger(v) && v > 0 ? v : fallback;
  } catch {
    return fallback;
  }
}

/**
 * The host's net.core.{w,r}mem_{default,max} and somaxconn: the sandbox reports the same limits
 * as the machine it runs on, so that programs see what they would see natively. Read once.
 */
export const NET_CORE = {
  wmemDefault: hostSysctl("/proc/sys/net/core/wmem_default", 212992),
  rmemDefault: hostSysctl("/proc/sys/net/core/rmem_default", 212992),
  wmemMax: hostSysctl("/proc/sys/net/core/wmem_max", 212992),
  rmemMax: hostSysctl("/proc/sys/net/core/rmem_max", 212992),
  somaxconn: hostSysctl("/proc/sys/net/core/somaxconn", 4096),
  /** net.unix.max_dgram_qlen. */
  unixMaxDgramQlen: hostSysctl("/proc/sys/net/unix/max_dgram_qlen", 10),
} as const;

/**
 * SO_SNDBUF / SO_RCVBUF (and the *FORCE variants, force=true): Linux caps the request at the
 * sysctl maximum (as an unsigned value, so a negative one means the maximum), doubles it for
 * bookkeeping overhead and enforces a floor.
 */
export function bufferSize(requested: number, max: number, min: number, force: boolean): number {
  let v = force ? Math.max(requested, 0) : Math.min(requested >>> 0, max);
  v = Math.min(v, 0x3fffffff);
  return Math.max(v * 2, min);
}
