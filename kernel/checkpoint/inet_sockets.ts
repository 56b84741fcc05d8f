/**
 * Checkpoint of the sandbox's TCP/IP (issue #13; docs/checkpoint.md): every TCP socket of the
 * netstack (listeners with the connections not yet accepted, established connections with
 * their send and receive queues, out-of-order data, sequence numbers, windows, congestion and
 * RTT state, and every timer as its remaining time; connections no descriptor holds any more,
 * as a socket finishing its close or in TIME-WAIT) and every UDP socket with its queued
 * datagrams, and the AF_INET/AF_INET6 socket files over them with their options.
 *
 * netstack's classes keep their state in `#private` fields: each gives its state as plain data
 * (`TcpSocket.snapshot`, `UdpSocket.snapshot`) and takes it back (`restore`), which checks the
 * invariants its queues rely on. This module saves those snapshots in two tables of the image
 * (a TCP socket is saved once, whether a descriptor, a listener's accept queue or the stack
 * alone holds it), checks the shape of the whole (zod) and how the sockets name each other
 * before anything is made, and turns whatever a restore refuses into one ImageError line.
 *
 * Connections to the host (through `--network sandbox`'s gateway, or from a `--publish` relay)
 * cannot outlive the sentry: they are saved reset, and the program sees ECONNRESET after the
 * restore (runsc's behaviour without --tcp-established); the relays themselves are left out.
 * The restoring command's own --network and --publish give the restored sandbox its network
 * (a listener --publish names is reached again). Ping sockets are saved with their identifier
 * and queued echo messages. Packets still in flight inside the stack are refused at checkpoint.
 *
 * @module
 */

import { intIn, lazyKind, z } from "./zod_tree.ts";
import type { Kernel } from "../kernel.ts";
import type { TcpSnapshot, TcpSocket, UdpSnapshot, UdpSocket } from "../../netstack/mod.ts";
// The network's classes come from kernel/net_load.ts, not imports: a restore of an image
// without sockets loads none of the network (the checkpoint, and a restore of sockets, load it first).
import { netModules, netModulesIfLoaded } from "../net_load.ts";
import { AF_INET, AF_INET6 } from "../../abi/linux/socket.ts";
import type { FileDescription } from "../../vfs/file_description.ts";
import { ImageError } from "./image.ts";

const u32 = intIn(0, 0xffff_ffff);
const u16 = intIn(0, 0xffff);
const count = intIn(0, 0x7fff_ffff);
const port = u16;
/** An IP address as text; parsed again on restore. */
const addr = z.string().max(64).regex(/^[0-9a-fA-F.:]+$/);
const endpoint = z.object({ addr, port }).strict();
/** Milliseconds: a remaining time or an age (a month either way at most). */
const ms = z.number().min(-(2 ** 31)).max(2 ** 31);
const real = z.number().min(0).max(2 ** 53);
/** A queue's capacity: within what the sentry ever makes (1 MiB), with room. */
const capacity = intIn(1024, 64 << 20);
const bytes = (max: number) => z.instanceof(Uint8Array).refine((b) => b.length <= max, "too large");
const errorName = z.string().regex(/^E[A-Z]{2,15}$/).nullable();

const tcpState = z.enum([
  "CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING",
  "LAST-ACK", "TIME-WAIT",
]);

// The sockets' own schemas (the largest of the checkpoint's) are built at the first socket an
// image holds (z.lazy): a restore of a sandbox without any does not pay for them.
export const tcpSnapshotSchema = z.lazy(() => z.object({
  opts: z.object({
    rxBufferSize: capacity,
    txBufferSize: capacity,
    noDelay: z.boolean(),
    cork: z.boolean().default(false),
    ackDelay: intIn(0, 60_000),
    keepalive: z.object({ idle: intIn(1, 2 ** 31), interval: intIn(1, 2 ** 31), count: intIn(1, 1000) }).strict().nullable(),
    congestion: z.enum(["reno", "cubic"]),
    timestamps: z.boolean(),
    sack: z.boolean(),
    windowScaling: z.boolean(),
    initialRto: intIn(1, 120_000),
    minRto: intIn(1, 120_000),
    maxRto: intIn(1, 600_000),
    timeWait: intIn(0, 600_000),
    maxRetries: intIn(0, 1000),
    synRetries: intIn(0, 1000),
    finWait2Timeout: intIn(0, 600_000),
    sendLimit: intIn(0, 2 ** 31).default(0),
    deferAccept: intIn(0, 255).default(0),
  }).strict(),
  state: tcpState,
  localAddr: addr.nullable(),
  localPort: port,
  remote: endpoint.nullable(),
  bound: z.boolean(),
  registered: z.boolean(),
  wildcardVersion: z.union([z.literal(0), z.literal(4), z.literal(6)]),
  reuseAddr: z.boolean(),
  reusePort: z.boolean(),
  boundDevice: intIn(0, 1 << 20).optional(),
  backlog: intIn(0, 1 << 16),
  synBacklog: intIn(0, 1 << 17),
  synQueueLen: intIn(0, 1 << 17),
  acceptQueue: z.array(u32).max(1 << 16),
  parent: u32.nullable(),
  rx: bytes(64 << 20),
  rxLen: count,
  tx: bytes(64 << 20),
  ooo: z.array(z.tuple([count, count])).max(32),
  seqs: z.object({
    iss: u32, sndUna: u32, sndNxt: u32, sndMax: u32, sndWl1: u32, sndWl2: u32, irs: u32, rcvNxt: u32, lastAckSent: u32,
    lastSackSeq: u32, rexmitHigh: u32,
  }).strict(),
  optSeqs: z.object({
    rxFinSeq: u32.nullable(), rstPendingFor: u32.nullable(), recovery: u32.nullable(), rexmitAt: u32.nullable(), rttSeq: u32.nullable(),
  }).strict(),
  counts: z.object({
    sndWnd: count, maxSndWnd: count, sndMss: intIn(1, 0xffff), rcvMss: intIn(1, 0xffff),
    sndShift: intIn(0, 14), offload: count, rcvShift: intIn(0, 14), tsClock: u32,
    tsRecent: u32, dupAcks: count, retries: intIn(0, 1000), acksOwed: count, segsUnacked: count,
    lastAdvWindow: count, keepaliveProbes: intIn(0, 1000), persistBackoff: intIn(0, 64),
  }).strict(),
  flags: z.object({
    finReceived: z.boolean(), wsEnabled: z.boolean(), tsEnabled: z.boolean(), sackEnabled: z.boolean(), synPending: z.boolean(),
    finQueued: z.boolean(), finAcked: z.boolean(), rstPending: z.boolean(), ackNow: z.boolean(), probePending: z.boolean(),
    userClosed: z.boolean(), shutRd: z.boolean(), shutWr: z.boolean(), wasConnected: z.boolean(), portLocked: z.boolean().default(false),
  }).strict(),
  timers: z.object({
    rto: ms.nullable(), delayedAck: ms.nullable(), timeWait: ms.nullable(), keepalive: ms.nullable(), persist: ms.nullable(),
    finWait2: ms.nullable(),
    cork: ms.nullable().optional(),
  }).strict(),
  ages: z.object({ rttStart: ms, lastRecv: ms }).strict(),
  rtt: z.object({ srtt: real.nullable(), rttvar: real, rto: z.number().min(1).max(600_000) }).strict(),
  cc: z.object({
    cwnd: z.number().min(1).max(2 ** 40),
    ssthresh: z.number().min(0).max(Number.MAX_SAFE_INTEGER),
    acc: z.number().min(-(2 ** 40)).max(2 ** 40),
    cubic: z.object({ wMax: real, epochAge: ms.nullable(), k: real, wEst: real }).strict().nullable(),
  }).strict(),
  scoreboard: z.array(z.tuple([u32, u32])).max(64),
  error: errorName,
}).strict());

const datagram = z.object({
  src: endpoint, dst: endpoint, data: bytes(65535), ttl: intIn(0, 255).optional(), tos: intIn(0, 255).optional(),
}).strict();

export const udpSnapshotSchema = z.lazy(() => z.object({
  localAddr: addr.nullable(),
  localPort: port,
  bound: z.boolean(),
  wildcardVersion: z.union([z.literal(0), z.literal(4), z.literal(6)]),
  reuseAddr: z.boolean(),
  reusePort: z.boolean(),
  boundDevice: intIn(0, 1 << 20).optional(),
  remote: endpoint.nullable(),
  rx: z.array(datagram).max(1 << 16),
  tx: z.array(datagram).max(1 << 16),
  rxLimit: capacity,
  txLimit: capacity,
  error: errorName,
  drops: intIn(0, Number.MAX_SAFE_INTEGER),
  portLocked: z.boolean().optional(),
  recvErr: z.boolean().optional(),
  errQueue: z.array(z.object({
    errno: z.string().regex(/^E[A-Z]{2,15}$/), type: intIn(0, 255), code: intIn(0, 255),
    offender: addr, dst: endpoint, payload: bytes(65535), localInfo: intIn(0, 2 ** 31).optional(),
  }).strict()).max(64).optional(),
  multicast: z.object({
    loop: z.boolean(),
    ifIndex: intIn(-1, 255),
    ifAddr: addr.nullable(),
    groups: z.array(z.tuple([addr, intIn(0, 255)])).max(20),
  }).strict().optional(),
}).strict());

// What follows is built at the first socket file of its kind an image holds (z.lazy, lazyKind).
const echo = z.lazy(() => z.object({
  peer: addr, local: addr.nullable(), ident: u16, seqNo: u16, data: bytes(65507),
}).strict());

/** A ping socket: its identifier and echo messages queued both ways (IcmpSocket.snapshot). */
const icmpSnapshotSchema = z.lazy(() => z.object({
  ident: u16,
  bound: z.boolean(),
  rx: z.array(echo).max(1024),
  tx: z.array(echo).max(1024),
  queueLimit: intIn(1, 1024),
}).strict());

const inetOptions = z.lazy(() => z.object({
  uid: u32,
  v6only: z.boolean(),
  reuseAddr: z.boolean(),
  reusePort: z.boolean(),
  boundDev: intIn(1, 1 << 20).optional(),
  keepalive: z.boolean(),
  broadcast: z.boolean(),
  lingerOn: z.boolean(),
  lingerSecs: count,
  ttl: intIn(-1, 255),
  tos: intIn(0, 255),
  sndBuf: count,
  rcvBuf: count,
  /** "s:name" (SOL_SOCKET), "ip:name", "ip6:name" and the value. */
  flags: z.array(z.tuple([z.string().regex(/^(s|ip|ip6):\d{1,10}$/), intIn(-(2 ** 31), 2 ** 31 - 1)])).max(64),
}).strict());

const family = z.union([z.literal(AF_INET), z.literal(AF_INET6)]);
/** SO_RCVTIMEO/SO_SNDTIMEO in ns: 0 none, negative fail at once. */
const timeout = intIn(-(2 ** 62), 2 ** 62);

export const inetFileSchemas = [
  /** A TCP socket file: tcpSockets[socket], its family, file flags and options. */
  lazyKind("tcp", () => z.object({
    kind: z.literal("tcp"),
    socket: u32,
    family,
    flags: u32,
    inet: inetOptions,
    tcp: z.object({
      bound: z.boolean(),
      connecting: z.boolean(),
      noDelay: z.boolean(),
      cork: z.boolean(),
      keepIdle: intIn(1, 32767),
      keepIntvl: intIn(1, 32767),
      keepCnt: intIn(1, 127),
      tcpFlags: z.array(z.tuple([intIn(0, 255), intIn(-(2 ** 31), 2 ** 31 - 1)])).max(32),
      congestion: z.enum(["reno", "cubic"]),
    }).strict(),
    recvTimeoutNs: timeout,
    sendTimeoutNs: timeout,
  }).strict()),
  /** A UDP socket file: udpSockets[socket]. */
  lazyKind("udp", () => z.object({
    kind: z.literal("udp"),
    socket: u32,
    family,
    flags: u32,
    inet: inetOptions,
    udp: z.object({
      bound: z.boolean(),
      held: z.object({
        from: endpoint, data: bytes(65535), to: endpoint.optional(), ttl: intIn(0, 255).optional(),
        tos: intIn(0, 255).optional(),
      }).strict().nullable(),
      received: intIn(0, Number.MAX_SAFE_INTEGER),
      shutRd: z.boolean(),
      shutWr: z.boolean(),
      stamp: z.number().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    }).strict(),
    recvTimeoutNs: timeout,
    sendTimeoutNs: timeout,
  }).strict()),
  /** A ping socket file (SOCK_DGRAM, IPPROTO_ICMP/ICMPV6), its netstack socket inline: one file holds it. */
  lazyKind("ping", () => z.object({
    kind: z.literal("ping"),
    family,
    flags: u32,
    inet: inetOptions,
    ping: z.object({ bound: z.boolean(), peer: addr.nullable(), received: intIn(0, Number.MAX_SAFE_INTEGER) }).strict(),
    icmp: icmpSnapshotSchema,
    recvTimeoutNs: timeout,
    sendTimeoutNs: timeout,
  }).strict()),
] as const;

export type SavedInetFile = z.infer<(typeof inetFileSchemas)[number]>;
export type SavedTcpSocket = z.infer<typeof tcpSnapshotSchema>;
export type SavedUdpSocket = z.infer<typeof udpSnapshotSchema>;

/** Why something is not saved, in one line. */
export type Refuse = (what: string) => Error;

/** The saving side: one table per protocol, each socket once. */
export class InetSaver {
  readonly tcp: TcpSnapshot[] = [];
  readonly udp: UdpSnapshot[] = [];
  readonly #tcpIndex = new Map<TcpSocket, number>();
  readonly #udpIndex = new Map<UdpSocket, number>();
  readonly #now: number;

  /** Refuses a network this slice does not save, before any socket is read. */
  constructor(k: Kernel, refuse: Refuse) {
    const n = k.net;
    const traffic = n.stack.unsavedTraffic;
    if (traffic !== null) throw refuse(`the sandbox's network has ${traffic}`);
    this.#now = n.now();
    this.#hostOwned = n.hostTcpSockets;
  }

  /** The sandbox side of --publish relays: host plumbing, left out. */
  readonly #hostOwned: Set<TcpSocket>;

  /** The file's saved form, or null when it is not an inet socket file. */
  saveFile(f: FileDescription, refuse: Refuse): SavedInetFile | null {
    const n = netModulesIfLoaded(); // none loaded: no socket file exists
    if (n === null || !(f instanceof n.InetSocketFile)) return null;
    const { TcpSocketFile, UdpSocketFile, PingSocketFile, RawSocketFile, PacketSocketFile } = n;
    const common = {
      family: f.family as typeof AF_INET | typeof AF_INET6,
      flags: f.flags,
      inet: f.saveInetOptions(),
      recvTimeoutNs: f.recvTimeoutNs,
      sendTimeoutNs: f.sendTimeoutNs,
    };
    if (f instanceof TcpSocketFile) return { kind: "tcp", socket: this.tcpRef(f.sock), ...common, tcp: f.saveTcpOptions() };
    if (f instanceof UdpSocketFile) {
      if (f.sock.closed) throw refuse("a closed UDP socket");
      if (f.sock.lite) throw refuse("a UDP-Lite socket (IPPROTO_UDPLITE)");
      return { kind: "udp", socket: this.#udpRef(f.sock), ...common, udp: f.saveUdpOptions() };
    }
    if (f instanceof PingSocketFile) return { kind: "ping", ...common, ping: f.savePingOptions(), icmp: f.sock.snapshot() };
    if (f instanceof RawSocketFile) throw refuse("a raw socket (SOCK_RAW)");
    if (f instanceof PacketSocketFile) throw refuse("a packet socket (AF_PACKET)");
    throw refuse(`an inet socket (${f.constructor.name})`);
  }

  /**
   * Saves what only the stack holds (connections closed by their program, not yet accepted),
   * then resets every connection whose other end is outside the sandbox: a host reached
   * through --network sandbox's gateway, or a --publish relay. Their host ends do not survive
   * the sentry, so the program sees ECONNRESET, as runsc's restore does without
   * --tcp-established; connections inside the sandbox are kept whole.
   */
  finish(k: Kernel): void {
    const stack = k.net.stack;
    for (const s of stack.tcpSockets) if (!this.#hostOwned.has(s)) this.tcpRef(s);
    const key = (a: unknown, p: number, b: unknown, q: number) => `${a}|${p}|${b}|${q}`;
    const byTuple = new Map<string, TcpSocket>();
    for (const s of [...this.#tcpIndex.keys(), ...this.#hostOwned]) {
      if (s.remote !== null) byTuple.set(key(s.localAddr, s.localPort, s.remote.addr, s.remote.port), s);
    }
    for (const [s, i] of this.#tcpIndex) {
      const r = s.remote;
      if (r === null || s.state === "CLOSED" || s.state === "LISTEN") continue;
      const peer = byTuple.get(key(r.addr, r.port, s.localAddr, s.localPort));
      if (stack.isLocalAddress(r.addr) && (peer === undefined || !this.#hostOwned.has(peer))) continue;
      resetSnapshot(this.tcp, i);
    }
  }

  tcpRef(s: TcpSocket): number {
    let i = this.#tcpIndex.get(s);
    if (i === undefined) {
      // Reserved before the snapshot: a listener and its embryos name each other.
      i = this.tcp.length;
      this.#tcpIndex.set(s, i);
      this.tcp.push(undefined as unknown as TcpSnapshot);
      this.tcp[i] = s.snapshot(this.#now, (o) => this.tcpRef(o));
    }
    return i;
  }

  #udpRef(s: UdpSocket): number {
    let i = this.#udpIndex.get(s);
    if (i === undefined) {
      i = this.udp.length;
      this.#udpIndex.set(s, i);
      this.udp.push(s.snapshot());
    }
    return i;
  }
}

/**
 * Turns saved socket i into what a reset leaves (TcpSocket's RST handling): CLOSED, out of the
 * stack's tables, ECONNRESET pending, nothing left to send and no timer; what it received stays
 * readable. A handshake in progress leaves its listener's count and becomes an orphan.
 */
function resetSnapshot(table: TcpSnapshot[], i: number): void {
  const s = table[i]!;
  if (s.parent !== null && s.state === "SYN-RECEIVED") {
    table[s.parent]!.synQueueLen--;
    s.parent = null;
    s.flags.userClosed = true;
  }
  s.flags.wasConnected = s.state !== "SYN-SENT" && s.state !== "SYN-RECEIVED";
  s.state = "CLOSED";
  s.registered = false;
  s.bound = false;
  s.error = "ECONNRESET";
  s.tx = new Uint8Array(0);
  s.rx = s.rx.slice(0, s.rxLen);
  s.ooo = [];
  s.seqs.sndNxt = s.seqs.sndMax = s.seqs.sndUna;
  s.optSeqs.rexmitAt = s.optSeqs.recovery = s.optSeqs.rstPendingFor = s.optSeqs.rttSeq = null;
  s.scoreboard = [];
  s.timers = { rto: null, delayedAck: null, timeWait: null, keepalive: null, persist: null, finWait2: null };
  for (const f of ["synPending", "finQueued", "rstPending", "ackNow", "probePending"] as const) s.flags[f] = false;
  s.counts.acksOwed = 0;
}

/** The restored sockets, by the image's indices. */
export interface InetSockets {
  tcp: TcpSocket[];
  udp: UdpSocket[];
}

/**
 * Rebuilds every saved TCP and UDP socket in the kernel's (new, empty) stack, `nowMs` being
 * the monotonic clock the restored sandbox continues from. Checks how the sockets and files
 * name each other first; a snapshot netstack refuses (an invariant of its queues broken, a port
 * or 4-tuple twice, an address that is not one) becomes one ImageError line.
 */
export function makeInetSockets(
  k: Kernel, tcp: readonly SavedTcpSocket[], udp: readonly SavedUdpSocket[], files: readonly { kind: string; socket?: number }[],
  nowMs: number,
): InetSockets {
  const bad = (why: string) => new ImageError(`restore: the image does not hold together: ${why}`);
  const heldTcp = new Set<number>(), heldUdp = new Set<number>();
  for (const f of files) {
    if (f.kind !== "tcp" && f.kind !== "udp") continue;
    const [held, n] = f.kind === "tcp" ? [heldTcp, tcp.length] : [heldUdp, udp.length];
    if (f.socket! >= n || held.has(f.socket!)) throw bad(`a file names ${f.kind.toUpperCase()} socket ${f.socket}`);
    held.add(f.socket!);
  }
  if (heldUdp.size !== udp.length) throw bad("a UDP socket no descriptor holds");
  // The listener of each connection not yet accepted, and its count of handshakes in progress.
  const listenerOf = new Map<number, number>();
  tcp.forEach((s, i) => {
    for (const e of s.acceptQueue) {
      if (e >= tcp.length || listenerOf.has(e) || tcp[e]!.parent !== i) throw bad(`TCP socket ${i} accepts socket ${e}`);
      listenerOf.set(e, i);
    }
  });
  tcp.forEach((s, i) => {
    const at = `TCP socket ${i}`;
    if (s.parent !== null) {
      if (s.parent >= tcp.length || s.parent === i || tcp[s.parent]!.state !== "LISTEN" || s.state === "LISTEN") {
        throw bad(`${at} names listener ${s.parent}`);
      }
      if (heldTcp.has(i)) throw bad(`${at} is held by a descriptor and by a listener`);
      const queued = listenerOf.get(i) === s.parent;
      if (queued === (s.state === "SYN-RECEIVED")) throw bad(`${at} is in its listener's accept queue in state ${s.state}`);
    } else if (!heldTcp.has(i) && !s.flags.userClosed) {
      throw bad(`${at} is open but nothing holds it`);
    }
    if (s.state === "LISTEN") {
      const handshakes = tcp.filter((c) => c.parent === i && c.state === "SYN-RECEIVED").length;
      if (s.synQueueLen !== handshakes) throw bad(`${at} counts ${s.synQueueLen} handshakes, not ${handshakes}`);
    }
  });

  const made: InetSockets = { tcp: [], udp: [] };
  if (tcp.length === 0 && udp.length === 0) return made; // the stack is made at its first use (kernel/net.ts)
  const stack = k.net.stack;
  try {
    made.tcp = tcp.map((s) => stack.tcpSocket(structuredClone(s.opts)));
    for (const [i, s] of tcp.entries()) made.tcp[i]!.restore(s, nowMs, (j) => made.tcp[j]!);
    made.udp = udp.map((s) => stack.udpSocket({ rxQueueBytes: s.rxLimit, txQueueBytes: s.txLimit }));
    for (const [i, s] of udp.entries()) made.udp[i]!.restore(s);
  } catch (err) {
    // netstack's RangeError, or one of its errors (EADDRINUSE, a bad address) as a Linux
    // program would see it: either way the image is refused.
    if (err instanceof Error && !(err instanceof ImageError)) throw bad(`the network: ${err.message}`);
    throw err;
  }
  return made;
}

/** The socket file of a saved inet file over its restored socket. */
export function makeInetFile(k: Kernel, f: SavedInetFile, sockets: InetSockets): FileDescription {
  if (f.kind === "ping") return makePingFile(k, f);
  const { TcpSocketFile, UdpSocketFile, parseIpAddress } = netModules();
  if (f.kind === "tcp") {
    const sock = sockets.tcp[f.socket]!;
    // The file's constructor sets the socket's IP version from its own (default) options: the
    // restored socket keeps its own.
    const wv = sock.wildcardVersion;
    const d = new TcpSocketFile(k.net, f.family, f.flags, sock);
    sock.wildcardVersion = wv;
    d.flags = f.flags;
    d.loadInetOptions(f.inet);
    d.loadTcpOptions(f.tcp);
    d.recvTimeoutNs = f.recvTimeoutNs;
    d.sendTimeoutNs = f.sendTimeoutNs;
    return d;
  }
  const sock = sockets.udp[f.socket]!;
  const d = new UdpSocketFile(k.net, f.family, f.flags, sock);
  d.flags = f.flags;
  d.loadInetOptions(f.inet);
  let from = null;
  if (f.udp.held !== null) {
    try {
      from = { addr: parseIpAddress(f.udp.held.from.addr), port: f.udp.held.from.port };
    } catch {
      throw new ImageError("restore: the image does not hold together: a peeked datagram's sender is not an address");
    }
  }
  d.loadUdpOptions(f.udp, from);
  d.recvTimeoutNs = f.recvTimeoutNs;
  d.sendTimeoutNs = f.sendTimeoutNs;
  return d;
}

/** A ping socket file and its netstack socket, from the file's own entry. */
function makePingFile(k: Kernel, f: Extract<SavedInetFile, { kind: "ping" }>): FileDescription {
  const bad = (why: string) => new ImageError(`restore: the image does not hold together: a ping socket: ${why}`);
  const { PingSocketFile, parseIpAddress } = netModules();
  const sock = k.net.stack.icmpSocket();
  let peer = null;
  try {
    sock.restore(f.icmp);
    peer = f.ping.peer === null ? null : parseIpAddress(f.ping.peer);
  } catch (err) {
    sock.close();
    throw bad(err instanceof Error ? err.message : String(err));
  }
  const d = new PingSocketFile(k.net, f.family, f.flags, sock);
  d.flags = f.flags;
  d.loadInetOptions(f.inet);
  d.loadPingOptions(f.ping, peer);
  d.recvTimeoutNs = f.recvTimeoutNs;
  d.sendTimeoutNs = f.sendTimeoutNs;
  return d;
}

