/**
 * Checkpoint of AF_UNIX sockets (issue #13; docs/checkpoint.md): socketpairs, connected stream,
 * datagram and seqpacket sockets with the messages queued to them, listening sockets with the
 * connections not yet accepted, abstract names, shutdown state, pending errors, buffer sizes and
 * options. Every socket reachable from a descriptor is saved once in the image's socket table:
 * the one a descriptor holds, its peer (which may have been closed: a dead socket, kept as Linux
 * keeps unix_peer), the senders of queued messages and the embryos of an accept queue.
 *
 * A message's bytes, credentials and sender address are saved; its charge to the sender's
 * buffer too, and each socket's `wmem` and `queuedBytes` are recounted from them. Descriptors
 * in flight (SCM_RIGHTS) are saved as indices of the image's file table (a description only in
 * flight is saved as any other, a socket passed over itself too: the table ends cycles), and
 * handed to their messages once every file is made ({@linkcode attachRights}).
 *
 * @module
 */

import { loadSockOptionPairs, sockOptionPairs } from "../socket/sockopt.ts";
import { intIn, z } from "./zod_tree.ts";
import type { Kernel } from "../kernel.ts";
import type { UnixSocket } from "../socket/unix/unix_socket.ts";
// From kernel/net_load.ts, not imports: a restore of an image without sockets loads none of the network.
import { netModules, netModulesIfLoaded } from "../net_load.ts";
import { NET_CORE } from "../socket/sockopt.ts";
import { SOCK_DGRAM, SOCK_SEQPACKET, SOCK_STREAM } from "../../abi/linux/socket.ts";
import { LinuxError } from "../errno.ts";
import { ImageError } from "./image.ts";
import type { FileDescription } from "../../vfs/file_description.ts";

const u32 = intIn(0, 0xffff_ffff);
const i32 = intIn(-0x8000_0000, 0x7fff_ffff);
const cred = z.object({ pid: i32, uid: i32, gid: i32 }).strict();
/** A sockaddr_un as getsockname reports it (2 to 110 bytes). */
const sockaddr = z.instanceof(Uint8Array).refine((b) => b.length >= 2 && b.length <= 110, "bad sockaddr_un");
/** SO_RCVTIMEO/SO_SNDTIMEO in ns: 0 none, negative fail at once. */
const timeout = intIn(-(2 ** 62), 2 ** 62);

// Built at the first socket an image holds (z.lazy).
const messageSchema = z.lazy(() => z.object({
  data: z.instanceof(Uint8Array).refine((b) => b.length <= 8 << 20, "message too large"),
  /** Null: the message carries no credentials (sent while neither end had SO_PASSCRED). */
  creds: cred.nullable(),
  from: sockaddr.nullable(),
  /** Index of the sending socket in the socket table. */
  sender: u32,
  /** Bytes still charged to the sender's buffer. */
  charge: intIn(0, 16 << 20),
  /** Descriptors in flight (SCM_RIGHTS), as indices of the image's files; absent: none. */
  rights: z.array(u32).min(1).max(253).optional(),
}).strict());

export const unixSocketSchema = z.lazy(() => z.object({
  type: z.union([z.literal(SOCK_STREAM), z.literal(SOCK_DGRAM), z.literal(SOCK_SEQPACKET)]),
  protocol: z.literal(0),
  flags: u32,
  owner: cred,
  state: z.enum(["unconnected", "listening", "connected"]),
  peer: u32.nullable(),
  address: sockaddr.nullable(),
  peerCred: cred,
  dead: z.boolean(),
  embryo: z.boolean(),
  queue: z.array(messageSchema).max(1 << 16),
  acceptQueue: z.array(u32).max(1 << 16),
  backlog: intIn(0, 1 << 30),
  shutdownMask: intIn(0, 3),
  error: intIn(0, 4095),
  sndbuf: intIn(1, 0x7fff_ffff),
  rcvbuf: intIn(1, 0x7fff_ffff),
  passcred: z.boolean(),
  options: z.array(z.tuple([intIn(0, 1 << 16), i32])).max(64),
  recvTimeoutNs: timeout,
  sendTimeoutNs: timeout,
}).strict());

export type SavedUnixSocket = z.infer<typeof unixSocketSchema>;

/**
 * The saved form of s; `ref` saves (or finds) another socket and returns its index, `file` a
 * description in flight.
 */
export function saveUnixSocket(s: UnixSocket, ref: (o: UnixSocket) => number, file: (f: FileDescription) => number): SavedUnixSocket {
  const a = s.address;
  return {
    type: s.type as 1 | 2 | 5,
    protocol: 0,
    flags: s.flags,
    owner: { ...s.ownerCred },
    state: s.state,
    peer: s.peer === null ? null : ref(s.peer),
    address: a === null ? null : a.kind === "unnamed" ? Uint8Array.of(1, 0) : a.bytes.slice(),
    peerCred: { ...s.peerCred },
    dead: s.dead,
    embryo: s.embryo,
    queue: s.queue.map((m) => ({
      data: m.data.slice(), creds: m.creds === null ? null : { ...m.creds }, from: m.from?.slice() ?? null, sender: ref(m.sender), charge: m.charge,
      ...(m.rights !== null && m.rights.length > 0 ? { rights: m.rights.map(file) } : {}),
    })),
    acceptQueue: s.acceptQueue.map(ref),
    backlog: s.backlog,
    shutdownMask: s.shutdownMask,
    error: s.error,
    sndbuf: s.sndBuf,
    rcvbuf: s.rcvBuf,
    passcred: s.passcred,
    options: sockOptionPairs(s),
    recvTimeoutNs: s.recvTimeoutNs,
    sendTimeoutNs: s.sendTimeoutNs,
  };
}

/**
 * Rebuilds the socket table. Each live socket comes with one reference for the caller to drop
 * once descriptors took theirs (an embryo's is its accept queue's); a dead one keeps its only
 * reference (it is never released again: its close already happened). `held` says which
 * sockets a file of the image names. Throws ImageError for a table that does not hold together.
 */
/** Whether x is a Unix socket (none exists before the network's modules are loaded). */
export function isUnixSocket(x: unknown): x is UnixSocket {
  const n = netModulesIfLoaded();
  return n !== null && x instanceof n.UnixSocket;
}

export function makeUnixSockets(k: Kernel, saved: readonly SavedUnixSocket[], held: ReadonlySet<number>): UnixSocket[] {
  if (saved.length === 0) return [];
  const { UnixSocket, parseUnixAddress } = netModules();
  const bad = (why: string) => new ImageError(`restore: the image does not hold together: ${why}`);
  const n = saved.length;
  const inAccept = new Map<number, number>();
  saved.forEach((s, i) => {
    const at = `Unix socket ${i}`;
    if (s.peer !== null && (s.peer >= n || s.peer === i)) throw bad(`${at} names peer ${s.peer}`);
    for (const m of s.queue) if (m.sender >= n) throw bad(`${at} holds a message from socket ${m.sender}`);
    for (const e of s.acceptQueue) {
      if (e >= n || inAccept.has(e) || !saved[e]!.embryo) throw bad(`${at} accepts socket ${e}`);
      inAccept.set(e, i);
    }
    const connOriented = s.type !== SOCK_DGRAM;
    if (s.state === "connected" && s.peer === null) throw bad(`${at} is connected to nothing`);
    if (s.state !== "connected" && connOriented && s.peer !== null) throw bad(`${at} has a peer but no connection`);
    if (s.peer !== null) {
      const p = saved[s.peer]!;
      if (p.type !== s.type) throw bad(`${at}'s peer is of another type`);
      if (connOriented && p.peer !== i) throw bad(`${at}'s peer is connected elsewhere`);
    }
    if (s.state !== "listening" && s.acceptQueue.length > 0) throw bad(`${at} accepts but does not listen`);
    if (s.state === "listening" && (!connOriented || s.address === null)) throw bad(`${at} listens without a name or a connection type`);
    if (s.dead && (s.queue.length > 0 || s.acceptQueue.length > 0 || held.has(i))) throw bad(`${at} is closed but holds data or a descriptor`);
    if (!s.dead && !held.has(i) && !s.embryo) throw bad(`${at} is open but nothing holds it`);
    if (s.embryo && (held.has(i) || s.state !== "connected")) throw bad(`${at} is an embryo held elsewhere or not connected`);
  });
  for (const [i, s] of saved.entries()) if (s.embryo && !inAccept.has(i)) throw bad(`Unix socket ${i} is an embryo no listener holds`);

  const made = saved.map((s) => {
    const so = new UnixSocket({ ns: k.unixNames, type: s.type, protocol: 0, flags: 0, owner: { ...s.owner } });
    so.flags = s.flags;
    so.state = s.state;
    so.peerCred = { ...s.peerCred };
    so.dead = s.dead;
    so.embryo = s.embryo;
    so.backlog = Math.min(s.backlog, NET_CORE.somaxconn);
    so.shutdownMask = s.shutdownMask;
    so.error = s.error;
    so.sndBuf = s.sndbuf;
    so.rcvBuf = s.rcvbuf;
    so.passcred = s.passcred;
    loadSockOptionPairs(so, s.options);
    so.recvTimeoutNs = s.recvTimeoutNs;
    so.sendTimeoutNs = s.sendTimeoutNs;
    if (s.address !== null) {
      try {
        so.address = parseUnixAddress(s.address, true);
      } catch (err) {
        if (!(err instanceof LinuxError)) throw err;
        throw bad("a Unix socket's address is not a sockaddr_un");
      }
    }
    return so;
  });
  saved.forEach((s, i) => {
    const so = made[i]!;
    so.peer = s.peer === null ? null : made[s.peer]!;
    for (const m of s.queue) {
      const sender = made[m.sender]!;
      so.queue.push({ data: m.data.slice(), rights: null, creds: m.creds === null ? null : { ...m.creds }, from: m.from?.slice() ?? null, sender, charge: m.charge });
      so.queuedBytes += m.data.length;
      sender.wmem += m.charge;
    }
    for (const e of s.acceptQueue) so.acceptQueue.push(made[e]!.incRef());
    // An abstract name is the namespace's again while its socket lives (an embryo shares its
    // listener's name without holding it).
    const a = so.address;
    if (a !== null && a.kind === "abstract" && !s.dead && !s.embryo) {
      const key = `${so.type}:${a.key}`;
      if (k.unixNames.abstract.has(key)) throw bad(`two Unix sockets hold one abstract name`);
      k.unixNames.abstract.set(key, so);
    }
  });
  // An embryo's reference is its accept queue's now: the caller's one goes.
  for (const [i, s] of saved.entries()) if (s.embryo) made[i]!.decRef();
  return made;
}

/**
 * Gives the queued messages their descriptors in flight, once every file of the image is made
 * (a message holds its own reference to each). `files` are the image's files by index.
 */
export function attachRights(saved: readonly SavedUnixSocket[], sockets: readonly UnixSocket[], files: readonly FileDescription[]): void {
  for (const [i, s] of saved.entries()) {
    for (const [j, m] of s.queue.entries()) {
      if (m.rights !== undefined) sockets[i]!.queue[j]!.rights = m.rights.map((f) => files[f]!.incRef());
    }
  }
}

