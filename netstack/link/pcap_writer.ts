/**
 * A device wrapper that records every frame, in both directions, in classic
 * libpcap format to a sink the caller supplies. Nothing here touches files.
 *
 * ```
 * Global header (24 bytes, little-endian):
 *   magic 0xa1b2c3d4 | version 2.4 | thiszone 0 | sigfigs 0 | snaplen | linktype
 * Record header (16 bytes, little-endian):
 *   ts_sec | ts_usec | incl_len | orig_len
 * ```
 *
 * @module
 */

import type { LinkEndpoint, Medium } from "./endpoint.ts";

/** Where pcap bytes go. `write` must consume or copy the bytes before returning. */
export interface PcapSink {
  write(bytes: Uint8Array): void;
}

/** Global header field offsets. */
const G = { magic: 0, major: 4, minor: 6, thiszone: 8, sigfigs: 12, snaplen: 16, linktype: 20 } as const;
/** Record header field offsets. */
const R = { tsSec: 0, tsUsec: 4, inclLen: 8, origLen: 12 } as const;

const GLOBAL_HEADER_LEN = 24;
const RECORD_HEADER_LEN = 16;
const LINKTYPE_ETHERNET = 1;
const LINKTYPE_RAW = 101;
const SNAPLEN = 65535;

/** The 24-byte pcap file header for `medium`. */
export function pcapGlobalHeader(medium: Medium): Uint8Array {
  const b = new Uint8Array(GLOBAL_HEADER_LEN);
  const v = new DataView(b.buffer);
  v.setUint32(G.magic, 0xa1b2c3d4, true);
  v.setUint16(G.major, 2, true);
  v.setUint16(G.minor, 4, true);
  v.setInt32(G.thiszone, 0, true);
  v.setUint32(G.sigfigs, 0, true);
  v.setUint32(G.snaplen, SNAPLEN, true);
  v.setUint32(G.linktype, medium === "ethernet" ? LINKTYPE_ETHERNET : LINKTYPE_RAW, true);
  return b;
}

/** One record: header plus the frame, timestamped from `now` in milliseconds. */
export function pcapRecord(now: number, frame: Uint8Array): Uint8Array {
  const incl = Math.min(frame.length, SNAPLEN);
  const b = new Uint8Array(RECORD_HEADER_LEN + incl);
  const v = new DataView(b.buffer);
  const sec = Math.floor(now / 1000);
  v.setUint32(R.tsSec, sec, true);
  v.setUint32(R.tsUsec, Math.floor((now - sec * 1000) * 1000), true);
  v.setUint32(R.inclLen, incl, true);
  v.setUint32(R.origLen, frame.length, true);
  b.set(frame.subarray(0, incl), RECORD_HEADER_LEN);
  return b;
}

/** @savable */
export class PcapWriter implements LinkEndpoint {
  /** @nosave */
  readonly #inner: LinkEndpoint;
  /** @nosave */
  readonly #sink: PcapSink;

  /** Writes the global header to `sink` at once. */
  constructor(inner: LinkEndpoint, sink: PcapSink) {
    this.#inner = inner;
    this.#sink = sink;
    sink.write(pcapGlobalHeader(inner.medium));
  }

  get mtu(): number {
    return this.#inner.mtu;
  }
  get medium(): Medium {
    return this.#inner.medium;
  }

  receive(now: number): Uint8Array | null {
    const f = this.#inner.receive(now);
    if (f) this.#sink.write(pcapRecord(now, f));
    return f;
  }

  transmit(now: number, len: number, fill: (buf: Uint8Array) => void): boolean {
    return this.#inner.transmit(now, len, (buf) => {
      fill(buf);
      this.#sink.write(pcapRecord(now, buf));
    });
  }
}
