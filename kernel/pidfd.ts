/**
 * pidfd: a process as a file, Linux's kernel/pid.c pidfd_fops. Readable (POLLIN) once the
 * process has exited, with POLLHUP as well once it has been reaped; woken through the thread
 * group's exitQueue. Reading it is EINVAL.
 *
 * A PIDFD_THREAD pidfd names one thread by its id: a non-leader's is readable (with POLLHUP)
 * as soon as no thread has that id any more (it exited, or an exec by it took the leader's
 * id), woken through the group's threadExitQueue; the leader's, as a process's, only once the
 * whole group exited (Linux 6.15).
 *
 * @module
 */

import { PIDFS_MAGIC } from "../abi/linux/file.ts";
import { AnonInodeFile } from "../vfs/anon_file.ts";
import { EINVAL, ESPIPE } from "./errno.ts";
import { O_ACCMODE, O_EXCL, O_RDWR } from "../abi/linux/file.ts";
import type { MemoryIO } from "../vfs/file_description.ts";
import type { Task } from "./task.ts";

/** pidfd_open's PIDFD_THREAD (O_EXCL): a thread, not a process; kept in the file's flags. */
export const PIDFD_THREAD = O_EXCL;
const FIOSETOWN = 0x8901, SIOCSPGRP = 0x8902;
import { EVENT_HUP, EVENT_IN, EVENT_RDNORM } from "../waiter/mod.ts";
import type { Kernel } from "./kernel.ts";
import type { ThreadGroup } from "./thread_group.ts";

/** @savable */
export class PidFd extends AnonInodeFile {
  /** pidfs (Linux 6.9 on), not anon_inodefs. */
  override get pseudoFsType(): number {
    return PIDFS_MAGIC;
  }

  /** Immutable. */
  readonly kernel: Kernel;
  /** Immutable. The process; kept (as Linux keeps its struct pid) after it is reaped. */
  readonly tg: ThreadGroup;
  /** Immutable. PIDFD_THREAD's thread id; 0 for a process pidfd. */
  readonly tid: number;

  constructor(kernel: Kernel, tg: ThreadGroup, flags: number, tid = 0) {
    super("anon_inode:[pidfd]", O_RDWR | flags | (tid !== 0 ? PIDFD_THREAD : 0), tid !== 0 && tid !== tg.tgid ? tg.threadExitQueue : tg.exitQueue);
    this.kernel = kernel;
    this.tg = tg;
    this.tid = tid;
  }

  /** A PIDFD_THREAD pidfd of a thread other than the leader. */
  get nonLeaderThread(): boolean {
    return this.tid !== 0 && this.tid !== this.tg.tgid;
  }

  /** The thread a PIDFD_THREAD pidfd names, while it lives. */
  get thread(): Task | null {
    const t = this.kernel.tasks.get(this.tid);
    return t !== undefined && t.tg === this.tg && t.state !== "dead" ? t : null;
  }

  /**
   * Since Linux 6.9 a pidfd is a pidfs inode, which opens: a new description of the same
   * process with the access mode asked for.
   */
  override reopen(flags: number): PidFd {
    const f = new PidFd(this.kernel, this.tg, 0, this.tid);
    f.flags = (f.flags & ~O_ACCMODE) | (flags & O_ACCMODE);
    return f;
  }

  /** FIOSETOWN: no async notification on a pidfd (EINVAL, Linux 6.9 and later). */
  override ioctl(cmd: number, arg: number, io: MemoryIO): number {
    if (cmd === FIOSETOWN || cmd === SIOCSPGRP) throw EINVAL;
    return super.ioctl(cmd, arg, io);
  }

  /** No llseek in Linux's pidfd file operations: ESPIPE (the other anonymous files have noop_llseek). */
  override seek(): number {
    throw ESPIPE;
  }

  /** True once the process has been reaped. */
  get reaped(): boolean {
    return this.kernel.threadGroups.get(this.tg.tgid) !== this.tg;
  }

  override readiness(mask: number): number {
    if (this.nonLeaderThread) {
      if (this.thread !== null) return 0;
      return (EVENT_IN | EVENT_RDNORM | EVENT_HUP) & (mask | EVENT_HUP);
    }
    if (!this.tg.zombie) return 0;
    const r = EVENT_IN | EVENT_RDNORM | (this.reaped ? EVENT_HUP : 0);
    return r & (mask | EVENT_HUP);
  }
}
