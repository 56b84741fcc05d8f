/**
 * What every AF_NETLINK socket shares, whatever its protocol: the port id and its binding,
 * multicast memberships, SOL_SOCKET and SOL_NETLINK options, the receive queue of answers and
 * the NLMSG_ERROR acks. Each protocol (route.ts, netfilter.ts) answers the requests.
 *
 * @module
 */

import { EADDRINUSE, EAGAIN, ECONNREFUSED, EINVAL, ENOBUFS, ENOPROTOOPT, EPERM } from "../../errno.ts";
import { CAP_NET_ADMIN } from "../../../abi/linux/capability.ts";
import type { Net } from "../../net.ts";
import type { Task } from "../../task.ts";
import { O_NONBLOCK, O_RDWR } from "../../../abi/linux/file.ts";
import { EVENT_ERR, EVENT_IN, EVENT_OUT, EVENT_RDNORM, EVENT_WRNORM } from "../../../waiter/mod.ts";
import { type RecvRequest, type RecvResult, type SendRequest, SocketFile } from "../socket.ts";
import * as C from "../inet/constants.ts";
import { intBytes } from "../inet/inet_socket.ts";
import { loadSockOptionPairs, sockOptionPairs } from "../sockopt.ts";
import { MessageBuilder, NLM_F_CAPPED, NLMSG_ERROR, NLMSG_HDRLEN, SOCKADDR_NL_LEN, sockaddrNl } from "./message.ts";

export const SOL_NETLINK = 270;
const NETLINK_ADD_MEMBERSHIP = 1;
const NETLINK_DROP_MEMBERSHIP = 2;
const NETLINK_LIST_MEMBERSHIPS = 9;
export const NETLINK_CAP_ACK = 10;
/** SOL_NETLINK options that are on/off flags (PKTINFO, BROADCAST_ERROR, NO_ENOBUFS, CAP_ACK, EXT_ACK, GET_STRICT_CHK). */
const NETLINK_FLAG_OPTIONS = [3, 4, 5, 10, 11, 12];
/** NETLINK_LISTEN_ALL_NSID: accepted by setsockopt, not read back. */
const NETLINK_LISTEN_ALL_NSID = 8;
const NETLINK_NO_ENOBUFS = 5;

/** A netlink socket's state as a checkpoint saves it ({@linkcode NetlinkSocket.snapshot}). */
export interface NetlinkSnapshot {
  portId: number;
  bound: boolean;
  rcvBuf: number;
  sndBuf: number;
  passCred: boolean;
  /** The other SOL_SOCKET options set (kernel/socket/sockopt.ts's pairs); absent in older images: none. */
  options?: [number, number][] | undefined;
  nlFlags: number[];
  groups: bigint;
  overrun: boolean;
  openerNetAdmin: boolean;
  /** Datagrams not read yet, each with its sender when another socket sent it. */
  rx: { data: Uint8Array; from: { port: number; creds: { pid: number; uid: number; gid: number } } | null }[];
}

/** @savable (kernel/checkpoint/netlink.ts: NETLINK_ROUTE's) */
export abstract class NetlinkSocket extends SocketFile {
  readonly family = C.AF_NETLINK;
  readonly type: number;
  readonly protocol: number;
  /** The protocol's number of multicast groups: group n is bit n-1 of the membership mask. */
  protected abstract readonly groupsMax: number;
  readonly net: Net;
  /** The port id: the creating process's pid for its first socket, as Linux autobinds. */
  portId: number;
  #bound = false;
  /** Answers waiting to be read, one datagram each. */
  protected readonly rx: Uint8Array[] = [];
  /** The SOL_NETLINK flag options set (NETLINK_FLAG_OPTIONS' names). */
  readonly #nlFlags = new Set<number>();
  /** Multicast groups joined (bind's nl_groups, NETLINK_ADD_MEMBERSHIP): bit n-1 for group n. */
  #groups = 0n;
  /** A broadcast was dropped for want of room (netlink_overrun): the next recvmsg is ENOBUFS. */
  #overrun = false;
  /** The opener's CAP_NET_ADMIN: changes need it both in the opener and in the sender (netlink_net_capable). */
  protected readonly openerNetAdmin: boolean;

  constructor(net: Net, protocol: number, type: number, flags: number, pid: number, openerNetAdmin = true) {
    super(O_RDWR | (flags & O_NONBLOCK));
    this.net = net;
    this.protocol = protocol;
    this.type = type;
    this.portId = this.#autobind(pid);
    this.openerNetAdmin = openerNetAdmin;
    net.netlinkSockets.add(this);
  }

  /** The port ids of this protocol's sockets in the namespace. */
  get #ports(): Set<number> {
    let s = this.net.netlinkPorts.get(this.protocol);
    if (s === undefined) this.net.netlinkPorts.set(this.protocol, s = new Set());
    return s;
  }

  /**
   * netlink_autobind: the process's pid while no other socket of the protocol has it, else the
   * next free id counting down from -4096, so that two sockets never share a port id.
   */
  #autobind(pid: number): number {
    const ports = this.#ports;
    let id = pid >>> 0;
    if (ports.has(id)) {
      id = 0xfffff000;
      while (ports.has(id)) id = (id - 1) >>> 0;
    }
    ports.add(id);
    return id;
  }

  protected override release(): void {
    this.net.netlinkSockets.delete(this);
    this.#ports.delete(this.portId);
    super.release();
  }

  /** Answers one request message (its length checked, at most the datagram). */
  protected abstract handle(t: Task, msg: Uint8Array): void;

  /** NETLINK_LIST_MEMBERSHIPS' size: the group bits in bytes, rounded up to a u32. */
  get #membershipsLen(): number {
    return Math.ceil(Math.ceil(this.groupsMax / 8) / 4) * 4;
  }

  override readiness(mask: number): number {
    return ((this.rx.length > 0 ? EVENT_IN | EVENT_RDNORM : 0) | (this.#overrun ? EVENT_ERR : 0) | EVENT_OUT | EVENT_WRNORM) & mask;
  }

  bind(_t: Task, addr: Uint8Array): void {
    if (addr.length < SOCKADDR_NL_LEN) throw EINVAL;
    const v = new DataView(addr.buffer, addr.byteOffset, SOCKADDR_NL_LEN);
    if (v.getUint16(0, true) !== C.AF_NETLINK) throw EINVAL;
    const pid = v.getUint32(4, true);
    if (this.#bound && pid !== 0 && pid !== this.portId) throw EINVAL;
    if (pid !== 0 && pid !== this.portId) {
      // Another socket of the protocol holds that port (netlink_insert).
      if (this.#ports.has(pid)) throw EADDRINUSE;
      this.#ports.delete(this.portId);
      this.#ports.add(pid);
      this.portId = pid;
    }
    // nl_groups names groups 1..32; the groups above stay as they are. (No events are sent yet.)
    this.#groups = (this.#groups & ~0xffffffffn) | BigInt(v.getUint32(8, true));
    this.#bound = true;
  }

  connect(_t: Task, addr: Uint8Array): void {
    if (addr.length < SOCKADDR_NL_LEN) throw EINVAL;
    if ((addr[0]! | (addr[1]! << 8)) !== C.AF_NETLINK) throw EINVAL;
    this.#bound = true;
  }

  getsockname(_t: Task): Uint8Array {
    return sockaddrNl(this.portId, Number(this.#groups & 0xffffffffn));
  }

  override getpeername(_t: Task): Uint8Array {
    return sockaddrNl(0);
  }

  /** SO_PASSCRED: each received message carries the sender's SCM_CREDENTIALS. */
  override get sockPasscred(): boolean {
    return true;
  }

  override sockNet(): Net {
    return this.net;
  }

  override familyGetsockopt(_t: Task, level: number, name: number, optlen: number): Uint8Array {
    if (level !== SOL_NETLINK) throw ENOPROTOOPT;
    if (name === NETLINK_LIST_MEMBERSHIPS) {
      // Whole u32s of the mask that fit optlen (netlink_getsockopt); optlen reads back the full size.
      const b = new Uint8Array(Math.floor(Math.min(optlen, this.#membershipsLen) / 4) * 4);
      for (let i = 0; i < b.length; i++) b[i] = Number((this.#groups >> BigInt(8 * i)) & 0xffn);
      return b;
    }
    if (!NETLINK_FLAG_OPTIONS.includes(name)) throw ENOPROTOOPT;
    if (optlen < 4) throw EINVAL;
    return intBytes(this.#nlFlags.has(name) ? 1 : 0, 4);
  }

  /** getsockopt's optlen for options whose size is reported beyond what fits (NETLINK_LIST_MEMBERSHIPS). */
  override getsockoptFullLength(level: number, name: number): number | null {
    return level === SOL_NETLINK && name === NETLINK_LIST_MEMBERSHIPS ? this.#membershipsLen : null;
  }

  override familySetsockopt(_t: Task, level: number, name: number, value: Uint8Array): void {
    if (level !== SOL_NETLINK) throw ENOPROTOOPT;
    // A value shorter than an int reads as 0 (netlink_setsockopt).
    const val = value.length >= 4 ? new DataView(value.buffer, value.byteOffset, 4).getUint32(0, true) : 0;
    if (name === NETLINK_ADD_MEMBERSHIP || name === NETLINK_DROP_MEMBERSHIP) {
      if (val === 0 || val > this.groupsMax) throw EINVAL;
      const bit = 1n << BigInt(val - 1);
      this.#groups = name === NETLINK_ADD_MEMBERSHIP ? this.#groups | bit : this.#groups & ~bit;
      return;
    }
    if (name === NETLINK_LISTEN_ALL_NSID) return;
    if (!NETLINK_FLAG_OPTIONS.includes(name)) throw ENOPROTOOPT;
    if (val !== 0) this.#nlFlags.add(name);
    else this.#nlFlags.delete(name);
  }

  override shutdown(_t: Task, _how: number): void {}

  /** Its state as a checkpoint saves it (kernel/checkpoint/netlink.ts): plain data. */
  snapshot(): NetlinkSnapshot {
    return {
      portId: this.portId, bound: this.#bound, rcvBuf: this.rcvBuf, sndBuf: this.sndBuf, passCred: this.passcred,
      options: sockOptionPairs(this),
      nlFlags: [...this.#nlFlags].sort((a, b) => a - b), groups: this.#groups, overrun: this.#overrun,
      openerNetAdmin: this.openerNetAdmin,
      rx: this.rx.map((data) => ({ data: data.slice(), from: this.#rxFrom.get(data) ?? null })),
    };
  }

  /**
   * Takes a checkpoint's state (on a socket new from the restoring kernel, made with the saved
   * opener's CAP_NET_ADMIN): its port id (false when another socket of the protocol holds it),
   * options, groups and queued datagrams with their senders.
   */
  restoreSnapshot(s: Omit<NetlinkSnapshot, "openerNetAdmin">): boolean {
    if (s.portId !== this.portId) {
      if (this.#ports.has(s.portId)) return false;
      this.#ports.delete(this.portId);
      this.#ports.add(s.portId);
      this.portId = s.portId;
    }
    this.#bound = s.bound;
    this.rcvBuf = s.rcvBuf;
    this.sndBuf = s.sndBuf;
    this.passcred = s.passCred;
    loadSockOptionPairs(this, s.options ?? []);
    this.#nlFlags.clear();
    for (const f of s.nlFlags) if (NETLINK_FLAG_OPTIONS.includes(f)) this.#nlFlags.add(f);
    this.#groups = s.groups & ((1n << BigInt(this.groupsMax)) - 1n);
    this.#overrun = s.overrun;
    this.rx.length = 0;
    for (const m of s.rx) {
      const copy = m.data.slice();
      if (m.from !== null) this.#rxFrom.set(copy, { port: m.from.port, creds: { ...m.from.creds } });
      this.rx.push(copy);
    }
    return true;
  }

  /** The multicast groups joined: bit n-1 for group n. */
  protected get groups(): bigint {
    return this.#groups;
  }

  /** Whether the SOL_NETLINK flag option `name` is on. */
  protected hasFlag(name: number): boolean {
    return this.#nlFlags.has(name);
  }

  /**
   * Whether this sender may change the kernel's state through this socket (netlink_net_capable):
   * CAP_NET_ADMIN over the namespace, in the opener and in the sender.
   */
  protected netCapable(t: Task): boolean {
    return this.openerNetAdmin && t.creds.capableIn(this.net.owner, CAP_NET_ADMIN);
  }

  sendmsg(t: Task, req: SendRequest): number {
    if (req.to !== null) {
      // netlink_sendmsg: a whole sockaddr_nl of AF_NETLINK; naming a port or groups besides the
      // kernel needs CAP_NET_ADMIN (neither NETLINK_ROUTE nor NETLINK_NETFILTER has
      // NL_CFG_F_NONROOT_SEND).
      if (req.to.length < SOCKADDR_NL_LEN || (req.to[0]! | (req.to[1]! << 8)) !== C.AF_NETLINK) throw EINVAL;
      const to = new DataView(req.to.buffer, req.to.byteOffset, SOCKADDR_NL_LEN);
      const dstPid = to.getUint32(4, true), groups = to.getUint32(8, true);
      if ((dstPid !== 0 || groups !== 0) && !t.creds.capableIn(this.net.owner, CAP_NET_ADMIN)) throw EPERM;
      const from = { port: this.portId, creds: { pid: t.tg.tgid, uid: t.creds.uid, gid: t.creds.gid } };
      // To a port: that socket alone gets it (netlink_unicast), not the kernel.
      if (dstPid !== 0) {
        const peer = [...this.net.netlinkSockets].find((s) => s.protocol === this.protocol && s.portId === dstPid);
        if (peer === undefined) throw ECONNREFUSED;
        peer.#deliver(req.data, from);
        return req.data.length;
      }
      // To a group (its lowest bit, as netlink_sendmsg's ffs): every other member gets a copy
      // (netlink_broadcast, never the sender), then the kernel its own.
      if (groups !== 0) {
        const bit = 1n << BigInt(31 - Math.clz32(groups & -groups));
        for (const s of this.net.netlinkSockets) {
          if (s !== this && s.protocol === this.protocol && (s.#groups & bit) !== 0n) s.#deliver(req.data, from);
        }
      }
    }
    this.receiveDatagram(t, req.data);
    if (this.rx.length > 0) this.waitQueue.notify(EVENT_IN | EVENT_RDNORM);
    return req.data.length;
  }

  /** One datagram to the kernel: each whole message in it is answered in turn (netlink_rcv_skb). */
  protected receiveDatagram(t: Task, d: Uint8Array): void {
    let off = 0;
    while (off + NLMSG_HDRLEN <= d.length) {
      const v = new DataView(d.buffer, d.byteOffset + off);
      const len = v.getUint32(0, true);
      if (len < NLMSG_HDRLEN || off + len > d.length) break;
      this.handle(t, d.subarray(off, off + len));
      off += (len + 3) & ~3;
    }
  }

  /**
   * A broadcast did not fit in the receive buffer: unless NETLINK_NO_ENOBUFS is set, the next
   * recvmsg fails with ENOBUFS once, before what is queued (sock_error), and pollers see POLLERR.
   */
  protected overrun(): void {
    if (this.#nlFlags.has(NETLINK_NO_ENOBUFS) || this.#overrun) return;
    this.#overrun = true;
    this.waitQueue.notify(EVENT_ERR);
  }

  /** Where each queued datagram another socket sent came from (a kernel answer has none). */
  readonly #rxFrom = new WeakMap<Uint8Array, { port: number; creds: { pid: number; uid: number; gid: number } }>();

  /**
   * Queues a datagram the kernel sends outside any protocol (mq_notify's SIGEV_THREAD cookie,
   * Linux's netlink_sendskb: no room check, from port 0).
   */
  deliverFromKernel(data: Uint8Array): void {
    this.rx.push(data.slice());
    this.waitQueue.notify(EVENT_IN | EVENT_RDNORM);
  }

  /** Queues a copy of a datagram another socket sent, if it fits (else overrun). */
  #deliver(data: Uint8Array, from: { port: number; creds: { pid: number; uid: number; gid: number } }): void {
    let queued = 0;
    for (const m of this.rx) queued += m.length;
    if (queued >= this.rcvBuf) return this.overrun();
    const copy = data.slice();
    this.#rxFrom.set(copy, from);
    this.rx.push(copy);
    this.waitQueue.notify(EVENT_IN | EVENT_RDNORM);
  }

  recvmsg(_t: Task, req: RecvRequest): RecvResult {
    if (this.#overrun) {
      this.#overrun = false;
      throw ENOBUFS;
    }
    const m = this.rx[0];
    if (m === undefined) throw EAGAIN;
    const sender = this.#rxFrom.get(m);
    if (!(req.flags & C.MSG_PEEK)) this.rx.shift();
    const n = Math.min(req.maxLen, m.length);
    return {
      data: m.subarray(0, n),
      fullLength: m.length,
      // The sender: the kernel (port 0, pid 0, root) unless another socket sent it.
      from: sockaddrNl(sender?.port ?? 0),
      control: this.passcred ? { creds: sender?.creds ?? { pid: 0, uid: 0, gid: 0 } } : {},
      msgFlags: n < m.length ? C.MSG_TRUNC : 0,
    };
  }

  /**
   * An NLMSG_ERROR answer (errno 0: an ack). An error echoes the whole request unless
   * NETLINK_CAP_ACK is on; an ack, or a capped error, echoes its header (netlink_ack).
   */
  protected error(errno: number, msg: Uint8Array, seq: number): Uint8Array {
    const whole = errno !== 0 && !this.#nlFlags.has(NETLINK_CAP_ACK);
    return new MessageBuilder().u32(-errno >>> 0).bytes(whole ? msg : msg.subarray(0, NLMSG_HDRLEN))
      .message(NLMSG_ERROR, whole ? 0 : NLM_F_CAPPED, seq, this.portId);
  }
}
