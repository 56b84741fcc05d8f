import assert from "node:assert/strict";
import { flagsOf } from "./flags.ts";
import { helpText } from "./help.ts";

// runc's options that run accepts and ignores (docs/cli.md): not worth a line of help each.
const IGNORED_RUNC_FLAGS = new Set(["no-pivot", "no-new-keyring", "preserve-fds", "no-subreaper", "keep"]);

Deno.test("the help of do, run and restore names every flag they accept (the limits among them)", () => {
  for (const cmd of ["do", "run", "restore"] as const) {
    const text = helpText(cmd);
    const missing = flagsOf(cmd).filter((f) => !IGNORED_RUNC_FLAGS.has(f) && !text.includes(`--${f}`));
    assert.deepEqual(missing, [], `sentry help ${cmd} does not mention these flags`);
  }
  assert.match(helpText("do"), /124 if a limit/);
});
