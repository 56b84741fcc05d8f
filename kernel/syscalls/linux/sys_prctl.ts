/** prctl(2): the options programs probe, and the capability options (capabilities(7)). */

import { setFilter, setStrict } from "./sys_seccomp.ts";
import { SECCOMP_MODE_FILTER, SECCOMP_MODE_STRICT } from "../../seccomp.ts";
import { EINVAL, ENAMETOOLONG, EPERM } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { partial, type SyscallArgs, type SyscallEntry, type SyscallFn } from "./support.ts";
import {
  CAP_LAST_CAP,
  CAP_SETPCAP,
  CAP_SYS_RESOURCE,
  SECURE_ALL_BITS,
  SECURE_ALL_LOCKS,
  SECURE_KEEP_CAPS,
  SECURE_NO_CAP_AMBIENT_RAISE,
} from "../../../abi/linux/capability.ts";

const PR_SET_PDEATHSIG = 1, PR_GET_PDEATHSIG = 2, PR_GET_DUMPABLE = 3, PR_SET_DUMPABLE = 4;
const PR_SET_MM = 35, PR_SET_MM_MAP = 14, PR_SET_MM_MAP_SIZE = 15;
const PR_SET_NAME = 15, PR_GET_NAME = 16, PR_SET_SECCOMP = 22, PR_GET_SECCOMP = 21;
const PR_CAPBSET_READ = 23, PR_SET_CHILD_SUBREAPER = 36, PR_GET_CHILD_SUBREAPER = 37;
const PR_SET_NO_NEW_PRIVS = 38, PR_GET_NO_NEW_PRIVS = 39, PR_SET_VMA = 0x53564d41;
const PR_GET_KEEPCAPS = 7, PR_SET_KEEPCAPS = 8, PR_CAPBSET_DROP = 24;
const PR_GET_SECUREBITS = 27, PR_SET_SECUREBITS = 28, PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_IS_SET = 1, PR_CAP_AMBIENT_RAISE = 2, PR_CAP_AMBIENT_LOWER = 3, PR_CAP_AMBIENT_CLEAR_ALL = 4;

/** A capability number argument: EINVAL unless 0..CAP_LAST_CAP. */
function capArg(a: SyscallArgs, i: number): bigint {
  const cap = a.u64(i);
  if (cap > BigInt(CAP_LAST_CAP)) throw EINVAL;
  return 1n << cap;
}

/**
 * Linux's cap_prctl_drop and the securebits and keepcaps options: the bounding set loses bits
 * with CAP_SETPCAP; securebits change with CAP_SETPCAP and never through a lock bit, nor unlock;
 * keepcaps is SECURE_KEEP_CAPS, refused when locked.
 */
function capabilityPrctl(t: Task, op: number, a: SyscallArgs): number {
  const c = t.creds, caps = c.caps;
  switch (op) {
    case PR_CAPBSET_READ:
      return (caps.bounding & capArg(a, 1)) !== 0n ? 1 : 0;
    case PR_CAPBSET_DROP: {
      const bit = capArg(a, 1);
      if (!c.hasOwnCap(CAP_SETPCAP)) throw EPERM;
      t.commitCreds(c.withCaps({ bounding: caps.bounding & ~bit }));
      return 0;
    }
    case PR_GET_SECUREBITS:
      return caps.securebits;
    case PR_SET_SECUREBITS: {
      const old = caps.securebits, v = a.u64(1);
      if (v > BigInt(SECURE_ALL_BITS | SECURE_ALL_LOCKS)) throw EPERM;
      const next = Number(v);
      const locked = (old & SECURE_ALL_LOCKS) >> 1;
      if ((locked & (old ^ next)) !== 0 || (old & SECURE_ALL_LOCKS & ~next) !== 0 || !c.hasOwnCap(CAP_SETPCAP)) throw EPERM;
      t.commitCreds(c.withCaps({ securebits: next }));
      return 0;
    }
    case PR_GET_KEEPCAPS:
      return c.secure(SECURE_KEEP_CAPS) ? 1 : 0;
    case PR_SET_KEEPCAPS: {
      const v = a.u64(1);
      if (v > 1n) throw EINVAL;
      if (c.secure(SECURE_KEEP_CAPS + 1)) throw EPERM;
      const bit = 1 << SECURE_KEEP_CAPS;
      t.commitCreds(c.withCaps({ securebits: v === 1n ? caps.securebits | bit : caps.securebits & ~bit }));
      return 0;
    }
    case PR_CAP_AMBIENT: {
      const sub = a.u64(1);
      if (sub === BigInt(PR_CAP_AMBIENT_CLEAR_ALL)) {
        if (a.u64(2) !== 0n || a.u64(3) !== 0n || a.u64(4) !== 0n) throw EINVAL;
        t.commitCreds(c.withCaps({ ambient: 0n }));
        return 0;
      }
      const bit = capArg(a, 2);
      if (a.u64(3) !== 0n || a.u64(4) !== 0n) throw EINVAL;
      switch (sub) {
        case BigInt(PR_CAP_AMBIENT_IS_SET):
          return (caps.ambient & bit) !== 0n ? 1 : 0;
        case BigInt(PR_CAP_AMBIENT_RAISE):
          if ((caps.permitted & bit) === 0n || (caps.inheritable & bit) === 0n) throw EPERM;
          if (c.secure(SECURE_NO_CAP_AMBIENT_RAISE)) throw EPERM;
          t.commitCreds(c.withCaps({ ambient: caps.ambient | bit }));
          return 0;
        case BigInt(PR_CAP_AMBIENT_LOWER):
          t.commitCreds(c.withCaps({ ambient: caps.ambient & ~bit }));
          return 0;
        default:
          throw EINVAL;
      }
    }
    default:
      throw EINVAL;
  }
}

/** Implements prctl(2) for names, dumpable, pdeathsig, subreaper and no_new_privs. */
const sysPrctl: SyscallFn = (t, a) => {
  const op = a.int(0);
  switch (op) {
    case PR_SET_NAME: {
      const b = t.copyIn(a.pointer(1), 16);
      const end = b.indexOf(0);
      t.name = new TextDecoder().decode(b.subarray(0, end < 0 ? 15 : Math.min(end, 15)));
      return 0;
    }
    case PR_GET_NAME: {
      const b = new Uint8Array(16);
      b.set(new TextEncoder().encode(t.name).subarray(0, 15));
      t.copyOut(a.pointer(1), b);
      return 0;
    }
    case PR_SET_PDEATHSIG: {
      const sig = a.int(1);
      if (sig < 0 || sig > 64) throw EINVAL;
      t.pdeathSignal = sig;
      return 0;
    }
    case PR_GET_PDEATHSIG:
      t.copyOutU32(a.pointer(1), t.pdeathSignal);
      return 0;
    case PR_GET_DUMPABLE:
      return t.tg.dumpable;
    case PR_SET_DUMPABLE: {
      const v = a.int(1);
      if (v !== 0 && v !== 1) throw EINVAL;
      t.tg.dumpable = v;
      return 0;
    }
    case PR_SET_CHILD_SUBREAPER:
      t.tg.subreaper = a.int(1) !== 0;
      return 0;
    case PR_GET_CHILD_SUBREAPER:
      t.copyOutU32(a.pointer(1), t.tg.subreaper ? 1 : 0);
      return 0;
    case PR_SET_NO_NEW_PRIVS:
      if (a.int(1) !== 1 || a.u64(2) !== 0n || a.u64(3) !== 0n || a.u64(4) !== 0n) throw EINVAL;
      t.noNewPrivs = true;
      return 0;
    case PR_GET_NO_NEW_PRIVS:
      return t.noNewPrivs ? 1 : 0;
    case PR_GET_SECCOMP:
      return t.seccomp?.mode ?? 0;
    case PR_CAPBSET_READ:
    case PR_CAPBSET_DROP:
    case PR_GET_SECUREBITS:
    case PR_SET_SECUREBITS:
    case PR_GET_KEEPCAPS:
    case PR_SET_KEEPCAPS:
    case PR_CAP_AMBIENT:
      return capabilityPrctl(t, op, a);
    case PR_SET_VMA:
      return setVmaAnonName(t, a);
    case PR_SET_MM: {
      // Linux's prctl_set_mm: the map operations need CONFIG_CHECKPOINT_RESTORE (EINVAL here);
      // the others need CAP_SYS_RESOURCE, then are refused (the sentry lays out memory itself).
      const sub = a.int(1);
      if (sub !== PR_SET_MM_MAP && sub !== PR_SET_MM_MAP_SIZE && !t.creds.hasCap(CAP_SYS_RESOURCE)) throw EPERM;
      throw EINVAL;
    }
    case PR_SET_SECCOMP: {
      const mode = a.int(1);
      if (mode === SECCOMP_MODE_STRICT) return setStrict(t);
      if (mode === SECCOMP_MODE_FILTER) return setFilter(t, 0, a.pointer(2));
      throw EINVAL;
    }
    default:
      throw EINVAL;
  }
};

/** ANON_VMA_NAME_MAX_LEN: the longest name, its NUL included. */
const ANON_VMA_NAME_MAX_LEN = 80;
const PR_SET_VMA_ANON_NAME = 0;

/**
 * prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, len, name): the name /proc/PID/maps shows for
 * anonymous memory ([anon:NAME], [anon_shmem:NAME]); a NULL name removes it. Names are at most
 * 79 printable bytes without [ ] \ $ or ` (Linux's is_valid_name_char), else EINVAL.
 */
function setVmaAnonName(t: Task, a: SyscallArgs): number {
  if (a.u64(1) !== BigInt(PR_SET_VMA_ANON_NAME)) throw EINVAL;
  const addr = a.pointer(2), len = a.sizeT(3), nameAddr = a.pointer(4);
  let name: string | null = null;
  if (nameAddr !== 0) {
    try {
      name = t.copyInString(nameAddr, ANON_VMA_NAME_MAX_LEN - 1);
    } catch (e) {
      if (e === ENAMETOOLONG) throw EINVAL;
      throw e;
    }
    if (!/^[\x20-\x7e]*$/.test(name) || /[[\]\\$`]/.test(name)) throw EINVAL;
  }
  if (!Number.isSafeInteger(addr) || addr + len < addr) throw EINVAL;
  t.mm.setAnonName(addr, len, name);
  return 0;
}

export const table: Record<number, SyscallEntry> = {
  157: partial("prctl", sysPrctl, "names, dumpable, pdeathsig, subreaper, no_new_privs, capabilities (bounding, ambient, securebits, keepcaps), seccomp"),
};
