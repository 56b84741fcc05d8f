/**
 * A NIC of the sandbox's stack bound to a host device through the sentry's AF_PACKET socket on
 * it (platform/ptrace/host_netns.ts took the device from the container's network namespace):
 * each Ethernet frame the device receives becomes one the stack receives, and each frame the
 * stack sends goes out on the device, as gVisor's fdbased endpoint under runsc's default
 * network. The socket is the sentry's; the application sees only the stack's interface.
 *
 * Checksums: a frame that the host made for this device (the bridge's side of a veth: another
 * container or the host itself) may carry a TCP or UDP checksum left to offload (the host
 * fills in only the pseudo-header's sum, CHECKSUM_PARTIAL); the host's kernel never checks
 * them on such a path, and a NIC checked what came from the wire. So the link trusts what the
 * host delivers, as runsc's RX checksum offload does: it fills in every TCP and UDP checksum of
 * an unfragmented IP packet before the stack verifies it.
 *
 * @module
 */

import type { LinkEndpoint, Medium } from "../netstack/mod.ts";
import * as ffi from "../platform/ptrace/_ffi.ts";
import type { IfCounters } from "./net.ts";

/** A GSO packet from the host (TSO over a veth) may be up to 64 KiB beyond its headers. */
const RX_BUFFER = 65536 + 256;

/** @nosave The host side of an interface: re-made from the bundle, never saved (a checkpoint refuses). */
export class PacketLink implements LinkEndpoint {
  readonly medium: Medium = "ethernet";
  /** Largest frame sent: the device's MTU and the Ethernet header. */
  readonly mtu: number;
  readonly counters: IfCounters = { rxBytes: 0, rxPackets: 0, txBytes: 0, txPackets: 0 };
  readonly #fd: number;
  readonly #mac: Uint8Array;
  readonly #rx = new Uint8Array(RX_BUFFER);
  readonly #tx: Uint8Array;
  #cancel = -1;
  #closed = false;

  constructor(fd: number, mtu: number, mac: Uint8Array) {
    this.#fd = fd;
    this.mtu = mtu + 14;
    this.#mac = mac;
    this.#tx = new Uint8Array(this.mtu);
  }

  receive(_now: number): Uint8Array | null {
    if (this.#closed) return null;
    for (;;) {
      const n = ffi.hostRecv(this.#fd, this.#rx, 0);
      if (n <= 0) return null; // EAGAIN: nothing more now
      const f = this.#rx.subarray(0, n);
      // Our own frames, on a host without PACKET_IGNORE_OUTGOING.
      if (n >= 12 && sameMac(f, 6, this.#mac)) continue;
      if (n < 14) continue;
      fillChecksums(f);
      this.counters.rxPackets++;
      this.counters.rxBytes += n;
      return f;
    }
  }

  transmit(_now: number, len: number, fill: (buf: Uint8Array) => void): boolean {
    if (this.#closed || len > this.#tx.length) return false;
    const buf = this.#tx.subarray(0, len);
    fill(buf);
    // A full device queue (EAGAIN, ENOBUFS) drops the frame, as a NIC's full ring does.
    if (ffi.hostSend(this.#fd, buf, 0) === len) {
      this.counters.txPackets++;
      this.counters.txBytes += len;
    }
    return true;
  }

  /** Calls `kick` whenever the device has frames, until close(). */
  start(kick: () => void): void {
    const cancel = ffi.hostEventfd();
    if (cancel < 0) throw new Error(`eventfd: errno ${-cancel}`);
    this.#cancel = cancel;
    void (async () => {
      while (!this.#closed) {
        await ffi.hostPollAsync(this.#fd, ffi.POLLIN, cancel);
        if (this.#closed) break;
        kick();
      }
      ffi.hostClose(cancel);
      ffi.hostClose(this.#fd);
    })();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#cancel >= 0) {
      const one = new Uint8Array(8);
      one[0] = 1;
      ffi.hostWrite(this.#cancel, one);
    } else {
      ffi.hostClose(this.#fd);
    }
  }
}

function sameMac(f: Uint8Array, at: number, mac: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (f[at + i] !== mac[i]) return false;
  return true;
}

/** Fills in the TCP or UDP checksum of an unfragmented IPv4 or IPv6 packet in an Ethernet frame. */
export function fillChecksums(f: Uint8Array): void {
  const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const etherType = v.getUint16(12);
  const ip = 14;
  let proto: number, l4: number, l4len: number, pseudo: number;
  if (etherType === 0x0800) {
    if (f.length < ip + 20) return;
    const ihl = (f[ip]! & 0xf) * 4, total = v.getUint16(ip + 2);
    if ((v.getUint16(ip + 6) & 0x3fff) !== 0) return; // a fragment: the stack reassembles and checks
    proto = f[ip + 9]!;
    l4 = ip + ihl;
    l4len = Math.min(total, f.length - ip) - ihl;
    pseudo = sum16(f, ip + 12, 8) + proto + l4len;
  } else if (etherType === 0x86dd) {
    if (f.length < ip + 40) return;
    proto = f[ip + 6]!; // extension headers: left to the stack's check
    l4 = ip + 40;
    l4len = Math.min(v.getUint16(ip + 4), f.length - l4);
    pseudo = sum16(f, ip + 8, 32) + proto + l4len;
  } else {
    return;
  }
  let at: number;
  if (proto === 6) at = l4 + 16;
  else if (proto === 17) at = l4 + 6;
  else return;
  if (l4len < (proto === 6 ? 20 : 8) || at + 2 > f.length) return;
  // UDP over IPv4 without a checksum says so with 0: leave it.
  if (proto === 17 && etherType === 0x0800 && v.getUint16(at) === 0) return;
  v.setUint16(at, 0);
  let s = pseudo + sum16(f, l4, l4len);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  let c = ~s & 0xffff;
  if (c === 0 && proto === 17) c = 0xffff;
  v.setUint16(at, c);
}

/** The one's-complement sum of len bytes from `at` (an odd last byte padded), unfolded. */
function sum16(f: Uint8Array, at: number, len: number): number {
  let s = 0;
  const end = at + len - 1;
  let i = at;
  for (; i < end; i += 2) s += (f[i]! << 8) | f[i + 1]!;
  if (i === end) s += f[i]! << 8;
  return s;
}
