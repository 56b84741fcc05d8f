/**
 * A restored sandbox is an ordinary container (issue #13): `sentry restore` registers it under
 * its ID as `run` does, so state, list, ps, exec, pause, resume, kill, wait, delete and
 * checkpoint reach it, detached (`-d`, runc's `--detach`) or not, and a checkpoint of a restored
 * sandbox restores again: checkpoint, restore, checkpoint, restore continues the count.
 * The commands' stdio are files, as an engine's (a detached holder keeps them open).
 */

import assert from "node:assert/strict";
import { compileC, REPO_ROOT } from "./_harness.ts";

const SENTRY = `${REPO_ROOT}/sentry`;

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the sentry with its stdout appended to `stdout` (a file), its stderr returned. */
async function sentry(root: string, args: string[], stdout: string | null = null): Promise<Out> {
  const dir = await Deno.makeTempDir();
  const out = stdout ?? `${dir}/out`;
  try {
    const o = await new Deno.Command("/bin/sh", {
      args: ["-c", 'exec "$0" "$@" >>"$O" 2>"$D/err"', SENTRY, "--root", root, ...args],
      env: { D: dir, O: out },
      stdin: "null",
    }).output();
    return { code: o.code, stdout: stdout === null ? Deno.readTextFileSync(out) : "", stderr: Deno.readTextFileSync(`${dir}/err`) };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX] /s.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

function state(o: Out): { status: string; pid: number } {
  assert.equal(o.code, 0, o.stderr);
  return JSON.parse(o.stdout);
}

Deno.test("sentry restore registers the sandbox under its ID: state, list, ps, pause, resume, exec, kill, wait, delete, and a checkpoint of it restores again", async () => {
  const exe = await compileC("ckpt_counter", { static: true });
  // 400 lines 20 ms apart: 8 s at least, time for the commands below between the checkpoints.
  const N = 400;
  const nativeRun = new Deno.Command(exe, { args: [String(N)], stdout: "piped" }).output();
  const dir = Deno.makeTempDirSync();
  const root = `${dir}/state`;
  const out = `${dir}/out`;
  try {
    // The first run, checkpointed by ID once it has counted a little.
    const first = sentry(root, ["do", "--id", "c1", "--", exe, String(N)], out);
    await until(() => exists(`${root}/c1/control.sock`), "c1's control socket");
    await until(() => Deno.readTextFileSync(out).length > 0, "c1's first line");
    assert.deepEqual(await sentry(root, ["checkpoint", "--image-path", `${dir}/i1`, "c1"]), { code: 0, stdout: "", stderr: "" });
    assert.deepEqual(await first, { code: 0, stdout: "", stderr: "" });
    assert.ok(!exists(`${root}/c1`), "the checkpointed container is gone");

    // Restored detached under an ID of ours, with a pid file: a running container.
    const r = await sentry(root, ["restore", "-d", "--id", "r1", "--pid-file", `${dir}/r1.pid`, `${dir}/i1/checkpoint.cbor`], out);
    assert.deepEqual(r, { code: 0, stdout: "", stderr: "" });
    const holder = Number(Deno.readTextFileSync(`${dir}/r1.pid`));
    assert.ok(alive(holder), "the holder named in --pid-file runs");
    assert.equal((await sentry(root, ["pause", "r1"])).code, 0);
    const paused = state(await sentry(root, ["state", "r1"]));
    assert.deepEqual([paused.status, paused.pid], ["paused", holder]);
    assert.match((await sentry(root, ["list"])).stdout, /\nr1 +\d+ +paused /);
    const ps = await sentry(root, ["ps", "--format", "json", "r1"]);
    assert.deepEqual(JSON.parse(ps.stdout), [1], "the restored init, pid 1, and nothing else");
    assert.equal((await sentry(root, ["resume", "r1"])).code, 0);
    assert.equal(state(await sentry(root, ["state", "r1"])).status, "running");
    const exec = await sentry(root, ["exec", "r1", "--", "/bin/sh", "-c", "echo hi; exit 3"]);
    assert.deepEqual(exec, { code: 3, stdout: "hi\n", stderr: "" });
    // Checkpointed again, by ID, in runc's directory form: the holder ends with status 0.
    assert.deepEqual(await sentry(root, ["checkpoint", "--image-path", `${dir}/i2`, "r1"]), { code: 0, stdout: "", stderr: "" });
    await until(() => !alive(holder), "r1's holder to exit");
    assert.equal(state(await sentry(root, ["state", "r1"])).status, "stopped");
    assert.deepEqual(await sentry(root, ["delete", "r1"]), { code: 0, stdout: "", stderr: "" });
    const middle = Deno.readTextFileSync(out);
    assert.ok(!middle.includes("rounding"), `the counter ended before the second checkpoint: ${middle}`);

    // runc's form, detached without a pid file; then the rest of the count, to init's end.
    assert.deepEqual(await sentry(root, ["restore", "--image-path", `${dir}/i2`, "--detach", "r2"], out), { code: 0, stdout: "", stderr: "" });
    assert.deepEqual(await sentry(root, ["wait", "r2"]), { code: 0, stdout: `{"id":"r2","exitStatus":0}\n`, stderr: "" });
    assert.equal((await sentry(root, ["delete", "r2"])).code, 0);
    const native = new TextDecoder().decode((await nativeRun).stdout);
    assert.equal(Deno.readTextFileSync(out), native, "checkpoint, restore, checkpoint, restore: every line once, in order");

    // The first image once more, in the foreground under a generated ID, killed by ID.
    Deno.writeTextFileSync(out, "");
    const fg = sentry(root, ["restore", `${dir}/i1/checkpoint.cbor`], out);
    // Its ID as a user finds it: the one container `list` shows, once it runs.
    let id = "";
    for (let i = 0; id === ""; i++) {
      const ids = (await sentry(root, ["list", "-q"])).stdout.split("\n").filter((l) => l !== "");
      if (ids.length === 1 && state(await sentry(root, ["state", ids[0]!])).status === "running") id = ids[0]!;
      else if (i === 600) throw new Error(`the foreground restore never ran (list: ${ids.join(" ")})`);
      else await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(id, /^[0-9a-f]{16}$/);
    assert.equal((await sentry(root, ["kill", id, "KILL"])).code, 0);
    const killed = await fg;
    assert.equal(killed.code, 137, killed.stderr);
    assert.deepEqual([...Deno.readDirSync(root)], [], "a foreground restore leaves nothing behind");
  } finally {
    for (const id of ["c1", "r1", "r2"]) await sentry(root, ["delete", "--force", id]);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("sentry restore -d without an ID prints the one it made; a bad image is one line and status 125, and registers nothing", async () => {
  const dir = Deno.makeTempDirSync();
  const root = `${dir}/state`;
  try {
    Deno.writeTextFileSync(`${dir}/bad.cbor`, "not an image");
    const bad = await sentry(root, ["restore", "-d", "--id", "b1", `${dir}/bad.cbor`]);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /^sentry: restore: .*bad\.cbor is not a usable checkpoint image: [^\n]*\n$/);
    assert.ok(!exists(`${root}/b1`), "nothing registered");
    const twice = await sentry(root, ["restore", "--image-path", dir, "--id", "x", "y"]);
    assert.deepEqual(twice, { code: 125, stdout: "", stderr: "sentry: restore: give the ID once (--id or the argument)\n" });

    // A sandbox that sleeps, checkpointed, then restored detached with no ID.
    const first = sentry(root, ["do", "--id", "s1", "--", "/bin/sleep", "1000"]);
    await until(() => exists(`${root}/s1/control.sock`), "s1's control socket");
    assert.equal((await sentry(root, ["checkpoint", "--image", `${dir}/s.cbor`, "s1"])).code, 0);
    assert.equal((await first).code, 0);
    const r = await sentry(root, ["restore", "-d", `${dir}/s.cbor`]);
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^[0-9a-f]{16}\n$/);
    const id = r.stdout.trim();
    assert.equal(state(await sentry(root, ["state", id])).status, "running");
    assert.equal((await sentry(root, ["kill", id, "TERM"])).code, 0);
    assert.deepEqual(await sentry(root, ["wait", id]), { code: 143, stdout: `{"id":"${id}","exitStatus":143}\n`, stderr: "" });
    assert.equal((await sentry(root, ["delete", id])).code, 0);
  } finally {
    for (const e of exists(root) ? [...Deno.readDirSync(root)] : []) await sentry(root, ["delete", "--force", e.name]);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a read-only root with mount points made in memory, masked and read-only paths checkpoints and restores, the masks and read-only mounts kept", async () => {
  const dir = Deno.makeTempDirSync();
  const root = `${dir}/state`;
  const tag = `sentry-ckpt-mp-${Deno.pid}`;
  Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify({
    ociVersion: "1.0.2",
    process: { args: ["/bin/sh", "-c", `echo data > /${tag}/f; exec sleep 1000`], cwd: "/", env: ["PATH=/usr/bin:/bin"] },
    root: { path: "/", readonly: true },
    mounts: [{ destination: `/${tag}`, type: "tmpfs", source: "tmpfs" }],
    linux: { maskedPaths: ["/proc/sys/kernel"], readonlyPaths: ["/proc/sys"] },
  }));
  const look = ["exec", "c", "--", "/bin/sh", "-c", `cat /${tag}/f; ls /proc/sys/kernel | wc -l; echo 1 > /proc/sys/vm/x || echo ro`];
  try {
    assert.equal((await sentry(root, ["run", "-d", "--bundle", dir, "c"])).code, 0);
    await until(() => exists(`${root}/c/control.sock`), "c's control socket");
    const before = await sentry(root, look);
    assert.equal(before.stdout, "data\n0\nro\n", before.stderr);
    assert.equal((await sentry(root, ["checkpoint", "--image", `${dir}/c.cbor`, "c"])).code, 0);
    assert.equal((await sentry(root, ["delete", "c"])).code, 0);
    const r = await sentry(root, ["restore", "-d", "--bundle", dir, "--id", "c", `${dir}/c.cbor`]);
    assert.equal(r.code, 0, r.stderr);
    const after = await sentry(root, look);
    assert.equal(after.stdout, "data\n0\nro\n", after.stderr);
    assert.ok(!exists(`/${tag}`), "the host tree is unchanged");
  } finally {
    for (const e of exists(root) ? [...Deno.readDirSync(root)] : []) await sentry(root, ["delete", "--force", e.name]);
    Deno.removeSync(dir, { recursive: true });
  }
});
