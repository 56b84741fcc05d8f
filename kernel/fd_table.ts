/**
 * The file descriptor table: Linux's struct files_struct. Shared by threads (CLONE_FILES),
 * copied on fork.
 *
 * Synchronous on purpose: the table is consistent at every await point because it has none.
 *
 * @module
 */

import { EBADF, EMFILE, EINVAL } from "./errno.ts";
import type { FileDescription } from "../vfs/file_description.ts";
import type { CloseWatcher } from "../vfs/lock.ts";
import { dnotifyActive, dnotifyFlush } from "./dnotify.ts";

interface Slot {
  file: FileDescription;
  cloexec: boolean;
}

/** Linux's NR_OPEN_DEFAULT: the descriptor array a new table starts with (BITS_PER_LONG). */
const FD_ARRAY_DEFAULT = 64;

/**
 * The size Linux's alloc_fdtable gives an array that must hold descriptor `fd`: a power of two
 * of 1 KiB pages of pointers (128 descriptors each), never below the default.
 */
function fdArraySizeFor(fd: number): number {
  if (fd < FD_ARRAY_DEFAULT) return FD_ARRAY_DEFAULT;
  let pages = 1;
  while (pages <= Math.floor(fd / 128)) pages *= 2;
  return pages * 128;
}

/** @savable */
export class FdTable {
  readonly #slots = new Map<number, Slot>();
  /** RLIMIT_NOFILE soft limit, updated by the owner when the limit changes. */
  limit = 1024;
  /** Tasks sharing this table (CLONE_FILES); the last one to leave closes everything. */
  users = 1;
  /**
   * Told of every close while set: the file lock table, while this table owns POSIX record
   * locks, which go with any close of the file by their owner (Linux's filp_close). Not
   * inherited by fork, as the locks are not.
   */
  closeWatcher: CloseWatcher | null = null;
  /**
   * The size of Linux's descriptor array (fdt->max_fds): it grows to hold the highest
   * descriptor installed and never shrinks; fork sizes the child's for the highest one open.
   * select(2) ignores the bits beyond it, which is visible to programs (a select naming an
   * unopened descriptor past it returns 0 where one inside it is EBADF).
   */
  #arraySize = FD_ARRAY_DEFAULT;
  /**
   * No descriptor below this one is free (Linux's files->next_fd): the search for the lowest
   * free descriptor starts here, so a process holding thousands of descriptors does not scan
   * them all on every open (LTP's fork09 opens 20,000 files).
   */
  #nextFd = 0;

  /** The descriptor array's size; select(2) looks at no descriptor beyond it. */
  get arraySize(): number {
    return this.#arraySize;
  }

  #grow(fd: number): void {
    if (fd >= this.#arraySize) this.#arraySize = Math.max(this.#arraySize, fdArraySizeFor(fd));
  }

  /** The description behind fd; throws EBADF. Does not take a reference. */
  get(fd: number): FileDescription {
    const s = this.#slots.get(fd);
    if (!s) throw EBADF;
    return s.file;
  }

  getCloexec(fd: number): boolean {
    const s = this.#slots.get(fd);
    if (!s) throw EBADF;
    return s.cloexec;
  }

  setCloexec(fd: number, cloexec: boolean): void {
    const s = this.#slots.get(fd);
    if (!s) throw EBADF;
    s.cloexec = cloexec;
  }

  has(fd: number): boolean {
    return this.#slots.has(fd);
  }

  /**
   * Installs file at the lowest free descriptor >= minFd and returns it. Takes over the
   * caller's reference to file (the caller must not decRef it afterwards).
   */
  install(file: FileDescription, cloexec = false, minFd = 0): number {
    if (minFd < 0) throw EINVAL;
    let fd = Math.max(minFd, this.#nextFd);
    while (this.#slots.has(fd)) fd++;
    if (fd >= this.limit) {
      file.decRef();
      throw minFd >= this.limit ? EINVAL : EMFILE;
    }
    this.#slots.set(fd, { file, cloexec });
    if (minFd <= this.#nextFd) this.#nextFd = fd + 1;
    this.#grow(fd);
    return fd;
  }

  /** The descriptor install() would pick now (minFd 0); EMFILE when none is left. */
  lowestFree(): number {
    let fd = this.#nextFd;
    while (this.#slots.has(fd)) fd++;
    if (fd >= this.limit) throw EMFILE;
    return fd;
  }

  /** Installs file exactly at fd, closing what was there (dup2). Takes over the reference. */
  installAt(fd: number, file: FileDescription, cloexec: boolean): void {
    if (fd < 0 || fd >= this.limit) {
      file.decRef();
      throw EBADF;
    }
    const old = this.#slots.get(fd);
    this.#slots.set(fd, { file, cloexec });
    this.#grow(fd);
    if (old) {
      this.closeWatcher?.fileClosed(old.file, this);
      if (dnotifyActive()) dnotifyFlush(old.file, this);
      old.file.decRef();
    }
  }

  /** close(2): removes fd and drops its reference. */
  remove(fd: number): void {
    const s = this.#slots.get(fd);
    if (!s) throw EBADF;
    this.#slots.delete(fd);
    if (fd < this.#nextFd) this.#nextFd = fd;
    this.closeWatcher?.fileClosed(s.file, this);
    if (dnotifyActive()) dnotifyFlush(s.file, this);
    s.file.decRef();
  }

  /** For fork: a new table with the same descriptions (each gains a reference). */
  /**
   * EMFILE when a copy could not hold the open descriptors: Linux's dup_fd sizes the copy for
   * them in whole words of its bitmap, and alloc_fdtable never goes past fs.nr_open (rounded up
   * to a word), which may have been lowered below the highest one since it was opened.
   */
  checkCopyable(nrOpen: number): void {
    let highest = -1;
    for (const fd of this.#slots.keys()) if (fd > highest) highest = fd;
    if (highest < 0) return;
    const needed = (Math.floor(highest / 64) + 1) * 64;
    if ((((nrOpen - 1) | 63) + 1) < needed) throw EMFILE;
  }

  fork(): FdTable {
    const t = new FdTable();
    t.limit = this.limit;
    t.#nextFd = this.#nextFd;
    let highest = -1;
    for (const [fd, s] of this.#slots) {
      t.#slots.set(fd, { file: s.file.incRef(), cloexec: s.cloexec });
      if (fd > highest) highest = fd;
    }
    // Linux's dup_fd: sized for the open descriptors counted in whole words of the bitmap.
    if (highest >= 0) t.#grow((Math.floor(highest / 64) + 1) * 64 - 1);
    return t;
  }

  /** For execve: closes every close-on-exec descriptor. */
  closeOnExec(): void {
    for (const [fd, s] of [...this.#slots]) if (s.cloexec) this.remove(fd);
  }

  /** Closes everything (the last task using the table exited). */
  removeAll(): void {
    for (const fd of [...this.#slots.keys()]) this.remove(fd);
  }

  /** Descriptors in ascending order, for /proc/PID/fd and close_range. */
  fds(): number[] {
    return [...this.#slots.keys()].sort((a, b) => a - b);
  }

  get size(): number {
    return this.#slots.size;
  }

  /**
   * Checkpoint (docs/checkpoint.md): the table as data, each description by the index `ref`
   * gives it (one index per description, however many descriptors or tables share it).
   */
  save(ref: (file: FileDescription) => number): SavedFdTable {
    return { limit: this.limit, arraySize: this.#arraySize, slots: this.fds().map((fd) => ({ fd, file: ref(this.#slots.get(fd)!.file), cloexec: this.#slots.get(fd)!.cloexec })) };
  }

  /** Restore: the table `save` wrote, each description from `get` (which gives a new reference). */
  static load(s: SavedFdTable, get: (ref: number) => FileDescription): FdTable {
    const t = new FdTable();
    t.limit = s.limit;
    for (const slot of s.slots) {
      t.#slots.set(slot.fd, { file: get(slot.file), cloexec: slot.cloexec });
      t.#grow(slot.fd);
    }
    // Images before the array size was saved: the size the open descriptors need.
    if (s.arraySize !== undefined) t.#grow(s.arraySize - 1);
    return t;
  }
}

/** An {@linkcode FdTable} in a checkpoint image. */
export interface SavedFdTable {
  limit: number;
  /** Absent in images of format 10 and before. */
  arraySize?: number | undefined;
  slots: { fd: number; file: number; cloexec: boolean }[];
}
