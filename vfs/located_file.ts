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
 * SEEK_DATA and SEEK_HOLE see the whole file as data (ENXIO at or past the end). Returns the
 * new offset; EINVAL for a negative or unrepresentable result or an unknown whence.
 */
export function seekRegular(cur: number, offset: number, whence: number, size: () => number): number {
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
      if (offset < 0) throw EINVAL;
      const n = size();
      if (offset >= n) throw ENXIO;
      pos = whence === SEEK_DATA ? offset : n;
      break;
    }
    default:
      throw EINVAL;
  }
  if (pos < 0 || !Number.isSafeInteger(pos)) throw EINVAL;
  return pos;
}
