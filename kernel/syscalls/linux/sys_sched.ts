/** Scheduling queries: sched_getaffinity(2), sched_yield(2). */

import { EINVAL, ESRCH } from "../../errno.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

/** CPUs the sandbox reports: as many as the host gives the sentry. */
export function sandboxCpus(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/** Implements sched_getaffinity(2): every sandbox CPU; returns the mask size in bytes. */
const sysSchedGetaffinity: SyscallFn = (t, a) => {
  const pid = a.int(0), len = a.uint(1);
  if (pid !== 0 && !t.kernel.tasks.has(pid)) throw ESRCH;
  const ncpu = sandboxCpus();
  const size = Math.ceil(ncpu / 64) * 8;
  if (len < size || len % 8 !== 0) throw EINVAL;
  const b = new Uint8Array(size);
  for (let c = 0; c < ncpu; c++) b[c >> 3]! |= 1 << (c & 7);
  t.copyOut(a.pointer(2), b);
  return size;
};

const sysSchedYield: SyscallFn = () => 0;

export const table: Record<number, SyscallEntry> = {
  24: supported("sched_yield", sysSchedYield),
  204: supported("sched_getaffinity", sysSchedGetaffinity),
};
