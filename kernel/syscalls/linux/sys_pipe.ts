/** pipe(2) and pipe2(2). */

import { EINVAL } from "../../errno.ts";
import { O_CLOEXEC, O_DIRECT, O_NONBLOCK } from "../../../abi/linux/file.ts";
import { DEFAULT_PIPE_SIZE, newPipe, pipeSysctl } from "../../../vfs/pipe.ts";
import { CAP_SYS_RESOURCE } from "../../../abi/linux/capability.ts";
import type { Task } from "../../task.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

function makePipe(t: Task, addr: number, flags: number): number {
  if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT)) throw EINVAL;
  // O_DIRECT (packet mode) is the write end's: Linux's create_pipe_files leaves it off the reader.
  const [r, w] = newPipe(flags & O_NONBLOCK, flags & (O_NONBLOCK | O_DIRECT), { uid: t.creds.fsuid, gid: t.creds.fsgid });
  // alloc_pipe_info: without CAP_SYS_RESOURCE a new pipe is no larger than pipe-max-size.
  if (pipeSysctl.maxSize < DEFAULT_PIPE_SIZE && !t.creds.hasCap(CAP_SYS_RESOURCE)) r.pipe.slots = pipeSysctl.maxSize / 4096;
  const cloexec = (flags & O_CLOEXEC) !== 0;
  let rfd = -1;
  try {
    rfd = t.fdTable.install(r, cloexec);
  } catch (e) {
    w.decRef();
    throw e;
  }
  let wfd: number;
  try {
    wfd = t.fdTable.install(w, cloexec);
  } catch (e) {
    t.fdTable.remove(rfd);
    throw e;
  }
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setInt32(0, rfd, true);
  v.setInt32(4, wfd, true);
  try {
    t.copyOut(addr, b);
  } catch (e) {
    t.fdTable.remove(rfd);
    t.fdTable.remove(wfd);
    throw e;
  }
  return 0;
}

/** Implements pipe(2). */
const sysPipe: SyscallFn = (t, a) => makePipe(t, a.pointer(0), 0);

/** Implements pipe2(2). */
const sysPipe2: SyscallFn = (t, a) => makePipe(t, a.pointer(0), a.int(1));

export const table: Record<number, SyscallEntry> = {
  22: supported("pipe", sysPipe),
  293: supported("pipe2", sysPipe2),
};
