import assert from "node:assert/strict";
import { RingBuffer } from "./ring_buffer.ts";

Deno.test("RingBuffer enqueues and dequeues across the wrap point", () => {
  const r = new RingBuffer(8);
  assert.equal(r.enqueue(new Uint8Array([1, 2, 3, 4, 5, 6])), 6);
  const out = new Uint8Array(4);
  assert.equal(r.dequeue(out), 4);
  assert.equal(r.enqueue(new Uint8Array([7, 8, 9, 10, 11, 12])), 6);
  assert.equal(r.length, 8);
  assert.ok(r.isFull);
  const all = new Uint8Array(8);
  assert.equal(r.dequeue(all), 8);
  assert.deepEqual([...all], [5, 6, 7, 8, 9, 10, 11, 12]);
});

Deno.test("RingBuffer.enqueue() takes only what fits", () => {
  const r = new RingBuffer(4);
  assert.equal(r.enqueue(new Uint8Array(10)), 4);
  assert.equal(r.enqueue(new Uint8Array(1)), 0);
});

Deno.test("RingBuffer.peek() returns a view when contiguous and a copy across the wrap", () => {
  const r = new RingBuffer(8);
  r.enqueue(new Uint8Array([0, 0, 0, 0, 0, 0]));
  r.discard(6);
  r.enqueue(new Uint8Array([1, 2, 3, 4]));
  assert.deepEqual([...r.peek(0, 4)], [1, 2, 3, 4]);
  assert.deepEqual([...r.peek(1, 1)], [2]);
  assert.deepEqual([...r.peek(2, 10)], [3, 4]);
});

Deno.test("RingBuffer writes out-of-order data past the end and commits it later", () => {
  const r = new RingBuffer(8);
  r.enqueue(new Uint8Array([1]));
  assert.equal(r.writeUnallocated(2, new Uint8Array([4, 5])), 2);
  assert.equal(r.writeUnallocated(0, new Uint8Array([2, 3])), 2);
  // Reading the front must not move where the unallocated bytes live.
  const one = new Uint8Array(1);
  r.dequeue(one);
  assert.equal(r.length, 0);
  r.commit(4);
  const out = new Uint8Array(4);
  r.dequeue(out);
  assert.deepEqual([...out], [2, 3, 4, 5]);
  assert.equal(r.writeUnallocated(7, new Uint8Array([1, 1])), 1);
  assert.equal(r.writeUnallocated(8, new Uint8Array([1])), 0);
});

Deno.test("RingBuffer.release() frees storage only when empty", () => {
  const r = new RingBuffer(8);
  r.enqueue(new Uint8Array([1, 2]));
  r.release();
  assert.equal(r.length, 2);
  const out = new Uint8Array(2);
  r.dequeue(out);
  r.release();
  assert.equal(r.enqueue(new Uint8Array([3, 4, 5])), 3);
  assert.deepEqual([...r.peek(0, 3)], [3, 4, 5]);
});

Deno.test("RingBuffer.enqueueVia() lends the free space in two views across the wrap and stops at a short fill", () => {
  const r = new RingBuffer(8);
  r.enqueue(new Uint8Array(6));
  r.discard(6);
  const lent: number[] = [];
  let next = 1;
  const n = r.enqueueVia(5, (dst) => {
    lent.push(dst.length);
    for (let i = 0; i < dst.length; i++) dst[i] = next++;
    return dst.length;
  });
  assert.equal(n, 5);
  assert.deepEqual(lent, [2, 3]);
  assert.deepEqual([...r.peek(0, 5)], [1, 2, 3, 4, 5]);
  // A fill that writes less than it was lent ends the call; only its bytes count.
  const m = r.enqueueVia(3, (dst) => {
    dst[0] = 9;
    return 1;
  });
  assert.equal(m, 1);
  assert.equal(r.length, 6);
  assert.equal(r.enqueueVia(100, (dst) => dst.length), 2);
  assert.ok(r.isFull);
});

Deno.test("RingBuffer.dequeueVia() hands the data in two views across the wrap and consumes only what was taken", () => {
  const r = new RingBuffer(8);
  r.enqueue(new Uint8Array(6));
  r.discard(6);
  r.enqueue(new Uint8Array([1, 2, 3, 4, 5]));
  const seen: number[][] = [];
  assert.equal(r.dequeueVia(4, (src) => {
    seen.push([...src]);
    return src.length;
  }), 4);
  assert.deepEqual(seen, [[1, 2], [3, 4]]);
  assert.equal(r.dequeueVia(10, () => 0), 0);
  assert.equal(r.length, 1);
  assert.deepEqual([...r.peek(0, 1)], [5]);
});

Deno.test("A skewed RingBuffer wraps at its capacity like an unskewed one", () => {
  const r = new RingBuffer(8, 2048);
  assert.equal(r.enqueue(Uint8Array.of(1, 2, 3, 4, 5, 6)), 6);
  const out = new Uint8Array(4);
  assert.equal(r.dequeue(out), 4);
  assert.equal(r.enqueue(Uint8Array.of(7, 8, 9, 10, 11, 12)), 6);
  assert.equal(r.window, 0);
  assert.equal(r.contiguousFrom(0), 4, "bytes 5..8 lie at indexes 4..7, before the wrap");
  assert.equal(r.contiguousFrom(5), 3, "bytes 10..12 lie at indexes 1..3");
  const all = new Uint8Array(8);
  assert.equal(r.dequeue(all), 8);
  assert.deepEqual(all, Uint8Array.of(5, 6, 7, 8, 9, 10, 11, 12));
});
