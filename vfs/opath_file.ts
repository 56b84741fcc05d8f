/**
 * O_PATH descriptions: a reference to a place in the tree that cannot be read or written, for
 * fchdir(2), fstat(2) and as the dirfd of *at(2) calls. As Linux, read, write, lseek, ioctl
 * and getdents on one are EBADF.
 *
 * @module
 */

import { EBADF } from "../kernel/errno.ts";
import { type DirEntry, type MemoryIO } from "./file_description.ts";
import { LocatedFile } from "./located_file.ts";
import type { Location } from "./mount.ts";

/** @savable */
export class OPathFile extends LocatedFile {

  constructor(loc: Location, flags: number) {
    super(loc, flags);
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
