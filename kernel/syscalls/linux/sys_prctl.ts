/** prctl(2): the options programs probe, and the capability options (capabilities(7)). */

import { decodePath, encodePath } from "../../../abi/path_bytes.ts";
import { setFilter, setStrict } from "./sys_seccomp.ts";
import { SECCOMP_MODE_FILTER, SECCOMP_MODE_STRICT } from "../../seccomp.ts";
import { EINVAL, ENAMETOOLONG, ENODEV, EPERM } from "../../errno.ts";
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
      t.name = decodePath(b.subarray(0, end < 0 ? 15 : Math.min(end, 15)));
      return 0;
    }
    case PR_GET_NAME: {
      const b = new Uint8Array(16);
      b.set(encodePath(t.name).subarray(0, 15));
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
      if (a.u64(1) !== 0n || a.u64(2) !== 0n || a.u64(3) !== 0n || a.u64(4) !== 0n) throw EINVAL;
      return t.noNewPrivs ? 1 : 0;
    case PR_SET_TIMERSLACK: {
      // A real-time or deadline task keeps its slack (Linux 6.7 on); 0 restores the default.
      if (t.schedPolicy === 1 || t.schedPolicy === 2 || t.schedPolicy === 6) return 0;
      const v = a.u64(1);
      t.timerSlackNs = v === 0n ? t.defaultTimerSlackNs : Number(v);
      return 0;
    }
    case PR_GET_TIMERSLACK:
      return t.timerSlackNs;
    case PR_SET_THP_DISABLE: {
      // Linux 6.18's prctl_set_thp_disable: flags only with disabling, and only EXCEPT_ADVISED.
      const on = a.u64(1) !== 0n, flags = a.u64(2);
      if (a.u64(3) !== 0n || a.u64(4) !== 0n) throw EINVAL;
      if ((!on && flags !== 0n) || (flags & ~PR_THP_DISABLE_EXCEPT_ADVISED) !== 0n) throw EINVAL;
      t.tg.thpDisable = on ? 1 | Number(flags) : 0;
      return 0;
    }
    case PR_GET_THP_DISABLE:
      if (a.u64(1) !== 0n || a.u64(2) !== 0n || a.u64(3) !== 0n || a.u64(4) !== 0n) throw EINVAL;
      return t.tg.thpDisable;
    case PR_SET_TSC: {
      // set_tsc_mode: the thread's rdtsc faults (SIGSEGV) or works; the host's own
      // PR_SET_TSC on the thread's stub does it (the stub filter lets exactly this prctl through).
      const v = a.u64(1);
      if (v !== BigInt(PR_TSC_ENABLE) && v !== BigInt(PR_TSC_SIGSEGV)) throw EINVAL;
      const off = v === BigInt(PR_TSC_SIGSEGV);
      const r = t.ctx.addressSpace.setTscFaulting?.(t.ctx, off) ?? -38;
      if (r < 0) throw EINVAL;
      t.tscSigsegv = off;
      return 0;
    }
    case PR_GET_TSC:
      t.copyOutU32(a.pointer(1), t.tscSigsegv ? PR_TSC_SIGSEGV : PR_TSC_ENABLE);
      return 0;
    case PR_GET_SPECULATION_CTRL:
      if (a.u64(2) !== 0n || a.u64(3) !== 0n || a.u64(4) !== 0n) throw EINVAL;
      return speculationCtrl(a.u64(1));
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

const PR_SET_TIMERSLACK = 29, PR_GET_TIMERSLACK = 30;
const PR_GET_TSC = 25, PR_SET_TSC = 26, PR_TSC_ENABLE = 1, PR_TSC_SIGSEGV = 2;
const PR_SET_THP_DISABLE = 41, PR_GET_THP_DISABLE = 42, PR_THP_DISABLE_EXCEPT_ADVISED = 2n;
const PR_GET_SPECULATION_CTRL = 52;
const PR_SPEC_STORE_BYPASS = 0n, PR_SPEC_INDIRECT_BRANCH = 1n, PR_SPEC_L1D_FLUSH = 2n;
const PR_SPEC_NOT_AFFECTED = 0, PR_SPEC_PRCTL = 1, PR_SPEC_ENABLE = 2, PR_SPEC_DISABLE = 4, PR_SPEC_FORCE_DISABLE = 8;

/**
 * What PR_GET_SPECULATION_CTRL answers a fresh task about the CPU's mitigations, read once from
 * what the host's kernel shows for the sentry (/proc/self/status: the same CPU and boot
 * options the sandbox's programs run under); a mode the host lets each task choose is reported
 * in a fresh task's state (enabled), as the sandbox does not change it. Unreadable: unaffected.
 */
let speculation: Map<bigint, number> | null = null;

function speculationCtrl(which: bigint): number {
  if (which !== PR_SPEC_STORE_BYPASS && which !== PR_SPEC_INDIRECT_BRANCH && which !== PR_SPEC_L1D_FLUSH) throw ENODEV;
  if (speculation === null) {
    speculation = new Map();
    let status = "", cmdline = "";
    try {
      status = Deno.readTextFileSync("/proc/self/status");
      cmdline = Deno.readTextFileSync("/proc/cmdline");
    } catch { /* unaffected */ }
    const field = (name: string) => status.match(new RegExp(`^${name}:\\s*(.*)$`, "m"))?.[1]?.trim() ?? "";
    // The inverse of Linux's task_seq_show strings (fs/proc/array.c).
    const ssb = field("Speculation_Store_Bypass");
    speculation.set(PR_SPEC_STORE_BYPASS, ssb.startsWith("thread") ? PR_SPEC_PRCTL | PR_SPEC_ENABLE
      : ssb === "globally mitigated" ? PR_SPEC_DISABLE : ssb === "vulnerable" ? PR_SPEC_ENABLE : PR_SPEC_NOT_AFFECTED);
    const ib = field("SpeculationIndirectBranch");
    speculation.set(PR_SPEC_INDIRECT_BRANCH, ib.startsWith("conditional") ? PR_SPEC_PRCTL | PR_SPEC_ENABLE
      : ib === "always enabled" ? PR_SPEC_ENABLE : ib === "always disabled" ? PR_SPEC_DISABLE : PR_SPEC_NOT_AFFECTED);
    // l1d_flush_prctl_get: opting in needs l1d_flush=on at boot; a fresh task has not.
    const l1d = /(^|\s)l1d_flush=on(\s|$)/.test(cmdline);
    speculation.set(PR_SPEC_L1D_FLUSH, l1d ? PR_SPEC_PRCTL | PR_SPEC_FORCE_DISABLE : PR_SPEC_FORCE_DISABLE);
  }
  return speculation.get(which)!;
}

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
