/**
 * seccomp(2) and what prctl(PR_SET_SECCOMP) shares with it: entering strict mode, adding a
 * filter (checked by kernel/seccomp.ts; no_new_privs or CAP_SYS_ADMIN needed, EACCES
 * otherwise), and the queries. The filters then run in Kernel.#syscall.
 *
 * @module
 */

import { EACCES, EFAULT, EINVAL, ENOMEM, EOPNOTSUPP } from "../../errno.ts";
import type { Task } from "../../task.ts";
import {
  checkFilter, KNOWN_ACTIONS, MAX_INSNS, MAX_TOTAL_INSNS, SECCOMP_MODE_FILTER, SECCOMP_MODE_STRICT,
} from "../../seccomp.ts";
import { CAP_SYS_ADMIN } from "../../../abi/linux/capability.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const SECCOMP_SET_MODE_STRICT = 0;
const SECCOMP_SET_MODE_FILTER = 1;
const SECCOMP_GET_ACTION_AVAIL = 2;
const SECCOMP_GET_NOTIF_SIZES = 3;

const SECCOMP_FILTER_FLAG_TSYNC = 1;
const SECCOMP_FILTER_FLAG_LOG = 2;
const SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4;
const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;
const SECCOMP_FILTER_FLAG_TSYNC_ESRCH = 16;
const KNOWN_FLAGS = SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW |
  SECCOMP_FILTER_FLAG_TSYNC_ESRCH;

/** Strict mode: from then on only read, write, exit and rt_sigreturn (anything else is SIGKILL). */
export function setStrict(t: Task): number {
  if (t.seccomp !== null) throw EINVAL; // a filter or strict mode already: no way back or across
  t.seccomp = { mode: SECCOMP_MODE_STRICT, filters: [] };
  return 0;
}

/** Adds the filter at `fprog` (struct sock_fprog) to t, or to every thread of its process (TSYNC). */
export function setFilter(t: Task, flags: number, fprog: number): number {
  if (flags & ~(KNOWN_FLAGS | SECCOMP_FILTER_FLAG_NEW_LISTENER)) throw EINVAL;
  // User notification needs a listener the sentry does not offer: as a kernel without it.
  if (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) throw EINVAL;
  // Linux's order: the filter is prepared first (seccomp_prepare_user_filter: the sock_fprog's
  // copy, its length, the privilege check, the program's copy and check), then the mode.
  if (fprog === 0) throw EFAULT;
  const hdr = t.copyIn(fprog, 16);
  const v = new DataView(hdr.buffer, hdr.byteOffset, hdr.byteLength);
  const len = v.getUint16(0, true);
  const addr = Number(v.getBigUint64(8, true));
  if (len === 0 || len > MAX_INSNS) throw EINVAL;
  if (!t.noNewPrivs && !t.creds.hasOwnCap(CAP_SYS_ADMIN)) throw EACCES;
  const prog = t.copyIn(addr, len * 8).slice();
  checkFilter(prog);
  if (t.seccomp?.mode === SECCOMP_MODE_STRICT) throw EINVAL;
  const old = t.seccomp?.filters ?? [];
  if (old.reduce((n, f) => n + f.length / 8 + 4, 0) + len + 4 > MAX_TOTAL_INSNS) throw ENOMEM;
  const next = { mode: SECCOMP_MODE_FILTER, filters: [prog, ...old] };
  if (flags & SECCOMP_FILTER_FLAG_TSYNC) {
    // Every thread takes the new list; Linux requires the others' filters to be ancestors of
    // ours, which holds for threads that never set their own.
    for (const other of t.tg.tasks) {
      if (other !== t && other.seccomp !== t.seccomp) {
        if (other.seccomp?.mode === SECCOMP_MODE_STRICT) return other.tid;
        if (!isAncestor(other.seccomp?.filters ?? [], old)) return other.tid;
      }
    }
    // ... and no_new_privs when the caller has it (seccomp_sync_threads).
    for (const other of t.tg.tasks) {
      other.seccomp = next;
      if (t.noNewPrivs) other.noNewPrivs = true;
    }
  } else {
    t.seccomp = next;
  }
  return 0;
}

/** Whether `a` is the list `b` or a tail of it (filters are added at the front). */
function isAncestor(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  if (a.length > b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[a.length - 1 - i] !== b[b.length - 1 - i]) return false;
  return true;
}

/** Implements seccomp(2). */
const sysSeccomp: SyscallFn = (t, a) => {
  const op = a.uint(0), flags = a.uint(1), args = a.pointer(2);
  switch (op) {
    case SECCOMP_SET_MODE_STRICT:
      if (flags !== 0 || args !== 0) throw EINVAL;
      return setStrict(t);
    case SECCOMP_SET_MODE_FILTER:
      return setFilter(t, flags, args);
    case SECCOMP_GET_ACTION_AVAIL: {
      if (flags !== 0) throw EINVAL;
      const b = t.copyIn(args, 4);
      const action = new DataView(b.buffer, b.byteOffset).getUint32(0, true);
      if (!KNOWN_ACTIONS.has(action)) throw EOPNOTSUPP;
      return 0;
    }
    case SECCOMP_GET_NOTIF_SIZES: {
      if (flags !== 0) throw EINVAL;
      const b = new Uint8Array(6);
      const v = new DataView(b.buffer);
      v.setUint16(0, 80, true); // struct seccomp_notif
      v.setUint16(2, 24, true); // struct seccomp_notif_resp
      v.setUint16(4, 64, true); // struct seccomp_data
      t.copyOut(args, b);
      return 0;
    }
    default:
      throw EINVAL;
  }
};

export const table: Record<number, SyscallEntry> = {
  317: supported("seccomp", sysSeccomp),
};
