/**
 * Tracks which byte ranges past the receive point have arrived out of order.
 * Offsets are relative to RCV.NXT; ranges are kept sorted and disjoint.
 *
 * @module
 */

/** Upper bound on tracked holes; segments that would need more are refused. */
const MAX_RANGES = 32;

/** @savable */
export class Assembler {
  /** Sorted, disjoint, non-adjacent [start, end) pairs, flattened. */
  #ranges: number[] = [];

  get isEmpty(): boolean {
    return this.#ranges.length === 0;
  }

  /** The ranges as [start, end) pairs. */
  ranges(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < this.#ranges.length; i += 2) out.push([this.#ranges[i]!, this.#ranges[i + 1]!]);
    return out;
  }

  /**
   * Records [offset, offset+len). Returns false (recording nothing) if that
   * would exceed the range limit.
   */
  add(offset: number, len: number): boolean {
    if (len <= 0) return true;
    let start = offset, end = offset + len;
    const r = this.#ranges;
    const out: number[] = [];
    let i = 0;
    while (i < r.length && r[i + 1]! < start) {
      out.push(r[i]!, r[i + 1]!);
      i += 2;
    }
    while (i < r.length && r[i]! <= end) {
      start = Math.min(start, r[i]!);
      end = Math.max(end, r[i + 1]!);
      i += 2;
    }
    out.push(start, end);
    for (; i < r.length; i++) out.push(r[i]!);
    if (out.length > MAX_RANGES * 2) return false;
    this.#ranges = out;
    return true;
  }

  /**
   * If a range starts at offset 0, removes it and returns its length;
   * all remaining offsets shift down by that much. Otherwise returns 0.
   */
  takeFront(): number {
    const r = this.#ranges;
    if (r.length === 0 || r[0] !== 0) return 0;
    const n = r[1]!;
    this.#ranges = r.slice(2).map((x) => x - n);
    return n;
  }

  /** Shifts every range down by `n` after RCV.NXT advanced by `n`; drops what falls below 0. */
  shift(n: number): void {
    if (n === 0) return;
    const out: number[] = [];
    for (let i = 0; i < this.#ranges.length; i += 2) {
      const s = this.#ranges[i]! - n, e = this.#ranges[i + 1]! - n;
      if (e <= 0) continue;
      out.push(Math.max(0, s), e);
    }
    this.#ranges = out;
  }

  /** The range containing offset `at`, if any. */
  rangeContaining(at: number): [number, number] | null {
    for (let i = 0; i < this.#ranges.length; i += 2) {
      if (this.#ranges[i]! <= at && at < this.#ranges[i + 1]!) return [this.#ranges[i]!, this.#ranges[i + 1]!];
    }
    return null;
  }

  clear(): void {
    this.#ranges = [];
  }

  /**
   * For a restore: takes the ranges {@linkcode Assembler.ranges} gave. Throws RangeError
   * unless they are sorted, disjoint, non-adjacent, non-empty, past offset 0 and at most
   * MAX_RANGES.
   */
  load(ranges: ReadonlyArray<readonly [number, number]>): void {
    if (ranges.length > MAX_RANGES) throw new RangeError("too many out-of-order ranges");
    let prev = 0;
    for (const [start, end] of ranges) {
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start <= prev || end <= start) {
        throw new RangeError("out-of-order ranges are not sorted, disjoint and past the receive point");
      }
      prev = end;
    }
    this.#ranges = ranges.flatMap(([a, b]) => [a, b]);
  }
}
