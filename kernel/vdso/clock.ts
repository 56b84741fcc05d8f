/**
 * The TSC clock: once the vDSO is in use, the sandbox's CLOCK_MONOTONIC (and REALTIME, BOOTTIME)
 * is computed from the TSC with parameters the sentry calibrates against the host's clocks, the
 * same parameters it publishes in every vDSO parameters page. The clock_gettime system call and
 * the vDSO then follow one formula from the same numbers (clock_helper.c reads the TSC for the
 * sentry with the vDSO's own code), so a program that mixes them never sees time go back.
 *
 * Calibration (lazy: no timer; checked when the sentry reads the clock):
 * - Warming: the first sample is taken when the first vDSO is made; the clock stays the
 *   fallback (performance.now) for WARM_NS, and the pages say "ask the kernel".
 * - Then the TSC rate is measured over the window since the first sample; the TSC clock starts
 *   at the fallback's value at that instant (no jump), and the offset between it and the host's
 *   CLOCK_MONOTONIC is fixed: that is the sandbox's clock from then on.
 * - Every UPDATE_NS: a new sample; the rate is measured again over the whole window since the
 *   first sample (more precise as it grows), and the slope is steered so that the clock meets
 *   host time plus the fixed offset at the next update (at most MAX_SLEW apart from the rate).
 *   The new parameters start where the old ones are at the sample, so the clock is continuous,
 *   and REALTIME is set to the host's at that instant.
 *
 * No usable TSC (the host's /proc/cpuinfo lacks constant_tsc or nonstop_tsc), or no helper:
 * nothing changes, and the vDSO always falls back to the system call.
 *
 * @module
 */

import * as ffi from "../../platform/ptrace/_ffi.ts";

const SHIFT = 32;
const WARM_NS = 10_000_000;
const UPDATE_NS = 1_000_000_000;
const MAX_SLEW = 100e-6;
/** Added at each update so that rounding never puts the new parameters behind the old. */
const UPDATE_MARGIN_NS = 2;

/** The fields of a vvar page (vvar.h), in the order sentry_vvar_write takes them. */
const P_MODE = 0, P_TSC = 1, P_MONO = 2, P_MULT = 3, P_SHIFT = 4, P_REAL = 5, P_BOOT = 6;
export const VVAR_SIZE = 56;

/** Something that publishes the parameters (a kernel's vDSO page). */
export interface ParamsSink {
  publish(params: BigInt64Array): void;
}

/** Whether the host's TSC can be the clock: constant rate, running in every C-state. */
function hostHasUsableTsc(): boolean {
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    const flags = info.split("\n").find((l) => l.startsWith("flags"));
    if (flags === undefined) return false;
    const f = new Set(flags.split(":")[1]!.trim().split(/\s+/));
    return f.has("constant_tsc") && f.has("nonstop_tsc");
  } catch {
    return false;
  }
}

interface Sample {
  tsc: bigint;
  mono: number;
  real: number;
}

class TscClock {
  helper: ffi.ClockHelper | null = null;
  /** The sentry's own copy of the parameters page. */
  readonly #page = new Uint8Array(64);
  #pageAddr = 0;
  readonly params = new BigInt64Array(7);
  readonly sinks = new Set<ParamsSink>();
  active = false;
  #warming = false;
  #first: Sample | null = null;
  #offset = 0;
  #nextUpdateNs = 0;
  #warmUntilHost = 0;
  readonly #sampleBuf = new BigInt64Array(4);

  /** Starts warming up (once): the first vDSO was made. False if there is no usable TSC. */
  start(helper: ffi.ClockHelper | null): boolean {
    if (this.active || this.#warming) return true;
    if (helper === null || !hostHasUsableTsc()) return false;
    this.helper = helper;
    this.#pageAddr = ffi.bufferAddress(this.#page);
    this.#first = this.#sample();
    this.#warmUntilHost = this.#first.mono + WARM_NS;
    this.#warming = true;
    return true;
  }

  #sample(): Sample {
    const b = this.#sampleBuf;
    this.helper!.sample(b);
    return { tsc: BigInt.asUintN(64, b[0]!), mono: Number(b[1]!), real: Number(b[2]!) };
  }

  /** CLOCK_MONOTONIC from the TSC, or null while not active. fallback: the clock before it. */
  monotonicNs(fallback: () => number): number | null {
    if (!this.active) {
      if (!this.#warming) return null;
      const s = this.#sample();
      if (s.mono < this.#warmUntilHost) return null;
      this.#activate(s, fallback());
      return this.read(1);
    }
    const ns = this.read(1);
    if (ns >= this.#nextUpdateNs) this.#update();
    return ns;
  }

  /**
   * Moves the clock forward by deltaNs at once (a restore: kernel/time.ts). False while the TSC
   * clock is not active (the fallback clock then moves; activation continues from it).
   */
  advance(deltaNs: number): boolean {
    if (!this.active) return false;
    const d = Math.ceil(deltaNs);
    this.#offset += d;
    this.params[P_MONO] = this.params[P_MONO]! + BigInt(d);
    this.params[P_REAL] = this.params[P_REAL]! - BigInt(d); // REALTIME stays the host's
    this.#nextUpdateNs += d;
    this.helper!.write(this.#pageAddr, this.params);
    for (const k of this.sinks) k.publish(this.params);
    return true;
  }

  /** A clock (vvar.h's numbering) from the sentry's page. */
  read(clock: number): number {
    return this.helper!.read(this.#pageAddr, clock)!;
  }

  get realOffsetNs(): number {
    return Number(this.params[P_REAL]);
  }

  #rate(s: Sample): number {
    const f = this.#first!;
    return (s.mono - f.mono) / Number(s.tsc - f.tsc);
  }

  #activate(s: Sample, monoNow: number): void {
    const base = Math.ceil(monoNow);
    this.#offset = base - s.mono;
    this.#publish(s, base, this.#rate(s));
    this.#warming = false;
    this.active = true;
  }

  #update(): void {
    const s = this.#sample();
    const p = this.params;
    const cur = Number(p[P_MONO]! + ((BigInt.asUintN(64, s.tsc - BigInt.asUintN(64, p[P_TSC]!)) * p[P_MULT]!) >> BigInt(SHIFT)));
    const target = s.mono + this.#offset;
    // Slope (sandbox ns per host ns) that closes the error by the next update.
    let slope = (UPDATE_NS - (cur - target)) / UPDATE_NS;
    slope = Math.min(1 + MAX_SLEW, Math.max(1 - MAX_SLEW, slope));
    this.#publish(s, cur + UPDATE_MARGIN_NS, this.#rate(s) * slope);
  }

  #publish(s: Sample, monoBase: number, nsPerTick: number): void {
    const p = this.params;
    p[P_MODE] = 1n;
    p[P_TSC] = BigInt.asIntN(64, s.tsc);
    p[P_MONO] = BigInt(monoBase);
    p[P_MULT] = BigInt(Math.round(nsPerTick * 2 ** SHIFT));
    p[P_SHIFT] = BigInt(SHIFT);
    p[P_REAL] = BigInt(Math.round(s.real - monoBase)); // the host's REALTIME at the sample
    p[P_BOOT] = 0n;
    this.helper!.write(this.#pageAddr, p);
    this.#nextUpdateNs = monoBase + UPDATE_NS;
    for (const k of this.sinks) k.publish(p);
  }
}

/** The sentry's one TSC clock. */
export const tscClock = new TscClock();

/** Writes params into a page at raw address addr, with its own BOOTTIME offset. */
export function writeVvar(helper: ffi.ClockHelper, addr: number, params: BigInt64Array, bootOffsetNs: number): void {
  const p = new BigInt64Array(params);
  p[P_BOOT] = BigInt(bootOffsetNs);
  helper.write(addr, p);
}
