/**
 * PACKET_RX_RING for TPACKET_V1 and TPACKET_V2 (packet_mmap(7); V3's block ring is
 * block_ring.ts, made here after the same checks): frames go into a ring the
 * program maps (a MemFd the socket's mmap hands out, as aio's ring), each slot a tpacket_hdr or
 * tpacket2_hdr, the sockaddr_ll after it and the frame at tp_mac/tp_net, its tp_status set to
 * TP_STATUS_USER last; a slot the program has not given back (TP_STATUS_KERNEL) stops the ring
 * and the frame is dropped and counted, as Linux's tpacket_rcv. The checks of a request are
 * packet_set_ring's.
 *
 * @module
 */

import { EBUSY, EINVAL, ENOMEM } from "../../errno.ts";
import { MemFd } from "../../../vfs/memfd.ts";
import { BlockRing, type BlockRingRequest } from "./block_ring.ts";

export const TPACKET_V1 = 0, TPACKET_V2 = 1, TPACKET_V3 = 2;
/** TPACKET_ALIGNMENT and TPACKET_ALIGN. */
const TPACKET_ALIGNMENT = 16;
const align = (n: number) => (n + TPACKET_ALIGNMENT - 1) & ~(TPACKET_ALIGNMENT - 1);
/** sizeof(struct tpacket_hdr), tpacket2_hdr, tpacket3_hdr (x86-64) and sockaddr_ll. */
const HDR_SIZE = [32, 32, 48];
const SOCKADDR_LL_LEN = 20;
/** TPACKET_HDRLEN, TPACKET2_HDRLEN, TPACKET3_HDRLEN: a header, aligned, and the sockaddr_ll. */
export const TPACKET_HDRLEN = HDR_SIZE.map((h) => align(h) + SOCKADDR_LL_LEN);
const TP_STATUS_KERNEL = 0, TP_STATUS_USER = 1, TP_STATUS_LOSING = 4;
const PAGE_SIZE = 4096;
/** The most a ring may hold here (Linux allocates it from kernel pages; more is ENOMEM). */
const MAX_RING = 1 << 30;

/** struct tpacket_req as PACKET_RX_RING takes it. */
export interface RingRequest {
  blockSize: number;
  blockNr: number;
  frameSize: number;
  frameNr: number;
}

/** What a frame written into the ring describes. */
export interface RingFrame {
  /** The frame as the socket reads it (link header first on SOCK_RAW), cut to the snap length. */
  data: Uint8Array;
  /** Its length before the cut (skb->len). */
  len: number;
  /** The link header's length in data (0 on SOCK_DGRAM). */
  macLen: number;
  /** The sockaddr_ll that follows the header. */
  sll: Uint8Array;
  /** PACKET_VNET_HDR's size on SOCK_RAW: that much more room before the frame, a zero virtio_net_hdr there. */
  vnetHdrSz?: number;
}

export class RxRing {
  readonly file: MemFd;
  /** The next slot the kernel fills (rx_ring.head). */
  #head = 0;
  readonly #framesPerBlock: number;

  private constructor(readonly req: RingRequest, readonly version: number, readonly reserve: number) {
    this.#framesPerBlock = req.blockSize / req.frameSize;
    this.file = MemFd.create(0);
    this.file.name = "packet_mmap";
    this.file.truncate(req.blockSize * req.blockNr);
  }

  /**
   * packet_set_ring's checks of a request with blocks (null: a request without any, which only
   * clears the ring and must then name no frames either).
   */
  static create(
    req: RingRequest, version: number, reserve: number, hasRing: boolean, hooks?: BlockRing["hooks"],
  ): RxRing | BlockRing | null {
    if (req.blockNr === 0) {
      if (req.frameNr !== 0) throw EINVAL;
      return null;
    }
    if (hasRing) throw EBUSY;
    if ((req.blockSize | 0) <= 0 || req.blockSize % PAGE_SIZE !== 0) throw EINVAL;
    if (version === TPACKET_V3 && !BlockRing.check(req as BlockRingRequest, reserve)) throw EINVAL;
    if (req.frameSize < TPACKET_HDRLEN[version]! + reserve) throw EINVAL;
    if (req.frameSize % TPACKET_ALIGNMENT !== 0) throw EINVAL;
    const perBlock = Math.floor(req.blockSize / req.frameSize);
    if (perBlock === 0) throw EINVAL;
    if (perBlock > Math.floor(0xffffffff / req.blockNr)) throw EINVAL;
    if (perBlock * req.blockNr !== req.frameNr) throw EINVAL;
    if (req.blockSize * req.blockNr > MAX_RING) throw ENOMEM;
    if (version === TPACKET_V3) return BlockRing.create(req as BlockRingRequest, reserve, hooks!);
    return new RxRing(req, version, reserve);
  }

  get size(): number {
    return this.req.blockSize * this.req.blockNr;
  }

  #slot(i: number): number {
    return Math.floor(i / this.#framesPerBlock) * this.req.blockSize + (i % this.#framesPerBlock) * this.req.frameSize;
  }

  #status(at: number): number {
    const b = new Uint8Array(4);
    this.file.read(b, at);
    return new DataView(b.buffer).getUint32(0, true);
  }

  /** packet_poll: readable while the slot before head is the program's. */
  get readable(): boolean {
    const prev = this.#head === 0 ? this.req.frameNr - 1 : this.#head - 1;
    return this.#status(this.#slot(prev)) !== TP_STATUS_KERNEL;
  }

  /**
   * tpacket_rcv for V1/V2: false when the head slot is still the program's (the frame is
   * dropped). `losing`: drops not yet read by PACKET_STATISTICS (TP_STATUS_LOSING).
   */
  put(f: RingFrame, sockDgram: boolean, losing: boolean, nowNs: bigint): boolean {
    const hdrLen = TPACKET_HDRLEN[this.version]!;
    const netoff = sockDgram ? align(hdrLen) + 16 + this.reserve : align(hdrLen + Math.max(16, f.macLen)) + this.reserve + (f.vnetHdrSz ?? 0);
    const macoff = netoff - f.macLen;
    if (netoff > 0xffff) return false;
    let snaplen = f.data.length;
    if (macoff + snaplen > this.req.frameSize) snaplen = Math.max(0, this.req.frameSize - macoff);
    const at = this.#slot(this.#head);
    if (this.#status(at) !== TP_STATUS_KERNEL) return false;
    this.#head = (this.#head + 1) % this.req.frameNr;
    this.file.write(f.data.subarray(0, snaplen), at + macoff);
    // virtio_net_hdr_from_skb: a whole frame, checksum done, no GSO: all zero.
    if (f.vnetHdrSz && this.req.frameSize - macoff >= 0) this.file.write(new Uint8Array(10), at + macoff - 10);
    const sec = nowNs / 1_000_000_000n, ns = Number(nowNs % 1_000_000_000n);
    const h = new Uint8Array(HDR_SIZE[this.version]!);
    const v = new DataView(h.buffer);
    if (this.version === TPACKET_V1) {
      // tpacket_hdr: tp_status (unsigned long), tp_len, tp_snaplen, tp_mac, tp_net, tp_sec, tp_usec.
      v.setUint32(8, f.len, true);
      v.setUint32(12, snaplen, true);
      v.setUint16(16, macoff, true);
      v.setUint16(18, netoff, true);
      v.setUint32(20, Number(sec), true);
      v.setUint32(24, Math.floor(ns / 1000), true);
    } else {
      // tpacket2_hdr: tp_status, tp_len, tp_snaplen, tp_mac, tp_net, tp_sec, tp_nsec, no VLAN.
      v.setUint32(4, f.len, true);
      v.setUint32(8, snaplen, true);
      v.setUint16(12, macoff, true);
      v.setUint16(14, netoff, true);
      v.setUint32(16, Number(sec), true);
      v.setUint32(20, ns, true);
    }
    // The header without its status, the address, then the status (the slot is the program's).
    this.file.write(h.subarray(4), at + 4);
    this.file.write(f.sll, at + align(HDR_SIZE[this.version]!));
    const st = new Uint8Array(4);
    new DataView(st.buffer).setUint32(0, TP_STATUS_USER | (losing ? TP_STATUS_LOSING : 0), true);
    this.file.write(st, at);
    return true;
  }

  close(): void {
    this.file.decRef();
  }
}
