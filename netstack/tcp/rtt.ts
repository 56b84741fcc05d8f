/**
 * Retransmission timeout computation (RFC 6298).
 *
 * @module
 */

/** Clock granularity G, in ms. */
const GRANULARITY = 1;

/** @savable */
export class RttEstimator {
  /** Smoothed RTT in ms; null before the first sample. */
  srtt: number | null = null;
  rttvar = 0;
  /** The current RTO in ms, backoff included. */
  rto: number;
  /** Immutable. */
  readonly minRto: number;
  /** Immutable. */
  readonly maxRto: number;

  constructor(opts: { initialRto: number; minRto: number; maxRto: number }) {
    this.rto = opts.initialRto;
    this.minRto = opts.minRto;
    this.maxRto = opts.maxRto;
  }

  /** Folds in one RTT measurement (RFC 6298 §2.2-2.3); clears any backoff. */
  sample(rtt: number): void {
    const r = Math.max(0, rtt);
    if (this.srtt === null) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.rto = Math.min(this.maxRto, Math.max(this.minRto, this.srtt + Math.max(GRANULARITY, 4 * this.rttvar)));
  }

  /** Doubles the RTO after a timeout (RFC 6298 §5.5). */
  backoff(): void {
    this.rto = Math.min(this.maxRto, this.rto * 2);
  }
}
