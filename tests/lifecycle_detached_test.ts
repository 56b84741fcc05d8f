/**
 * Containers that outlive the command that made them (issue #12): `create` then `start`,
 * `run -d`, `--pid-file` and `--console-socket` as runc's, run as a container engine would:
 * the commands' stdio are files (an engine's pipes), and a console socket receives the
 * terminal's master over SCM_RIGHTS.
 */

import assert from "node:assert/strict";
import { REPO_ROOT } from "./_harness.ts";

const SENTRY = `${REPO_ROOT}/sentry`;

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the sentry with its stdout and stderr in files (a detached holder keeps them open). */
async function sentry(root: string, args: string[]): Promise<Out> {
  const dir = await Deno.makeTempDir();
  try {
    const o = await new Deno.Command("/bin/sh", {
      args: ["-c", 'exec "$0" "$@" >"$D/out" 2>"$D/err"', SENTRY, "--root", root, ...args],
      env: { D: dir },
      stdin: "null",
    }).output();
    return { code: o.code, stdout: Deno.readTextFileSync(`${dir}/out`), stderr: Deno.readTextFileSync(`${dir}/err`) };
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

function readOr(path: string, dflt: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return dflt;
  }
}

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) [ZX] /s.test(stat);
  } catch {
    return false;
  }
}

/** A bundle whose root is the host's / (read-only) and whose process is sh -c script. */
function bundle(dir: string, script: string, terminal = false): string {
  const b = `${dir}/bundle`;
  Deno.mkdirSync(b, { recursive: true });
  Deno.writeTextFileSync(`${b}/config.json`, JSON.stringify({
    ociVersion: "1.0.2",
    process: { terminal, args: ["/bin/sh", "-c", script], env: ["PATH=/usr/bin:/bin"], cwd: "/" },
    root: { path: "/", readonly: true },
  }));
  return b;
}

Deno.test("create then start: created waits, --pid-file names the holder, start runs init, stopped keeps the status until delete", async () => {
  const dir = await Deno.makeTempDir();
  const root = `${dir}/root`;
  const out = `${dir}/init.out`;
  const b = bundle(dir, `echo ran >${out}.tmp; mv ${out}.tmp ${out}; sleep 0.3; exit 7`);
  // init cannot write the read-only root: its output goes to a writable bind of dir.
  const cfg = JSON.parse(Deno.readTextFileSync(`${b}/config.json`));
  cfg.mounts = [{ destination: dir, type: "bind", source: dir, options: ["rbind"] }];
  Deno.writeTextFileSync(`${b}/config.json`, JSON.stringify(cfg));
  try {
    const c = await sentry(root, ["create", "--bundle", b, "--pid-file", `${dir}/pid`, "c1"]);
    assert.deepEqual(c, { code: 0, stdout: "", stderr: "" });
    const pid = Number(Deno.readTextFileSync(`${dir}/pid`));
    assert.ok(alive(pid), "the holder named in --pid-file runs");
    const st = JSON.parse((await sentry(root, ["state", "c1"])).stdout);
    assert.equal(st.status, "created");
    assert.equal(st.pid, pid);
    assert.equal(st.bundle, b);
    // Created: init has not run. (It would have written its file in a few ms; it gets 300.)
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(readOr(out, "none"), "none", "init ran before start");
    assert.match((await sentry(root, ["list"])).stdout, /\nc1 +\d+ +created /);
    // Nothing to exec into yet.
    const e = await sentry(root, ["exec", "c1", "--", "/bin/true"]);
    assert.equal(e.code, 125);
    assert.match(e.stderr, /^sentry: container "c1" is created, not running\n$/);

    assert.deepEqual(await sentry(root, ["start", "c1"]), { code: 0, stdout: "", stderr: "" });
    await until(() => readOr(out, "") === "ran\n", "init's output");
    const again = await sentry(root, ["start", "c1"]);
    assert.equal(again.code, 125);
    assert.match(again.stderr, /^sentry: container "c1": cannot start a container that is (running|stopped)\n$/);
    const w = await sentry(root, ["wait", "c1"]);
    assert.deepEqual(w, { code: 7, stdout: `{"id":"c1","exitStatus":7}\n`, stderr: "" });
    await until(() => !alive(pid), "the holder to exit");
    assert.equal(JSON.parse((await sentry(root, ["state", "c1"])).stdout).status, "stopped");
    assert.equal((await sentry(root, ["delete", "c1"])).code, 0);
    assert.deepEqual([...Deno.readDirSync(root)], []);
  } finally {
    await sentry(root, ["delete", "--force", "c1"]);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("kill of a created container: a signal that ends a process stops it without running init; others change nothing", async () => {
  const dir = await Deno.makeTempDir();
  const root = `${dir}/root`;
  const out = `${dir}/init.out`;
  const b = bundle(dir, `echo ran >${out}; exit 0`);
  const cfg = JSON.parse(Deno.readTextFileSync(`${b}/config.json`));
  cfg.mounts = [{ destination: dir, type: "bind", source: dir, options: ["rbind"] }];
  Deno.writeTextFileSync(`${b}/config.json`, JSON.stringify(cfg));
  try {
    assert.equal((await sentry(root, ["create", "--bundle", b, "--pid-file", `${dir}/pid`, "k1"])).code, 0);
    const pid = Number(Deno.readTextFileSync(`${dir}/pid`));
    // SIGWINCH and signal 0 are no end for a process: still created.
    assert.deepEqual(await sentry(root, ["kill", "k1", "WINCH"]), { code: 0, stdout: "", stderr: "" });
    assert.deepEqual(await sentry(root, ["kill", "k1", "0"]), { code: 0, stdout: "", stderr: "" });
    assert.equal(JSON.parse((await sentry(root, ["state", "k1"])).stdout).status, "created");
    // SIGTERM ends it: stopped at once with init's status 143, init never ran, start refused.
    assert.deepEqual(await sentry(root, ["kill", "k1", "TERM"]), { code: 0, stdout: "", stderr: "" });
    const w = await sentry(root, ["wait", "k1"]);
    assert.deepEqual(w, { code: 143, stdout: `{"id":"k1","exitStatus":143}\n`, stderr: "" });
    await until(() => !alive(pid), "the holder to exit");
    assert.equal(JSON.parse((await sentry(root, ["state", "k1"])).stdout).status, "stopped");
    const start = await sentry(root, ["start", "k1"]);
    assert.equal(start.code, 125);
    assert.equal(readOr(out, "none"), "none", "init ran");
    assert.equal((await sentry(root, ["delete", "k1"])).code, 0);
    assert.deepEqual([...Deno.readDirSync(root)], []);
  } finally {
    await sentry(root, ["delete", "--force", "k1"]);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("run -d returns once the sandbox runs; its holder's exit status is init's; a duplicate ID costs nothing", async () => {
  const dir = await Deno.makeTempDir();
  const root = `${dir}/root`;
  const b = bundle(dir, "trap 'exit 9' TERM; while :; do sleep 0.05; done");
  try {
    const r = await sentry(root, ["run", "-d", "--bundle", b, "--pid-file", `${dir}/pid`, "d1"]);
    assert.deepEqual(r, { code: 0, stdout: "", stderr: "" });
    assert.equal(JSON.parse((await sentry(root, ["state", "d1"])).stdout).status, "running");
    const ps = await sentry(root, ["ps", "--format", "json", "d1"]);
    assert.equal(JSON.parse(ps.stdout)[0], 1);
    const dup = await sentry(root, ["run", "-d", "--bundle", b, "d1"]);
    assert.deepEqual(dup, { code: 125, stdout: "", stderr: `sentry: container "d1" already exists\n` });
    const exec = await sentry(root, ["exec", "d1", "--", "/bin/sh", "-c", "echo hi; exit 3"]);
    assert.deepEqual(exec, { code: 3, stdout: "hi\n", stderr: "" });
    assert.equal((await sentry(root, ["kill", "d1", "TERM"])).code, 0);
    assert.deepEqual(await sentry(root, ["wait", "d1"]), { code: 9, stdout: `{"id":"d1","exitStatus":9}\n`, stderr: "" });
    const pid = Number(Deno.readTextFileSync(`${dir}/pid`));
    await until(() => !alive(pid), "the holder to exit");
    assert.equal((await sentry(root, ["delete", "d1"])).code, 0);
    assert.deepEqual([...Deno.readDirSync(root)], []);
  } finally {
    await sentry(root, ["delete", "--force", "d1"]);
    Deno.removeSync(dir, { recursive: true });
  }
});

/** Receives a console master on sock, sets its size, logs all it reads, answers "ready". */
const CONSOLE_RECEIVER = `
import fcntl, os, socket, struct, sys, termios
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1]); srv.listen(1)
c, _ = srv.accept()
msg, fds, _, _ = socket.recv_fds(c, 4096, 4)
m = fds[0]
fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
out = open(sys.argv[2], "wb")
out.write(b"name=" + msg + b" fds=" + str(len(fds)).encode() + b"\\n"); out.flush()
buf, sent = b"", False
while True:
    try:
        d = os.read(m, 4096)
    except OSError:
        break
    if not d:
        break
    buf += d; out.write(d); out.flush()
    if not sent and b"ready" in buf:
        os.write(m, b"abc\\n"); sent = True
`;

Deno.test("--console-socket: the terminal's master goes to the engine, which drives the sandbox's terminal and sets its size", async () => {
  const dir = await Deno.makeTempDir();
  const root = `${dir}/root`;
  const b = bundle(dir, "tty; stty size; echo ready; read x; echo got $x; exit 4", true);
  const sock = `${dir}/console.sock`;
  const log = `${dir}/console.log`;
  const receiver = new Deno.Command("python3", { args: ["-c", CONSOLE_RECEIVER, sock, log], stdin: "null" }).spawn();
  try {
    await until(() => {
      try {
        return Deno.lstatSync(sock).isSocket === true;
      } catch {
        return false;
      }
    }, "the console socket");
    // runc's rules first: a terminal needs the socket, the socket needs a terminal.
    const noSock = await sentry(root, ["create", "--bundle", b, "t0"]);
    assert.equal(noSock.code, 125);
    assert.match(noSock.stderr, /^sentry: create: the process wants a terminal .*--console-socket\n$/);
    const plain = bundle(`${dir}/plain`, "true");
    const noTty = await sentry(root, ["create", "--bundle", plain, "--console-socket", sock, "t0"]);
    assert.equal(noTty.code, 125);
    assert.match(noTty.stderr, /^sentry: --console-socket: the process has no terminal/);

    const c = await sentry(root, ["create", "--bundle", b, "--console-socket", sock, "t1"]);
    assert.deepEqual(c, { code: 0, stdout: "", stderr: "" });
    await until(() => readOr(log, "").startsWith("name="), "the master to arrive");
    assert.equal(readOr(log, "").split("\n")[0], "name=/dev/ptmx fds=1");
    assert.equal((await sentry(root, ["start", "t1"])).code, 0);
    assert.deepEqual(await sentry(root, ["wait", "t1"]), { code: 4, stdout: `{"id":"t1","exitStatus":4}\n`, stderr: "" });
    await until(() => readOr(log, "").includes("got abc"), "the answer through the terminal");
    const text = readOr(log, "");
    assert.match(text, /\/dev\/pts\/0\r\n/);
    assert.match(text, /33 101\r\n/, "the engine's window size reached the sandbox's terminal");
    assert.match(text, /got abc\r\n/);
  } finally {
    await sentry(root, ["delete", "--force", "t1"]);
    try {
      receiver.kill("SIGKILL");
    } catch {
      // ended
    }
    await receiver.status;
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("restore -d --console-socket: a checkpointed terminal's typed input and its session go to the new engine's terminal", async () => {
  const dir = await Deno.makeTempDir();
  const root = `${dir}/root`;
  // The engine types "abc" when it sees ready; the shell reads it only after its sleep, in
  // which the checkpoint comes: the line waits in the terminal, and the image.
  const b = bundle(dir, "echo ready; sleep 2; read x; echo got $x; stty size; exit 4", true);
  const receivers: Deno.ChildProcess[] = [];
  const receive = async (name: string) => {
    const sock = `${dir}/${name}.sock`, log = `${dir}/${name}.log`;
    receivers.push(new Deno.Command("python3", { args: ["-c", CONSOLE_RECEIVER, sock, log], stdin: "null" }).spawn());
    await until(() => {
      try {
        return Deno.lstatSync(sock).isSocket === true;
      } catch {
        return false;
      }
    }, "the console socket");
    return { sock, log };
  };
  try {
    const first = await receive("first");
    assert.equal((await sentry(root, ["run", "-d", "--bundle", b, "--console-socket", first.sock, "c1"])).code, 0);
    await until(() => readOr(first.log, "").includes("abc"), "the engine to type its line");
    const image = `${dir}/image`;
    assert.deepEqual(await sentry(root, ["checkpoint", "--image-path", image, "c1"]), { code: 0, stdout: "", stderr: "" });
    // Without the socket, an image with a terminal is refused (runc's rule), nothing registered.
    const noSock = await sentry(root, ["restore", "-d", "-t", "--image-path", image, "--bundle", b, "c2"]);
    assert.equal(noSock.code, 125);
    assert.match(noSock.stderr, /^sentry: restore: the process wants a terminal .*--console-socket\n$/);
    const second = await receive("second");
    const r = await sentry(root, ["restore", "-d", "--console-socket", second.sock, "--image-path", image, "--bundle", b, "c2"]);
    assert.deepEqual(r, { code: 0, stdout: "", stderr: "" });
    assert.deepEqual(await sentry(root, ["wait", "c2"]), { code: 4, stdout: `{"id":"c2","exitStatus":4}\n`, stderr: "" });
    // The receiver logs what it reads from the master on its own time: the shell may have
    // exited (wait returned) before its last line reached the log.
    await until(() => /got abc\r\n33 101\r\n/.test(readOr(second.log, "")), "the line typed before the checkpoint, then the size");
    assert.match(readOr(second.log, ""), /got abc\r\n33 101\r\n/);
  } finally {
    for (const id of ["c1", "c2"]) await sentry(root, ["delete", "--force", id]);
    for (const p of receivers) {
      try {
        p.kill("SIGKILL");
      } catch {
        // ended
      }
      await p.status;
    }
    Deno.removeSync(dir, { recursive: true });
  }
});

/**
 * An engine's exec (conmon): `exec -d --pid-file F` from a subreaper, which then waits for the
 * pid in F and takes its exit status as the exec'd process's.
 */
const SUBREAPER = `
import ctypes, os, subprocess, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
r = subprocess.run(sys.argv[2:])
pid = int(open(sys.argv[1]).read())
cmdline = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\\0")
print("exec", r.returncode, "holder-is-exec", b"exec" in cmdline, flush=True)
_, st = os.waitpid(pid, 0)
print("status", os.waitstatus_to_exitcode(st), flush=True)
`;

Deno.test("exec -d --pid-file: a host process named in the file waits for the exec'd process and exits with its status", async () => {
  const dir = await Deno.makeTempDir();
  const root = `${dir}/root`;
  const b = bundle(dir, "while :; do sleep 0.05; done");
  try {
    assert.equal((await sentry(root, ["run", "-d", "--bundle", b, "x1"])).code, 0);
    const o = await new Deno.Command("python3", {
      args: ["-c", SUBREAPER, `${dir}/exec.pid`, SENTRY, "--root", root, "exec", "-d", "--pid-file", `${dir}/exec.pid`, "x1", "--", "/bin/sh", "-c", "sleep 0.3; echo hello; exit 6"],
      stdin: "null",
    }).output();
    const out = new TextDecoder().decode(o.stdout);
    assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
    assert.match(out, /^exec 0 holder-is-exec True\n/);
    assert.match(out, /hello\n/);
    assert.match(out, /status 6\n$/);
    // A failed exec fails the command itself, with the shell's status.
    const bad = await sentry(root, ["exec", "-d", "--pid-file", `${dir}/bad.pid`, "x1", "--", "/no/such"]);
    assert.equal(bad.code, 127);
    assert.match(bad.stderr, /^sentry: container "x1": cannot run "\/no\/such": /);
  } finally {
    await sentry(root, ["delete", "--force", "x1"]);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("exec -t --console-socket: the exec'd process's terminal goes to the engine", async () => {
  const dir = await Deno.makeTempDir();
  const root = `${dir}/root`;
  const b = bundle(dir, "while :; do sleep 0.05; done");
  const sock = `${dir}/console.sock`;
  const log = `${dir}/console.log`;
  const receiver = new Deno.Command("python3", { args: ["-c", CONSOLE_RECEIVER, sock, log], stdin: "null" }).spawn();
  try {
    assert.equal((await sentry(root, ["run", "-d", "--bundle", b, "x2"])).code, 0);
    await until(() => {
      try {
        return Deno.lstatSync(sock).isSocket === true;
      } catch {
        return false;
      }
    }, "the console socket");
    const e = await sentry(root, ["exec", "-t", "--console-socket", sock, "x2", "--", "/bin/sh", "-c", "tty; echo ready; read x; echo got $x; exit 5"]);
    assert.deepEqual(e, { code: 5, stdout: "", stderr: "" });
    await until(() => readOr(log, "").includes("got abc"), "the answer through the terminal");
    assert.match(readOr(log, ""), /^name=\/dev\/ptmx fds=1\n\/dev\/pts\/\d+\r\n/);
  } finally {
    await sentry(root, ["delete", "--force", "x2"]);
    try {
      receiver.kill("SIGKILL");
    } catch {
      // ended
    }
    await receiver.status;
    Deno.removeSync(dir, { recursive: true });
  }
});
