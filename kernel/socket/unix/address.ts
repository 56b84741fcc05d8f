/**
 * struct sockaddr_un: parsing what the application passed to bind/connect/sendto, in Linux's
 * three forms (unix(7)): unnamed (only the family), abstract (sun_path starts with a NUL byte;
 * the name is every byte after it, up to the given length, NULs included), and pathname (up to
 * the first NUL).
 *
 * @module
 */

import { decodePath } from "../../../abi/path_bytes.ts";
import { EINVAL } from "../../errno.ts";
import { AF_UNIX, SOCKADDR_UN_SIZE } from "../../../abi/linux/socket.ts";

/** Offset of sun_path in struct sockaddr_un. */
const SUN_PATH = 2;

export type UnixAddress =
  | { kind: "unnamed" }
  /** key: the name's bytes as a latin1 string (a Map key); bytes: the sockaddr as reported. */
  | { kind: "abstract"; key: string; bytes: Uint8Array }
  | { kind: "path"; path: string; bytes: Uint8Array };

/**
 * Parses a sockaddr_un as unix_validate_addr and unix_mkname do: EINVAL for a length outside
 * (2, 110] or a family other than AF_UNIX. `allowUnnamed`: bind(2) takes a bare family (autobind).
 */
export function parseUnixAddress(raw: Uint8Array, allowUnnamed: boolean): UnixAddress {
  if (raw.length < SUN_PATH || raw.length > SOCKADDR_UN_SIZE) throw EINVAL;
  if ((raw[0]! | (raw[1]! << 8)) !== AF_UNIX) throw EINVAL;
  if (raw.length === SUN_PATH) {
    if (!allowUnnamed) throw EINVAL;
    return { kind: "unnamed" };
  }
  if (raw[SUN_PATH] === 0) {
    const name = raw.subarray(SUN_PATH + 1);
    return { kind: "abstract", key: latin1(name), bytes: raw.slice() };
  }
  let end = SUN_PATH;
  while (end < raw.length && raw[end] !== 0) end++;
  const pathBytes = raw.subarray(SUN_PATH, end);
  const path = decodePath(pathBytes);
  // Linux reports a pathname address with its terminating NUL: sun_path's length + 3.
  const bytes = new Uint8Array(SUN_PATH + pathBytes.length + 1);
  bytes.set(raw.subarray(0, SUN_PATH + pathBytes.length));
  return { kind: "path", path, bytes };
}

/** The sockaddr_un of an abstract name given by its bytes. */
export function abstractAddress(name: Uint8Array): Uint8Array {
  const b = new Uint8Array(SUN_PATH + 1 + name.length);
  b[0] = AF_UNIX & 0xff;
  b.set(name, SUN_PATH + 1);
  return b;
}

/** What getsockname reports for an unbound socket: the family alone. */
export const UNNAMED_ADDRESS: Uint8Array = Uint8Array.of(AF_UNIX & 0xff, 0);

function latin1(b: Uint8Array): string {
  let s = "";
  for (const c of b) s += String.fromCharCode(c);
  return s;
}
