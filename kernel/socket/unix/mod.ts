/**
 * AF_UNIX: registers the family with the socket layer. Importing this module is what makes
 * socket(AF_UNIX, ...) and socketpair(AF_UNIX, ...) work (kernel/socket/mod.ts imports it).
 *
 * @module
 */

import { EPROTONOSUPPORT, ESOCKTNOSUPPORT } from "../../errno.ts";
import { AF_UNIX, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET, SOCK_STREAM } from "../../../abi/linux/socket.ts";
import type { Task } from "../../task.ts";
import { registerFamily } from "../socket.ts";
import { UnixSocket } from "./unix_socket.ts";

export { UnixSocket } from "./unix_socket.ts";

/** PF_UNIX: the one protocol number besides 0 that unix_create accepts. */
const PF_UNIX = 1;

/** The socket type after Linux's unix_create rules: SOCK_RAW is taken as SOCK_DGRAM. */
function unixType(type: number, protocol: number): number {
  if (protocol !== 0 && protocol !== PF_UNIX) throw EPROTONOSUPPORT;
  if (type === SOCK_RAW) return SOCK_DGRAM;
  if (type !== SOCK_STREAM && type !== SOCK_DGRAM && type !== SOCK_SEQPACKET) throw ESOCKTNOSUPPORT;
  return type;
}

function owner(t: Task) {
  return { pid: t.tg.tgid, uid: t.creds.uid, gid: t.creds.gid };
}

/** Implements socket(AF_UNIX, ...). */
export function createUnixSocket(t: Task, type: number, protocol: number, flags: number): UnixSocket {
  return new UnixSocket({
    ns: t.net.unix, type: unixType(type, protocol), protocol, flags, owner: owner(t), landlock: t.landlock,
  });
}

/** Implements socketpair(AF_UNIX, ...): two sockets connected to each other. */
export function createUnixPair(t: Task, type: number, protocol: number, flags: number): [UnixSocket, UnixSocket] {
  const a = createUnixSocket(t, type, protocol, flags);
  const b = createUnixSocket(t, type, protocol, flags);
  a.peer = b;
  b.peer = a;
  a.state = b.state = "connected";
  a.peerCred = b.peerCred = owner(t);
  return [a, b];
}

registerFamily(AF_UNIX, createUnixSocket, createUnixPair);
