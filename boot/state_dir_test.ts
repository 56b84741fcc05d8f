/**
 * The state directory as clients see it while a sentry starts: from the moment an ID's
 * directory exists, its state names the live sentry (`creating`, then `running`), never
 * `stopped`, which is what `delete` would clean away.
 */

import assert from "node:assert/strict";
import { readState } from "./state_dir.ts";

const SENTRY = new URL("../sentry", import.meta.url).pathname;

Deno.test("a sandbox being assembled reads as creating, then running, never stopped while its sentry lives", async () => {
  const root = await Deno.makeTempDir();
  const child = new Deno.Command(SENTRY, {
    args: ["--root", root, "do", "--id", "c", "--", "/bin/sleep", "30"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const seen: string[] = [];
    const deadline = Date.now() + 60_000;
    for (;;) {
      let status: string | null = null;
      try {
        const s = readState(root, "c");
        status = s.status;
        if (status === "creating" || status === "running") assert.equal(s.pid, child.pid);
      } catch {
        // no directory yet
      }
      if (status !== null && seen.at(-1) !== status) seen.push(status);
      if (status === "running") break;
      if (Date.now() > deadline) throw new Error(`never running; seen ${seen.join(", ")}`);
      await new Promise((r) => setTimeout(r, 1));
    }
    // Polled every millisecond, the ~100 ms of assembly cannot be missed.
    assert.deepEqual(seen, ["creating", "running"]);
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await new Deno.Command(SENTRY, { args: ["--root", root, "delete", "--force", "c"], stdout: "null", stderr: "null" }).output();
    await Deno.remove(root, { recursive: true });
  }
});
