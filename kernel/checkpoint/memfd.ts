/**
 * Checkpoint of memfd_create(2) files held as descriptors (issue #13; docs/checkpoint.md): the
 * name, size, contents (runs of non-zero pages, as blobs), seals, status flags and offset. The
 * host memfd behind a MemFd is the sentry's own descriptor: a restore makes a new one, writes
 * the contents back, and seals it as it was (F_SEAL_SEAL last, so a memfd made without
 * MFD_ALLOW_SEALING still refuses new seals). A memfd that a MAP_SHARED mapping holds is saved
 * as a file too (with or without a descriptor), and the mapping names it (sandbox.ts): its pages
 * are the memfd's, restored with it; a private mapping of one is saved as anonymous memory.
 *
 * @module
 */

import { intIn, lazyKind, z } from "./zod_tree.ts";
import { MemFd, MFD_ALLOW_SEALING, MFD_NAME_MAX_LEN } from "../../vfs/memfd.ts";
import { PAGE_SIZE } from "../../abi/linux/mm.ts";
import { LinuxError } from "../errno.ts";
import { blobBytes, type ImageBlob, ImageError } from "./image.ts";

const u32 = intIn(0, 0xffff_ffff);
/** The largest run of a memfd's data one blob holds. */
const RUN_BYTES = 16 << 20;
/** The largest memfd restored: sparse beyond its data, bounded against a hostile size. */
const MAX_SIZE = 2 ** 36;
/** F_SEAL_SEAL, SHRINK, GROW, WRITE, FUTURE_WRITE, EXEC. */
const F_SEAL_SEAL = 0x1, ALL_SEALS = 0x3f;

/** Built at the first memfd an image holds (zod_tree.ts lazyKind). */
export const memfdSchema = lazyKind("memfd", () => z.object({
  kind: z.literal("memfd"),
  name: z.string().max(MFD_NAME_MAX_LEN),
  flags: u32,
  offset: intIn(0, Number.MAX_SAFE_INTEGER),
  size: intIn(0, MAX_SIZE),
  seals: intIn(0, ALL_SEALS),
  /** The data that is not zero: `blob` holds the bytes at `off`. */
  runs: z.array(z.object({ off: intIn(0, MAX_SIZE), blob: u32 }).strict()).max(1 << 20),
}).strict());

export type SavedMemfd = z.infer<typeof memfdSchema>;

/** The saved form of a memfd; its data goes to `blobs`. */
export function saveMemfd(f: MemFd, blobs: Uint8Array[]): SavedMemfd {
  const size = f.stat().size;
  const runs: { off: number; blob: number }[] = [];
  for (let off = 0; off < size; off += RUN_BYTES) {
    const buf = new Uint8Array(Math.min(RUN_BYTES, size - off));
    const n = f.read(buf, off);
    // Only runs of pages with something in them: the rest reads back as zeros (a sparse file).
    let runStart = -1;
    const flush = (end: number) => {
      runs.push({ off: off + runStart, blob: blobs.length });
      blobs.push(buf.slice(runStart, end));
      runStart = -1;
    };
    for (let p = 0; p < n; p += PAGE_SIZE) {
      const zero = !buf.subarray(p, Math.min(n, p + PAGE_SIZE)).some((b) => b !== 0);
      if (!zero && runStart < 0) runStart = p;
      if (zero && runStart >= 0) flush(p);
    }
    if (runStart >= 0) flush(n);
  }
  return { kind: "memfd", name: f.name, flags: f.flags, offset: f.offset, size, seals: f.getSeals(), runs };
}

/**
 * A new memfd with the saved name and contents, not sealed yet: the restore maps it first (a
 * mapping made before F_SEAL_FUTURE_WRITE stays writable), then seals it ({@linkcode sealMemfd}).
 * The runs were checked by the caller (each blob used once, inside the size). Throws
 * ImageError when the host refuses the size.
 */
export function makeMemfd(s: SavedMemfd, blobs: readonly ImageBlob[]): MemFd {
  const f = MemFd.create(MFD_ALLOW_SEALING);
  try {
    f.name = s.name;
    f.truncate(s.size);
    for (const r of s.runs) {
      const data = blobBytes(blobs[r.blob]!);
      if (f.write(data, r.off) !== data.length) throw new ImageError(`restore: cannot write the memfd ${s.name}'s data`);
    }
    f.offset = s.offset;
    return f;
  } catch (err) {
    f.decRef();
    if (err instanceof LinuxError) throw new ImageError(`restore: cannot remake the memfd ${s.name}: errno ${err.errno}`);
    throw err;
  }
}

/** Seals a remade memfd as it was (F_SEAL_SEAL last: it forbids the others) and sets its flags. */
export function sealMemfd(f: MemFd, s: SavedMemfd): void {
  try {
    if ((s.seals & ~F_SEAL_SEAL) !== 0) f.addSeals(s.seals & ~F_SEAL_SEAL);
    if ((s.seals & F_SEAL_SEAL) !== 0) f.addSeals(F_SEAL_SEAL);
  } catch (err) {
    if (err instanceof LinuxError) throw new ImageError(`restore: cannot seal the memfd ${s.name} (seals ${s.seals}): errno ${err.errno}`);
    throw err;
  }
  f.flags = s.flags;
}

/** What the schema cannot check: each run inside the size, its blob used once. */
export function checkMemfdShape(s: SavedMemfd, blobs: readonly ImageBlob[], used: Set<number>, bad: (why: string) => Error): void {
  for (const r of s.runs) {
    const b = blobs[r.blob];
    if (b === undefined || used.has(r.blob) || r.off + b.length > s.size) throw bad(`data of the memfd ${s.name} names blob ${r.blob}`);
    used.add(r.blob);
  }
}

