import assert from "node:assert/strict";
import { MacrotaskYield } from "./macrotask.ts";

Deno.test("MacrotaskYield: a yield lets timers and I/O callbacks run; close leaves no resource behind", async () => {
  const y = new MacrotaskYield();
  let timer = false;
  setTimeout(() => timer = true, 0);
  let read = false;
  const reading = Deno.readFile("/proc/self/stat").then(() => read = true);
  // Microtasks alone never run a timer: only a macrotask turn does.
  await Promise.resolve();
  assert.equal(timer, false);
  // The timer is due within a few ms; the loop spins on turns until then (no timing asserted).
  const deadline = performance.now() + 10_000;
  while (!(timer && read) && performance.now() < deadline) await y.next();
  assert.ok(timer && read);
  await reading;
  // Concurrent yields each resolve.
  await Promise.all([y.next(), y.next(), y.next()]);
  y.close();
  // Reusable after close; a yield waiting when it closes resolves.
  const waiting = y.next();
  y.close();
  await waiting;
});
