import assert from "node:assert/strict";
import { Terminal } from "../vfs/tty/mod.ts";
import { ConsoleOutput } from "./console_output.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** Resolves after n turns of the microtask queue. */
async function microtasks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

Deno.test("output written while a drain is finishing is still moved to the host, whenever it comes", async () => {
  // The second write lands k microtasks after the first drain's write finished: at some k the
  // drain has just seen the master empty and not yet said it was done.
  for (let k = 0; k < 12; k++) {
    const term = new Terminal(0, null);
    term.slaveOpened();
    let host = "";
    const out = new ConsoleOutput(term, async (b) => {
      host += new TextDecoder().decode(b);
      await Promise.resolve();
      if (host === "first") {
        void microtasks(k).then(() => {
          term.slaveWrite(enc("second"));
          out.pending();
        });
      }
      return true;
    });
    term.slaveWrite(enc("first"));
    out.pending();
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(term.ld.outputLength, 0, `k=${k}: output left in the terminal`);
    assert.equal(host, "firstsecond", `k=${k}`);
  }
});

Deno.test("a host side that fails drops the output and keeps the terminal drained", async () => {
  const term = new Terminal(0, null);
  term.slaveOpened();
  let calls = 0;
  const out = new ConsoleOutput(term, () => {
    calls++;
    return Promise.resolve(false);
  });
  term.slaveWrite(enc("lost"));
  await out.flush();
  term.slaveWrite(enc("also lost"));
  await out.flush();
  assert.equal(calls, 1);
  assert.equal(term.ld.outputLength, 0);
});
