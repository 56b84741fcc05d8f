/**
 * Application values that must never reach the host unchecked (issue 15's crash class): every
 * one ends the call as Linux does, and a bug inside a syscall handler ends only that call.
 */

import assert from "node:assert/strict";
import { assertSameAsNative, compileC } from "./_harness.ts";
import { Kernel } from "../kernel/kernel.ts";
import { PtracePlatform } from "../platform/ptrace/ptrace.ts";
import { VirtualFilesystem } from "../vfs/mod.ts";
import { Credentials } from "../kernel/creds.ts";
import { DebugLog } from "../kernel/log.ts";
import { SYSCALL_TABLE } from "../kernel/syscalls/linux/table_amd64.ts";
import { supported } from "../kernel/syscalls/linux/support.ts";
import { hostOpen, O_RDONLY } from "../platform/ptrace/_ffi.ts";
import { LinuxError } from "../kernel/errno.ts";
import { execProcess, exitStatus, onExit, signal } from "../kernel/control.ts";
import { applyMounts } from "../boot/mounts.ts";
import { withDefaults } from "../boot/mount_plan.ts";
import { KernelProcSource } from "../kernel/proc_source.ts";
import { sandboxCpus } from "../kernel/syscalls/linux/sys_sched.ts";

const O_WRONLY = 1, O_CLOEXEC = 0o2000000;

const FIXED_ENV = { env: { LC_ALL: "C" } };

Deno.test("brk beyond the address space, bad TLS bases, wide flags and lengths, the trap flag across mmap and fork: as natively", async () => {
  const prog = await compileC("hostile_args");
  const native = await assertSameAsNative([prog], FIXED_ENV);
  assert.equal(native.code, 0);
  assert.match(native.stdout, /^brk\(-1\) keeps the break: yes$/m);
  assert.match(native.stdout, /^clone\(CLONE_SETTLS, non-canonical\) = -1 EPERM$/m);
  assert.match(native.stdout, /^syscall\(SYS_arch_prctl, ARCH_SET_FS, NONCANONICAL\) = -1 EPERM$/m);
  assert.match(native.stdout, /^syscall\(SYS_memfd_create, "x", -1L\) = -1 EINVAL$/m);
  assert.match(native.stdout, /^syscall\(SYS_mlock, buf, 1UL << 62\) = -1 ENOMEM$/m);
  assert.match(native.stdout, /^mmap with TF: ok, traps seen$/m);
  assert.match(native.stdout, /^fork with TF: ok, traps seen$/m);
});

/**
 * Runs prog beside an idle init in a kernel booted in this process (as tests/control_test.ts
 * does), its output to a file; returns that output and prog's wait status.
 */
async function runInKernel(prog: string, logPath: string): Promise<{ out: string; status: number }> {
  const outPath = Deno.makeTempFileSync();
  const platform = new PtracePlatform({ placement: "tracer" });
  const vfs = VirtualFilesystem.create({ rootHostPath: "/", readonly: false });
  const log = new DebugLog();
  log.openFile(logPath);
  const k = Kernel.create({ platform, vfs, hostname: "bug-test", log });
  applyMounts(withDefaults([]), { vfs, procSource: new KernelProcSource(k), ncpus: sandboxCpus(), log });
  k.createInit({ argv: ["/bin/sleep", "30"], envp: [], cwd: "/", creds: new Credentials(0, 0) });
  const done = k.run();
  try {
    const inFd = hostOpen("/dev/null", O_RDONLY | O_CLOEXEC);
    const outFd = hostOpen(outPath, O_WRONLY | O_CLOEXEC);
    const r = execProcess(k, {
      argv: [prog], envv: [], cwd: "/", uid: 0, gid: 0, additionalGids: [], stdio: { kind: "host", fds: [inFd, outFd, outFd] },
    });
    if (r instanceof LinuxError) throw r;
    const status = await new Promise<number>((resolve, reject) => {
      const e = onExit(k, r.pid, resolve);
      if (e instanceof LinuxError) reject(e);
    });
    // The sandbox is still up: init runs on.
    assert.equal(exitStatus(k, 1), null);
    signal(k, { signal: 9 });
    await done;
    return { out: Deno.readTextFileSync(outPath), status };
  } finally {
    k.shutdown();
    await done;
    Deno.removeSync(outPath);
  }
}

for (const [what, fn] of [
  ["throws", () => {
    throw new TypeError("injected handler bug");
  }],
  ["returns Infinity", () => Infinity],
] as const) {
  Deno.test(`a syscall handler that ${what} fails that call with EINVAL, logs one bug report, and the process goes on`, async () => {
    const prog = await compileC("bug_syscall");
    const saved = SYSCALL_TABLE[306];
    assert.equal(saved?.name, "syncfs");
    SYSCALL_TABLE[306] = supported("syncfs", fn);
    const logPath = Deno.makeTempFileSync();
    try {
      const { out, status } = await runInKernel(prog, logPath);
      assert.equal(out, "syncfs = -1 EINVAL\n".repeat(3) + "getpid works: yes\n");
      assert.equal(status, 0);
      const bugs = Deno.readTextFileSync(logPath).split("\n").filter((l) => l.includes("BUG in syncfs"));
      assert.equal(bugs.length, 1, bugs.join("\n"));
    } finally {
      SYSCALL_TABLE[306] = saved!;
      Deno.removeSync(logPath);
    }
  });
}
