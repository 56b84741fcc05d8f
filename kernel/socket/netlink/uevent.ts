/**
 * AF_NETLINK / NETLINK_KOBJECT_UEVENT sockets: where udev-like programs hear device events. The
 * sandbox has no devices that come and go, so the kernel sends none; a message a program sends
 * is rebroadcast to the namespace's sockets in group 1, as Linux's uevent_net_rcv does (it needs
 * CAP_SYS_ADMIN over the namespace; the payload after the nlmsghdr, with "SEQNUM=n" appended, at
 * most UEVENT_BUFFER_SIZE bytes), each socket's filter run on it.
 *
 * @module
 */

import { EINVAL, EPERM } from "../../errno.ts";
import { CAP_SYS_ADMIN } from "../../../abi/linux/capability.ts";
import type { Net } from "../../net.ts";
import type { Task } from "../../task.ts";
import { EVENT_IN, EVENT_RDNORM } from "../../../waiter/mod.ts";
import { NLM_F_ACK, NLM_F_REQUEST, NLMSG_HDRLEN, NLMSG_MIN_TYPE, sockaddrNl } from "./message.ts";
import type { RecvRequest, RecvResult } from "../socket.ts";
import { NetlinkSocket } from "./socket.ts";

export const NETLINK_KOBJECT_UEVENT = 15;
/** UEVENT_BUFFER_SIZE: the largest uevent, its SEQNUM= included. */
const UEVENT_BUFFER_SIZE = 2048;

/** @savable */
export class NetlinkUeventSocket extends NetlinkSocket {
  /** One group: the uevents (netlink_kernel_create's cfg.groups = 1). */
  protected readonly groupsMax = 1;
  /** The queued messages that are uevents (not acks). */
  readonly #broadcast = new WeakSet<Uint8Array>();

  constructor(net: Net, type: number, flags: number, pid: number, openerNetAdmin = true) {
    super(net, NETLINK_KOBJECT_UEVENT, type, flags, pid, openerNetAdmin);
    net.ueventSockets.add(this);
  }

  protected override release(): void {
    this.net.ueventSockets.delete(this);
    super.release();
  }

  /** netlink_rcv_skb with uevent_net_rcv_skb: requests are rebroadcast; an error or NLM_F_ACK is answered. */
  protected handle(t: Task, msg: Uint8Array): void {
    const v = new DataView(msg.buffer, msg.byteOffset, msg.length);
    const flags = v.getUint16(6, true), type = v.getUint16(4, true), seq = v.getUint32(8, true);
    let err = 0;
    if ((flags & NLM_F_REQUEST) && type >= NLMSG_MIN_TYPE) err = this.#rebroadcast(t, msg);
    if (err !== 0 || (flags & NLM_F_ACK)) this.rx.push(this.error(err, msg, seq));
  }

  /** uevent_net_broadcast: the payload with its sequence number, to every member of group 1 (ENOBUFS ignored). */
  #rebroadcast(t: Task, msg: Uint8Array): number {
    if (!t.creds.capableIn(this.net.owner, CAP_SYS_ADMIN)) return EPERM.errno;
    const seqnum = new TextEncoder().encode(`SEQNUM=${++this.net.ueventSeqnum}\0`);
    if (msg.length + seqnum.length > UEVENT_BUFFER_SIZE) return EINVAL.errno;
    const payload = new Uint8Array(msg.length - NLMSG_HDRLEN + seqnum.length);
    payload.set(msg.subarray(NLMSG_HDRLEN));
    payload.set(seqnum, msg.length - NLMSG_HDRLEN);
    for (const s of this.net.ueventSockets) s.uevent(payload);
    return 0;
  }

  /** A uevent broadcast in the namespace: queued if this socket is in group 1 and its filter lets it through. */
  uevent(payload: Uint8Array): void {
    if ((this.groups & 1n) === 0n) return;
    let data = payload;
    const f = this.sockFilter;
    if (f !== null) {
      const keep = f.run({ data, network: null, link: null, protocol: 0, pktType: 0, ifindex: 0, hatype: 0 });
      if (keep === 0) return;
      data = data.subarray(0, Math.min(keep, data.length));
    }
    const m = data.slice();
    this.#broadcast.add(m);
    this.rx.push(m);
    this.waitQueue.notify(EVENT_IN | EVENT_RDNORM);
  }

  /** A uevent comes from the kernel's port 0 to group 1 (msg_name's nl_groups), an ack to no group. */
  override recvmsg(t: Task, req: RecvRequest): RecvResult {
    const m = this.rx[0];
    const r = super.recvmsg(t, req);
    return m !== undefined && this.#broadcast.has(m) ? { ...r, from: sockaddrNl(0, 1) } : r;
  }
}
