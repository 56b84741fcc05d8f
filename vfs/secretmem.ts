/**
 * memfd_secret(2)'s files (Linux's mm/secretmem.c): memory only the process that maps it (and
 * its children, which share the mapping) can reach. Backed by a host memfd that only the sentry
 * holds, mapped MAP_SHARED; the file itself has no read or write (EINVAL), no fallocate, is not
 * seekable, and takes its size once. Mappings of it are shared only, locked (VM_LOCKED), and no
 * other process reaches them (process_vm_* and ptrace's memory access see no pages: Linux
 * removes them from the kernel's direct map and GUP refuses them).
 *
 * The file is at `/secretmem (deleted)` as /proc/PID/fd shows it.
 *
 * @module
 */

import { EINVAL } from "../kernel/errno.ts";
import { O_RDWR, S_IFREG } from "../abi/linux/file.ts";
import { FileDescription, type Stat } from "./file_description.ts";
import { MemFd } from "./memfd.ts";

/** SECRETMEM_MAGIC, statfs's f_type for it. */
const SECRETMEM_MAGIC = 0x5345434d;

let nextIno = 1;

/** @savable (refused: a checkpoint names it and stops) */
export class SecretMemFile extends FileDescription {
  /** @nosave The memory: a memfd no descriptor of the sandbox names. */
  readonly #mem = MemFd.create(0);
  readonly #ino = nextIno++;
  readonly #createdNs = BigInt(Date.now()) * 1_000_000n;

  constructor(readonly uid: number, readonly gid: number) {
    super(O_RDWR);
  }

  override get pseudoFsType(): number {
    return SECRETMEM_MAGIC;
  }

  path(): string {
    return "/secretmem (deleted)";
  }

  stat(): Stat {
    const size = this.#mem.stat().size, t = this.#createdNs;
    return {
      dev: 0x2, ino: this.#ino, mode: S_IFREG | 0o600, nlink: 1, uid: this.uid, gid: this.gid, rdev: 0, size,
      blksize: 4096, blocks: 0, atimeNs: t, mtimeNs: t, ctimeNs: t,
    };
  }

  /** secretmem_setattr: the size is set once; any later size change is EINVAL. */
  override truncateOutsideTree(len: bigint): boolean {
    if (this.#mem.stat().size !== 0) throw EINVAL;
    this.#mem.truncate(len);
    return true;
  }

  /** No llseek, pread or pwrite (a pseudo file without FMODE_LSEEK/PREAD): ESPIPE. */
  override get isStream(): boolean {
    return true;
  }

  override get spliceable(): boolean {
    return false;
  }

  override get secretMemory(): boolean {
    return true;
  }

  override get shmem(): boolean {
    return false;
  }

  override hostFdForMmap(): number {
    return this.#mem.hostFdForMmap();
  }

  protected override release(): void {
    this.#mem.decRef();
  }
}
