/**
 * Reaching a running sandbox (kernel/control.ts): a kernel booted in this process runs init
 * while the test execs more processes, lists them, signals them, pauses and resumes.
 */

import assert from "node:assert/strict";
import { Kernel } from "../kernel/kernel.ts";
import { PtracePlatform } from "../platform/ptrace/ptrace.ts";
import { VirtualFilesystem } from "../vfs/mod.ts";
import { Credentials } from "../kernel/creds.ts";
import { DebugLog } from "../kernel/log.ts";
import { EACCES, ENOENT, ESRCH, LinuxError } from "../kernel/errno.ts";
import { execProcess, exitStatus, onExit, pause, processes, resume, signal, stats } from "../kernel/control.ts";
import { applyMounts } from "../boot/mounts.ts";
import { withDefaults } from "../boot/mount_plan.ts";
import { KernelProcSource } from "../kernel/proc_source.ts";
import { sandboxCpus } from "../kernel/syscalls/linux/sys_sched.ts";
import { hostClose, hostOpen, hostRead, O_RDONLY } from "../platform/ptrace/_ffi.ts";
import { procSourceModule } from "../kernel/proc_source_load.ts";

// processes() reads the kernel's /proc source, loaded at its first use (the control server loads
// it before a ps); these tests call it directly.
await procSourceModule.load();

const ENV = ["PATH=/usr/local/bin:/usr/bin:/bin"];
const O_WRONLY = 1, O_NONBLOCK = 0o4000, O_CREAT = 0o100, O_TRUNC = 0o1000, O_CLOEXEC = 0o2000000;

/** A sandbox over the host's root (written changes stay in memory) running init's argv. */
function boot(initArgv: string[]): { k: Kernel; done: Promise<number> } {
  const platform = new PtracePlatform({ placement: "tracer" });
  const vfs = VirtualFilesystem.create({ rootHostPath: "/", readonly: false });
  const log = new DebugLog();
  const k = Kernel.create({ platform, vfs, hostname: "control-test", log });
  applyMounts(withDefaults([]), { vfs, procSource: new KernelProcSource(k), ncpus: sandboxCpus(), log });
  k.tty.mountDevpts(vfs);
  k.createInit({ argv: initArgv, envp: ENV, cwd: "/", creds: new Credentials(0, 0) });
  return { k, done: k.run() };
}

/** The wait status of pid, once it exits. */
function exited(k: Kernel, pid: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = onExit(k, pid, resolve);
    if (r instanceof LinuxError) reject(r);
  });
}

/** Three host descriptors for a process: /dev/null in, out and err to `out`. */
function stdioTo(out: string): [number, number, number] {
  const inFd = hostOpen("/dev/null", O_RDONLY | O_CLOEXEC);
  const outFd = hostOpen(out, O_WRONLY | O_CLOEXEC);
  assert.ok(inFd >= 0 && outFd >= 0);
  return [inFd, outFd, outFd];
}

function exec(k: Kernel, argv: string[], fds: [number, number, number]): number {
  const r = execProcess(k, { argv, envv: ENV, cwd: "/", uid: 0, gid: 0, additionalGids: [], stdio: { kind: "host", fds } });
  if (r instanceof LinuxError) throw r;
  return r.pid;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("a process exec'd into a running sandbox runs beside init, without a parent, and its status and output come back", async () => {
  const dir = Deno.makeTempDirSync();
  const fifo = `${dir}/out`;
  new Deno.Command("mkfifo", { args: [fifo] }).outputSync();
  // The read end first, non-blocking, so that opening the write end does not wait.
  const readFd = hostOpen(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  const { k, done } = boot(["/bin/sleep", "30"]);
  try {
    const pid = exec(k, ["sh", "-c", "echo hi $PPID; exit 3"], stdioTo(fifo));
    assert.ok(pid > 1);
    assert.equal(exitStatus(k, pid), null);
    const status = await exited(k, pid);
    assert.equal(status, 3 << 8);
    assert.equal(exitStatus(k, pid), 3 << 8);
    // The sentry reaped it: no zombie left in the sandbox.
    assert.deepEqual(processes(k).map((p) => p.pid), [1]);
    const buf = new Uint8Array(64);
    const n = hostRead(readFd, buf);
    assert.equal(new TextDecoder().decode(buf.subarray(0, Math.max(n, 0))), "hi 0\n");
    // init still runs.
    assert.equal(exitStatus(k, 1), null);
    assert.equal(signal(k, { signal: 9 }), 1);
    assert.equal(await done, 9);
  } finally {
    k.shutdown();
    await done;
    hostClose(readFd);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("exec of a name not in PATH is ENOENT, of a file without execute permission EACCES", async () => {
  const dir = Deno.makeTempDirSync();
  Deno.writeTextFileSync(`${dir}/script`, "#!/bin/sh\n", { mode: 0o644 });
  const { k, done } = boot(["/bin/sleep", "30"]);
  try {
    const run = (argv: string[], envv: string[]) =>
      execProcess(k, { argv, envv, cwd: "/", uid: 0, gid: 0, additionalGids: [], stdio: { kind: "host", fds: stdioTo("/dev/null") } });
    assert.equal(run(["no-such-command-here"], ENV), ENOENT);
    assert.equal(run(["script"], [`PATH=${dir}`]), EACCES);
    assert.equal(run([`${dir}/script`], ENV), EACCES);
    assert.deepEqual(processes(k).map((p) => p.pid), [1]);
    assert.equal(signal(k, { pid: 4242, signal: 15 }), ESRCH);
  } finally {
    k.shutdown();
    await done;
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("processes lists init and exec'd processes with their argv, parents and states", async () => {
  const { k, done } = boot(["/bin/sh", "-c", "sleep 30 & wait"]);
  try {
    await until(() => processes(k).some((p) => p.comm === "sleep"), "init's child");
    const pid = exec(k, ["/bin/sleep", "31"], stdioTo("/dev/null"));
    await until(() => processes(k).find((p) => p.pid === pid)?.state === "S", "the exec'd sleep");
    const ps = processes(k);
    const init = ps.find((p) => p.pid === 1)!;
    assert.deepEqual(init.argv, ["/bin/sh", "-c", "sleep 30 & wait"]);
    assert.equal(init.ppid, 0);
    const child = ps.find((p) => p.ppid === 1)!;
    assert.deepEqual(child.argv, ["sleep", "30"]);
    const mine = ps.find((p) => p.pid === pid)!;
    assert.deepEqual(mine.argv, ["/bin/sleep", "31"]);
    assert.equal(mine.ppid, 0);
    assert.equal(mine.sid, pid);
    assert.equal(mine.state, "S");
    assert.equal(mine.tty, null);
    assert.ok(Math.abs(mine.startTimeNs / 1e6 - Date.now()) < 60_000);
    const s = stats(k);
    assert.equal(s.pids.current, 3);
    assert.ok(s.memory.usageBytes > 0);
    assert.ok(s.cpu.usageNs > 0 && s.cpu.usageNs === s.cpu.userNs + s.cpu.systemNs);
  } finally {
    k.shutdown();
    await done;
  }
});

Deno.test("signal --all reaches every process of the sandbox", async () => {
  const { k, done } = boot(["/bin/sleep", "30"]);
  try {
    const a = exec(k, ["sleep", "30"], stdioTo("/dev/null"));
    const b = exec(k, ["sleep", "30"], stdioTo("/dev/null"));
    const sa = exited(k, a), sb = exited(k, b);
    await until(() => processes(k).filter((p) => p.comm === "sleep").length === 3, "three sleeps");
    assert.equal(signal(k, { all: true, signal: 0 }), 3);
    assert.equal(signal(k, { all: true, signal: 10 /* SIGUSR1 */ }), 3);
    // Each died of SIGUSR1 itself, not of SIGKILL when init (the last one signalled) died.
    assert.equal(await sa, 10);
    assert.equal(await sb, 10);
    assert.equal(await done, 10);
  } finally {
    k.shutdown();
    await done;
  }
});

Deno.test("pause stops every task until resume, and the counting goes on with no number lost or repeated", async () => {
  const dir = Deno.makeTempDirSync();
  const out = `${dir}/count`;
  const fd = hostOpen(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
  hostClose(fd);
  const { k, done } = boot(["/bin/sleep", "60"]);
  try {
    const pid = exec(k, ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i; done"], stdioTo(out));
    const st = exited(k, pid);
    await until(() => Deno.statSync(out).size > 1000, "counting");
    pause(k);
    assert.ok(k.quiescent);
    const size = Deno.statSync(out).size;
    assert.equal(processes(k).find((p) => p.pid === pid)?.state, "R");
    // Nothing runs while paused: a sleep of the test's own lets the loop turn many times.
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(Deno.statSync(out).size, size);
    resume(k);
    await until(() => Deno.statSync(out).size > size + 1000, "counting after the resume");
    // Twice more, the second while the first's stops may still be on their way.
    pause(k);
    resume(k);
    pause(k);
    resume(k);
    await until(() => Deno.statSync(out).size > size + 3000, "counting after two more pauses");
    assert.equal(signal(k, { pid, signal: 9 }), 1);
    assert.equal(exitStatus(k, pid), 9);
    assert.equal(await st, 9);
    const lines = Deno.readTextFileSync(out).split("\n");
    lines.pop(); // after the last newline (a write cut short by SIGKILL would leave a partial)
    lines.forEach((l, i) => assert.equal(l, String(i + 1), `line ${i + 1}`));
  } finally {
    k.shutdown();
    await done;
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a paused sandbox can be killed, and timers that expired meanwhile fire at the resume", async () => {
  const dir = Deno.makeTempDirSync();
  const out = `${dir}/out`;
  hostClose(hostOpen(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC));
  const { k, done } = boot(["/bin/sleep", "60"]);
  try {
    const pid = exec(k, ["sh", "-c", "sleep 0.2; echo woke"], stdioTo(out));
    await until(() => processes(k).some((p) => p.ppid === pid && p.comm === "sleep"), "the inner sleep");
    pause(k);
    // Past the sleep's deadline while paused: nothing happens until the resume.
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(Deno.readTextFileSync(out), "");
    const st = exited(k, pid);
    resume(k);
    assert.equal(await st, 0);
    assert.equal(Deno.readTextFileSync(out), "woke\n");
    pause(k);
    assert.equal(signal(k, { signal: 9 }), 1);
    assert.equal(await done, 9);
  } finally {
    k.shutdown();
    await done;
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("exec with a terminal: the process's stdio and controlling terminal is a new pty whose master the caller holds", async () => {
  const { k, done } = boot(["/bin/sleep", "30"]);
  try {
    const r = execProcess(k, {
      argv: ["sh", "-c", "tty; ps -o tty= -p $$ 2>/dev/null || true"], envv: ENV, cwd: "/", uid: 0, gid: 0, additionalGids: [],
      stdio: { kind: "terminal", winsize: { rows: 24, cols: 80, xpixel: 0, ypixel: 0 } },
    });
    if (r instanceof LinuxError) throw r;
    assert.ok(r.terminal !== null);
    const term = r.terminal;
    const st = exited(k, r.pid);
    assert.equal(processes(k).find((p) => p.pid === r.pid)?.tty, `pts/${term.index}`);
    assert.equal(await st, 0);
    const buf = new Uint8Array(4096);
    let text = "";
    for (;;) {
      let n = 0;
      try {
        n = term.masterRead(buf);
      } catch {
        break;
      }
      if (n === 0) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    assert.match(text, new RegExp(`^/dev/pts/${term.index}\\r\\n`));
  } finally {
    k.shutdown();
    await done;
  }
});
