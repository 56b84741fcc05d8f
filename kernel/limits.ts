/**
 * Resource limits (getrlimit(2)), per thread group. Values are bigint so that RLIM_INFINITY
 * (all ones) round-trips exactly.
 *
 * @module
 */

import {
  RLIM_INFINITY, RLIMIT_AS, RLIMIT_CORE, RLIMIT_CPU, RLIMIT_DATA, RLIMIT_FSIZE, RLIMIT_LOCKS,
  RLIMIT_MEMLOCK, RLIMIT_MSGQUEUE, RLIMIT_NICE, RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_RSS,
  RLIMIT_RTPRIO, RLIMIT_RTTIME, RLIMIT_SIGPENDING, RLIMIT_STACK,
} from "../abi/linux/limits.ts";

export interface Limit {
  cur: bigint;
  max: bigint;
}

/** @savable */
export class Limits {
  readonly #l = new Map<number, Limit>();

  /** Linux's defaults for a fresh init process (as runsc sets them). */
  static defaults(): Limits {
    const l = new Limits();
    const inf = RLIM_INFINITY;
    const d: [number, bigint, bigint][] = [
      [RLIMIT_CPU, inf, inf], [RLIMIT_FSIZE, inf, inf], [RLIMIT_DATA, inf, inf],
      [RLIMIT_STACK, 8n << 20n, inf], [RLIMIT_CORE, 0n, inf], [RLIMIT_RSS, inf, inf],
      [RLIMIT_NPROC, 0x3fffn * 8n, 0x3fffn * 8n], [RLIMIT_NOFILE, 1024n, 1048576n],
      [RLIMIT_MEMLOCK, 8n << 20n, 8n << 20n], [RLIMIT_AS, inf, inf], [RLIMIT_LOCKS, inf, inf],
      [RLIMIT_SIGPENDING, 0x3fffn * 8n, 0x3fffn * 8n], [RLIMIT_MSGQUEUE, 819200n, 819200n],
      [RLIMIT_NICE, 0n, 0n], [RLIMIT_RTPRIO, 0n, 0n], [RLIMIT_RTTIME, inf, inf],
    ];
    for (const [r, cur, max] of d) l.set(r, { cur, max });
    return l;
  }

  get(r: number): Limit {
    return this.#l.get(r) ?? { cur: RLIM_INFINITY, max: RLIM_INFINITY };
  }

  set(r: number, v: Limit): void {
    this.#l.set(r, { cur: v.cur, max: v.max });
  }

  /** The soft limit as a number, Infinity when unlimited. */
  soft(r: number): number {
    const c = this.get(r).cur;
    return c >= RLIM_INFINITY || c > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(c);
  }

  clone(): Limits {
    const l = new Limits();
    for (const [k, v] of this.#l) l.set(k, v);
    return l;
  }
}
