import assert from "node:assert/strict";
import { EVENT_IN, EVENT_OUT, WaitQueue, type Waker } from "./mod.ts";

class Recorder implements Waker {
  calls = 0;
  constructor(readonly exclusive: boolean, readonly wakes: boolean) {}
  wake(_events: number): void {
    this.calls++;
  }

  wakeExclusive(events: number): boolean {
    this.wake(events);
    return this.wakes;
  }
}

Deno.test("a notify calls every plain waker whose mask matches", () => {
  const q = new WaitQueue();
  const a = new Recorder(false, false), b = new Recorder(false, false);
  q.register(a, EVENT_IN);
  q.register(b, EVENT_OUT);
  q.notify(EVENT_IN);
  assert.deepEqual([a.calls, b.calls], [1, 0]);
});

Deno.test("exclusive wakers are called up to the first that woke someone; plain ones always", () => {
  const q = new WaitQueue();
  const idle = new Recorder(true, false), first = new Recorder(true, true), second = new Recorder(true, true);
  const plain = new Recorder(false, false);
  q.register(idle, EVENT_IN);
  q.register(first, EVENT_IN);
  q.register(second, EVENT_IN);
  q.register(plain, EVENT_IN);
  q.notify(EVENT_IN);
  assert.deepEqual([idle.calls, first.calls, second.calls, plain.calls], [1, 1, 0, 1]);
});
