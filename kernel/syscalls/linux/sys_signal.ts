/**
 * Signal state syscalls: rt_sigaction(2), rt_sigprocmask(2). Dispositions and masks are kept;
 * delivery to handlers comes with the processes-and-signals issue.
 */

import { EINVAL } from "../../errno.ts";
import { SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK, SIGKILL, SIGSTOP } from "../../../abi/linux/signal.ts";
import { sigBit } from "../../signals.ts";
import { partial, type SyscallEntry, type SyscallFn } from "./support.ts";

const UNBLOCKABLE = sigBit(SIGKILL) | sigBit(SIGSTOP);

/** Implements rt_sigaction(2): struct kernel_sigaction is handler, flags, restorer, mask. */
const sysRtSigaction: SyscallFn = (t, a) => {
  const sig = a.int(0), act = a.pointer(1), oact = a.pointer(2);
  if (a.sizeT(3) !== 8) throw EINVAL;
  if (sig < 1 || sig > 64) throw EINVAL;
  const next = act !== 0 ? t.copyIn(act, 32) : null;
  if (next && (sig === SIGKILL || sig === SIGSTOP)) throw EINVAL;
  const old = t.tg.handlers.get(sig);
  if (oact !== 0) {
    const b = new Uint8Array(32);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, old.handler, true);
    v.setBigUint64(8, BigInt(old.flags >>> 0), true);
    v.setBigUint64(16, old.restorer, true);
    v.setBigUint64(24, old.mask, true);
    t.copyOut(oact, b);
  }
  if (next) {
    const v = new DataView(next.buffer);
    t.tg.handlers.set(sig, {
      handler: v.getBigUint64(0, true),
      flags: Number(v.getBigUint64(8, true) & 0xffffffffn),
      restorer: v.getBigUint64(16, true),
      mask: v.getBigUint64(24, true) & ~UNBLOCKABLE,
    });
  }
  return 0;
};

/** Implements rt_sigprocmask(2). */
const sysRtSigprocmask: SyscallFn = (t, a) => {
  const how = a.int(0), set = a.pointer(1), oset = a.pointer(2);
  if (a.sizeT(3) !== 8) throw EINVAL;
  const old = t.sigmask;
  if (set !== 0) {
    const s = t.copyInU64(set);
    switch (how) {
      case SIG_BLOCK:
        t.sigmask = old | s;
        break;
      case SIG_UNBLOCK:
        t.sigmask = old & ~s;
        break;
      case SIG_SETMASK:
        t.sigmask = s;
        break;
      default:
        throw EINVAL;
    }
    t.sigmask &= ~UNBLOCKABLE;
  }
  if (oset !== 0) t.copyOutU64(oset, old);
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  13: partial("rt_sigaction", sysRtSigaction, "handlers are recorded, not yet delivered"),
  14: partial("rt_sigprocmask", sysRtSigprocmask, "masks are recorded, not yet applied to delivery"),
};
