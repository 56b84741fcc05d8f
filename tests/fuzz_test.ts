/**
 * The syscall fuzzer (tools/fuzz.ts, `deno task fuzz`): a short run in the suite, and what
 * earlier runs found, each kept as a differential regression test.
 *
 * @module
 */

import assert from "node:assert/strict";
import { assertSameAsNative, compileC } from "./_harness.ts";

Deno.test("what the fuzzer found: clone with an exit signal beyond NSIG or a stack pointer of -1, an orphaned clone child, a group killed while forking: as natively", async () => {
  const native = await assertSameAsNative([await compileC("fuzz_regressions")]);
  assert.equal(
    native.stdout,
    "exit signal 0x80: exit 7\nstack -1: killed by SEGV\nparent_tid unmapped: exit 3\n" +
      "CLONE_PIDFD with CLONE_PARENT_SETTID: EINVAL\nmiddle: exit 0\norphaned clone child: reaped by wait(), exit 5\n" +
      "forkers killed: none left\n",
  );
});
