/** prctl(2): the options programs probe. */

import { EINVAL } from "../../errno.ts";
import { partial, type SyscallEntry, type SyscallFn } from "./support.ts";

const PR_SET_PDEATHSIG = 1, PR_GET_PDEATHSIG = 2, PR_GET_DUMPABLE = 3, PR_SET_DUMPABLE = 4;
const PR_SET_NAME = 15, PR_GET_NAME = 16, PR_SET_SECCOMP = 22, PR_GET_SECCOMP = 21;
const PR_CAPBSET_READ = 23, PR_SET_CHILD_SUBREAPER = 36, PR_GET_CHILD_SUBREAPER = 37;
const PR_SET_NO_NEW_PRIVS = 38, PR_GET_NO_NEW_PRIVS = 39, PR_SET_VMA = 0x53564d41;

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
      return 0;
    case PR_CAPBSET_READ: {
      const cap = a.int(1);
      if (cap < 0 || cap > 40) throw EINVAL;
      return 1;
    }
    case PR_SET_VMA:
      return 0;
    case PR_SET_SECCOMP:
    default:
      throw EINVAL;
  }
};

export const table: Record<number, SyscallEntry> = {
  157: partial("prctl", sysPrctl, "names, dumpable, pdeathsig, subreaper, no_new_privs; seccomp is EINVAL"),
};
