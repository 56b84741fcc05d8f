/**
 * The OCI lifecycle commands and the control socket (issue #12), run as a user would: a
 * `sentry do --id` holds a sandbox in the background while `state`, `list`, `ps`, `exec`,
 * `pause`, `resume`, `kill`, `events`, `wait` and `delete` reach it through `--root`, and
 * hostile clients talk to its socket directly.
 */

import assert from "node:assert/strict";
import { REPO_ROOT } from "./_harness.ts";

const SENTRY = `${REPO_ROOT}/sentry`;

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

async function sentry(root: string, args: string[], stdin?: string): Promise<Out> {
  const child = new Deno.Command(SENTRY, {
    args: ["--root", root, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const o = await child.output();
  return { code: o.code, stdout: new TextDecoder().decode(o.stdout), stderr: new TextDecoder().decode(o.stderr) };
}

async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A background `sentry do --id ID` running sh -c script, its output in a file. */
async function holder(root: string, id: string, script: string): Promise<{ child: Deno.ChildProcess; out: string }> {
  const out = await Deno.makeTempFile();
  // The shell only redirects the sentry's output to the file, then becomes the sentry.
  const child = new Deno.Command("/bin/sh", {
    args: ["-c", 'exec "$0" "$@" >"$OUT" 2>&1', SENTRY, "--root", root, "do", "--id", id, "--", "/bin/sh", "-c", script],
    env: { OUT: out },
    stdin: "null",
  }).spawn();
  await until(async () => {
    try {
      await Deno.stat(`${root}/${id}/control.sock`);
      return true;
    } catch {
      return false;
    }
  }, "the control socket");
  return { child, out };
}

function oneErrorLine(o: Out, what: string): void {
  assert.equal(o.code, 125, `${what}: ${JSON.stringify(o)}`);
  assert.match(o.stderr, /^sentry: [^\n]+\n$/, what);
}

Deno.test("lifecycle: list, state, ps, exec, pause, resume, events and kill reach a running sandbox", async () => {
  const root = await Deno.makeTempDir();
  const { child, out } = await holder(root, "c1", "i=0; while :; do echo $i; i=$((i+1)); sleep 0.05; done");
  try {
    const list = await sentry(root, ["list"]);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^ID +PID +STATUS +BUNDLE +CREATED +OWNER\nc1 +\d+ +running /);
    assert.deepEqual((await sentry(root, ["list", "-q"])).stdout, "c1\n");
    const json = JSON.parse((await sentry(root, ["list", "--format", "json"])).stdout);
    assert.equal(json[0].id, "c1");

    const st = JSON.parse((await sentry(root, ["state", "c1"])).stdout);
    assert.equal(st.status, "running");
    assert.equal(st.pid, child.pid);
    assert.equal(st.ociVersion, "1.0.2");
    const dir = await Deno.stat(`${root}/c1`);
    assert.equal(dir.mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(`${root}/c1/control.sock`)).mode! & 0o777, 0o600);

    const ps = await sentry(root, ["ps", "c1"]);
    assert.match(ps.stdout, /^UID +PID +PPID +C +STIME +TTY +TIME +CMD\n0 +1 +0 .*\/bin\/sh -c/);
    assert.deepEqual(JSON.parse((await sentry(root, ["ps", "--format", "json", "c1"])).stdout)[0], 1);

    // exec: its output, its stdin, its exit status; not a child of init (ppid 0).
    const ex = await sentry(root, ["exec", "c1", "--", "/bin/sh", "-c", "echo hi; echo err >&2; read x; echo got $x; echo ppid $PPID; exit 3"], "line\n");
    assert.deepEqual(ex, { code: 3, stdout: "hi\ngot line\nppid 0\n", stderr: "err\n" });
    const env = await sentry(root, ["exec", "--env", "FOO=bar", "--cwd", "/tmp", "--user", "1000:1000", "c1", "/bin/sh", "-c", "echo $FOO $(pwd) $(id -u):$(id -g)"]);
    assert.equal(env.stdout, "bar /tmp 1000:1000\n");
    const missing = await sentry(root, ["exec", "c1", "no-such-command-here"]);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /^sentry: [^\n]+\n$/);
    const killed = await sentry(root, ["exec", "c1", "/bin/sh", "-c", "kill -9 $$"]);
    assert.equal(killed.code, 137);

    // pause: the counter stops; resume: it goes on from where it was.
    assert.equal((await sentry(root, ["pause", "c1"])).code, 0);
    assert.equal(JSON.parse((await sentry(root, ["state", "c1"])).stdout).status, "paused");
    oneErrorLine(await sentry(root, ["exec", "c1", "true"]), "exec into a paused container");
    oneErrorLine(await sentry(root, ["pause", "c1"]), "pause twice");
    const before = await Deno.readTextFile(out);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await Deno.readTextFile(out), before, "a paused sandbox printed");
    assert.equal((await sentry(root, ["resume", "c1"])).code, 0);
    await until(async () => (await Deno.readTextFile(out)).length > before.length, `output after resume (${before.length} bytes before)`);
    const ev = JSON.parse((await sentry(root, ["events", "--stats", "c1"])).stdout);
    assert.equal(ev.type, "stats");
    assert.ok(ev.data.cpu.usage.total > 0 && ev.data.pids.current >= 1 && ev.data.memory.usage.usage > 0);

    assert.equal((await sentry(root, ["kill", "c1", "TERM"])).code, 0);
    const status = await child.status;
    assert.equal(status.code, 128 + 15);
    // (the sentry's own last line says that SIGTERM killed init)
    const nums = (await Deno.readTextFile(out)).trim().split("\n").filter((l) => !l.startsWith("sentry: ")).map(Number);
    assert.ok(nums.length > 2);
    nums.forEach((n, i) => assert.equal(n, i, "a number lost or repeated"));
    // A foreground sandbox leaves nothing behind.
    assert.deepEqual([...Deno.readDirSync(root)], []);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await Deno.remove(root, { recursive: true });
    await Deno.remove(out);
  }
});

Deno.test("lifecycle: bad, duplicate and unknown IDs are one line and status 125", async () => {
  const root = await Deno.makeTempDir();
  const { child, out } = await holder(root, "dup", "sleep 100");
  try {
    oneErrorLine(await sentry(root, ["do", "--id", "dup", "true"]), "a duplicate ID");
    for (const bad of ["..", "a/b", "a b", "", "x\ny"]) {
      oneErrorLine(await sentry(root, ["state", bad]), `ID ${JSON.stringify(bad)}`);
      oneErrorLine(await sentry(root, ["do", "--id", bad, "true"]), `do --id ${JSON.stringify(bad)}`);
    }
    for (const cmd of ["state", "ps", "kill", "pause", "resume", "delete", "wait", "events"]) {
      oneErrorLine(await sentry(root, [cmd, "nope"]), `${cmd} of an unknown ID`);
    }
    oneErrorLine(await sentry(root, ["exec", "nope", "true"]), "exec into an unknown ID");
    // runc's rule: delete --force of an unknown ID succeeds, silently (podman's clean-up after a failed create).
    assert.deepEqual(await sentry(root, ["delete", "--force", "nope"]), { code: 0, stdout: "", stderr: "" });
    oneErrorLine(await sentry(root, ["delete", "--force", "a/b"]), "delete --force of a malformed ID");
    oneErrorLine(await sentry(root, ["kill", "dup", "NOTASIGNAL"]), "an unknown signal");
    oneErrorLine(await sentry(root, ["delete", "dup"]), "delete of a running container");
    const bad = await Deno.makeTempFile();
    await Deno.writeTextFile(bad, "{not json");
    oneErrorLine(await sentry(root, ["exec", "--process", bad, "dup"]), "a malformed process.json");
    await Deno.writeTextFile(bad, JSON.stringify({ args: [] }));
    oneErrorLine(await sentry(root, ["exec", "--process", bad, "dup"]), "a process.json without args");
    await Deno.writeTextFile(bad, JSON.stringify({ args: ["/bin/echo", "from", "process.json"], cwd: "/" }));
    assert.equal((await sentry(root, ["exec", "--process", bad, "dup"])).stdout, "from process.json\n");
    await Deno.remove(bad);
    // The sandbox is unharmed: it still answers.
    assert.equal(JSON.parse((await sentry(root, ["state", "dup"])).stdout).status, "running");
    assert.equal((await sentry(root, ["delete", "--force", "dup"])).code, 0);
    await child.status;
    assert.deepEqual([...Deno.readDirSync(root)], []);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await Deno.remove(root, { recursive: true });
    await Deno.remove(out);
  }
});

Deno.test("lifecycle: a sentry killed with SIGKILL leaves a stopped state that delete removes, with no process", async () => {
  const root = await Deno.makeTempDir();
  const { child, out } = await holder(root, "gone", "sleep 100");
  try {
    const pids = JSON.parse((await sentry(root, ["state", "gone"])).stdout);
    child.kill("SIGKILL");
    await child.status;
    const st = JSON.parse((await sentry(root, ["state", "gone"])).stdout);
    assert.equal(st.status, "stopped");
    assert.equal(st.pid, 0);
    assert.match((await sentry(root, ["list"])).stdout, /\ngone +0 +stopped /);
    oneErrorLine(await sentry(root, ["exec", "gone", "true"]), "exec into a stopped container");
    oneErrorLine(await sentry(root, ["kill", "gone"]), "kill of a stopped container");
    assert.equal((await sentry(root, ["delete", "gone"])).code, 0);
    assert.deepEqual([...Deno.readDirSync(root)], []);
    // The stubs died with their sentry: no process of the sandbox is left on the host.
    await until(() => {
      for (const e of Deno.readDirSync("/proc")) {
        if (!/^\d+$/.test(e.name)) continue;
        try {
          const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
          if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pids.pid) return false;
        } catch { /* gone */ }
      }
      return true;
    }, "the sandbox's processes to be gone");
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(out);
  }
});

/** Sends raw bytes on a new connection to the control socket and returns what came back. */
async function rawExchange(path: string, bytes: Uint8Array): Promise<string> {
  const c = await Deno.connect({ transport: "unix", path });
  try {
    try {
      await c.write(bytes);
    } catch {
      // the sentry closed the connection early: its reply is still there to read
    }
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (;;) {
      let n: number | null;
      try {
        n = await c.read(buf);
      } catch {
        break;
      }
      if (n === null) break;
      chunks.push(buf.slice(0, n));
      const all = new Uint8Array(chunks.reduce((a, b) => a + b.length, 0));
      let o = 0;
      for (const ch of chunks) all.set(ch, o), o += ch.length;
      if (all.length >= 4 && all.length >= 4 + new DataView(all.buffer).getUint32(0)) {
        return new TextDecoder().decode(all.subarray(4, 4 + new DataView(all.buffer).getUint32(0)));
      }
    }
    return "";
  } finally {
    c.close();
  }
}

function frame(body: string | Uint8Array, length?: number): Uint8Array {
  const b = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const f = new Uint8Array(4 + b.length);
  new DataView(f.buffer).setUint32(0, length ?? b.length);
  f.set(b, 4);
  return f;
}

Deno.test("control socket: malformed, oversized and wrongly typed requests get an error reply and harm nothing", async () => {
  const root = await Deno.makeTempDir();
  const { child, out } = await holder(root, "h", "sleep 100");
  const path = `${root}/h/control.sock`;
  try {
    const replies = [
      await rawExchange(path, frame("{not json")),
      await rawExchange(path, frame("", 100 * 1024 * 1024)),
      await rawExchange(path, frame(JSON.stringify({ op: "kill", signal: "TERM" }))),
      await rawExchange(path, frame(JSON.stringify({ op: "exec", argv: [] }))),
      await rawExchange(path, frame(JSON.stringify({ op: "exec", argv: ["/bin/true"] }))), // no descriptors
      await rawExchange(path, frame(JSON.stringify({ op: "rm -rf /" }))),
      await rawExchange(path, frame(JSON.stringify({ op: "kill", signal: 9, pid: 4242 }))),
      await rawExchange(path, frame(JSON.stringify([1, 2, 3]))),
      await rawExchange(path, frame(new Uint8Array([0xff, 0xfe, 0x00]))),
    ];
    for (const r of replies) {
      const j = JSON.parse(r);
      assert.equal(j.ok, false, r);
      assert.equal(typeof j.error, "string");
    }
    assert.match(JSON.parse(replies[1]!).error, /too large/);
    // A 100 MB request actually sent: refused after its header.
    const big = new Uint8Array(4 + 100 * 1024 * 1024);
    new DataView(big.buffer).setUint32(0, big.length - 4);
    assert.match(JSON.parse(await rawExchange(path, big)).error, /too large/);
    // A client that goes away mid-message.
    const c = await Deno.connect({ transport: "unix", path });
    await c.write(frame("{\"op\":").subarray(0, 8));
    c.close();
    // The good request on the same kind of connection still works, and the sandbox runs.
    const ok = JSON.parse(await rawExchange(path, frame(JSON.stringify({ op: "ps" }))));
    assert.equal(ok.ok, true);
    assert.equal(ok.processes[0].pid, 1);
    assert.equal(JSON.parse((await sentry(root, ["state", "h"])).stdout).status, "running");
    assert.equal((await sentry(root, ["kill", "h", "KILL"])).code, 0);
    assert.equal((await child.status).code, 137);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await Deno.remove(root, { recursive: true });
    await Deno.remove(out);
  }
});

Deno.test("--log FILE: a failing command's line is appended in runc's text or JSON format, debug lines with --debug", async () => {
  const root = await Deno.makeTempDir();
  const log = `${root}/runtime.log`;
  try {
    oneErrorLine(await sentry(root, ["--log", log, "state", "nope"]), "state with --log");
    oneErrorLine(await sentry(root, ["--log-format=json", `--log=${log}`, "kill", "nope", "TERM"]), "kill with --log-format json");
    const lines = Deno.readTextFileSync(log).trimEnd().split("\n");
    assert.equal(lines.length, 2, lines.join("\n"));
    assert.match(lines[0]!, /^time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" level=error msg="container \\"nope\\" does not exist"$/);
    const j = JSON.parse(lines[1]!);
    assert.deepEqual(Object.keys(j).sort(), ["level", "msg", "time"]);
    assert.equal(j.level, "error");
    assert.equal(j.msg, `container "nope" does not exist`);
    // --debug adds the sentry's debug lines; a log that cannot be opened is one line.
    const ok = await sentry(root, ["--log", log, "--debug", "--log-format", "json", "do", "--", "/bin/true"]);
    assert.equal(ok.code, 0, ok.stderr);
    const more = Deno.readTextFileSync(log).trimEnd().split("\n").slice(2).map((l) => JSON.parse(l));
    assert.ok(more.length > 0 && more.every((l) => l.level === "debug"), JSON.stringify(more));
    oneErrorLine(await sentry(root, ["--log", `${root}/no/such/dir/log`, "list"]), "an unopenable --log");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("lifecycle: an exec client killed mid-run harms neither the sandbox nor its sentry; delete leaves nothing", async () => {
  const root = await Deno.makeTempDir();
  const { child, out } = await holder(root, "k", "sleep 100");
  try {
    const pid = JSON.parse((await sentry(root, ["state", "k"])).stdout).pid;
    const client = new Deno.Command(SENTRY, {
      args: ["--root", root, "exec", "k", "--", "/bin/sh", "-c", "exec sleep 61"],
      stdin: "null", stdout: "null", stderr: "null",
    }).spawn();
    await until(async () => (await sentry(root, ["ps", "k"])).stdout.includes("sleep 61"), "the exec'd process");
    client.kill("SIGKILL");
    assert.equal((await client.status).signal, "SIGKILL");
    // The sentry still answers, the sandbox runs, and a new exec works beside the orphan.
    assert.equal(JSON.parse((await sentry(root, ["state", "k"])).stdout).status, "running");
    const again = await sentry(root, ["exec", "k", "--", "/bin/sh", "-c", "echo again; exit 4"]);
    assert.deepEqual(again, { code: 4, stdout: "again\n", stderr: "" });
    assert.match((await sentry(root, ["ps", "k"])).stdout, /sleep 100[\s\S]*sleep 61/);
    assert.equal((await sentry(root, ["delete", "--force", "k"])).code, 0);
    await child.status;
    assert.deepEqual([...Deno.readDirSync(root)], []);
    // No process of the sandbox is left on the host: its sentry and the stubs it traced.
    await until(() => {
      for (const e of Deno.readDirSync("/proc")) {
        if (!/^\d+$/.test(e.name)) continue;
        try {
          const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
          if (Number(e.name) === pid || Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) return false;
        } catch { /* gone */ }
      }
      return true;
    }, "the sandbox's processes to be gone");
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await Deno.remove(root, { recursive: true });
    await Deno.remove(out);
  }
});

/** CPU time (clock ticks) used so far by pid and every process below it. */
function treeCpuTicks(pid: number): number {
  const children = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ppid = Number(f[1]);
      ticks.set(Number(e.name), Number(f[11]) + Number(f[12])); // utime + stime
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e.name)]);
    } catch { /* gone */ }
  }
  let sum = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    sum += ticks.get(p) ?? 0;
    stack.push(...(children.get(p) ?? []));
  }
  return sum;
}

Deno.test("lifecycle: a paused sandbox uses no CPU, its sentry and stubs together, measured from /proc over 2 s", async () => {
  const root = await Deno.makeTempDir();
  const { child, out } = await holder(root, "spin", "while :; do :; done");
  try {
    const pid = JSON.parse((await sentry(root, ["state", "spin"])).stdout).pid;
    assert.equal((await sentry(root, ["pause", "spin"])).code, 0);
    await new Promise((r) => setTimeout(r, 500)); // every task reaches its safe point meanwhile
    const p0 = treeCpuTicks(pid);
    await new Promise((r) => setTimeout(r, 2000));
    const paused = treeCpuTicks(pid) - p0;
    assert.equal((await sentry(root, ["resume", "spin"])).code, 0);
    const r0 = treeCpuTicks(pid);
    await new Promise((r) => setTimeout(r, 2000));
    const running = treeCpuTicks(pid) - r0;
    // 100 ticks a second: at most 5% of one CPU while paused, and less than the spinning loop.
    assert.ok(paused <= 10, `paused: ${paused} ticks in 2 s`);
    assert.ok(running > paused, `running: ${running} ticks, paused: ${paused}`);
    assert.equal((await sentry(root, ["kill", "spin", "KILL"])).code, 0);
    assert.equal((await child.status).code, 137);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await Deno.remove(root, { recursive: true });
    await Deno.remove(out);
  }
});

Deno.test("config.json's process.capabilities, noNewPrivileges and user.umask apply to init and to exec, from the container's spec or process.json, as runc's", async () => {
  const root = await Deno.makeTempDir();
  const bundle = await Deno.makeTempDir();
  const status = "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status | tr -d '\\t'; umask";
  await Deno.writeTextFile(`${bundle}/config.json`, JSON.stringify({
    ociVersion: "1.0.2",
    process: {
      args: ["/bin/sh", "-c", `${status}; exec sleep 100`],
      cwd: "/",
      env: ["PATH=/usr/bin:/bin"],
      user: { uid: 0, gid: 0, umask: 0o077 },
      // CAP_CHOWN and CAP_KILL; an unknown name is ignored, as runc does.
      capabilities: { bounding: ["CAP_CHOWN", "CAP_KILL", "CAP_NOT_YET"], effective: ["CAP_CHOWN", "CAP_KILL"], permitted: ["CAP_CHOWN", "CAP_KILL"] },
      noNewPrivileges: true,
    },
    root: { path: "/" },
  }));
  const out = await Deno.makeTempFile();
  const child = new Deno.Command("/bin/sh", {
    args: ["-c", 'exec "$0" "$@" >"$OUT" 2>&1', SENTRY, "--root", root, "run", "--bundle", bundle, "caps"],
    env: { OUT: out },
    stdin: "null",
  }).spawn();
  const containerSets = "CapInh:0000000000000000\nCapPrm:0000000000000021\nCapEff:0000000000000021\n" +
    "CapBnd:0000000000000021\nCapAmb:0000000000000000\nNoNewPrivs:1\n";
  try {
    await until(async () => (await Deno.readTextFile(out)).includes("\n0077\n"), "init's report");
    assert.equal(await Deno.readTextFile(out), containerSets + "0077\n");
    const ex = await sentry(root, ["exec", "caps", "--", "/bin/sh", "-c", status]);
    assert.equal(ex.stdout, containerSets + "0077\n", ex.stderr);
    // A process.json names its own: a non-root user keeps its ambient set across execve.
    const pj = await Deno.makeTempFile();
    const all = ["CAP_CHOWN"];
    await Deno.writeTextFile(pj, JSON.stringify({
      args: ["/bin/sh", "-c", status], cwd: "/", user: { uid: 1000, gid: 1000 },
      capabilities: { bounding: all, effective: all, inheritable: all, permitted: all, ambient: all }, noNewPrivileges: false,
    }));
    const ex2 = await sentry(root, ["exec", "--process", pj, "caps"]);
    assert.equal(
      ex2.stdout,
      "CapInh:0000000000000001\nCapPrm:0000000000000001\nCapEff:0000000000000001\nCapBnd:0000000000000001\n" +
        "CapAmb:0000000000000001\nNoNewPrivs:0\n0077\n",
      ex2.stderr,
    );
    await Deno.remove(pj);
    assert.equal((await sentry(root, ["kill", "caps", "KILL"])).code, 0);
    await child.status;
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await Deno.remove(root, { recursive: true });
    await Deno.remove(bundle, { recursive: true });
    await Deno.remove(out);
  }
});

Deno.test("config.json's hooks run on the host with the state on stdin, as runc's (prestart and createRuntime at create, poststart, poststop at delete; a failing prestart is one line and 125), and state shows annotations", async () => {
  const root = await Deno.makeTempDir();
  const bundle = await Deno.makeTempDir();
  const out = `${bundle}/out`;
  await Deno.mkdir(out);
  const hook = (name: string, extra = "") => ({ path: "/bin/sh", args: ["sh", "-c", `cat > ${out}/${name}${extra}`], env: ["FOO=bar"] });
  const config = (hooks: unknown, args: string[]) => ({
    ociVersion: "1.0.2",
    process: { args, cwd: "/", env: ["PATH=/usr/bin:/bin"] },
    root: { path: "/" },
    annotations: { "org.example.k": "v" },
    hooks,
  });
  // run -d: init keeps the command's stdio, so they go to files, not to pipes output() would wait on.
  const detached = async (args: string[]): Promise<Out> => {
    const o = await new Deno.Command("/bin/sh", {
      args: ["-c", 'exec "$0" "$@" >"$B/stdout" 2>"$B/stderr"', SENTRY, "--root", root, ...args],
      env: { B: bundle },
      stdin: "null",
    }).output();
    return { code: o.code, stdout: Deno.readTextFileSync(`${bundle}/stdout`), stderr: Deno.readTextFileSync(`${bundle}/stderr`) };
  };
  try {
    await Deno.writeTextFile(`${bundle}/config.json`, JSON.stringify(config({
      prestart: [hook("prestart", `; echo "$FOO:$HOME" > ${out}/env`)],
      createRuntime: [hook("createRuntime")],
      poststart: [hook("poststart")],
      poststop: [hook("poststop")],
    }, ["/bin/sleep", "100"])));
    assert.equal((await detached(["run", "-d", "--bundle", bundle, "h1"])).code, 0);
    const st = JSON.parse((await sentry(root, ["state", "h1"])).stdout);
    assert.deepEqual(st.annotations, { "org.example.k": "v" });
    const read = (name: string) => JSON.parse(Deno.readTextFileSync(`${out}/${name}`));
    assert.equal(read("prestart").status, "creating");
    assert.deepEqual(read("prestart").annotations, { "org.example.k": "v" });
    assert.equal(read("createRuntime").status, "creating");
    assert.equal(Deno.readTextFileSync(`${out}/env`), "bar:\n");
    await until(() => {
      try {
        return read("poststart").status === "running";
      } catch {
        return false;
      }
    }, "the poststart hook");
    assert.equal((await sentry(root, ["delete", "--force", "h1"])).code, 0);
    assert.equal(read("poststop").status, "stopped");
    assert.equal(read("poststop").id, "h1");

    // A failing prestart hook: the container is not created.
    await Deno.writeTextFile(`${bundle}/config.json`, JSON.stringify(config({
      prestart: [{ path: "/bin/sh", args: ["sh", "-c", "exit 3"] }],
    }, ["/bin/true"])));
    const bad = await detached(["run", "-d", "--bundle", bundle, "h2"]);
    assert.equal(bad.code, 125);
    assert.equal(bad.stderr, `sentry: hooks.prestart[0] "/bin/sh": exited with status 3\n`);
    assert.deepEqual([...Deno.readDirSync(root)], []);

    // A foreground run is deleted as it ends: poststop runs then.
    Deno.removeSync(`${out}/poststop`);
    await Deno.writeTextFile(`${bundle}/config.json`, JSON.stringify(config({ poststop: [hook("poststop")] }, ["/bin/true"])));
    assert.equal((await sentry(root, ["run", "--bundle", bundle, "h3"])).code, 0);
    assert.equal(read("poststop").id, "h3");
  } finally {
    for (const e of [...Deno.readDirSync(root)]) await sentry(root, ["delete", "--force", e.name]);
    await Deno.remove(root, { recursive: true });
    await Deno.remove(bundle, { recursive: true });
  }
});

Deno.test("every hook runs with the runtime's privileges and namespaces, never under the sentry's confinement (foreground run, create/start/delete, run -d), as runc's and runsc's", async () => {
  const root = await Deno.makeTempDir();
  const bundle = await Deno.makeTempDir();
  const out = `${bundle}/out`;
  await Deno.mkdir(out);
  // What confinement would change: the filter, no_new_privs, capabilities, the namespaces
  // the sentry makes for itself (docs/confinement.md).
  const probe = "grep -E '^(Seccomp|NoNewPrivs|CapEff|CapBnd):' /proc/self/status; readlink /proc/self/ns/net /proc/self/ns/mnt /proc/self/ns/ipc /proc/self/ns/uts";
  const host = new TextDecoder().decode((await new Deno.Command("/bin/sh", { args: ["-c", probe] }).output()).stdout);
  const hook = (name: string) => ({ path: "/bin/sh", args: ["sh", "-c", `{ ${probe}; } > ${out}/${name}.tmp; cat > ${out}/${name}.state; mv ${out}/${name}.tmp ${out}/${name}`] });
  const write = (args: string[]) =>
    Deno.writeTextFileSync(`${bundle}/config.json`, JSON.stringify({
      ociVersion: "1.0.2",
      process: { args, cwd: "/", env: ["PATH=/usr/bin:/bin"] },
      root: { path: "/" },
      hooks: {
        prestart: [hook("prestart")], createRuntime: [hook("createRuntime")], poststart: [hook("poststart")], poststop: [hook("poststop")],
        // In the container's namespaces: a sandbox has no host program there; runsc skips them too.
        createContainer: [hook("createContainer")], startContainer: [hook("startContainer")],
      },
    }));
  const files = (d: string) => { try { return [...Deno.readDirSync(d)].map((e) => e.name).sort(); } catch { return []; } };
  const clear = () => { for (const f of files(out)) Deno.removeSync(`${out}/${f}`); };
  const ran = (name: string) => Deno.readTextFileSync(`${out}/${name}`);
  const status = (name: string) => JSON.parse(Deno.readTextFileSync(`${out}/${name}.state`)).status;
  const detached = async (args: string[]): Promise<Out> => {
    const o = await new Deno.Command("/bin/sh", {
      args: ["-c", 'exec "$0" "$@" >"$B/stdout" 2>"$B/stderr"', SENTRY, "--root", root, ...args],
      env: { B: bundle },
      stdin: "null",
    }).output();
    return { code: o.code, stdout: Deno.readTextFileSync(`${bundle}/stdout`), stderr: Deno.readTextFileSync(`${bundle}/stderr`) };
  };
  try {
    // A foreground run: init outlives poststart (which a runner started before confinement runs).
    write(["/bin/sh", "-c", `while [ ! -e ${out}/poststart ]; do sleep 0.05; done`]);
    const fg = await sentry(root, ["run", "--bundle", bundle, "f1"]);
    assert.equal(fg.code, 0, fg.stderr);
    for (const k of ["prestart", "createRuntime", "poststart", "poststop"]) assert.equal(ran(k), host, `${k} of a foreground run`);
    assert.deepEqual([status("prestart"), status("poststart"), status("poststop")], ["creating", "running", "stopped"]);
    assert.ok(!files(out).includes("createContainer") && !files(out).includes("startContainer"));

    // create, start, delete: poststart is start's, before start returns, as runc's.
    clear();
    write(["/bin/sleep", "100"]);
    assert.equal((await detached(["create", "--bundle", bundle, "c1"])).code, 0);
    assert.deepEqual(files(out).filter((f) => !f.endsWith(".state")), ["createRuntime", "prestart"]);
    assert.equal((await sentry(root, ["start", "c1"])).code, 0);
    assert.equal(ran("poststart"), host);
    assert.equal(status("poststart"), "running");
    assert.equal((await sentry(root, ["delete", "--force", "c1"])).code, 0);
    for (const k of ["prestart", "createRuntime", "poststart", "poststop"]) assert.equal(ran(k), host, `${k} of create/start/delete`);

    // run -d: its command runs poststart before it returns.
    clear();
    assert.equal((await detached(["run", "-d", "--bundle", bundle, "d1"])).code, 0);
    assert.equal(ran("poststart"), host);
    assert.equal((await sentry(root, ["delete", "--force", "d1"])).code, 0);
    assert.equal(ran("poststop"), host);
  } finally {
    for (const e of [...Deno.readDirSync(root)]) await sentry(root, ["delete", "--force", e.name]);
    await Deno.remove(root, { recursive: true });
    await Deno.remove(bundle, { recursive: true });
  }
});

Deno.test("update changes a running sandbox's limits as runc's update (flags, --resources FILE or -), events shows them, bad values are one line and 125", async () => {
  const root = await Deno.makeTempDir();
  const { child, out } = await holder(root, "u1", "sleep 100");
  const fork3 = ["exec", "u1", "--", "/bin/sh", "-c", "sleep 0 & sleep 0 & sleep 0 & wait && echo forked"];
  const limits = async () => {
    const ev = JSON.parse((await sentry(root, ["events", "--stats", "u1"])).stdout);
    return { memory: ev.data.memory.usage.limit, pids: ev.data.pids.limit };
  };
  try {
    assert.deepEqual(await limits(), { memory: undefined, pids: undefined });
    assert.equal((await sentry(root, ["update", "--pids-limit", "3", "u1"])).code, 0);
    assert.deepEqual(await limits(), { memory: undefined, pids: 3 });
    const refused = await sentry(root, fork3);
    assert.match(refused.stderr, /[Cc]an(no|')t fork|Resource temporarily unavailable/);
    const r = await sentry(root, ["update", "--resources", "-", "u1"], JSON.stringify({ pids: { limit: -1 }, memory: { limit: 1 << 30 } }));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await limits(), { memory: 1 << 30, pids: undefined });
    assert.equal((await sentry(root, fork3)).stdout, "forked\n");
    oneErrorLine(await sentry(root, ["update", "--pids-limit", "many", "u1"]), "a bad --pids-limit");
    oneErrorLine(await sentry(root, ["update", "--resources", "-", "u1"], "{not json"), "a bad --resources");
    oneErrorLine(await sentry(root, ["update", "--pids-limit", "3", "nope"]), "update of an unknown ID");
    assert.equal((await sentry(root, ["delete", "--force", "u1"])).code, 0);
    await child.status;
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await Deno.remove(root, { recursive: true });
    await Deno.remove(out);
  }
});
