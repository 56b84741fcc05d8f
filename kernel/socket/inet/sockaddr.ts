/**
 * struct sockaddr_in / sockaddr_in6 to and from netstack addresses.
 *
 * A dual-stack AF_INET6 socket names IPv4 peers with v4-mapped addresses (::ffff:a.b.c.d);
 * netstack only knows plain IPv4, so mapping happens here, at the edge.
 *
 * @module
 */

import { type IpAddress, Ipv4Address, Ipv6Address } from "../../../netstack/mod.ts";
import { EAFNOSUPPORT, EINVAL } from "../../errno.ts";
import { AF_INET, AF_INET6, AF_UNSPEC } from "./constants.ts";

export const SOCKADDR_IN_LEN = 16;
export const SOCKADDR_IN6_LEN = 28;
/** The shortest sockaddr_in6 Linux accepts (without sin6_scope_id, RFC 2133). */
const SOCKADDR_IN6_MIN = 24;

/** An address as a socket call names it: addr null is the wildcard (INADDR_ANY, in6addr_any). */
export interface Endpoint {
  addr: IpAddress | null;
  port: number;
  /** The wildcard came as ::ffff:0.0.0.0 (IPv4's INADDR_ANY seen from an IPv6 socket). */
  v4MappedAny?: boolean;
}

/**
 * Parses a sockaddr given to a socket of `family`. Returns "unspec" for AF_UNSPEC (connect's
 * "dissolve the association"); throws EINVAL for a short address and EAFNOSUPPORT for another
 * family. A v4-mapped IPv6 address becomes an IPv4 address.
 */
export function parseSockaddr(family: number, b: Uint8Array): Endpoint | "unspec" {
  if (b.length < 2) throw EINVAL;
  const fam = b[0]! | (b[1]! << 8);
  if (fam === AF_UNSPEC) return "unspec";
  if (family === AF_INET) {
    if (b.length < SOCKADDR_IN_LEN) throw EINVAL;
    if (fam !== AF_INET) throw EAFNOSUPPORT;
    const port = (b[2]! << 8) | b[3]!;
    const a = new Ipv4Address(b.subarray(4, 8));
    return { addr: a.isUnspecified ? null : a, port };
  }
  if (b.length < SOCKADDR_IN6_MIN) throw EINVAL;
  if (fam !== AF_INET6) throw EAFNOSUPPORT;
  const port = (b[2]! << 8) | b[3]!;
  const raw = b.subarray(8, 24);
  if (isV4Mapped(raw)) {
    const a = new Ipv4Address(raw.subarray(12, 16));
    return a.isUnspecified ? { addr: null, port, v4MappedAny: true } : { addr: a, port };
  }
  const a = new Ipv6Address(raw);
  return { addr: a.isUnspecified ? null : a, port };
}

/**
 * A bind to an AF_UNSPEC address, as Linux takes it: on AF_INET only with INADDR_ANY (for old
 * programs), else EAFNOSUPPORT; on AF_INET6 EAFNOSUPPORT (EINVAL when shorter than a
 * sockaddr_in6).
 */
export function checkUnspecBind(family: number, b: Uint8Array): void {
  if (family === AF_INET) {
    if (b.length < SOCKADDR_IN_LEN) throw EINVAL;
    if (b[4] !== 0 || b[5] !== 0 || b[6] !== 0 || b[7] !== 0) throw EAFNOSUPPORT;
    return;
  }
  if (b.length < SOCKADDR_IN6_MIN) throw EINVAL;
  throw EAFNOSUPPORT;
}

/** Whether 16 address bytes are ::ffff:a.b.c.d. */
export function isV4Mapped(raw: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (raw[i] !== 0) return false;
  return raw[10] === 0xff && raw[11] === 0xff;
}

/** The sockaddr a socket of `family` reports for addr (null: the wildcard) and port. */
export function formatSockaddr(family: number, addr: IpAddress | null, port: number): Uint8Array {
  if (family === AF_INET) {
    const b = new Uint8Array(SOCKADDR_IN_LEN);
    b[0] = AF_INET;
    b[2] = port >> 8;
    b[3] = port & 0xff;
    if (addr !== null && addr.version === 4) b.set(addr.bytes, 4);
    return b;
  }
  const b = new Uint8Array(SOCKADDR_IN6_LEN);
  b[0] = AF_INET6;
  b[2] = port >> 8;
  b[3] = port & 0xff;
  if (addr !== null) {
    if (addr.version === 6) b.set(addr.bytes, 8);
    else {
      b[18] = 0xff;
      b[19] = 0xff;
      b.set(addr.bytes, 20);
    }
  }
  return b;
}
