/**
 * AF_NETLINK / NETLINK_NETFILTER sockets: nfnetlink (linux/netfilter/nfnetlink.h) carrying the
 * nf_tables subsystem (NFNL_SUBSYS_NFTABLES) of the socket's network namespace. Every message
 * needs CAP_NET_ADMIN (nfnetlink_rcv: the datagram's first message is answered EPERM). Changes
 * come in batches (NFNL_MSG_BATCH_BEGIN ... NFNL_MSG_BATCH_END, to the end of the datagram):
 * each message's error, or ack when asked, is sent once the batch is done; the batch's changes
 * are committed only when it ended and every message succeeded (nfnetlink_rcv_batch, with
 * Linux 6.10's acks of the begin and end messages). GETs come alone, answered at once, dumps
 * ending with NLMSG_DONE. kernel/nftables holds the ruleset and its messages.
 *
 * Wire format: message.ts; after the nlmsghdr each message has a 4-byte nfgenmsg (family,
 * version, res_id big-endian), then attributes with big-endian values.
 *
 * @module
 */

import type { Net } from "../../net.ts";
import type { Task } from "../../task.ts";
import { CAP_NET_ADMIN } from "../../../abi/linux/capability.ts";
import { EINVAL, EOPNOTSUPP, EPERM, ERANGE, ERESTART } from "../../errno.ts";
import { answerGet, commitCheck, isGet, isKnown, NFNL_SUBSYS_NFTABLES, NftBatch, type NftRecord, type NftRequest } from "../../nftables/api.ts";
import { parseRaw } from "../../nftables/attrs.ts";
import { concat, MessageBuilder, NLM_F_ACK, NLM_F_DUMP, NLM_F_MULTI, NLM_F_REQUEST, NLMSG_DONE, NLMSG_HDRLEN, NLMSG_MIN_TYPE } from "./message.ts";
import { NetlinkSocket } from "./socket.ts";

export const NETLINK_NETFILTER = 12;

const NFGENMSG_LEN = 4;
const NFNL_MSG_BATCH_BEGIN = NLMSG_MIN_TYPE;
const NFNL_MSG_BATCH_END = NLMSG_MIN_TYPE + 1;
/** NFNL_SUBSYS_COUNT: subsystem ids past it are EINVAL, the others but nf_tables EOPNOTSUPP. */
const NFNL_SUBSYS_COUNT = 12;
/** The batch begin's NFNL_BATCH_GENID: the batch applies only to that generation (ERESTART). */
const NFNL_BATCH_GENID = 1;

interface Header {
  len: number;
  type: number;
  flags: number;
  seq: number;
}

function header(m: Uint8Array): Header {
  const v = new DataView(m.buffer, m.byteOffset, NLMSG_HDRLEN);
  return { len: v.getUint32(0, true), type: v.getUint16(4, true), flags: v.getUint16(6, true), seq: v.getUint32(8, true) };
}

/** @savable */
export class NetlinkNetfilterSocket extends NetlinkSocket {
  /** NFNLGRP_MAX: conntrack events, nftables, accounting, trace. */
  protected readonly groupsMax = 9;

  constructor(net: Net, type: number, flags: number, pid: number, openerNetAdmin = true) {
    super(net, NETLINK_NETFILTER, type, flags, pid, openerNetAdmin);
  }

  /** The datagram's messages one by one, all but a batch, which runs to its end (nfnetlink_rcv). */
  protected override receiveDatagram(t: Task, d: Uint8Array): void {
    if (d.length < NLMSG_HDRLEN) return;
    const first = header(d);
    if (first.len < NLMSG_HDRLEN || first.len > d.length) return;
    if (!this.netCapable(t)) {
      this.rx.push(this.error(EPERM.errno, d.subarray(0, first.len), first.seq));
      return;
    }
    if (first.type === NFNL_MSG_BATCH_BEGIN) {
      this.#batch(t, d);
      return;
    }
    super.receiveDatagram(t, d);
  }

  /** One message outside a batch (netlink_rcv_skb with nfnetlink_rcv_msg). */
  protected handle(t: Task, msg: Uint8Array): void {
    const h = header(msg);
    let err = 0;
    if ((h.flags & NLM_F_REQUEST) && h.type >= NLMSG_MIN_TYPE) {
      if (msg.length < NLMSG_HDRLEN + NFGENMSG_LEN) return; // every message carries an nfgenmsg; silently dropped
      err = this.#single(t, msg, h);
      if (err < 0) return; // a dump: no ack
    }
    if (h.flags & NLM_F_ACK || err) this.rx.push(this.error(err, msg, h.seq));
  }

  /** A GET outside a batch: 0 or an errno after its answer is queued; -1 for a dump. */
  #single(t: Task, msg: Uint8Array, h: Header): number {
    if (h.type >> 8 !== NFNL_SUBSYS_NFTABLES) return EINVAL.errno;
    const q = this.#request(t, msg, h);
    if (!isKnown(q.msg) || !isGet(q.msg)) return EINVAL.errno;
    const dump = (h.flags & NLM_F_DUMP) !== 0;
    const nft = this.net.nftables;
    const records = answerGet(nft.ruleset, q, dump, nft.genId, { pid: t.tg.tgid, name: t.name });
    if (typeof records === "number") return records;
    const msgs = records.map((r) => this.#record(r, dump ? NLM_F_MULTI : 0, h.seq, nft.genId));
    if (!dump) {
      // Each its own datagram (a GET of set elements answers one per element).
      this.rx.push(...msgs);
      return 0;
    }
    // The records in one datagram, then NLMSG_DONE in the next, as netlink_dump sends them.
    if (msgs.length > 0) this.rx.push(concat(msgs));
    this.rx.push(new MessageBuilder().u32(0).message(NLMSG_DONE, NLM_F_MULTI, h.seq, this.portId));
    return -1;
  }

  #request(t: Task, msg: Uint8Array, h: Header): NftRequest {
    return {
      initNetAdmin: t.creds.hasCap(CAP_NET_ADMIN),
      msg: h.type & 0xff,
      flags: h.flags,
      seq: h.seq,
      family: msg[NLMSG_HDRLEN]!,
      attrs: msg.subarray(NLMSG_HDRLEN + NFGENMSG_LEN),
      portId: this.portId,
      raw: msg,
    };
  }

  #record(r: NftRecord, flags: number, seq: number, genId: number): Uint8Array {
    const type = (NFNL_SUBSYS_NFTABLES << 8) | r.msg;
    return new MessageBuilder().u8(r.family).u8(0).u8((genId >> 8) & 0xff).u8(genId & 0xff).bytes(r.attrs)
      .message(type, flags, seq, this.portId);
  }

  /** A batch: from its begin message to its end or the datagram's (nfnetlink_rcv_batch). */
  #batch(t: Task, d: Uint8Array): void {
    const begin = d.subarray(0, header(d).len);
    const bh = header(begin);
    if (d.length < NLMSG_HDRLEN + NFGENMSG_LEN || begin.length < NLMSG_HDRLEN + NFGENMSG_LEN) return;
    // The subsystem is in res_id, big-endian (or in host order from an old nft).
    const resId = (begin[NLMSG_HDRLEN + 2]! << 8) | begin[NLMSG_HDRLEN + 3]!;
    const subsys = begin[NLMSG_HDRLEN + 2] === NFNL_SUBSYS_NFTABLES && begin[NLMSG_HDRLEN + 3] === 0 ? NFNL_SUBSYS_NFTABLES : resId;
    const nft = this.net.nftables;
    const battrs = parseRaw(begin.subarray(NLMSG_HDRLEN + NFGENMSG_LEN));
    const gen = battrs.get(NFNL_BATCH_GENID);
    if (gen !== undefined && gen.length < 4) {
      this.rx.push(this.error(ERANGE.errno, begin, bh.seq)); // the policy's length check
      return;
    }
    if (subsys >= NFNL_SUBSYS_COUNT) {
      this.rx.push(this.error(EINVAL.errno, begin, bh.seq));
      return;
    }
    if (subsys !== NFNL_SUBSYS_NFTABLES) {
      this.rx.push(this.error(EOPNOTSUPP.errno, begin, bh.seq));
      return;
    }
    if (gen !== undefined && new DataView(gen.buffer, gen.byteOffset, 4).getUint32(0, false) !== nft.genId) {
      this.rx.push(this.error(ERESTART.errno, begin, bh.seq));
      return;
    }
    const answers: Uint8Array[] = [];
    if (bh.flags & NLM_F_ACK) answers.push(this.error(0, begin, bh.seq));
    const batch = new NftBatch(nft.begin());
    let failed = false, done = false;
    let off = (begin.length + 3) & ~3;
    while (off + NLMSG_HDRLEN <= d.length) {
      const h = header(d.subarray(off));
      if (h.len < NLMSG_HDRLEN || off + h.len > d.length || h.len < NLMSG_HDRLEN + NFGENMSG_LEN) {
        failed = true;
        answers.length = 0; // nfnl_err_reset: a malformed message drops the answers
        break;
      }
      const msg = d.subarray(off, off + h.len);
      let err = 0;
      if (!(h.flags & NLM_F_REQUEST)) err = EINVAL.errno;
      else if (h.type === NFNL_MSG_BATCH_BEGIN) {
        failed = true;
        answers.length = 0;
        break;
      } else if (h.type === NFNL_MSG_BATCH_END) {
        done = true;
        if (!failed) {
          // A commit's own error is answered at once, on the message it is about, before the
          // messages' answers.
          const err = commitCheck(batch);
          if (err !== null) {
            failed = true;
            this.rx.push(this.error(err.errno, err.q.raw, err.q.seq));
          } else {
            nft.commit(batch.r);
            if (h.flags & NLM_F_ACK) answers.push(this.error(0, msg, h.seq));
          }
        }
        break;
      } else if (h.type < NLMSG_MIN_TYPE || h.type >> 8 !== NFNL_SUBSYS_NFTABLES) err = EINVAL.errno;
      else {
        const q = this.#request(t, msg, h);
        err = !isKnown(q.msg) || isGet(q.msg) ? EINVAL.errno : batch.apply(q);
      }
      if (h.flags & NLM_F_ACK || err) {
        answers.push(this.error(err, msg, h.seq));
        if (err) failed = true;
      }
      off += (h.len + 3) & ~3;
    }
    if (!done || failed) nft.abort(batch.r);
    this.rx.push(...answers);
  }

  /** A table this socket owns (NFT_TABLE_F_OWNER) goes with it. */
  protected override release(): void {
    this.net.nftables.releaseOwner(this.portId);
    super.release();
  }
}
