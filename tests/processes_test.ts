/**
 * Processes and signals, run natively and in the sentry: the output and exit status must be
 * the same.
 */

import { assertSameAsNative, compileC } from "./_harness.ts";

Deno.test("fork, wait, vfork+exec, pipes and SIGPIPE behave as natively", async () => {
  await assertSameAsNative([await compileC("processes")]);
});

Deno.test("signal handlers, masks, the alternate stack and EINTR/SA_RESTART behave as natively", async () => {
  await assertSameAsNative([await compileC("signals")]);
});

Deno.test("a static binary forks and signals as natively", async () => {
  await assertSameAsNative([await compileC("signals", { static: true })]);
});

Deno.test("a shell pipeline with command substitution and a subshell behaves as natively", async () => {
  await assertSameAsNative(["/bin/sh", "-c", 'x=$(echo hi | tr a-z A-Z); (echo "$x"; echo sub) | cat; exit 7']);
});
