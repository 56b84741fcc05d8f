/**
 * The seccomp filter every stub runs under (installed in the zygote, inherited by every fork and
 * thread of it). Application system calls never reach it: PTRACE_SYSEMU reports them to the
 * sentry at syscall entry and the host skips them before seccomp runs (Linux's
 * syscall_trace_enter returns right after the ptrace report when SYSEMU is set). What reaches
 * it is what the host would really execute in a stub: the syscalls the sentry injects, and
 * anything a stub could be tricked into running natively. It allows, from the two `syscall`
 * instructions of the stub's code page only (seccomp_data.instruction_pointer), exactly the
 * syscalls the platform injects (clone only with the two flag sets it uses, prctl only as
 * PR_SET_TSC: the application's own, for its thread), hands the
 * descriptor fetch to the sentry (SECCOMP_RET_USER_NOTIF, see ptrace.ts #serveFdFetch), traps
 * the host's vsyscall emulation of time, gettimeofday and getcpu (SECCOMP_RET_TRAP: the host
 * emulates the entry's `ret` and raises SIGSYS, which the sentry sees and answers as the
 * syscall, under the task's own seccomp filters, as Linux's emulate_vsyscall), and kills the
 * whole stub on anything else.
 *
 * @module
 */

import { STUB_BASE, STUB_BATCH_SYSCALL_END, STUB_INJECT_SYSCALL_END } from "./stub_elf.ts";
import {
  assemble, AUDIT_ARCH_X86_64, type Insn, SECCOMP_RET_ALLOW, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_TRAP, SECCOMP_RET_USER_NOTIF,
} from "./bpf.ts";

export const SYS_close = 3;
export const SYS_mmap = 9;
export const SYS_mprotect = 10;
export const SYS_munmap = 11;
export const SYS_mremap = 25;
export const SYS_madvise = 28;
export const SYS_clone = 56;
/** Only as prctl(PR_SET_TSC, ...): an application's PR_SET_TSC, on its own thread. */
export const SYS_prctl = 157;
const PR_SET_TSC = 26;
export const SYS_exit = 60;
/**
 * The descriptor fetch: the number of pidfd_getfd, whose job it does, but never executed by the
 * host in a stub (the filter hands it to the sentry, which installs the descriptor with
 * SECCOMP_IOCTL_NOTIF_ADDFD). arg1 is the sentry's descriptor, for the record only.
 */
export const SYS_fetch_fd = 438;

const CLONE_VM = 0x100, CLONE_FS = 0x200, CLONE_FILES = 0x400, CLONE_SIGHAND = 0x800;
const CLONE_PTRACE = 0x2000, CLONE_THREAD = 0x10000, CLONE_SYSVSEM = 0x40000;
const SIGCHLD = 17;
/** clone flags of a new thread in a stub (StubAddressSpace.newThread). */
export const CLONE_STUB_THREAD = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
  CLONE_PTRACE;
/** clone flags of a forked stub (StubAddressSpace.fork). */
export const CLONE_STUB_FORK = SIGCHLD | CLONE_PTRACE;

// struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6].
const OFF_NR = 0, OFF_ARCH = 4, OFF_IP_LO = 8, OFF_IP_HI = 12, OFF_ARG0_LO = 16, OFF_ARG0_HI = 20;

/** The vsyscall page's three entries and the syscall each emulates (Linux's vsyscall_64.c). */
const VSYSCALLS: [number, number][] = [[0xff600000, 96], [0xff600400, 201], [0xff600800, 309]];

/** The filter as an array of struct sock_filter (8 bytes each). */
export function stubFilter(): Uint8Array {
  const hi = (a: number) => Math.floor(a / 0x1_0000_0000) >>> 0;
  const lo = (a: number) => a >>> 0;
  if (hi(STUB_INJECT_SYSCALL_END) !== hi(STUB_BASE) || hi(STUB_BATCH_SYSCALL_END) !== hi(STUB_BASE)) {
    throw new Error("stub_seccomp: the syscall sites must share the stub's upper address half");
  }
  const allowed = [SYS_close, SYS_mmap, SYS_mprotect, SYS_munmap, SYS_mremap, SYS_madvise, SYS_exit];
  const prog: Insn[] = [
    { op: "ld", off: OFF_ARCH },
    { op: "jeq", k: AUDIT_ARCH_X86_64, then: "arch_ok", else: "kill" },
    { label: "arch_ok" },
    { op: "ld", off: OFF_IP_HI },
    { op: "jeq", k: 0xffffffff, then: "vsyscall" },
    { op: "jeq", k: hi(STUB_BASE), then: "stub_page", else: "kill" },
    { label: "stub_page" },
    { op: "ld", off: OFF_IP_LO },
    { op: "jeq", k: lo(STUB_INJECT_SYSCALL_END), then: "site_ok" },
    { op: "jeq", k: lo(STUB_BATCH_SYSCALL_END), then: "site_ok", else: "kill" },
    { label: "site_ok" },
    { op: "ld", off: OFF_NR },
    ...allowed.map((nr): Insn => ({ op: "jeq", k: nr, then: "allow" })),
    { op: "jeq", k: SYS_fetch_fd, then: "notify" },
    { op: "jeq", k: SYS_prctl, then: "prctl" },
    { op: "jeq", k: SYS_clone, then: "clone", else: "kill" },
    { label: "clone" },
    { op: "ld", off: OFF_ARG0_HI },
    { op: "jeq", k: 0, then: "clone_lo", else: "kill" },
    { label: "clone_lo" },
    { op: "ld", off: OFF_ARG0_LO },
    { op: "jeq", k: CLONE_STUB_THREAD, then: "allow" },
    { op: "jeq", k: CLONE_STUB_FORK, then: "allow", else: "kill" },
    { label: "prctl" },
    { op: "ld", off: OFF_ARG0_HI },
    { op: "jeq", k: 0, then: "prctl_lo", else: "kill" },
    { label: "prctl_lo" },
    { op: "ld", off: OFF_ARG0_LO },
    { op: "jeq", k: PR_SET_TSC, then: "allow", else: "kill" },
    { label: "vsyscall" },
    { op: "ld", off: OFF_IP_LO },
    ...VSYSCALLS.map(([ip], i): Insn => ({ op: "jeq", k: ip, then: `vsys${i}` })),
    { op: "ret", k: SECCOMP_RET_KILL_PROCESS },
    ...VSYSCALLS.flatMap(([, nr], i): Insn[] => [
      { label: `vsys${i}` },
      { op: "ld", off: OFF_NR },
      { op: "jeq", k: nr, then: "trap", else: "kill" },
    ]),
    { label: "trap" },
    { op: "ret", k: SECCOMP_RET_TRAP },
    { label: "allow" },
    { op: "ret", k: SECCOMP_RET_ALLOW },
    { label: "notify" },
    { op: "ret", k: SECCOMP_RET_USER_NOTIF },
    { label: "kill" },
    { op: "ret", k: SECCOMP_RET_KILL_PROCESS },
  ];
  return assemble(prog);
}
