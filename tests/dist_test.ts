/**
 * `deno task build` (tools/build.ts): dist/sentry is one executable file that runs from an empty
 * directory with nothing of the repository beside it, unpacks itself once into a cache directory
 * named by its hash, and survives concurrent first runs.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { removeTree } from "./_harness.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));

async function run(cmd: string, args: string[], cwd: string, env: Record<string, string>) {
  const out = await new Deno.Command(cmd, { args, cwd, env, clearEnv: true, stdin: "null", stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("deno task build writes dist/sentry, which runs from an empty directory and unpacks once, also when first runs race", async () => {
  const tmp = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "sentry-dist-test-" }));
  try {
    const exe = `${tmp}/dist/sentry`;
    const build = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${REPO}tools/build.ts`, "--output", exe],
      cwd: REPO,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(build.success, new TextDecoder().decode(build.stderr));
    assert.ok(((Deno.statSync(exe).mode ?? 0) & 0o111) !== 0, "executable");
    // Only the file: an empty directory, a fresh cache, a PATH without node_modules.
    const empty = `${tmp}/empty`, cache = `${tmp}/cache`;
    Deno.mkdirSync(empty);
    const env = { PATH: "/usr/bin:/bin", HOME: `${tmp}/home`, XDG_CACHE_HOME: cache };
    const first = await Promise.all([1, 2, 3].map(() => run(exe, ["do", "--", "/bin/echo", "hi"], empty, env)));
    for (const r of first) {
      assert.equal(r.stderr, "");
      assert.equal(r.stdout, "hi\n");
      assert.equal(r.code, 0);
    }
    // One unpacked copy, no temporary directories left by the runs that lost the race.
    // (Beside it the vDSO's build and the stub binary, each once: their own names.)
    const names = [...Deno.readDirSync(`${cache}/sentry`)].map((e) => e.name);
    assert.equal(names.filter((n) => n.startsWith("stub-")).length, 1, names.join(" "));
    // ... and the DENO_DIR of the sentry's own (boot/deno_dir.ts), private.
    assert.ok(names.includes("deno"), names.join(" "));
    assert.equal((Deno.statSync(`${cache}/sentry/deno`).mode ?? 0) & 0o777, 0o700);
    const entries = names.filter((n) => !n.startsWith("vdso-") && !n.startsWith("stub-") && n !== "deno");
    assert.equal(entries.length, 1, entries.join(" "));
    assert.match(entries[0]!, /^dist-[0-9a-f]{24}$/);
    // A later run uses that copy (and the sentry's DENO_DIR); the sandbox sees the caller's
    // environment, not bash's nor the launcher's DENO_DIR.
    const again = await run(exe, ["do", "--", "/bin/sh", "-c", "echo $HOME; pwd; env | grep -c ^SHLVL= || true; env | grep -c DENO_DIR || true; grep -c '\\[vdso\\]' /proc/self/maps"], empty, env);
    // ... and the vDSO, built from the sources packed beside the program.
    assert.equal(again.stdout, `${tmp}/home\n${empty}\n0\n0\n1\n`);
    assert.equal(again.code, 0);
    assert.equal(Deno.readDirSync(empty).next().done, true, "the empty directory stays empty");
    // A detached run starts the sentry again (boot/detach.ts): the bundled main module, no config.
    const b = `${tmp}/bundle`;
    Deno.mkdirSync(b);
    Deno.writeTextFileSync(`${b}/config.json`, JSON.stringify({
      ociVersion: "1.0.2",
      process: { terminal: false, args: ["/bin/true"], env: ["PATH=/usr/bin:/bin"], cwd: "/" },
      root: { path: "/", readonly: true },
    }));
    const root = `${tmp}/state`;
    const detached = await run(exe, ["--root", root, "run", "-d", "--bundle", b, "d1"], empty, env);
    assert.equal(detached.code, 0, detached.stderr);
    let state = "";
    for (let i = 0; i < 600 && !/"stopped"/.test(state); i++) {
      await new Promise((r) => setTimeout(r, 50));
      state = (await run(exe, ["--root", root, "state", "d1"], empty, env)).stdout;
    }
    assert.match(state, /"status": "stopped"/);
    assert.equal((await run(exe, ["--root", root, "delete", "d1"], empty, env)).code, 0);
  } finally {
    await removeTree(tmp);
  }
});
