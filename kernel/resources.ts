/**
 * Limits on the whole sandbox, as a container's cgroups and its runtime give them, and the
 * figures of the run report: a wall-clock timeout, total CPU time, CPU time per wall second
 * (--cpus), resident memory (--memory, with an OOM kill), tasks (--pids) and bytes written to
 * the sentry's stdout and stderr (--output-limit). Per-process rlimits are kernel/limits.ts.
 *
 * How each is enforced (docs/kernel.md, "Sandbox limits"):
 * - pids: clone/fork/vfork beyond the limit fail with EAGAIN, as the pids cgroup does. Tasks are
 *   counted as the cgroup counts them: live threads plus zombies not yet reaped.
 * - timeout, cpu-time, output-limit: the sentry ends the run (SIGKILL to init, which takes every
 *   process with it) and says why; boot turns that into exit status 124.
 * - memory: what the sandbox's processes hold of anonymous and private memory, as memcg charges
 *   it: the memory file's pages (counted once, however many processes map them) plus every
 *   stub's own anonymous pages (large mappings, and private copies made on write after fork).
 *   Page faults happen in the host, out of the sentry's sight, so usage is sampled
 *   (every SAMPLE_NS while a task runs). A mapping or brk that would take usage beyond the limit
 *   fails with ENOMEM; usage found beyond it kills the process with the largest resident set
 *   with SIGKILL, as memcg's OOM killer.
 * - cpus: a budget of cpus × wall time refilled continuously (at most one period's worth saved
 *   up); a sandbox that overspent is throttled (its tasks are kept out of user mode, timers and
 *   I/O go on) until the budget is positive again, as CFS bandwidth control.
 *
 * @module
 */

import type { Kernel } from "./kernel.ts";
import type { ThreadGroup } from "./thread_group.ts";
import type { DeadlineTarget } from "./timers.ts";
import { monotonicNs } from "./time.ts";
import { syscallName } from "../abi/linux/syscall_names.ts";
import { childrenCpu, groupCpu } from "./cpu_time.ts";
import { ActivityLog } from "./activity.ts";

/** The sandbox's limits; null: none. Plain data, from flags and config.json (boot). */
export interface ResourceLimits {
  /** Wall-clock time of the whole run, in ns. */
  timeoutNs: number | null;
  /** CPU time of every process of the run together, in ns. */
  cpuTimeNs: number | null;
  /** CPU time per wall-clock second (2: two CPUs' worth; 0.5: half of one). */
  cpus: number | null;
  /** The period over which --cpus is measured, in ns (config.json's cpu.period). */
  cpuPeriodNs: number;
  /** Resident anonymous and private memory, in bytes. */
  memoryBytes: number | null;
  /** Tasks (threads and processes). */
  pids: number | null;
  /** Bytes written to the sentry's stdout and stderr together. */
  outputBytes: number | null;
}

/** No limit at all. */
export function noLimits(): ResourceLimits {
  return {
    timeoutNs: null, cpuTimeNs: null, cpus: null, cpuPeriodNs: 100_000_000, memoryBytes: null, pids: null,
    outputBytes: null,
  };
}

/** Why the sentry itself ended a run. */
export type LimitEnd = "timeout" | "cpu-time" | "output-limit";

/** A process the OOM killer chose. */
export interface OomKill {
  pid: number;
  comm: string;
  /** Its resident set when chosen, in bytes. */
  rssBytes: number;
  /** The sandbox's usage that made the choice, in bytes. */
  usageBytes: number;
}

/** How often usage is sampled while a limit or the report needs it, in ns. */
export const SAMPLE_NS = 10_000_000;
/** CPU time is read less often: it costs host reads per thread (cpu_time.ts). */
const CPU_SAMPLE_EVERY = 5;

/** @savable The sandbox's limits and what the run used. */
export class ResourceControl {
  readonly limits: ResourceLimits;
  /** Set when the sentry ended the run at a limit. */
  endedBy: LimitEnd | null = null;
  /** How many times each limit was reached (refusals, kills, throttles), by name. */
  readonly hits = new Map<string, number>();
  readonly oomKills: OomKill[] = [];
  /** Application syscalls answered ENOSYS: name → count. */
  readonly enosys = new Map<string, number>();
  stdoutBytes = 0;
  stderrBytes = 0;
  /** The output limit cut a write short: what came after was dropped. */
  outputTruncated = false;
  maxPids = 0;
  peakMemoryBytes = 0;
  /** The last sampled memory usage, in bytes. */
  memoryBytes = 0;
  /** Sampled CPU time of the whole run, in ns, and the user part of it. */
  cpuNs = 0;
  cpuUserNs = 0;
  /** Monotonic time the run started (null before), and ended. */
  startNs: number | null = null;
  endNs: number | null = null;
  /** --cpus: the CPU time the sandbox may still use now, in ns (negative: overspent). */
  #cpuBudgetNs = 0;
  #lastCpuSampleNs = 0;
  #samples = 0;
  /** Whether sampling is wanted even without a limit (the run report's peaks). */
  #measure = false;
  /** @nosave The sampler is armed (start, or an update that set a limit needing it). */
  #sampling = false;
  /** What the sandbox did (processes, files, connections), kept for the run report. */
  activity: ActivityLog | null = null;
  /** @nosave */
  readonly #kernel: Kernel;

  constructor(kernel: Kernel, limits: ResourceLimits) {
    this.#kernel = kernel;
    this.limits = limits;
  }

  /** Sample memory and CPU even without limits on them (for a report). Call before start. */
  measure(): void {
    this.#measure = true;
    this.activity = new ActivityLog();
  }

  /** The run begins: arms the timeout and the sampler. */
  start(): void {
    const now = monotonicNs();
    this.startNs = now;
    this.#lastCpuSampleNs = now;
    this.#cpuBudgetNs = this.limits.cpus === null ? 0 : this.limits.cpus * this.limits.cpuPeriodNs;
    const l = this.limits;
    if (l.timeoutNs !== null) {
      const timeout: DeadlineTarget = {
        deadlineNs: now + l.timeoutNs,
        expire: () => {
          (timeout as { deadlineNs: number | null }).deadlineNs = null;
          this.endRun("timeout");
        },
      };
      this.#kernel.addDeadline(timeout);
    }
    this.#armSampler(now);
  }

  /** Starts sampling memory and CPU once something needs it (a limit, or a report). */
  #armSampler(now: number): void {
    const l = this.limits;
    if (this.#sampling || !(this.#measure || l.cpuTimeNs !== null || l.cpus !== null || l.memoryBytes !== null)) return;
    this.#sampling = true;
    const sampler = {
      deadlineNs: now + SAMPLE_NS as number | null,
      expire: (t: number) => {
        this.sample(t);
        sampler.deadlineNs = this.#kernel.ended ? null : t + SAMPLE_NS;
      },
    };
    this.#kernel.addDeadline(sampler);
  }

  /**
   * Changes limits of the running sandbox (runc's update): the memory limit in bytes, the
   * task limit, CPUs per wall second and their period; null removes one, undefined keeps it.
   * A memory limit below the usage makes the next sample's OOM kill, as a lowered memory.max.
   */
  update(c: { memoryBytes?: number | null; pids?: number | null; cpus?: number | null; cpuPeriodNs?: number }): void {
    const l = this.limits;
    if (c.memoryBytes !== undefined) l.memoryBytes = c.memoryBytes;
    if (c.pids !== undefined) l.pids = c.pids;
    if (c.cpuPeriodNs !== undefined) l.cpuPeriodNs = c.cpuPeriodNs;
    if (c.cpus !== undefined || c.cpuPeriodNs !== undefined) {
      if (c.cpus !== undefined) l.cpus = c.cpus;
      this.#cpuBudgetNs = l.cpus === null ? 0 : l.cpus * l.cpuPeriodNs;
    }
    if (this.startNs !== null) this.#armSampler(monotonicNs());
  }

  /** The run is over (init exited): last figures. */
  finish(): void {
    if (this.endNs !== null) return;
    this.endNs = monotonicNs();
    this.#sampleCpu();
  }

  /** Wall time of the run so far, in ns. */
  get wallNs(): number {
    if (this.startNs === null) return 0;
    return (this.endNs ?? monotonicNs()) - this.startNs;
  }

  #hit(name: string): void {
    this.hits.set(name, (this.hits.get(name) ?? 0) + 1);
  }

  /** Ends the run at a limit: init is killed, and every process with it. */
  endRun(why: LimitEnd): void {
    const init = this.#kernel.init;
    if (this.endedBy !== null || init === null || init.exitStatus !== null) return;
    this.endedBy = why;
    this.#hit(why);
    this.#kernel.log.warning(`${why} limit reached: ending the run`);
    this.#kernel.killGroup(init, 9);
  }

  /** An application syscall was answered ENOSYS. */
  noteEnosys(nr: number, name: string | undefined): void {
    const n = name ?? syscallName(nr);
    this.enosys.set(n, (this.enosys.get(n) ?? 0) + 1);
  }

  /** Tasks as the pids cgroup counts them: live ones and zombies not yet reaped. */
  #taskCount(): number {
    let n = this.#kernel.tasks.size;
    for (const tg of this.#kernel.threadGroups.values()) if (tg.zombie) n++;
    return n;
  }

  /** Whether one more task may be created (clone/fork); false is EAGAIN. */
  mayAddTask(): boolean {
    const max = this.limits.pids;
    if (max === null) return true;
    if (this.#taskCount() < max) return true;
    this.#hit("pids");
    return false;
  }

  /** A task was added. */
  taskAdded(): void {
    const n = this.#kernel.tasks.size;
    if (n > this.maxPids) this.maxPids = n;
  }

  /**
   * `len` bytes are about to be written to the sentry's stdout (1) or stderr (2): how many of
   * them may be. Past the output limit the rest is dropped and the run ends (after the write).
   */
  admitOutput(len: number): number {
    const max = this.limits.outputBytes;
    if (max === null) return len;
    const room = Math.max(0, max - this.stdoutBytes - this.stderrBytes);
    return Math.min(len, room);
  }

  /** n bytes were written to stdout (1) or stderr (2); `cut`: the write was cut short. */
  wroteOutput(fd: 1 | 2, n: number, cut: boolean): void {
    if (fd === 1) this.stdoutBytes += n;
    else this.stderrBytes += n;
    if (cut) {
      this.outputTruncated = true;
      this.endRun("output-limit");
    }
  }

  /**
   * Whether `bytes` more of anonymous or private memory may be mapped: false (ENOMEM) when the
   * last sampled usage plus them passes the limit.
   */
  mayMap(bytes: number): boolean {
    const max = this.limits.memoryBytes;
    if (max === null || bytes <= 0) return true;
    if (this.memoryBytes + bytes <= max) return true;
    this.#hit("memory");
    return false;
  }

  /** The memory the sandbox holds now, in bytes, and each live address space's resident set. */
  #memoryUsage(): { usage: number; rss: Map<ThreadGroup, number> } {
    const k = this.#kernel;
    let usage = k.platform.memoryFileBytes?.() ?? 0;
    const rss = new Map<ThreadGroup, number>();
    const seen = new Set<unknown>();
    for (const tg of k.threadGroups.values()) {
      if (tg.zombie || tg.tasks.size === 0 || tg.exitStatus !== null) continue;
      const as = tg.mm.as;
      if (!seen.has(as)) {
        seen.add(as);
        usage += as.anonRssKb() * 1024;
      }
      if (k.resources.limits.memoryBytes !== null) rss.set(tg, as.rssKb() * 1024);
    }
    return { usage, rss };
  }

  /** Reads memory (and, every few samples, CPU) usage and acts on the limits. */
  sample(now: number): void {
    const k = this.#kernel;
    if (k.ended) return;
    const max = this.limits.memoryBytes;
    if (max !== null || this.#measure) {
      const { usage, rss } = this.#memoryUsage();
      this.memoryBytes = usage;
      if (usage > this.peakMemoryBytes) this.peakMemoryBytes = usage;
      if (max !== null && usage > max) this.#oomKill(usage, rss);
    }
    const cpuWanted = this.limits.cpus !== null || this.limits.cpuTimeNs !== null;
    if (cpuWanted && (++this.#samples % CPU_SAMPLE_EVERY === 0 || this.limits.cpus !== null)) this.#checkCpu(now);
  }

  /** Kills the process with the largest resident set (memcg's OOM killer). */
  #oomKill(usage: number, rss: Map<ThreadGroup, number>): void {
    let victim: ThreadGroup | null = null;
    let most = -1;
    for (const [tg, r] of rss) {
      if (r > most) {
        most = r;
        victim = tg;
      }
    }
    if (victim === null) return;
    this.#hit("memory");
    const comm = [...victim.tasks][0]?.name ?? victim.leaderComm;
    this.oomKills.push({ pid: victim.tgid, comm, rssBytes: most, usageBytes: usage });
    this.#kernel.log.warning(
      `out of memory: ${usage} bytes used of ${this.limits.memoryBytes}: killed process ${victim.tgid} (${comm})`,
    );
    victim.oomKilled = true;
    this.#kernel.killGroup(victim, 9);
    // What the victim held is gone now: sample again so that the next look does not kill twice.
    this.memoryBytes = this.#memoryUsage().usage;
  }

  #sampleCpu(): number {
    const k = this.#kernel;
    let user = k.reapedCpu.userNs, sys = k.reapedCpu.sysNs;
    for (const tg of k.threadGroups.values()) {
      const own = groupCpu(tg);
      const reaped = childrenCpu(tg);
      user += own.userNs + reaped.userNs;
      sys += own.sysNs + reaped.sysNs;
    }
    if (user + sys > this.cpuNs) {
      this.cpuNs = user + sys;
      this.cpuUserNs = user;
    }
    return this.cpuNs;
  }

  #checkCpu(now: number): void {
    const before = this.cpuNs;
    const used = this.#sampleCpu();
    const l = this.limits;
    if (l.cpuTimeNs !== null && used >= l.cpuTimeNs) {
      this.endRun("cpu-time");
      return;
    }
    if (l.cpus === null) return;
    const cap = l.cpus * l.cpuPeriodNs;
    this.#cpuBudgetNs = Math.min(cap, this.#cpuBudgetNs + (now - this.#lastCpuSampleNs) * l.cpus) - (used - before);
    this.#lastCpuSampleNs = now;
    if (this.#cpuBudgetNs < 0) {
      this.#hit("cpus");
      // Until the refill brings the budget back to zero.
      this.#kernel.throttle(now + Math.ceil(-this.#cpuBudgetNs / l.cpus));
    }
  }
}
