/**
 * The command line as users meet it: `./sentry` run as a subprocess, from a directory other than
 * the repository's. Nothing here needs the kernel to work.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const SENTRY = fileURLToPath(new URL("../sentry", import.meta.url));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function sentry(args: string[], opts: { cwd?: string; launcher?: string } = {}): Promise<Result> {
  const out = await new Deno.Command(opts.launcher ?? SENTRY, {
    args,
    cwd: opts.cwd ?? Deno.cwd(),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "sentry-cli-test-" }));
  try {
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Exit 125 with exactly one line on stderr, which is `expected`, and nothing on stdout. */
function assertOneLineError(r: Result, expected: string | RegExp): void {
  assert.equal(r.code, 125, `exit status (stderr: ${r.stderr})`);
  assert.equal(r.stdout, "");
  assert.ok(r.stderr.endsWith("\n"), "stderr ends with a newline");
  const lines = r.stderr.slice(0, -1).split("\n");
  assert.equal(lines.length, 1, `one line, got ${JSON.stringify(r.stderr)}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
  if (typeof expected === "string") assert.equal(lines[0], expected);
  else assert.match(lines[0]!, expected);
}

Deno.test("sentry --help lists the commands and global flags on stdout", async () => {
  const r = await sentry(["--help"], { cwd: "/" });
  assert.equal(r.code, 0);
  assert.equal(r.stderr, "");
  for (const word of ["run", "do", "spec", "--strace", "--debug-log", "--platform", "--cpu-placement"]) {
    assert.ok(r.stdout.includes(word), `help mentions ${word}`);
  }
  assert.deepEqual(await sentry(["help"], { cwd: "/" }), r);
});

Deno.test("sentry COMMAND --help shows that command's usage", async () => {
  for (const cmd of ["run", "do", "spec"]) {
    const r = await sentry([cmd, "--help"], { cwd: "/" });
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`^Usage: sentry ${cmd} `));
    assert.deepEqual(await sentry(["help", cmd], { cwd: "/" }), r);
  }
});

Deno.test("sentry --version prints the version of package.json", async () => {
  const pkg = JSON.parse(Deno.readTextFileSync(new URL("../package.json", import.meta.url)));
  const r = await sentry(["--version"], { cwd: "/tmp" });
  assert.equal(r.code, 0);
  assert.equal(r.stderr, "");
  assert.equal(r.stdout.split("\n")[0], `sentry version ${pkg.version}`);
});

Deno.test("the launcher works through a symlink from another directory", async () => {
  await withTempDir(async (dir) => {
    Deno.symlinkSync(SENTRY, `${dir}/s`);
    const r = await sentry(["--version"], { cwd: dir, launcher: `${dir}/s` });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sentry version /);
  });
});

Deno.test("an unknown flag or command is one line and exit status 125", async () => {
  assertOneLineError(await sentry(["--frobnicate"]), "sentry: unknown flag --frobnicate (try 'sentry --help')");
  assertOneLineError(await sentry(["frobnicate"]), `sentry: unknown command "frobnicate" (try 'sentry --help')`);
  assertOneLineError(await sentry([]), "sentry: no command given (try 'sentry --help')");
});

Deno.test("a malformed config.json is one line naming the field, exit status 125, no stack trace", async () => {
  await withTempDir(async (dir) => {
    Deno.mkdirSync(`${dir}/rootfs`);
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify({ process: { args: [], cwd: "/" }, root: { path: "rootfs" } }));
    assertOneLineError(
      await sentry(["run", "--bundle", dir]),
      "sentry: config.json: process.args: expected a non-empty array of strings",
    );
    Deno.writeTextFileSync(`${dir}/config.json`, `{"process": {"args": ["sh"],`);
    assertOneLineError(await sentry(["run", "--bundle", dir]), /^sentry: config\.json: not valid JSON: /);
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify({ process: { args: ["sh"], cwd: "/" }, root: { path: "nope" } }));
    assertOneLineError(
      await sentry(["run", "--bundle", dir, "id1", "--", "/bin/true"]),
      `sentry: config.json: root.path "nope": No such file or directory`,
    );
  });
});

Deno.test("a missing bundle directory is one line and exit status 125", async () => {
  await withTempDir(async (dir) => {
    assertOneLineError(
      await sentry(["run", "--bundle", "missing"], { cwd: dir }),
      `sentry: --bundle "missing": No such file or directory`,
    );
  });
});

Deno.test("a command that is not in PATH exits 127 with one line", async () => {
  await withTempDir(async (dir) => {
    const r = await sentry(["run", "--bundle", dir, "--", "no-such-command"]);
    assert.equal(r.code, 127);
    assert.equal(r.stderr, `sentry: cannot run "no-such-command": not found in PATH\n`);
  });
});

Deno.test("sentry spec writes a valid default config.json into the bundle and the current directory", async () => {
  await withTempDir(async (dir) => {
    const r = await sentry(["spec", "--bundle", dir]);
    assert.deepEqual(r, { code: 0, stdout: "", stderr: "" });
    const spec = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`));
    assert.equal(spec.root.path, "rootfs");
    assert.ok(Array.isArray(spec.process.args) && spec.process.args.length > 0);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["config.json"]);

    Deno.mkdirSync(`${dir}/here`);
    assert.equal((await sentry(["spec"], { cwd: `${dir}/here` })).code, 0);
    assert.deepEqual(JSON.parse(Deno.readTextFileSync(`${dir}/here/config.json`)), spec);
  });
});

Deno.test("sentry spec refuses to overwrite an existing config.json", async () => {
  await withTempDir(async (dir) => {
    Deno.writeTextFileSync(`${dir}/config.json`, "{}\n");
    assertOneLineError(
      await sentry(["spec", "--bundle", dir]),
      `sentry: ${dir}/config.json already exists; remove it to write a new one`,
    );
    assert.equal(Deno.readTextFileSync(`${dir}/config.json`), "{}\n");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["config.json"]);
  });
});

Deno.test("the spec that sentry spec writes passes sentry run's validation", async () => {
  await withTempDir(async (dir) => {
    assert.equal((await sentry(["spec", "--bundle", dir])).code, 0);
    // No rootfs/ yet: validation passes and the next check, the root, fails.
    assertOneLineError(
      await sentry(["run", "--bundle", dir]),
      `sentry: config.json: root.path "rootfs": No such file or directory`,
    );
  });
});

// End to end: the sentry runs a static program and reports how it ended.

const EXIT3_C = "int main(void) { return 3; }\n";
const SEGV_C = "int main(void) { volatile int *p = 0; return *p; }\n";

/** Compiles a static C program into dir/name; returns its path. */
async function compileStatic(dir: string, name: string, source: string): Promise<string> {
  Deno.writeTextFileSync(`${dir}/${name}.c`, source);
  const r = await new Deno.Command("gcc", {
    args: ["-static", "-O1", "-o", `${dir}/${name}`, `${dir}/${name}.c`],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(r.success, `gcc: ${new TextDecoder().decode(r.stderr)}`);
  return `${dir}/${name}`;
}

Deno.test("sentry do exits with init's exit status", async () => {
  await withTempDir(async (dir) => {
    await compileStatic(dir, "exit3", EXIT3_C);
    const r = await sentry(["do", "./exit3"], { cwd: dir });
    assert.deepEqual(r, { code: 3, stdout: "", stderr: "" });
  });
});

Deno.test("sentry do gives the sandbox the caller's open-files limit, as runsc do", async () => {
  // The caller lowers its limit (soft and hard) below anything the sentry would pick itself.
  const out = await new Deno.Command("bash", {
    args: ["-c", `ulimit -n 1500 && exec ${SENTRY} do -- sh -c 'ulimit -Sn; ulimit -Hn'`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.deepEqual({ code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) }, {
    code: 0,
    stdout: "1500\n1500\n",
    stderr: "",
  });
});

Deno.test("a NULL dereference exits 139 with one line on stderr naming SIGSEGV", async () => {
  await withTempDir(async (dir) => {
    const segv = await compileStatic(dir, "segv", SEGV_C);
    const r = await sentry(["do", "--", segv]);
    assert.equal(r.code, 139);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^sentry: init \(pid 1\) killed by SIGSEGV( \(fault at 0x0\))?\n$/);
  });
});

Deno.test("sentry run takes a directory without config.json as the root filesystem", async () => {
  await withTempDir(async (dir) => {
    Deno.mkdirSync(`${dir}/rootfs/bin`, { recursive: true });
    await compileStatic(`${dir}/rootfs/bin`, "exit3", EXIT3_C);
    const r = await sentry(["run", "--bundle", "rootfs", "--", "/bin/exit3"], { cwd: dir });
    assert.deepEqual(r, { code: 3, stdout: "", stderr: "" });
  });
});

Deno.test("sentry run finds process.args[0] in the container's PATH, not the host's", async () => {
  await withTempDir(async (dir) => {
    Deno.mkdirSync(`${dir}/rootfs/opt/tools`, { recursive: true });
    await compileStatic(`${dir}/rootfs/opt/tools`, "exit3", EXIT3_C);
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify({
      process: { args: ["exit3"], env: ["PATH=/opt/tools"], cwd: "/" },
      root: { path: "rootfs", readonly: true },
    }));
    assert.deepEqual(await sentry(["run", "--bundle", dir]), { code: 3, stdout: "", stderr: "" });
    // Overridden after "--": sh is on the host's PATH, not in this root.
    const r = await sentry(["run", "--bundle", dir, "--", "sh"]);
    assert.equal(r.code, 127);
    assert.equal(r.stderr, `sentry: cannot run "sh": not found in PATH\n`);
  });
});

Deno.test("SIGTERM sent to the sentry is passed on to init", async () => {
  await withTempDir(async (dir) => {
    const spin = await compileStatic(dir, "spin", "int main(void) { for (;;); }\n");
    const log = `${dir}/debug.log`;
    const child = new Deno.Command(SENTRY, {
      args: ["--debug-log", log, "do", spin],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Wait until boot has found the executable, then give the loader time to start init.
    const deadline = Date.now() + 20_000;
    while (!(readOrEmpty(log).includes("init executable:")) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 500));
    let killError: unknown = null;
    try {
      child.kill("SIGTERM");
    } catch (err) {
      killError = err; // it ended early; still collect its output, then fail
    }
    const out = await child.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(killError, null, `the sentry ended before SIGTERM: ${stderr}`);
    assert.equal(out.code, 143);
    assert.equal(out.signal, null, "the sentry exits by itself rather than dying of the signal");
    assert.equal(stderr, "sentry: init (pid 1) killed by SIGTERM\n");
  });
});

function readOrEmpty(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

// The wake-up alarm (a signal without SA_RESTART) interrupts any blocking host call of the
// JavaScript thread, not only the waitpid it is meant for: a full stderr pipe made Deno's
// writeSync fail with EINTR and the sentry die with "internal error: Interrupted".
Deno.test("--strace into a stderr pipe that is not read for a while loses no line and no status", async () => {
  await withTempDir(async (dir) => {
    const calls = await compileStatic(
      dir,
      "calls",
      "#include <stdio.h>\n#include <unistd.h>\n" +
        "int main(void) { for (int i = 0; i < 5000; i++) getppid(); puts(\"done\"); return 0; }\n",
    );
    const child = new Deno.Command(SENTRY, {
      args: ["--strace", "do", "--", calls],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // 5000 strace lines are several times a pipe's 64 KiB: the sentry blocks writing them
    // (with its alarm armed) until this side starts reading.
    await new Promise((r) => setTimeout(r, 1000));
    const out = await child.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.doesNotMatch(stderr, /internal error/);
    assert.equal(out.code, 0);
    assert.equal(new TextDecoder().decode(out.stdout), "done\n");
    assert.equal(stderr.split("\n").filter((l) => / getppid\(.*\) = 0 /.test(l)).length, 5000);
  });
});

Deno.test("sentry do CMD: `_` in the environment is CMD's path, as the caller's shell gives CMD run natively (`sentry do env` prints what `env` does)", async () => {
  const run = async (cmd: string[]) => {
    const o = await new Deno.Command(SENTRY, {
      args: ["do", ...cmd],
      env: { _: SENTRY, PATH: "/usr/bin:/bin" },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(o.stdout);
  };
  assert.deepEqual((await run(["env"])).split("\n").sort(), ["", "PATH=/usr/bin:/bin", "_=/usr/bin/env"]);
  assert.equal(await run(["/bin/sh", "-c", "echo $_"]), "/bin/sh\n");
});
