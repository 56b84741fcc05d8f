/**
 * Checkpoint of io_uring instances (kernel/io_uring.ts; docs/checkpoint.md). At the safe point
 * a ring with nothing in flight holds only its rings' memory and a few numbers: the rings and
 * SQEs are a memfd, saved as one (memfd.ts) and named here by its index in the image's files
 * (the application's MAP_SHARED mappings of the ring name the same memfd, so they come back
 * sharing it), and the kernel's own SQ head and CQ tail, the CQEs waiting in the overflow list,
 * the count of completions and the registered buffers are saved beside it. A ring with requests
 * in flight (a read waiting for a pipe, a timeout), registered files or an eventfd is refused.
 *
 * @module
 */

import { intIn, lazyKind, z } from "./zod_tree.ts";
import type { Kernel } from "../kernel.ts";
import type { FileDescription } from "../../vfs/file_description.ts";
import type { MemFd } from "../../vfs/memfd.ts";
import { IORING_MAX_CQ_ENTRIES, IORING_MAX_ENTRIES, IoUring, type RingState, SUPPORTED_SETUP_FLAGS } from "../io_uring.ts";
import { ImageError } from "./image.ts";

const u32 = intIn(0, 0xffff_ffff);
const i32 = intIn(-0x8000_0000, 0x7fff_ffff);
const hex64 = z.string().regex(/^[0-9a-f]{1,16}$/);
const addr = intIn(0, 2 ** 47);

export const ioUringFileSchema = lazyKind("io_uring", () =>
  z.object({
    kind: z.literal("io_uring"),
    flags: u32,
    /** The rings' memfd: an index of the image's files. */
    mem: u32,
    sqEntries: intIn(1, IORING_MAX_ENTRIES),
    cqEntries: intIn(2, IORING_MAX_CQ_ENTRIES),
    setupFlags: u32,
    sqHead: u32,
    cqTail: u32,
    completions: intIn(0, Number.MAX_SAFE_INTEGER),
    /** CQEs waiting for room: user_data (hex), res, flags. */
    overflow: z.array(z.tuple([hex64, i32, u32])).max(1 << 20),
    buffers: z.array(z.tuple([addr, intIn(0, 1 << 30)])).max(1 << 14).nullable(),
  }).strict());

export type SavedIoUring = z.infer<typeof ioUringFileSchema>;

/** What the schema cannot check: sizes powers of two, CQ at least SQ, flags known, the memory a memfd large enough. */
export function checkIoUringShape(s: SavedIoUring, files: readonly { kind: string; size?: number }[], bad: (why: string) => Error): void {
  const pow2 = (n: number) => (n & (n - 1)) === 0;
  if (!pow2(s.sqEntries) || !pow2(s.cqEntries) || s.cqEntries < s.sqEntries) throw bad("an io_uring's ring sizes");
  if (s.setupFlags & ~SUPPORTED_SETUP_FLAGS) throw bad("an io_uring's setup flags");
  const m = files[s.mem];
  if (m?.kind !== "memfd") throw bad(`an io_uring's rings name file ${s.mem}, not a memfd`);
}

/** A ring over its restored memfd (made before the files, memfd.ts). */
export function makeIoUring(k: Kernel, s: SavedIoUring, mem: MemFd | undefined): FileDescription {
  if (mem === undefined) throw new ImageError(`restore: an io_uring's rings name file ${s.mem}, not a memfd`);
  const state: RingState = {
    sqEntries: s.sqEntries, cqEntries: s.cqEntries, setupFlags: s.setupFlags, sqHead: s.sqHead, cqTail: s.cqTail,
    completions: s.completions, overflow: s.overflow.map(([u, r, f]) => [BigInt(`0x${u}`), r, f]), buffers: s.buffers,
  };
  const ring = new IoUring(s.sqEntries, s.cqEntries, s.setupFlags, s.flags, {
    add: (d) => k.addDeadline(d), remove: (d) => k.removeDeadline(d),
  }, { mem, state });
  // The rings' file must hold what the ring addresses (a hostile image could shrink it).
  if (mem.stat().size < ring.sqesOff + s.sqEntries * 64) {
    ring.decRef();
    throw new ImageError("restore: an io_uring's rings memfd is smaller than its rings");
  }
  return ring;
}
