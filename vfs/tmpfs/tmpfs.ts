/**
 * tmpfs: a filesystem in the sentry's memory, as Linux's mm/shmem.c and gVisor's fsimpl/tmpfs.
 * Used for tmpfs mounts and as the writable upper layer of the overlay root.
 *
 * Inodes and dentries: an {@linkcode TmpfsInode} holds the file (attributes, link count, data,
 * children, target, FIFO, bound socket); a {@linkcode TmpfsDentry} is one name of it. Hard links
 * are several dentries of one inode; rename moves a dentry object (its parent and name change),
 * so open files keep following it.
 *
 * Regular file data lives in the sentry, as pages by index (a missing page is a hole; the last
 * page of a small file is only as long as its data), so a file costs no host object and reads
 * and writes no host call: 200,000 files in /tmp are 200,000 maps of pages, not 200,000 host
 * descriptors. mmap needs a host file: {@linkcode TmpfsRegularFile.hostFdForMmap} moves the
 * data into a host memfd (holes stay holes) and from then on read, write and truncate are
 * pread, pwrite and ftruncate on it, so MAP_SHARED mappings in any process and read/write on
 * the file see the same pages, as on Linux. When the last open description goes (mappings
 * hold theirs), the data comes back into pages and the memfd is closed: memfds exist only for
 * files open or mapped now, and each goes through the sentry's descriptor budget.
 *
 * Times follow Linux: creation, removal and rename change the directories' mtime and ctime;
 * every attribute change, link and unlink changes the inode's ctime; a write changes mtime and
 * ctime; a read updates atime under relatime (only when atime is not newer than mtime or
 * ctime, or is a day old).
 *
 * Space: as Linux's shmem, a size limit (size=, rounded up to whole pages, or nr_blocks=) caps the
 * pages allocated, not the files' sizes: a write allocates the pages it reaches, in order, and
 * stops at the first that does not fit (a partial write, or ENOSPC when none fits); fallocate
 * allocates its whole range or nothing (ENOSPC); truncate allocates nothing and frees the pages
 * past the new end; a symlink whose target does not fit inline (128 bytes with its NUL) takes a
 * page. {@linkcode TmpfsInode.allocated} holds each file's allocated pages. Pages a shared
 * mapping dirties are counted when the data comes back from the memfd (the sentry does not see
 * page faults), so only system calls are refused at the limit, never a fault (no SIGBUS: why,
 * and what it would take, in docs/vfs.md).
 *
 * @module
 */

import { encodedPathLength } from "../../abi/path_bytes.ts";
import {
  EEXIST, EFBIG, EINVAL, EISDIR, EMLINK, ENODATA, ENOENT, ENOSPC, ENOTDIR, ENOTEMPTY, ENXIO, EPERM, errnoFromNumber,
  EXDEV,
} from "../../kernel/errno.ts";
import {
  FALLOC_FL_PUNCH_HOLE, FIONREAD, FS_NOATIME_FL, O_APPEND, O_NOATIME, RENAME_EXCHANGE, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
  TMPFS_MAGIC, XATTR_CREATE, XATTR_REPLACE,
} from "../../abi/linux/file.ts";
import { MS_NOATIME, MS_NODIRATIME, MS_STRICTATIME } from "../../abi/linux/mount.ts";
import * as ffi from "../../platform/ptrace/_ffi.ts";
import { Dentry, type Filesystem, type FsStat, type NewFile, type SetAttr } from "../dentry.ts";
import type { DirEntry, FileDescription, MappedPageCharge, MemoryIO, Stat } from "../file_description.ts";
import { hostHoleData, LocatedFile, seekRegular } from "../located_file.ts";
import type { Location } from "../mount.ts";
import { Pipe } from "../pipe.ts";
import { openFifo } from "../fifo.ts";
import { openMemoryDevice } from "../devices.ts";
import { dtFromMode } from "../hostfs/hostfs.ts";
import { hostFds } from "../host_fds.ts";
import type { Acl, AclType } from "../posix_acl.ts";

const PAGE = 4096;
const SEEK_DATA = 3, SEEK_HOLE = 4;
/** The smallest page buffer: a page grows by doubling from here to PAGE as data is written. */
const MIN_PAGE_BUFFER = 64;
/** Linux's MAX_LFS_FILESIZE on 64-bit; also keeps offsets exact as JavaScript numbers. */
const MAX_FILE_SIZE = Number.MAX_SAFE_INTEGER;
const LINK_MAX = 65000;
const XATTR_SECURITY_CAPABILITY = "security.capability";
/** Linux's SHORT_SYMLINK_LEN: a symlink target this long with its NUL needs no page. */
const SHORT_SYMLINK_LEN = 128;
const DAY_NS = 86_400_000_000_000n;
/** STATX_ATTR_IMMUTABLE | APPEND | NODUMP, the bits of FS_IMMUTABLE_FL, FS_APPEND_FL, FS_NODUMP_FL. */
const SHMEM_STATX_ATTRS = 0x70;
const CLOCK_REALTIME = 0;
/** Device numbers for tmpfs instances (Linux gives anonymous superblocks major 0). */
let nextDev = 0x30;

/** The current time in nanoseconds since the epoch. */
export function nowNs(): bigint {
  const [s, ns] = ffi.hostClock(CLOCK_REALTIME);
  return BigInt(s) * 1_000_000_000n + BigInt(ns);
}

function pages(size: number): number {
  return Math.ceil(size / PAGE);
}

/** @savable A tmpfs instance. */
export class TmpfsFilesystem implements Filesystem {
  readonly name = "tmpfs";
  readonly readonly = false;
  readonly root: TmpfsDentry;
  /** Immutable. st_dev of every file. */
  readonly dev: number;
  /** Immutable. The size limit in bytes (Infinity: none), as given. */
  readonly sizeLimit: number;
  /** Immutable. The limit in pages: sizeLimit rounded up (Infinity: none). */
  readonly maxPages: number;
  /** Immutable. The mode=, uid= and gid= the instance was made with (for showOptions). */
  readonly #rootMode: number;
  readonly #rootUid: number;
  readonly #rootGid: number;
  /** Pages allocated to files (the sum of their {@linkcode TmpfsInode.allocated}). */
  usedPages = 0;
  inodes = 0;
  #nextIno = 1;
  /** @nosave Inodes whose data is in a memfd (mapped files), for release(). */
  readonly withMemfd = new Set<TmpfsInode>();

  /** The most inodes (nr_inodes=; Infinity: no limit): more is ENOSPC. */
  maxInodes: number;

  constructor(o: { mode?: number; uid?: number; gid?: number; sizeLimit?: number; maxInodes?: number } = {}) {
    this.dev = nextDev++;
    this.maxInodes = o.maxInodes ?? Infinity;
    this.sizeLimit = o.sizeLimit ?? Infinity;
    this.maxPages = this.sizeLimit === Infinity ? Infinity : Math.ceil(this.sizeLimit / PAGE);
    this.#rootMode = o.mode ?? 0o1777;
    this.#rootUid = o.uid ?? 0;
    this.#rootGid = o.gid ?? 0;
    const inode = new TmpfsInode(this, { mode: S_IFDIR | (o.mode ?? 0o1777), uid: o.uid ?? 0, gid: o.gid ?? 0 });
    this.root = new TmpfsDentry(inode, null, "");
  }

  /** A fresh inode number. */
  newIno(): number {
    return this.#nextIno++;
  }

  /** The options that differ from the defaults, as Linux's shmem_show_options. */
  showOptions(): string {
    const o: string[] = [];
    if (this.maxPages !== Infinity) o.push(`size=${this.maxPages * (PAGE / 1024)}k`);
    if (this.#rootMode !== 0o1777) o.push(`mode=${this.#rootMode.toString(8).padStart(3, "0")}`);
    if (this.#rootUid !== 0) o.push(`uid=${this.#rootUid}`);
    if (this.#rootGid !== 0) o.push(`gid=${this.#rootGid}`);
    if (this.maxInodes !== Infinity) o.push(`nr_inodes=${this.maxInodes}`);
    return o.join(",");
  }

  /** Pages that may still be allocated. */
  get freePages(): number {
    return Math.max(this.maxPages - this.usedPages, 0);
  }

  statfs(): FsStat {
    const total = this.maxPages === Infinity ? 1 << 24 : this.maxPages;
    const free = Math.max(total - this.usedPages, 0);
    const files = this.maxInodes === Infinity ? 1 << 20 : this.maxInodes;
    return {
      type: TMPFS_MAGIC, bsize: PAGE, blocks: total, bfree: free, bavail: free, files,
      ffree: Math.max(files - this.inodes, 0), namelen: 255,
    };
  }

  /**
   * Fills d, a regular file of this filesystem, with len bytes of the host descriptor src from
   * offset 0 (the overlay's copy-up): pread in chunks of up to 1 MiB.
   */
  copyData(d: Dentry, src: number, len: number): void {
    const i = (d as TmpfsDentry).inode;
    i.truncate(0);
    const buf = new Uint8Array(Math.min(len, 1 << 20));
    for (let off = 0; off < len;) {
      const n = ffi.hostPread(src, buf.subarray(0, Math.min(buf.length, len - off)), off);
      if (n < 0) {
        i.truncate(0);
        throw errnoFromNumber(-n);
      }
      if (n === 0) break;
      i.write(buf.subarray(0, n), off);
      off += n;
    }
  }

  release(): void {
    for (const i of this.withMemfd) i.dropData();
    this.withMemfd.clear();
  }
}

/** @savable A file of a tmpfs: attributes and contents, shared by its hard links. */
export class TmpfsInode {
  readonly fs: TmpfsFilesystem;
  /** Immutable. */
  readonly ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  readonly rdev: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  readonly btimeNs: bigint;
  readonly xattrs = new Map<string, Uint8Array>();
  /** The access ACL (vfs/posix_acl.ts), null: the mode says it all. */
  acl: Acl | null = null;
  /** chattr(1)'s inode flags (FS_IMMUTABLE_FL, FS_APPEND_FL, FS_NODUMP_FL, FS_NOATIME_FL). */
  fsflags = 0;
  /** Directories: the default ACL new children inherit. */
  defaultAcl: Acl | null = null;
  /** Directories: the children by name. */
  readonly children: Map<string, TmpfsDentry> | null;
  /** Symlinks: the target. */
  readonly target: string;
  /** Regular files: the size in bytes. */
  size = 0;
  /**
   * Regular files not mapped: the data by page index. A missing page is a hole (zeros); a page
   * may be shorter than PAGE, the bytes after it being zeros.
   */
  readonly pages = new Map<number, Uint8Array>();
  /**
   * Regular files and symlinks: the indexes of the pages allocated to the file and charged to
   * the filesystem (written, fallocated, a long symlink's target), Linux's allocated blocks.
   * A page of `pages` is always in it; an allocated page may have no data (fallocate).
   */
  readonly allocated = new Set<number>();
  /**
   * @nosave Regular files while open since an mmap: the memfd holding the data instead of
   * `pages`; -1 otherwise. (A checkpoint would save its contents as pages.)
   */
  #memfd = -1;
  /** FIFOs: the pipe. */
  readonly pipe: Pipe | null;
  /** Sockets: the bound endpoint. */
  socket: unknown;

  constructor(fs: TmpfsFilesystem, attrs: NewFile, target = "") {
    if (fs.inodes >= fs.maxInodes) throw ENOSPC;
    this.fs = fs;
    this.ino = fs.newIno();
    this.mode = attrs.mode;
    this.uid = attrs.uid;
    this.gid = attrs.gid;
    this.rdev = attrs.rdev ?? 0;
    const type = attrs.mode & S_IFMT;
    this.nlink = type === S_IFDIR ? 2 : 1;
    const now = nowNs();
    this.atimeNs = this.mtimeNs = this.ctimeNs = this.btimeNs = now;
    this.children = type === S_IFDIR ? new Map() : null;
    this.target = target;
    this.size = type === S_IFLNK ? encodedPathLength(target) : 0;
    this.pipe = type === S_IFIFO ? new Pipe() : null;
    this.socket = attrs.socket ?? null;
    fs.inodes++;
  }

  get type(): number {
    return this.mode & S_IFMT;
  }

  /** The memfd for mmap: made on the first mapping, with the pages written into it (holes stay holes). */
  mapFd(): number {
    if (this.#memfd >= 0) return this.#memfd;
    const fd = hostFds.open(() => ffi.hostMemfd());
    if (fd < 0) throw errnoFromNumber(-fd);
    let r = ffi.hostFtruncate(fd, this.size);
    for (const [i, p] of this.pages) {
      if (r < 0) break;
      const n = ffi.hostPwrite(fd, p, i * PAGE);
      if (n < 0) r = n;
    }
    if (r < 0) {
      hostFds.close(fd);
      throw errnoFromNumber(-r);
    }
    this.pages.clear();
    this.#memfd = fd;
    this.fs.withMemfd.add(this);
    return fd;
  }

  /** The last open file (and so the last mapping) is gone: the memfd's data comes back into pages. */
  unmapData(): void {
    const fd = this.#memfd;
    if (fd < 0) return;
    const buf = new Uint8Array(Math.min(pages(this.size) * PAGE, 1 << 20));
    for (let pos = 0; pos < this.size;) {
      const d = ffi.hostLseek(fd, pos, SEEK_DATA);
      if (d < 0 || d >= this.size) break;
      let h = ffi.hostLseek(fd, d, SEEK_HOLE);
      if (h < 0 || h > this.size) h = this.size;
      // Whole pages from d's page on, in chunks of the buffer.
      for (let at = d - (d % PAGE); at < h;) {
        const n = ffi.hostPread(fd, buf.subarray(0, Math.min(buf.length, pages(h) * PAGE - at)), at);
        if (n <= 0) break;
        for (let o = 0; o < n; o += PAGE) {
          const pg = (at + o) / PAGE;
          this.pages.set(pg, buf.slice(o, Math.min(o + PAGE, n)));
          // Pages a shared mapping wrote are charged now (the limit is not checked for them).
          this.#charge(pg);
        }
        at += n;
      }
      pos = pages(h) * PAGE;
    }
    this.#dropMemfd();
  }

  #dropMemfd(): void {
    if (this.#memfd < 0) return;
    hostFds.close(this.#memfd);
    this.#memfd = -1;
    this.fs.withMemfd.delete(this);
  }

  /** Marks page pg allocated (no limit check). */
  #charge(pg: number): void {
    if (this.allocated.has(pg)) return;
    this.allocated.add(pg);
    this.fs.usedPages++;
  }

  /**
   * Allocates the pages first..last in order, each unless it already is, stopping at the first
   * that does not fit; returns the index of that page (last + 1 when all fit).
   */
  #allocateRun(first: number, last: number): number {
    const fs = this.fs;
    for (let pg = first; pg <= last; pg++) {
      if (this.allocated.has(pg)) continue;
      if (fs.usedPages >= fs.maxPages) return pg;
      this.allocated.add(pg);
      fs.usedPages++;
    }
    return last + 1;
  }

  /** A mapping's first touch of page pg (FileDescription.mappedPageCharge): allocates it if it fits. */
  chargeMappedPage(pg: number): boolean {
    return this.#allocateRun(pg, pg) > pg;
  }

  /** Frees the allocated pages from index `from` on (and their data, which the caller zeroed). */
  #freeFrom(from: number): void {
    for (const pg of this.allocated) {
      if (pg < from) continue;
      this.allocated.delete(pg);
      this.fs.usedPages--;
    }
  }

  /** A symlink's target needs a page beyond Linux's inline 128 bytes (with its NUL): ENOSPC if none. */
  chargeSymlink(): void {
    if (this.size + 1 <= SHORT_SYMLINK_LEN) return;
    if (this.#allocateRun(0, 0) === 0) throw ENOSPC;
  }

  /** The last link and the last open file are gone: uncharges the pages and frees the data. */
  releaseData(): void {
    this.#freeFrom(0);
    this.dropData();
  }

  /** Frees the data (the last link and the last open file are gone, or the fs is released). */
  dropData(): void {
    this.pages.clear();
    this.#dropMemfd();
  }

  /** Reads file data at off. */
  read(dst: Uint8Array, off: number): number {
    if (off >= this.size || dst.length === 0) return 0;
    const want = Math.min(dst.length, this.size - off);
    if (this.#memfd >= 0) {
      const n = ffi.hostPread(this.#memfd, want === dst.length ? dst : dst.subarray(0, want), off);
      if (n < 0) throw errnoFromNumber(-n);
      return n;
    }
    for (let done = 0; done < want;) {
      const pos = off + done;
      const pg = Math.floor(pos / PAGE), inPg = pos % PAGE;
      const n = Math.min(PAGE - inPg, want - done);
      const out = dst.subarray(done, done + n);
      const page = this.pages.get(pg);
      const have = page === undefined ? 0 : Math.max(Math.min(n, page.length - inPg), 0);
      if (have > 0) out.set(page!.subarray(inPg, inPg + have));
      if (have < n) out.fill(0, have);
      done += n;
    }
    return want;
  }

  /** Copies src into the pages at off, making or growing the pages it reaches. */
  #writePages(src: Uint8Array, off: number): void {
    for (let done = 0; done < src.length;) {
      const pos = off + done;
      const pg = Math.floor(pos / PAGE), inPg = pos % PAGE;
      const n = Math.min(PAGE - inPg, src.length - done);
      let page = this.pages.get(pg);
      const need = inPg + n;
      if (page === undefined || page.length < need) {
        const grown = new Uint8Array(Math.min(PAGE, Math.max(need, (page?.length ?? 0) * 2, MIN_PAGE_BUFFER)));
        if (page !== undefined) grown.set(page);
        page = grown;
        this.pages.set(pg, page);
      }
      page.set(n === src.length ? src : src.subarray(done, done + n), inPg);
      done += n;
    }
  }

  /** Zeroes [start, end) of the pages, dropping those wholly inside (they become holes). */
  #zeroPages(start: number, end: number): void {
    for (const [pg, page] of this.pages) {
      const ps = pg * PAGE;
      if (ps + PAGE <= start || ps >= end) continue;
      if (ps >= start && ps + PAGE <= end) {
        this.pages.delete(pg);
        continue;
      }
      const a = Math.max(start - ps, 0), b = Math.min(end - ps, page.length);
      if (a < b) page.fill(0, a, b);
    }
  }

  /** Writes file data at off, growing the file; as much as the size limit allows (ENOSPC if none). */
  write(src: Uint8Array, off: number): number {
    if (src.length === 0) return 0;
    if (off >= MAX_FILE_SIZE) throw EFBIG;
    let len = Math.min(src.length, MAX_FILE_SIZE - off);
    // The pages the write reaches, in order; it stops at the first that cannot be allocated.
    const last = Math.floor((off + len - 1) / PAGE);
    const stop = this.#allocateRun(Math.floor(off / PAGE), last);
    if (stop <= last) {
      len = stop * PAGE - off;
      if (len <= 0) throw ENOSPC;
    }
    const part = len === src.length ? src : src.subarray(0, len);
    let n = len;
    if (this.#memfd >= 0) {
      n = ffi.hostPwrite(this.#memfd, part, off);
      if (n < 0) throw errnoFromNumber(-n);
    } else {
      this.#writePages(part, off);
    }
    if (off + n > this.size) this.size = off + n;
    this.mtimeNs = this.ctimeNs = nowNs();
    return n;
  }

  /**
   * SEEK_DATA/SEEK_HOLE for 0 <= off < size, as Linux's shmem (mapping_seek_hole_data): a page
   * holding data (written, even with zeros) is data, a page never written (or punched out, or
   * only fallocated: shmem keeps those !uptodate) is a hole, and the end of the file is a hole.
   */
  seekHoleData(off: number, whence: number, size: number): number {
    if (this.#memfd >= 0) return hostHoleData(this.#memfd, ffi.hostLseek)(off, whence, size);
    const first = Math.floor(off / PAGE), last = Math.floor((size - 1) / PAGE);
    if (whence === SEEK_HOLE) {
      let pg = first;
      while (pg <= last && this.pages.has(pg)) pg++;
      return Math.min(Math.max(off, pg * PAGE), size);
    }
    if (this.pages.has(first)) return off;
    let best = Infinity;
    for (const pg of this.pages.keys()) if (pg >= first && pg <= last && pg < best) best = pg;
    if (best === Infinity) throw ENXIO;
    return Math.max(off, best * PAGE);
  }

  /**
   * cachestat(2)'s nr_cache over pages first..last, as shmem's page cache holds them: the
   * allocated pages (written or fallocated), and once mapped those the mapping wrote (the
   * memfd's data; a page only read through a mapping is the zero page, not cached).
   */
  cachedPages(first: number, last: number): number {
    const cached = new Set<number>();
    for (const pg of this.allocated) if (pg >= first && pg <= last) cached.add(pg);
    if (this.#memfd >= 0) {
      let off = Math.min(first * PAGE, this.size);
      while (off < this.size) {
        let data: number;
        try {
          data = this.seekHoleData(off, SEEK_DATA, this.size);
        } catch {
          break; // ENXIO: no data after off
        }
        const hole = this.seekHoleData(data, SEEK_HOLE, this.size);
        const end = Math.min(Math.floor((hole - 1) / PAGE), last);
        for (let pg = Math.floor(data / PAGE); pg <= end; pg++) cached.add(pg);
        if (end === last) break;
        off = hole;
      }
    }
    return cached.size;
  }

  /** Sets the size (truncate or extend with zeros). */
  truncate(size: number): void {
    if (size < 0) throw EINVAL;
    if (size > MAX_FILE_SIZE) throw EFBIG;
    if (size !== this.size) {
      if (this.#memfd >= 0) {
        const r = ffi.hostFtruncate(this.#memfd, size);
        if (r < 0) throw errnoFromNumber(-r);
      } else if (size < this.size) {
        // What is cut off must read as zeros if the file grows again.
        this.#zeroPages(size, pages(this.size) * PAGE);
        const last = this.pages.get(Math.floor(size / PAGE));
        if (last !== undefined && last.length > size % PAGE) this.pages.set(Math.floor(size / PAGE), last.slice(0, size % PAGE));
      }
      // Pages wholly past the new end are freed (a partial last page stays).
      if (size < this.size) this.#freeFrom(pages(size));
      this.size = size;
    }
  }

  /**
   * fallocate(2): mode 0 and FALLOC_FL_KEEP_SIZE allocate the range's pages, all or none
   * (ENOSPC), on a tmpfs with a size limit (without one memory is given on write), and mode 0
   * extends the file to off+len; PUNCH_HOLE|KEEP_SIZE zeroes the range, freeing its whole pages.
   */
  allocate(mode: number, off: number, len: number): void {
    const end = off + len;
    if (end > MAX_FILE_SIZE) throw EFBIG;
    if (mode & FALLOC_FL_PUNCH_HOLE) {
      const stop = Math.min(end, this.size);
      if (stop > off && this.#memfd >= 0) {
        const r = ffi.hostFallocate(this.#memfd, mode, off, stop - off);
        if (r < 0) throw errnoFromNumber(-r);
      } else if (stop > off) {
        this.#zeroPages(off, stop);
      }
      for (let pg = pages(off); (pg + 1) * PAGE <= stop; pg++) {
        if (this.allocated.delete(pg)) this.fs.usedPages--;
      }
      this.mtimeNs = this.ctimeNs = nowNs();
      return;
    }
    const fs = this.fs;
    if (fs.maxPages !== Infinity && len > 0) {
      const first = Math.floor(off / PAGE), last = Math.floor((end - 1) / PAGE);
      // All or nothing: count what is missing first, then take it. The range is at most the
      // free pages plus the file's own before anything is counted one by one.
      if (last - first + 1 - this.allocated.size > fs.freePages) throw ENOSPC;
      let missing = 0;
      for (let pg = first; pg <= last; pg++) if (!this.allocated.has(pg)) missing++;
      if (missing > fs.freePages) throw ENOSPC;
      this.#allocateRun(first, last);
    }
    if (mode === 0 && end > this.size) {
      this.truncate(end);
      this.mtimeNs = this.ctimeNs = nowNs();
    }
  }

  /** relatime: atime moves on a read only when it is not newer than mtime/ctime or a day old. */
  touchAtime(): void {
    const now = nowNs();
    if (this.atimeNs <= this.mtimeNs || this.atimeNs <= this.ctimeNs || now - this.atimeNs >= DAY_NS) {
      this.atimeNs = now;
    }
  }

  stat(): Stat {
    const type = this.type;
    return {
      dev: this.fs.dev, ino: this.ino, mode: this.mode, nlink: this.nlink, uid: this.uid, gid: this.gid,
      rdev: this.rdev, size: type === S_IFDIR ? 40 + 20 * (this.children?.size ?? 0) : this.size,
      blksize: PAGE, blocks: type !== S_IFREG ? 0 : this.#memfd >= 0 ? ffi.hostBlocks(this.#memfd) : this.allocated.size * 8,
      atimeNs: this.atimeNs, mtimeNs: this.mtimeNs, ctimeNs: this.ctimeNs, btimeNs: this.btimeNs,
      // shmem_getattr: append, immutable and nodump (the flag bits are statx's).
      attributes: this.fsflags & SHMEM_STATX_ATTRS, attributesMask: SHMEM_STATX_ATTRS,
    };
  }

  /** Drops one link; the data goes with the last one. */
  decLinks(): void {
    if (this.nlink <= 0) throw new Error("Cannot unlink tmpfs inode: link count is already zero");
    this.nlink--;
    this.ctimeNs = nowNs();
    if (this.nlink === 0 || (this.type === S_IFDIR && this.nlink <= 1)) this.#free();
  }

  #free(): void {
    this.nlink = 0;
    this.fs.inodes--;
    if (this.type === S_IFREG) {
      // Open files keep using their memfd through the inode: the pages stay charged and the
      // descriptor open until the last open file goes (TmpfsRegularFile.release).
      if (this.openFiles === 0) this.releaseData();
    } else if (this.type === S_IFLNK) {
      this.releaseData();
    }
  }

  /** Open descriptions of this regular file (the memfd outlives the last link while > 0). */
  openFiles = 0;
  /** An O_TMPFILE file (no link yet) that link() may name. */
  linkable = false;
}

/** @savable One name of a tmpfs inode. */
export class TmpfsDentry extends Dentry {
  /** Immutable. */
  readonly inode: TmpfsInode;

  constructor(inode: TmpfsInode, parent: TmpfsDentry | null, name: string) {
    super(parent, name);
    this.inode = inode;
  }

  get fs(): TmpfsFilesystem {
    return this.inode.fs;
  }

  get mode(): number {
    return this.inode.mode;
  }

  get uid(): number {
    return this.inode.uid;
  }

  get gid(): number {
    return this.inode.gid;
  }

  get ino(): number {
    return this.inode.ino;
  }

  stat(): Stat {
    return this.inode.stat();
  }

  #dir(): Map<string, TmpfsDentry> {
    const c = this.inode.children;
    if (c === null) throw ENOTDIR;
    return c;
  }

  lookup(name: string): TmpfsDentry | null {
    return this.#dir().get(name) ?? null;
  }

  children(): DirEntry[] {
    const out: DirEntry[] = [];
    for (const [name, d] of this.#dir()) out.push({ name, ino: d.inode.ino, type: dtFromMode(d.inode.mode) });
    return out;
  }

  override readlink(): string {
    if (this.inode.type !== S_IFLNK) throw EINVAL;
    return this.inode.target;
  }

  override symlinkRead(mountFlags: number): void {
    if (this.inode.fsflags & FS_NOATIME_FL) return; // atime_needs_update's IS_NOATIME
    if (mountFlags & MS_STRICTATIME) this.inode.atimeNs = nowNs();
    else if (!(mountFlags & MS_NOATIME)) this.inode.touchAtime();
  }

  override dirListed(mountFlags: number): void {
    if (!(mountFlags & MS_NODIRATIME)) this.symlinkRead(mountFlags);
  }

  override open(loc: Location, flags: number): FileDescription {
    const i = this.inode;
    switch (i.type) {
      case S_IFREG:
        return new TmpfsRegularFile(loc, flags, i);
      case S_IFIFO:
        return openFifo(i.pipe!, loc, flags);
      case S_IFCHR:
      case S_IFBLK: {
        const dev = openMemoryDevice(loc, flags, i.rdev, i.type === S_IFBLK);
        if (dev !== null) return dev;
        throw ENXIO;
      }
      case S_IFSOCK:
        throw ENXIO;
      default:
        return super.open(loc, flags);
    }
  }

  #add(name: string, inode: TmpfsInode): TmpfsDentry {
    const dir = this.#dir();
    if (dir.has(name)) throw EEXIST;
    const d = new TmpfsDentry(inode, this, name);
    dir.set(name, d);
    const now = nowNs();
    this.inode.mtimeNs = this.inode.ctimeNs = now;
    return d;
  }

  override create(name: string, attrs: NewFile): TmpfsDentry {
    return this.#add(name, new TmpfsInode(this.fs, { ...attrs, mode: S_IFREG | (attrs.mode & 0o7777) }));
  }

  override createTmpfile(attrs: NewFile, linkable: boolean): TmpfsDentry {
    this.#dir();
    const i = new TmpfsInode(this.fs, { ...attrs, mode: S_IFREG | (attrs.mode & 0o7777) });
    // Unnamed: no link, not counted among the inodes until link() names it.
    i.nlink = 0;
    i.linkable = linkable;
    this.fs.inodes--;
    return new TmpfsDentry(i, this, `#${i.ino}`);
  }

  override mkdir(name: string, attrs: NewFile): TmpfsDentry {
    if (this.inode.nlink >= LINK_MAX) throw EMLINK;
    const d = this.#add(name, new TmpfsInode(this.fs, { ...attrs, mode: S_IFDIR | (attrs.mode & 0o7777) }));
    this.inode.nlink++;
    return d;
  }

  override mknod(name: string, attrs: NewFile): TmpfsDentry {
    const type = attrs.mode & S_IFMT;
    if (type === S_IFDIR || type === S_IFLNK) throw EINVAL;
    return this.#add(name, new TmpfsInode(this.fs, { ...attrs, mode: (type || S_IFREG) | (attrs.mode & 0o7777) }));
  }

  override symlink(name: string, target: string, attrs: NewFile): TmpfsDentry {
    if (this.#dir().has(name)) throw EEXIST;
    const i = new TmpfsInode(this.fs, { ...attrs, mode: S_IFLNK | 0o777 }, target);
    try {
      i.chargeSymlink();
    } catch (e) {
      this.fs.inodes--;
      throw e;
    }
    return this.#add(name, i);
  }

  override link(name: string, target: Dentry): TmpfsDentry {
    if (!(target instanceof TmpfsDentry) || target.fs !== this.fs) throw EXDEV;
    const i = target.inode;
    if (i.type === S_IFDIR) throw EPERM;
    if (i.nlink === 0 && !i.linkable) throw ENOENT;
    if (i.nlink >= LINK_MAX) throw EMLINK;
    const d = this.#add(name, i);
    if (i.nlink === 0) {
      // An O_TMPFILE file gets its first name.
      i.linkable = false;
      this.fs.inodes++;
    }
    i.nlink++;
    i.ctimeNs = nowNs();
    return d;
  }

  override unlink(name: string, child: Dentry): void {
    const dir = this.#dir();
    const c = child as TmpfsDentry;
    if (c.inode.type === S_IFDIR) throw EISDIR;
    dir.delete(name);
    this.inode.mtimeNs = this.inode.ctimeNs = nowNs();
    c.inode.decLinks();
  }

  override rmdir(name: string, child: Dentry): void {
    const dir = this.#dir();
    const c = child as TmpfsDentry;
    if (c.inode.type !== S_IFDIR) throw ENOTDIR;
    if (c.inode.children!.size > 0) throw ENOTEMPTY;
    dir.delete(name);
    this.inode.nlink--;
    this.inode.mtimeNs = this.inode.ctimeNs = nowNs();
    c.inode.nlink = 1;
    c.inode.decLinks();
  }

  override rename(
    name: string,
    child: Dentry,
    newParent: Dentry,
    newName: string,
    replaced: Dentry | null,
    flags: number,
  ): void {
    if (!(newParent instanceof TmpfsDentry) || newParent.fs !== this.fs) throw EXDEV;
    const src = child as TmpfsDentry;
    const dst = replaced as TmpfsDentry | null;
    const oldDir = this.#dir(), newDir = newParent.#dir();
    const srcIsDir = src.inode.type === S_IFDIR;
    const now = nowNs();
    if (flags & RENAME_EXCHANGE) {
      if (dst === null) throw EINVAL;
      const dstIsDir = dst.inode.type === S_IFDIR;
      oldDir.set(name, dst);
      newDir.set(newName, src);
      dst.parent = this;
      dst.name = name;
      if (srcIsDir !== dstIsDir && this !== newParent) {
        if (srcIsDir) (this.inode.nlink--, newParent.inode.nlink++);
        else (this.inode.nlink++, newParent.inode.nlink--);
      }
      dst.inode.ctimeNs = now;
    } else {
      if (dst !== null) {
        if (dst.inode.type === S_IFDIR) {
          if (dst.inode.children!.size > 0) throw ENOTEMPTY;
          newParent.inode.nlink--;
          dst.inode.nlink = 1;
        }
        dst.inode.decLinks();
      }
      if (srcIsDir && this !== newParent) {
        if (newParent.inode.nlink >= LINK_MAX && dst === null) throw EMLINK;
        this.inode.nlink--;
        newParent.inode.nlink++;
      }
      oldDir.delete(name);
      newDir.set(newName, src);
    }
    src.parent = newParent;
    src.name = newName;
    src.inode.ctimeNs = now;
    this.inode.mtimeNs = this.inode.ctimeNs = now;
    newParent.inode.mtimeNs = newParent.inode.ctimeNs = now;
  }

  override setattr(a: SetAttr): void {
    const i = this.inode;
    if (a.size !== undefined) {
      if (i.type === S_IFDIR) throw EISDIR;
      if (i.type !== S_IFREG) throw EINVAL;
      i.truncate(a.size);
      i.mtimeNs = nowNs();
    }
    if (a.mode !== undefined) i.mode = (i.mode & S_IFMT) | (a.mode & 0o7777);
    if (a.uid !== undefined) i.uid = a.uid;
    if (a.gid !== undefined) i.gid = a.gid;
    if (a.atimeNs !== undefined) i.atimeNs = a.atimeNs;
    if (a.mtimeNs !== undefined) i.mtimeNs = a.mtimeNs;
    i.ctimeNs = nowNs();
  }

  override getxattr(name: string): Uint8Array {
    const v = this.inode.xattrs.get(name);
    if (v === undefined) throw ENODATA;
    return v;
  }

  override setxattr(name: string, value: Uint8Array, flags: number): void {
    const x = this.inode.xattrs;
    if ((flags & XATTR_CREATE) && x.has(name)) throw EEXIST;
    if ((flags & XATTR_REPLACE) && !x.has(name)) throw ENODATA;
    x.set(name, value.slice());
    this.inode.ctimeNs = nowNs();
  }

  override listxattr(): string[] {
    return [...this.inode.xattrs.keys()];
  }

  override removexattr(name: string): void {
    if (!this.inode.xattrs.delete(name)) throw ENODATA;
    this.inode.ctimeNs = nowNs();
  }

  override boundSocket(): unknown {
    return this.inode.socket;
  }

  override get acl(): Acl | null {
    return this.inode.acl;
  }

  override get defaultAcl(): Acl | null {
    return this.inode.defaultAcl;
  }

  override get fileCaps(): boolean {
    return this.inode.xattrs.size > 0 && this.inode.xattrs.has(XATTR_SECURITY_CAPABILITY);
  }

  override get supportsAcl(): boolean {
    return this.inode.type !== S_IFLNK;
  }

  override setAcl(type: AclType, acl: Acl | null): void {
    if (type === "access") this.inode.acl = acl;
    else this.inode.defaultAcl = acl;
    this.inode.ctimeNs = nowNs();
  }

  /** Regular files and directories have shmem's fileattr operations; special files do not. */
  override get inodeFlags(): number | null {
    const t = this.inode.type;
    return t === S_IFREG || t === S_IFDIR || t === S_IFLNK ? this.inode.fsflags : null;
  }

  override setInodeFlags(flags: number): void {
    this.inode.fsflags = flags;
    this.inode.ctimeNs = nowNs();
  }
}

/** @savable An open regular file of a tmpfs. */
export class TmpfsRegularFile extends LocatedFile {
  /** Immutable. */
  readonly inode: TmpfsInode;

  constructor(loc: Location, flags: number, inode: TmpfsInode) {
    super(loc, flags);
    this.inode = inode;
    inode.openFiles++;
  }

  override read(dst: Uint8Array, offset: number | null): number {
    const off = offset ?? this.offset;
    if (off < 0) throw EINVAL;
    const n = this.inode.read(dst, off);
    if (offset === null) this.offset += n;
    const mf = this.loc.mount.flags;
    // atime_needs_update: IS_NOATIME (the inode flag), and a description opened O_NOATIME.
    if ((this.inode.fsflags & FS_NOATIME_FL) || (this.flags & O_NOATIME)) return n;
    if (mf & MS_STRICTATIME) this.inode.atimeNs = nowNs();
    else if (!(mf & MS_NOATIME)) this.inode.touchAtime();
    return n;
  }

  override write(src: Uint8Array, offset: number | null): number {
    let off = offset ?? this.offset;
    // O_APPEND writes at the end, pwrite too (Linux's documented bug, kept).
    if (this.flags & O_APPEND) off = this.inode.size;
    if (off < 0) throw EINVAL;
    const n = this.inode.write(src, off);
    if (offset === null) this.offset = off + n;
    return n;
  }

  override seek(offset: number, whence: number): number {
    this.offset = seekRegular(this.offset, offset, whence, () => this.inode.size, (o, w, n) => this.inode.seekHoleData(o, w, n));
    return this.offset;
  }

  override ioctl(cmd: number, arg: number, io: MemoryIO): number {
    if (cmd !== FIONREAD) return super.ioctl(cmd, arg, io);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, Math.min(Math.max(this.inode.size - this.offset, 0), 0x7fffffff), true);
    io.copyOut(arg, b);
    return 0;
  }

  override allocate(mode: number, off: number, len: number): void {
    this.inode.allocate(mode, off, len);
  }

  override get shmem(): boolean {
    return true;
  }

  /** shmem's files have no FMODE_NOWAIT (Linux 6.18): preadv2's RWF_NOWAIT is EOPNOTSUPP. */
  override get supportsNowait(): boolean {
    return false;
  }

  override hostFdForMmap(): number {
    return this.inode.mapFd();
  }

  /**
   * On a mount with a size limit, a mapping's first touch of a page not yet allocated charges
   * it, or is SIGBUS when the mount is full (kernel/userfaultfd.ts's withheld pages).
   */
  override mappedPageCharge(): MappedPageCharge | null {
    const i = this.inode;
    if (i.fs.maxPages === Infinity) return null;
    return { allocated: (pg) => i.allocated.has(pg), charge: (pg) => i.chargeMappedPage(pg) };
  }

  protected override release(): void {
    const i = this.inode;
    i.openFiles--;
    if (i.openFiles > 0) return;
    if (i.nlink === 0) i.releaseData();
    else i.unmapData();
  }
}
