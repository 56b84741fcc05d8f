/**
 * The offset allocator of the memory file (see memory_file.ts): which page ranges of the file
 * are free, and how many address spaces map each allocated page. Plain data.
 *
 * A range is allocated with one reference (the address space that maps it); fork adds one per
 * child, munmap and the end of an address space take them away, and a page whose count reaches
 * zero is free again (its caller punches it out of the file, so it costs no memory).
 * References are counted per segment, not per allocation: a mapping can be unmapped, discarded
 * or forked in parts.
 *
 * @module
 */

export const PAGE = 4096;

/** One range of the file [start, end), in bytes. */
export interface FileRange {
  start: number;
  end: number;
}

/** An allocated range and how many address spaces map it. */
interface UsedSegment extends FileRange {
  refs: number;
}

/** @savable */
export class FileRanges {
  /** Free ranges, sorted by start, disjoint, never adjacent (coalesced). */
  free: FileRange[];
  /** Allocated ranges with their reference counts, sorted by start, disjoint. */
  used: UsedSegment[] = [];

  constructor(readonly size: number) {
    this.free = size > 0 ? [{ start: 0, end: size }] : [];
  }

  /** Bytes allocated (for tests and accounting). */
  get allocatedBytes(): number {
    let n = 0;
    for (const u of this.used) n += u.end - u.start;
    return n;
  }

  /**
   * Allocates len bytes (a multiple of PAGE) with one reference: the lowest free range that
   * fits (first fit keeps the file compact). Returns the offset, or -1 if nothing fits.
   */
  allocate(len: number): number {
    if (len <= 0 || len % PAGE !== 0) throw new RangeError(`Bad allocation length ${len}`);
    for (let i = 0; i < this.free.length; i++) {
      const f = this.free[i]!;
      if (f.end - f.start < len) continue;
      const off = f.start;
      if (f.end - f.start === len) this.free.splice(i, 1);
      else f.start += len;
      this.#insertUsed({ start: off, end: off + len, refs: 1 });
      return off;
    }
    return -1;
  }

  /**
   * Allocates exactly [off, off + len) with one reference if all of it is free (to grow a
   * mapping in place, keeping its file range contiguous). Returns whether it did.
   */
  allocateAt(off: number, len: number): boolean {
    if (len <= 0 || len % PAGE !== 0 || off % PAGE !== 0) return false;
    const i = this.#freeIndexContaining(off);
    if (i < 0) return false;
    const f = this.free[i]!;
    if (f.end < off + len) return false;
    const pieces: FileRange[] = [];
    if (f.start < off) pieces.push({ start: f.start, end: off });
    if (off + len < f.end) pieces.push({ start: off + len, end: f.end });
    this.free.splice(i, 1, ...pieces);
    this.#insertUsed({ start: off, end: off + len, refs: 1 });
    return true;
  }

  /** One more reference on every allocated page of [start, end) (fork). */
  ref(start: number, end: number): void {
    const [a, b] = this.#splitRange(start, end);
    for (let i = a; i < b; i++) this.used[i]!.refs++;
    this.#mergeAround(a, b);
  }

  /**
   * One reference less on every allocated page of [start, end). Pages left with none are free
   * again; they are returned (coalesced, sorted) for the caller to punch out of the file.
   */
  unref(start: number, end: number): FileRange[] {
    const [a, b] = this.#splitRange(start, end);
    const freed: FileRange[] = [];
    for (let i = a; i < b; i++) {
      const u = this.used[i]!;
      u.refs--;
      if (u.refs <= 0) {
        const last = freed[freed.length - 1];
        if (last !== undefined && last.end === u.start) last.end = u.end;
        else freed.push({ start: u.start, end: u.end });
      }
    }
    if (freed.length === 0) {
      this.#mergeAround(a, b);
      return freed;
    }
    this.used = this.used.filter((u) => u.refs > 0);
    for (const f of freed) this.#release(f.start, f.end);
    return freed;
  }

  /** The highest reference count of any allocated page of [start, end) (0 if none). */
  refs(start: number, end: number): number {
    let max = 0;
    for (let i = this.#usedIndexFrom(start); i < this.used.length; i++) {
      const u = this.used[i]!;
      if (u.start >= end) break;
      if (u.end > start) max = Math.max(max, u.refs);
    }
    return max;
  }

  /** The index of the first used segment that ends after off (binary search). */
  #usedIndexFrom(off: number): number {
    let lo = 0, hi = this.used.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.used[mid]!.end <= off) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #freeIndexContaining(off: number): number {
    let lo = 0, hi = this.free.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const f = this.free[mid]!;
      if (f.end <= off) lo = mid + 1;
      else if (f.start > off) hi = mid;
      else return mid;
    }
    return -1;
  }

  #insertUsed(u: UsedSegment): void {
    const i = this.#usedIndexFrom(u.start);
    this.used.splice(i, 0, u);
    this.#mergeAround(i, i + 1);
  }

  /**
   * Splits used segments at start and end so that [start, end) is made of whole segments;
   * returns their index range [a, b). Pages of [start, end) that are not allocated are skipped.
   */
  #splitRange(start: number, end: number): [number, number] {
    this.#splitAt(start);
    this.#splitAt(end);
    const a = this.#usedIndexFrom(start);
    let b = a;
    while (b < this.used.length && this.used[b]!.start < end) b++;
    return [a, b];
  }

  #splitAt(off: number): void {
    const i = this.#usedIndexFrom(off);
    const u = this.used[i];
    if (u === undefined || u.start >= off) return;
    this.used.splice(i + 1, 0, { start: off, end: u.end, refs: u.refs });
    u.end = off;
  }

  /** Joins neighbours with equal counts around used[a..b): keeps the list short. */
  #mergeAround(a: number, b: number): void {
    const from = Math.max(0, a - 1), to = Math.min(this.used.length - 1, b);
    for (let i = to; i > from; i--) {
      const p = this.used[i - 1]!, u = this.used[i]!;
      if (p.end === u.start && p.refs === u.refs) {
        p.end = u.end;
        this.used.splice(i, 1);
      }
    }
  }

  /** Returns [start, end) to the free list, coalescing with its neighbours. */
  #release(start: number, end: number): void {
    let lo = 0, hi = this.free.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.free[mid]!.start < start) lo = mid + 1;
      else hi = mid;
    }
    const prev = this.free[lo - 1], next = this.free[lo];
    const joinPrev = prev !== undefined && prev.end === start;
    const joinNext = next !== undefined && next.start === end;
    if (joinPrev && joinNext) {
      prev.end = next.end;
      this.free.splice(lo, 1);
    } else if (joinPrev) prev.end = end;
    else if (joinNext) next.start = start;
    else this.free.splice(lo, 0, { start, end });
  }
}
