import assert from "node:assert/strict";
import { TimerHeap } from "./timer_heap.ts";

Deno.test("TimerHeap pops due items in deadline order", () => {
  const h = new TimerHeap<string>();
  h.schedule("c", 30);
  h.schedule("a", 10);
  h.schedule("b", 20);
  assert.equal(h.peek(), 10);
  assert.deepEqual(h.popDue(25), ["a", "b"]);
  assert.equal(h.peek(), 30);
  assert.deepEqual(h.popDue(100), ["c"]);
  assert.equal(h.peek(), null);
});

Deno.test("TimerHeap.schedule() replaces an item's deadline and null cancels it", () => {
  const h = new TimerHeap<string>();
  h.schedule("a", 10);
  h.schedule("a", 50);
  h.schedule("b", 20);
  h.schedule("b", null);
  assert.equal(h.peek(), 50);
  assert.equal(h.deadline("a"), 50);
  assert.deepEqual(h.popDue(49), []);
  assert.deepEqual(h.popDue(50), ["a"]);
  assert.equal(h.size, 0);
});

Deno.test("TimerHeap stays correct under many random reschedules", () => {
  const h = new TimerHeap<number>();
  const want = new Map<number, number>();
  let x = 12345;
  const rnd = () => (x = (x * 1103515245 + 12345) >>> 0) % 10_000;
  for (let i = 0; i < 5000; i++) {
    const item = rnd() % 100, at = rnd();
    h.schedule(item, at);
    want.set(item, at);
  }
  const order: number[] = [];
  for (const item of h.popDue(Infinity)) order.push(want.get(item)!);
  assert.equal(order.length, want.size);
  assert.ok(order.every((v, i) => i === 0 || v >= order[i - 1]!));
});
