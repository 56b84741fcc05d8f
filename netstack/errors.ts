/**
 * Errors the netstack reports to its caller, one singleton per condition so
 * that callers compare by identity. `code` is the Linux errno name; the
 * kernel's socket layer maps it to its own `LinuxError` by name.
 *
 * @module
 */

/** A socket-level failure the caller is meant to catch. */
export class NetError extends Error {
  /** The Linux errno name, e.g. "ECONNRESET". */
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = "NetError";
    this.code = code;
  }
}

export const EADDRINUSE: NetError = new NetError("EADDRINUSE", "Address already in use");
export const EADDRNOTAVAIL: NetError = new NetError("EADDRNOTAVAIL", "Cannot assign requested address");
export const EAFNOSUPPORT: NetError = new NetError("EAFNOSUPPORT", "Address family not supported");
export const ECONNREFUSED: NetError = new NetError("ECONNREFUSED", "Connection refused");
export const ECONNRESET: NetError = new NetError("ECONNRESET", "Connection reset by peer");
export const ENETUNREACH: NetError = new NetError("ENETUNREACH", "Network is unreachable");
export const EHOSTUNREACH: NetError = new NetError("EHOSTUNREACH", "No route to host");
export const EINVAL: NetError = new NetError("EINVAL", "Invalid argument");
export const EISCONN: NetError = new NetError("EISCONN", "Socket is already connected");
export const EMSGSIZE: NetError = new NetError("EMSGSIZE", "Message too long");
export const ENOTCONN: NetError = new NetError("ENOTCONN", "Socket is not connected");
export const EPIPE: NetError = new NetError("EPIPE", "Broken pipe");
export const ETIMEDOUT: NetError = new NetError("ETIMEDOUT", "Connection timed out");
export const EALREADY: NetError = new NetError("EALREADY", "Operation already in progress");
export const EDESTADDRREQ: NetError = new NetError("EDESTADDRREQ", "Destination address required");

/** The error singleton whose errno name is `code`, or null: a checkpoint saves errors by name. */
export function netErrorByCode(code: string): NetError | null {
  for (const e of ALL) if (e.code === code) return e;
  return null;
}

const ALL: readonly NetError[] = [
  EADDRINUSE, EADDRNOTAVAIL, EAFNOSUPPORT, ECONNREFUSED, ECONNRESET, ENETUNREACH, EHOSTUNREACH, EINVAL, EISCONN, EMSGSIZE,
  ENOTCONN, EPIPE, ETIMEDOUT, EALREADY, EDESTADDRREQ,
];
