/**
 * `./sentry` (boot/launch.ts): runs the checkout's program from a bundle cached per user and per
 * checkout, built on first use (once, also when first runs race), built again when a source
 * changes, and never used when it is not the checkout's; without a private cache the sources
 * run. Each case has a cache directory of its own (XDG_CACHE_HOME); the edit case edits a copy
 * of the checkout.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { removeTree } from "./_harness.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));

/**
 * This Deno's DENO_DIR, for the sentries run with a cache of their own (XDG_CACHE_HOME): deno
 * bundle takes esbuild from there, and fetches it where it is not (which needs the network).
 */
const DENO_DIR: string = JSON.parse(new TextDecoder().decode(
  (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" }).output()).stdout,
)).denoDir;

async function run(sentry: string, args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(sentry, { args, env, clearEnv: true, stdin: "null", stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The launch cache directories under a cache root: name -> entries. */
function launchDirs(cache: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of Deno.readDirSync(`${cache}/sentry`)) {
    if (!e.name.startsWith("launch-")) continue;
    out.set(e.name, [...Deno.readDirSync(`${cache}/sentry/${e.name}`)].map((f) => f.name).sort());
  }
  return out;
}

function current(cache: string, dir: string): { build: string; sources: [string, ...unknown[]][] } {
  return JSON.parse(Deno.readTextFileSync(`${cache}/sentry/${dir}/current.json`));
}

Deno.test("./sentry builds its bundle once, also when first runs race, and runs it later", async () => {
  const tmp = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "sentry-launch-test-" }));
  try {
    const env = { PATH: "/usr/bin:/bin", XDG_CACHE_HOME: tmp, DENO_DIR };
    const first = await Promise.all([1, 2, 3].map(() => run(`${REPO}sentry`, ["do", "--", "/bin/echo", "hi"], env)));
    for (const r of first) assert.deepEqual(r, { code: 0, stdout: "hi\n", stderr: "" });
    const dirs = launchDirs(tmp);
    assert.equal(dirs.size, 1);
    const [name, entries] = [...dirs][0]!;
    // One bundle, no build left half-done.
    const builds = entries.filter((e) => e.startsWith("b-"));
    assert.equal(builds.length, 1, entries.join(" "));
    assert.deepEqual(entries.filter((e) => e.startsWith(".tmp-")), []);
    const m = current(tmp, name);
    assert.equal(m.build, builds[0]);
    // The manifest holds the checkout's modules (the kernel's among them) and the Deno executable.
    const paths = new Set(m.sources.map((s) => s[0]));
    for (const f of ["main.ts", "kernel/kernel.ts", "boot/loader.ts", "deno.json", "kernel/vdso/vdso.c"]) {
      assert.ok(paths.has(`${REPO}${f}`), f);
    }
    assert.ok(paths.has(Deno.execPath()));
    // A later run takes it as it is.
    const mtime = Deno.statSync(`${tmp}/sentry/${name}/current.json`).mtime;
    // The first runs made the sentry's own DENO_DIR (boot/deno_dir.ts); a later run's Deno keeps
    // its caches there, and the sandbox sees the caller's DENO_DIR, not that one.
    assert.equal((Deno.statSync(`${tmp}/sentry/deno`).mode ?? 0) & 0o777, 0o700);
    const again = await run(`${REPO}sentry`, ["do", "--", "/bin/sh", "-c", "echo $XDG_CACHE_HOME; env | grep -c ^SHLVL= || true; echo $DENO_DIR; env | grep -c ^SENTRY_DENO_DIR_WAS= || true"], env);
    assert.deepEqual(again, { code: 0, stdout: `${tmp}\n0\n${DENO_DIR}\n0\n`, stderr: "" });
    assert.ok(Deno.statSync(`${tmp}/sentry/deno/v8_code_cache_v2`).isFile);
    assert.deepEqual(launchDirs(tmp).get(name), entries);
    assert.deepEqual(Deno.statSync(`${tmp}/sentry/${name}/current.json`).mtime, mtime);
  } finally {
    await removeTree(tmp);
  }
});

Deno.test("./sentry builds its bundle again when a source changes; a removed bundle or sources that do not bundle fall back to the sources", async () => {
  const tmp = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "sentry-launch-test-" }));
  try {
    // A copy of the checkout (its program, not its tests), sharing node_modules.
    const co = `${tmp}/checkout`;
    Deno.mkdirSync(co);
    for (const e of Deno.readDirSync(REPO)) {
      if (["tests", "node_modules", "dist", "bench", ".git"].includes(e.name)) continue;
      const cp = await new Deno.Command("cp", { args: ["-a", `${REPO}${e.name}`, `${co}/`] }).output();
      assert.ok(cp.success, e.name);
    }
    Deno.symlinkSync(`${REPO}node_modules`, `${co}/node_modules`);
    const env = { PATH: "/usr/bin:/bin", XDG_CACHE_HOME: `${tmp}/cache`, DENO_DIR };
    const v1 = await run(`${co}/sentry`, ["--version"], env);
    assert.equal(v1.code, 0, v1.stderr);
    assert.match(v1.stdout, /^sentry version /);
    const [name] = [...launchDirs(`${tmp}/cache`).keys()];
    const b1 = current(`${tmp}/cache`, name!).build;
    // An edit of a module the bundle holds: the next start runs the edited program.
    const help = `${co}/boot/help.ts`;
    Deno.writeTextFileSync(help, Deno.readTextFileSync(help).replace("= pkg.version;", '= pkg.version + "-edited";'));
    const v2 = await run(`${co}/sentry`, ["--version"], env);
    assert.equal(v2.code, 0, v2.stderr);
    assert.match(v2.stdout, /^sentry version \S+-edited\n/);
    const b2 = current(`${tmp}/cache`, name!).build;
    assert.notEqual(b2, b1);
    // The bundle in use damaged (removed): the sources run, and the next start builds it again.
    Deno.removeSync(`${tmp}/cache/sentry/${name}/${b2}`, { recursive: true });
    const v3 = await run(`${co}/sentry`, ["--version"], env);
    assert.equal(v3.stdout, v2.stdout);
    const v4 = await run(`${co}/sentry`, ["do", "--", "/bin/echo", "hi"], env);
    assert.deepEqual(v4, { code: 0, stdout: "hi\n", stderr: "" });
    assert.equal(current(`${tmp}/cache`, name!).build, b2);
    assert.ok(Deno.statSync(`${tmp}/cache/sentry/${name}/${b2}/main.js`).isFile);
    // Sources that do not bundle (an error in a module --version never loads) run as they are,
    // and the next start does not try again.
    const image = `${co}/kernel/checkpoint/image.ts`;
    Deno.writeTextFileSync(image, Deno.readTextFileSync(image) + "\nthis is not TypeScript (\n");
    const v5 = await run(`${co}/sentry`, ["--version"], env);
    assert.equal(v5.stdout, v2.stdout);
    assert.equal(v5.stderr, "");
    const failed = current(`${tmp}/cache`, name!) as { build: string | null; failed?: { why: string } };
    assert.equal(failed.build, null);
    assert.match(failed.failed?.why ?? "", /^deno (info|bundle) failed/);
    const stamp = Deno.statSync(`${tmp}/cache/sentry/${name}/current.json`).mtime;
    const v6 = await run(`${co}/sentry`, ["--version"], env);
    assert.equal(v6.stdout, v2.stdout);
    assert.deepEqual(Deno.statSync(`${tmp}/cache/sentry/${name}/current.json`).mtime, stamp);
  } finally {
    await removeTree(tmp);
  }
});

Deno.test("./sentry runs the sources when its cache directory is not private", async () => {
  const tmp = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "sentry-launch-test-" }));
  try {
    Deno.mkdirSync(`${tmp}/sentry`, { mode: 0o777 });
    Deno.chmodSync(`${tmp}/sentry`, 0o777);
    const r = await run(`${REPO}sentry`, ["do", "--", "/bin/echo", "hi"], { PATH: "/usr/bin:/bin", XDG_CACHE_HOME: tmp, DENO_DIR });
    assert.deepEqual(r, { code: 0, stdout: "hi\n", stderr: "" });
    assert.equal(launchDirs(tmp).size, 0);
  } finally {
    await removeTree(tmp);
  }
});
