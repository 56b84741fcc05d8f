/**
 * The memory file, as gVisor's pgalloc.MemoryFile: one memfd that holds the pages of the
 * application's anonymous memory. Every stub maps its ranges of it (MAP_SHARED at their
 * offsets) where the application has anonymous memory, and the sentry maps the whole file once,
 * so that a copy into or out of application memory is a memcpy in the sentry instead of a
 * process_vm_readv/writev (remote page-table walks, ~3-5 GB/s here).
 *
 * Who maps what (rule 1): a range is allocated to one address space; only fork shares it (and
 * then the mappings become private: see StubAddressSpace.fork), and MAP_SHARED|MAP_ANONYMOUS
 * memory, which fork shares on Linux too. Pages whose last mapping is gone are punched out of
 * the file (fallocate PUNCH_HOLE) before their offsets are handed out again.
 *
 * @module
 */

import * as ffi from "./_ffi.ts";
import { type FileRange, FileRanges } from "./file_ranges.ts";

/** The file's size: sparse, so it costs nothing until pages are touched. */
export const MEMORY_FILE_SIZE = 64 * 2 ** 30;
/**
 * Larger anonymous mappings stay host anonymous memory: sanitizer and runtime reservations of
 * terabytes would use up the file's offsets, and a large block malloc maps and frees again and
 * again (glibc maps blocks from 128 KiB up, its threshold growing to 32 MiB) costs more as
 * memfd pages than as anonymous ones: first touches and punches of shmem pages are slower here
 * (a loop of malloc, memset and free of 20 MiB: 3.0 s in the memory file, 2.2 s as host memory,
 * runsc 2.9 s, native 1.4 s). Such blocks are rarely copied into whole; a heap grown by brk,
 * the stack, the bss and buffers up to this size keep memcpy copies. A mapping that continues a
 * region is one call each, so a heap grows past this size in the file.
 */
export const MEMORY_FILE_MAX_MAPPING = 4 * 2 ** 20;

const SEEK_DATA = 3, SEEK_HOLE = 4;

/** @savable The memory file of one platform: its descriptor, the sentry's view, the allocator. */
export class MemoryFile {
  /** @nosave The address of the sentry's mapping of the whole file. */
  readonly base: number;
  /** @nosave The sentry's descriptor of the memfd. */
  readonly fd: number;
  readonly ranges: FileRanges;
  /** @nosave */
  readonly #mapping: ffi.MemoryFileMapping;

  private constructor(m: ffi.MemoryFileMapping, size: number) {
    this.#mapping = m;
    this.fd = m.fd;
    this.base = m.base;
    this.ranges = new FileRanges(size);
  }

  /** The file's size: a mapping at or past it is SIGBUS to touch. */
  get size(): number {
    return this.#mapping.size;
  }

  /** Copies src into the file at off (through the sentry's mapping). */
  write(off: number, src: Uint8Array): void {
    ffi.copyToRaw(this.base + off, src);
  }

  /** Copies dst.length bytes of the file at off into dst. */
  read(off: number, dst: Uint8Array): void {
    ffi.copyFromRaw(dst, this.base + off);
  }

  /** Atomically replaces the word at off (4-aligned) if it holds `expected`; returns what it held. */
  compareExchange32(off: number, expected: number, replacement: number): number {
    return ffi.compareExchangeRaw32(this.base + off, expected, replacement);
  }

  /** Copies n bytes of the file from `from` to `to` (ranges may overlap). */
  move(to: number, from: number, n: number): void {
    ffi.moveRaw(this.base + to, this.base + from, n);
  }

  /** Unmaps and closes the file (platform shutdown): nothing may use it after. */
  close(): void {
    ffi.hostCloseMemoryFile(this.#mapping);
  }

  /** The memory file, or null if the host cannot make one (every mapping then stays anonymous). */
  static create(size = MEMORY_FILE_SIZE): MemoryFile | null {
    const m = ffi.hostMemoryFile(size);
    return m === null ? null : new MemoryFile(m, size);
  }

  /**
   * One reference less on [start, end) (an address space stopped mapping it); pages nobody
   * maps any more are punched out (their memory goes back to the host) and become free.
   */
  unref(start: number, end: number): void {
    for (const f of this.ranges.unref(start, end)) this.punch(f);
  }

  /** Drops the pages of a range: every mapping of it reads zeros after. */
  punch(r: FileRange): void {
    ffi.hostPunchHole(this.fd, r.start, r.end - r.start);
  }

  /**
   * The parts of [start, end) that hold pages (SEEK_DATA/SEEK_HOLE): what a copy of the range
   * must copy; holes read as zeros anyway.
   */
  dataExtents(start: number, end: number): FileRange[] {
    const out: FileRange[] = [];
    let pos = start;
    while (pos < end) {
      const d = ffi.hostLseek(this.fd, pos, SEEK_DATA);
      if (d < 0 || d >= end) break; // ENXIO: no data from pos on
      let h = ffi.hostLseek(this.fd, d, SEEK_HOLE);
      if (h < 0 || h > end) h = end;
      out.push({ start: d, end: h });
      pos = h;
    }
    return out;
  }

  /** The 512-byte blocks the file holds (what its pages cost the host). */
  blocks(): number {
    return ffi.hostBlocks(this.fd);
  }
}

/**
 * How a stub maps a region of the memory file:
 * - "private": MAP_SHARED, but the range belongs to this address space alone (private anonymous
 *   memory): the sentry copies through its own view of the file.
 * - "shared": MAP_SHARED|MAP_ANONYMOUS memory, shared with forks: copies through the view too.
 * - "converted": private memory after a fork, mapped MAP_PRIVATE so that the host copies pages
 *   on write: the file pages are the contents at the fork, read by every process that has not
 *   written them since, so the sentry must never write them; copies use process_vm.
 */
export type RegionKind = "private" | "shared" | "converted";

/** @savable One range of application addresses backed by the memory file at `off`. */
export interface Region {
  start: number;
  end: number;
  off: number;
  /** The application's protection (what the sentry's own copies go by). */
  prot: number;
  kind: RegionKind;
  /**
   * The host mapping's protection when it lags behind `prot`, a subset of it: an mprotect that
   * only added rights was not injected (StubAddressSpace.protect); the application's first
   * access the host refuses there brings it up to `prot` (catchUpProtection). Absent: as prot.
   */
  hostProt?: number;
  /**
   * Rights the kernel withholds from the host mapping whatever `prot` says (AddressSpace.setWithheld):
   * the application's access faults to the sentry (a userfaultfd page not yet filled, a
   * guard or poisoned page). The host maps `(hostProt ?? prot) & ~withheld`. Absent: none.
   */
  withheld?: number;
}

/** @savable The memory-file regions of one address space, sorted by start and disjoint. */
export class RegionList {
  list: Region[] = [];

  /** The index of the first region that ends after addr (binary search). */
  indexFrom(addr: number): number {
    const l = this.list;
    let lo = 0, hi = l.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (l[mid]!.end <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The pieces of regions inside [start, end), without changing the list. */
  within(start: number, end: number): Region[] {
    const out: Region[] = [];
    for (let i = this.indexFrom(start); i < this.list.length; i++) {
      const r = this.list[i]!;
      if (r.start >= end) break;
      const s = Math.max(r.start, start), e = Math.min(r.end, end);
      out.push({ ...r, start: s, end: e, off: r.off + (s - r.start) });
    }
    return out;
  }

  /** Removes [start, end) from the list (splitting regions cut across); returns what it held. */
  cut(start: number, end: number): Region[] {
    const i = this.indexFrom(start);
    const l = this.list;
    if (i >= l.length || l[i]!.start >= end) return [];
    const out: Region[] = [];
    const keep: Region[] = [];
    let j = i;
    for (; j < l.length && l[j]!.start < end; j++) {
      const r = l[j]!;
      if (r.start < start) keep.push({ ...r, end: start });
      if (r.end > end) keep.push({ ...r, start: end, off: r.off + (end - r.start) });
      const s = Math.max(r.start, start), e = Math.min(r.end, end);
      out.push({ ...r, start: s, end: e, off: r.off + (s - r.start) });
    }
    l.splice(i, j - i, ...keep);
    return out;
  }

  /**
   * Inserts a region over addresses no region holds, joined with a neighbour that continues it
   * (adjacent addresses and file offsets, same protection and kind): the host merges such VMAs
   * too, and a region that stays whole can be grown by mremap.
   */
  add(r: Region): void {
    const l = this.list;
    const i = this.indexFrom(r.start);
    const prev = l[i - 1], next = l[i];
    const joins = (a: Region, b: Region) =>
      a.end === b.start && a.off + (a.end - a.start) === b.off && a.prot === b.prot && a.kind === b.kind &&
      a.hostProt === b.hostProt && a.withheld === b.withheld;
    if (prev !== undefined && joins(prev, r)) {
      prev.end = r.end;
      if (next !== undefined && joins(prev, next)) {
        prev.end = next.end;
        l.splice(i, 1);
      }
    } else if (next !== undefined && joins(r, next)) {
      next.start = r.start;
      next.off = r.off;
    } else {
      l.splice(i, 0, { ...r });
    }
  }
}
