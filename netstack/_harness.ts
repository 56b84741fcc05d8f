/**
 * Test harness shared by the netstack tests: two stacks joined by a
 * loopback pair (optionally through fault injectors and pcap writers), and a
 * deterministic event loop that advances virtual time to the next deadline.
 *
 * @module
 */

import { EthernetAddress, Ipv4Address, Ipv6Address } from "./wire/address.ts";
import { FaultInjector, type FaultRates } from "./link/fault_injector.ts";
import { loopbackPair } from "./link/loopback.ts";
import type { LinkEndpoint, Medium } from "./link/endpoint.ts";
import { type PcapSink, PcapWriter } from "./link/pcap_writer.ts";
import { Stack, type StackOptions } from "./iface/stack.ts";

export const A4 = Ipv4Address.parse("10.0.0.1");
export const B4 = Ipv4Address.parse("10.0.0.2");
export const A6 = Ipv6Address.parse("fd00::1");
export const B6 = Ipv6Address.parse("fd00::2");

export interface PairOptions {
  medium?: Medium;
  mtu?: number;
  faults?: FaultRates & { seed: number };
  pcap?: PcapSink;
  stack?: StackOptions;
  capacity?: number;
}

/** Two stacks, A (10.0.0.1, fd00::1) and B (10.0.0.2, fd00::2), on one link. */
export function stackPair(
  opts: PairOptions = {},
): { a: Stack; b: Stack; devA: LinkEndpoint; devB: LinkEndpoint; gateA: Gate; gateB: Gate } {
  const medium = opts.medium ?? "ethernet";
  const [la, lb] = loopbackPair({ medium, capacity: opts.capacity ?? 4096, ...(opts.mtu ? { mtu: opts.mtu } : {}) });
  let devA: LinkEndpoint = la, devB: LinkEndpoint = lb;
  if (opts.faults) {
    devA = new FaultInjector(devA, opts.faults);
    devB = new FaultInjector(devB, { ...opts.faults, seed: opts.faults.seed + 1 });
  }
  if (opts.pcap) devA = new PcapWriter(devA, opts.pcap);
  const gateA = new Gate(devA), gateB = new Gate(devB);
  const a = new Stack({ seed: 11, ...opts.stack });
  const b = new Stack({ seed: 22, ...opts.stack });
  a.addInterface({
    device: gateA,
    mac: EthernetAddress.parse("02:00:00:00:00:01"),
    addresses: ["10.0.0.1/24", "fd00::1/64"],
  });
  b.addInterface({
    device: gateB,
    mac: EthernetAddress.parse("02:00:00:00:00:02"),
    addresses: ["10.0.0.2/24", "fd00::2/64"],
  });
  return { a, b, devA, devB, gateA, gateB };
}

/** A device wrapper a test can pause (receive nothing) or make drop everything inbound. @savable */
export class Gate implements LinkEndpoint {
  paused = false;
  dropping = false;
  readonly #inner: LinkEndpoint;

  constructor(inner: LinkEndpoint) {
    this.#inner = inner;
  }
  get mtu(): number {
    return this.#inner.mtu;
  }
  get medium(): Medium {
    return this.#inner.medium;
  }
  receive(now: number): Uint8Array | null {
    if (this.paused) return null;
    while (this.dropping && this.#inner.receive(now) !== null) { /* discard */ }
    return this.#inner.receive(now);
  }
  transmit(now: number, len: number, fill: (buf: Uint8Array) => void): boolean {
    return this.#inner.transmit(now, len, fill);
  }
}

/** A virtual clock and event loop over some stacks. */
export class Sim {
  now = 0;
  readonly stacks: Stack[];

  constructor(...stacks: Stack[]) {
    this.stacks = stacks;
  }

  /** Polls every stack until quiet; returns whether anything happened. */
  settle(): boolean {
    let any = false;
    for (let i = 0; i < 1_000_000; i++) {
      let progress = false;
      for (const s of this.stacks) progress = s.poll(this.now) || progress;
      if (!progress) return any;
      any = true;
    }
    throw new Error("Cannot settle: the stacks never went quiet");
  }

  /**
   * Runs until `done()` holds, jumping time to the next deadline whenever
   * the stacks are quiet. `step` runs after each settle (the "application").
   * Throws if `limit` ms of virtual time pass first.
   */
  runUntil(done: () => boolean, opts: { limit?: number; step?: () => void } = {}): void {
    const limit = this.now + (opts.limit ?? 600_000);
    for (;;) {
      this.settle();
      if (opts.step) {
        do opts.step(); while (this.settle() && !done());
      }
      if (done()) return;
      let next: number | null = null;
      for (const s of this.stacks) {
        const t = s.pollAt(this.now);
        if (t !== null && (next === null || t < next)) next = t;
      }
      if (next === null) {
        if (!opts.step) throw new Error(`Cannot finish: idle at ${this.now} ms with nothing pending`);
        next = this.now + 1;
      }
      this.now = Math.max(next, this.now + (next <= this.now ? 1 : 0));
      if (this.now > limit) throw new Error(`Cannot finish within the time limit (now ${this.now} ms)`);
    }
  }

  /** Advances virtual time by `ms`, servicing deadlines on the way. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      this.settle();
      let next: number | null = null;
      for (const s of this.stacks) {
        const t = s.pollAt(this.now);
        if (t !== null && (next === null || t < next)) next = t;
      }
      if (next === null || next > end) break;
      this.now = Math.max(next, this.now + (next <= this.now ? 1 : 0));
    }
    this.now = end;
    this.settle();
  }
}

/** Deterministic pseudo-random bytes. */
export function patternBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
