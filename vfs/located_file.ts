/**
 * The base of open files that sit at a place in the tree (regular files, directories, devices,
 * O_PATH descriptions): they keep their Location, which gives fchdir, *at(2) with a dirfd,
 * /proc/PID/fd and stat(2).
 *
 * @module
 */

import { FileDescription, type Stat } from "./file_description.ts";
import type { Location } from "./mount.ts";

/** @savable */
export abstract class LocatedFile extends FileDescription {
  /** Immutable. Where the file was opened. */
  protected readonly loc: Location;

  constructor(loc: Location, flags: number) {
    super(flags);
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
