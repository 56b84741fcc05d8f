/**
 * pidfd: a process as a file, Linux's kernel/pid.c pidfd_fops. Readable (POLLIN) once the
 * process has exited, with POLLHUP as well once it has been reaped; woken through the thread
 * group's exitQueue. Reading it is EINVAL.
 *
 * @module
 */

import { AnonInodeFile } from "../vfs/anon_file.ts";
import { ESPIPE } from "./errno.ts";
import { O_ACCMODE, O_RDWR } from "../abi/linux/file.ts";
import { EVENT_HUP, EVENT_IN, EVENT_RDNORM } from "../waiter/mod.ts";
import type { Kernel } from "./kernel.ts";
import type { ThreadGroup } from "./thread_group.ts";

/** @savable */
export class PidFd extends AnonInodeFile {
  /** Immutable. */
  readonly kernel: Kernel;
  /** Immutable. The process; kept (as Linux keeps its struct pid) after it is reaped. */
  readonly tg: ThreadGroup;

  constructor(kernel: Kernel, tg: ThreadGroup, flags: number) {
    super("anon_inode:[pidfd]", O_RDWR | flags, tg.exitQueue);
    this.kernel = kernel;
    this.tg = tg;
  }

  /**
   * Since Linux 6.9 a pidfd is a pidfs inode, which opens: a new description of the same
   * process with the access mode asked for.
   */
  override reopen(flags: number): PidFd {
    const f = new PidFd(this.kernel, this.tg, 0);
    f.flags = (f.flags & ~O_ACCMODE) | (flags & O_ACCMODE);
    return f;
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
    if (!this.tg.zombie) return 0;
    const r = EVENT_IN | EVENT_RDNORM | (this.reaped ? EVENT_HUP : 0);
    return r & (mask | EVENT_HUP);
  }
}
