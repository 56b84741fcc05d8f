/**
 * The x86-64 syscall table, by number: the union of the per-family tables. A number missing
 * here is ENOSYS (logged once per number).
 *
 * @module
 */

import type { SyscallEntry, SyscallFn } from "./support.ts";
import { LazyModule } from "../../lazy_module.ts";
import { syscallName } from "../../../abi/linux/syscall_names.ts";
import { table as advice } from "./sys_advice.ts";
import { table as clone } from "./sys_clone.ts";
import { table as dirent } from "./sys_dirent.ts";
import { table as exec } from "./sys_exec.ts";
import { table as file } from "./sys_file.ts";
import { table as fs } from "./sys_fs.ts";
import { table as futex } from "./sys_futex.ts";
import { table as identity } from "./sys_identity.ts";
import { table as info } from "./sys_info.ts";
import { table as kill } from "./sys_kill.ts";
import { table as lock } from "./sys_lock.ts";
import { table as memfd } from "./sys_memfd.ts";
import { table as openat2 } from "./sys_openat2.ts";
import { table as mm } from "./sys_mm.ts";
import { table as pgrp } from "./sys_pgrp.ts";
import { table as pipe } from "./sys_pipe.ts";
import { table as poll } from "./sys_poll.ts";
import { table as process } from "./sys_process.ts";
import { table as processVm } from "./sys_process_vm.ts";
import { table as random } from "./sys_random.ts";
import { table as readWrite } from "./sys_read_write.ts";
import { table as rlimit } from "./sys_rlimit.ts";
import { table as signal } from "./sys_signal.ts";
import { table as socket } from "./sys_socket_table.ts";
import { table as stat } from "./sys_stat.ts";
import { table as thread } from "./sys_thread.ts";
import { table as time } from "./sys_time.ts";
import { table as wait } from "./sys_wait.ts";

const families: Record<number, SyscallEntry>[] = [
  advice,
  clone,
  dirent,
  exec,
  file,
  fs,
  futex,
  identity,
  info,
  kill,
  lock,
  memfd,
  openat2,
  mm,
  pgrp,
  pipe,
  poll,
  process,
  processVm,
  random,
  readWrite,
  rlimit,
  signal,
  socket,
  stat,
  thread,
  time,
  wait,
];

/** Indexed by syscall number; sparse. */
export const SYSCALL_TABLE: (SyscallEntry | undefined)[] = [];
for (const f of families) {
  for (const [nr, e] of Object.entries(f)) {
    if (SYSCALL_TABLE[Number(nr)]) throw new Error(`Syscall ${nr} is defined twice`);
    SYSCALL_TABLE[Number(nr)] = e;
  }
}

/** A family of syscalls whose module loads at the first call of one of them. */
export interface LazyFamily {
  name: string;
  module: LazyModule<{ table: Record<number, SyscallEntry> }>;
  /** Its syscall numbers (lazy_families_test.ts checks them against its table). */
  nrs: readonly number[];
}

function family(name: string, load: () => Promise<{ table: Record<number, SyscallEntry> }>, nrs: number[]): LazyFamily {
  return { name, module: new LazyModule(`${name}.ts`, load), nrs };
}

/**
 * The families few programs call (~12% of the kernel's code a start loaded, with what only they
 * import): each loads at the first call of one of its syscalls (kernel/lazy_module.ts: the call
 * sleeps while it loads, and runs when it is there), and its entries then replace the stubs.
 * Until then a stub is named from abi/linux/syscall_names.ts (--strace).
 */
export const LAZY_FAMILIES: readonly LazyFamily[] = [
  family("sys_mount", () => import("./sys_mount.ts"), [428, 429, 430, 431, 432, 433, 442, 155, 161, 165, 166]),
  family("sys_ptrace", () => import("./sys_ptrace.ts"), [101]),
  family("sys_ipc", () => import("./sys_ipc.ts"), [29, 30, 31, 64, 65, 66, 67, 68, 69, 70, 71, 220]),
  family("sys_aio", () => import("./sys_aio.ts"), [206, 207, 208, 209, 210, 333]),
  family("sys_io_uring", () => import("./sys_io_uring.ts"), [425, 426, 427]),
  family("sys_splice", () => import("./sys_splice.ts"), [40, 275, 276, 278, 326, 436]),
  family("sys_fhandle", () => import("./sys_fhandle.ts"), [303, 304]),
  family("sys_fanotify", () => import("./sys_fanotify.ts"), [300, 301]),
  family("sys_mqueue", () => import("./sys_mqueue.ts"), [240, 241, 242, 243, 244, 245]),
  family("sys_xattr", () => import("./sys_xattr.ts"), [136, 137, 138, 139, 188, 189, 190, 191, 192, 193, 194, 195, 196, 197, 198, 199]),
  family("sys_keys", () => import("./sys_keys.ts"), [248, 249, 250]),
  family("sys_landlock", () => import("./sys_landlock.ts"), [444, 445, 446]),
  family("sys_admin", () => import("./sys_admin.ts"), [103, 153, 164, 170, 171, 227]),
  family("sys_pidfd", () => import("./sys_pidfd.ts"), [424, 434, 438]),
  family("sys_membarrier", () => import("./sys_membarrier.ts"), [324]),
  family("sys_inotify", () => import("./sys_inotify.ts"), [253, 254, 255, 294]),
  family("sys_timerfd", () => import("./sys_timerfd.ts"), [283, 286, 287]),
  family("sys_signalfd", () => import("./sys_signalfd.ts"), [282, 289]),
  family("sys_itimer", () => import("./sys_itimer.ts"), [36, 37, 38, 98, 100]),
  family("sys_timer", () => import("./sys_timer.ts"), [222, 223, 224, 225, 226]),
  family("sys_attr", () => import("./sys_attr.ts"), [90, 91, 92, 93, 94, 132, 235, 260, 261, 268, 280, 452, 468, 469]),
  family("sys_bpf", () => import("./sys_bpf.ts"), [321]),
  family("sys_lsm", () => import("./sys_lsm.ts"), [459, 460, 461]),
  family("sys_cachestat", () => import("./sys_cachestat.ts"), [451]),
  family("sys_mseal", () => import("./sys_mseal.ts"), [462]),
  family("sys_remap", () => import("./sys_remap.ts"), [216]),
  family("sys_secretmem", () => import("./sys_secretmem.ts"), [447]),
  family("sys_statmount", () => import("./sys_statmount.ts"), [457, 458]),
  // Common in servers and build tools, but not in a short program's start (ld.so and libc's
  // start call none of them): each is loaded once per sandbox at its first call (~1 ms then),
  // and a `do -- /bin/true` loads ~20 KB less of the bundle.
  family("sys_epoll", () => import("./sys_epoll.ts"), [213, 232, 233, 281, 291, 441]),
  family("sys_eventfd", () => import("./sys_eventfd.ts"), [284, 290]),
  family("sys_capability", () => import("./sys_capability.ts"), [125, 126]),
  family("sys_link", () => import("./sys_link.ts"), [82, 83, 84, 86, 87, 88, 133, 258, 259, 263, 264, 265, 266, 316]),
  family("sys_truncate", () => import("./sys_truncate.ts"), [74, 75, 76, 77, 162, 277, 285, 306]),
  family("sys_prctl", () => import("./sys_prctl.ts"), [157]),
  family("sys_seccomp", () => import("./sys_seccomp.ts"), [317]),
  family("sys_userfaultfd", () => import("./sys_userfaultfd.ts"), [323]),
  // Runtimes (Go, the JVM, Node, Rust's available_parallelism) ask for their affinity as they
  // start; libc's own start does not.
  family("sys_sched", () => import("./sys_sched.ts"), [24, 140, 141, 142, 143, 144, 145, 146, 147, 148, 203, 204, 309, 314, 315]),
];

/** The stubs of LAZY_FAMILIES' syscalls, replaced by the real entries once a family is loaded. */
const stubs = new Set<SyscallFn>();
for (const f of LAZY_FAMILIES) {
  for (const nr of f.nrs) {
    if (SYSCALL_TABLE[nr]) throw new Error(`Syscall ${nr} is defined twice`);
    const stub: SyscallFn = (t, a) => {
      const table = f.module.get().table; // may sleep until it loads (then this runs again)
      for (const n of f.nrs) if (stubs.has(SYSCALL_TABLE[n]!.fn)) SYSCALL_TABLE[n] = table[n];
      return table[nr]!.fn(t, a);
    };
    stubs.add(stub);
    SYSCALL_TABLE[nr] = { name: syscallName(nr), support: "supported", fn: stub };
  }
}
