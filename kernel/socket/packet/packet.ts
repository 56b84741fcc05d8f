/**
 * AF_PACKET sockets (packet(7)), SOCK_RAW and SOCK_DGRAM, over a netstack
 * {@linkcode PacketSocket}: the socket names an Ethernet protocol (network byte order, as
 * socket(2) and sockaddr_ll carry it; ETH_P_ALL for all) and gets a copy of every frame of it
 * the sandbox's loopback carries, SOCK_RAW with the link header (lo's: 14 bytes, zero
 * addresses), SOCK_DGRAM without; sends go out through the interface sockaddr_ll names
 * (only lo reaches anything). Creating one needs CAP_NET_RAW. Registers the family when
 * imported.
 *
 * A checkpoint refuses a sandbox holding one (kernel/checkpoint/inet_sockets.ts).
 *
 * @module
 */

import { type PacketFrame, PacketSocket } from "../../../netstack/mod.ts";
import { EAGAIN, EINVAL, EMSGSIZE, ENODEV, ENOPROTOOPT, ENXIO, EOPNOTSUPP, EPERM, ESOCKTNOSUPPORT } from "../../errno.ts";
import type { Net } from "../../net.ts";
import type { Task } from "../../task.ts";
import { O_NONBLOCK } from "../../../abi/linux/file.ts";
import { CAP_NET_RAW } from "../../../abi/linux/capability.ts";
import { AF_PACKET } from "../../../abi/linux/socket.ts";
import { registerFamily, type RecvRequest, type RecvResult, type SendRequest, type SocketFile } from "../socket.ts";
import * as C from "../inet/constants.ts";
import { InetSocketFile, intBytes, type NetReadiness } from "../inet/inet_socket.ts";
import { RxRing, TPACKET_V1, TPACKET_V3 } from "./rx_ring.ts";
import type { BlockRing } from "./block_ring.ts";
import { EBUSY } from "../../errno.ts";
import type { FileDescription } from "../../../vfs/file_description.ts";
import { realtimeNs } from "../../time.ts";

export const SOCK_PACKET = 10;
export const SOL_PACKET = 263;
export const PACKET_STATISTICS = 6;
const PACKET_RX_RING = 5, PACKET_VERSION = 10, PACKET_RESERVE = 12, PACKET_VNET_HDR = 15, PACKET_VNET_HDR_SZ = 24, PACKET_HDRLEN = 11;
/** sizeof(struct virtio_net_hdr), and with num_buffers (virtio_net_hdr_mrg_rxbuf). */
const VNET_HDR_LEN = 10, VNET_HDR_MRG_LEN = 12;
const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
const VIRTIO_NET_HDR_GSO_NONE = 0, VIRTIO_NET_HDR_GSO_ECN = 0x80;
const PAGE_SIZE = 4096;
const ARPHRD_LOOPBACK = 772;
const ETH_HLEN = 14;
const ETH_ALEN = 6;
/** sizeof(struct sockaddr_ll). */
const SOCKADDR_LL_LEN = 20;
/** offsetof(struct sockaddr_ll, sll_addr). */
const SLL_ADDR_OFF = 12;
const RCV_BUF = 212992;

const ntohs = (v: number) => ((v & 0xff) << 8) | ((v >> 8) & 0xff);

/** @savable (refused: a checkpoint names it and stops) */
export class PacketSocketFile extends InetSocketFile {
  readonly type: number;
  /** As socket(2) got it: network byte order. */
  protocol: number;
  readonly sock: PacketSocket;
  /** PACKET_STATISTICS: the drops and the frames received when it was last read. */
  #statsDrops = 0;
  #lastSig = 0;
  /** PACKET_VERSION (TPACKET_V1..V3) and PACKET_RESERVE. */
  #tpVersion = TPACKET_V1;
  #tpReserve = 0;
  /** PACKET_VNET_HDR(_SZ): the virtio_net_hdr before each frame read or written (0: none). */
  #vnetHdrSz = 0;
  /** PACKET_RX_RING's ring, or null; frames written to it and dropped for want of a slot. */
  #ring: RxRing | BlockRing | null = null;
  #ringPackets = 0;
  #ringDrops = 0;
  #ringDropsRead = 0;

  constructor(n: Net, type: number, flags: number, protocol: number) {
    super(n, AF_PACKET, flags, { snd: RCV_BUF, rcv: RCV_BUF });
    this.type = type;
    this.protocol = protocol;
    this.sock = n.stack.packetSocket(ntohs(protocol));
  }

  protected netReadiness(): NetReadiness {
    const readable = this.sock.queued > 0 || (this.#ring !== null && this.#ring.readable);
    return { readable, writable: this.sock.writable, hup: false, error: false, rdhup: false };
  }

  protected rxSignature(): number {
    // A V3 ring wakes readers as a block closes, not per packet.
    const r = this.#ring;
    return this.sock.rxSignature + (r !== null && !(r instanceof RxRing) ? r.closed : this.#ringPackets);
  }

  /** The ring a MAP_SHARED mmap of the socket maps (packet_mmap): all of it, from offset 0; EINVAL otherwise. */
  override mmapFile(offset: number, len: number): FileDescription {
    const r = this.#ring;
    if (r === null || offset !== 0 || Math.ceil(len / PAGE_SIZE) * PAGE_SIZE !== r.size) throw EINVAL;
    return r.file;
  }

  /** Whether a mapping of the ring exists (Linux's po->mapped): the socket holds one reference itself. */
  get #mapped(): boolean {
    return this.#ring !== null && this.#ring.file.references > 1;
  }

  /** A frame for the ring (tpacket_rcv): as the socket reads it, after the filter's cut. */
  #toRing(f: PacketFrame): void {
    const link = this.type === C.SOCK_RAW && this.#hasLinkHeader(f.ifIndex);
    const whole = link ? withLinkHeader(f) : f.data;
    const sll = sockaddrLl(ntohs(f.protocol), f.ifIndex + 1, this.#hatype(f.ifIndex), f.pktType, ETH_ALEN, SOCKADDR_LL_LEN);
    const ok = this.#ring!.put(
      { data: whole.subarray(0, f.snap ?? whole.length), len: whole.length, macLen: link ? ETH_HLEN : 0, sll, vnetHdrSz: this.#vnetHdrSz },
      this.type === C.SOCK_DGRAM, this.#ringDrops > this.#ringDropsRead, BigInt(realtimeNs()),
    );
    if (ok) this.#ringPackets++;
    else this.#ringDrops++;
  }

  protected inq(): number {
    return this.#frameLength(this.sock.peek());
  }

  protected outq(): number {
    return 0;
  }

  protected closeSocket(): void {
    this.sock.close();
    this.#ring?.close();
    this.#ring = null;
  }

  protected isBound(): boolean {
    return this.sock.ifIndex !== -1;
  }

  protected takeErrno(): number {
    return 0;
  }

  protected override rcvBufChanged(): void {
    this.sock.receiveLimit = this.rcvBuf;
  }

  /** The stack index of a sockaddr_ll's ifindex (1-based), or ENODEV/ENXIO if none. */
  #iface(ifindex: number, err: typeof ENODEV): number {
    if (this.net.linkByIndex(ifindex) === null) throw err;
    return ifindex - 1;
  }

  // --- Addresses. ---

  bind(_t: Task, addr: Uint8Array): void {
    // packet_bind: a whole sockaddr_ll of AF_PACKET; ifindex 0 is any interface, protocol 0
    // keeps the bound one.
    if (addr.length < SOCKADDR_LL_LEN) throw EINVAL;
    const v = new DataView(addr.buffer, addr.byteOffset, addr.length);
    if (v.getUint16(0, true) !== AF_PACKET) throw EINVAL;
    const proto = v.getUint16(2, true);
    const ifindex = v.getInt32(4, true);
    const idx = ifindex === 0 ? -1 : this.#iface(ifindex, ENODEV);
    this.sock.ifIndex = idx;
    if (proto !== 0) {
      this.protocol = proto;
      this.sock.protocol = ntohs(proto);
    }
    this.stackChanged();
  }

  connect(_t: Task, _addr: Uint8Array): void {
    throw EOPNOTSUPP;
  }

  getsockname(_t: Task): Uint8Array {
    // packet_getname: the bound interface (lo: ARPHRD_LOOPBACK, a zero 6-byte address).
    const idx = this.sock.ifIndex;
    if (idx === -1) return sockaddrLl(this.protocol, 0, 0, 0, 0, SLL_ADDR_OFF);
    return sockaddrLl(this.protocol, idx + 1, this.#hatype(idx), 0, ETH_ALEN, SLL_ADDR_OFF + ETH_ALEN);
  }

  override getpeername(_t: Task): Uint8Array {
    throw EOPNOTSUPP;
  }

  override shutdown(_t: Task, _how: number): void {
    throw EOPNOTSUPP;
  }

  #hatype(idx: number): number {
    return idx === 0 ? ARPHRD_LOOPBACK : this.net.stack.interfaces[idx]?.mac ? 1 : 0xfffe;
  }

  // --- Data. ---

  override maxMessageSize(): number {
    return 65535 + ETH_HLEN;
  }

  sendmsg(_t: Task, req: SendRequest): number {
    if (req.flags & C.MSG_OOB) throw EOPNOTSUPP;
    // packet_snd: the interface and protocol from the address, else the bound ones.
    let idx: number;
    let proto: number;
    if (req.to !== null) {
      const to = req.to;
      if (to.length < SLL_ADDR_OFF) throw EINVAL;
      const v = new DataView(to.buffer, to.byteOffset, to.length);
      if (to.length < SLL_ADDR_OFF + to[11]!) throw EINVAL;
      if (v.getUint16(0, true) !== AF_PACKET) throw EINVAL;
      proto = ntohs(v.getUint16(2, true));
      idx = this.#iface(v.getInt32(4, true), ENXIO);
    } else {
      if (this.sock.ifIndex === -1) throw ENXIO;
      idx = this.sock.ifIndex;
      proto = ntohs(this.protocol);
    }
    let d = req.data;
    // packet_snd_vnet_parse and virtio_net_hdr_to_skb: the virtio_net_hdr before the frame.
    let csum: { start: number; offset: number } | null = null;
    if (this.#vnetHdrSz > 0) {
      csum = parseVnetHdr(d, this.#vnetHdrSz);
      d = d.subarray(this.#vnetHdrSz);
    }
    let link: Uint8Array | undefined;
    const iface = this.net.stack.interfaces[idx]!;
    const linkHdr = idx === 0 || iface.mac !== null ? ETH_HLEN : 0;
    if (this.type === C.SOCK_RAW) {
      // The application wrote the link header: at least its length, and its ethertype is the
      // frame's (the address's protocol is not used).
      if (d.length < linkHdr) throw EINVAL;
      if (linkHdr > 0) proto = (d[12]! << 8) | d[13]!;
      if (d.length - linkHdr > iface.ipMtu) throw EMSGSIZE;
      link = linkHdr > 0 ? d.slice(0, linkHdr) : undefined;
      d = d.subarray(linkHdr);
    } else if (d.length > iface.ipMtu) {
      throw EMSGSIZE;
    }
    // VIRTIO_NET_HDR_F_NEEDS_CSUM: lo takes the checksum as offloaded; here it is computed
    // (skb_checksum_help), from csum_start (the frame's, link header included) to the end.
    if (csum !== null) {
      const frame = new Uint8Array((link?.length ?? 0) + d.length);
      if (link) frame.set(link);
      frame.set(d, link?.length ?? 0);
      if (csum.start + csum.offset + 2 > frame.length) throw EINVAL;
      const at = csum.start + csum.offset;
      const sum = inetChecksum(frame.subarray(csum.start), 0);
      frame[at] = sum >> 8;
      frame[at + 1] = sum & 0xff;
      if (link) link = frame.slice(0, link.length);
      d = frame.subarray(link?.length ?? 0);
    }
    if (!this.sock.send({ ifIndex: idx, protocol: proto, data: d, ...(link ? { link } : {}) })) throw EAGAIN;
    this.net.kick();
    return req.data.length;
  }

  /** What a read of the frame returns: SOCK_RAW puts lo's header before the packet. */
  #frameLength(f: PacketFrame | null): number {
    if (f === null) return 0;
    const n = f.data.length + (this.type === C.SOCK_RAW && this.#hasLinkHeader(f.ifIndex) ? ETH_HLEN : 0);
    return Math.min(n, f.snap ?? n);
  }

  /**
   * Runs the socket filter on each frame before it is queued, from the link header on SOCK_RAW,
   * the network header on SOCK_DGRAM (packet_rcv); what it returns caps the frame's length.
   */
  override filterChanged(): void {
    const f = this.sockFilter;
    this.sock.filter = f === null ? null : (fr) => {
      const link = this.#hasLinkHeader(fr.ifIndex) ? withLinkHeader(fr) : null;
      const data = this.type === C.SOCK_RAW && link !== null ? link : fr.data;
      const res = f.run({
        data, network: fr.data, link, protocol: fr.protocol, pktType: fr.pktType, ifindex: fr.ifIndex + 1,
        hatype: this.#hatype(fr.ifIndex),
      });
      return res === 0 ? -1 : Math.min(res, data.length);
    };
  }

  #hasLinkHeader(idx: number): boolean {
    return idx === 0 || (this.net.stack.interfaces[idx]?.mac ?? null) !== null;
  }

  recvmsg(_t: Task, req: RecvRequest): RecvResult {
    if (req.flags & C.MSG_ERRQUEUE) throw EAGAIN;
    if (req.flags & C.MSG_OOB) throw EOPNOTSUPP;
    const peek = (req.flags & C.MSG_PEEK) !== 0;
    const f = peek ? this.sock.peek() : this.sock.take();
    if (f === null) throw EAGAIN;
    if (!peek) this.net.settle(this);
    let data = f.data;
    if (this.type === C.SOCK_RAW && this.#hasLinkHeader(f.ifIndex)) data = withLinkHeader(f);
    if (f.snap !== undefined) data = data.subarray(0, f.snap);
    // packet_rcv_vnet: the header first (the frame is gone even when there is no room for it).
    // The sentry's frames are whole, checksums complete: no flag, no GSO (all zero), as Linux
    // describes a frame with nothing left to do.
    const vnet = this.#vnetHdrSz;
    if (vnet > 0 && req.maxLen < vnet) throw EINVAL;
    const n = Math.min(req.maxLen - vnet, data.length);
    if (vnet > 0) {
      const out = new Uint8Array(vnet + n);
      out.set(data.subarray(0, n), vnet);
      return {
        data: out,
        fullLength: vnet + data.length,
        from: sockaddrLl(ntohs(f.protocol), f.ifIndex + 1, this.#hatype(f.ifIndex), f.pktType, ETH_ALEN, SOCKADDR_LL_LEN),
        control: {},
        msgFlags: n < data.length ? C.MSG_TRUNC : 0,
      };
    }
    return {
      data: data.subarray(0, n),
      fullLength: data.length,
      from: sockaddrLl(ntohs(f.protocol), f.ifIndex + 1, this.#hatype(f.ifIndex), f.pktType, ETH_ALEN, SOCKADDR_LL_LEN),
      control: {},
      msgFlags: n < data.length ? C.MSG_TRUNC : 0,
    };
  }

  // --- Options. ---

  /** SO_PROTOCOL: packet_create keeps the protocol as the socket's own (po->num), sk_protocol stays 0. */
  override get sockProtocol(): number {
    return 0;
  }

  override familyGetsockopt(t: Task, level: number, name: number, optlen: number, optval = 0): Uint8Array {
    if (optlen < 0) throw EINVAL;
    if (level !== SOL_PACKET) throw ENOPROTOOPT;
    if (name === PACKET_HDRLEN) {
      // The header's size for the version the caller names in its buffer (an int).
      if (optlen < 4) throw EINVAL;
      const size = [32, 32, 48][t.copyInU32(optval)];
      if (size === undefined) throw EINVAL;
      return intBytes(size, optlen);
    }
    if (name === PACKET_STATISTICS) {
      // tpacket_stats: frames received (drops included) and dropped since the last read.
      // Frames the ring took or dropped count as the queue's do (tp_packets includes tp_drops).
      const sig = this.sock.rxSignature - this.sock.queued + this.#ringPackets;
      const drops = this.sock.drops + this.#ringDrops;
      const packets = sig - this.#lastSig + (drops - this.#statsDrops);
      // TPACKET_V3's tpacket_stats_v3 adds the queue's freezes (tp_freeze_q_cnt), reset as read.
      const v3 = this.#tpVersion === TPACKET_V3;
      const b = new Uint8Array(v3 ? 12 : 8);
      const v = new DataView(b.buffer);
      v.setUint32(0, packets, true);
      v.setUint32(4, drops - this.#statsDrops, true);
      const r = this.#ring;
      if (v3 && r !== null && !(r instanceof RxRing)) {
        v.setUint32(8, r.freezes, true);
        r.freezes = 0;
      }
      this.#lastSig = sig;
      this.#statsDrops = drops;
      this.#ringDropsRead = this.#ringDrops;
      return b.subarray(0, Math.min(b.length, optlen));
    }
    if (name === PACKET_VERSION) return intBytes(this.#tpVersion, optlen);
    if (name === PACKET_RESERVE) return intBytes(this.#tpReserve, optlen);
    if (name === PACKET_VNET_HDR) return intBytes(this.#vnetHdrSz !== 0 ? 1 : 0, optlen);
    if (name === PACKET_VNET_HDR_SZ) return intBytes(this.#vnetHdrSz, optlen);
    throw ENOPROTOOPT;
  }

  override familySetsockopt(t: Task, level: number, name: number, value: Uint8Array): void {
    if (level !== SOL_PACKET) throw ENOPROTOOPT;
    const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
    switch (name) {
      case PACKET_VERSION: {
        // packet_setsockopt: an int of TPACKET_V1..V3; not while a ring exists.
        if (value.length !== 4) throw EINVAL;
        const n = v.getInt32(0, true);
        if (n < TPACKET_V1 || n > TPACKET_V3) throw EINVAL;
        if (this.#ring !== null) throw EBUSY;
        this.#tpVersion = n;
        return;
      }
      case PACKET_RESERVE: {
        if (value.length !== 4) throw EINVAL;
        const n = v.getUint32(0, true);
        if (n > 0x7fffffff) throw EINVAL;
        if (this.#ring !== null) throw EBUSY;
        this.#tpReserve = n;
        return;
      }
      case PACKET_VNET_HDR:
      case PACKET_VNET_HDR_SZ: {
        // SOCK_RAW only; the size 10 or 12 (or 0); not while a ring exists.
        if (this.type !== C.SOCK_RAW) throw EINVAL;
        if (value.length < 4) throw EINVAL;
        const n = v.getInt32(0, true);
        let size: number;
        if (name === PACKET_VNET_HDR_SZ) {
          if (n !== 0 && n !== VNET_HDR_LEN && n !== VNET_HDR_MRG_LEN) throw EINVAL;
          size = n;
        } else {
          size = n !== 0 ? VNET_HDR_LEN : 0;
        }
        if (this.#ring !== null) throw EBUSY;
        this.#vnetHdrSz = size;
        return;
      }
      case PACKET_RX_RING: {
        // A tpacket_req (V1, V2) or tpacket_req3 (V3, 28 bytes); EBUSY while the ring is mapped.
        if (value.length < (this.#tpVersion === TPACKET_V3 ? 28 : 16)) throw EINVAL;
        if (this.#mapped) throw EBUSY;
        const req = {
          blockSize: v.getUint32(0, true), blockNr: v.getUint32(4, true), frameSize: v.getUint32(8, true), frameNr: v.getUint32(12, true),
          ...(this.#tpVersion === TPACKET_V3
            ? { retireBlkTov: v.getUint32(16, true), sizeofPriv: v.getUint32(20, true), featureReqWord: v.getUint32(24, true) }
            : {}),
        };
        const k = t.kernel;
        const ring = RxRing.create(req, this.#tpVersion, this.#tpReserve, this.#ring !== null, {
          dataReady: () => this.stackChanged(),
          losing: () => this.#ringDrops > this.#ringDropsRead,
          arm: (r) => k.addDeadline(r),
          disarm: (r) => k.removeDeadline(r),
        });
        this.#ring?.close();
        this.#ring = ring;
        this.sock.ring = ring === null ? null : (f) => this.#toRing(f);
        return;
      }
    }
    throw ENOPROTOOPT;
  }
}

/**
 * The frame with its Ethernet header before it: the one a SOCK_RAW sender wrote (lo hands the
 * frame back as it was), else lo's own: zero addresses, then the ethertype.
 */
function withLinkHeader(f: PacketFrame): Uint8Array {
  const data = new Uint8Array(ETH_HLEN + f.data.length);
  if (f.link !== undefined) data.set(f.link.subarray(0, ETH_HLEN));
  else {
    data[12] = f.protocol >> 8;
    data[13] = f.protocol & 0xff;
  }
  data.set(f.data, ETH_HLEN);
  return data;
}

/** A sockaddr_ll, `len` bytes of it (protocol in network order as given). */
function sockaddrLl(protoNet: number, ifindex: number, hatype: number, pktType: number, halen: number, len: number): Uint8Array {
  const b = new Uint8Array(SOCKADDR_LL_LEN);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_PACKET, true);
  v.setUint16(2, protoNet, true);
  v.setInt32(4, ifindex, true);
  v.setUint16(8, hatype, true);
  b[10] = pktType;
  b[11] = halen;
  return b.subarray(0, len);
}

/** packet_create's checks, then the socket. */
export function createPacketSocket(t: Task, type: number, protocol: number, flags: number): SocketFile {
  const kind = type & C.SOCK_TYPE_MASK;
  if (!t.creds.capableIn(t.net.owner, CAP_NET_RAW)) throw EPERM; // over the network namespace
  if (kind !== C.SOCK_RAW && kind !== C.SOCK_DGRAM) throw ESOCKTNOSUPPORT;
  const f = new PacketSocketFile(t.net, kind, flags | (type & O_NONBLOCK), protocol & 0xffff);
  f.uid = t.creds.euid;
  return f;
}

registerFamily(AF_PACKET, createPacketSocket);

/**
 * packet_snd_vnet_parse, __packet_snd_vnet_parse and virtio_net_hdr_to_skb's checks of the
 * virtio_net_hdr at the start of a send (little-endian, as a socket's header is): the checksum
 * request, or null. GSO (one frame for the stack to cut into segments) is not taken here.
 */
function parseVnetHdr(d: Uint8Array, size: number): { start: number; offset: number } | null {
  if (d.length < size) throw EINVAL;
  const v = new DataView(d.buffer, d.byteOffset, VNET_HDR_LEN);
  const flags = v.getUint8(0), gso = v.getUint8(1);
  let hdrLen = v.getUint16(2, true);
  const start = v.getUint16(6, true), offset = v.getUint16(8, true);
  const len = d.length - size;
  if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && start + offset + 2 > hdrLen) hdrLen = start + offset + 2;
  if (hdrLen > len) throw EINVAL;
  if ((gso & ~VIRTIO_NET_HDR_GSO_ECN) !== VIRTIO_NET_HDR_GSO_NONE) {
    if (![1, 3, 4, 5].includes(gso & ~VIRTIO_NET_HDR_GSO_ECN)) throw EINVAL; // TCPV4, UDP, TCPV6, UDP_L4
    throw EOPNOTSUPP;
  }
  return (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) ? { start, offset } : null;
}

/** The Internet checksum of b added to the partial sum already in it (the pseudo-header's), folded and complemented. */
function inetChecksum(b: Uint8Array, initial: number): number {
  let sum = initial;
  for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (b.length % 2) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const r = ~sum & 0xffff;
  return r === 0 ? 0xffff : r;
}
