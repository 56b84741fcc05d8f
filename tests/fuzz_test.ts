/**
 * The syscall fuzzer (tools/fuzz.ts, `deno task fuzz`): a short run in the suite, and what
 * earlier runs found, each kept as a differential regression test.
 *
 * @module
 */

import assert from "node:assert/strict";
import { assertSameAsNative, compileC } from "./_harness.ts";
import { fuzz } from "../tools/fuzz.ts";

Deno.test("what the fuzzer found: mmap with a hint of -1, clone with an exit signal beyond NSIG or a stack pointer of -1, an orphaned clone child, a group killed while forking: as natively", async () => {
  const native = await assertSameAsNative([await compileC("fuzz_regressions")]);
  assert.equal(
    native.stdout,
    "mmap private at hint -1: mapped\nmmap shared at hint -1: mapped\n" +
      "exit signal 0x80: exit 7\nstack -1: killed by SEGV\nparent_tid unmapped: exit 3\n" +
      "CLONE_PIDFD with CLONE_PARENT_SETTID: EINVAL\nmiddle: exit 0\norphaned clone child: reaped by wait(), exit 5\n" +
      "forkers killed: none left\n",
  );
});

Deno.test("twenty seconds of random system calls in short-lived sandboxes: no sentry crash, handler bug or hang", async () => {
  // A fixed seed: the same sandboxes each run (timing still varies). A failure prints the seed
  // and the command that reproduces it.
  const r = await fuzz({ seconds: 20, seed: 20261206, workers: 20, calls: 300, quiet: true });
  assert.ok(r.sandboxes >= 1 && r.calls > 0, JSON.stringify(r));
  assert.deepEqual(r.failures, []);
});
