/**
 * `--report FILE`: the JSON run report, written at the end of every run whatever ended it, and
 * atomically: FILE is either absent or whole (a temporary file beside it, fsynced, renamed over
 * it). The schema is docs/report.md; REPORT_VERSION changes when a field changes meaning or
 * goes away (new fields may be added within a version).
 *
 * The temporary file is created before the sandbox starts, so that an unwritable FILE is a
 * one-line error (125) before anything runs rather than a lost report after.
 *
 * @module
 */

import * as posix from "../abi/path.ts";
import type { LimitEnd, ResourceControl, ResourceLimits } from "../kernel/resources.ts";
import { BootError, describeFsError } from "./errors.ts";
import { decodeWaitStatus, signalName } from "./exit_status.ts";
import { quote } from "./flags.ts";
import { VERSION } from "./help.ts";

/** The version of the report's schema (docs/report.md). */
export const REPORT_VERSION = 1;

/** Why a run ended, as the report names it. */
export type EndReason = "exit" | "signal" | "oom" | "sentry-signal" | LimitEnd | "error";

/** The report, as written (docs/report.md). */
export interface RunReport {
  version: typeof REPORT_VERSION;
  sentryVersion: string;
  command: string[];
  startTime: string;
  endTime: string;
  reason: EndReason;
  exitStatus: number;
  init: { pid: number; exitCode: number | null; signal: string | null; coreDumped: boolean } | null;
  message: string | null;
  wallSeconds: number;
  cpuSeconds: { user: number; system: number; total: number };
  memory: { peakBytes: number };
  pids: { max: number };
  output: { stdoutBytes: number; stderrBytes: number; truncated: boolean };
  limits: {
    timeoutSeconds: number | null;
    cpuTimeSeconds: number | null;
    cpus: number | null;
    memoryBytes: number | null;
    pids: number | null;
    outputBytes: number | null;
    overlayBytes: number | null;
  };
  limitsReached: Array<{ limit: string; count: number }>;
  oomKills: Array<{ pid: number; comm: string; rssBytes: number }>;
  enosys: Array<{ syscall: string; count: number }>;
  processes: Array<{
    pid: number;
    ppid: number;
    argv: string[];
    execs: string[];
    startSeconds: number;
    durationSeconds: number | null;
    exitCode: number | null;
    signal: string | null;
    coreDumped: boolean;
  }>;
  files: Array<{ path: string; created: boolean; written: boolean; deleted: boolean; pids: number[] }>;
  connections: Array<{ pid: number; family: string; destination: string; result: string }>;
}

/** A wait status as the report gives it. */
function statusFields(w: number | null): { exitCode: number | null; signal: string | null; coreDumped: boolean } {
  if (w === null) return { exitCode: null, signal: null, coreDumped: false };
  const d = decodeWaitStatus(w);
  return d.kind === "exited"
    ? { exitCode: d.code, signal: null, coreDumped: false }
    : { exitCode: null, signal: signalName(d.signo), coreDumped: d.core };
}

/** What a run gives the report besides the kernel's figures. */
export interface RunOutcome {
  command: string[];
  startMs: number;
  /** init's wait status, or null when the run failed before init ended. */
  waitStatus: number | null;
  exitStatus: number;
  reason: EndReason;
  message: string | null;
  overlayBytes: number | null;
}

const seconds = (ns: number) => Math.round(ns / 1e3) / 1e6;

/** Builds the report from the outcome and the kernel's accounting (null: the kernel never ran). */
export function buildReport(o: RunOutcome, r: ResourceControl | null, limits: ResourceLimits | null): RunReport {
  const now = Date.now();
  let init: RunReport["init"] = null;
  if (o.waitStatus !== null) {
    const d = decodeWaitStatus(o.waitStatus);
    init = d.kind === "exited"
      ? { pid: 1, exitCode: d.code, signal: null, coreDumped: false }
      : { pid: 1, exitCode: null, signal: signalName(d.signo), coreDumped: d.core };
  }
  const cpuNs = r?.cpuNs ?? 0;
  const user = r?.cpuUserNs ?? 0;
  const byName = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return {
    version: REPORT_VERSION,
    sentryVersion: VERSION,
    command: o.command,
    startTime: new Date(o.startMs).toISOString(),
    endTime: new Date(now).toISOString(),
    reason: o.reason,
    exitStatus: o.exitStatus,
    init,
    message: o.message,
    wallSeconds: r !== null && r.startNs !== null ? seconds(r.wallNs) : seconds((now - o.startMs) * 1e6),
    cpuSeconds: { user: seconds(user), system: seconds(Math.max(0, cpuNs - user)), total: seconds(cpuNs) },
    memory: { peakBytes: r?.peakMemoryBytes ?? 0 },
    pids: { max: r?.maxPids ?? 0 },
    output: {
      stdoutBytes: r?.stdoutBytes ?? 0,
      stderrBytes: r?.stderrBytes ?? 0,
      truncated: r?.outputTruncated ?? false,
    },
    limits: {
      timeoutSeconds: limits?.timeoutNs == null ? null : limits.timeoutNs / 1e9,
      cpuTimeSeconds: limits?.cpuTimeNs == null ? null : limits.cpuTimeNs / 1e9,
      cpus: limits?.cpus ?? null,
      memoryBytes: limits?.memoryBytes ?? null,
      pids: limits?.pids ?? null,
      outputBytes: limits?.outputBytes ?? null,
      overlayBytes: o.overlayBytes,
    },
    limitsReached: r === null ? [] : byName(r.hits).map(([limit, count]) => ({ limit, count })),
    oomKills: (r?.oomKills ?? []).map((k) => ({ pid: k.pid, comm: k.comm, rssBytes: k.rssBytes })),
    enosys: r === null ? [] : byName(r.enosys).map(([syscall, count]) => ({ syscall, count })),
    processes: (r?.activity?.processes ?? []).map((p) => ({
      pid: p.pid,
      ppid: p.ppid,
      argv: p.argv,
      execs: p.execs,
      startSeconds: seconds(p.startNs),
      durationSeconds: p.endNs === null ? null : seconds(p.endNs - p.startNs),
      ...statusFields(p.waitStatus),
    })),
    files: (r?.activity?.files() ?? []).map((f) => ({ ...f })),
    connections: (r?.activity?.connections ?? []).map((c) => ({ ...c })),
  };
}

/** The report file: a temporary file made at start, renamed over FILE at the end. */
export class ReportFile {
  readonly #path: string;
  readonly #tmp: string;
  #file: Deno.FsFile | null;

  private constructor(path: string, tmp: string, file: Deno.FsFile) {
    this.#path = path;
    this.#tmp = tmp;
    this.#file = file;
  }

  /** Creates the temporary file beside `path` (relative to cwd). Throws BootError (125). */
  static open(path: string, cwd: string): ReportFile {
    const abs = posix.resolve(cwd, path);
    const tmp = posix.join(posix.dirname(abs), `.${posix.basename(abs)}.${Deno.pid}.tmp`);
    try {
      if (Deno.statSync(abs).isDirectory) throw new BootError(`--report ${quote(path)}: is a directory`);
    } catch (err) {
      if (err instanceof BootError) throw err;
      if (!(err instanceof Deno.errors.NotFound)) throw new BootError(`--report ${quote(path)}: ${describeFsError(err)}`);
    }
    try {
      const f = Deno.openSync(tmp, { write: true, createNew: true, mode: 0o644 });
      return new ReportFile(abs, tmp, f);
    } catch (err) {
      throw new BootError(`--report ${quote(path)}: ${describeFsError(err)}`);
    }
  }

  /** Writes the report and puts it in place. Throws BootError when it cannot. */
  commit(report: RunReport): void {
    const f = this.#file;
    if (f === null) return;
    this.#file = null;
    try {
      const bytes = new TextEncoder().encode(JSON.stringify(report, null, 2) + "\n");
      for (let off = 0; off < bytes.length;) off += f.writeSync(bytes.subarray(off));
      f.syncSync();
      f.close();
      Deno.renameSync(this.#tmp, this.#path);
    } catch (err) {
      try {
        f.close();
      } catch { /* already closed */ }
      this.#removeTmp();
      throw new BootError(`--report ${quote(this.#path)}: ${describeFsError(err)}`);
    }
  }

  /** Drops the temporary file without writing a report. Idempotent. */
  discard(): void {
    const f = this.#file;
    if (f === null) return;
    this.#file = null;
    f.close();
    this.#removeTmp();
  }

  #removeTmp(): void {
    try {
      Deno.removeSync(this.#tmp);
    } catch { /* gone already */ }
  }
}
