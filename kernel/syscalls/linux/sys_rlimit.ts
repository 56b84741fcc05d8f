/** Resource limits: getrlimit(2), setrlimit(2), prlimit64(2). */

import { EINVAL, EPERM, ESRCH } from "../../errno.ts";
import { RLIM_NLIMITS, RLIMIT_CPU, RLIMIT_NOFILE } from "../../../abi/linux/limits.ts";
import type { Limit } from "../../limits.ts";
import type { Task } from "../../task.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import { CAP_SYS_RESOURCE } from "../../../abi/linux/capability.ts";

/** fs.nr_open: the ceiling of RLIMIT_NOFILE. */

function readLimit(t: Task, addr: number): Limit {
  const b = t.copyIn(addr, 16);
  const v = new DataView(b.buffer);
  return { cur: v.getBigUint64(0, true), max: v.getBigUint64(8, true) };
}

function writeLimit(t: Task, addr: number, l: Limit): void {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, l.cur, true);
  v.setBigUint64(8, l.max, true);
  t.copyOut(addr, b);
}

/** Sets a limit with Linux's checks; CAP_SYS_RESOURCE may raise hard limits. */
function setLimit(t: Task, resource: number, l: Limit): void {
  if (l.cur > l.max) throw EINVAL;
  const old = t.tg.limits.get(resource);
  if (l.max > old.max && !t.creds.hasCap(CAP_SYS_RESOURCE)) throw EPERM;
  if (resource === RLIMIT_NOFILE && l.max > BigInt(t.kernel.nrOpen)) throw EPERM;
  t.tg.limits.set(resource, l);
  if (resource === RLIMIT_NOFILE) t.fdTable.limit = t.tg.limits.soft(RLIMIT_NOFILE);
  if (resource === RLIMIT_CPU) t.kernel.armCpuLimit(t.tg);
}

const sysGetrlimit: SyscallFn = (t, a) => {
  const r = a.uint(0);
  if (r >= RLIM_NLIMITS) throw EINVAL;
  writeLimit(t, a.pointer(1), t.tg.limits.get(r));
  return 0;
};

const sysSetrlimit: SyscallFn = (t, a) => {
  const r = a.uint(0);
  if (r >= RLIM_NLIMITS) throw EINVAL;
  setLimit(t, r, readLimit(t, a.pointer(1)));
  return 0;
};

/** Implements prlimit64(2) for the calling process (other processes: ESRCH until they exist). */
const sysPrlimit64: SyscallFn = (t, a) => {
  const pid = a.int(0), r = a.uint(1), newp = a.pointer(2), oldp = a.pointer(3);
  if (r >= RLIM_NLIMITS) throw EINVAL;
  const target = pid === 0 ? t : t.findTask(pid);
  if (!target) throw ESRCH;
  const next = newp !== 0 ? readLimit(t, newp) : null;
  const old = target.tg.limits.get(r);
  if (next) setLimit(target, r, next);
  if (oldp !== 0) writeLimit(t, oldp, old);
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  97: supported("getrlimit", sysGetrlimit),
  160: supported("setrlimit", sysSetrlimit),
  302: supported("prlimit64", sysPrlimit64),
};
