/**
 * The base of open files that sit at a place in the tree (regular files, directories, devices,
 * O_PATH descriptions): they keep their Location, which gives fchdir, *at(2) with a dirfd,
 * /proc/PID/fd and stat(2).
 *
 * @module
 */

import { EINVAL, ENXIO } from "../kernel/errno.ts";
import { SEEK_CUR, SEEK_DATA, SEEK_END, SEEK_HOLE, SEEK_SET } from "../abi/linux/file.ts";
import { FileDescription, type Stat } from "./file_description.ts";
import type { Location } from "./mount.ts";
import type { WaitQueue } from "../waiter/mod.ts";

/** @savable */
export abstract class LocatedFile extends FileDescription {
  /** Immutable. Where the file was opened. */
  protected readonly loc: Location;

  constructor(loc: Location, flags: number, waitQueue?: WaitQueue) {
    super(flags, waitQueue);
    this.loc = loc;
  }

  override location(): Location {
    return this.loc;
  }

  path(): string {
    return this.loc.path();
  }

  /** The dentry's attributes; files with a better source (a host fd) override this. */
  stat(): Stat {
    return this.loc.dentry.stat();
  }
}

/**
 * lseek(2) arithmetic for a regular file of the given size, as Linux's generic_file_llseek:
 * without `holeData` SEEK_DATA and SEEK_HOLE see the whole file as data; with it, it answers them
 * for an offset inside the file (a filesystem that tracks holes, as Linux's shmem_file_llseek and
 * ext4's do). Either way an offset at or past the end, or negative (unsigned in Linux's
 * comparison), is ENXIO. Returns the new offset; EINVAL for a negative or unrepresentable result
 * or an unknown whence.
 */
export function seekRegular(
  cur: number,
  offset: number,
  whence: number,
  size: () => number,
  holeData?: (offset: number, whence: number, size: number) => number,
): number {
  let pos: number;
  switch (whence) {
    case SEEK_SET:
      pos = offset;
      break;
    case SEEK_CUR:
      pos = cur + offset;
      break;
    case SEEK_END:
      pos = size() + offset;
      break;
    case SEEK_DATA:
    case SEEK_HOLE: {
      const n = size();
      if (offset < 0 || offset >= n) throw ENXIO;
      pos = holeData !== undefined ? holeData(offset, whence, n) : whence === SEEK_DATA ? offset : n;
      break;
    }
    default:
      throw EINVAL;
  }
  if (pos < 0 || !Number.isSafeInteger(pos)) throw EINVAL;
  return pos;
}

/**
 * SEEK_DATA/SEEK_HOLE answered by a host descriptor's own lseek (a hostfs file, a memfd): its
 * filesystem knows its holes. The host descriptor's offset moves, which nothing reads (the
 * sentry reads and writes host files at explicit offsets). The result is clamped to the size
 * the sentry saw, as Linux's mapping_seek_hole_data clamps to i_size.
 */
export function hostHoleData(fd: number, lseek: (fd: number, off: number, whence: number) => number): (offset: number, whence: number, size: number) => number {
  return (offset, whence, size) => {
    const r = lseek(fd, offset, whence);
    if (r === -ENXIO_NUMBER) throw ENXIO;
    // Any other failure (a host filesystem without lseek): the whole file is data.
    if (r < 0) return whence === SEEK_DATA ? offset : size;
    if (r >= size && whence === SEEK_DATA) throw ENXIO;
    return Math.min(r, size);
  };
}

const ENXIO_NUMBER = 6;
