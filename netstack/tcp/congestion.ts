/**
 * Congestion window control. The socket owns loss detection and the recovery
 * point; these classes only move `cwnd` and `ssthresh` (in bytes).
 *
 * - {@linkcode NewReno}: slow start and congestion avoidance per RFC 5681
 *   with appropriate byte counting (RFC 3465, L = 2).
 * - {@linkcode Cubic}: RFC 9438, with the Reno-friendly region and fast
 *   convergence.
 *
 * @module
 */

/** Which algorithm; stored by name so state stays serialisable. */
export type CongestionAlgorithm = "reno" | "cubic";

/** Initial window per RFC 6928. */
export function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}

/** The interface both algorithms implement. */
export interface CongestionControl {
  readonly algorithm: CongestionAlgorithm;
  cwnd: number;
  ssthresh: number;
  /** Its state as plain data, for a checkpoint; times relative to `now`. */
  save(now: number): CongestionState;
  /** Takes a saved state back (times relative to `now`). */
  load(s: CongestionState, now: number): void;
  /** New data acknowledged outside recovery. */
  onAck(now: number, acked: number, mss: number, srtt: number | null): void;
  /** Entering fast recovery (RFC 5681 §3.2 step 2). `flight` is bytes outstanding. */
  onCongestion(now: number, flight: number, mss: number): void;
  /** Retransmission timeout (RFC 5681 §3.1 eq. 4; cwnd to one segment). */
  onRto(now: number, flight: number, mss: number): void;
}

/**
 * A congestion controller's state (a checkpoint's): the window, the threshold, the byte
 * accumulator, and CUBIC's epoch (its start as an age in ms before the checkpoint).
 */
export interface CongestionState {
  cwnd: number;
  ssthresh: number;
  acc: number;
  cubic: { wMax: number; epochAge: number | null; k: number; wEst: number } | null;
}

/** @savable */
export class NewReno implements CongestionControl {
  readonly algorithm = "reno" as const;
  cwnd: number;
  ssthresh = Number.MAX_SAFE_INTEGER;
  /** Bytes acked since the last cwnd increase in congestion avoidance. */
  #acc = 0;

  constructor(mss: number) {
    this.cwnd = initialWindow(mss);
  }

  onAck(_now: number, acked: number, mss: number): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd += Math.min(acked, 2 * mss);
    } else {
      this.#acc += acked;
      if (this.#acc >= this.cwnd) {
        this.#acc -= this.cwnd;
        this.cwnd += mss;
      }
    }
  }

  onCongestion(_now: number, flight: number, mss: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * mss);
    this.cwnd = this.ssthresh;
    this.#acc = 0;
  }

  onRto(_now: number, flight: number, mss: number): void {
    this.ssthresh = Math.max(Math.floor(flight / 2), 2 * mss);
    this.cwnd = mss;
    this.#acc = 0;
  }

  save(_now: number): CongestionState {
    return { cwnd: this.cwnd, ssthresh: this.ssthresh, acc: this.#acc, cubic: null };
  }

  load(s: CongestionState, _now: number): void {
    this.cwnd = s.cwnd;
    this.ssthresh = s.ssthresh;
    this.#acc = s.acc;
  }
}

/** CUBIC constants (RFC 9438 §4.1). */
const CUBIC_C = 0.4;
const CUBIC_BETA = 0.7;

/** @savable */
export class Cubic implements CongestionControl {
  readonly algorithm = "cubic" as const;
  cwnd: number;
  ssthresh = Number.MAX_SAFE_INTEGER;
  /** W_max in segments. */
  #wMax = 0;
  /** Start of the current congestion-avoidance epoch (ms), or null. */
  #epochStart: number | null = null;
  /** K in seconds. */
  #k = 0;
  /** The Reno-friendly estimate W_est, in segments. */
  #wEst = 0;
  #acc = 0;

  constructor(mss: number) {
    this.cwnd = initialWindow(mss);
  }

  onAck(now: number, acked: number, mss: number, srtt: number | null): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd += Math.min(acked, 2 * mss);
      return;
    }
    const cwndSeg = this.cwnd / mss;
    if (this.#epochStart === null) {
      this.#epochStart = now;
      if (this.#wMax < cwndSeg) {
        this.#wMax = cwndSeg;
        this.#k = 0;
      } else {
        this.#k = Math.cbrt((this.#wMax - cwndSeg) / CUBIC_C);
      }
      this.#wEst = cwndSeg;
    }
    const rtt = (srtt ?? 100) / 1000;
    const t = (now - this.#epochStart) / 1000;
    const target = CUBIC_C * (t + rtt - this.#k) ** 3 + this.#wMax;
    // Reno-friendly estimate (RFC 9438 §4.3), alpha for beta = 0.7.
    const alpha = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);
    this.#wEst += alpha * (acked / mss) / cwndSeg;
    let next: number;
    if (this.#wEst > target) {
      next = this.#wEst;
    } else {
      const capped = Math.min(target, 1.5 * cwndSeg);
      next = cwndSeg + Math.max(0, capped - cwndSeg) * (acked / mss) / cwndSeg;
    }
    this.#acc += (next - cwndSeg) * mss;
    if (this.#acc >= 1) {
      const inc = Math.floor(this.#acc);
      this.cwnd += inc;
      this.#acc -= inc;
    }
  }

  onCongestion(_now: number, _flight: number, mss: number): void {
    const cwndSeg = this.cwnd / mss;
    // Fast convergence (RFC 9438 §4.7).
    this.#wMax = cwndSeg < this.#wMax ? cwndSeg * (1 + CUBIC_BETA) / 2 : cwndSeg;
    this.ssthresh = Math.max(Math.floor(this.cwnd * CUBIC_BETA), 2 * mss);
    this.cwnd = this.ssthresh;
    this.#epochStart = null;
    this.#acc = 0;
  }

  onRto(now: number, flight: number, mss: number): void {
    this.onCongestion(now, flight, mss);
    this.cwnd = mss;
  }

  save(now: number): CongestionState {
    const epochAge = this.#epochStart === null ? null : now - this.#epochStart;
    return { cwnd: this.cwnd, ssthresh: this.ssthresh, acc: this.#acc, cubic: { wMax: this.#wMax, epochAge, k: this.#k, wEst: this.#wEst } };
  }

  load(s: CongestionState, now: number): void {
    this.cwnd = s.cwnd;
    this.ssthresh = s.ssthresh;
    this.#acc = s.acc;
    const c = s.cubic ?? { wMax: 0, epochAge: null, k: 0, wEst: 0 };
    this.#wMax = c.wMax;
    this.#epochStart = c.epochAge === null ? null : now - c.epochAge;
    this.#k = c.k;
    this.#wEst = c.wEst;
  }
}

/** Makes a controller by name. */
export function makeCongestionControl(algorithm: CongestionAlgorithm, mss: number): CongestionControl {
  return algorithm === "cubic" ? new Cubic(mss) : new NewReno(mss);
}
