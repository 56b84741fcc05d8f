/**
 * Edges of the syscall ABI found by gVisor's syscall suite (issue #15), each checked against
 * the same program run natively: see tests/c/compat_edges.c for the list.
 */

import { assertSameAsNative, compileC } from "./_harness.ts";

Deno.test("getdents, readv, lseek, O_DIRECT, statx, brk, MAP_32BIT, clone3, futex keys and SO_PASSCRED edges behave as natively (tests/c/compat_edges.c)", async () => {
  await assertSameAsNative([await compileC("compat_edges")]);
});

Deno.test("PI futexes lock, hand over to waiters, time out and pass on an owner's death as natively (tests/c/futex_pi.c)", async () => {
  await assertSameAsNative([await compileC("futex_pi")]);
});
