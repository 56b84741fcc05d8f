/**
 * O_PATH descriptions: a reference to a place in the tree that cannot be read or written, for
 * fchdir(2), fstat(2) and as the dirfd of *at(2) calls. As Linux, read, write, lseek, ioctl
 * and getdents on one are EBADF.
 *
 * @module
 */

import { EBADF } from "../kernel/errno.ts";
import { type DirEntry, FileDescription, type MemoryIO, type Stat } from "./file_description.ts";
import type { Location } from "./mount.ts";

/** @savable */
export class OPathFile extends FileDescription {
  /** Immutable. */
  readonly #loc: Location;

  constructor(loc: Location, flags: number) {
    super(flags);
    this.#loc = loc;
  }

  override location(): Location {
    return this.#loc;
  }

  path(): string {
    return this.#loc.path();
  }

  stat(): Stat {
    return this.#loc.dentry.stat();
  }

  override read(_dst: Uint8Array, _offset: number | null): number {
    throw EBADF;
  }

  override write(_src: Uint8Array, _offset: number | null): number {
    throw EBADF;
  }

  override seek(_offset: number, _whence: number): number {
    throw EBADF;
  }

  override readdir(_cookie: number, _accept: (e: DirEntry, next: number) => boolean): number {
    throw EBADF;
  }

  override ioctl(_cmd: number, _arg: number, _io: MemoryIO): number {
    throw EBADF;
  }
}
