/**
 * process_vm_readv(2) and process_vm_writev(2): copies between the caller's memory and another
 * task's, as Linux's mm/process_vm_access.c. The checks come in Linux's order: flags (EINVAL),
 * the local iovecs (EINVAL past IOV_MAX, EFAULT unreadable), nothing to copy (0), the remote
 * iovecs, then the target: an unknown id or a task without memory (a zombie) is ESRCH, one the
 * caller may not ptrace-attach (other real ids, unless CAP_SYS_PTRACE) EPERM. A fault on either
 * side ends the copy: the bytes so far, or EFAULT if none.
 *
 * @module
 */

import { EFAULT, EINVAL, EPERM, ESRCH } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { copyInIovecs, type IoSegment } from "./_file_io.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import { CAP_SYS_PTRACE } from "../../../abi/linux/capability.ts";

const CHUNK = 1 << 16;

/**
 * Linux's ptrace_may_access(PTRACE_MODE_ATTACH_REALCREDS) for another process: the caller's real
 * ids are all of the target's, or it holds CAP_SYS_PTRACE over the target's user namespace;
 * a target that is not dumpable needs that capability; and then the capability check of
 * cap_ptrace_access_check: in the same user namespace, the target's permitted set is within the
 * caller's, else CAP_SYS_PTRACE over the target's namespace (a task in a child user namespace
 * never reaches one outside it this way).
 */
export function mayAttach(t: Task, target: Task): boolean {
  if (target.tg === t.tg) return true;
  const c = t.creds, d = target.creds;
  const sameIds = c.uid === d.uid && c.uid === d.euid && c.uid === d.suid &&
    c.gid === d.gid && c.gid === d.egid && c.gid === d.sgid;
  const cap = c.capableIn(d.userNs, CAP_SYS_PTRACE);
  if (!sameIds && !cap) return false;
  if (target.tg.dumpable !== 1 && !cap) return false;
  return (c.userNs === d.userNs && (d.caps.permitted & ~c.caps.permitted) === 0n) || cap;
}

const total = (segs: IoSegment[]) => segs.reduce((n, s) => n + s.len, 0);

function processVm(t: Task, write: boolean, pid: number, lvec: number, lcnt: number, rvec: number, rcnt: number, flags: bigint): number {
  if (flags !== 0n) throw EINVAL;
  const local = copyInIovecs(t, lvec, lcnt);
  if (total(local) === 0) return 0;
  const remote = copyInIovecs(t, rvec, rcnt);
  if (total(remote) === 0) return 0;
  const target = pid > 0 ? t.findTask(pid) : undefined;
  if (target === undefined || target.tg.zombie) throw ESRCH;
  if (!mayAttach(t, target)) throw EPERM;
  let done = 0, li = 0, loff = 0;
  for (const r of remote) {
    let roff = 0;
    while (roff < r.len && li < local.length) {
      const l = local[li]!;
      if (loff >= l.len) {
        li++;
        loff = 0;
        continue;
      }
      let n = Math.min(r.len - roff, l.len - loff, CHUNK);
      // Secret memory (memfd_secret) has no pages another process can pin: the copy stops there.
      const secret = target.mm.overlapping(r.addr + roff, r.addr + roff + n).find((v) => v.file?.secretMemory);
      if (secret !== undefined) {
        n = Math.max(0, secret.start - (r.addr + roff));
        if (n === 0) {
          if (done === 0) throw EFAULT;
          return done;
        }
      }
      const buf = new Uint8Array(n);
      let got: number, put: number;
      if (write) {
        got = t.readUser(l.addr + loff, buf);
        put = got > 0 ? target.mm.write(r.addr + roff, buf.subarray(0, got)) : 0;
      } else {
        got = target.mm.read(r.addr + roff, buf);
        put = got > 0 ? t.writeUser(l.addr + loff, buf.subarray(0, got)) : 0;
      }
      done += put;
      if (put < n) {
        if (done === 0) throw EFAULT;
        return done;
      }
      roff += n;
      loff += n;
    }
  }
  return done;
}

/** Implements process_vm_readv(2). */
const sysProcessVmReadv: SyscallFn = (t, a) =>
  processVm(t, false, a.int(0), a.pointer(1), a.int(2), a.pointer(3), a.int(4), a.u64(5));

/** Implements process_vm_writev(2). */
const sysProcessVmWritev: SyscallFn = (t, a) =>
  processVm(t, true, a.int(0), a.pointer(1), a.int(2), a.pointer(3), a.int(4), a.u64(5));

export const table: Record<number, SyscallEntry> = {
  310: supported("process_vm_readv", sysProcessVmReadv),
  311: supported("process_vm_writev", sysProcessVmWritev),
};
