/**
 * Readiness files and the calls that move data or locks between files, run natively and in the
 * sentry: the output and exit status must be the same.
 */

import { assertSameAsNative, compileC } from "./_harness.ts";

Deno.test("epoll: level, edge and one-shot triggering, nesting, errors, timeouts and EINTR behave as natively", async () => {
  await assertSameAsNative([await compileC("epoll")]);
});
