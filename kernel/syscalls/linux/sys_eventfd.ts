/**
 * eventfd(2) and eventfd2(2). The counter is in vfs/eventfd.ts; reads and writes go through
 * read(2)/write(2) like any file.
 *
 * @module
 */

import { EINVAL } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { O_CLOEXEC, O_NONBLOCK } from "../../../abi/linux/file.ts";
import { EFD_SEMAPHORE, EventFd } from "../../../vfs/eventfd.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const EFD_CLOEXEC = O_CLOEXEC;
const EFD_NONBLOCK = O_NONBLOCK;

function newEventFd(t: Task, initval: number, flags: number): number {
  if (flags & ~(EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE)) throw EINVAL;
  const f = new EventFd(initval, (flags & EFD_SEMAPHORE) !== 0, flags & EFD_NONBLOCK);
  return t.fdTable.install(f, (flags & EFD_CLOEXEC) !== 0);
}

/** Implements eventfd(2). */
const sysEventfd: SyscallFn = (t, a) => newEventFd(t, a.uint(0), 0);

/** Implements eventfd2(2). */
const sysEventfd2: SyscallFn = (t, a) => newEventFd(t, a.uint(0), a.int(1));

export const table: Record<number, SyscallEntry> = {
  284: supported("eventfd", sysEventfd),
  290: supported("eventfd2", sysEventfd2),
};
