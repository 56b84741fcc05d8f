/**
 * pidfd: a process as a file, Linux's kernel/pid.c pidfd_fops. Readable (POLLIN) once the
 * process has exited, with POLLHUP as well once it has been reaped; woken through the thread
 * group's exitQueue. Reading it is EINVAL.
 *
 * @module
 */

import { O_RDWR } from "../abi/linux/file.ts";
import { EVENT_HUP, EVENT_IN, EVENT_RDNORM } from "../waiter/mod.ts";
import { anonStat } from "../vfs/epoll.ts";
import { FileDescription, type Stat } from "../vfs/file_description.ts";
import type { Kernel } from "./kernel.ts";
import type { ThreadGroup } from "./thread_group.ts";

let nextIno = 1;

/** @savable */
export class PidFd extends FileDescription {
  /** Immutable. */
  readonly kernel: Kernel;
  /** Immutable. The process; kept (as Linux keeps its struct pid) after it is reaped. */
  readonly tg: ThreadGroup;
  readonly ino = nextIno++;

  constructor(kernel: Kernel, tg: ThreadGroup, flags: number) {
    super(O_RDWR | flags, tg.exitQueue);
    this.kernel = kernel;
    this.tg = tg;
  }

  path(): string {
    return "anon_inode:[pidfd]";
  }

  stat(): Stat {
    return anonStat(this.ino);
  }

  override get isStream(): boolean {
    return true;
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
