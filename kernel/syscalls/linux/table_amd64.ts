/**
 * The x86-64 syscall table, by number: the union of the per-family tables. A number missing
 * here is ENOSYS (logged once per number).
 *
 * @module
 */

import type { SyscallEntry } from "./support.ts";
import { table as admin } from "./sys_admin.ts";
import { table as advice } from "./sys_advice.ts";
import { table as aio } from "./sys_aio.ts";
import { table as attr } from "./sys_attr.ts";
import { table as capability } from "./sys_capability.ts";
import { table as clone } from "./sys_clone.ts";
import { table as dirent } from "./sys_dirent.ts";
import { table as epoll } from "./sys_epoll.ts";
import { table as bpf } from "./sys_bpf.ts";
import { table as eventfd } from "./sys_eventfd.ts";
import { table as exec } from "./sys_exec.ts";
import { table as file } from "./sys_file.ts";
import { table as fs } from "./sys_fs.ts";
import { table as futex } from "./sys_futex.ts";
import { table as identity } from "./sys_identity.ts";
import { table as info } from "./sys_info.ts";
import { table as inotify } from "./sys_inotify.ts";
import { table as ipc } from "./sys_ipc.ts";
import { table as keys } from "./sys_keys.ts";
import { table as landlock } from "./sys_landlock.ts";
import { table as itimer } from "./sys_itimer.ts";
import { table as kill } from "./sys_kill.ts";
import { table as link } from "./sys_link.ts";
import { table as lock } from "./sys_lock.ts";
import { table as memfd } from "./sys_memfd.ts";
import { table as openat2 } from "./sys_openat2.ts";
import { table as membarrier } from "./sys_membarrier.ts";
import { table as mm } from "./sys_mm.ts";
import { table as mount } from "./sys_mount.ts";
import { table as mqueue } from "./sys_mqueue.ts";
import { table as pgrp } from "./sys_pgrp.ts";
import { table as pidfd } from "./sys_pidfd.ts";
import { table as pipe } from "./sys_pipe.ts";
import { table as poll } from "./sys_poll.ts";
import { table as prctl } from "./sys_prctl.ts";
import { table as process } from "./sys_process.ts";
import { table as processVm } from "./sys_process_vm.ts";
import { table as ptrace } from "./sys_ptrace.ts";
import { table as seccomp } from "./sys_seccomp.ts";
import { table as random } from "./sys_random.ts";
import { table as readWrite } from "./sys_read_write.ts";
import { table as rlimit } from "./sys_rlimit.ts";
import { table as sched } from "./sys_sched.ts";
import { table as signal } from "./sys_signal.ts";
import { table as signalfd } from "./sys_signalfd.ts";
import { table as socket } from "./sys_socket_table.ts";
import { table as splice } from "./sys_splice.ts";
import { table as stat } from "./sys_stat.ts";
import { table as thread } from "./sys_thread.ts";
import { table as time } from "./sys_time.ts";
import { table as timer } from "./sys_timer.ts";
import { table as timerfd } from "./sys_timerfd.ts";
import { table as truncate } from "./sys_truncate.ts";
import { table as wait } from "./sys_wait.ts";
import { table as xattr } from "./sys_xattr.ts";

const families: Record<number, SyscallEntry>[] = [
  admin,
  advice,
  aio,
  attr,
  bpf,
  capability,
  clone,
  dirent,
  epoll,
  eventfd,
  exec,
  file,
  fs,
  futex,
  identity,
  info,
  inotify,
  ipc,
  itimer,
  keys,
  landlock,
  kill,
  link,
  lock,
  memfd,
  openat2,
  membarrier,
  mm,
  mount,
  mqueue,
  pgrp,
  pidfd,
  pipe,
  poll,
  prctl,
  process,
  processVm,
  ptrace,
  seccomp,
  random,
  readWrite,
  rlimit,
  sched,
  signal,
  signalfd,
  socket,
  splice,
  stat,
  thread,
  time,
  timer,
  timerfd,
  truncate,
  wait,
  xattr,
];

/** Indexed by syscall number; sparse. */
export const SYSCALL_TABLE: (SyscallEntry | undefined)[] = [];
for (const f of families) {
  for (const [nr, e] of Object.entries(f)) {
    if (SYSCALL_TABLE[Number(nr)]) throw new Error(`Syscall ${nr} is defined twice`);
    SYSCALL_TABLE[Number(nr)] = e;
  }
}
