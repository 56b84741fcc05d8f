/**
 * signalfd(2) and signalfd4(2). The file is in kernel/signalfd.ts.
 *
 * @module
 */

import { EINVAL } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { O_CLOEXEC, O_NONBLOCK } from "../../../abi/linux/file.ts";
import { SignalFd } from "../../signalfd.ts";
import { UNBLOCKABLE } from "../../task_signals.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const SFD_CLOEXEC = O_CLOEXEC;
const SFD_NONBLOCK = O_NONBLOCK;

/** The common part, in the order of Linux's checks: size, mask, flags, then the descriptor. */
function doSignalfd(t: Task, fd: number, maskAddr: number, size: number, flags: number): number {
  if (size !== 8) throw EINVAL;
  const mask = t.copyInU64(maskAddr) & ~UNBLOCKABLE;
  if (flags & ~(SFD_CLOEXEC | SFD_NONBLOCK)) throw EINVAL;
  if (fd === -1) {
    return t.fdTable.install(new SignalFd(t.kernel, t.tg, mask, flags & SFD_NONBLOCK), (flags & SFD_CLOEXEC) !== 0);
  }
  const f = t.fdTable.get(fd);
  if (!(f instanceof SignalFd)) throw EINVAL;
  f.mask = mask;
  f.waitQueue.notify(0x1);
  return fd;
}

/** Implements signalfd(2). */
const sysSignalfd: SyscallFn = (t, a) => doSignalfd(t, a.fd(0), a.pointer(1), a.sizeT(2), 0);

/** Implements signalfd4(2). */
const sysSignalfd4: SyscallFn = (t, a) => doSignalfd(t, a.fd(0), a.pointer(1), a.sizeT(2), a.int(3));

export const table: Record<number, SyscallEntry> = {
  282: supported("signalfd", sysSignalfd),
  289: supported("signalfd4", sysSignalfd4),
};
