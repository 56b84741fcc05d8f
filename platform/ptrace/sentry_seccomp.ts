/**
 * The sentry's own seccomp filter (issue #14): installed once the sandbox is assembled, on every
 * thread of the Deno process at once (SECCOMP_FILTER_FLAG_TSYNC, which also gives every thread
 * no_new_privs), it allows the system calls the sentry and Deno's runtime make and refuses the
 * rest with EPERM. The set was measured on the whole test suite with the filter logging instead
 * of refusing (see docs/confinement.md, "The sentry"). Stubs started afterwards (a new zygote)
 * inherit it too, so it also allows what a stub does before its own filter.
 *
 * @module
 */

import { syscallNumbers } from "../../abi/linux/syscall_names.ts";
import { seccompAllThreads } from "./_ffi.ts";
import { decodeBase64, SENTRY_FILTER_ERRNO } from "./sentry_filter_prog.ts";
import { STUB_BATCH_SYSCALL_END, STUB_INJECT_SYSCALL_END } from "./stub_elf.ts";
import { assemble, AUDIT_ARCH_X86_64, type Insn, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_LOG } from "./bpf.ts";

/** What the sentry and Deno call (by name; numbers from abi/linux/syscall_names.ts). */
export const SENTRY_SYSCALLS: readonly string[] = [
  // Files and descriptors (hostfs, host stdio, the memory file, Deno's own I/O).
  "read", "write", "open", "close", "stat", "fstat", "lstat", "poll", "lseek", "pread64", "pwrite64", "readv",
  "writev", "access", "pipe", "select", "dup", "dup2", "dup3", "sendfile", "fcntl", "flock", "fsync",
  "fdatasync", "truncate", "ftruncate", "getdents", "getdents64", "getcwd", "chdir", "fchdir", "rename",
  "mkdir", "rmdir", "creat", "link", "unlink", "symlink", "readlink", "chmod", "fchmod", "chown", "fchown",
  "lchown", "umask", "openat", "mkdirat", "mknodat", "mknod", "fchownat", "newfstatat", "unlinkat", "renameat",
  "renameat2", "linkat", "symlinkat", "readlinkat", "fchmodat", "fchmodat2", "faccessat", "faccessat2",
  "utimensat", "utimes", "futimesat", "statx", "statfs", "fstatfs", "fallocate", "pipe2", "preadv", "pwritev",
  "preadv2", "pwritev2", "copy_file_range", "splice", "tee", "readahead", "fadvise64", "close_range", "ioctl",
  "memfd_create", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "getxattr", "lgetxattr", "fgetxattr",
  "listxattr", "llistxattr", "flistxattr", "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr",
  "fremovexattr", "sync", "syncfs", "sync_file_range",
  // Memory.
  "mmap", "mprotect", "munmap", "brk", "mremap", "msync", "mincore", "madvise", "mlock", "munlock", "mlock2",
  "membarrier", "get_mempolicy", "pkey_alloc", "pkey_free", "pkey_mprotect",
  // Signals, timers, clocks, waiting (the wake-up alarm, Deno's signal listeners, tokio).
  "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "rt_sigsuspend", "rt_sigpending",
  "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack", "kill", "tkill", "tgkill", "pidfd_send_signal",
  "nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday", "time", "getitimer",
  "setitimer", "alarm", "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun", "timer_delete",
  "timerfd_create", "timerfd_settime", "timerfd_gettime", "eventfd", "eventfd2", "signalfd", "signalfd4",
  "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "ppoll", "pselect6",
  "futex", "futex_waitv", "set_robust_list", "get_robust_list", "restart_syscall", "pause",
  // Processes and threads (stubs, Deno's worker threads, tracing).
  "clone", "clone3", "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "ptrace",
  "process_vm_readv", "process_vm_writev", "pidfd_open", "pidfd_getfd", "set_tid_address", "arch_prctl",
  "prctl", "rseq", "gettid", "getpid", "getppid", "getpgrp", "getpgid", "setpgid", "getsid", "setsid", "uname",
  "sysinfo", "times", "getrusage", "getrlimit", "setrlimit", "prlimit64", "getpriority", "setpriority",
  "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam", "sched_setparam",
  "sched_getscheduler", "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min", "sched_getattr",
  "sched_setattr", "getcpu", "getrandom", "getuid", "getgid", "geteuid", "getegid", "getresuid", "getresgid",
  "getgroups", "capget",
  // What a stub does before its own filter, when a zygote starts after this filter (stub_elf.ts,
  // PtracePlatform.#confine): its own namespaces, root, limits, capabilities and filter. Only
  // from the stub's injection site (see STUB_SITE_ONLY).
  "unshare", "mount", "umount2", "pivot_root", "capset", "seccomp",
  // Sockets (--network sandbox, --publish, the control socket, Deno's resolver).
  "socket", "socketpair", "connect", "accept", "accept4", "bind", "listen", "shutdown", "getsockname",
  "getpeername", "setsockopt", "getsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
];

/**
 * Calls the sentry itself never makes once confined, only a stub it starts later does (its
 * confinement, injected): allowed only with the instruction pointer right after one of the
 * stub's two `syscall` instructions (seccomp_data.instruction_pointer), addresses where the
 * sentry has no code (it keeps the stub's range reserved in its own address space, see
 * sentry_confine.ts).
 */
export const STUB_SITE_ONLY: readonly string[] = ["unshare", "mount", "umount2", "pivot_root", "capset", "seccomp"];

/** The stub's syscall sites (the injection's and the batch runner's). */
export const STUB_SITES: readonly number[] = [STUB_INJECT_SYSCALL_END, STUB_BATCH_SYSCALL_END];

/**
 * The ptrace requests the platform makes (everything else, PTRACE_ATTACH, PTRACE_TRACEME, the
 * PEEK/POKE of memory, PTRACE_SECCOMP_GET_FILTER..., is refused).
 */
export const PTRACE_REQUESTS: readonly number[] = [
  3, 6, 7, 8, 12, 13, 14, 15, 31, 32, // PEEKUSER, POKEUSER, CONT, KILL, GET/SETREGS, GET/SETFPREGS, SYSEMU(_SINGLESTEP)
  0x4200, 0x4201, 0x4202, 0x4203, 0x4204, 0x4205, 0x4206, 0x4207, 0x420e, // SETOPTIONS ... INTERRUPT, GET_SYSCALL_INFO
];

/** clone flags that make namespaces: refused (the sentry's threads and stubs make none this way). */
export const CLONE_NAMESPACE_FLAGS = 0x80 | 0x20000 | 0x2000000 | 0x4000000 | 0x8000000 | 0x10000000 | 0x20000000 |
  0x40000000;

// struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6].
const OFF_IP_LO = 8, OFF_IP_HI = 12, OFF_ARG0_LO = 16;
const ENOSYS = 38;

/**
 * The filter: x86-64 only (anything else kills the process), the allowed numbers by a binary
 * search (a few comparisons per call, not one per name), `otherwise` for the rest. Some allowed
 * numbers are checked further, right after the leaf of the search that finds them:
 * STUB_SITE_ONLY by instruction pointer, ptrace by request, clone by flags (no namespace),
 * kill by pid (one process, never a group nor -1).
 * clone3 fails with ENOSYS, as on a kernel before 5.3: its flags are in memory, which a filter
 * cannot read, and glibc and Rust's std then use clone, whose flags it can.
 */
export function sentryFilter(otherwise: "errno" | "log", stubSites: readonly number[] = STUB_SITES): Uint8Array {
  const byName = syscallNumbers();
  const checked = new Map<number, (deny: string, allow: string) => Insn[]>();
  const hi = (a: number) => Math.floor(a / 0x1_0000_0000) >>> 0;
  if (stubSites.some((a) => hi(a) !== hi(stubSites[0]!))) throw new Error("sentry_seccomp: stub sites in two halves");
  for (const name of STUB_SITE_ONLY) {
    checked.set(byName.get(name)!, (deny, allow) =>
      stubSites.length === 0 ? [{ op: "jeq", k: 0, then: deny, else: deny }] : [
        { op: "ld", off: OFF_IP_HI },
        { op: "jeq", k: hi(stubSites[0]!), then: `${allow}_lo`, else: deny },
        { label: `${allow}_lo` },
        { op: "ld", off: OFF_IP_LO },
        ...stubSites.map((a): Insn => ({ op: "jeq", k: a >>> 0, then: allow })),
        { op: "jeq", k: 0, then: deny, else: deny },
      ]);
  }
  checked.set(byName.get("ptrace")!, (deny, allow) => [
    { op: "ld", off: OFF_ARG0_LO },
    ...PTRACE_REQUESTS.map((k): Insn => ({ op: "jeq", k, then: allow })),
    { op: "jeq", k: 0, then: deny, else: deny },
  ]);
  checked.set(byName.get("clone3")!, () => [{ op: "ret", k: SECCOMP_RET_ERRNO | ENOSYS }]);
  // kill(2) of one process only: never 0 (the sentry's process group) nor negative (a group,
  // or -1: every process the sentry may signal, which for root is nearly every process).
  checked.set(byName.get("kill")!, (deny, allow) => [
    { op: "ld", off: OFF_ARG0_LO },
    { op: "jeq", k: 0, then: deny },
    { op: "jge", k: 0x80000000, then: deny, else: allow },
  ]);
  checked.set(byName.get("clone")!, (deny, allow) => [
    { op: "ld", off: OFF_ARG0_LO },
    { op: "jset", k: CLONE_NAMESPACE_FLAGS, then: deny, else: allow },
  ]);
  const nrs = [...new Set(SENTRY_SYSCALLS.map((n) => {
    const nr = byName.get(n);
    if (nr === undefined) throw new Error(`sentry_seccomp: unknown syscall ${n}`);
    return nr;
  }))].sort((a, b) => a - b);
  const deny = otherwise === "errno" ? SECCOMP_RET_ERRNO | EPERM : SECCOMP_RET_LOG;
  const prog: Insn[] = [
    { op: "ld", off: 4 },
    { op: "jeq", k: AUDIT_ARCH_X86_64, then: "arch_ok" },
    { op: "ret", k: SECCOMP_RET_KILL_PROCESS },
    { label: "arch_ok" },
    { op: "ld", off: 0 },
  ];
  let labels = 0;
  // Preorder: a node tests `nr >= pivot`, its left half follows, its right half after that.
  const tree = (list: number[]): void => {
    if (list.length <= 4) {
      const n = labels++;
      const allow = `allow${n}`;
      for (const nr of list) prog.push({ op: "jeq", k: nr, then: checked.has(nr) ? `check${nr}` : allow });
      prog.push({ op: "ret", k: deny }, { label: allow }, { op: "ret", k: SECCOMP_RET_ALLOW });
      for (const nr of list) {
        const check = checked.get(nr);
        if (check === undefined) continue;
        const ok = `ok${nr}`, no = `no${nr}`;
        prog.push({ label: `check${nr}` }, ...check(no, ok));
        prog.push({ label: no }, { op: "ret", k: deny }, { label: ok }, { op: "ret", k: SECCOMP_RET_ALLOW });
      }
      return;
    }
    const mid = list.length >> 1;
    const n = labels++;
    const right = `right${n}`;
    // The right half may lie beyond a conditional jump's reach (255): through a `ja`.
    prog.push({ op: "jge", k: list[mid]!, then: `far${n}`, else: `left${n}` }, { label: `far${n}` }, { op: "ja", to: right }, {
      label: `left${n}`,
    });
    tree(list.slice(0, mid));
    prog.push({ label: right });
    tree(list.slice(mid));
  };
  tree(nrs);
  return assemble(prog);
}

const EPERM = 1;

function sameSites(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The filter on every thread. `log` (the environment's SENTRY_SECCOMP_LOG=1, for measuring the
 * set) logs a refused call to the host's audit log instead of refusing it. `stubSites`: the
 * addresses STUB_SITE_ONLY calls must come from, none when the sentry could not reserve them
 * (then they come from nowhere). Returns null, or why the host refused.
 */
export function installSentryFilter(stubSites: readonly number[]): string | null {
  const mode = Deno.env.get("SENTRY_SECCOMP_LOG") === "1" ? "log" : "errno";
  // The usual filter comes ready-made (sentry_filter_prog.ts); the others are assembled here.
  const prog = mode === "errno" && sameSites(stubSites, STUB_SITES) && SENTRY_FILTER_ERRNO !== ""
    ? decodeBase64(SENTRY_FILTER_ERRNO)
    : sentryFilter(mode, stubSites);
  const r = seccompAllThreads(prog);
  if (r === 0) return null;
  return r < 0 ? `seccomp failed with errno ${-r}` : `thread ${r} could not take the filter`;
}
