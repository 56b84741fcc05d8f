/**
 * Waiting for readiness on several descriptors: poll(2), ppoll(2), select(2), pselect6(2).
 * One pass asks every file its readiness; if none is ready the task sleeps on all their wait
 * queues at once and the syscall runs again when any fires (or the deadline passes).
 * A signal ends the wait with EINTR (Linux's ERESTARTNOHAND: never restarted after a handler).
 */

import { EBADF, EINVAL } from "../../errno.ts";
import type { FileDescription } from "../../../vfs/file_description.ts";
import type { WaitQueue } from "../../../waiter/mod.ts";
import {
  EVENT_ERR, EVENT_HUP, EVENT_IN, EVENT_NVAL, EVENT_OUT, EVENT_PRI, EVENT_RDBAND, EVENT_RDNORM,
  EVENT_WRBAND, EVENT_WRNORM,
} from "../../../waiter/mod.ts";
import { monotonicNs } from "../../time.ts";
import type { Task } from "../../task.ts";
import { UNBLOCKABLE } from "../../task_signals.ts";
import { readTimespecNs } from "./_time.ts";
import { block, supported, type SyscallEntry, type SyscallFn, type SyscallResult } from "./support.ts";

/** personality(2)'s STICKY_TIMEOUTS: select and friends do not write the time left back. */
const STICKY_TIMEOUTS = 0x4000000;

export interface PollState {
  deadlineNs: number | null;
  /** True when ppoll/pselect replaced the signal mask (restored when the call returns). */
  maskSwapped: boolean;
  /**
   * select, pselect6 and ppoll write the time left back to their timeout when they return,
   * a signal included (Linux's poll_select_finish; not for a zero timeout): its address, and
   * whether it is a timeval (select) rather than a timespec. Read by the kernel's
   * writeSleepRemainder on EINTR too.
   */
  remAddr?: number;
  remUsec?: boolean;
}

/** Starts (or continues) a wait: computes the deadline once and swaps the mask if asked. */
export function pollState(
  t: Task, timeoutNs: () => number | null, mask: () => bigint | null, rem?: { addr: number; usec: boolean },
): PollState {
  let st = t.syscallState as PollState | null;
  if (st === null) {
    const ns = timeoutNs();
    const m = mask();
    st = { deadlineNs: ns === null ? null : monotonicNs() + ns, maskSwapped: m !== null };
    // personality(STICKY_TIMEOUTS): the timeout is left as given (poll_select_finish).
    if (rem !== undefined && ns !== null && ns > 0 && !(t.personality & STICKY_TIMEOUTS)) {
      st.remAddr = rem.addr;
      st.remUsec = rem.usec;
    }
    if (m !== null) {
      t.savedMask = t.sigmask;
      t.sigmask = m & ~UNBLOCKABLE;
    }
    t.syscallState = st;
  }
  return st;
}

/** The call returns (not through a signal): put the caller's mask back. */
export function finish(t: Task, st: PollState, result: number): number {
  if (st.maskSwapped && t.savedMask !== null) {
    t.sigmask = t.savedMask;
    t.savedMask = null;
  }
  if (st.remAddr !== undefined && st.deadlineNs !== null) {
    const left = BigInt(Math.max(0, Math.round(st.deadlineNs - monotonicNs())));
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setBigInt64(0, left / 1_000_000_000n, true);
    v.setBigInt64(8, st.remUsec ? (left % 1_000_000_000n) / 1000n : left % 1_000_000_000n, true);
    try {
      t.copyOut(st.remAddr, b);
    } catch { /* a timeout that cannot be written back is not an error (poll_select_finish) */ }
  }
  return result;
}

export function expired(st: PollState): boolean {
  return st.deadlineNs !== null && monotonicNs() >= st.deadlineNs;
}

function optionalTimespecNs(t: Task, addr: number): number | null {
  return addr === 0 ? null : readTimespecNs(t, addr);
}

export function readSigmask(t: Task, addr: number, size: number): bigint | null {
  if (addr === 0) return null;
  if (size !== 8) throw EINVAL;
  return t.copyInU64(addr);
}

/** The common part of poll and ppoll. */
function doPoll(t: Task, fdsAddr: number, nfds: number, st: PollState): SyscallResult {
  if (nfds > t.fdTable.limit) throw EINVAL;
  const raw = nfds > 0 ? t.copyIn(fdsAddr, nfds * 8) : new Uint8Array(0);
  const v = new DataView(raw.buffer);
  let ready = 0;
  const queues: WaitQueue[] = [];
  let waitMask = 0;
  for (let i = 0; i < nfds; i++) {
    const fd = v.getInt32(8 * i, true);
    const events = v.getUint16(8 * i + 4, true);
    let revents = 0;
    if (fd >= 0) {
      let f: FileDescription | null = null;
      try {
        f = t.fdTable.get(fd);
      } catch {
        revents = EVENT_NVAL;
      }
      if (f) {
        revents = f.readiness(events | EVENT_ERR | EVENT_HUP) & (events | EVENT_ERR | EVENT_HUP);
        if (revents === 0) {
          queues.push(f.waitQueue);
          waitMask |= events;
        }
      }
    }
    v.setUint16(8 * i + 6, revents, true);
    if (revents !== 0) ready++;
  }
  if (ready > 0 || expired(st)) {
    if (nfds > 0) t.copyOut(fdsAddr, raw);
    return finish(t, st, ready);
  }
  return block(queues, waitMask | EVENT_ERR | EVENT_HUP, st.deadlineNs, "never");
}

/** Implements poll(2). */
const sysPoll: SyscallFn = (t, a) => {
  const timeoutMs = a.int(2);
  const st = pollState(t, () => (timeoutMs < 0 ? null : timeoutMs * 1e6), () => null);
  return doPoll(t, a.pointer(0), a.uint(1), st);
};

/** Implements ppoll(2). */
const sysPpoll: SyscallFn = (t, a) => {
  const st = pollState(t, () => optionalTimespecNs(t, a.pointer(2)), () => readSigmask(t, a.pointer(3), a.sizeT(4)), {
    addr: a.pointer(2),
    usec: false,
  });
  return restoringMask(t, st, () => doPoll(t, a.pointer(0), a.uint(1), st));
};

/**
 * Runs a ppoll/pselect6 pass; an error puts the caller's signal mask back, as Linux's
 * restore_saved_sigmask_unless (only an interrupted wait keeps the temporary mask for the
 * handler).
 */
function restoringMask(t: Task, st: PollState, pass: () => SyscallResult): SyscallResult {
  try {
    return pass();
  } catch (e) {
    finish(t, st, 0);
    throw e;
  }
}

const SELECT_IN = EVENT_IN | EVENT_RDNORM | EVENT_RDBAND | EVENT_HUP | EVENT_ERR;
const SELECT_OUT = EVENT_OUT | EVENT_WRNORM | EVENT_WRBAND | EVENT_ERR;
const SELECT_EX = EVENT_PRI;

/** The common part of select and pselect6. */
function doSelect(t: Task, nfds: number, sets: [number, number, number], st: PollState): SyscallResult {
  if (nfds < 0) throw EINVAL;
  // Linux's core_sys_select: bits beyond the descriptor array are not looked at (nor read).
  nfds = Math.min(nfds, t.fdTable.arraySize);
  const bytes = Math.ceil(nfds / 64) * 8;
  const ins = sets.map((addr) => (addr !== 0 && bytes > 0 ? t.copyIn(addr, bytes) : null));
  const outs = ins.map((b) => (b ? new Uint8Array(b.length) : null));
  const masks = [SELECT_IN, SELECT_OUT, SELECT_EX];
  let ready = 0;
  const queues: WaitQueue[] = [];
  let waitMask = 0;
  for (let fd = 0; fd < nfds; fd++) {
    const byte = fd >> 3, bit = 1 << (fd & 7);
    let want = 0;
    for (let k = 0; k < 3; k++) if (ins[k] && (ins[k]![byte]! & bit)) want |= masks[k]!;
    if (want === 0) continue;
    const f = t.fdTable.has(fd) ? t.fdTable.get(fd) : null;
    if (!f) throw EBADF;
    const r = f.readiness(want);
    let any = false;
    for (let k = 0; k < 3; k++) {
      if (ins[k] && (ins[k]![byte]! & bit) && (r & masks[k]!)) {
        outs[k]![byte]! |= bit;
        ready++;
        any = true;
      }
    }
    if (!any) {
      queues.push(f.waitQueue);
      waitMask |= want;
    }
  }
  if (ready > 0 || expired(st)) {
    for (let k = 0; k < 3; k++) if (outs[k]) t.copyOut(sets[k]!, outs[k]!);
    return finish(t, st, ready);
  }
  return block(queues, waitMask, st.deadlineNs, "never");
}

/** Implements select(2); the timeout is updated with the time left, as Linux does. */
const sysSelect: SyscallFn = (t, a) => {
  const st = pollState(t, () => {
    const addr = a.pointer(4);
    if (addr === 0) return null;
    const b = t.copyIn(addr, 16);
    const v = new DataView(b.buffer);
    const sec = v.getBigInt64(0, true), usec = v.getBigInt64(8, true);
    if (sec < 0n || usec < 0n) throw EINVAL;
    return Number(sec) * 1e9 + Number(usec) * 1000;
  }, () => null, { addr: a.pointer(4), usec: true });
  return doSelect(t, a.int(0), [a.pointer(1), a.pointer(2), a.pointer(3)], st);
};

/** Implements pselect6(2): the sixth argument points at {sigset pointer, size}. */
const sysPselect6: SyscallFn = (t, a) => {
  const st = pollState(t, () => optionalTimespecNs(t, a.pointer(4)), () => {
    const p = a.pointer(5);
    if (p === 0) return null;
    const b = t.copyIn(p, 16);
    const v = new DataView(b.buffer);
    return readSigmask(t, Number(v.getBigUint64(0, true)), Number(v.getBigUint64(8, true)));
  }, { addr: a.pointer(4), usec: false });
  return restoringMask(t, st, () => doSelect(t, a.int(0), [a.pointer(1), a.pointer(2), a.pointer(3)], st));
};

export const table: Record<number, SyscallEntry> = {
  7: supported("poll", sysPoll),
  23: supported("select", sysSelect),
  270: supported("pselect6", sysPselect6),
  271: supported("ppoll", sysPpoll),
};
