import assert from "node:assert/strict";
import { SENTRY_SYSCALLS, sentryFilter } from "./sentry_seccomp.ts";
import { syscallName } from "../../abi/linux/syscall_names.ts";
import { AUDIT_ARCH_X86_64, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_LOG } from "./bpf.ts";

/** Runs a classic BPF program (the subset bpf.ts emits) on a struct seccomp_data. */
function run(prog: Uint8Array, nr: number, arch = AUDIT_ARCH_X86_64): number {
  const data = new DataView(new ArrayBuffer(64));
  data.setInt32(0, nr, true);
  data.setUint32(4, arch, true);
  const v = new DataView(prog.buffer);
  let a = 0;
  for (let pc = 0; pc < prog.length / 8;) {
    const code = v.getUint16(pc * 8, true), jt = v.getUint8(pc * 8 + 2), jf = v.getUint8(pc * 8 + 3);
    const k = v.getUint32(pc * 8 + 4, true);
    if (code === 0x20) a = data.getUint32(k, true), pc++;
    else if (code === 0x06) return k;
    else if (code === 0x15) pc += 1 + (a === k ? jt : jf);
    else if (code === 0x35) pc += 1 + (a >= k ? jt : jf);
    else throw new Error(`unexpected BPF opcode ${code}`);
  }
  throw new Error("ran off the end");
}

Deno.test("the sentry's filter allows exactly its list and refuses every other number with EPERM (or logs it)", () => {
  const enforce = sentryFilter("errno"), log = sentryFilter("log");
  const allowed = new Set(SENTRY_SYSCALLS);
  for (let nr = 0; nr < 512; nr++) {
    const want = allowed.has(syscallName(nr));
    assert.equal(run(enforce, nr), want ? SECCOMP_RET_ALLOW : SECCOMP_RET_ERRNO | 1, syscallName(nr));
    assert.equal(run(log, nr), want ? SECCOMP_RET_ALLOW : SECCOMP_RET_LOG, syscallName(nr));
  }
  for (const name of ["mount", "umount2", "pivot_root", "chroot", "setns", "bpf", "io_uring_setup", "open_by_handle_at"]) {
    assert.ok(!allowed.has(name), name);
  }
  // i386 system calls (int 0x80 numbering) kill.
  assert.equal(run(enforce, 1, 0x40000003), SECCOMP_RET_KILL_PROCESS);
});
