/**
 * Files with no name in any filesystem (epoll, eventfd, timerfd, signalfd, pidfd, inotify):
 * Linux's anon_inode files. What they share is here once: the `anon_inode:[...]` path that
 * /proc/PID/fd shows, fstat's figures, no offset (noop_llseek) and stream semantics.
 *
 * @module
 */

import { FileDescription, type Stat } from "./file_description.ts";
import type { WaitQueue } from "../waiter/mod.ts";
import { ENXIO, EOPNOTSUPP } from "../kernel/errno.ts";
import { ANON_INODE_FS_MAGIC } from "../abi/linux/file.ts";

let nextAnonIno = 1;

/** What fstat reports for an anonymous-inode file. */
export function anonStat(ino: number): Stat {
  return {
    dev: 0xe, ino, mode: 0o600, nlink: 1, uid: 0, gid: 0, rdev: 0, size: 0, blksize: 4096, blocks: 0,
    atimeNs: 0n, mtimeNs: 0n, ctimeNs: 0n,
  };
}

/** @savable An anonymous-inode file; subclasses implement what their file does. */
export abstract class AnonInodeFile extends FileDescription {
  /** Immutable. */
  readonly ino = nextAnonIno++;

  /** eventfd, timerfd, signalfd, epoll, inotify, pidfd and the other anonymous files have no splice operations. */
  override get spliceable(): boolean {
    return false;
  }
  /** Immutable. The link text in /proc/PID/fd, e.g. "anon_inode:[eventfd]". */
  readonly #path: string;

  constructor(path: string, flags: number, waitQueue?: WaitQueue) {
    super(flags, waitQueue);
    this.#path = path;
  }

  path(): string {
    return this.#path;
  }

  stat(): Stat {
    return anonStat(this.ino);
  }

  override get pseudoFsType(): number {
    return ANON_INODE_FS_MAGIC;
  }

  /** Linux's anon_inode_setattr: the shared anonymous inode takes no attribute change. */
  override chmodOutsideTree(): void {
    throw EOPNOTSUPP;
  }

  override chownOutsideTree(): void {
    throw EOPNOTSUPP;
  }

  override touchOutsideTree(): void {
    throw EOPNOTSUPP;
  }

  /**
   * An open of /proc/PID/fd/N that leads here, with open(2)'s flags: ENXIO, as Linux's anon
   * inode has no open of its own. (Handing back this description would let an O_RDONLY open
   * write it, outside the new descriptor's access mode.)
   */
  reopen(_flags: number): FileDescription {
    throw ENXIO;
  }

  override get isStream(): boolean {
    return true;
  }

  /** noop_llseek, as Linux's file operations for these files. */
  override seek(): number {
    return 0;
  }
}
