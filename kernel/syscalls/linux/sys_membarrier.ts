/**
 * membarrier(2), as Linux's kernel/sched/membarrier.c: the commands, their flags, and the
 * registrations the expedited ones need (per address space). Every barrier is the platform's
 * global one (application threads run on host threads of the stubs, on any CPU), so the
 * expedited, SYNC_CORE and RSEQ flavours are the same barrier: a superset of each.
 *
 * @module
 */

import { EINVAL, EPERM } from "../../errno.ts";
import { rseqFence } from "../../rseq.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const MEMBARRIER_CMD_QUERY = 0;
const MEMBARRIER_CMD_GLOBAL = 1 << 0;
const MEMBARRIER_CMD_GLOBAL_EXPEDITED = 1 << 1;
const MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED = 1 << 2;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED = 1 << 4;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE = 1 << 5;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE = 1 << 6;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ = 1 << 7;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ = 1 << 8;
const MEMBARRIER_CMD_GET_REGISTRATIONS = 1 << 9;
/** Linux's MEMBARRIER_CMD_BITMASK: what QUERY answers. */
const ALL_COMMANDS = (MEMBARRIER_CMD_GET_REGISTRATIONS << 1) - 1;
const MEMBARRIER_CMD_FLAG_CPU = 1 << 0;

/** The private commands and the registration each needs (else EPERM). */
const PRIVATE_NEEDS: Record<number, number> = {
  [MEMBARRIER_CMD_PRIVATE_EXPEDITED]: MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
  [MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE]: MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE,
  [MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ]: MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ,
};

/** Implements membarrier(2). */
const sysMembarrier: SyscallFn = (t, a) => {
  const cmd = a.int(0), flags = a.uint(1);
  // Only the RSEQ barrier takes a flag (a CPU to aim at); the others none.
  if (cmd === MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ ? flags !== 0 && flags !== MEMBARRIER_CMD_FLAG_CPU : flags !== 0) {
    throw EINVAL;
  }
  const barrier = (): number => {
    if (!(t.kernel.platform.memoryBarrier?.() ?? false)) throw EINVAL;
    return 0;
  };
  switch (cmd) {
    case MEMBARRIER_CMD_QUERY:
      return ALL_COMMANDS;
    case MEMBARRIER_CMD_GLOBAL:
    case MEMBARRIER_CMD_GLOBAL_EXPEDITED:
      return barrier();
    case MEMBARRIER_CMD_PRIVATE_EXPEDITED:
    case MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE:
    case MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ:
      if (!(t.mm.membarrierRegistered & PRIVATE_NEEDS[cmd]!)) throw EPERM;
      // A process alone in its address space has no other thread to reach (Linux returns at once).
      if (t.tg.tasks.size === 1 && t.mm.users === 1) return 0;
      // The RSEQ fence restarts the other threads' critical sections (Linux's IPI sets their
      // notify-resume, which rewrites their CPU fields on the way back to user mode).
      if (cmd === MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) {
        for (const x of t.kernel.tasks.values()) if (x !== t && x.mm === t.mm && x.rseq !== null) rseqFence(x);
      }
      return barrier();
    case MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED:
    case MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED:
    case MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE:
    case MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ:
      t.mm.membarrierRegistered |= cmd;
      return 0;
    case MEMBARRIER_CMD_GET_REGISTRATIONS:
      return t.mm.membarrierRegistered;
    default:
      throw EINVAL;
  }
};

export const table: Record<number, SyscallEntry> = {
  324: supported("membarrier", sysMembarrier),
};
