/**
 * The state directory as clients see it while a sentry starts: from the moment an ID's
 * directory exists, its state names the live sentry (`creating`, then `running`), never
 * `stopped`, which is what `delete` would clean away.
 */

import assert from "node:assert/strict";
import { claimId, type ContainerState, listIds, processStartTime, readState, writeState } from "./state_dir.ts";

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

/** Starts `sentry do [--id ID] -- sleep 30` under root and SIGKILLs it once it runs. */
async function killedWhileRunning(root: string, id: string | null): Promise<void> {
  const before = new Set(listIds(root));
  const child = new Deno.Command(SENTRY, {
    args: ["--root", root, "do", ...(id === null ? [] : ["--id", id]), "--", "/bin/sleep", "30"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const deadline = Date.now() + 60_000;
  for (;;) {
    const fresh = listIds(root).filter((x) => !before.has(x));
    if (fresh.length === 1 && readState(root, fresh[0]!).status === "running") break;
    if (Date.now() > deadline) throw new Error("the sandbox never ran");
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill("SIGKILL");
  await child.status;
}

Deno.test("the state of a killed `do` without --id is swept by the next start; one with --id stays, stopped, for delete", async () => {
  const root = await Deno.makeTempDir();
  try {
    await killedWhileRunning(root, "kept");
    await killedWhileRunning(root, null);
    const ids = listIds(root);
    assert.equal(ids.length, 2, ids.join(" "));
    assert.ok(ids.every((id) => readState(root, id).status === "stopped"));
    const r = await new Deno.Command(SENTRY, { args: ["--root", root, "do", "--", "/bin/true"] }).output();
    assert.equal(r.code, 0);
    assert.deepEqual(listIds(root), ["kept"]);
  } finally {
    await new Deno.Command(SENTRY, { args: ["--root", root, "delete", "--force", "kept"], stdout: "null", stderr: "null" }).output();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("writeState replaces state.json whole, by exchange or rename, and leaves no temporary file", () => {
  const root = Deno.makeTempDirSync({ prefix: "sentry-state-test-" });
  try {
    const st: ContainerState = {
      ociVersion: "1.0.2", id: "c1", status: "creating", pid: Deno.pid, bundle: "/", rootfs: "/", created: new Date().toISOString(),
      owner: "root", annotations: {}, sentryStart: processStartTime(Deno.pid) ?? 0,
    };
    claimId(root, "c1", st);
    assert.equal(readState(root, "c1").status, "creating");
    writeState(root, { ...st, status: "running" });
    assert.equal(readState(root, "c1").status, "running");
    writeState(root, { ...st, status: "stopped", exitStatus: 3 });
    const back = readState(root, "c1");
    assert.equal(back.status, "stopped");
    assert.equal(back.exitStatus, 3);
    assert.deepEqual([...Deno.readDirSync(`${root}/c1`)].map((e) => e.name), ["state.json"]);
    // No state.json yet (removed meanwhile): written by a rename.
    Deno.removeSync(`${root}/c1/state.json`);
    writeState(root, { ...st, status: "running" });
    assert.equal(readState(root, "c1").status, "running");
    assert.deepEqual([...Deno.readDirSync(`${root}/c1`)].map((e) => e.name), ["state.json"]);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});
