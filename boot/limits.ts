/**
 * The sandbox's limits from the command line and config.json's linux.resources (a flag wins
 * over the file), and the lines the sentry prints when a limit ended the run or the OOM killer
 * chose a process. Pure.
 *
 * @module
 */

import type { LimitEnd, OomKill, ResourceLimits } from "../kernel/resources.ts";
import { BootError } from "./errors.ts";
import type { LimitOptions } from "./flags.ts";
import type { SpecResources } from "./spec.ts";

/** The limits of a run: flags first, then config.json. */
export function resourceLimitsOf(spec: SpecResources, flags: LimitOptions): ResourceLimits {
  const ns = (s: number | null) => (s === null ? null : Math.round(s * 1e9));
  return {
    timeoutNs: ns(flags.timeout),
    cpuTimeNs: ns(flags.cpuTime),
    cpus: flags.cpus ?? spec.cpus,
    cpuPeriodNs: spec.cpuPeriodNs ?? 100_000_000,
    memoryBytes: flags.memory ?? spec.memoryBytes,
    pids: flags.pids ?? spec.pids,
    outputBytes: flags.outputLimit,
  };
}

/** --overlay-size needs an in-memory upper layer: refused on a read-only root or with --overlay-upper. */
export function checkOverlaySize(flags: LimitOptions, root: { readonly: boolean; upperHostPath: string | null }): void {
  if (flags.overlaySize === null) return;
  if (root.readonly) throw new BootError("--overlay-size: the root is read-only (root.readonly in config.json), so it has no overlay");
  if (root.upperHostPath !== null) {
    throw new BootError("--overlay-size: the upper layer is a host directory (--overlay-upper); its size is the host's to limit");
  }
}

/** A size for a message: bytes, with MiB or GiB when round. */
export function formatBytes(n: number): string {
  if (n >= 2 ** 30 && n % 2 ** 30 === 0) return `${n / 2 ** 30} GiB`;
  if (n >= 2 ** 20 && n % 2 ** 20 === 0) return `${n / 2 ** 20} MiB`;
  if (n >= 2 ** 10 && n % 2 ** 10 === 0) return `${n / 2 ** 10} KiB`;
  return `${n} bytes`;
}

/** The line (without "sentry: ") for a run the sentry ended at a limit. */
export function limitEndMessage(why: LimitEnd, l: ResourceLimits): string {
  switch (why) {
    case "timeout":
      return `timed out after ${(l.timeoutNs ?? 0) / 1e9} s (--timeout): every process was killed`;
    case "cpu-time":
      return `CPU time limit of ${(l.cpuTimeNs ?? 0) / 1e9} s reached (--cpu-time): every process was killed`;
    case "output-limit":
      return `output limit of ${formatBytes(l.outputBytes ?? 0)} reached (--output-limit): output truncated, every process was killed`;
  }
}

/** The line (without "sentry: ") for a process the OOM killer chose. */
export function oomMessage(k: OomKill, l: ResourceLimits): string {
  return `out of memory (--memory ${formatBytes(l.memoryBytes ?? 0)}): killed process ${k.pid} (${k.comm}), ` +
    `which held ${formatBytes(Math.round(k.rssBytes / 1024) * 1024)}`;
}
