/**
 * Open regular files of the overlay. A description opened on a file that is still only in the
 * lower layer reads the host file; when any opener copies the file up later, the description
 * switches to the upper copy on its next operation, so it sees what was written there, as
 * Linux's overlayfs does since 4.19 (ovl_real_fdget: the real file follows copy-up). Files
 * opened for writing are copied up first and so start on the upper copy.
 *
 * The wrapper keeps the offset and status flags (F_SETFL changes this description, not the
 * real one) and hands them to the real description around each call. stat reports the
 * overlay's inode and device numbers, which stay the lower file's across copy-up.
 *
 * @module
 */

import type { FileDescription, MemoryIO, Stat } from "../file_description.ts";
import { DirectoryFile } from "../directory_file.ts";
import { LocatedFile } from "../located_file.ts";
import type { Location } from "../mount.ts";
import type { OverlayDentry } from "./overlay.ts";

/** @savable An open regular file of the overlay, over the real file of one layer. */
export class OverlayRegularFile extends LocatedFile {
  /** Immutable. */
  readonly #dentry: OverlayDentry;
  /** The open file of the layer that holds the data now. */
  #real: FileDescription;
  /** #real is the lower layer's (the file had no upper copy when it was opened). */
  #onLower: boolean;

  constructor(loc: Location, flags: number, dentry: OverlayDentry, real: FileDescription, onLower: boolean) {
    super(loc, flags);
    this.#dentry = dentry;
    this.#real = real;
    this.#onLower = onLower;
  }

  /** The real file, switched to the upper copy if the file was copied up since; offset and flags handed over. */
  #current(): FileDescription {
    if (this.#onLower && this.#dentry.upper !== null) {
      const up = this.#dentry.openReal(this.loc, this.flags);
      this.#real.decRef();
      this.#real = up;
      this.#onLower = false;
    }
    const r = this.#real;
    r.flags = this.flags;
    r.offset = this.offset;
    return r;
  }

  override read(dst: Uint8Array, offset: number | null): number {
    const r = this.#current();
    const n = r.read(dst, offset);
    this.offset = r.offset;
    return n;
  }

  override mappedRead(len: number, offset: number | null): Uint8Array | null {
    const r = this.#current();
    const v = r.mappedRead(len, offset);
    this.offset = r.offset;
    return v;
  }

  override write(src: Uint8Array, offset: number | null): number {
    const r = this.#current();
    const n = r.write(src, offset);
    this.offset = r.offset;
    return n;
  }

  override seek(offset: number, whence: number): number {
    this.offset = this.#current().seek(offset, whence);
    return this.offset;
  }

  override stat(): Stat {
    const r = this.#current();
    const st = r.stat();
    if (!this.#onLower) {
      st.ino = this.#dentry.ino;
      st.dev = this.#dentry.dev;
    }
    return st;
  }

  override ioctl(cmd: number, arg: number, io: MemoryIO): number {
    return this.#current().ioctl(cmd, arg, io);
  }

  override allocate(mode: number, off: number, len: number): void {
    this.#current().allocate(mode, off, len);
  }

  override sync(): void {
    this.#current().sync();
  }

  override hostFdForMmap(): number | null {
    return this.#current().hostFdForMmap();
  }

  protected override release(): void {
    this.#real.decRef();
  }
}

/**
 * @savable An open directory of the overlay: listed by the overlay's merged dentry, holding
 * the real directory open (ovl_dir_open's realfile) from open to release, so the layer's
 * watches hear both. A checkpoint reopens it by path, which opens the real one again.
 */
export class OverlayDirectoryFile extends DirectoryFile {
  /** Immutable. The real directory of a mounted overlay; null for the root overlay. */
  readonly #real: FileDescription | null;

  constructor(loc: Location, flags: number, real: FileDescription | null) {
    super(loc, flags);
    this.#real = real;
  }

  protected override release(): void {
    super.release();
    this.#real?.decRef();
  }
}
