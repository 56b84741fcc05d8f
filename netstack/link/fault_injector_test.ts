import assert from "node:assert/strict";
import { FaultInjector } from "./fault_injector.ts";
import { Loopback } from "./loopback.ts";
import { Prng } from "./prng.ts";

function feed(n: number, rates: ConstructorParameters<typeof FaultInjector>[1]): { out: number[][]; fi: FaultInjector } {
  const lo = new Loopback({ capacity: 10_000, medium: "ip" });
  const fi = new FaultInjector(lo, rates);
  for (let i = 0; i < n; i++) lo.transmit(0, 4, (b) => b.set([i & 255, (i >> 8) & 255, 0, 0]));
  const out: number[][] = [];
  for (let f = fi.receive(0); f; f = fi.receive(0)) out.push([...f]);
  return { out, fi };
}

Deno.test("FaultInjector passes everything through at zero rates", () => {
  const { out } = feed(100, { seed: 1 });
  assert.equal(out.length, 100);
  assert.deepEqual(out.map((f) => f[0]), Array.from({ length: 100 }, (_, i) => i));
});

Deno.test("FaultInjector drops about the requested fraction, deterministically per seed", () => {
  const r1 = feed(10_000, { seed: 7, drop: 0.1 });
  const r2 = feed(10_000, { seed: 7, drop: 0.1 });
  assert.deepEqual(r1.out, r2.out);
  assert.ok(Math.abs(r1.fi.stats.dropped - 1000) < 150, `dropped ${r1.fi.stats.dropped}`);
  assert.equal(r1.out.length, 10_000 - r1.fi.stats.dropped);
});

Deno.test("FaultInjector duplicates, reorders and corrupts without losing frames", () => {
  const { out, fi } = feed(2000, { seed: 3, duplicate: 0.05, reorder: 0.05, corrupt: 0.05 });
  assert.ok(fi.stats.duplicated > 0 && fi.stats.reordered > 0 && fi.stats.corrupted > 0);
  assert.equal(out.length, 2000 + fi.stats.duplicated);
  const ids = out.map((f) => f[0]! | (f[1]! << 8));
  const inOrder = ids.every((v, i) => i === 0 || v >= ids[i - 1]!);
  assert.ok(!inOrder, "some frames arrive out of order");
  const flipped = out.filter((f) => f[2] !== 0 || f[3] !== 0).length;
  assert.ok(flipped > 0, "some frames have flipped bits");
});

Deno.test("Prng is a deterministic xorshift32 stream", () => {
  const a = new Prng(42), b = new Prng(42);
  const xs = Array.from({ length: 5 }, () => a.nextU32());
  assert.deepEqual(xs, Array.from({ length: 5 }, () => b.nextU32()));
  assert.ok(xs.every((x) => x >= 0 && x < 2 ** 32));
  assert.ok(new Prng(0).nextU32() !== 0);
});

Deno.test("FaultInjector corrupts only the IP packet of an Ethernet frame, never ARP", () => {
  const lo = new Loopback({ capacity: 1000 });
  const fi = new FaultInjector(lo, { seed: 5, corrupt: 1 });
  for (let i = 0; i < 200; i++) {
    const arp = i % 2 === 0;
    lo.transmit(0, 20, (b) => {
      b.fill(0);
      b[12] = arp ? 0x08 : 0x08;
      b[13] = arp ? 0x06 : 0x00;
    });
  }
  let arpDamaged = 0, headerDamaged = 0, ipDamaged = 0;
  for (let f = fi.receive(0); f; f = fi.receive(0)) {
    const arp = f[13] === 0x06;
    if (f.subarray(0, 12).some((x) => x !== 0)) headerDamaged++;
    if (f.subarray(14).some((x) => x !== 0)) (arp ? arpDamaged++ : ipDamaged++);
  }
  assert.equal(arpDamaged, 0);
  assert.equal(headerDamaged, 0);
  assert.equal(ipDamaged, 100);
});
