/**
 * A TCP endpoint per RFC 9293: the connection state machine, the sender
 * (RTO per RFC 6298, NewReno fast retransmit/recovery per RFC 6582, SACK
 * loss recovery after RFC 6675, window scaling and timestamps per RFC 7323,
 * Nagle, delayed ACKs, keepalive, zero-window probes) and the receiver
 * (reassembly, SACK blocks per RFC 2018), plus the socket-level API.
 *
 * The socket never touches a device or a clock. Its host (the stack) feeds
 * it segments through {@linkcode TcpSocket.process}, asks it for segments
 * through {@linkcode TcpSocket.dispatch}, and asks when it next needs
 * attention through {@linkcode TcpSocket.pollAt}. All times are the caller's
 * `now` in milliseconds.
 *
 * State changes go through `#setState` only; see README.md for the graph.
 *
 * @module
 */

import type { IpAddress } from "../wire/address.ts";
import {
  type SeqNumber,
  seq,
  seqAdd,
  seqDiff,
  seqGe,
  seqGt,
  seqLe,
  seqLt,
  seqMax,
} from "../wire/seq_number.ts";
import { type SackBlock, type TcpRepr, tcpHeaderLen, tcpReprDefaults } from "../wire/tcp.ts";
import { parseIpAddress } from "../wire/address.ts";
import {
  EADDRINUSE,
  EADDRNOTAVAIL,
  EALREADY,
  ECONNREFUSED,
  EHOSTUNREACH,
  ECONNRESET,
  EINVAL,
  EISCONN,
  ENOTCONN,
  EPIPE,
  ETIMEDOUT,
  type NetError,
  netErrorByCode,
} from "../errors.ts";
import { Assembler } from "./assembler.ts";
import { type CongestionAlgorithm, type CongestionControl, type CongestionState, makeCongestionControl } from "./congestion.ts";
import { RingBuffer } from "./ring_buffer.ts";
import { familyMismatch } from "../udp/udp_socket.ts";
import { RttEstimator } from "./rtt.ts";
import { canReceiveData, canSendData, isSynchronized, type TcpState } from "./state.ts";

/** An address and port. A null address means "any" (only for a bound listener). */
export interface TcpEndpoint {
  addr: IpAddress;
  port: number;
}

/** What a socket needs from the stack that owns it. */
export interface TcpHost {
  /**
   * Reserves a local port for `sock` (0 asks for an ephemeral one) and
   * returns it; throws EADDRINUSE.
   */
  tcpBind(sock: TcpSocket, addr: IpAddress | null, port: number, restoring?: boolean): number;
  /** Releases the port reserved by tcpBind (or tcpInheritPort). */
  tcpUnbind(sock: TcpSocket): void;
  /**
   * Whether `sock`, bound, may listen: no other holder of its port forbids it (a listener
   * beside an SO_REUSEADDR socket that bound first: Linux checks again at listen).
   */
  tcpCanListen?(sock: TcpSocket): boolean;
  /**
   * Reserves an ephemeral port for `sock`'s connect from `local` to `remote`, which it may
   * share with other connections whose 4-tuples differ once no port is free (Linux's
   * __inet_hash_connect). Throws EADDRINUSE when none is left.
   */
  tcpBindForConnect?(sock: TcpSocket, local: IpAddress, remote: TcpEndpoint, now?: number): number;
  /** Makes `sock`, a listener's new connection, a holder of its port with no check (Linux's inet_inherit_port). */
  tcpInheritPort?(sock: TcpSocket): void;
  /** Indexes `sock` by its full 4-tuple so that segments reach it. */
  tcpRegister(sock: TcpSocket): void;
  /** Removes `sock` from the 4-tuple index (and releases anything it held). */
  tcpUnregister(sock: TcpSocket): void;
  /**
   * Source address and IP MTU towards `dst`, or null if unroutable. `offload`, when present,
   * is the largest payload one new data segment may carry on this route: segmentation offload,
   * as local delivery hands segments over without splitting them into MSS-sized packets.
   */
  tcpRoute(dst: IpAddress): { src: IpAddress; mtu: number; offload?: number } | null;
  /** An initial sequence number for the 4-tuple (RFC 6528). */
  tcpIsn(now: number, local: TcpEndpoint, remote: TcpEndpoint): SeqNumber;
  /**
   * The application changed `sock` (queued data, read, closed, ...): it may
   * have something to send, and its deadlines may have moved.
   */
  tcpWake(sock: TcpSocket): void;
  /** Records a state transition or other event, e.g. "SYN-SENT=>ESTABLISHED". */
  tcpTrace?(sock: TcpSocket, msg: string): void;
  /** A state transition, for the stack's counters (/proc/net/snmp). */
  tcpStateChanged?(sock: TcpSocket, prev: TcpState, next: TcpState): void;
}

/** Keepalive parameters (Linux's tcp_keepalive_time/intvl/probes). */
export interface KeepaliveOptions {
  idle: number;
  interval: number;
  count: number;
}

/** Tunables, all optional; defaults in {@linkcode TCP_DEFAULTS}. */
export interface TcpOptions {
  rxBufferSize?: number;
  txBufferSize?: number;
  /** TCP_NODELAY: disable Nagle's algorithm. */
  noDelay?: boolean;
  /** TCP_CORK: send only full segments until uncorked (or a FIN). */
  cork?: boolean;
  /** Delayed-ACK timeout in ms; 0 acknowledges every segment at once. */
  ackDelay?: number;
  keepalive?: KeepaliveOptions | null;
  congestion?: CongestionAlgorithm;
  timestamps?: boolean;
  sack?: boolean;
  windowScaling?: boolean;
  initialRto?: number;
  minRto?: number;
  maxRto?: number;
  /** 2*MSL: how long TIME-WAIT lasts. */
  timeWait?: number;
  /** Retransmissions of data before giving up with ETIMEDOUT. */
  maxRetries?: number;
  /** Retransmissions of a SYN before giving up. */
  synRetries?: number;
  /** How long an orphaned socket may sit in FIN-WAIT-2. */
  finWait2Timeout?: number;
  /**
   * TCP_DEFER_ACCEPT of a listener (and its connections): SYN-ACK retransmissions before a bare
   * ACK completes a connection; data completes it at once. 0: none.
   */
  deferAccept?: number;
  /**
   * The most bytes the send queue holds (SO_SNDBUF as the application set it), within
   * txBufferSize; 0: all of txBufferSize (Linux's autotuning, which an explicit SO_SNDBUF ends).
   */
  sendLimit?: number;
}

export const TCP_DEFAULTS: Required<TcpOptions> = {
  rxBufferSize: 256 * 1024,
  txBufferSize: 256 * 1024,
  noDelay: false,
  cork: false,
  ackDelay: 40,
  keepalive: null,
  congestion: "reno",
  timestamps: true,
  sack: true,
  windowScaling: true,
  initialRto: 1000,
  minRto: 200,
  maxRto: 60_000,
  timeWait: 60_000,
  maxRetries: 15,
  synRetries: 6,
  finWait2Timeout: 60_000,
  deferAccept: 0,
  sendLimit: 0,
};

/** MSS assumed when the peer sends none (RFC 9293 §3.7.1). */
const DEFAULT_PEER_MSS = 536;
/** Segments one dispatch call may emit; the host polls again for more. */
const BURST = 64;
/** RingBuffer skew of receive queues, against send queues' 0: half a page. */
const RX_QUEUE_SKEW = 2048;
/** The largest send queue an SO_SNDBUF grows to (Linux allows 2 * wmem_max; 8 MiB by default). */
export const MAX_SEND_QUEUE = 16 << 20;
/** How long TCP_CORK may hold a partial segment (ms), as Linux's. */
const CORK_CEILING = 200;
/** Duplicate ACKs that trigger fast retransmit. */
const DUPACK_THRESHOLD = 3;

/** Readiness as a kernel waiter layer sees it (cf. Linux's EPOLLIN/OUT/HUP/ERR). */
export interface TcpReadiness {
  readable: boolean;
  writable: boolean;
  hup: boolean;
  error: boolean;
}

/** What {@linkcode TcpSocket.info} reports. */
export interface TcpInfo {
  state: TcpState;
  srtt: number | null;
  rto: number;
  cwnd: number;
  ssthresh: number;
  sndMss: number;
  rcvMss: number;
  sndWnd: number;
  rcvWnd: number;
  /** Consecutive timeouts without progress. */
  retransmits: number;
  inFlight: number;
  congestion: CongestionAlgorithm;
}

/** How the caller gives segments back: returns false if it could not send now. */
export type TcpEmit = (src: IpAddress, dst: IpAddress, repr: TcpRepr) => boolean;

/**
 * A socket's whole state as plain data, for a checkpoint (the kernel's
 * kernel/checkpoint/inet_sockets.ts saves it and checks its shape; the
 * invariants that guard the queues are checked by {@linkcode TcpSocket.restore}).
 * Addresses are text; other sockets (accept queue, listener) are indices the
 * caller chooses; deadlines are remaining milliseconds and past instants are
 * ages, both relative to the `now` of the snapshot, so no clock value crosses
 * a checkpoint.
 */
export interface TcpSnapshot {
  opts: Required<TcpOptions>;
  state: TcpState;
  localAddr: string | null;
  localPort: number;
  remote: { addr: string; port: number } | null;
  bound: boolean;
  registered: boolean;
  wildcardVersion: 0 | 4 | 6;
  reuseAddr: boolean;
  reusePort: boolean;
  /** SO_BINDTODEVICE's interface (absent: none). */
  boundDevice?: number | undefined;
  backlog: number;
  synBacklog: number;
  synQueueLen: number;
  acceptQueue: number[];
  parent: number | null;
  /** The receive queue's bytes (the first rxLen queued, the rest out of order) and the send queue's. */
  rx: Uint8Array<ArrayBuffer>;
  rxLen: number;
  tx: Uint8Array<ArrayBuffer>;
  /** Out-of-order ranges past RCV.NXT. */
  ooo: [number, number][];
  seqs: {
    iss: number; sndUna: number; sndNxt: number; sndMax: number; sndWl1: number; sndWl2: number; irs: number; rcvNxt: number;
    lastAckSent: number; lastSackSeq: number; rexmitHigh: number;
  };
  optSeqs: { rxFinSeq: number | null; rstPendingFor: number | null; recovery: number | null; rexmitAt: number | null; rttSeq: number | null };
  counts: {
    sndWnd: number; maxSndWnd: number; sndMss: number; rcvMss: number; sndShift: number; offload: number; rcvShift: number;
    /** The timestamp clock's value at the snapshot (TSval now), rather than its offset from a clock. */
    tsClock: number; tsRecent: number; dupAcks: number; retries: number; acksOwed: number; segsUnacked: number;
    lastAdvWindow: number; keepaliveProbes: number; persistBackoff: number;
  };
  flags: {
    finReceived: boolean; wsEnabled: boolean; tsEnabled: boolean; sackEnabled: boolean; synPending: boolean; finQueued: boolean;
    finAcked: boolean; rstPending: boolean; ackNow: boolean; probePending: boolean; userClosed: boolean; shutRd: boolean;
    shutWr: boolean; wasConnected: boolean; portLocked: boolean;
  };
  /** Remaining ms of each timer (0 or less: due), or null. */
  timers: {
    rto: number | null; delayedAck: number | null; timeWait: number | null; keepalive: number | null; persist: number | null;
    finWait2: number | null;
    cork?: number | null | undefined;
  };
  /** How long ago (ms) the RTT timing started and the last segment arrived. */
  ages: { rttStart: number; lastRecv: number };
  rtt: { srtt: number | null; rttvar: number; rto: number };
  cc: CongestionState;
  scoreboard: [number, number][];
  /** The pending error's errno name, or null. */
  error: string | null;
}

/** @savable */
export class TcpSocket {
  // --- Immutable after construction. ---
  /** The owning stack. */
  readonly #host: TcpHost;
  readonly #opts: Required<TcpOptions>;

  // --- Connection identity. ---
  #state: TcpState = "CLOSED";
  /** Local address (null while bound to the wildcard) and port (0 if unbound). */
  #localAddr: IpAddress | null = null;
  #localPort = 0;
  #remote: TcpEndpoint | null = null;
  #bound = false;
  /**
   * The application bound a port of its choice (Linux's SOCK_BINDPORT_LOCK): a listener shut
   * down for reading keeps it; an automatic or ephemeral one is given back.
   */
  #portLocked = false;
  #registered = false;
  /**
   * For a socket bound to the wildcard address: the IP version it serves (4, or 6 for an
   * IPV6_V6ONLY socket), or 0 for both (a dual-stack socket). Set before bind.
   */
  wildcardVersion: 0 | 4 | 6 = 0;
  /** SO_REUSEADDR: may bind beside another reuseAddr socket that is not listening. */
  reuseAddr = false;
  /** SO_REUSEPORT: may bind (and listen) beside another reusePort socket. */
  reusePort = false;
  /**
   * SO_BINDTODEVICE: the stack index of the one interface this socket takes segments from and
   * shares its port per (-1: any). Set before bind.
   */
  boundDevice = -1;

  // --- Listener state. ---
  #backlog = 0;
  #synBacklog = 0;
  #synQueueLen = 0;
  #acceptQueue: TcpSocket[] = [];
  /** For a passively opened socket: its listener, until accepted. */
  #parent: TcpSocket | null = null;

  // --- Queues. ---
  readonly #rx: RingBuffer;
  #tx: RingBuffer;
  readonly #assembler = new Assembler();

  // --- Send sequence space (RFC 9293 §3.3.1). ---
  #iss: SeqNumber = seq(0);
  #sndUna: SeqNumber = seq(0);
  #sndNxt: SeqNumber = seq(0);
  /** Highest sequence number sent; SND.NXT falls back to SND.UNA on timeout. */
  #sndMax: SeqNumber = seq(0);
  /** Peer's receive window in bytes, scaled. */
  #sndWnd = 0;
  /** The largest window the peer has offered (RFC 5961 MAX.SND.WND). */
  #maxSndWnd = 0;
  #sndWl1: SeqNumber = seq(0);
  #sndWl2: SeqNumber = seq(0);
  /** Largest payload the peer accepts, before option overhead. */
  #sndMss = DEFAULT_PEER_MSS;
  /** The MSS we advertise. */
  #rcvMss = DEFAULT_PEER_MSS;
  #sndShift = 0;
  /** Largest payload of a new data segment on this route (segmentation offload), or 0. */
  #offload = 0;

  // --- Receive sequence space. ---
  #irs: SeqNumber = seq(0);
  #rcvNxt: SeqNumber = seq(0);
  #rcvShift = 0;
  /** Sequence number of the peer's FIN once seen, even if out of order. */
  #rxFinSeq: SeqNumber | null = null;
  #finReceived = false;

  // --- Negotiated options. ---
  #wsEnabled = false;
  #tsEnabled = false;
  #tsOffset = 0;
  #tsRecent = 0;
  #sackEnabled = false;
  #lastAckSent: SeqNumber = seq(0);

  // --- Sender bookkeeping. ---
  /** A SYN (or SYN-ACK) must be (re)sent. */
  #synPending = false;
  /** The application asked for a FIN after the queued data. */
  #finQueued = false;
  /** Our FIN has been acknowledged. */
  #finAcked = false;
  /** A RST must be sent for abort(), after which the socket is released. */
  #rstPending = false;
  /** Sequence number for a RST answering an unacceptable ACK (SYN-SENT, SYN-RECEIVED). */
  #rstPendingFor: SeqNumber | null = null;
  /** Sorted, disjoint SACKed ranges above SND.UNA. */
  #scoreboard: SackBlock[] = [];
  #dupAcks = 0;
  /** Recovery point (RFC 6582 "recover") while in fast recovery, else null. */
  #recovery: SeqNumber | null = null;
  /** Segment to retransmit at once (fast retransmit, partial ACK). */
  #rexmitAt: SeqNumber | null = null;
  /** Highest sequence retransmitted during this SACK recovery. */
  #rexmitHigh: SeqNumber = seq(0);
  /** Karn-style RTT timing when timestamps are off. */
  #rttSeq: SeqNumber | null = null;
  #rttStart = 0;
  #retries = 0;
  readonly #rtt: RttEstimator;
  #cc: CongestionControl;

  // --- Receiver bookkeeping. ---
  #ackNow = false;
  /** Start of the most recent out-of-order segment, so its SACK block goes first. */
  #lastSackSeq: SeqNumber = seq(0);
  /**
   * Immediate ACKs owed for out-of-order or duplicate segments: one each,
   * even when several arrive in one batch, so the sender counts dupacks.
   */
  #acksOwed = 0;
  #segsUnacked = 0;
  /** The window we last advertised, in bytes. */
  #lastAdvWindow = 0;

  // --- Timers: absolute deadlines in ms, or null. ---
  #rtoAt: number | null = null;
  #delayedAckAt: number | null = null;
  #timeWaitAt: number | null = null;
  #keepaliveAt: number | null = null;
  #persistAt: number | null = null;
  #finWait2At: number | null = null;
  /** When data held by TCP_CORK goes out anyway (Linux's 200 ms ceiling), or null. */
  #corkAt: number | null = null;
  #keepaliveProbes = 0;
  #persistBackoff = 0;
  #lastRecvAt = 0;
  #probePending = false;

  // --- Application-facing state. ---
  #error: NetError | null = null;
  #userClosed = false;
  #shutRd = false;
  #shutWr = false;
  /** Set once the connection existed; distinguishes HUP from never-connected. */
  #wasConnected = false;

  constructor(host: TcpHost, opts: TcpOptions = {}) {
    this.#host = host;
    this.#opts = { ...TCP_DEFAULTS, ...opts };
    // Receive queues sit half a page off send queues, so the copy from a local peer's send
    // queue into ours never runs with the two a few bytes apart modulo a page (see RingBuffer).
    this.#rx = new RingBuffer(this.#opts.rxBufferSize, RX_QUEUE_SKEW);
    this.#tx = new RingBuffer(this.#opts.txBufferSize);
    this.#rtt = new RttEstimator({
      initialRto: this.#opts.initialRto,
      minRto: this.#opts.minRto,
      maxRto: this.#opts.maxRto,
    });
    this.#cc = makeCongestionControl(this.#opts.congestion, DEFAULT_PEER_MSS);
  }

  // ===================================================================
  // Introspection.
  // ===================================================================

  get state(): TcpState {
    return this.#state;
  }
  get localAddr(): IpAddress | null {
    return this.#localAddr;
  }
  get localPort(): number {
    return this.#localPort;
  }
  get remote(): TcpEndpoint | null {
    return this.#remote;
  }
  get isListening(): boolean {
    return this.#state === "LISTEN";
  }
  /** Bytes waiting to be read. */
  get recvQueue(): number {
    return this.#rx.length;
  }
  /** Bytes queued and not yet acknowledged. */
  get sendQueue(): number {
    return this.#tx.length;
  }
  /** Congestion window in bytes (for tests and stats). */
  get cwnd(): number {
    return this.#cc.cwnd;
  }
  get srtt(): number | null {
    return this.#rtt.srtt;
  }
  get rto(): number {
    return this.#rtt.rto;
  }
  get noDelay(): boolean {
    return this.#opts.noDelay;
  }
  set noDelay(v: boolean) {
    this.#opts.noDelay = v;
    this.#host.tcpWake(this);
  }
  get cork(): boolean {
    return this.#opts.cork;
  }
  set cork(v: boolean) {
    this.#opts.cork = v;
    this.#host.tcpWake(this);
  }
  setKeepalive(k: KeepaliveOptions | null, now: number): void {
    this.#opts.keepalive = k;
    this.#keepaliveProbes = 0;
    this.#lastRecvAt = now;
    this.#armKeepalive();
    this.#host.tcpWake(this);
  }
  /** The negotiated options, for tests. */
  get negotiated(): { mss: number; windowScale: boolean; timestamps: boolean; sack: boolean } {
    return { mss: this.#sndMss, windowScale: this.#wsEnabled, timestamps: this.#tsEnabled, sack: this.#sackEnabled };
  }

  /** Returns and clears the pending error. Implements getsockopt(SO_ERROR). */
  takeError(): NetError | null {
    const e = this.#error;
    this.#error = null;
    return e;
  }

  /** A snapshot for diagnostics, after Linux's struct tcp_info. */
  info(): TcpInfo {
    return {
      state: this.#state,
      srtt: this.#rtt.srtt,
      rto: this.#rtt.rto,
      cwnd: this.#cc.cwnd,
      ssthresh: this.#cc.ssthresh,
      sndMss: this.#sndMss,
      rcvMss: this.#rcvMss,
      sndWnd: this.#sndWnd,
      rcvWnd: this.#rx.window,
      retransmits: this.#retries,
      inFlight: seqDiff(this.#sndMax, this.#sndUna),
      congestion: this.#cc.algorithm,
    };
  }

  readiness(): TcpReadiness {
    const s = this.#state;
    const err = this.#error !== null;
    if (s === "LISTEN") {
      return { readable: this.#acceptQueue.length > 0, writable: false, hup: false, error: err };
    }
    const readable = this.#rx.length > 0 || this.#finReceived || this.#shutRd || err ||
      (this.#wasConnected && s === "CLOSED");
    // Shut down for writing polls writable (Linux's tcp_poll: a send fails at once with EPIPE,
    // so a writer blocked on a full queue wakes); both ways shut down polls HUP.
    const writable = !this.#shutWr && (s === "ESTABLISHED" || s === "CLOSE-WAIT") && this.sendRoom > 0 ||
      err || (this.#wasConnected && s === "CLOSED") || (this.#shutWr && s !== "SYN-SENT" && s !== "SYN-RECEIVED");
    const hup = (this.#wasConnected && s === "CLOSED") || (this.#finReceived && this.#shutWr) ||
      (err && s === "CLOSED") || (this.#shutRd && this.#shutWr);
    return { readable, writable, hup, error: err };
  }

  // ===================================================================
  // Socket API.
  // ===================================================================

  /** Binds to a local address (null for any) and port (0 for ephemeral). Implements bind(2). */
  bind(addr: IpAddress | null, port: number): void {
    if (this.#bound || this.#state !== "CLOSED") throw EINVAL;
    this.#localPort = this.#host.tcpBind(this, addr, port);
    this.#localAddr = addr;
    this.#bound = true;
    this.#portLocked = port !== 0;
  }

  /** Implements listen(2). `backlog` bounds the accept queue and the SYN queue. */
  listen(backlog: number): void {
    if (this.#state === "LISTEN") {
      this.#backlog = Math.max(1, backlog);
      return;
    }
    if (this.#state !== "CLOSED") throw EISCONN;
    if (!this.#bound) this.bind(null, 0);
    else if (this.#host.tcpCanListen?.(this) === false) throw EADDRINUSE;
    this.#backlog = Math.max(1, backlog);
    this.#synBacklog = Math.max(8, this.#backlog * 2);
    this.#setState("LISTEN");
  }

  /** Pops an established connection, or null if none is ready. Implements accept(2). */
  accept(): TcpSocket | null {
    if (this.#state !== "LISTEN") throw EINVAL;
    const c = this.#acceptQueue.shift() ?? null;
    if (c) c.#parent = null;
    return c;
  }

  /** Starts an active open. Implements connect(2) (non-blocking: EINPROGRESS is implied). */
  connect(now: number, remote: TcpEndpoint): void {
    if (this.#state === "SYN-SENT") throw EALREADY;
    if (this.#state !== "CLOSED" || this.#wasConnected) throw EISCONN;
    if (this.#localAddr !== null && this.#localAddr.version !== remote.addr.version) throw familyMismatch(this.#localAddr);
    const route = this.#host.tcpRoute(remote.addr);
    // A socket whose last attempt failed starts over (Linux's tcp_disconnect clears sk_shutdown).
    this.#shutRd = this.#shutWr = false;
    if (route === null) throw EHOSTUNREACH;
    if (!this.#bound) {
      // No ephemeral port left: Linux's __inet_hash_connect says EADDRNOTAVAIL (bind, EADDRINUSE).
      try {
        if (this.#host.tcpBindForConnect) {
          this.#localPort = this.#host.tcpBindForConnect(this, this.#localAddr ?? route.src, remote, now);
          this.#bound = true;
          this.#portLocked = false;
        } else this.bind(null, 0);
      } catch (e) {
        throw e === EADDRINUSE ? EADDRNOTAVAIL : e;
      }
    }
    this.#localAddr ??= route.src;
    this.#remote = { addr: remote.addr, port: remote.port };
    try {
      this.#host.tcpRegister(this);
    } catch (e) {
      this.#remote = null;
      throw e;
    }
    this.#registered = true;
    this.#setMssFromMtu(route.mtu);
    this.#offload = route.offload ?? 0;
    this.#iss = this.#host.tcpIsn(now, { addr: this.#localAddr, port: this.#localPort }, this.#remote);
    this.#tsOffset = (this.#iss * 7) >>> 0;
    this.#sndUna = this.#iss;
    this.#sndNxt = this.#iss;
    this.#sndMax = this.#iss;
    this.#synPending = true;
    this.#setState("SYN-SENT");
  }

  /**
   * Queues bytes for sending; returns how many were taken, or null if none
   * could be (would block). Implements send(2).
   */
  send(data: Uint8Array): number | null {
    this.#checkSend();
    if (data.length === 0) return 0;
    const room = this.sendRoom;
    if (room === 0) return null;
    const n = this.#tx.enqueue(data.length > room ? data.subarray(0, room) : data);
    this.#host.tcpWake(this);
    return n;
  }

  /**
   * send() without a source buffer: `fill` writes up to `max` bytes straight into the send
   * queue, lent as at most two views, and returns how many it wrote (a short count ends the
   * call). Returns the bytes queued, or null if the queue is full. `fill` must not call back
   * into the stack.
   */
  sendVia(max: number, fill: (dst: Uint8Array) => number): number | null {
    this.#checkSend();
    if (max === 0) return 0;
    const room = this.sendRoom;
    if (room === 0) return null;
    const n = this.#tx.enqueueVia(Math.min(max, room), fill);
    if (n > 0) this.#host.tcpWake(this);
    return n;
  }

  #checkSend(): void {
    if (this.#error) throw this.#takeError();
    if (this.#shutWr || this.#userClosed) throw EPIPE;
    // Not connected, listening or closed: EPIPE, as Linux's sk_stream_wait_connect says for
    // every state but the handshake's (never ENOTCONN).
    if (!canSendData(this.#state)) throw EPIPE;
  }

  /** Free room in the send queue, in bytes (within the send limit). */
  get sendRoom(): number {
    return Math.max(0, this.sendCapacity - this.#tx.length);
  }

  /** The send queue's capacity, in bytes: its ring's, or the smaller send limit. */
  get sendCapacity(): number {
    const l = this.#opts.sendLimit;
    return l > 0 && l < this.#tx.capacity ? l : this.#tx.capacity;
  }

  /** How long an orphan waits in FIN-WAIT-2 (ms): TCP_LINGER2. */
  set finWait2Timeout(ms: number) {
    this.#opts.finWait2Timeout = Math.max(0, Math.min(600_000, Math.floor(ms)));
  }

  /** TCP_DEFER_ACCEPT as SYN-ACK retransmissions (TcpOptions.deferAccept), for connections to come. */
  get deferAccept(): number {
    return this.#opts.deferAccept;
  }
  set deferAccept(n: number) {
    this.#opts.deferAccept = Math.max(0, Math.min(255, Math.floor(n)));
  }

  /** When a segment last arrived, on the stack's clock (ms): SO_TIMESTAMP's time for TCP. */
  get lastReceived(): number {
    return this.#lastRecvAt;
  }

  /** The send limit (TcpOptions.sendLimit; 0: none). */
  get sendLimit(): number {
    return this.#opts.sendLimit;
  }

  /**
   * Sets the send limit (SO_SNDBUF); a larger one lets a blocked writer go on at the next poll
   * round. The send queue grows to a limit beyond its capacity (up to MAX_SEND_QUEUE), its
   * bytes moved to a larger ring; it never shrinks.
   */
  set sendLimit(n: number) {
    const limit = Math.max(0, Math.floor(n));
    this.#opts.sendLimit = limit;
    const want = Math.min(limit, MAX_SEND_QUEUE);
    if (want > this.#tx.capacity) {
      const tx = new RingBuffer(want);
      tx.restore(this.#tx.snapshot(this.#tx.length), this.#tx.length);
      this.#tx = tx;
      this.#opts.txBufferSize = want;
    }
    this.#host.tcpWake(this);
  }

  /**
   * Moves received bytes into `into`; returns how many, 0 at end of stream,
   * or null if nothing is available yet. Implements recv(2).
   */
  recv(into: Uint8Array): number | null {
    if (this.#rx.length === 0) {
      // After the peer's FIN a read ends the stream even when an error came after it (Linux's
      // SOCK_DONE is checked before sk_err).
      if (this.#finReceived) return 0;
      if (this.#error) throw this.#takeError();
      if (this.#finReceived || this.#shutRd || (this.#wasConnected && this.#state === "CLOSED")) return 0;
      if (this.#state === "CLOSED" || this.#state === "LISTEN") throw ENOTCONN;
      return null;
    }
    const before = this.#rx.window;
    const n = this.#rx.dequeue(into);
    this.#maybeWindowUpdate(before);
    if (this.#ackNow) this.#host.tcpWake(this);
    return n;
  }

  /**
   * recv() without a destination buffer: hands up to `max` received bytes to `take` as at most
   * two views, valid during the call, and consumes what `take` reports it used (a short count
   * ends the call). Returns the bytes consumed, 0 at end of stream, or null if nothing is
   * available yet. `take` must not call back into the stack.
   */
  recvVia(max: number, take: (src: Uint8Array) => number): number | null {
    if (this.#rx.length === 0 || max === 0) return this.recv(new Uint8Array(0));
    const before = this.#rx.window;
    const n = this.#rx.dequeueVia(max, take);
    this.#maybeWindowUpdate(before);
    if (this.#ackNow) this.#host.tcpWake(this);
    return n;
  }

  /** Copies received bytes without consuming them (MSG_PEEK). */
  peek(into: Uint8Array): number {
    return this.#rx.readAt(0, into);
  }

  /** Implements shutdown(2). */
  shutdown(how: "read" | "write" | "both"): void {
    if (this.#state === "LISTEN") {
      // As Linux's tcp_disconnect of a listener: the socket stops listening (its pending
      // connections are reset) and may listen again; it keeps a port it was bound to.
      if (how === "write") return;
      for (const c of this.#acceptQueue) c.abort();
      this.#acceptQueue = [];
      this.#host.tcpWake(this);
      this.#setState("CLOSED", this.#portLocked);
      return;
    }
    if (this.#state === "SYN-SENT") {
      // As Linux's tcp_disconnect of a connecting socket, whichever way: the attempt ends
      // with ECONNRESET (POLLERR|POLLHUP), and the socket may connect again.
      this.#error = ECONNRESET;
      this.#host.tcpWake(this);
      this.#setState("CLOSED", this.#portLocked);
      return;
    }
    if (!isSynchronized(this.#state) && this.#state !== "SYN-RECEIVED") {
      throw ENOTCONN;
    }
    if (how !== "write") {
      this.#shutRd = true;
    }
    if (how !== "read" && !this.#shutWr) {
      this.#shutWr = true;
      this.#closeSend();
    }
    this.#host.tcpWake(this);
  }

  /**
   * Implements close(2): an orderly release, or an abort if unread data
   * remains (RFC 2525 §2.17, as Linux does). The socket lingers in the
   * background until the connection is done.
   */
  close(): void {
    if (this.#userClosed) return;
    this.#userClosed = true;
    this.#host.tcpWake(this);
    switch (this.#state) {
      case "CLOSED":
        this.#release();
        return;
      case "LISTEN":
        for (const c of this.#acceptQueue) c.abort();
        this.#acceptQueue = [];
        this.#setState("CLOSED");
        return;
      case "SYN-SENT":
        this.#setState("CLOSED");
        return;
      default:
        if (this.#rx.length > 0) {
          this.abort();
          return;
        }
        this.#shutRd = true;
        if (!this.#shutWr) {
          this.#shutWr = true;
          this.#closeSend();
        }
    }
  }

  /** Sends a RST if synchronized and drops the connection. */
  abort(): void {
    this.#userClosed = true;
    this.#host.tcpWake(this);
    if (isSynchronized(this.#state) || this.#state === "SYN-RECEIVED") {
      if (this.#state !== "TIME-WAIT") this.#rstPending = true;
    }
    this.#setState("CLOSED");
  }

  // ===================================================================
  // Host interface: timers.
  // ===================================================================

  /** The next time this socket needs `dispatch`: `now` if it has work, null if idle. */
  pollAt(now: number): number | null {
    if (this.#rstPending) return now;
    if (this.#wantsToSend(now)) return now;
    // Plain comparisons, no closure: this runs after every dispatch.
    return earliest(
      earliest(earliest(this.#rtoAt, this.#delayedAckAt), earliest(this.#timeWaitAt, this.#keepaliveAt)),
      earliest(earliest(this.#persistAt, this.#finWait2At), this.#corkAt),
    );
  }

  // ===================================================================
  // Host interface: output.
  // ===================================================================

  /** Runs expired timers and emits what is due. Returns whether anything was sent. */
  dispatch(now: number, emit: TcpEmit): boolean {
    this.#runTimers(now);
    if (this.#rstPending) {
      if (!this.#remote || !this.#localAddr) {
        this.#rstPending = false;
        this.#release();
        return false;
      }
      const r = this.#segment(now);
      r.rst = true;
      r.seq = this.#sndNxt;
      r.ack = this.#rcvNxt;
      r.window = 0;
      if (!emit(this.#localAddr, this.#remote.addr, r)) return false;
      this.#rstPending = false;
      this.#release();
      return true;
    }
    let sent = false;
    for (let i = 0; i < BURST; i++) {
      if (!this.#emitOne(now, emit)) break;
      sent = true;
    }
    return sent;
  }

  // ===================================================================
  // Host interface: input.
  // ===================================================================

  /**
   * Handles one inbound segment addressed to this socket's 4-tuple (or, for
   * a listener, to its port). `src`/`dst` are the IP addresses.
   */
  process(now: number, src: IpAddress, dst: IpAddress, seg: TcpRepr): void {
    switch (this.#state) {
      case "CLOSED":
        return;
      case "LISTEN":
        this.#processListen(now, src, dst, seg);
        return;
      case "SYN-SENT":
        this.#processSynSent(now, seg);
        return;
      default:
        this.#processSynchronized(now, seg);
    }
  }

  /**
   * An ICMP destination unreachable quoting our segment with sequence number
   * `quoted`. Hard error while connecting (the quoted sequence number must be
   * our ISS, per RFC 5927 §4.1), otherwise ignored as a soft error, as
   * RFC 1122 §4.2.3.9 asks.
   */
  icmpUnreachable(err: NetError, quoted: SeqNumber): void {
    if (this.#state !== "SYN-SENT" || quoted !== this.#iss) return;
    this.#error = err;
    this.#setState("CLOSED");
  }

  // ===================================================================
  // Input, by state (RFC 9293 §3.10.7).
  // ===================================================================

  #processListen(now: number, src: IpAddress, dst: IpAddress, seg: TcpRepr): void {
    if (seg.rst) return;
    if (seg.ack !== null || !seg.syn) return; // the host answers stray ACKs with RST
    if (this.#synQueueLen >= this.#synBacklog || this.#acceptQueue.length >= this.#backlog) return;
    if (TcpSocket.#passiveOpen(this.#host, this.#opts, now, src, dst, seg, this) !== null) this.#synQueueLen++;
  }

  /**
   * A connection in SYN-RECEIVED answering `seg` (a SYN from `src` to `dst`:seg.dstPort), or
   * null if `src` has no route. With a parent it joins the parent's accept queue once
   * established; without one (a forwarded SYN, see Stack.acceptHeldSyn) the caller holds it.
   */
  static #passiveOpen(
    host: TcpHost,
    opts: TcpOptions,
    now: number,
    src: IpAddress,
    dst: IpAddress,
    seg: TcpRepr,
    parent: TcpSocket | null,
  ): TcpSocket | null {
    const route = host.tcpRoute(src);
    if (route === null) return null;
    const c = new TcpSocket(host, { ...opts });
    c.#parent = parent;
    c.#localAddr = dst;
    c.#localPort = seg.dstPort;
    c.#remote = { addr: src, port: seg.srcPort };
    c.#setMssFromMtu(route.mtu);
    c.#offload = route.offload ?? 0;
    c.#iss = host.tcpIsn(now, { addr: dst, port: seg.dstPort }, c.#remote);
    c.#tsOffset = (c.#iss * 7) >>> 0;
    c.#sndUna = c.#iss;
    c.#sndNxt = c.#iss;
    c.#sndMax = c.#iss;
    c.#acceptSyn(now, seg);
    c.#synPending = true;
    host.tcpRegister(c);
    c.#registered = true;
    if (parent !== null && host.tcpInheritPort) {
      // The connection holds its listener's port as Linux's do (a bind beside it needs
      // SO_REUSEADDR on both), with the listener's SO_REUSEADDR/SO_REUSEPORT.
      c.reuseAddr = parent.reuseAddr;
      c.reusePort = parent.reusePort;
      c.wildcardVersion = parent.wildcardVersion;
      c.boundDevice = parent.boundDevice;
      host.tcpInheritPort(c);
      c.#bound = true;
    }
    c.#setState("SYN-RECEIVED");
    return c;
  }

  /**
   * Answers a SYN that reached no listener (a forwarding stack's held SYN): the connection,
   * in SYN-RECEIVED, or null if `src` has no route. Throws EADDRINUSE if the 4-tuple is taken.
   */
  static openFromSyn(host: TcpHost, opts: TcpOptions, now: number, src: IpAddress, dst: IpAddress, seg: TcpRepr): TcpSocket | null {
    return TcpSocket.#passiveOpen(host, opts, now, src, dst, seg, null);
  }

  /** Takes the peer's SYN: IRS and the options it offers. */
  #acceptSyn(now: number, seg: TcpRepr): void {
    this.#irs = seg.seq;
    this.#rcvNxt = seqAdd(seg.seq, 1);
    this.#lastRecvAt = now;
    this.#sndMss = Math.min(seg.maxSegSize ?? DEFAULT_PEER_MSS, this.#rcvMss);
    this.#wsEnabled = this.#opts.windowScaling && seg.windowScale !== null;
    if (this.#wsEnabled) {
      this.#sndShift = seg.windowScale!;
      this.#rcvShift = windowShiftFor(this.#rx.capacity);
    } else {
      this.#sndShift = 0;
      this.#rcvShift = 0;
    }
    this.#tsEnabled = this.#opts.timestamps && seg.timestamp !== null;
    if (seg.timestamp) this.#tsRecent = seg.timestamp.tsVal;
    this.#sackEnabled = this.#opts.sack && seg.sackPermitted;
    // The window in a SYN is never scaled (RFC 7323 §2.2).
    this.#sndWnd = seg.window;
    this.#maxSndWnd = seg.window;
    this.#sndWl1 = seg.seq;
    this.#cc = makeCongestionControl(this.#opts.congestion, this.#sndMss);
  }

  #processSynSent(now: number, seg: TcpRepr): void {
    let ackOk = false;
    if (seg.ack !== null) {
      if (seqLe(seg.ack, this.#iss) || seqGt(seg.ack, this.#sndMax)) {
        // Unacceptable ACK: reset it unless it is itself a reset.
        if (!seg.rst) this.#rstPendingFor = seg.ack;
        return;
      }
      ackOk = true;
    }
    if (seg.rst) {
      if (ackOk) {
        this.#error = ECONNREFUSED;
        this.#setState("CLOSED");
      }
      return;
    }
    if (!seg.syn) return;
    this.#acceptSyn(now, seg);
    if (ackOk) {
      this.#sndUna = seg.ack!;
      this.#sndWl2 = seg.ack!;
      this.#rtoAt = null;
      this.#retries = 0;
      this.#synPending = false;
      this.#sampleRtt(now, seg, true);
      this.#ackNow = true;
      this.#setState("ESTABLISHED");
    } else {
      // Simultaneous open: answer with SYN-ACK.
      this.#synPending = true;
      this.#sndNxt = this.#iss;
      this.#rtoAt = null;
      this.#setState("SYN-RECEIVED");
    }
  }

  #processSynchronized(now: number, seg: TcpRepr): void {
    const st = this.#state;
    const segLen = seg.payload.length + (seg.syn ? 1 : 0) + (seg.fin ? 1 : 0);

    // A retransmitted SYN while we wait in SYN-RECEIVED: repeat the SYN-ACK.
    if (st === "SYN-RECEIVED" && seg.syn && seg.ack === null && seg.seq === this.#irs && !seg.rst) {
      this.#synPending = true;
      return;
    }

    // Step 1: sequence acceptability, with PAWS (RFC 7323 §5).
    if (this.#tsEnabled && seg.timestamp && !seg.rst && ((seg.timestamp.tsVal - this.#tsRecent) | 0) < 0) {
      this.#ackNow = true;
      return;
    }
    if (!this.#acceptable(seg.seq, segLen)) {
      if (!seg.rst) this.#ackNow = true;
      if (st === "TIME-WAIT" && seg.fin) this.#timeWaitAt = now + this.#opts.timeWait;
      return;
    }
    this.#lastRecvAt = now;
    this.#keepaliveProbes = 0;
    this.#armKeepalive();
    if (this.#tsEnabled && seg.timestamp && seqLe(seg.seq, this.#lastAckSent)) {
      this.#tsRecent = seg.timestamp.tsVal;
    }

    // Step 2: RST (RFC 5961 §3.2: exact match resets, else challenge ACK).
    if (seg.rst) {
      if (st === "TIME-WAIT") return; // RFC 1337: no TIME-WAIT assassination
      if (seg.seq !== this.#rcvNxt) {
        this.#ackNow = true;
        return;
      }
      this.#onReset();
      return;
    }

    // Step 4: SYN in a synchronized state gets a challenge ACK (RFC 5961 §4).
    if (seg.syn) {
      this.#ackNow = true;
      return;
    }

    // Step 5: ACK.
    if (seg.ack === null) return;
    if (st === "SYN-RECEIVED") {
      if (seqLe(seg.ack, this.#sndUna) || seqGt(seg.ack, this.#sndMax)) {
        this.#rstPendingFor = seg.ack;
        return;
      }
      if (this.#parent && this.#parent.#acceptQueue.length >= this.#parent.#backlog) {
        return; // accept queue full: ignore the ACK, as Linux does; the peer retries
      }
      if (this.#parent && this.#retries < this.#opts.deferAccept && seg.payload.length === 0 && !seg.fin) {
        // TCP_DEFER_ACCEPT: a bare ACK does not complete the connection until data comes, or
        // until the SYN-ACK has been sent again deferAccept times (Linux's rskq_defer_accept).
        return;
      }
      this.#sndUna = seqAdd(this.#iss, 1);
      this.#sndWnd = seg.window << this.#sndShift;
      this.#sndWl1 = seg.seq;
      this.#sndWl2 = seg.ack;
      this.#synPending = false;
      this.#rtoAt = null;
      this.#retries = 0;
      this.#sampleRtt(now, seg, true);
      this.#setState("ESTABLISHED");
    }
    if (!this.#processAck(now, seg)) return;

    // Steps 6-7: data and FIN.
    this.#processData(now, seg);
  }

  /** The RFC 9293 §3.10.7.4 acceptability test. */
  #acceptable(segSeq: SeqNumber, segLen: number): boolean {
    const wnd = this.#rx.window;
    const d = seqDiff(segSeq, this.#rcvNxt);
    if (segLen === 0) {
      return wnd === 0 ? d === 0 : d >= 0 && d < wnd;
    }
    if (d === 0) return true; // a segment at RCV.NXT is processed for its ACK even at zero window
    if (wnd === 0) return false;
    const dEnd = d + segLen - 1;
    return (d >= 0 && d < wnd) || (dEnd >= 0 && dEnd < wnd);
  }

  /** Handles an acceptable RST. */
  #onReset(): void {
    switch (this.#state) {
      case "SYN-RECEIVED":
        if (this.#parent === null) this.#error = ECONNREFUSED;
        break;
      case "ESTABLISHED":
      case "FIN-WAIT-1":
      case "FIN-WAIT-2":
        this.#error = ECONNRESET;
        break;
      case "CLOSE-WAIT":
        // The peer had finished sending: Linux's tcp_reset reports EPIPE (reads still end at
        // the FIN with 0).
        this.#error = EPIPE;
        break;
      default:
        break;
    }
    this.#setState("CLOSED");
  }

  /** Processes the ACK field. Returns false if the segment should be dropped. */
  #processAck(now: number, seg: TcpRepr): boolean {
    const ack = seg.ack!;
    if (seqGt(ack, this.#sndMax)) {
      this.#ackNow = true; // acks something not yet sent
      return false;
    }
    // RFC 5961 §5.2: an ACK older than the largest window we ever had is bogus.
    if (seqLt(ack, seqAdd(this.#sndUna, -Math.max(this.#maxSndWnd, 1)))) {
      this.#ackNow = true;
      return false;
    }
    const flightBefore = seqDiff(this.#sndMax, this.#sndUna);
    const oldWnd = this.#sndWnd;
    // Window update (RFC 9293 §3.10.7.4), only for SND.UNA <= SEG.ACK.
    const fresher = seqLt(this.#sndWl1, seg.seq) || (this.#sndWl1 === seg.seq && seqLe(this.#sndWl2, ack));
    if (seqGe(ack, this.#sndUna) && fresher) {
      this.#sndWnd = seg.window << this.#sndShift;
      if (this.#sndWnd > this.#maxSndWnd) this.#maxSndWnd = this.#sndWnd;
      this.#sndWl1 = seg.seq;
      this.#sndWl2 = ack;
      if (this.#sndWnd > 0) {
        this.#persistAt = null;
        this.#persistBackoff = 0;
      }
    }
    if (this.#sackEnabled && seg.sackBlocks.length > 0) this.#updateScoreboard(seg.sackBlocks);

    if (seqGt(ack, this.#sndUna)) {
      const acked = seqDiff(ack, this.#sndUna);
      const dataAcked = Math.min(acked, this.#tx.length);
      this.#tx.discard(dataAcked);
      const finAcked = this.#finQueued && !this.#finAcked && acked > dataAcked;
      if (finAcked) this.#finAcked = true;
      this.#sndUna = ack;
      if (seqLt(this.#sndNxt, ack)) this.#sndNxt = ack;
      this.#scoreboard = this.#scoreboard.filter((b) => seqGt(b.right, ack)).map((b) =>
        seqLt(b.left, ack) ? { left: ack, right: b.right } : b
      );
      this.#sampleRtt(now, seg, false);
      this.#retries = 0;
      const mss = this.#payloadMss();
      if (this.#recovery !== null) {
        if (seqGe(ack, this.#recovery)) {
          // Full acknowledgment: leave recovery (RFC 6582 §3.2 step 3).
          this.#cc.cwnd = Math.min(this.#cc.ssthresh, Math.max(seqDiff(this.#sndMax, ack), mss) + mss);
          this.#recovery = null;
          this.#rexmitAt = null;
        } else {
          // Partial acknowledgment: retransmit the next hole, deflate.
          if (!this.#sackEnabled) {
            this.#rexmitAt = ack;
            this.#cc.cwnd = Math.max(this.#cc.cwnd - acked + (acked >= mss ? mss : 0), mss);
          }
        }
      } else {
        this.#cc.onAck(now, acked, mss, this.#rtt.srtt);
      }
      this.#dupAcks = 0;
      this.#rtoAt = seqDiff(this.#sndMax, this.#sndUna) > 0 ? now + this.#rtt.rto : null;
      if (finAcked) this.#onFinAcked(now);
    } else if (
      ack === this.#sndUna && seg.payload.length === 0 && !seg.fin && flightBefore > 0 &&
      seg.window << this.#sndShift === oldWnd
    ) {
      this.#dupAcks++;
      const mss = this.#payloadMss();
      if (this.#dupAcks === DUPACK_THRESHOLD && this.#recovery === null) {
        const flight = seqDiff(this.#sndMax, this.#sndUna);
        this.#cc.onCongestion(now, flight, mss);
        this.#recovery = this.#sndMax;
        this.#rexmitAt = this.#sndUna;
        this.#rexmitHigh = this.#sndUna;
        this.#rttSeq = null;
        if (!this.#sackEnabled) this.#cc.cwnd = this.#cc.ssthresh + DUPACK_THRESHOLD * mss;
        this.#host.tcpTrace?.(this, `fast retransmit at ${this.#sndUna}`);
      } else if (this.#dupAcks > DUPACK_THRESHOLD && this.#recovery !== null && !this.#sackEnabled) {
        this.#cc.cwnd += mss;
      }
    }
    return this.#state !== "CLOSED";
  }

  /** Our FIN has been acknowledged. */
  #onFinAcked(now: number): void {
    switch (this.#state) {
      case "FIN-WAIT-1":
        this.#setState("FIN-WAIT-2");
        if (this.#userClosed) this.#finWait2At = now + this.#opts.finWait2Timeout;
        break;
      case "CLOSING":
        this.#enterTimeWait(now);
        break;
      case "LAST-ACK":
        this.#setState("CLOSED");
        break;
      default:
        break;
    }
  }

  #processData(now: number, seg: TcpRepr): void {
    const st = this.#state;
    let payload = seg.payload;
    let segSeq = seg.seq;
    if (payload.length > 0 && (st === "FIN-WAIT-1" || st === "FIN-WAIT-2") && this.#shutRd &&
      seqGt(seqAdd(segSeq, payload.length), this.#rcvNxt)) {
      // New data for a socket that reads no more (closed, or shut down for reading) while its
      // FIN is out: RFC 1122 §4.2.2.13's reset, as Linux's tcp_rcv_state_process (the
      // peer's next send then fails with EPIPE).
      if (!this.#userClosed) this.#error = ECONNRESET;
      this.#rstPending = true;
      this.#host.tcpWake(this);
      this.#setState("CLOSED");
      return;
    }
    if (payload.length > 0 && canReceiveData(st)) {
      let off = seqDiff(segSeq, this.#rcvNxt);
      if (off < 0) {
        payload = payload.subarray(Math.min(-off, payload.length));
        segSeq = seqAdd(segSeq, -off);
        off = 0;
      }
      if (payload.length === 0) {
        this.#ackNow = true; // a pure duplicate: tell the sender where we are
        this.#oweAck();
      } else {
        const written = this.#rx.writeUnallocated(off, payload);
        let n: number;
        if (off === 0 && this.#assembler.isEmpty) {
          // In order with no hole behind: what add() then takeFront() would give, without
          // their arrays (the common case, once per data segment).
          if (written > 0) this.#lastSackSeq = segSeq;
          n = written;
        } else {
          if (written > 0 && this.#assembler.add(off, written)) {
            this.#lastSackSeq = segSeq;
          }
          n = this.#assembler.takeFront();
        }
        if (n > 0) {
          this.#rx.commit(n);
          this.#rcvNxt = seqAdd(this.#rcvNxt, n);
          if (this.#userClosed || this.#shutRd) this.#rx.discard(this.#rx.length);
        }
        if (off > 0 || !this.#assembler.isEmpty || written < payload.length) {
          this.#ackNow = true; // out of order, filling a hole, or over the window
          if (off > 0) this.#oweAck();
        } else {
          // A segment of more than one MSS (segmentation offload) counts as two: Linux ACKs
          // at once after more than one full-sized segment's worth (__tcp_ack_snd_check).
          this.#segsUnacked += payload.length > this.#rcvMss ? 2 : 1;
          // Acknowledge at once when the window the peer knows of cannot take another full
          // segment: a delayed ACK would stall it (with a 64 KiB loopback MSS, after every
          // segment while the SYN's unscaled window is all the peer knows).
          const peerRoom = this.#lastAdvWindow - seqDiff(this.#rcvNxt, this.#lastAckSent);
          if (this.#opts.ackDelay === 0 || this.#segsUnacked >= 2 || peerRoom < this.#rcvMss) this.#ackNow = true;
          else this.#delayedAckAt ??= now + this.#opts.ackDelay;
        }
      }
    }
    if (seg.fin && !this.#finReceived) {
      this.#rxFinSeq = seqAdd(seg.seq, seg.payload.length);
      if (!canReceiveData(st) && st !== "SYN-RECEIVED") this.#rxFinSeq = null;
    }
    if (this.#rxFinSeq !== null && !this.#finReceived && this.#rxFinSeq === this.#rcvNxt) {
      this.#rcvNxt = seqAdd(this.#rcvNxt, 1);
      this.#finReceived = true;
      this.#ackNow = true;
      switch (this.#state) {
        case "ESTABLISHED":
          this.#setState("CLOSE-WAIT");
          break;
        case "FIN-WAIT-1":
          this.#setState("CLOSING");
          break;
        case "FIN-WAIT-2":
          this.#enterTimeWait(now);
          break;
        default:
          break;
      }
    }
    if (this.#state === "TIME-WAIT" && seg.fin) {
      this.#ackNow = true;
      this.#timeWaitAt = now + this.#opts.timeWait;
    }
  }

  // ===================================================================
  // Output.
  // ===================================================================

  /** Whether `#emitOne` would send something right now. */
  #wantsToSend(now: number): boolean {
    const st = this.#state;
    if (st === "CLOSED" || st === "LISTEN") return false;
    if (this.#rstPendingFor !== null || this.#synPending) return true;
    if (st === "SYN-SENT") return false;
    if (st === "SYN-RECEIVED") return this.#ackNow;
    if (this.#ackNow || this.#rexmitAt !== null || this.#probePending) return true;
    return this.#nextDataSegment(now) !== null;
  }

  /** A repr with ports, ACK, window and timestamp filled in. */
  #segment(now: number): TcpRepr {
    const r = tcpReprDefaults();
    r.srcPort = this.#localPort;
    r.dstPort = this.#remote!.port;
    r.seq = this.#sndNxt;
    r.ack = this.#rcvNxt;
    r.window = this.#advertisedWindow();
    if (this.#tsEnabled) r.timestamp = { tsVal: this.#tsNow(now), tsEcr: this.#tsRecent };
    if (this.#sackEnabled && !this.#assembler.isEmpty) r.sackBlocks = this.#sackBlocks();
    return r;
  }

  #oweAck(): void {
    if (this.#acksOwed < 16) this.#acksOwed++;
  }

  /** Bookkeeping after any segment carrying ACK went out. */
  #sentAck(r: TcpRepr): void {
    this.#ackNow = this.#acksOwed > 1;
    if (this.#acksOwed > 0) this.#acksOwed--;
    this.#delayedAckAt = null;
    this.#segsUnacked = 0;
    this.#lastAckSent = this.#rcvNxt;
    // A SYN's window is never scaled (RFC 7323 §2.2).
    this.#lastAdvWindow = r.syn ? r.window : r.window << this.#rcvShift;
  }

  /** Emits at most one segment. Returns whether one was sent. */
  #emitOne(now: number, emit: TcpEmit): boolean {
    const st = this.#state;
    if (st === "CLOSED" || st === "LISTEN" || !this.#remote || !this.#localAddr) return false;
    const src = this.#localAddr, dst = this.#remote.addr;

    // RST in answer to a bad ACK in SYN-RECEIVED.
    if (this.#rstPendingFor !== null) {
      const r = tcpReprDefaults();
      r.srcPort = this.#localPort;
      r.dstPort = this.#remote.port;
      r.seq = this.#rstPendingFor;
      r.rst = true;
      if (!emit(src, dst, r)) return false;
      this.#rstPendingFor = null;
      return true;
    }

    // SYN or SYN-ACK.
    if (this.#synPending) {
      const r = this.#segment(now);
      r.seq = this.#iss;
      r.syn = true;
      if (st === "SYN-SENT") r.ack = null;
      r.window = Math.min(this.#rx.window, 0xffff);
      r.sackBlocks = [];
      r.maxSegSize = this.#rcvMss;
      const offerOpts = st === "SYN-SENT";
      if (this.#opts.windowScaling && (offerOpts || this.#wsEnabled)) {
        r.windowScale = offerOpts ? windowShiftFor(this.#rx.capacity) : this.#rcvShift;
      }
      if (this.#opts.sack && (offerOpts || this.#sackEnabled)) r.sackPermitted = true;
      if (this.#opts.timestamps && (offerOpts || this.#tsEnabled)) {
        r.timestamp = { tsVal: this.#tsNow(now), tsEcr: offerOpts ? 0 : this.#tsRecent };
      } else {
        r.timestamp = null;
      }
      if (!emit(src, dst, r)) return false;
      if (offerOpts) this.#rcvShift = r.windowScale ?? 0;
      this.#synPending = false;
      this.#sndNxt = seqAdd(this.#iss, 1);
      this.#sndMax = seqMax(this.#sndMax, this.#sndNxt);
      if (this.#retries === 0 && this.#rttSeq === null) {
        this.#rttSeq = this.#sndNxt;
        this.#rttStart = now;
      }
      if (r.ack !== null) this.#sentAck(r);
      this.#rtoAt ??= now + this.#rtt.rto;
      return true;
    }
    if (st === "SYN-SENT") return false;
    if (st === "SYN-RECEIVED") {
      // Only an ACK, e.g. for a crossing SYN-ACK in a simultaneous open.
      if (!this.#ackNow) return false;
      const r = this.#segment(now);
      if (!emit(src, dst, r)) return false;
      this.#sentAck(r);
      return true;
    }

    // Retransmission of a specific hole.
    const hole = this.#nextRetransmit();
    if (hole !== null) {
      const r = this.#dataSegment(now, hole.at, hole.len);
      if (!emit(src, dst, r)) return false;
      this.#rexmitAt = null;
      const end = seqAdd(hole.at, hole.len + (r.fin ? 1 : 0));
      if (seqGt(end, this.#rexmitHigh)) this.#rexmitHigh = end;
      if (seqGt(end, this.#sndNxt) && seqGe(this.#sndNxt, hole.at)) this.#sndNxt = end;
      this.#sndMax = seqMax(this.#sndMax, this.#sndNxt);
      if (this.#rttSeq !== null && seqLt(hole.at, this.#rttSeq)) this.#rttSeq = null;
      this.#sentAck(r);
      this.#rtoAt ??= now + this.#rtt.rto;
      return true;
    }

    // New data, or resending after a timeout, and/or FIN.
    const next = this.#nextDataSegment(now);
    if (next !== null) {
      const r = this.#dataSegment(now, this.#sndNxt, next.len);
      if (!emit(src, dst, r)) return false;
      const isRetransmit = seqLt(this.#sndNxt, this.#sndMax);
      const segLen = next.len + (r.fin ? 1 : 0);
      if (!isRetransmit && this.#rttSeq === null && !this.#tsEnabled) {
        this.#rttSeq = seqAdd(this.#sndNxt, segLen);
        this.#rttStart = now;
      }
      if (isRetransmit && this.#rttSeq !== null) this.#rttSeq = null;
      this.#sndNxt = seqAdd(this.#sndNxt, segLen);
      this.#sndMax = seqMax(this.#sndMax, this.#sndNxt);
      this.#sentAck(r);
      this.#rtoAt ??= now + this.#rtt.rto;
      return true;
    }

    // Zero-window or keepalive probe: an old sequence number elicits an ACK.
    if (this.#probePending) {
      const r = this.#segment(now);
      r.seq = seqAdd(this.#sndUna, -1);
      if (!emit(src, dst, r)) return false;
      this.#probePending = false;
      this.#sentAck(r);
      return true;
    }

    // A bare ACK or window update.
    if (this.#ackNow || (this.#delayedAckAt !== null && now >= this.#delayedAckAt)) {
      const r = this.#segment(now);
      if (!emit(src, dst, r)) return false;
      this.#sentAck(r);
      return true;
    }
    return false;
  }

  /** The next hole to retransmit in recovery, if any. */
  #nextRetransmit(): { at: SeqNumber; len: number } | null {
    const mss = this.#payloadMss();
    if (this.#rexmitAt !== null) {
      const at = seqMax(this.#rexmitAt, this.#sndUna);
      if (seqGe(at, this.#sndMax)) {
        this.#rexmitAt = null;
        return null;
      }
      const len = this.#holeLen(at, mss);
      if (len === 0 && !this.#finAt(at)) {
        this.#rexmitAt = null;
        return null;
      }
      return { at, len };
    }
    if (!this.#sackEnabled || this.#recovery === null || this.#scoreboard.length === 0) return null;
    // SACK recovery (RFC 6675 NextSeg, simplified): the first un-SACKed byte
    // past what we already resent, below the highest SACKed byte, if the
    // pipe has room.
    const pipe = seqDiff(this.#sndMax, this.#sndUna) - this.#sackedBytes();
    if (pipe >= this.#cc.cwnd) return null;
    let at = seqMax(this.#rexmitHigh, this.#sndUna);
    for (const b of this.#scoreboard) {
      if (seqLt(at, b.left)) break;
      if (seqLt(at, b.right)) at = b.right;
    }
    const highSack = this.#scoreboard[this.#scoreboard.length - 1]!.right;
    if (seqGe(at, highSack)) return null;
    const len = this.#holeLen(at, mss);
    return len > 0 ? { at, len } : null;
  }

  /** Bytes sendable from `at` up to the next SACKed block, capped at `mss`. */
  #holeLen(at: SeqNumber, mss: number): number {
    let len = Math.min(mss, this.#tx.length - seqDiff(at, this.#sndUna));
    for (const b of this.#scoreboard) {
      if (seqGt(b.left, at)) {
        len = Math.min(len, seqDiff(b.left, at));
        break;
      }
    }
    return Math.max(0, len);
  }

  /** Whether the FIN sits at sequence `at`. */
  #finAt(at: SeqNumber): boolean {
    return this.#finQueued && !this.#finAcked && seqDiff(at, this.#sndUna) === this.#tx.length;
  }

  /**
   * How much new data to send from SND.NXT now, honouring the send and
   * congestion windows, Nagle and SACKed ranges; null if nothing is due.
   */
  #nextDataSegment(now: number): { len: number } | null {
    // Skip ranges the receiver already has (after a timeout).
    for (const b of this.#scoreboard) {
      if (seqGe(this.#sndNxt, b.left) && seqLt(this.#sndNxt, b.right)) this.#sndNxt = b.right;
    }
    const off = seqDiff(this.#sndNxt, this.#sndUna);
    const avail = this.#tx.length - off;
    const finDue = this.#finQueued && !this.#finAcked && avail === 0 && off === this.#tx.length;
    if (avail <= 0 && !finDue) return null;
    const flight = seqDiff(this.#sndNxt, this.#sndUna);
    const retransmitting = seqLt(this.#sndNxt, this.#sndMax);
    let window: number;
    if (this.#sackEnabled && this.#recovery !== null) {
      const pipe = seqDiff(this.#sndMax, this.#sndUna) - this.#sackedBytes();
      window = Math.min(this.#sndWnd - flight, this.#cc.cwnd - pipe);
    } else {
      // Limited transmit (RFC 3042): each of the first two duplicate ACKs
      // lets one more new segment out, so small windows still get 3 dupacks.
      const limited = this.#recovery === null && !retransmitting ? Math.min(this.#dupAcks, 2) * this.#payloadMss() : 0;
      window = Math.min(this.#sndWnd, this.#cc.cwnd + limited) - flight;
    }
    if (finDue) return { len: 0 };
    const mss = this.#payloadMss();
    // With segmentation offload one segment carries up to the whole sendable run, as far as
    // the ring's end so that its payload stays a view (the receiver takes it as one, as
    // Linux's GRO would): fewer segments and ACKs per write, no split of a 64 KiB write
    // into 65471 + 65 bytes. Retransmissions stay MSS-sized.
    const most = this.#offload > mss && !retransmitting ? Math.max(mss, Math.min(this.#offload, this.#tx.contiguousFrom(off))) : mss;
    let len = Math.min(avail, most, Math.max(0, window));
    len = this.#holeLen(this.#sndNxt, len);
    if (len <= 0) return null;
    // TCP_CORK holds a small segment whatever is in flight, until a full segment, the uncork,
    // the FIN or 200 ms (Linux's ceiling on corking).
    if (len < mss && !retransmitting && this.#opts.cork && len === avail && !this.#finQueued) {
      this.#corkAt ??= now + CORK_CEILING;
      if (now < this.#corkAt) return null;
    }
    this.#corkAt = null;
    // Nagle (RFC 9293 §3.7.4): hold a small segment while data is unacked.
    if (len < mss && !retransmitting && !this.#opts.cork && !this.#opts.noDelay && flight > 0 && len === avail && !this.#finQueued) {
      return null;
    }
    // Sender-side SWS avoidance: do not chop a larger pending send into a sliver.
    if (len < mss && len < avail && flight > 0 && !retransmitting) return null;
    return { len };
  }

  /** Builds a data segment at `at` with `len` payload bytes (FIN added if due). */
  #dataSegment(now: number, at: SeqNumber, len: number): TcpRepr {
    const r = this.#segment(now);
    r.seq = at;
    const off = seqDiff(at, this.#sndUna);
    r.payload = this.#tx.peek(off, len);
    if (this.#finQueued && !this.#finAcked && off + len === this.#tx.length) r.fin = true;
    if (len > 0 && off + len === this.#tx.length) r.psh = true;
    // Keep header + payload within the peer's MSS plus a bare header.
    const over = tcpHeaderLen(r) - 20 + r.payload.length - this.#sndMss;
    if (over > 0) r.sackBlocks = [];
    return r;
  }

  // ===================================================================
  // Timers.
  // ===================================================================

  #runTimers(now: number): void {
    if (this.#timeWaitAt !== null && now >= this.#timeWaitAt) {
      this.#timeWaitAt = null;
      this.#setState("CLOSED");
      return;
    }
    if (this.#finWait2At === null && this.#userClosed && this.#state === "FIN-WAIT-2") {
      this.#finWait2At = now + this.#opts.finWait2Timeout;
    }
    if (this.#finWait2At !== null && now >= this.#finWait2At) {
      this.#finWait2At = null;
      if (this.#state === "FIN-WAIT-2") {
        this.#setState("CLOSED");
        return;
      }
    }
    if (this.#rtoAt !== null && now >= this.#rtoAt) this.#onRto(now);
    if (this.#state === "CLOSED") return;
    if (this.#keepaliveAt !== null && now >= this.#keepaliveAt) {
      const k = this.#opts.keepalive;
      if (k === null || seqDiff(this.#sndMax, this.#sndUna) > 0) {
        this.#keepaliveAt = null;
        this.#armKeepalive();
      } else if (this.#keepaliveProbes >= k.count) {
        this.#error = ETIMEDOUT;
        this.abort();
        return;
      } else {
        this.#keepaliveProbes++;
        this.#probePending = true;
        this.#keepaliveAt = now + k.interval;
      }
    }
    // Zero-window persist timer (RFC 9293 §3.8.6.1).
    const off = seqDiff(this.#sndNxt, this.#sndUna);
    const waiting = isSynchronized(this.#state) && this.#sndWnd === 0 && this.#tx.length > off && off === 0;
    if (!waiting) {
      this.#persistAt = null;
    } else if (this.#persistAt === null) {
      this.#persistAt = now + this.#rtt.rto;
    } else if (now >= this.#persistAt) {
      this.#probePending = true;
      this.#persistBackoff = Math.min(this.#persistBackoff + 1, 6);
      this.#persistAt = now + Math.min(this.#rtt.rto * 2 ** this.#persistBackoff, this.#opts.maxRto);
    }
  }

  #onRto(now: number): void {
    this.#rtoAt = null;
    const st = this.#state;
    const limit = st === "SYN-SENT" || st === "SYN-RECEIVED" ? this.#opts.synRetries : this.#opts.maxRetries;
    if (this.#retries >= limit) {
      this.#error = ETIMEDOUT;
      if (st === "SYN-RECEIVED" && this.#parent !== null) this.#error = null;
      this.abort();
      return;
    }
    this.#retries++;
    this.#rtt.backoff();
    this.#rttSeq = null;
    this.#host.tcpTrace?.(this, `RTO #${this.#retries} (${this.#rtt.rto} ms)`);
    if (st === "SYN-SENT" || st === "SYN-RECEIVED") {
      this.#synPending = true;
      return;
    }
    const flight = seqDiff(this.#sndMax, this.#sndUna);
    if (flight <= 0) return;
    this.#cc.onRto(now, flight, this.#payloadMss());
    this.#recovery = null;
    this.#rexmitAt = null;
    this.#dupAcks = 0;
    this.#sndNxt = this.#sndUna; // go back N, skipping SACKed ranges
  }

  #armKeepalive(): void {
    const k = this.#opts.keepalive;
    if (k === null || (this.#state !== "ESTABLISHED" && this.#state !== "CLOSE-WAIT")) {
      this.#keepaliveAt = null;
      return;
    }
    this.#keepaliveAt = this.#lastRecvAt + (this.#keepaliveProbes > 0 ? k.interval : k.idle);
  }

  #enterTimeWait(now: number): void {
    this.#rtoAt = null;
    this.#timeWaitAt = now + this.#opts.timeWait;
    this.#setState("TIME-WAIT");
  }

  // ===================================================================
  // Helpers.
  // ===================================================================

  /** Takes the pending error: reported once, as Linux's sk_err. */
  #takeError(): NetError {
    const e = this.#error!;
    this.#error = null;
    return e;
  }

  /** The application will send no more: queue a FIN. */
  #closeSend(): void {
    switch (this.#state) {
      case "SYN-RECEIVED":
      case "ESTABLISHED":
        this.#finQueued = true;
        this.#setState("FIN-WAIT-1");
        break;
      case "CLOSE-WAIT":
        this.#finQueued = true;
        this.#setState("LAST-ACK");
        break;
      case "SYN-SENT":
        this.#setState("CLOSED");
        break;
      default:
        break;
    }
  }

  /** After the application read, advertise a window that has grown a lot. */
  #maybeWindowUpdate(before: number): void {
    if (!isSynchronized(this.#state)) return;
    const now = this.#rx.window;
    const grew = now - this.#lastAdvWindow;
    if (grew >= Math.min(this.#rx.capacity / 2, 2 * this.#rcvMss) && before < now) this.#ackNow = true;
  }

  #advertisedWindow(): number {
    return Math.min(this.#rx.window >>> this.#rcvShift, 0xffff);
  }

  #setMssFromMtu(ipMtu: number): void {
    const ipHeader = this.#remote?.addr.version === 6 ? 40 : 20;
    this.#rcvMss = Math.max(ipMtu - ipHeader - 20, 64);
  }

  /** Largest payload per segment after fixed option overhead. */
  #payloadMss(): number {
    return Math.max(1, this.#sndMss - (this.#tsEnabled ? 12 : 0));
  }

  /**
   * Takes an RTT sample from the echoed timestamp if timestamps are on,
   * else from the timed segment if `seg` covers it (or `always`, for the
   * handshake).
   */
  #sampleRtt(now: number, seg: TcpRepr, always: boolean): void {
    if (this.#tsEnabled && seg.timestamp && seg.timestamp.tsEcr !== 0) {
      const rtt = (this.#tsNow(now) - seg.timestamp.tsEcr) >>> 0;
      if (rtt <= this.#opts.maxRto) this.#rtt.sample(rtt);
    } else if (this.#rttSeq !== null && (always || seqGe(seg.ack!, this.#rttSeq))) {
      this.#rtt.sample(now - this.#rttStart);
    } else {
      return;
    }
    this.#rttSeq = null;
  }

  #tsNow(now: number): number {
    return (Math.floor(now) + this.#tsOffset) >>> 0;
  }

  #sackedBytes(): number {
    let n = 0;
    for (const b of this.#scoreboard) n += seqDiff(b.right, b.left);
    return n;
  }

  /** Merges the peer's SACK blocks into the scoreboard. */
  #updateScoreboard(blocks: SackBlock[]): void {
    const list = [...this.#scoreboard];
    for (const b of blocks) {
      if (!seqLt(b.left, b.right) || seqLe(b.right, this.#sndUna) || seqGt(b.right, this.#sndMax)) continue;
      list.push({ left: seqMax(b.left, this.#sndUna), right: b.right });
    }
    list.sort((x, y) => seqDiff(x.left, y.left));
    const out: SackBlock[] = [];
    for (const b of list) {
      const last = out[out.length - 1];
      if (last && seqGe(last.right, b.left)) {
        if (seqGt(b.right, last.right)) last.right = b.right;
      } else {
        out.push({ left: b.left, right: b.right });
      }
    }
    this.#scoreboard = out;
  }

  /** SACK blocks to send: the most recent first (RFC 2018 §4), then ascending. */
  #sackBlocks(): SackBlock[] {
    const ranges = this.#assembler.ranges();
    const toBlock = ([s, e]: [number, number]) => ({ left: seqAdd(this.#rcvNxt, s), right: seqAdd(this.#rcvNxt, e) });
    const recentOff = seqDiff(this.#lastSackSeq, this.#rcvNxt);
    const recent = this.#assembler.rangeContaining(recentOff);
    const out: SackBlock[] = [];
    if (recent) out.push(toBlock(recent));
    for (const r of ranges) {
      if (out.length >= 4) break;
      if (recent && r[0] === recent[0]) continue;
      out.push(toBlock(r));
    }
    return out;
  }

  // ===================================================================
  // Checkpoint.
  // ===================================================================

  /** The socket as plain data (see {@linkcode TcpSnapshot}); `ref` names another socket. */
  snapshot(now: number, ref: (s: TcpSocket) => number): TcpSnapshot {
    const rel = (t: number | null) => (t === null ? null : t - now);
    const ooo = this.#assembler.ranges();
    const oooEnd = ooo.length === 0 ? 0 : ooo[ooo.length - 1]![1];
    return {
      opts: { ...this.#opts, keepalive: this.#opts.keepalive === null ? null : { ...this.#opts.keepalive } },
      state: this.#state,
      localAddr: this.#localAddr?.toString() ?? null,
      localPort: this.#localPort,
      remote: this.#remote === null ? null : { addr: this.#remote.addr.toString(), port: this.#remote.port },
      bound: this.#bound,
      registered: this.#registered,
      wildcardVersion: this.wildcardVersion,
      reuseAddr: this.reuseAddr,
      reusePort: this.reusePort,
      ...(this.boundDevice !== -1 ? { boundDevice: this.boundDevice } : {}),
      backlog: this.#backlog,
      synBacklog: this.#synBacklog,
      synQueueLen: this.#synQueueLen,
      acceptQueue: this.#acceptQueue.map(ref),
      parent: this.#parent === null ? null : ref(this.#parent),
      rx: this.#rx.snapshot(this.#rx.length + oooEnd),
      rxLen: this.#rx.length,
      tx: this.#tx.snapshot(this.#tx.length),
      ooo,
      seqs: {
        iss: this.#iss, sndUna: this.#sndUna, sndNxt: this.#sndNxt, sndMax: this.#sndMax, sndWl1: this.#sndWl1, sndWl2: this.#sndWl2,
        irs: this.#irs, rcvNxt: this.#rcvNxt, lastAckSent: this.#lastAckSent, lastSackSeq: this.#lastSackSeq, rexmitHigh: this.#rexmitHigh,
      },
      optSeqs: {
        rxFinSeq: this.#rxFinSeq, rstPendingFor: this.#rstPendingFor, recovery: this.#recovery, rexmitAt: this.#rexmitAt, rttSeq: this.#rttSeq,
      },
      counts: {
        sndWnd: this.#sndWnd, maxSndWnd: this.#maxSndWnd, sndMss: this.#sndMss, rcvMss: this.#rcvMss, sndShift: this.#sndShift,
        offload: this.#offload, rcvShift: this.#rcvShift, tsClock: this.#tsNow(now), tsRecent: this.#tsRecent, dupAcks: this.#dupAcks,
        retries: this.#retries, acksOwed: this.#acksOwed, segsUnacked: this.#segsUnacked, lastAdvWindow: this.#lastAdvWindow,
        keepaliveProbes: this.#keepaliveProbes, persistBackoff: this.#persistBackoff,
      },
      flags: {
        finReceived: this.#finReceived, wsEnabled: this.#wsEnabled, tsEnabled: this.#tsEnabled, sackEnabled: this.#sackEnabled,
        synPending: this.#synPending, finQueued: this.#finQueued, finAcked: this.#finAcked, rstPending: this.#rstPending,
        ackNow: this.#ackNow, probePending: this.#probePending, userClosed: this.#userClosed, shutRd: this.#shutRd,
        shutWr: this.#shutWr, wasConnected: this.#wasConnected, portLocked: this.#portLocked,
      },
      timers: {
        rto: rel(this.#rtoAt), delayedAck: rel(this.#delayedAckAt), timeWait: rel(this.#timeWaitAt),
        keepalive: rel(this.#keepaliveAt), persist: rel(this.#persistAt), finWait2: rel(this.#finWait2At), cork: rel(this.#corkAt),
      },
      ages: { rttStart: now - this.#rttStart, lastRecv: now - this.#lastRecvAt },
      rtt: { srtt: this.#rtt.srtt, rttvar: this.#rtt.rttvar, rto: this.#rtt.rto },
      cc: this.#cc.save(now),
      scoreboard: this.#scoreboard.map((b) => [b.left, b.right]),
      error: this.#error?.code ?? null,
    };
  }

  /**
   * Takes a snapshot back into this socket, new from its host's tcpSocket(s.opts): its state,
   * queues and timers (relative to `now`), then its port and 4-tuple from the host (the host
   * schedules it, so its timers run from the next poll). `socketAt` names the other restored
   * sockets. Throws RangeError when the snapshot breaks an invariant the queues rely on, or
   * the host's EADDRINUSE/EADDRNOTAVAIL when its port or 4-tuple cannot be had.
   */
  restore(s: TcpSnapshot, now: number, socketAt: (i: number) => TcpSocket): void {
    const bad = (why: string) => new RangeError(`TCP socket ${s.localAddr ?? "*"}:${s.localPort}: ${why}`);
    if (this.#state !== "CLOSED" || this.#bound) throw bad("restored twice");
    const sq = s.seqs, o = s.optSeqs, c = s.counts, f = s.flags;
    const inFlight = seqDiff(seq(sq.sndMax), seq(sq.sndUna));
    // A SYN and a FIN take a sequence number each but no byte of the send queue.
    if (seqDiff(seq(sq.sndNxt), seq(sq.sndUna)) < 0 || seqDiff(seq(sq.sndMax), seq(sq.sndNxt)) < 0 || inFlight > s.tx.length + 2) {
      throw bad("its send sequence space does not match its send queue");
    }
    if (s.tx.length > this.#tx.capacity || s.rx.length > this.#rx.capacity || s.rxLen > s.rx.length) throw bad("a queue overflows");
    const oooEnd = s.ooo.length === 0 ? 0 : s.ooo[s.ooo.length - 1]![1];
    if (s.rxLen + oooEnd !== s.rx.length) throw bad("its out-of-order data does not fit its receive queue");
    if (c.sndMss < 1 || c.rcvMss < 1 || c.sndShift > 14 || c.rcvShift > 14) throw bad("bad segment size or window scale");
    const within = (x: number) => seqDiff(seq(x), seq(sq.sndUna)) >= 0 && seqDiff(seq(sq.sndMax), seq(x)) >= 0;
    if (o.rexmitAt !== null && !within(o.rexmitAt)) throw bad("it retransmits outside its send window");
    for (const [l, r] of s.scoreboard) if (!within(l) || !within(r) || seqDiff(seq(r), seq(l)) <= 0) throw bad("a bad SACK block");
    if (s.registered && (s.remote === null || s.localAddr === null)) throw bad("a connection without its addresses");
    if (s.state === "LISTEN" && (s.registered || !s.bound)) throw bad("a listener that is connected or has no port");
    if (s.state !== "LISTEN" && s.acceptQueue.length > 0) throw bad("an accept queue without a listener");
    if (s.state !== "CLOSED" && s.state !== "LISTEN" && !s.registered) throw bad("a connection the stack does not know");
    if (s.state === "CLOSED" && s.registered && !s.flags.rstPending) throw bad("a closed socket that holds its 4-tuple");
    if (s.cc.cwnd < 1 || s.rtt.rto <= 0) throw bad("bad congestion window or timeout");
    let error: NetError | null = null;
    if (s.error !== null) {
      error = netErrorByCode(s.error);
      if (error === null) throw bad(`an unknown error ${s.error}`);
    }
    const at = (t: number | null) => (t === null ? null : now + Math.max(0, t));
    this.#state = s.state;
    this.#localAddr = s.localAddr === null ? null : parseIpAddress(s.localAddr);
    this.#localPort = s.localPort;
    this.#remote = s.remote === null ? null : { addr: parseIpAddress(s.remote.addr), port: s.remote.port };
    this.wildcardVersion = s.wildcardVersion;
    this.reuseAddr = s.reuseAddr;
    this.reusePort = s.reusePort;
    this.boundDevice = s.boundDevice ?? -1;
    this.#backlog = s.backlog;
    this.#synBacklog = s.synBacklog;
    this.#synQueueLen = s.synQueueLen;
    this.#acceptQueue = s.acceptQueue.map(socketAt);
    this.#parent = s.parent === null ? null : socketAt(s.parent);
    this.#rx.restore(s.rx, s.rxLen);
    this.#tx.restore(s.tx, s.tx.length);
    this.#assembler.load(s.ooo);
    this.#iss = seq(sq.iss);
    this.#sndUna = seq(sq.sndUna);
    this.#sndNxt = seq(sq.sndNxt);
    this.#sndMax = seq(sq.sndMax);
    this.#sndWl1 = seq(sq.sndWl1);
    this.#sndWl2 = seq(sq.sndWl2);
    this.#irs = seq(sq.irs);
    this.#rcvNxt = seq(sq.rcvNxt);
    this.#lastAckSent = seq(sq.lastAckSent);
    this.#lastSackSeq = seq(sq.lastSackSeq);
    this.#rexmitHigh = seq(sq.rexmitHigh);
    const os = (x: number | null) => (x === null ? null : seq(x));
    this.#rxFinSeq = os(o.rxFinSeq);
    this.#rstPendingFor = os(o.rstPendingFor);
    this.#recovery = os(o.recovery);
    this.#rexmitAt = os(o.rexmitAt);
    this.#rttSeq = os(o.rttSeq);
    this.#sndWnd = c.sndWnd;
    this.#maxSndWnd = c.maxSndWnd;
    this.#sndMss = c.sndMss;
    this.#rcvMss = c.rcvMss;
    this.#sndShift = c.sndShift;
    this.#offload = c.offload;
    this.#rcvShift = c.rcvShift;
    this.#tsOffset = (c.tsClock - Math.floor(now)) >>> 0;
    this.#tsRecent = c.tsRecent;
    this.#dupAcks = c.dupAcks;
    this.#retries = c.retries;
    this.#acksOwed = c.acksOwed;
    this.#segsUnacked = c.segsUnacked;
    this.#lastAdvWindow = c.lastAdvWindow;
    this.#keepaliveProbes = c.keepaliveProbes;
    this.#persistBackoff = c.persistBackoff;
    this.#finReceived = f.finReceived;
    this.#wsEnabled = f.wsEnabled;
    this.#tsEnabled = f.tsEnabled;
    this.#sackEnabled = f.sackEnabled;
    this.#synPending = f.synPending;
    this.#finQueued = f.finQueued;
    this.#finAcked = f.finAcked;
    this.#rstPending = f.rstPending;
    this.#ackNow = f.ackNow;
    this.#probePending = f.probePending;
    this.#userClosed = f.userClosed;
    this.#shutRd = f.shutRd;
    this.#shutWr = f.shutWr;
    this.#wasConnected = f.wasConnected;
    this.#portLocked = f.portLocked;
    this.#rtoAt = at(s.timers.rto);
    this.#delayedAckAt = at(s.timers.delayedAck);
    this.#timeWaitAt = at(s.timers.timeWait);
    this.#keepaliveAt = at(s.timers.keepalive);
    this.#persistAt = at(s.timers.persist);
    this.#finWait2At = at(s.timers.finWait2);
    this.#corkAt = at(s.timers.cork ?? null);
    this.#rttStart = now - s.ages.rttStart;
    this.#lastRecvAt = now - s.ages.lastRecv;
    this.#rtt.srtt = s.rtt.srtt;
    this.#rtt.rttvar = s.rtt.rttvar;
    this.#rtt.rto = s.rtt.rto;
    if (this.#cc.algorithm !== s.opts.congestion || (s.cc.cubic !== null) !== (s.opts.congestion === "cubic")) {
      throw bad("its congestion state is another algorithm's");
    }
    this.#cc.load(s.cc, now);
    this.#scoreboard = s.scoreboard.map(([l, r]) => ({ left: seq(l), right: seq(r) }));
    this.#error = error;
    if (s.bound) {
      // A connection takes its port back unchecked (it shared it with its listener or others
      // by the rules when it got it); a listener or bound socket is checked.
      if (s.registered && this.#host.tcpInheritPort) this.#host.tcpInheritPort(this);
      else this.#localPort = this.#host.tcpBind(this, this.#localAddr, s.localPort, true);
      this.#bound = true;
    }
    if (s.registered) {
      this.#host.tcpRegister(this);
      this.#registered = true;
    }
  }

  /** Drops the 4-tuple reservation, and the port's unless `keepPort`. */
  #release(keepPort = false): void {
    if (this.#registered) {
      this.#registered = false;
      this.#host.tcpUnregister(this);
    }
    if (this.#bound && !keepPort) {
      this.#bound = false;
      this.#host.tcpUnbind(this);
    }
  }

  /** The only place the state changes. */
  #setState(next: TcpState, keepPort = false): void {
    const prev = this.#state;
    if (prev === next) return;
    this.#state = next;
    this.#host.tcpTrace?.(this, `${prev}=>${next}`);
    this.#host.tcpStateChanged?.(this, prev, next);
    if (next === "ESTABLISHED") {
      this.#wasConnected = true;
      this.#armKeepalive();
      if (this.#parent !== null) {
        const parent = this.#parent;
        parent.#synQueueLen--;
        if (parent.#state !== "LISTEN") {
          this.#parent = null;
          this.abort(); // the listener went away during the handshake
          return;
        }
        parent.#acceptQueue.push(this);
      }
    }
    if (next === "CLOSE-WAIT") this.#armKeepalive();
    if (next === "TIME-WAIT" || next === "CLOSED") {
      // Nothing more will arrive in order, and our data is all acknowledged
      // (TIME-WAIT) or moot: give the memory back while we linger.
      this.#assembler.clear();
      this.#tx.release();
      if (next === "TIME-WAIT" || this.#userClosed) this.#rx.release();
    }
    if (next === "CLOSED") {
      if (prev === "SYN-RECEIVED" && this.#parent !== null) {
        this.#parent.#synQueueLen--;
        this.#parent = null;
      }
      if (prev !== "LISTEN" && prev !== "SYN-SENT") this.#wasConnected ||= isSynchronized(prev);
      // Ended by an error (refused, reset, timed out): shut down both ways, as Linux's tcp_done
      // leaves it, so a read after the error is taken returns 0 and a send is EPIPE.
      if (this.#error !== null && prev !== "LISTEN") this.#shutRd = this.#shutWr = true;
      this.#rtoAt = this.#delayedAckAt = this.#timeWaitAt = this.#keepaliveAt = null;
      this.#persistAt = this.#finWait2At = this.#corkAt = null;
      this.#synPending = this.#ackNow = this.#probePending = false;
      this.#acksOwed = 0;
      this.#rexmitAt = null;
      if (!this.#rstPending) this.#release(keepPort);
    }
  }
}

/** The smallest shift that lets a buffer of `capacity` be advertised (RFC 7323 §2.3). */
export function windowShiftFor(capacity: number): number {
  let s = 0;
  while (s < 14 && capacity >>> s > 0xffff) s++;
  return s;
}

/**
 * The RST to send in answer to `seg` when no connection matches it
 * (RFC 9293 §3.10.7.1), or null if `seg` is itself a RST.
 */
export function rstReplyFor(seg: TcpRepr): TcpRepr | null {
  if (seg.rst) return null;
  const r = tcpReprDefaults();
  r.srcPort = seg.dstPort;
  r.dstPort = seg.srcPort;
  r.rst = true;
  if (seg.ack !== null) {
    r.seq = seg.ack;
  } else {
    r.seq = seq(0);
    r.ack = seqAdd(seg.seq, seg.payload.length + (seg.syn ? 1 : 0) + (seg.fin ? 1 : 0));
  }
  return r;
}

/** The earlier of two optional deadlines. */
function earliest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null || a <= b ? a : b;
}
