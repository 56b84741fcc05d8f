/**
 * PACKET_RX_RING for TPACKET_V3 (packet_mmap(7), Linux's af_packet.c prb_* functions): the ring
 * is blocks, each a tpacket_block_desc (status, packet count, first packet's offset, length,
 * sequence number, first and last timestamps), an optional private area, then packets of any
 * length one after another, each a tpacket3_hdr whose tp_next_offset leads to the next. The
 * kernel fills the current block; a packet that does not fit closes it (TP_STATUS_USER) and
 * opens the next, which must have been given back (TP_STATUS_KERNEL), else the queue freezes and
 * packets are dropped until the program releases that block. A block with packets is also
 * closed by the retire timer (tp_retire_blk_tov ms, TP_STATUS_BLK_TMO) when no block was
 * switched to since the timer last looked. Readers are woken as a block closes, not per packet.
 *
 * @module
 */

import { MemFd } from "../../../vfs/memfd.ts";
import type { DeadlineTarget } from "../../timers.ts";
import { monotonicNs, realtimeNs } from "../../time.ts";
import type { RingFrame } from "./rx_ring.ts";

const TPACKET_V3 = 2;
const V3_ALIGNMENT = 8;
/** ALIGN(n, 8), for values past 2^31 too (tp_sizeof_priv is a u32). */
const align8 = (n: number) => Math.ceil(n / V3_ALIGNMENT) * V3_ALIGNMENT;
const align16 = (n: number) => (n + 15) & ~15;
/** BLK_HDR_LEN: sizeof(struct tpacket_block_desc), aligned. */
const BLK_HDR_LEN = 48;
/** BLK_PLUS_PRIV: where a block's first packet goes. */
export const blkPlusPriv = (priv: number) => BLK_HDR_LEN + align8(priv);
/** sizeof(struct tpacket3_hdr); TPACKET3_HDRLEN adds the sockaddr_ll. */
const HDR3_SIZE = 48;
const TPACKET3_HDRLEN = align16(HDR3_SIZE) + 20;
const TP_STATUS_KERNEL = 0, TP_STATUS_USER = 1, TP_STATUS_LOSING = 4, TP_STATUS_BLK_TMO = 1 << 5;
/** DEFAULT_PRB_RETIRE_TOV: lo reports no link speed to compute one from. */
const DEFAULT_RETIRE_TOV_MS = 8;

/** struct tpacket_req3 as PACKET_RX_RING takes it. */
export interface BlockRingRequest {
  blockSize: number;
  blockNr: number;
  frameSize: number;
  frameNr: number;
  retireBlkTov: number;
  sizeofPriv: number;
  featureReqWord: number;
}

export class BlockRing implements DeadlineTarget {
  readonly file: MemFd;
  /** kactive_blk_num, and what the retire timer saw last (last_kactive_blk_num). */
  #active = 0;
  #lastActive = 0;
  /** knxt_seq_num: the next block's sequence number. */
  #nextSeq = 1;
  /** nxt_offset and prev: where the next packet goes, and the last one's offset (in the block). */
  #next = 0;
  #prev = 0;
  #packetsInBlock = 0;
  #blockLen = 0;
  /** reset_pending_on_curr_blk: the queue is frozen until the current block is given back. */
  #frozen = false;
  readonly #tovNs: number;
  readonly #maxFrameLen: number;
  /** The retire timer (the scheduler calls expire): armed while the current block holds packets or the queue is frozen. */
  deadlineNs: number | null = null;
  /** tp_freeze_q_cnt since PACKET_STATISTICS last read it. */
  freezes = 0;
  /** Blocks closed so far: readers' edge (sk_data_ready runs as a block closes). */
  closed = 0;

  private constructor(
    readonly req: BlockRingRequest,
    readonly reserve: number,
    /** Told when a block closes (the socket wakes its readers) and whether drops are unread (TP_STATUS_LOSING). */
    readonly hooks: { dataReady(): void; losing(): boolean; arm(r: BlockRing): void; disarm(r: BlockRing): void },
  ) {
    this.file = MemFd.create(0);
    this.file.name = "packet_mmap";
    this.file.truncate(req.blockSize * req.blockNr);
    this.#tovNs = (req.retireBlkTov !== 0 ? req.retireBlkTov : DEFAULT_RETIRE_TOV_MS) * 1_000_000;
    this.#maxFrameLen = req.blockSize - blkPlusPriv(req.sizeofPriv);
    this.#open(0);
  }

  /** packet_set_ring's checks of a V3 request with blocks (the caller handles tp_block_nr 0). */
  static create(req: BlockRingRequest, reserve: number, hooks: BlockRing["hooks"]): BlockRing {
    return new BlockRing(req, reserve, hooks);
  }

  /** The V3 part of packet_set_ring's checks, after the block size's: the private area and a frame fit. */
  static check(req: BlockRingRequest, reserve: number): boolean {
    return req.blockSize >= blkPlusPriv(req.sizeofPriv) + TPACKET3_HDRLEN + reserve;
  }

  get size(): number {
    return this.req.blockSize * this.req.blockNr;
  }

  #u32(at: number): number {
    const b = new Uint8Array(4);
    this.file.read(b, at);
    return new DataView(b.buffer).getUint32(0, true);
  }

  #put32(at: number, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.file.write(b, at);
  }

  #base(block: number): number {
    return block * this.req.blockSize;
  }

  /** prb_open_block: a fresh header on block i (its private area kept), the queue thawed. */
  #open(i: number): void {
    const first = blkPlusPriv(this.req.sizeofPriv);
    const h = new Uint8Array(40);
    const v = new DataView(h.buffer);
    const now = realNow();
    v.setUint32(0, TPACKET_V3, true); // version
    v.setUint32(4, BLK_HDR_LEN, true); // offset_to_priv
    // bh1: block_status (left as it is: KERNEL), num_pkts, offset_to_first_pkt, blk_len, seq_num, ts_first_pkt.
    v.setUint32(12, 0, true);
    v.setUint32(16, first, true);
    v.setUint32(20, first, true);
    v.setBigUint64(24, BigInt(this.#nextSeq++), true);
    v.setUint32(32, Number(now / 1_000_000_000n), true);
    v.setUint32(36, Number(now % 1_000_000_000n), true);
    this.file.write(h.subarray(0, 8), this.#base(i));
    this.file.write(h.subarray(12, 40), this.#base(i) + 12);
    this.#active = i;
    this.#next = first;
    this.#prev = first;
    this.#packetsInBlock = 0;
    this.#blockLen = first;
    this.#frozen = false;
    this.#refreshTimer();
  }

  /** _prb_refresh_rx_retire_blk_timer: (re)armed, remembering the block it saw. */
  #refreshTimer(): void {
    this.#lastActive = this.#active;
    this.deadlineNs = monotonicNs() + this.#tovNs;
    this.hooks.arm(this);
  }

  /** prb_close_block: the last packet ends the chain, the block's last timestamp and status. */
  #close(extra: number): void {
    const base = this.#base(this.#active);
    let status = TP_STATUS_USER | extra;
    if (this.hooks.losing()) status |= TP_STATUS_LOSING;
    if (this.#packetsInBlock > 0) {
      this.#put32(base + this.#prev, 0); // tp_next_offset
      this.#put32(base + 40, this.#u32(base + this.#prev + 4));
      this.#put32(base + 44, this.#u32(base + this.#prev + 8));
    } else {
      const now = realNow();
      this.#put32(base + 40, Number(now / 1_000_000_000n));
      this.#put32(base + 44, Number(now % 1_000_000_000n));
    }
    this.#put32(base + 12, this.#packetsInBlock);
    this.#put32(base + 20, this.#blockLen);
    this.#put32(base + 8, status); // the block is the program's
    this.#active = (this.#active + 1) % this.req.blockNr;
    this.closed++;
    this.hooks.dataReady();
  }

  #inUse(i: number): boolean {
    return (this.#u32(this.#base(i) + 8) & TP_STATUS_USER) !== 0;
  }

  /** prb_dispatch_next_block: open the (new) current block, or freeze while the program holds it. */
  #dispatch(): boolean {
    if (this.#inUse(this.#active)) {
      this.#frozen = true;
      this.freezes++;
      return false;
    }
    this.#open(this.#active);
    return true;
  }

  /** packet_poll: readable while the block before the current one is not the kernel's. */
  get readable(): boolean {
    const prev = this.#active === 0 ? this.req.blockNr - 1 : this.#active - 1;
    return this.#u32(this.#base(prev) + 8) !== TP_STATUS_KERNEL;
  }

  /** tpacket_rcv for V3: false when the frame is dropped (no room: frozen, or netoff too far). */
  put(f: RingFrame, sockDgram: boolean, _losing: boolean, nowNs: bigint): boolean {
    let netoff: number, macoff: number;
    if (sockDgram) {
      macoff = netoff = align16(TPACKET3_HDRLEN) + 16 + this.reserve;
    } else {
      netoff = align16(TPACKET3_HDRLEN + Math.max(16, f.macLen)) + this.reserve + (f.vnetHdrSz ?? 0);
      macoff = netoff - f.macLen;
    }
    if (netoff > 0xffff) return false;
    let snaplen = f.data.length;
    let vnet = (f.vnetHdrSz ?? 0) > 0;
    if (macoff + snaplen > this.#maxFrameLen) {
      snaplen = this.#maxFrameLen - macoff;
      if (snaplen < 0) {
        snaplen = 0;
        macoff = this.#maxFrameLen;
        vnet = false;
      }
    }
    const len = macoff + snaplen;
    // __packet_lookup_frame_in_block: a frozen queue waits for its block to be given back.
    if (this.#frozen) {
      if (this.#inUse(this.#active)) return false;
      this.#open(this.#active);
    }
    if (this.#next + align8(len) >= this.req.blockSize) {
      if (this.#u32(this.#base(this.#active) + 8) === TP_STATUS_KERNEL) this.#close(0);
      if (!this.#dispatch()) return false;
    }
    // The first packet of a block wakes a sleeping retire timer.
    if (this.#packetsInBlock === 0 && this.deadlineNs === null) this.#refreshTimer();
    const at = this.#base(this.#active) + this.#next;
    this.#prev = this.#next;
    this.#next += align8(len);
    this.#blockLen += align8(len);
    this.#packetsInBlock++;
    const h = new Uint8Array(HDR3_SIZE);
    const v = new DataView(h.buffer);
    v.setUint32(0, align8(len), true); // tp_next_offset (0 for the last, set as the block closes)
    v.setUint32(4, Number(nowNs / 1_000_000_000n), true);
    v.setUint32(8, Number(nowNs % 1_000_000_000n), true);
    v.setUint32(12, snaplen, true);
    v.setUint32(16, f.len, true);
    v.setUint32(20, TP_STATUS_USER, true); // TP_STATUS_AVAILABLE | the frame's status
    v.setUint16(24, macoff, true);
    v.setUint16(26, netoff, true);
    // hv1: no flow hash computed (TP_FT_REQ_FILL_RXHASH gives 0), no VLAN.
    this.file.write(h, at);
    this.file.write(f.sll, at + align16(HDR3_SIZE));
    this.file.write(f.data.subarray(0, snaplen), at + macoff);
    // virtio_net_hdr_from_skb: a whole frame, checksum done, no GSO: all zero.
    if (vnet) this.file.write(new Uint8Array(10), at + macoff - 10);
    // The block's count and length stay current for a program reading an open block.
    const base = this.#base(this.#active);
    this.#put32(base + 12, this.#packetsInBlock);
    this.#put32(base + 20, this.#blockLen);
    return true;
  }

  /** prb_retire_rx_blk_timer_expired. */
  expire(_nowNs: number): void {
    this.deadlineNs = null;
    if (this.#lastActive !== this.#active) return this.#refreshTimer();
    if (!this.#frozen) {
      // An empty block: nothing to retire; the timer sleeps until a packet arrives.
      if (this.#packetsInBlock === 0) return;
      this.#close(TP_STATUS_BLK_TMO);
      if (!this.#dispatch()) this.#refreshTimer();
      return;
    }
    if (this.#inUse(this.#active)) return this.#refreshTimer();
    this.#open(this.#active);
  }

  close(): void {
    this.deadlineNs = null;
    this.hooks.disarm(this);
    this.file.decRef();
  }
}

function realNow(): bigint {
  return BigInt(realtimeNs());
}
