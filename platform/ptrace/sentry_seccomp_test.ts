import assert from "node:assert/strict";
import { CLONE_NAMESPACE_FLAGS, PTRACE_REQUESTS, SENTRY_SYSCALLS, sentryFilter, STUB_SITE_ONLY, STUB_SITES } from "./sentry_seccomp.ts";
import { decodeBase64, SENTRY_FILTER_ERRNO } from "./sentry_filter_prog.ts";
import { STUB_BATCH_SYSCALL_END, STUB_INJECT_SYSCALL_END } from "./stub_elf.ts";
import { syscallName } from "../../abi/linux/syscall_names.ts";
import { AUDIT_ARCH_X86_64, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_LOG } from "./bpf.ts";

/** Runs a classic BPF program (the subset bpf.ts emits) on a struct seccomp_data. */
function run(prog: Uint8Array, nr: number, arch = AUDIT_ARCH_X86_64, ip = 0x7f0000001000, arg0 = 0): number {
  const data = new DataView(new ArrayBuffer(64));
  data.setInt32(0, nr, true);
  data.setUint32(4, arch, true);
  data.setBigUint64(8, BigInt(ip), true);
  data.setBigUint64(16, BigInt(arg0), true);
  const v = new DataView(prog.buffer);
  let a = 0;
  for (let pc = 0; pc < prog.length / 8;) {
    const code = v.getUint16(pc * 8, true), jt = v.getUint8(pc * 8 + 2), jf = v.getUint8(pc * 8 + 3);
    const k = v.getUint32(pc * 8 + 4, true);
    if (code === 0x20) a = data.getUint32(k, true), pc++;
    else if (code === 0x06) return k;
    else if (code === 0x15) pc += 1 + (a === k ? jt : jf);
    else if (code === 0x35) pc += 1 + (a >= k ? jt : jf);
    else if (code === 0x45) pc += 1 + ((a & k) !== 0 ? jt : jf);
    else if (code === 0x05) pc += 1 + k;
    else throw new Error(`unexpected BPF opcode ${code}`);
  }
  throw new Error("ran off the end");
}

const EPERM = SECCOMP_RET_ERRNO | 1;
const nrOf = (name: string) => {
  for (let nr = 0; nr < 512; nr++) if (syscallName(nr) === name) return nr;
  throw new Error(name);
};

Deno.test("the sentry's filter allows exactly its list and refuses every other number with EPERM (or logs it)", () => {
  const enforce = sentryFilter("errno"), log = sentryFilter("log");
  const allowed = new Set(SENTRY_SYSCALLS);
  const special = new Set([...STUB_SITE_ONLY, "ptrace", "clone", "clone3", "kill"]);
  for (let nr = 0; nr < 512; nr++) {
    if (special.has(syscallName(nr))) continue;
    const want = allowed.has(syscallName(nr));
    assert.equal(run(enforce, nr), want ? SECCOMP_RET_ALLOW : EPERM, syscallName(nr));
    assert.equal(run(log, nr), want ? SECCOMP_RET_ALLOW : SECCOMP_RET_LOG, syscallName(nr));
  }
  for (const name of ["chroot", "setns", "bpf", "io_uring_setup", "open_by_handle_at", "init_module", "kexec_load"]) {
    assert.ok(!allowed.has(name), name);
  }
  // i386 system calls (int 0x80 numbering) kill.
  assert.equal(run(enforce, 1, 0x40000003), SECCOMP_RET_KILL_PROCESS);
});

Deno.test("the sentry's filter checks arguments: a stub's confinement calls only from its site, ptrace requests, clone flags, kill's pid", () => {
  const f = sentryFilter("errno");
  for (const name of STUB_SITE_ONLY) {
    assert.equal(run(f, nrOf(name)), EPERM, `${name} from the sentry's code`);
    assert.equal(run(f, nrOf(name), AUDIT_ARCH_X86_64, STUB_INJECT_SYSCALL_END), SECCOMP_RET_ALLOW, `${name} from the stub`);
    assert.equal(run(f, nrOf(name), AUDIT_ARCH_X86_64, STUB_BATCH_SYSCALL_END), SECCOMP_RET_ALLOW, `${name} from a batch`);
    assert.equal(run(f, nrOf(name), AUDIT_ARCH_X86_64, STUB_INJECT_SYSCALL_END + 1), EPERM, `${name} next to it`);
    assert.equal(run(f, nrOf(name), AUDIT_ARCH_X86_64, STUB_INJECT_SYSCALL_END + 0x1_0000_0000), EPERM, `${name} 4 GiB off`);
  }
  // With no reserved site (0), from nowhere.
  assert.equal(run(sentryFilter("errno", []), nrOf("mount"), AUDIT_ARCH_X86_64, STUB_INJECT_SYSCALL_END), EPERM);
  const ptrace = nrOf("ptrace");
  for (const req of PTRACE_REQUESTS) assert.equal(run(f, ptrace, AUDIT_ARCH_X86_64, 0, req), SECCOMP_RET_ALLOW, `request ${req}`);
  for (const req of [0, 1, 2, 4, 5, 16, 17, 24, 0x420c, 0x4209]) {
    assert.equal(run(f, ptrace, AUDIT_ARCH_X86_64, 0, req), EPERM, `request ${req}`);
  }
  const clone = nrOf("clone");
  // A Deno thread (glibc's pthread_create flags), a posix_spawn, a stub's fork: allowed.
  for (const flags of [0x3d0f00, 0x4111, 0x2011]) assert.equal(run(f, clone, AUDIT_ARCH_X86_64, 0, flags), SECCOMP_RET_ALLOW);
  for (let bit = 0; bit < 32; bit++) {
    const flag = 2 ** bit;
    if ((CLONE_NAMESPACE_FLAGS & flag) === 0) continue;
    assert.equal(run(f, clone, AUDIT_ARCH_X86_64, 0, 0x4111 + flag), EPERM, `clone flag ${flag.toString(16)}`);
  }
  assert.equal(run(f, nrOf("clone3")), SECCOMP_RET_ERRNO | 38);
  // kill: one process (a stub, SIGKILL); never the sentry's group, another group, or -1.
  const kill = nrOf("kill");
  for (const pid of [1, 4242, 0x7fffffff]) assert.equal(run(f, kill, AUDIT_ARCH_X86_64, 0, pid), SECCOMP_RET_ALLOW, `kill(${pid})`);
  for (const pid of [0, -1, -4242, -0x80000000]) {
    assert.equal(run(f, kill, AUDIT_ARCH_X86_64, 0, pid >>> 0), EPERM, `kill(${pid})`);
  }
});

Deno.test("the ready-made filter a start installs is the one sentryFilter assembles (else: deno run -A tools/gen_sentry_filter.ts)", () => {
  assert.deepEqual(decodeBase64(SENTRY_FILTER_ERRNO), sentryFilter("errno", STUB_SITES));
});
