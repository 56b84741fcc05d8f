/**
 * Terminals: pseudo-terminals through glibc, run natively and in the sentry (the output must
 * be the same), and `sentry do -t` driven by tmux as a person would use it.
 */

import { assertSameAsNative, compileC } from "./_harness.ts";

Deno.test("openpty, canonical and raw reads, echo, ^C and SIGWINCH to a child's group, EIO after close behave as natively", async () => {
  await assertSameAsNative([await compileC("pty")]);
});

Deno.test("SIGTTIN/SIGTTOU for background groups, TIOCSPGRP, setsid, TIOCNOTTY and SIGHUP at the session leader's exit behave as natively", async () => {
  await assertSameAsNative([await compileC("pty_jobs")]);
});
