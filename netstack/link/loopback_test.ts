import assert from "node:assert/strict";
import { FrameQueue, Loopback, loopbackPair } from "./loopback.ts";

Deno.test("Loopback.receive() returns what transmit() sent, in order", () => {
  const lo = new Loopback({ medium: "ip", capacity: 4 });
  assert.equal(lo.mtu, 1500);
  assert.ok(lo.transmit(0, 3, (b) => b.set([1, 2, 3])));
  assert.ok(lo.transmit(0, 2, (b) => b.set([4, 5])));
  assert.deepEqual([...lo.receive(0)!], [1, 2, 3]);
  assert.deepEqual([...lo.receive(0)!], [4, 5]);
  assert.equal(lo.receive(0), null);
});

Deno.test("Loopback.transmit() refuses frames over the MTU and when the queue is full, without calling fill", () => {
  const lo = new Loopback({ capacity: 1 });
  let calls = 0;
  assert.equal(lo.transmit(0, 1515, () => calls++), false);
  assert.ok(lo.transmit(0, 10, () => calls++));
  assert.equal(lo.transmit(0, 10, () => calls++), false);
  assert.equal(calls, 1);
});

Deno.test("loopbackPair() crosses the two directions", () => {
  const [a, b] = loopbackPair();
  a.transmit(0, 1, (buf) => (buf[0] = 0xaa));
  b.transmit(0, 1, (buf) => (buf[0] = 0xbb));
  assert.deepEqual([...b.receive(0)!], [0xaa]);
  assert.deepEqual([...a.receive(0)!], [0xbb]);
  assert.equal(a.receive(0), null);
});

Deno.test("FrameQueue recycles buffers only after the next shift()", () => {
  const q = new FrameQueue(8, 16);
  q.push(2, (b) => b.set([1, 1]));
  q.push(2, (b) => b.set([2, 2]));
  const first = q.shift()!;
  q.push(2, (b) => b.set([3, 3]));
  assert.deepEqual([...first], [1, 1]); // still valid: not yet recycled
  assert.deepEqual([...q.shift()!], [2, 2]);
  assert.deepEqual([...q.shift()!], [3, 3]);
});
