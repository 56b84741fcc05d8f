/**
 * A task's filesystem context: root, working directory and umask (Linux's struct fs_struct).
 * Shared by CLONE_FS threads, copied on fork.
 *
 * @module
 */

import type { Location } from "../vfs/mod.ts";

/** @savable */
export class FsContext {
  constructor(public root: Location, public cwd: Location, public umask = 0o022) {}

  fork(): FsContext {
    return new FsContext(this.root, this.cwd, this.umask);
  }
}
