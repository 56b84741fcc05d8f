/**
 * The open description of a directory, for every filesystem: getdents64(2) and lseek(2) over
 * the dentry's children, with "." and ".." in front. Analogous to Linux's dcache_readdir.
 *
 * The listing is taken from the dentry when reading starts at position 0 (open, rewinddir) and
 * kept until the next restart, so positions stay stable while the application reads in
 * several calls.
 *
 * @module
 */

import { EINVAL, EISDIR, ENOENT } from "../kernel/errno.ts";
import { DT_DIR, SEEK_CUR, SEEK_END, SEEK_SET } from "../abi/linux/file.ts";
import type { DirEntry } from "./file_description.ts";
import { LocatedFile } from "./located_file.ts";
import type { Location } from "./mount.ts";

/** @savable */
export class DirectoryFile extends LocatedFile {
  /** The listing being read; null until the first readdir from position 0. */
  #entries: DirEntry[] | null = null;

  constructor(loc: Location, flags: number) {
    super(loc, flags);
  }

  override read(_dst: Uint8Array, _offset: number | null): number {
    throw EISDIR;
  }

  override readdir(cookie: number, accept: (e: DirEntry, next: number) => boolean): number {
    // iterate_dir: a removed directory (IS_DEADDIR) lists nothing, ENOENT.
    if (this.loc.dentry.unlinked) throw ENOENT;
    if (cookie === 0 || this.#entries === null) {
      this.#entries = [
        { name: ".", ino: this.loc.dentry.ino, type: DT_DIR },
        { name: "..", ino: this.loc.parent().dentry.ino, type: DT_DIR },
        ...this.loc.dentry.children(),
      ];
    }
    let i = cookie;
    while (i < this.#entries.length && accept(this.#entries[i]!, i + 1)) i++;
    return i;
  }

  /** For a checkpoint: the listing being read (null when none was taken since the last restart). */
  get listing(): readonly DirEntry[] | null {
    return this.#entries;
  }

  /** For a restore: the listing the saved description was reading, so that its position means what it meant. */
  set listing(entries: readonly DirEntry[] | null) {
    this.#entries = entries === null ? null : entries.map((e) => ({ ...e }));
  }

  /** lseek(2) on a directory: the position is an index into the listing. */
  override seek(offset: number, whence: number): number {
    let pos: number;
    if (whence === SEEK_SET) pos = offset;
    else if (whence === SEEK_CUR) pos = this.offset + offset;
    else if (whence === SEEK_END && this.loc.dentry.fs.dirSeekEnd === true) pos = offset;
    else throw EINVAL;
    if (pos < 0) throw EINVAL;
    this.offset = pos;
    return pos;
  }
}
