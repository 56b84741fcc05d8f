/**
 * Checkpoint of a process's timers beyond ITIMER_REAL (issue #13; docs/checkpoint.md):
 * ITIMER_VIRTUAL and ITIMER_PROF, the RLIMIT_CPU timers, and POSIX timers (timer_create) on the
 * monotonic, realtime and boot clocks or on a CPU-time clock, with their interval, the value and
 * target of their signal, their overrun counts and whether their signal is queued.
 *
 * Times are saved on the clock the timer counts: a deadline on the monotonic clock (which
 * continues across a restore), an expiry on a process or thread CPU clock (which continue too:
 * a restored thread's CPU time starts from its saved value). So each keeps its remaining time.
 *
 * @module
 */

import { intIn, z } from "./zod_tree.ts";
import type { Kernel } from "../kernel.ts";
import type { ThreadGroup } from "../thread_group.ts";
import type { Task } from "../task.ts";
import type { CpuClockKind } from "../cpu_time.ts";
import { type CpuTimer, type KernelTimer, type PosixTimer, SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD, SIGEV_THREAD_ID } from "../timers.ts";
import { ImageError } from "./image.ts";

const SI_KERNEL = 0x80, SI_TIMER = -2;
const SIGVTALRM = 26, SIGPROF = 27, SIGXCPU = 24, SIGKILL = 9;

const ns = z.number().min(0).max(2 ** 62);
const hex64 = z.string().regex(/^[0-9a-f]{1,16}$/);
const tid = intIn(1, 1 << 22);
const cpuKind = z.enum(["sched", "prof", "virt"]);

const cpuTimerSchema = z.object({ expiresNs: ns, intervalNs: ns }).strict();

export const processTimersSchema = z.object({
  itimerVirtual: cpuTimerSchema.nullable(),
  itimerProf: cpuTimerSchema.nullable(),
  /** RLIMIT_CPU's timers: SIGXCPU at the soft limit (then every second), SIGKILL at the hard one. */
  // The timers' own schemas are built at the first such timer an image holds (z.lazy).
  cpuLimit: z.array(z.lazy(() => cpuTimerSchema.extend({ signo: z.union([z.literal(SIGXCPU), z.literal(SIGKILL)]) }).strict())).max(2),
  posix: z.array(z.lazy(() => z.object({
    id: intIn(0, 0x7fff_ffff),
    clockId: intIn(-(2 ** 31), 2 ** 31 - 1),
    notify: z.union([z.literal(SIGEV_SIGNAL), z.literal(SIGEV_NONE), z.literal(SIGEV_THREAD), z.literal(SIGEV_THREAD_ID)]),
    signo: intIn(0, 64),
    value: hex64,
    /** SIGEV_THREAD_ID's thread (a tid of this process), or null. */
    thread: tid.nullable(),
    wall: z.object({ deadlineNs: ns, intervalNs: ns }).strict().nullable(),
    /** On a CPU clock: of the process (thread null) or of one of its threads. */
    cpu: cpuTimerSchema.extend({ kind: cpuKind, thread: tid.nullable() }).strict().nullable(),
    seq: intIn(0, 0xffff_ffff),
    queued: z.boolean(),
    overrun: intIn(0, 0x7fff_ffff),
    lastOverrun: intIn(0, 0x7fff_ffff),
  }).strict())).max(1 << 16),
}).strict();

export type SavedProcessTimers = z.infer<typeof processTimersSchema>;

function hex(v: bigint): string {
  return BigInt.asUintN(64, v).toString(16);
}

/** Why something is not saved, in one line. */
export type Refuse = (what: string) => Error;

/** The timers of tg. */
export function saveProcessTimers(tg: ThreadGroup, refuse: Refuse): SavedProcessTimers {
  const cpu = (t: CpuTimer | null) => t === null ? null : { expiresNs: t.expiresNs, intervalNs: t.intervalNs };
  const posix = [...tg.posixTimers.values()].map((p) => {
    // A SIGEV_THREAD_ID timer whose thread exited signals the process (Kernel.#fireTimer), as
    // one without a thread does: saved so. A timer on the CPU clock of an exited thread is not.
    const thread = p.thread !== null && p.thread.state !== "dead" ? p.thread : null;
    if (thread !== null && thread.tg !== tg) throw refuse(`a POSIX timer of process ${tg.tgid} names a thread of another process`);
    const clockThread = p.cpu?.clock.thread ?? null;
    if (clockThread !== null && (clockThread.tg !== tg || clockThread.state === "dead")) {
      throw refuse(`a POSIX timer of process ${tg.tgid} is on the CPU clock of a thread that has exited`);
    }
    if (p.wall !== null && p.cpu !== null) throw refuse(`a POSIX timer of process ${tg.tgid} is on two clocks`);
    return {
      id: p.id,
      clockId: p.clockId,
      notify: p.notify as 0 | 1 | 2 | 4,
      signo: p.signo,
      value: hex(p.value),
      thread: thread?.tid ?? null,
      wall: p.wall === null ? null : { deadlineNs: Math.max(0, p.wall.deadlineNs), intervalNs: p.wall.intervalNs },
      cpu: p.cpu === null ? null : { kind: p.cpu.clock.kind, thread: p.cpu.clock.thread?.tid ?? null, expiresNs: p.cpu.expiresNs, intervalNs: p.cpu.intervalNs },
      seq: p.seq,
      queued: p.queued,
      overrun: p.overrun,
      lastOverrun: p.lastOverrun,
    };
  });
  return {
    itimerVirtual: cpu(tg.itimerVirtual),
    itimerProf: cpu(tg.itimerProf),
    cpuLimit: tg.cpuLimitTimers.map((t) => ({ signo: t.signo as 24 | 9, expiresNs: t.expiresNs, intervalNs: t.intervalNs })),
    posix,
  };
}

/**
 * Rebuilds tg's timers from s once its threads exist, and puts them on k's loop. Call after the
 * monotonic clock was continued and the processes adopted. Throws ImageError for timers that do
 * not hold together (a thread of another process, an id twice, a sequence past the process's).
 */
export function restoreProcessTimers(k: Kernel, tg: ThreadGroup, s: SavedProcessTimers): void {
  const bad = (why: string) => new ImageError(`restore: the image does not hold together: process ${tg.tgid}: ${why}`);
  const threadOf = (t: number | null): Task | null => {
    if (t === null) return null;
    const th = [...tg.tasks].find((x) => x.tid === t);
    if (th === undefined) throw bad(`a timer names thread ${t}, not one of its own`);
    return th;
  };
  const cpuTimer = (kind: CpuClockKind, thread: Task | null, t: { expiresNs: number; intervalNs: number }, signo: number, code: number): CpuTimer => ({
    clock: { kind, thread, group: tg }, expiresNs: t.expiresNs, intervalNs: t.intervalNs, tg, signo, code,
  });
  const made: { cpu: CpuTimer[]; wall: KernelTimer[] } = { cpu: [], wall: [] };
  if (s.itimerVirtual !== null) made.cpu.push(tg.itimerVirtual = cpuTimer("virt", null, s.itimerVirtual, SIGVTALRM, SI_KERNEL));
  if (s.itimerProf !== null) made.cpu.push(tg.itimerProf = cpuTimer("prof", null, s.itimerProf, SIGPROF, SI_KERNEL));
  tg.cpuLimitTimers = s.cpuLimit.map((t) => cpuTimer("prof", null, t, t.signo, SI_KERNEL));
  made.cpu.push(...tg.cpuLimitTimers);
  for (const p of s.posix) {
    if (tg.posixTimers.has(p.id)) throw bad(`POSIX timer ${p.id} twice`);
    if (p.seq > tg.timerSeq) throw bad(`POSIX timer ${p.id}'s sequence is past the process's`);
    if (p.wall !== null && p.cpu !== null) throw bad(`POSIX timer ${p.id} is on two clocks`);
    const thread = threadOf(p.thread);
    const timer: PosixTimer = {
      id: p.id, clockId: p.clockId, notify: p.notify, signo: p.signo, value: BigInt(`0x${p.value}`), thread,
      wall: null, cpu: null, seq: p.seq, queued: p.queued, overrun: p.overrun, lastOverrun: p.lastOverrun,
    };
    const target = { tg, signo: p.signo, code: SI_TIMER, thread, posix: timer };
    if (p.wall !== null) made.wall.push(timer.wall = { ...target, deadlineNs: p.wall.deadlineNs, intervalNs: p.wall.intervalNs });
    if (p.cpu !== null) {
      made.cpu.push(timer.cpu = { ...cpuTimer(p.cpu.kind, threadOf(p.cpu.thread), p.cpu, p.signo, SI_TIMER), thread, posix: timer });
    }
    tg.posixTimers.set(p.id, timer);
  }
  for (const t of made.wall) k.addTimer(t);
  for (const t of made.cpu) k.addCpuTimer(t);
}

