/**
 * Private memory that processes share copy-on-write after fork, saved once and restored shared
 * (docs/checkpoint.md, "Copy-on-write sharing").
 *
 * After a fork the host shares the parent's private pages with the child until one of them
 * writes; the sentry does not see which pages the host still shares (its page tables are the
 * host's). What the checkpoint sees is what each process reads, and a page that reads the same
 * at the same address in two address spaces is, for a private mapping, the same page as far as
 * any program can tell: so the first address space's private mapping becomes a copy-on-write
 * object of the image (its pages stored once), and a later address space's mapping at the same
 * addresses maps that object and stores only the pages that differ from it (what it wrote since
 * the fork, and what the first one wrote). On restore each object is one piece of the
 * platform's memory ({@linkcode CowMemory}), filled once and mapped privately by every address
 * space that names it: the host then copies a page on its first write in one of them, so a
 * write after the restore stays with its process, as after the fork.
 *
 * @module
 */

import { intIn, z } from "./zod_tree.ts";
import type { CowMemory, Platform } from "../../platform/mod.ts";
import { PAGE_SIZE } from "../../abi/linux/mm.ts";
import { type ImageBlob, ImageError } from "./image.ts";

const u64 = intIn(0, Number.MAX_SAFE_INTEGER);
const u32 = intIn(0, 0xffff_ffff);
/** The most copy-on-write memory an image may ask for (the memory file's size). */
export const MAX_COW_BYTES = 64 * 2 ** 30;

/** A copy-on-write object: its length and its non-zero pages (`blob` at byte `off`). */
export const cowObjectSchema = z.object({
  length: u64,
  runs: z.array(z.object({ off: u64, blob: u32 }).strict()),
}).strict();
export type SavedCowObject = z.infer<typeof cowObjectSchema>;

/** [addr, addr + len) of a private mapping maps cowObjects[object] from `offset`. */
export const cowPieceSchema = z.object({ addr: u64, len: u64, object: u32, offset: u64 }).strict();
export type SavedCowPiece = z.infer<typeof cowPieceSchema>;

/** A memory run of a saved address space (sandbox.ts memorySchema). */
interface Run {
  addr: number;
  blob: number;
}

/** A run of non-zero pages as read at the checkpoint. */
interface Content {
  addr: number;
  words: Uint32Array;
}

/**
 * A private mapping of an address space already saved, whose pages a later one may share: its
 * contents as read, and once shared, the object they moved into.
 */
interface Origin {
  mm: number;
  start: number;
  end: number;
  content: Content[];
  object: number;
  /** The address space's saved runs and pieces (its runs here move into the object). */
  runs: Run[];
  pieces: SavedCowPiece[];
}

/** What a chunk of a later mapping shares: [start, end) of an origin. */
export interface CowMatch {
  origin: Origin;
  start: number;
  end: number;
}

const WORDS = PAGE_SIZE >>> 2;

function zeroPage(w: Uint32Array, at: number): boolean {
  for (let i = at, end = at + WORDS; i < end; i++) if (w[i] !== 0) return false;
  return true;
}

function samePage(a: Uint32Array, ai: number, b: Uint32Array, bi: number): boolean {
  for (let i = 0; i < WORDS; i++) if (a[ai + i] !== b[bi + i]) return false;
  return true;
}

function wordsOf(b: Uint8Array): Uint32Array {
  return new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2);
}

/** The checkpoint's side: finds what later address spaces share with earlier ones. */
export class CowSaver {
  readonly objects: SavedCowObject[] = [];
  readonly #origins: Origin[] = [];
  /** The objects' bytes: kept within what a restore accepts (a larger origin is not shared). */
  #objectBytes = 0;

  /**
   * The origin whose pages at the same addresses equal most of the non-zero pages of `buf`
   * (memory at `addr` of address space `mm`, page-aligned), or null when none has one.
   */
  match(mm: number, addr: number, buf: Uint8Array): CowMatch | null {
    const end = addr + buf.length;
    const w = wordsOf(buf);
    let best: CowMatch | null = null, bestCount = 0;
    for (const o of this.#origins) {
      if (o.mm === mm || o.end <= addr || end <= o.start) continue;
      if (o.object < 0 && this.#objectBytes + (o.end - o.start) > MAX_COW_BYTES) continue;
      const s = Math.max(o.start, addr), e = Math.min(o.end, end);
      let count = 0;
      for (let a = s; a < e; a += PAGE_SIZE) {
        const p = pageOf(o, a);
        if (p !== null && samePage(w, (a - addr) >>> 2, p.words, p.at)) count++;
      }
      if (count > bestCount) {
        best = { origin: o, start: s, end: e };
        bestCount = count;
      }
    }
    return best;
  }

  /**
   * [start, end) byte offsets of the runs of pages of buf (at addr) that must be stored: in the
   * matched range, those that differ from the origin's; elsewhere, those not all zero.
   */
  runsToStore(addr: number, buf: Uint8Array, m: CowMatch | null): [number, number][] {
    const w = wordsOf(buf);
    const out: [number, number][] = [];
    let runStart = -1;
    for (let off = 0; off < buf.length; off += PAGE_SIZE) {
      const a = addr + off;
      let store: boolean;
      if (m !== null && a >= m.start && a < m.end) {
        const p = pageOf(m.origin, a);
        store = p === null ? !zeroPage(w, off >>> 2) : !samePage(w, off >>> 2, p.words, p.at);
      } else {
        store = !zeroPage(w, off >>> 2);
      }
      if (store && runStart < 0) runStart = off;
      if (!store && runStart >= 0) {
        out.push([runStart, off]);
        runStart = -1;
      }
    }
    if (runStart >= 0) out.push([runStart, buf.length]);
    return out;
  }

  /** The piece a later address space maps for a match, making the origin an object on first use. */
  piece(m: CowMatch): SavedCowPiece {
    const o = m.origin;
    if (o.object < 0) {
      o.object = this.objects.length;
      const runs: SavedCowObject["runs"] = [];
      // The origin's runs in its range move into the object; it maps the object whole.
      let keep = 0;
      for (const r of o.runs) {
        if (r.addr >= o.start && r.addr < o.end) runs.push({ off: r.addr - o.start, blob: r.blob });
        else o.runs[keep++] = r;
      }
      o.runs.length = keep;
      this.objects.push({ length: o.end - o.start, runs });
      this.#objectBytes += o.end - o.start;
      o.pieces.push({ addr: o.start, len: o.end - o.start, object: o.object, offset: 0 });
    }
    return { addr: m.start, len: m.end - m.start, object: o.object, offset: m.start - o.start };
  }

  /**
   * A private mapping [start, end) of address space `mm` saved without pieces: later address
   * spaces may share its pages. `content`: its stored runs (address and bytes); `runs` and
   * `pieces`: the address space's saved arrays, which sharing changes.
   */
  addOrigin(mm: number, start: number, end: number, content: { addr: number; bytes: Uint8Array }[], runs: Run[], pieces: SavedCowPiece[]): void {
    if (content.length === 0) return;
    const c = content.map((x) => ({ addr: x.addr, words: wordsOf(x.bytes) }));
    c.sort((a, b) => a.addr - b.addr);
    this.#origins.push({ mm, start, end, content: c, object: -1, runs, pieces });
  }
}

/** The origin's page at addr: its words and the page's first word; null for a zero page. */
function pageOf(o: Origin, addr: number): { words: Uint32Array; at: number } | null {
  const c = o.content;
  let lo = 0, hi = c.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (c[mid]!.addr <= addr) lo = mid + 1;
    else hi = mid;
  }
  const r = c[lo - 1];
  if (r === undefined || addr >= r.addr + r.words.length * 4) return null;
  return { words: r.words, at: (addr - r.addr) >>> 2 };
}

/** Adjacent pieces of one object at continuing offsets become one; sorted by address. */
export function joinPieces(pieces: SavedCowPiece[]): SavedCowPiece[] {
  pieces.sort((a, b) => a.addr - b.addr);
  const out: SavedCowPiece[] = [];
  for (const p of pieces) {
    const last = out[out.length - 1];
    if (last !== undefined && last.addr + last.len === p.addr && last.object === p.object && last.offset + last.len === p.offset) {
      last.len += p.len;
    } else {
      out.push({ ...p });
    }
  }
  return out;
}

/**
 * Checks the objects against the blobs (runs inside their object, each blob used once, lengths
 * page-aligned and bounded); `used` collects the blobs.
 */
export function checkCowObjects(objects: readonly SavedCowObject[], blobs: readonly ImageBlob[], used: Set<number>, bad: (why: string) => ImageError): void {
  let total = 0;
  for (const [i, o] of objects.entries()) {
    total += o.length;
    if (o.length === 0 || o.length % PAGE_SIZE !== 0 || total > MAX_COW_BYTES) throw bad(`copy-on-write object ${i} has a bad length`);
    for (const r of o.runs) {
      const b = blobs[r.blob];
      if (b === undefined || used.has(r.blob) || r.off % PAGE_SIZE !== 0 || r.off + b.length > o.length) {
        throw bad(`copy-on-write object ${i} names blob ${r.blob} at ${r.off}`);
      }
      used.add(r.blob);
    }
  }
}

/** The restore's side: each object made and filled on first use, then mapped by each address space. */
export class CowMemories {
  readonly #made = new Map<number, CowMemory | null>();

  constructor(
    readonly platform: Platform,
    readonly objects: readonly SavedCowObject[],
    readonly blobs: readonly ImageBlob[],
    /** Copies a blob into memory through `write(offset, bytes)`, a piece at a time. */
    readonly copyBlob: (b: ImageBlob, write: (off: number, bytes: Uint8Array) => void) => void,
  ) {}

  /** Object i as the platform's memory, filled; null when the platform cannot share pages so. */
  get(i: number): CowMemory | null {
    if (this.#made.has(i)) return this.#made.get(i)!;
    const o = this.objects[i]!;
    const mem = this.platform.newCowMemory?.(o.length) ?? null;
    this.#made.set(i, mem);
    if (mem !== null) {
      for (const r of o.runs) this.copyBlob(this.blobs[r.blob]!, (off, bytes) => mem.write(r.off + off, bytes));
    }
    return mem;
  }

  /** Writes what a piece of object i holds at [offset, offset + len) to `write(off, bytes)` (a copy, without shared pages). */
  copyInto(i: number, offset: number, len: number, write: (off: number, bytes: Uint8Array) => void): void {
    for (const r of this.objects[i]!.runs) {
      const b = this.blobs[r.blob]!;
      const s = Math.max(r.off, offset), e = Math.min(r.off + b.length, offset + len);
      if (s >= e) continue;
      this.copyBlob(b, (off, bytes) => {
        // The part of this piece of the blob inside [s, e).
        const from = r.off + off, to = from + bytes.length;
        const ps = Math.max(from, s), pe = Math.min(to, e);
        if (ps < pe) write(ps - offset, bytes.subarray(ps - from, pe - from));
      });
    }
  }

  /** Drops the restore's hold on every object: what no address space maps goes. */
  release(): void {
    for (const m of this.#made.values()) m?.release();
    this.#made.clear();
  }
}

/**
 * Checks one address space's pieces: sorted and disjoint, page-aligned, each inside one private
 * anonymous mapping, naming an object it fits in.
 */
export function checkCowPieces(
  pieces: readonly SavedCowPiece[],
  vmas: readonly { start: number; end: number; shared?: unknown; file?: unknown; memfd?: unknown; name: string }[],
  objects: readonly SavedCowObject[],
  usedObjects: Set<number>,
  bad: (why: string) => ImageError,
): void {
  let prevEnd = 0;
  for (const p of pieces) {
    const o = objects[p.object];
    const v = vmas.find((v) => v.start <= p.addr && p.addr + p.len <= v.end);
    if (
      p.addr % PAGE_SIZE !== 0 || p.len % PAGE_SIZE !== 0 || p.offset % PAGE_SIZE !== 0 || p.len === 0 || p.addr < prevEnd ||
      o === undefined || p.offset + p.len > o.length || v === undefined || v.shared !== undefined || v.file !== undefined ||
      v.memfd !== undefined || v.name === "[vvar]" || v.name === "[vdso]"
    ) {
      throw bad(`copy-on-write piece at 0x${p.addr.toString(16)} is unaligned, overlaps, or lies outside a private mapping or its object`);
    }
    prevEnd = p.addr + p.len;
    usedObjects.add(p.object);
  }
}

/** The largest run of memory one blob holds (a larger run is split). */
export const RUN_BYTES = 16 << 20;

/**
 * Where each mapping of shared anonymous memory is restored from. Walked in the same order at
 * the checkpoint (to refuse what the restore could not rebuild) and at the restore: address
 * spaces in the image's order, mappings by address. The first mapping of a range of an object
 * is new memory; a later one inside it maps the same pages (the platform's shareAnonymous); one
 * that overlaps earlier ones only in part is not rebuilt.
 */
export class SharedPlacement {
  readonly #pieces = new Map<number, { mm: number; start: number; offset: number; len: number }[]>();

  /** null: new memory; a place to share from; or "partial". */
  place(object: number, mm: number, start: number, offset: number, len: number): { mm: number; addr: number } | null | "partial" {
    const list = this.#pieces.get(object) ?? [];
    for (const p of list) {
      if (offset >= p.offset && offset + len <= p.offset + p.len) return { mm: p.mm, addr: p.start + (offset - p.offset) };
    }
    if (list.some((p) => offset < p.offset + p.len && p.offset < offset + len)) return "partial";
    list.push({ mm, start, offset, len });
    this.#pieces.set(object, list);
    return null;
  }
}
