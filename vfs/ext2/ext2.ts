/**
 * ext2 on a block device, as Linux's fs/ext2 (also mounted as "ext3" for a clean ext3 whose
 * journal needs no recovery, as Linux's ext4 driver does, which then leaves the journal alone).
 *
 * Consistency: metadata blocks are read through a cache; every change of one operation marks the
 * blocks it touched dirty, and the operation's end ({@linkcode Ext2Filesystem.commit}) writes
 * them out (data blocks are written at once). Nothing is held back between system calls, so the
 * device always holds the whole filesystem (a checkpoint needs nothing of this but the device),
 * and umount only writes the clean state.
 *
 * The image is untrusted: every block number, inode number, record length and size read from it
 * is checked before use, and what does not make sense is EUCLEAN (Linux's EFSCORRUPTED) for the
 * operation, never a crash; walks are bounded by the filesystem's size (a block freed twice,
 * a directory larger than the device), so no shape of the image makes one loop forever.
 *
 * Not checkpointed: a checkpoint refuses a sandbox with a block-device mount (vfs/block).
 *
 * @module
 */

import {
  EAGAIN, EBADR, EEXIST, EFBIG, EINVAL, EIO, EISDIR, EMLINK, ENAMETOOLONG, ENODATA, ENOENT, ENOSPC, ENOTDIR, ENOTEMPTY, ENXIO,
  EOPNOTSUPP, EPERM, ERANGE, EROFS, EUCLEAN, EXDEV, LinuxError,
} from "../../kernel/errno.ts";
import {
  FIONREAD, FS_NOATIME_FL, FS_NODUMP_FL, O_APPEND, O_NOATIME, O_NONBLOCK, RENAME_EXCHANGE, S_IFBLK, S_IFCHR,
  S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, XATTR_CREATE, XATTR_REPLACE,
} from "../../abi/linux/file.ts";
import { MS_NOATIME, MS_NODIRATIME, MS_STRICTATIME } from "../../abi/linux/mount.ts";
import { Dentry, type Filesystem, type FsStat, type NewFile, type SetAttr } from "../dentry.ts";
import type { DirEntry, FileDescription, MemoryIO, Stat } from "../file_description.ts";
import { LocatedFile, seekRegular } from "../located_file.ts";
import type { Location } from "../mount.ts";
import { Pipe } from "../pipe.ts";
import { openFifo } from "../fifo.ts";
import { majorMinor, openMemoryDevice } from "../devices.ts";
import { dtFromMode } from "../hostfs/hostfs.ts";
import { nowNs } from "../tmpfs/tmpfs.ts";
import { decodePath, encodePath } from "../../abi/path_bytes.ts";
import { pageCacheGeneration } from "../page_cache.ts";
import * as ffi from "../../platform/ptrace/_ffi.ts";
import { hostFds } from "../host_fds.ts";
import { errnoFromNumber } from "../../kernel/errno.ts";
import { type Acl, type AclType, aclToXattr, parseAclXattr } from "../posix_acl.ts";
import type { BlockDevice, BlockMountOptions } from "../block/device.ts";
import {
  decodeDev, decodeTime, encodeDev, encodeTime, EXT2_LINK_MAX, EXT2_SUPER_MAGIC, ext2MaxSize,
  EXTENTS_FL, FT_BLK, FT_CHR, FT_DIR, FT_FIFO, FT_REG, FT_SOCK, FT_SYMLINK, FT_UNKNOWN, GD, GOOD_OLD_FIRST_INO,
  GOOD_OLD_INODE_SIZE, GROUP_DESC_SIZE, groupHasSuper, IND, INCOMPAT_FILETYPE, INCOMPAT_RECOVER, INCOMPAT_SUPPORTED,
  INDEX_FL, INLINE_DATA_FL, INO, N_DIRECT, NAME_MAX, RO_COMPAT_SPARSE_SUPER, RO_COMPAT_SUPPORTED, recLen, ROOT_INO,
  SB, STATE_ERROR, STATE_VALID, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE,
} from "./layout.ts";

const DAY_NS = 86_400_000_000_000n;
/** Metadata blocks kept in memory between operations before the cache is emptied. */
const CACHE_BLOCKS = 4096;
/** FS_FL_USER_VISIBLE and FS_FL_USER_MODIFIABLE: the inode flags chattr shows and may change. */
const FL_USER_VISIBLE = 0x0003dfff, FL_USER_MODIFIABLE = 0x000380ff;
const XATTR_MAGIC = 0xea020000;
const XATTR_HEADER = 32;
/** xattr name prefixes by the index ext2 stores (EXT2_XATTR_INDEX_*). */
const XATTR_PREFIXES: readonly [string, number][] = [["user.", 1], ["trusted.", 4], ["security.", 6]];
const ACL_INDEX_ACCESS = 2, ACL_INDEX_DEFAULT = 3;
const XATTR_SECURITY_CAPABILITY = "security.capability";
/** EXT2_ACL_VERSION: the on-disk ACL form's header. */
const EXT2_ACL_VERSION = 1;
const EXT2_SUPER_MAGIC_STATFS = EXT2_SUPER_MAGIC;

/** A corrupted image: the operation fails as Linux's EFSCORRUPTED. */
function corrupt(): LinuxError {
  return EUCLEAN;
}

/** Mount options of an ext2 filesystem (the data string's options are accepted and ignored). */
export type Ext2Options = Pick<BlockMountOptions, "type" | "readonly">;

/**
 * Reads the superblock of dev and mounts it (vfs/block/filesystems.ts's entry point). EINVAL
 * for a device without a valid ext2 superblock or with features this driver cannot handle (as
 * Linux's mount(2) of the wrong type), EROFS for a read-write mount of features it can only read.
 */
export function mountBlockFilesystem(dev: BlockDevice, o: Ext2Options): Ext2Filesystem {
  return new Ext2Filesystem(dev, o);
}

/** An ext2 filesystem on a block device (a superblock). */
export class Ext2Filesystem implements Filesystem {
  readonly name: string;
  /** @nosave The device: the filesystem's whole state is on it. */
  readonly device: BlockDevice;
  /** Written nothing (a read-only mount or device): reconfigure() changes it. */
  #ro: boolean;
  /** Features this driver can read but not write: never read-write. */
  readonly #roOnly: boolean;
  readonly root: Ext2Dentry;
  /** Immutable. st_dev of every file. */
  readonly dev: number;
  readonly blockSize: number;
  readonly #bits: number;
  readonly blocksCount: number;
  readonly #firstDataBlock: number;
  readonly #blocksPerGroup: number;
  readonly #inodesPerGroup: number;
  readonly inodesCount: number;
  readonly inodeSize: number;
  readonly #firstIno: number;
  readonly #groups: number;
  readonly #gdtStart: number;
  readonly #gdtBlocks: number;
  readonly #filetype: boolean;
  readonly #sparse: boolean;
  readonly #wantExtra: number;
  readonly maxFileSize: number;
  /** The state was clean when the filesystem went read-write: it is clean again when it goes back. */
  #wasValid = false;
  /** @nosave The superblock as on disk; changed in place and written by commit(). */
  readonly #sb: Uint8Array;
  readonly #sbv: DataView;
  #sbDirty = false;
  /** @nosave Metadata blocks by number. */
  readonly #cache = new Map<number, Uint8Array>();
  /** @nosave Blocks of #cache changed by the current operation. */
  readonly #dirty = new Set<number>();
  /** @nosave In-memory inodes by number (one object per inode, shared by its links). */
  readonly #inodes = new Map<number, Ext2Inode>();
  /** @nosave Inodes without links still open: freed at their last close, or at unmount. */
  readonly orphans = new Set<Ext2Inode>();
  /** @nosave Inodes whose data is in a memfd for mmap (Ext2Inode.mapFd). */
  readonly mapped = new Set<Ext2Inode>();
  #released = false;

  constructor(device: BlockDevice, o: Ext2Options) {
    this.device = device;
    this.name = o.type;
    if (device.size < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE) throw EINVAL;
    this.#sb = device.read(SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE);
    const v = this.#sbv = new DataView(this.#sb.buffer, this.#sb.byteOffset, SUPERBLOCK_SIZE);
    const u32 = (off: number) => v.getUint32(off, true), u16 = (off: number) => v.getUint16(off, true);
    if (u16(SB.magic) !== EXT2_SUPER_MAGIC) throw EINVAL;
    const log = u32(SB.logBlockSize);
    if (log > 2) throw EINVAL;
    this.#bits = 10 + log;
    this.blockSize = 1 << this.#bits;
    if (this.blockSize < device.logicalBlockSize) throw EINVAL;
    const rev = u32(SB.revLevel);
    if (rev > 1) throw EINVAL;
    this.inodeSize = rev === 0 ? GOOD_OLD_INODE_SIZE : u16(SB.inodeSize);
    this.#firstIno = rev === 0 ? GOOD_OLD_FIRST_INO : u32(SB.firstIno);
    const isz = this.inodeSize;
    if (isz < GOOD_OLD_INODE_SIZE || isz > this.blockSize || (isz & (isz - 1)) !== 0) throw EINVAL;
    const incompat = rev === 0 ? 0 : u32(SB.featureIncompat);
    const roCompat = rev === 0 ? 0 : u32(SB.featureRoCompat);
    // A journal that needs replaying holds changes the image lacks: refused, as without one.
    if (incompat & INCOMPAT_RECOVER) throw EINVAL;
    if (incompat & ~INCOMPAT_SUPPORTED) throw EINVAL;
    const roOnly = this.#roOnly = (roCompat & ~RO_COMPAT_SUPPORTED) !== 0;
    if (roOnly && !o.readonly && !device.readOnly) throw EROFS;
    this.#ro = o.readonly || device.readOnly || roOnly;
    this.#filetype = (incompat & INCOMPAT_FILETYPE) !== 0;
    this.#sparse = (roCompat & RO_COMPAT_SPARSE_SUPER) !== 0;
    this.blocksCount = u32(SB.blocksCount);
    this.#firstDataBlock = u32(SB.firstDataBlock);
    this.#blocksPerGroup = u32(SB.blocksPerGroup);
    this.#inodesPerGroup = u32(SB.inodesPerGroup);
    this.inodesCount = u32(SB.inodesCount);
    const bpg = this.#blocksPerGroup, ipg = this.#inodesPerGroup;
    if (bpg === 0 || bpg > this.blockSize * 8 || ipg === 0 || ipg > this.blockSize * 8) throw EINVAL;
    if (this.blocksCount <= this.#firstDataBlock || this.#firstDataBlock !== (this.blockSize === 1024 ? 1 : 0)) throw EINVAL;
    if (this.blocksCount * this.blockSize > device.size) throw EINVAL;
    this.#groups = Math.ceil((this.blocksCount - this.#firstDataBlock) / bpg);
    if (this.inodesCount !== this.#groups * ipg) throw EINVAL;
    if (this.#firstIno < GOOD_OLD_FIRST_INO || this.#firstIno > this.inodesCount) throw EINVAL;
    this.#gdtStart = this.#firstDataBlock + 1;
    this.#gdtBlocks = Math.ceil((this.#groups * GROUP_DESC_SIZE) / this.blockSize);
    this.#wantExtra = isz > GOOD_OLD_INODE_SIZE ? Math.min(Math.max(u16(SB.wantExtraIsize), 32), isz - GOOD_OLD_INODE_SIZE) & ~3 : 0;
    this.maxFileSize = ext2MaxSize(this.#bits);
    const itb = Math.ceil((ipg * isz) / this.blockSize);
    for (let g = 0; g < this.#groups; g++) {
      const first = this.#firstDataBlock + g * bpg, last = Math.min(first + bpg, this.blocksCount) - 1;
      for (const f of [GD.blockBitmap, GD.inodeBitmap]) {
        const b = this.#gd(g, f, 4);
        if (b < first || b > last) throw EINVAL;
      }
      const t = this.#gd(g, GD.inodeTable, 4);
      if (t < first || t + itb - 1 > last) throw EINVAL;
    }
    this.dev = device.dev;
    const root = this.inode(ROOT_INO);
    if ((root.mode & S_IFMT) !== S_IFDIR || root.nlink === 0) throw EINVAL;
    this.root = new Ext2Dentry(this, root, null, "");
    if (!this.#ro) this.#markInUse();
  }

  get readonly(): boolean {
    return this.#ro;
  }

  /** Linux's ext2_setup_super: the filesystem is in use (not clean) until unmounted or made read-only. */
  #markInUse(): void {
    const v = this.#sbv;
    const state = v.getUint16(SB.state, true);
    this.#wasValid = (state & STATE_VALID) !== 0 && (state & STATE_ERROR) === 0;
    v.setUint16(SB.state, state & ~STATE_VALID, true);
    v.setUint16(SB.mntCount, (v.getUint16(SB.mntCount, true) + 1) & 0xffff, true);
    v.setUint32(SB.mtime, Number(nowNs() / 1_000_000_000n) >>> 0, true);
    this.#sbDirty = true;
    this.commit();
  }

  /**
   * Writes what going read-only needs: mapped files' data back, the state clean again (when it
   * was at the read-write mount), the device flushed. Orphans stay (their descriptions still
   * read them) unless final.
   */
  #markClean(final: boolean): void {
    for (const i of [...this.mapped]) {
      try {
        if (final) i.unmap();
        else i.writeBack();
      } catch {
        // A device that fails here loses what it failed to take, as Linux's writeback.
      }
    }
    try {
      if (final) for (const i of [...this.orphans]) this.freeInode(i);
      if (this.#wasValid) this.#sbv.setUint16(SB.state, this.#sbv.getUint16(SB.state, true) | STATE_VALID, true);
      this.#sbDirty = true;
      this.commit();
      this.device.flush();
    } catch {
      // As above.
    }
  }

  /**
   * MS_REMOUNT (or fsconfig's CMD_RECONFIGURE) between read-only and read-write, after the
   * mount layer's checks: EROFS when it cannot write (a read-only device, features it only reads).
   */
  reconfigure(readonly: boolean): void {
    if (readonly === this.#ro) return;
    if (readonly) {
      this.#markClean(false);
      this.#ro = true;
      return;
    }
    if (this.#roOnly || this.device.readOnly) throw EROFS;
    this.#ro = false;
    this.#markInUse();
  }

  // ---- Blocks -------------------------------------------------------------------------------

  /** EUCLEAN unless b is a block of the filesystem past the boot block (a pointer read from disk). */
  checkBlock(b: number): number {
    if (!Number.isInteger(b) || b < this.#firstDataBlock || b >= this.blocksCount) throw corrupt();
    return b;
  }

  #deviceRead(b: number): Uint8Array {
    let data: Uint8Array;
    try {
      data = this.device.read(b * this.blockSize, this.blockSize);
    } catch (e) {
      if (e instanceof LinuxError) throw e;
      throw EIO;
    }
    // A device that shrank under the filesystem (a loop device resized) ends early.
    if (data.length !== this.blockSize) throw EIO;
    return data;
  }

  #deviceWrite(b: number, data: Uint8Array): void {
    if (this.readonly) throw EROFS;
    try {
      this.device.write(b * this.blockSize, data);
    } catch (e) {
      if (e instanceof LinuxError) throw e;
      throw EIO;
    }
  }

  /** A metadata block, cached; changes to it must be followed by dirty(b). */
  meta(b: number): Uint8Array {
    let data = this.#cache.get(b);
    if (data === undefined) {
      data = this.#deviceRead(this.checkBlock(b));
      this.#cache.set(b, data);
    }
    return data;
  }

  /** A fresh zeroed metadata block b (just allocated). */
  metaZero(b: number): Uint8Array {
    const data = new Uint8Array(this.blockSize);
    this.#cache.set(b, data);
    this.#dirty.add(b);
    return data;
  }

  dirty(b: number): void {
    this.#dirty.add(b);
  }

  /** A data block's contents (through the cache when it is there). */
  readData(b: number): Uint8Array {
    return this.#cache.get(b) ?? this.#deviceRead(this.checkBlock(b));
  }

  /** Writes a whole data block at once. */
  writeData(b: number, data: Uint8Array): void {
    this.writeRun(b, data);
  }

  /** count data blocks from b, in one device read. */
  readRun(b: number, count: number): Uint8Array {
    if (count === 1) return this.readData(b);
    this.checkBlock(b);
    this.checkBlock(b + count - 1);
    let data: Uint8Array;
    try {
      data = this.device.read(b * this.blockSize, count * this.blockSize);
    } catch (e) {
      if (e instanceof LinuxError) throw e;
      throw EIO;
    }
    if (data.length !== count * this.blockSize) throw EIO;
    // A block the current operation changed as metadata (a corrupted map pointing at one) wins.
    for (let k = 0; k < count; k++) {
      const c = this.#cache.get(b + k);
      if (c !== undefined && this.#dirty.has(b + k)) data.set(c, k * this.blockSize);
    }
    return data;
  }

  /** Writes whole data blocks from b at once. */
  writeRun(b: number, data: Uint8Array): void {
    const count = data.length / this.blockSize;
    this.checkBlock(b);
    this.checkBlock(b + count - 1);
    for (let k = 0; k < count; k++) {
      this.#cache.delete(b + k);
      this.#dirty.delete(b + k);
    }
    this.#deviceWrite(b, data);
  }

  /** Writes out what the current operation changed: the dirty blocks, then the superblock. */
  commit(): void {
    if (this.#dirty.size > 0) {
      for (const b of [...this.#dirty].sort((a, b) => a - b)) {
        const data = this.#cache.get(b);
        if (data !== undefined) this.#deviceWrite(b, data);
      }
      this.#dirty.clear();
    }
    if (this.#sbDirty) {
      this.#sbv.setUint32(SB.wtime, Number(nowNs() / 1_000_000_000n) >>> 0, true);
      if (this.readonly) throw EROFS;
      try {
        this.device.write(SUPERBLOCK_OFFSET, this.#sb);
      } catch (e) {
        if (e instanceof LinuxError) throw e;
        throw EIO;
      }
      this.#sbDirty = false;
    }
    if (this.#cache.size > CACHE_BLOCKS) this.#cache.clear();
  }

  /** Runs a changing operation and writes what it changed, whether it succeeded or not. */
  op<T>(fn: () => T): T {
    if (this.readonly) throw EROFS;
    try {
      return fn();
    } finally {
      this.commit();
    }
  }

  // ---- Group descriptors and counts -----------------------------------------------------------

  #gdLoc(g: number): [number, number] {
    const off = g * GROUP_DESC_SIZE;
    return [this.#gdtStart + Math.floor(off / this.blockSize), off % this.blockSize];
  }

  #gd(g: number, field: number, size: 2 | 4): number {
    const [b, off] = this.#gdLoc(g);
    const v = dv(this.meta(b));
    return size === 4 ? v.getUint32(off + field, true) : v.getUint16(off + field, true);
  }

  #gdAdd(g: number, field: number, delta: number): void {
    const [b, off] = this.#gdLoc(g);
    const v = dv(this.meta(b));
    const n = v.getUint16(off + field, true) + delta;
    if (n < 0 || n > 0xffff) throw corrupt();
    v.setUint16(off + field, n, true);
    this.dirty(b);
  }

  #sbAdd(field: number, delta: number): void {
    const n = this.#sbv.getUint32(field, true) + delta;
    this.#sbv.setUint32(field, Math.max(n, 0), true);
    this.#sbDirty = true;
  }

  get freeBlocks(): number {
    return this.#sbv.getUint32(SB.freeBlocks, true);
  }

  get freeInodes(): number {
    return this.#sbv.getUint32(SB.freeInodes, true);
  }

  // ---- Allocation ---------------------------------------------------------------------------

  /** A free block, as near goal as the bitmaps allow; ENOSPC when there is none. */
  allocBlock(goal: number): number {
    if (this.freeBlocks === 0) throw ENOSPC;
    const bpg = this.#blocksPerGroup, fdb = this.#firstDataBlock;
    if (goal < fdb || goal >= this.blocksCount) goal = fdb;
    const g0 = Math.floor((goal - fdb) / bpg);
    for (let k = 0; k <= this.#groups; k++) {
      const g = (g0 + k) % this.#groups;
      if (this.#gd(g, GD.freeBlocks, 2) === 0) continue;
      const n = Math.min(bpg, this.blocksCount - fdb - g * bpg);
      const bm = this.#gd(g, GD.blockBitmap, 4);
      const bits = this.meta(bm);
      const start = k === 0 ? (goal - fdb) % bpg : 0;
      const bit = findZero(bits, start, n) ?? (start > 0 ? findZero(bits, 0, start) : null);
      if (bit === null) continue;
      bits[bit >> 3]! |= 1 << (bit & 7);
      this.dirty(bm);
      this.#gdAdd(g, GD.freeBlocks, -1);
      this.#sbAdd(SB.freeBlocks, -1);
      const b = fdb + g * bpg + bit;
      this.#cache.delete(b);
      this.#dirty.delete(b);
      return b;
    }
    throw ENOSPC;
  }

  /** Frees block b; EUCLEAN when it is not allocated (a block referenced twice). */
  freeBlock(b: number): void {
    this.checkBlock(b);
    const bpg = this.#blocksPerGroup, rel = b - this.#firstDataBlock;
    const g = Math.floor(rel / bpg), bit = rel % bpg;
    const bm = this.#gd(g, GD.blockBitmap, 4);
    const bits = this.meta(bm);
    if (!(bits[bit >> 3]! & (1 << (bit & 7)))) throw corrupt();
    bits[bit >> 3]! &= ~(1 << (bit & 7));
    this.dirty(bm);
    this.#gdAdd(g, GD.freeBlocks, 1);
    this.#sbAdd(SB.freeBlocks, 1);
    this.#cache.delete(b);
    this.#dirty.delete(b);
  }

  /** A free inode number for a new file in dir (directories spread over groups, as Orlov roughly). */
  #allocInode(dir: Ext2Inode, isDir: boolean): number {
    if (this.freeInodes === 0) throw ENOSPC;
    const ipg = this.#inodesPerGroup;
    const order: number[] = [];
    const parentGroup = Math.floor((dir.ino - 1) / ipg);
    if (isDir && dir.ino !== ROOT_INO) {
      order.push(parentGroup);
    } else if (isDir) {
      // Top-level directories go to the group with the most free inodes among those with free blocks.
      let best = parentGroup, bestFree = -1;
      for (let g = 0; g < this.#groups; g++) {
        const fi = this.#gd(g, GD.freeInodes, 2), fb = this.#gd(g, GD.freeBlocks, 2);
        if (fi > 0 && fb > 0 && fi > bestFree) (best = g, bestFree = fi);
      }
      order.push(best);
    } else {
      order.push(parentGroup);
    }
    for (let k = 0; k < this.#groups; k++) order.push((parentGroup + k) % this.#groups);
    for (const g of order) {
      if (this.#gd(g, GD.freeInodes, 2) === 0) continue;
      const bm = this.#gd(g, GD.inodeBitmap, 4);
      const bits = this.meta(bm);
      const bit = findZero(bits, 0, ipg);
      if (bit === null) continue;
      const ino = g * ipg + bit + 1;
      if (ino < this.#firstIno) throw corrupt();
      bits[bit >> 3]! |= 1 << (bit & 7);
      this.dirty(bm);
      this.#gdAdd(g, GD.freeInodes, -1);
      if (isDir) this.#gdAdd(g, GD.usedDirs, 1);
      this.#sbAdd(SB.freeInodes, -1);
      return ino;
    }
    throw ENOSPC;
  }

  #freeInodeBit(ino: number, isDir: boolean): void {
    const ipg = this.#inodesPerGroup;
    const g = Math.floor((ino - 1) / ipg), bit = (ino - 1) % ipg;
    const bm = this.#gd(g, GD.inodeBitmap, 4);
    const bits = this.meta(bm);
    if (!(bits[bit >> 3]! & (1 << (bit & 7)))) throw corrupt();
    bits[bit >> 3]! &= ~(1 << (bit & 7));
    this.dirty(bm);
    this.#gdAdd(g, GD.freeInodes, 1);
    if (isDir) this.#gdAdd(g, GD.usedDirs, -1);
    this.#sbAdd(SB.freeInodes, 1);
  }

  /** The block group's first block: where blocks of a file of inode ino are sought first. */
  goalFor(ino: number): number {
    const g = Math.floor((ino - 1) / this.#inodesPerGroup);
    return this.#firstDataBlock + g * this.#blocksPerGroup;
  }

  // ---- Inodes -------------------------------------------------------------------------------

  /** Where inode ino lives: its table block and the offset in it. */
  inodeLoc(ino: number): [number, number] {
    if (!Number.isInteger(ino) || ino < 1 || ino > this.inodesCount) throw corrupt();
    const ipg = this.#inodesPerGroup;
    const g = Math.floor((ino - 1) / ipg), idx = (ino - 1) % ipg;
    const off = idx * this.inodeSize;
    return [this.#gd(g, GD.inodeTable, 4) + Math.floor(off / this.blockSize), off % this.blockSize];
  }

  /** The in-memory inode ino, read from its table on first use. EUCLEAN for a free or bad one. */
  inode(ino: number): Ext2Inode {
    let i = this.#inodes.get(ino);
    if (i !== undefined) return i;
    const [b, off] = this.inodeLoc(ino);
    const raw = this.meta(b).slice(off, off + this.inodeSize);
    i = new Ext2Inode(this, ino, raw);
    if (i.mode === 0 || (i.nlink === 0 && ino !== ROOT_INO)) throw corrupt();
    if (i.flags & (EXTENTS_FL | INLINE_DATA_FL)) throw corrupt();
    this.#inodes.set(ino, i);
    return i;
  }

  /** Writes inode i back into its table block (committed with the operation). */
  writeInode(i: Ext2Inode): void {
    const [b, off] = this.inodeLoc(i.ino);
    this.meta(b).set(i.serialize(), off);
    this.dirty(b);
  }

  /** Allocates and initialises a new inode in dir. */
  newInode(dir: Ext2Inode, attrs: NewFile, mode: number): Ext2Inode {
    const ino = this.#allocInode(dir, (mode & S_IFMT) === S_IFDIR);
    const raw = new Uint8Array(this.inodeSize);
    const i = new Ext2Inode(this, ino, raw);
    i.mode = mode;
    i.uid = attrs.uid;
    i.gid = attrs.gid;
    i.nlink = (mode & S_IFMT) === S_IFDIR ? 2 : 1;
    const now = nowNs();
    i.atimeNs = i.mtimeNs = i.ctimeNs = i.crtimeNs = now;
    i.extraIsize = this.#wantExtra;
    i.generation = (Math.random() * 2 ** 32) >>> 0;
    // New files inherit the directory's inheritable flags, as ext2_mask_flags.
    i.flags = dir.flags & (FS_NODUMP_FL | FS_NOATIME_FL);
    const type = mode & S_IFMT;
    if ((type === S_IFCHR || type === S_IFBLK) && attrs.rdev !== undefined) {
      const [major, minor] = majorMinor(attrs.rdev);
      const e = encodeDev(major, minor);
      i.block[0] = e.old;
      i.block[1] = e.new;
    }
    if (type === S_IFSOCK) i.socket = attrs.socket ?? null;
    this.#inodes.set(ino, i);
    this.writeInode(i);
    return i;
  }

  /** The last link and the last open file of i are gone: frees its blocks and the inode. */
  freeInode(i: Ext2Inode): void {
    this.orphans.delete(i);
    i.dropMap();
    const isDir = i.type === S_IFDIR;
    if (i.hasBlocks) i.truncateBlocks(0);
    if (i.fileAcl !== 0) i.dropXattrBlock();
    i.size = 0;
    i.nlink = 0;
    i.dtime = Number(nowNs() / 1_000_000_000n) >>> 0;
    this.writeInode(i);
    this.#freeInodeBit(i.ino, isDir);
    this.#inodes.delete(i.ino);
  }

  // ---- Filesystem ---------------------------------------------------------------------------

  get filetypeFeature(): boolean {
    return this.#filetype;
  }

  /**
   * A time clamped to what the superblock holds (timestamp_truncate with s_time_min/max): 32-bit
   * seconds for ext2 (Linux's ext2 keeps no more), and for ext3 (Linux's ext4 driver) up to 2446
   * with the inodes' extra epoch bits.
   */
  truncateTime(ns: bigint): bigint {
    const min = -(2n ** 31n);
    const max = this.name === "ext2" || this.#wantExtra < 4 ? 2n ** 31n - 1n : 2n ** 34n - 1n + min;
    const sec = ns >= 0n ? ns / 1_000_000_000n : -((-ns + 999_999_999n) / 1_000_000_000n);
    if (sec < min) return min * 1_000_000_000n;
    if (sec > max) return max * 1_000_000_000n;
    return ns;
  }

  /** Linux's ext2_statfs: the blocks less the overhead of the metadata of every group. */
  statfs(): FsStat {
    let overhead = this.#firstDataBlock;
    for (let g = 0; g < this.#groups; g++) {
      if (groupHasSuper(g, this.#sparse)) overhead += 1 + this.#gdtBlocks;
    }
    overhead += this.#groups * (2 + Math.ceil((this.#inodesPerGroup * this.inodeSize) / this.blockSize));
    const free = this.freeBlocks, reserved = this.#sbv.getUint32(SB.rBlocksCount, true);
    return {
      type: EXT2_SUPER_MAGIC_STATFS, bsize: this.blockSize, blocks: this.blocksCount - overhead, bfree: free,
      bavail: Math.max(free - reserved, 0), files: this.inodesCount, ffree: this.freeInodes, namelen: NAME_MAX,
    };
  }

  showOptions(): string {
    return "";
  }

  /** sync(2), syncfs(2), fsync(2): everything is on the device already; the device flushes. */
  syncFs(): void {
    if (this.readonly) return;
    try {
      this.device.flush();
    } catch {
      throw EIO;
    }
  }

  /** The last mount went: orphans are freed, the state is clean again, the device flushed. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.readonly) return;
    this.#markClean(true);
    this.#ro = true;
  }
}

const FS_IOC_FIEMAP = 0xc020660b, FIEMAP_FLAG_SYNC = 1, FIEMAP_EXTENT_LAST = 1;
/** struct fiemap's header and struct fiemap_extent's sizes. */
const FIEMAP_HEADER = 32, FIEMAP_EXTENT = 56;

/** STATX_ATTR_COMPRESSED | IMMUTABLE | APPEND | NODUMP | ENCRYPTED: the same bits as the inode flags. */
const STATX_ATTRS = 0x874;

/** Blocks moved by one device read or write at most. */
const MAX_RUN = 256;

function concat(parts: Uint8Array[], bs: number): Uint8Array {
  const out = new Uint8Array(parts.length * bs);
  parts.forEach((p, k) => out.set(p, k * bs));
  return out;
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** The first clear bit of bits in [from, to), or null. */
function findZero(bits: Uint8Array, from: number, to: number): number | null {
  let i = from;
  while (i < to) {
    if ((i & 7) === 0 && i + 8 <= to && bits[i >> 3] === 0xff) {
      i += 8;
      continue;
    }
    if (!(bits[i >> 3]! & (1 << (i & 7)))) return i;
    i++;
  }
  return null;
}

/** Where a directory entry's record is, and its inode. */
interface DirPlace {
  ino: number;
  lblk: number;
  off: number;
}

/** A directory record: where it is and what it holds. */
interface DirRecord {
  /** The logical block and the physical block holding it. */
  lblk: number;
  pblk: number;
  off: number;
  ino: number;
  recLen: number;
  nameLen: number;
  fileType: number;
  /** The previous record of the same block (-1: the first). */
  prev: number;
}

/** An inode of an ext2 filesystem, in memory: the fields of its on-disk form. */
export class Ext2Inode {
  readonly fs: Ext2Filesystem;
  readonly ino: number;
  /** @nosave The on-disk bytes as read (fields this driver does not know are kept as they were). */
  readonly #raw: Uint8Array;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  atimeNs: bigint;
  ctimeNs: bigint;
  mtimeNs: bigint;
  crtimeNs: bigint;
  dtime: number;
  nlink: number;
  /** i_blocks: 512-byte sectors of data, indirect and xattr blocks. */
  sectors: number;
  flags: number;
  readonly block: number[];
  generation: number;
  fileAcl: number;
  extraIsize: number;
  /** @nosave FIFOs: the pipe, while the filesystem is mounted. */
  pipe: Pipe | null = null;
  /** @nosave Sockets: the bound endpoint. */
  socket: unknown = null;
  /** Open descriptions of this regular file (an unlinked file lives until the last goes). */
  openFiles = 0;
  /** @nosave Regular files while mapped: the memfd mmap maps (mapFd), -1 otherwise. */
  #memfd = -1;
  /** @nosave The page-cache generation (vfs/page_cache.ts) #cached belongs to. */
  #cacheGen = pageCacheGeneration();
  /** @nosave Blocks read or written since the last drop_caches; null: no drop since the inode was read. */
  #cached: Set<number> | null = null;
  /** @nosave The dentries naming this inode (its users keep an unlinked inode: pinned()). */
  readonly dentries = new Set<Ext2Dentry>();
  /** @nosave Directories: the dentries made for children, by name. */
  readonly kids = new Map<string, Ext2Dentry>();
  /** @nosave Directories: the entries by name (ino), read at the first lookup. */
  #names: Map<string, DirPlace> | null = null;
  /** @nosave Directories: the first logical block that may have room for a new record. */
  #spaceHint = 0;
  /** @nosave ACLs as parsed from the xattr block (undefined: not read yet). */
  #acls: { access: Acl | null; default: Acl | null } | undefined;

  constructor(fs: Ext2Filesystem, ino: number, raw: Uint8Array) {
    this.fs = fs;
    this.ino = ino;
    this.#raw = raw;
    const v = dv(raw);
    const u32 = (o: number) => v.getUint32(o, true), u16 = (o: number) => v.getUint16(o, true);
    this.mode = u16(INO.mode);
    this.uid = u16(INO.uid) | (u16(INO.uidHigh) << 16);
    this.gid = u16(INO.gid) | (u16(INO.gidHigh) << 16);
    this.uid >>>= 0;
    this.gid >>>= 0;
    this.nlink = u16(INO.links);
    this.sectors = u32(INO.blocks) + u16(INO.blocksHi) * 2 ** 32;
    this.flags = u32(INO.flags);
    this.block = [];
    for (let k = 0; k < 15; k++) this.block.push(u32(INO.block + 4 * k));
    this.generation = u32(INO.generation);
    this.fileAcl = u32(INO.fileAcl);
    const type = this.mode & S_IFMT;
    this.size = u32(INO.sizeLo) + (type === S_IFREG ? u32(INO.sizeHigh) * 2 ** 32 : 0);
    this.dtime = u32(INO.dtime);
    this.extraIsize = raw.length > GOOD_OLD_INODE_SIZE ? u16(INO.extraIsize) : 0;
    if (this.extraIsize > raw.length - GOOD_OLD_INODE_SIZE || (this.extraIsize & 3)) this.extraIsize = 0;
    const extra = (field: number) => this.extraIsize >= field + 4 - GOOD_OLD_INODE_SIZE ? u32(field) : null;
    this.atimeNs = decodeTime(u32(INO.atime), extra(INO.atimeExtra));
    this.ctimeNs = decodeTime(u32(INO.ctime), extra(INO.ctimeExtra));
    this.mtimeNs = decodeTime(u32(INO.mtime), extra(INO.mtimeExtra));
    this.crtimeNs = this.extraIsize >= INO.crtimeExtra + 4 - GOOD_OLD_INODE_SIZE
      ? decodeTime(u32(INO.crtime), extra(INO.crtimeExtra))
      : 0n;
    if (type === S_IFIFO) this.pipe = new Pipe();
  }

  get type(): number {
    return this.mode & S_IFMT;
  }

  /** Whether a description (O_PATH too, an executable) still holds a dentry of this inode. */
  pinned(): boolean {
    for (const d of this.dentries) if (d.users > 0) return true;
    return false;
  }

  /** Frees the inode if it is an orphan nothing holds any more. */
  freeIfUnused(): void {
    if (this.nlink > 0 || this.openFiles > 0 || this.pinned() || !this.fs.orphans.has(this) || this.fs.readonly) return;
    try {
      this.fs.op(() => this.fs.freeInode(this));
    } catch {
      // A device error here leaks the inode (e2fsck finds it), as Linux's failed eviction.
    }
  }

  /** The on-disk form with the current fields. */
  serialize(): Uint8Array {
    const raw = this.#raw;
    const v = dv(raw);
    const s32 = (o: number, x: number) => v.setUint32(o, x >>> 0, true), s16 = (o: number, x: number) => v.setUint16(o, x & 0xffff, true);
    s16(INO.mode, this.mode);
    s16(INO.uid, this.uid);
    s16(INO.uidHigh, this.uid >>> 16);
    s16(INO.gid, this.gid);
    s16(INO.gidHigh, this.gid >>> 16);
    s16(INO.links, this.nlink);
    s32(INO.blocks, this.sectors % 2 ** 32);
    s16(INO.blocksHi, 0);
    s32(INO.flags, this.flags);
    for (let k = 0; k < 15; k++) s32(INO.block + 4 * k, this.block[k]!);
    s32(INO.generation, this.generation);
    s32(INO.fileAcl, this.fileAcl);
    s32(INO.sizeLo, this.size % 2 ** 32);
    if (this.type === S_IFREG) s32(INO.sizeHigh, Math.floor(this.size / 2 ** 32));
    s32(INO.dtime, this.dtime);
    const times: [number, number, bigint][] = [
      [INO.atime, INO.atimeExtra, this.atimeNs], [INO.ctime, INO.ctimeExtra, this.ctimeNs],
      [INO.mtime, INO.mtimeExtra, this.mtimeNs], [INO.crtime, INO.crtimeExtra, this.crtimeNs],
    ];
    if (raw.length > GOOD_OLD_INODE_SIZE) s16(INO.extraIsize, this.extraIsize);
    for (const [f, x, ns] of times) {
      const t = encodeTime(ns);
      if (f !== INO.crtime) s32(f, t.sec);
      if (this.extraIsize >= x + 4 - GOOD_OLD_INODE_SIZE) {
        if (f === INO.crtime) s32(f, t.sec);
        s32(x, t.extra);
      }
    }
    return raw;
  }

  /** Writes the inode back (at the operation's commit). */
  save(): void {
    this.fs.writeInode(this);
  }

  /** Whether the data blocks in i_block are pointers (not a fast symlink's target, not a device number). */
  get hasBlocks(): boolean {
    const t = this.type;
    if (t === S_IFREG || t === S_IFDIR) return true;
    if (t === S_IFLNK) return !this.isFastSymlink;
    return false;
  }

  /** A symlink whose target is in i_block (ext2_inode_is_fast_symlink: no data blocks). */
  get isFastSymlink(): boolean {
    const ea = this.fileAcl !== 0 ? this.fs.blockSize / 512 : 0;
    return this.sectors - ea === 0;
  }

  // ---- Block map ----------------------------------------------------------------------------

  /** The path to logical block lblk: the i_block index and the indexes in each indirect level. */
  #path(lblk: number): number[] {
    const a = this.fs.blockSize / 4;
    if (lblk < N_DIRECT) return [lblk];
    lblk -= N_DIRECT;
    if (lblk < a) return [IND, lblk];
    lblk -= a;
    if (lblk < a * a) return [IND + 1, Math.floor(lblk / a), lblk % a];
    lblk -= a * a;
    if (lblk < a * a * a) return [IND + 2, Math.floor(lblk / (a * a)), Math.floor(lblk / a) % a, lblk % a];
    throw EFBIG;
  }

  /**
   * The physical block of logical block lblk: 0 for a hole, unless alloc, which allocates it
   * (and the indirect blocks on the way; zeroed) near goal.
   */
  bmap(lblk: number, alloc: boolean): number {
    const fs = this.fs;
    const path = this.#path(lblk);
    let ptr = this.block[path[0]!]!;
    if (ptr === 0) {
      if (!alloc) return 0;
      ptr = fs.allocBlock(this.#goal(lblk));
      this.sectors += fs.blockSize / 512;
      if (path.length > 1) fs.metaZero(ptr);
      this.block[path[0]!] = ptr;
      this.save();
    }
    for (let k = 1; k < path.length; k++) {
      const ib = fs.meta(fs.checkBlock(ptr));
      const v = dv(ib);
      let next = v.getUint32(path[k]! * 4, true);
      if (next === 0) {
        if (!alloc) return 0;
        next = fs.allocBlock(ptr + 1);
        this.sectors += fs.blockSize / 512;
        if (k < path.length - 1) fs.metaZero(next);
        v.setUint32(path[k]! * 4, next, true);
        fs.dirty(ptr);
        this.save();
      }
      ptr = next;
    }
    return fs.checkBlock(ptr);
  }

  /**
   * The first mapped logical block in [from, limit), or limit: whole missing indirect subtrees
   * are skipped, so a sparse file of terabytes costs what its blocks do. An indirect block met
   * twice (a corrupted map sharing one) is EUCLEAN, which bounds the walk by the device.
   */
  nextMapped(from: number, limit: number): number {
    const a = this.fs.blockSize / 4;
    for (let lb = from; lb < Math.min(N_DIRECT, limit); lb++) if (this.block[lb]) return lb;
    const seen = new Set<number>();
    let base = N_DIRECT;
    for (let depth = 1; depth <= 3 && base < limit; depth++) {
      const cover = a ** depth;
      if (from < base + cover) {
        const r = this.#scan(this.block[IND + depth - 1]!, depth, base, Math.max(from, base), limit, seen);
        if (r !== null) return r;
      }
      base += cover;
    }
    return limit;
  }

  #scan(ptr: number, depth: number, base: number, from: number, limit: number, seen: Set<number>): number | null {
    if (ptr === 0) return null;
    if (seen.has(ptr)) throw corrupt();
    seen.add(ptr);
    const fs = this.fs, a = fs.blockSize / 4;
    const span = a ** (depth - 1);
    const v = dv(fs.meta(fs.checkBlock(ptr)));
    for (let e = Math.floor((from - base) / span); e < a; e++) {
      const start = base + e * span;
      if (start >= limit) return null;
      const p = v.getUint32(e * 4, true);
      if (p === 0) continue;
      if (depth === 1) return start;
      const r = this.#scan(p, depth - 1, start, Math.max(from, start), limit, seen);
      if (r !== null) return r;
    }
    return null;
  }

  /** The first unmapped logical block in [from, limit), or limit; EUCLEAN past the device's worth of blocks. */
  nextHole(from: number, limit: number): number {
    let lb = from;
    for (let n = 0; lb < limit && this.bmap(lb, false) !== 0; lb++) if (++n > this.fs.blocksCount) throw corrupt();
    return lb;
  }

  #goal(lblk: number): number {
    // The block before in the file, else the inode's group.
    if (lblk > 0 && lblk <= N_DIRECT && this.block[lblk - 1]) return this.block[lblk - 1]! + 1;
    return this.fs.goalFor(this.ino);
  }

  /** Frees every block from logical block `first` on, and the indirect blocks left empty. */
  truncateBlocks(first: number): void {
    const fs = this.fs;
    const a = fs.blockSize / 4;
    const per = fs.blockSize / 512;
    for (let k = first; k < N_DIRECT; k++) {
      if (this.block[k]) {
        fs.freeBlock(this.block[k]!);
        this.block[k] = 0;
        this.sectors -= per;
      }
    }
    let base = N_DIRECT, span = 1;
    for (let depth = 1; depth <= 3; depth++) {
      const idx = IND + depth - 1;
      this.block[idx] = this.#trim(this.block[idx]!, depth, base, first);
      base += a * span;
      span *= a;
    }
    if (this.sectors < 0) this.sectors = 0;
    this.save();
  }

  /** Frees what the indirect tree at ptr (depth levels, mapping from lblk base) holds from first on; returns what replaces ptr. */
  #trim(ptr: number, depth: number, base: number, first: number): number {
    if (ptr === 0) return 0;
    const fs = this.fs;
    const a = fs.blockSize / 4;
    const span = a ** (depth - 1);
    if (first >= base + a * span) return ptr;
    const data = fs.meta(fs.checkBlock(ptr));
    const v = dv(data);
    const per = fs.blockSize / 512;
    const start = first <= base ? 0 : Math.floor((first - base) / span);
    let changed = false;
    for (let e = start; e < a; e++) {
      const p = v.getUint32(e * 4, true);
      if (p === 0) continue;
      let np = 0;
      if (depth === 1) {
        fs.freeBlock(p);
        this.sectors -= per;
      } else {
        np = this.#trim(p, depth - 1, base + e * span, first);
      }
      if (np !== p) {
        v.setUint32(e * 4, np, true);
        changed = true;
      }
    }
    let empty = true;
    for (let e = 0; e < a && empty; e++) if (v.getUint32(e * 4, true) !== 0) empty = false;
    if (first <= base || empty) {
      fs.freeBlock(ptr);
      this.sectors -= per;
      return 0;
    }
    if (changed) fs.dirty(ptr);
    return ptr;
  }

  // ---- Data ---------------------------------------------------------------------------------

  /** The blocks first..last count as in the page cache from now on. */
  #cache(first: number, last: number): void {
    const g = pageCacheGeneration();
    if (g !== this.#cacheGen) (this.#cacheGen = g, this.#cached = new Set());
    if (this.#cached === null) return;
    for (let lb = first; lb <= last && this.#cached.size < 1 << 20; lb++) this.#cached.add(lb);
  }

  /**
   * An RWF_NOWAIT read of [off, off + len): EAGAIN when a block of it was not read or written
   * since the last drop_caches, as filemap_read's IOCB_NOWAIT finds pages not uptodate (and
   * starts reading them: the next try finds them).
   */
  checkCachedForNowait(off: number, len: number): void {
    const g = pageCacheGeneration();
    if (g !== this.#cacheGen) (this.#cacheGen = g, this.#cached = new Set());
    if (this.#cached === null || len <= 0 || off >= this.size) return;
    const bs = this.fs.blockSize, end = Math.min(off + len, this.size);
    for (let lb = Math.floor(off / bs); lb * bs < end; lb++) {
      if (this.#cached.has(lb)) continue;
      // The miss starts the read-ahead Linux would: the next try finds the data.
      this.#cache(lb, Math.floor((end - 1) / bs));
      throw EAGAIN;
    }
  }

  /** Reads file data at off (zeros in holes); physically contiguous blocks in one device read. */
  read(dst: Uint8Array, off: number): number {
    if (off >= this.size || dst.length === 0) return 0;
    const fs = this.fs, bs = fs.blockSize;
    const want = Math.min(dst.length, this.size - off);
    if (this.#memfd >= 0) {
      const n = ffi.hostPread(this.#memfd, want === dst.length ? dst : dst.subarray(0, want), off);
      if (n < 0) throw errnoFromNumber(-n);
      return n;
    }
    this.#cache(Math.floor(off / bs), Math.floor((off + want - 1) / bs));
    // A run of contiguous blocks not yet read: its first physical block, count, and where in dst.
    let runStart = 0, runCount = 0, runDst = 0, runSkip = 0, runLen = 0;
    const flush = () => {
      if (runCount === 0) return;
      const data = fs.readRun(runStart, runCount);
      dst.set(data.subarray(runSkip, runSkip + runLen), runDst);
      runCount = 0;
    };
    for (let done = 0; done < want;) {
      const pos = off + done;
      const lblk = Math.floor(pos / bs), inBlk = pos % bs;
      const n = Math.min(bs - inBlk, want - done);
      const pb = this.bmap(lblk, false);
      if (pb !== 0 && runCount > 0 && pb === runStart + runCount && runCount < MAX_RUN) {
        runCount++;
        runLen += n;
      } else {
        flush();
        if (pb === 0) dst.fill(0, done, done + n);
        else (runStart = pb, runCount = 1, runDst = done, runSkip = inBlk, runLen = n);
      }
      done += n;
    }
    flush();
    return want;
  }

  /**
   * Writes file data at off, allocating blocks (physically contiguous ones in one device
   * write); as much as fits (ENOSPC when nothing does).
   */
  write(src: Uint8Array, off: number): number {
    const n = this.#writeBlocks(src, off);
    if (n > 0 && this.#memfd >= 0) {
      // The mapping's copy takes what the blocks took.
      const r = ffi.hostPwrite(this.#memfd, n === src.length ? src : src.subarray(0, n), off);
      if (r < 0) throw errnoFromNumber(-r);
    }
    return n;
  }

  #writeBlocks(src: Uint8Array, off: number): number {
    if (src.length === 0) return 0;
    const fs = this.fs, bs = fs.blockSize;
    if (this.#cached !== null || this.#cacheGen !== pageCacheGeneration()) this.#cache(Math.floor(off / bs), Math.floor((off + src.length - 1) / bs));
    if (off >= fs.maxFileSize) throw EFBIG;
    const len = Math.min(src.length, fs.maxFileSize - off);
    let done = 0;
    let runStart = 0;
    const parts: Uint8Array[] = [];
    const flush = () => {
      if (parts.length === 0) return;
      fs.writeRun(runStart, parts.length === 1 ? parts[0]! : concat(parts, bs));
      parts.length = 0;
    };
    try {
      while (done < len) {
        const pos = off + done;
        const lblk = Math.floor(pos / bs), inBlk = pos % bs;
        const n = Math.min(bs - inBlk, len - done);
        const had = this.bmap(lblk, false);
        const pb = had || this.bmap(lblk, true);
        let data: Uint8Array;
        if (n === bs) data = src.subarray(done, done + n);
        else {
          data = had ? fs.readData(pb).slice() : new Uint8Array(bs);
          data.set(src.subarray(done, done + n), inBlk);
        }
        if (parts.length === 0 || pb !== runStart + parts.length || parts.length >= MAX_RUN) {
          flush();
          runStart = pb;
        }
        parts.push(data);
        done += n;
        if (pos + n > this.size) this.size = pos + n;
      }
    } catch (e) {
      if (done === 0 || !(e instanceof LinuxError)) throw e;
    } finally {
      flush();
      if (done > 0) {
        this.mtimeNs = this.ctimeNs = nowNs();
        this.save();
      }
    }
    return done;
  }

  /** Sets the size of a regular file: frees the blocks past it, zeroes the rest of the last block. */
  setSize(size: number): void {
    const fs = this.fs, bs = fs.blockSize;
    if (size < 0) throw EINVAL;
    if (size > fs.maxFileSize) throw EFBIG;
    if (this.#memfd >= 0) {
      const r = ffi.hostFtruncate(this.#memfd, size);
      if (r < 0) throw errnoFromNumber(-r);
    }
    if (size < this.size) {
      const keep = Math.ceil(size / bs);
      if (size % bs !== 0) {
        const pb = this.bmap(keep - 1, false);
        if (pb !== 0) {
          const data = fs.readData(pb).slice();
          data.fill(0, size % bs);
          fs.writeData(pb, data);
        }
      }
      this.truncateBlocks(keep);
    }
    this.size = size;
    this.save();
  }

  /**
   * mmap needs a host file: the data is copied into a memfd at the first mapping, and while
   * it exists reads come from it, writes go to both, and what mappings wrote there goes back
   * to the blocks at fsync and at the last close (Ext2RegularFile.release), when it is closed.
   */
  mapFd(): number {
    if (this.#memfd >= 0) return this.#memfd;
    const fd = hostFds.open(() => ffi.hostMemfd());
    if (fd < 0) throw errnoFromNumber(-fd);
    try {
      let r = ffi.hostFtruncate(fd, this.size);
      // Allocated blocks only, in runs of consecutive ones: holes stay holes in the memfd.
      const bs = this.fs.blockSize, n = Math.ceil(this.size / bs);
      const buf = new Uint8Array(Math.min(n * bs, 1 << 20));
      for (let lb = this.nextMapped(0, n); r >= 0 && lb < n; lb = this.nextMapped(lb, n)) {
        const end = this.nextHole(lb, Math.min(n, lb + buf.length / bs));
        const got = this.read(buf.subarray(0, (end - lb) * bs), lb * bs);
        if (got > 0) r = ffi.hostPwrite(fd, buf.subarray(0, got), lb * bs);
        lb = end;
      }
      if (r < 0) throw errnoFromNumber(-r);
    } catch (e) {
      hostFds.close(fd);
      throw e;
    }
    this.#memfd = fd;
    this.fs.mapped.add(this);
    return fd;
  }

  /** Writes what the memfd holds back into the blocks (fsync, last close, unmount). */
  writeBack(): void {
    const fd = this.#memfd;
    if (fd < 0 || this.fs.readonly) return;
    const SEEK_DATA = 3, SEEK_HOLE = 4;
    const buf = new Uint8Array(1 << 20);
    for (let pos = 0; pos < this.size;) {
      const d = ffi.hostLseek(fd, pos, SEEK_DATA);
      if (d < 0 || d >= this.size) break;
      let h = ffi.hostLseek(fd, d, SEEK_HOLE);
      if (h < 0 || h > this.size) h = this.size;
      for (let at = d; at < h;) {
        const n = ffi.hostPread(fd, buf.subarray(0, Math.min(buf.length, h - at)), at);
        if (n <= 0) return;
        // Block by block: a block of zeros where the file has a hole stays a hole.
        const bs = this.fs.blockSize;
        let segStart = -1;
        const put = (from: number, to: number) => this.fs.op(() => this.#writeBlocks(buf.subarray(from, to), at + from));
        for (let o = 0; o < n;) {
          const blockEnd = Math.min(n, o + bs - ((at + o) % bs));
          const skip = this.bmap(Math.floor((at + o) / bs), false) === 0 && buf.subarray(o, blockEnd).every((x) => x === 0);
          if (skip && segStart >= 0) (put(segStart, o), segStart = -1);
          if (!skip && segStart < 0) segStart = o;
          o = blockEnd;
        }
        if (segStart >= 0) put(segStart, n);
        at += n;
      }
      pos = h;
    }
  }

  /** Closes the memfd without writing it back (the inode is being freed). */
  dropMap(): void {
    if (this.#memfd < 0) return;
    hostFds.close(this.#memfd);
    this.#memfd = -1;
    this.fs.mapped.delete(this);
  }

  /** The last open file (and mapping) went: the data is back in the blocks, the memfd closed. */
  unmap(): void {
    if (this.#memfd < 0) return;
    try {
      this.writeBack();
    } finally {
      hostFds.close(this.#memfd);
      this.#memfd = -1;
      this.fs.mapped.delete(this);
    }
  }

  /** SEEK_DATA/SEEK_HOLE by the block map (an allocated block is data). */
  seekHoleData(off: number, whence: number, size: number): number {
    const bs = this.fs.blockSize;
    const end = Math.floor((size - 1) / bs) + 1;
    const SEEK_HOLE = 4;
    const lb = Math.floor(off / bs);
    if (whence === SEEK_HOLE) return Math.min(Math.max(off, this.nextHole(lb, end) * bs), size);
    const d = this.nextMapped(lb, end);
    if (d >= end) throw ENXIO;
    return Math.max(off, d * bs);
  }

  touchAtime(mountFlags: number): void {
    if (this.flags & FS_NOATIME_FL || this.fs.readonly) return;
    const now = nowNs();
    if (mountFlags & MS_NOATIME) return;
    if (!(mountFlags & MS_STRICTATIME) && !(this.atimeNs <= this.mtimeNs || this.atimeNs <= this.ctimeNs || now - this.atimeNs >= DAY_NS)) return;
    this.atimeNs = now;
    this.fs.op(() => this.save());
  }

  stat(): Stat {
    const t = this.type;
    return {
      dev: this.fs.dev, ino: this.ino, mode: this.mode, nlink: this.nlink, uid: this.uid, gid: this.gid,
      rdev: t === S_IFCHR || t === S_IFBLK ? decodeDev(this.block[0]!, this.block[1]!) : 0, size: this.size,
      blksize: this.fs.blockSize, blocks: this.sectors, atimeNs: this.atimeNs, mtimeNs: this.mtimeNs,
      ctimeNs: this.ctimeNs, ...(this.extraIsize >= INO.crtimeExtra + 4 - GOOD_OLD_INODE_SIZE ? { btimeNs: this.crtimeNs } : {}),
      // ext2_getattr: the inode flags whose bits are statx's (compressed, immutable, append, nodump, encrypted).
      attributes: this.flags & STATX_ATTRS, attributesMask: STATX_ATTRS,
    };
  }

  // ---- Directories --------------------------------------------------------------------------

  /** Every record of the directory from logical block `from` on, in order; EUCLEAN for a malformed one. */
  *records(from = 0): Generator<DirRecord> {
    const fs = this.fs, bs = fs.blockSize;
    if (this.size % bs !== 0 || this.size / bs > fs.blocksCount) throw corrupt();
    const n = this.size / bs;
    for (let lblk = from; lblk < n; lblk++) yield* this.#blockRecords(lblk);
  }

  /** The records of logical block lblk. */
  *#blockRecords(lblk: number): Generator<DirRecord> {
    const fs = this.fs, bs = fs.blockSize;
    const pblk = this.bmap(lblk, false);
    if (pblk === 0) throw corrupt();
    const data = fs.meta(pblk);
    const v = dv(data);
    let off = 0, prev = -1;
    while (off < bs) {
      const ino = v.getUint32(off, true), rl = v.getUint16(off + 4, true);
      const nameLen = data[off + 6]!, fileType = data[off + 7]!;
      if (rl < 12 || rl % 4 !== 0 || off + rl > bs || (ino !== 0 && recLen(nameLen) > rl) || ino > fs.inodesCount) throw corrupt();
      yield { lblk, pblk, off, ino, recLen: rl, nameLen, fileType, prev };
      prev = off;
      off += rl;
    }
  }

  /** The name of record r. */
  recordName(r: DirRecord): Uint8Array {
    return this.fs.meta(r.pblk).subarray(r.off + 8, r.off + 8 + r.nameLen);
  }

  /**
   * The directory's entries by name (without "." and ".."), with where each record is, read
   * once and kept up to date: records never move (a split shortens the one before, a removal
   * lengthens it), so a place stays right until its name goes.
   */
  names(): Map<string, DirPlace> {
    if (this.#names !== null) return this.#names;
    const m = new Map<string, DirPlace>();
    for (const r of this.records()) {
      if (r.ino === 0) continue;
      const name = decodePath(this.recordName(r));
      if (name === "." || name === "..") continue;
      m.set(name, { ino: r.ino, lblk: r.lblk, off: r.off });
    }
    this.#names = m;
    return m;
  }

  /** The record of name: through the index, or for "." and ".." in the first block. */
  #find(name: string): DirRecord {
    const nb = encodePath(name);
    const place = name === "." || name === ".." ? { lblk: 0, off: -1 } : this.names().get(name);
    if (place === undefined) throw corrupt();
    for (const r of this.#blockRecords(place.lblk)) {
      if (place.off >= 0 && r.off !== place.off) continue;
      if (r.ino !== 0 && bytesEqual(this.recordName(r), nb)) return r;
      if (place.off >= 0) break;
    }
    throw corrupt();
  }

  /** Adds a record name -> ino (ENOSPC when no block can be added). Clears the htree flag. */
  addEntry(name: string, ino: number, mode: number): void {
    const fs = this.fs, bs = fs.blockSize;
    const nb = encodePath(name);
    if (nb.length > NAME_MAX) throw ENAMETOOLONG;
    const need = recLen(nb.length);
    const names = this.names();
    let placed: DirPlace | null = null;
    // Blocks before the hint were full at the last look (and nothing was removed from them since).
    for (const r of this.records(this.#spaceHint)) {
      this.#spaceHint = r.lblk;
      const used = r.ino === 0 ? 0 : recLen(r.nameLen);
      if (r.recLen - used < need) continue;
      const data = fs.meta(r.pblk);
      const v = dv(data);
      let at = r.off, rl = r.recLen;
      if (r.ino !== 0) {
        v.setUint16(r.off + 4, used, true);
        at = r.off + used;
        rl = r.recLen - used;
      }
      writeRecord(data, at, ino, rl, nb, this.#ft(mode));
      fs.dirty(r.pblk);
      placed = { ino, lblk: r.lblk, off: at };
      break;
    }
    if (placed === null) {
      const lblk = this.size / bs;
      const pblk = this.bmap(lblk, true);
      const data = fs.metaZero(pblk);
      writeRecord(data, 0, ino, bs, nb, this.#ft(mode));
      this.size += bs;
      placed = { ino, lblk, off: 0 };
      this.#spaceHint = lblk;
    }
    names.set(name, placed);
    this.#changed();
  }

  #ft(mode: number): number {
    if (!this.fs.filetypeFeature) return FT_UNKNOWN;
    switch (mode & S_IFMT) {
      case S_IFREG: return FT_REG;
      case S_IFDIR: return FT_DIR;
      case S_IFCHR: return FT_CHR;
      case S_IFBLK: return FT_BLK;
      case S_IFIFO: return FT_FIFO;
      case S_IFSOCK: return FT_SOCK;
      case S_IFLNK: return FT_SYMLINK;
      default: return FT_UNKNOWN;
    }
  }

  /** Removes the record of name (merged into the one before it in its block, as ext2_delete_entry). */
  removeEntry(name: string): void {
    const fs = this.fs;
    const r = this.#find(name);
    const data = fs.meta(r.pblk);
    const v = dv(data);
    if (r.prev >= 0) v.setUint16(r.prev + 4, v.getUint16(r.prev + 4, true) + r.recLen, true);
    else v.setUint32(r.off, 0, true);
    fs.dirty(r.pblk);
    this.#names?.delete(name);
    if (r.lblk < this.#spaceHint) this.#spaceHint = r.lblk;
    this.#changed();
  }

  /**
   * Points the record of name at another inode (rename over a name, a moved directory's "..",
   * which leaves the directory's times: ext2_rename's ext2_set_link(..., false)).
   */
  setEntry(name: string, ino: number, mode: number): void {
    const fs = this.fs;
    const r = this.#find(name);
    const data = fs.meta(r.pblk);
    dv(data).setUint32(r.off, ino, true);
    data[r.off + 7] = this.#ft(mode);
    fs.dirty(r.pblk);
    if (name === "..") {
      if (this.flags & INDEX_FL) (this.flags &= ~INDEX_FL, this.save());
      return;
    }
    this.#names?.set(name, { ino, lblk: r.lblk, off: r.off });
    this.#changed();
  }

  /** Whether the directory holds nothing but "." and "..". */
  isEmpty(): boolean {
    return this.names().size === 0;
  }

  #changed(): void {
    if (this.flags & INDEX_FL) this.flags &= ~INDEX_FL;
    this.mtimeNs = this.ctimeNs = nowNs();
    this.save();
  }

  /** Writes the first block of a new directory: "." and "..". */
  initDir(parent: number): void {
    const fs = this.fs, bs = fs.blockSize;
    const pblk = this.bmap(0, true);
    const data = fs.metaZero(pblk);
    writeRecord(data, 0, this.ino, 12, encodePath("."), this.#ft(S_IFDIR));
    writeRecord(data, 12, parent, bs - 12, encodePath(".."), this.#ft(S_IFDIR));
    this.size = bs;
    this.#names = new Map();
    this.save();
  }

  // ---- Symlinks -----------------------------------------------------------------------------

  readlink(): string {
    if (this.isFastSymlink) {
      const b = new Uint8Array(60);
      const v = dv(b);
      for (let k = 0; k < 15; k++) v.setUint32(4 * k, this.block[k]!, true);
      if (this.size > 60) throw corrupt();
      return decodePath(b.subarray(0, this.size));
    }
    if (this.size >= this.fs.blockSize) throw corrupt();
    const pb = this.bmap(0, false);
    if (pb === 0) throw corrupt();
    return decodePath(this.fs.readData(pb).subarray(0, this.size));
  }

  setTarget(target: Uint8Array): void {
    const fs = this.fs;
    if (target.length < 60) {
      const b = new Uint8Array(60);
      b.set(target);
      const v = dv(b);
      for (let k = 0; k < 15; k++) this.block[k] = v.getUint32(4 * k, true);
    } else {
      const pb = this.bmap(0, true);
      const data = new Uint8Array(fs.blockSize);
      data.set(target);
      fs.writeData(pb, data);
    }
    this.size = target.length;
    this.save();
  }

  // ---- Extended attributes ------------------------------------------------------------------

  /** The attributes of the xattr block, as (index, name) -> value. */
  readXattrs(): { index: number; name: string; value: Uint8Array }[] {
    if (this.fileAcl === 0) return [];
    const fs = this.fs, bs = fs.blockSize;
    const data = fs.meta(fs.checkBlock(this.fileAcl));
    const v = dv(data);
    if (v.getUint32(0, true) !== XATTR_MAGIC || v.getUint32(8, true) !== 1) throw corrupt();
    const out: { index: number; name: string; value: Uint8Array }[] = [];
    let off = XATTR_HEADER;
    while (off + 4 <= bs && v.getUint32(off, true) !== 0) {
      if (off + 16 > bs) throw corrupt();
      const nameLen = data[off]!, index = data[off + 1]!, voff = v.getUint16(off + 2, true), vsize = v.getUint32(off + 8, true);
      const esize = (16 + nameLen + 3) & ~3;
      if (off + esize > bs || voff + vsize > bs || v.getUint32(off + 4, true) !== 0) throw corrupt();
      out.push({ index, name: decodePath(data.subarray(off + 16, off + 16 + nameLen)), value: data.slice(voff, voff + vsize) });
      off += esize;
    }
    return out;
  }

  /** Replaces the xattr block's contents with attrs (an empty list releases the block). ENOSPC when they do not fit. */
  writeXattrs(attrs: { index: number; name: string; value: Uint8Array }[]): void {
    const fs = this.fs, bs = fs.blockSize;
    if (attrs.length === 0) {
      if (this.fileAcl !== 0) this.dropXattrBlock();
      this.save();
      return;
    }
    const sorted = attrs.map((a) => ({ ...a, nb: encodePath(a.name) })).sort((x, y) =>
      x.index - y.index || x.nb.length - y.nb.length || compareBytes(x.nb, y.nb)
    );
    const block = new Uint8Array(bs);
    const v = dv(block);
    v.setUint32(0, XATTR_MAGIC, true);
    v.setUint32(4, 1, true);
    v.setUint32(8, 1, true);
    let eoff = XATTR_HEADER, vend = bs;
    const hashes: number[] = [];
    for (const a of sorted) {
      const esize = (16 + a.nb.length + 3) & ~3;
      const vsize = (a.value.length + 3) & ~3;
      vend -= vsize;
      if (eoff + esize + 4 > vend) throw ENOSPC;
      block[eoff] = a.nb.length;
      block[eoff + 1] = a.index;
      v.setUint16(eoff + 2, a.value.length === 0 ? 0 : vend, true);
      v.setUint32(eoff + 8, a.value.length, true);
      block.set(a.nb, eoff + 16);
      block.set(a.value, vend);
      const h = xattrEntryHash(a.nb, block.subarray(vend, vend + vsize), a.value.length);
      v.setUint32(eoff + 12, h, true);
      hashes.push(h);
      eoff += esize;
    }
    let bh = 0;
    for (const h of hashes) {
      if (h === 0) {
        bh = 0;
        break;
      }
      bh = ((bh << 16) ^ (bh >>> 16) ^ h) >>> 0;
    }
    v.setUint32(12, bh, true);
    let target = this.fileAcl;
    if (target !== 0) {
      const old = dv(fs.meta(fs.checkBlock(target)));
      if (old.getUint32(4, true) > 1) {
        // Shared with other inodes (identical attributes): this one gets its own copy.
        const nb = fs.allocBlock(fs.goalFor(this.ino));
        old.setUint32(4, old.getUint32(4, true) - 1, true);
        fs.dirty(target);
        target = nb;
      }
    } else {
      target = fs.allocBlock(fs.goalFor(this.ino));
      this.sectors += bs / 512;
    }
    const dst = fs.metaZero(target);
    dst.set(block);
    this.fileAcl = target;
    this.ctimeNs = nowNs();
    this.save();
  }

  /** Lets go of the xattr block: one reference less, freed at the last. */
  dropXattrBlock(): void {
    const fs = this.fs;
    const b = fs.checkBlock(this.fileAcl);
    const data = fs.meta(b);
    const v = dv(data);
    const refs = v.getUint32(4, true);
    if (v.getUint32(0, true) === XATTR_MAGIC && refs > 1) {
      v.setUint32(4, refs - 1, true);
      fs.dirty(b);
    } else {
      fs.freeBlock(b);
    }
    this.sectors = Math.max(this.sectors - fs.blockSize / 512, 0);
    this.fileAcl = 0;
  }

  acls(): { access: Acl | null; default: Acl | null } {
    if (this.#acls !== undefined) return this.#acls;
    const out: { access: Acl | null; default: Acl | null } = { access: null, default: null };
    for (const a of this.readXattrs()) {
      if (a.index === ACL_INDEX_ACCESS) out.access = aclFromDisk(a.value);
      if (a.index === ACL_INDEX_DEFAULT) out.default = aclFromDisk(a.value);
    }
    this.#acls = out;
    return out;
  }

  forgetAcls(): void {
    this.#acls = undefined;
  }
}

function writeRecord(data: Uint8Array, off: number, ino: number, rl: number, name: Uint8Array, ft: number): void {
  const v = dv(data);
  v.setUint32(off, ino, true);
  v.setUint16(off + 4, rl, true);
  data[off + 6] = name.length;
  data[off + 7] = ft;
  data.set(name, off + 8);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let k = 0; k < Math.min(a.length, b.length); k++) if (a[k] !== b[k]) return a[k]! - b[k]!;
  return a.length - b.length;
}

/** ext2_xattr_hash_entry: the name's bytes (as signed chars), then the padded value's words. */
function xattrEntryHash(name: Uint8Array, paddedValue: Uint8Array, size: number): number {
  let h = 0;
  for (const c of name) h = ((h << 5) ^ (h >>> 27) ^ ((c << 24) >> 24)) >>> 0;
  if (size !== 0) {
    const v = dv(paddedValue);
    for (let k = 0; k + 4 <= paddedValue.length; k += 4) h = ((h << 16) ^ (h >>> 16) ^ v.getUint32(k, true)) >>> 0;
  }
  return h >>> 0;
}

/** ACLs on disk (ext2_acl_to_disk's form): version 1, short entries for the unnamed tags. */
function aclToDisk(acl: Acl): Uint8Array {
  const parts: number[] = [];
  let size = 4;
  for (const e of acl) size += e.tag === 0x02 || e.tag === 0x08 ? 8 : 4;
  const b = new Uint8Array(size);
  const v = dv(b);
  v.setUint32(0, EXT2_ACL_VERSION, true);
  let off = 4;
  for (const e of acl) {
    v.setUint16(off, e.tag, true);
    v.setUint16(off + 2, e.perm, true);
    if (e.tag === 0x02 || e.tag === 0x08) {
      v.setUint32(off + 4, e.id, true);
      off += 8;
    } else off += 4;
  }
  void parts;
  return b;
}

function aclFromDisk(b: Uint8Array): Acl | null {
  const v = dv(b);
  if (b.length < 4 || v.getUint32(0, true) !== EXT2_ACL_VERSION) throw corrupt();
  const entries: { tag: number; perm: number; id: number }[] = [];
  let off = 4;
  while (off < b.length) {
    if (off + 4 > b.length) throw corrupt();
    const tag = v.getUint16(off, true), perm = v.getUint16(off + 2, true);
    if (tag === 0x02 || tag === 0x08) {
      if (off + 8 > b.length) throw corrupt();
      entries.push({ tag, perm, id: v.getUint32(off + 4, true) });
      off += 8;
    } else {
      entries.push({ tag, perm, id: 0xffffffff });
      off += 4;
    }
  }
  const x = new Uint8Array(4 + entries.length * 8);
  const xv = dv(x);
  xv.setUint32(0, 2, true);
  entries.forEach((e, k) => {
    xv.setUint16(4 + k * 8, e.tag, true);
    xv.setUint16(6 + k * 8, e.perm, true);
    xv.setUint32(8 + k * 8, e.id, true);
  });
  try {
    return parseAclXattr(x);
  } catch {
    throw corrupt();
  }
}

/** The (index, name) an xattr name is stored under; EOPNOTSUPP for a namespace ext2 lacks. */
function xattrKey(name: string): { index: number; name: string } {
  for (const [prefix, index] of XATTR_PREFIXES) {
    if (name.startsWith(prefix)) return { index, name: name.slice(prefix.length) };
  }
  throw EOPNOTSUPP;
}

function xattrFullName(index: number, name: string): string | null {
  for (const [prefix, i] of XATTR_PREFIXES) if (i === index) return prefix + name;
  return null;
}

/** One name of an ext2 inode. */
export class Ext2Dentry extends Dentry {
  readonly #fs: Ext2Filesystem;
  /** Immutable. */
  readonly inode: Ext2Inode;

  constructor(fs: Ext2Filesystem, inode: Ext2Inode, parent: Ext2Dentry | null, name: string) {
    super(parent, name);
    this.#fs = fs;
    this.inode = inode;
    inode.dentries.add(this);
  }

  override lastUserGone(): void {
    this.inode.freeIfUnused();
  }

  get fs(): Ext2Filesystem {
    return this.#fs;
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

  #dir(): Ext2Inode {
    if (this.inode.type !== S_IFDIR) throw ENOTDIR;
    return this.inode;
  }

  /** This directory, to add a name to: ENOENT once removed (Linux's IS_DEADDIR). */
  #liveDir(): Ext2Inode {
    const dir = this.#dir();
    if (dir.nlink === 0) throw ENOENT;
    return dir;
  }

  lookup(name: string): Ext2Dentry | null {
    const dir = this.#dir();
    if (dir.nlink === 0) return null;
    const cached = dir.kids.get(name);
    if (cached !== undefined) return cached;
    const ino = dir.names().get(name)?.ino;
    if (ino === undefined) return null;
    const d = new Ext2Dentry(this.#fs, this.#fs.inode(ino), this, name);
    dir.kids.set(name, d);
    return d;
  }

  children(): DirEntry[] {
    const dir = this.#dir();
    const out: DirEntry[] = [];
    if (dir.nlink === 0) return out;
    for (const r of dir.records()) {
      if (r.ino === 0) continue;
      const name = decodePath(dir.recordName(r));
      if (name === "." || name === "..") continue;
      let type = ftToDt(r.fileType);
      if (type === 0) {
        try {
          type = dtFromMode(this.#fs.inode(r.ino).mode);
        } catch {
          type = 0;
        }
      }
      out.push({ name, ino: r.ino, type });
    }
    return out;
  }

  override readlink(): string {
    if (this.inode.type !== S_IFLNK) throw EINVAL;
    return this.inode.readlink();
  }

  override symlinkRead(mountFlags: number): void {
    this.inode.touchAtime(mountFlags);
  }

  override dirListed(mountFlags: number): void {
    if (!(mountFlags & MS_NODIRATIME)) this.inode.touchAtime(mountFlags);
  }

  override open(loc: Location, flags: number): FileDescription {
    const i = this.inode;
    switch (i.type) {
      case S_IFREG:
        return new Ext2RegularFile(loc, flags, i);
      case S_IFIFO:
        return openFifo(i.pipe!, loc, flags);
      case S_IFCHR:
      case S_IFBLK: {
        const dev = openMemoryDevice(loc, flags, decodeDev(i.block[0]!, i.block[1]!), i.type === S_IFBLK);
        if (dev !== null) return dev;
        throw ENXIO;
      }
      case S_IFSOCK:
        throw ENXIO;
      default:
        return super.open(loc, flags);
    }
  }

  #checkName(name: string): void {
    if (encodePath(name).length > NAME_MAX) throw ENAMETOOLONG;
  }

  /** Makes inode i the new child `name` (the inode is already written). */
  #link(name: string, i: Ext2Inode): Ext2Dentry {
    const dir = this.#liveDir();
    dir.addEntry(name, i.ino, i.mode);
    const d = new Ext2Dentry(this.#fs, i, this, name);
    dir.kids.set(name, d);
    return d;
  }

  /** Creates an inode and names it; the inode is freed again when the name does not fit. */
  #make(name: string, attrs: NewFile, mode: number, fill?: (i: Ext2Inode) => void): Ext2Dentry {
    this.#checkName(name);
    const dir = this.#liveDir();
    if (dir.names().has(name)) throw EEXIST;
    return this.#fs.op(() => {
      const i = this.#fs.newInode(dir, attrs, mode);
      try {
        fill?.(i);
        const d = this.#link(name, i);
        if ((mode & S_IFMT) === S_IFDIR) {
          dir.nlink++;
          dir.save();
        }
        return d;
      } catch (e) {
        i.nlink = 0;
        this.#fs.freeInode(i);
        throw e;
      }
    });
  }

  override create(name: string, attrs: NewFile): Ext2Dentry {
    return this.#make(name, attrs, S_IFREG | (attrs.mode & 0o7777));
  }

  override mkdir(name: string, attrs: NewFile): Ext2Dentry {
    if (this.#dir().nlink >= EXT2_LINK_MAX) throw EMLINK;
    return this.#make(name, attrs, S_IFDIR | (attrs.mode & 0o7777), (i) => i.initDir(this.inode.ino));
  }

  override mknod(name: string, attrs: NewFile): Ext2Dentry {
    const type = attrs.mode & S_IFMT;
    if (type === S_IFDIR || type === S_IFLNK) throw EINVAL;
    return this.#make(name, attrs, (type || S_IFREG) | (attrs.mode & 0o7777));
  }

  override symlink(name: string, target: string, attrs: NewFile): Ext2Dentry {
    const t = encodePath(target);
    // ext2_symlink: the target with its NUL must fit a block.
    if (t.length + 1 > this.#fs.blockSize) throw ENAMETOOLONG;
    return this.#make(name, attrs, S_IFLNK | 0o777, (i) => i.setTarget(t));
  }

  override link(name: string, target: Dentry): Ext2Dentry {
    if (!(target instanceof Ext2Dentry) || target.fs !== this.#fs) throw EXDEV;
    this.#checkName(name);
    const i = target.inode;
    if (i.type === S_IFDIR) throw EPERM;
    if (i.nlink === 0) throw ENOENT;
    if (i.nlink >= EXT2_LINK_MAX) throw EMLINK;
    if (this.#dir().names().has(name)) throw EEXIST;
    return this.#fs.op(() => {
      const d = this.#link(name, i);
      i.nlink++;
      i.ctimeNs = nowNs();
      i.save();
      return d;
    });
  }

  /** One link of i less; the inode goes with the last link unless a description holds it open. */
  #dropLink(i: Ext2Inode): void {
    i.nlink = Math.max(i.nlink - 1, 0);
    i.ctimeNs = nowNs();
    if (i.type === S_IFDIR) i.nlink = 0;
    if (i.nlink === 0) {
      if (i.openFiles > 0 || i.pinned()) {
        this.#fs.orphans.add(i);
        i.save();
      } else {
        this.#fs.freeInode(i);
      }
    } else {
      i.save();
    }
  }

  override unlink(name: string, child: Dentry): void {
    const dir = this.#dir();
    const c = child as Ext2Dentry;
    if (c.inode.type === S_IFDIR) throw EISDIR;
    this.#fs.op(() => {
      dir.removeEntry(name);
      dir.kids.delete(name);
      this.#dropLink(c.inode);
    });
  }

  override rmdir(name: string, child: Dentry): void {
    const dir = this.#dir();
    const c = child as Ext2Dentry;
    if (c.inode.type !== S_IFDIR) throw ENOTDIR;
    if (!c.inode.isEmpty()) throw ENOTEMPTY;
    this.#fs.op(() => {
      dir.removeEntry(name);
      dir.kids.delete(name);
      dir.nlink = Math.max(dir.nlink - 1, 2);
      dir.save();
      this.#dropLink(c.inode);
    });
  }

  override rename(name: string, child: Dentry, newParent: Dentry, newName: string, replaced: Dentry | null, flags: number): void {
    if (!(newParent instanceof Ext2Dentry) || newParent.fs !== this.#fs) throw EXDEV;
    this.#checkName(newName);
    const oldDir = this.#dir(), newDir = newParent.#liveDir();
    const src = child as Ext2Dentry, dst = replaced as Ext2Dentry | null;
    const srcIsDir = src.inode.type === S_IFDIR;
    const moved = oldDir !== newDir;
    if (flags & RENAME_EXCHANGE) {
      if (dst === null) throw EINVAL;
      const dstIsDir = dst.inode.type === S_IFDIR;
      this.#fs.op(() => {
        oldDir.setEntry(name, dst.inode.ino, dst.inode.mode);
        newDir.setEntry(newName, src.inode.ino, src.inode.mode);
        if (moved) {
          if (srcIsDir) src.inode.setEntry("..", newDir.ino, S_IFDIR);
          if (dstIsDir) dst.inode.setEntry("..", oldDir.ino, S_IFDIR);
          if (srcIsDir !== dstIsDir) {
            if (srcIsDir) (oldDir.nlink--, newDir.nlink++);
            else (oldDir.nlink++, newDir.nlink--);
          }
        }
        const now = nowNs();
        src.inode.ctimeNs = dst.inode.ctimeNs = now;
        src.inode.save();
        dst.inode.save();
        oldDir.save();
        newDir.save();
      });
      oldDir.kids.set(name, dst);
      newDir.kids.set(newName, src);
      dst.parent = this;
      dst.name = name;
      src.parent = newParent;
      src.name = newName;
      return;
    }
    if (dst !== null && dst.inode.type === S_IFDIR && !dst.inode.isEmpty()) throw ENOTEMPTY;
    if (srcIsDir && moved && dst === null && newDir.nlink >= EXT2_LINK_MAX) throw EMLINK;
    this.#fs.op(() => {
      if (dst !== null) {
        newDir.setEntry(newName, src.inode.ino, src.inode.mode);
        if (dst.inode.type === S_IFDIR) {
          newDir.nlink--;
          newDir.save();
        }
        this.#dropLink(dst.inode);
        newDir.kids.delete(newName);
      } else {
        newDir.addEntry(newName, src.inode.ino, src.inode.mode);
      }
      oldDir.removeEntry(name);
      oldDir.kids.delete(name);
      if (srcIsDir && moved) {
        src.inode.setEntry("..", newDir.ino, S_IFDIR);
        oldDir.nlink--;
        newDir.nlink++;
        oldDir.save();
        newDir.save();
      }
      src.inode.ctimeNs = nowNs();
      src.inode.save();
    });
    newDir.kids.set(newName, src);
    src.parent = newParent;
    src.name = newName;
  }

  override setattr(a: SetAttr): void {
    const i = this.inode;
    if (a.size !== undefined) {
      if (i.type === S_IFDIR) throw EISDIR;
      if (i.type !== S_IFREG) throw EINVAL;
      if (a.size > this.#fs.maxFileSize) throw EFBIG;
    }
    this.#fs.op(() => {
      if (a.size !== undefined) {
        if (a.size !== i.size) i.setSize(a.size);
        i.mtimeNs = nowNs();
      }
      if (a.mode !== undefined) {
        i.mode = (i.mode & S_IFMT) | (a.mode & 0o7777);
      }
      if (a.uid !== undefined) i.uid = a.uid >>> 0;
      if (a.gid !== undefined) i.gid = a.gid >>> 0;
      if (a.atimeNs !== undefined) i.atimeNs = this.#fs.truncateTime(a.atimeNs);
      if (a.mtimeNs !== undefined) i.mtimeNs = this.#fs.truncateTime(a.mtimeNs);
      i.ctimeNs = nowNs();
      i.save();
    });
  }

  override getxattr(name: string): Uint8Array {
    const k = xattrKey(name);
    const hit = this.inode.readXattrs().find((a) => a.index === k.index && a.name === k.name);
    if (hit === undefined) throw ENODATA;
    return hit.value;
  }

  override setxattr(name: string, value: Uint8Array, flags: number): void {
    const k = xattrKey(name);
    if (encodePath(k.name).length > 255 || value.length > this.#fs.blockSize) throw ERANGE;
    const attrs = this.inode.readXattrs();
    const at = attrs.findIndex((a) => a.index === k.index && a.name === k.name);
    if ((flags & XATTR_CREATE) && at >= 0) throw EEXIST;
    if ((flags & XATTR_REPLACE) && at < 0) throw ENODATA;
    const entry = { index: k.index, name: k.name, value: value.slice() };
    if (at >= 0) attrs[at] = entry;
    else attrs.push(entry);
    this.#fs.op(() => this.inode.writeXattrs(attrs));
  }

  override listxattr(): string[] {
    const out: string[] = [];
    for (const a of this.inode.readXattrs()) {
      const n = xattrFullName(a.index, a.name);
      if (n !== null) out.push(n);
    }
    return out;
  }

  override removexattr(name: string): void {
    const k = xattrKey(name);
    const attrs = this.inode.readXattrs();
    const at = attrs.findIndex((a) => a.index === k.index && a.name === k.name);
    if (at < 0) throw ENODATA;
    attrs.splice(at, 1);
    this.#fs.op(() => {
      this.inode.writeXattrs(attrs);
      this.inode.ctimeNs = nowNs();
      this.inode.save();
    });
  }

  override get fileCaps(): boolean {
    if (this.inode.fileAcl === 0) return false;
    try {
      return this.listxattr().includes(XATTR_SECURITY_CAPABILITY);
    } catch {
      return false;
    }
  }

  override get acl(): Acl | null {
    if (this.inode.fileAcl === 0) return null;
    try {
      return this.inode.acls().access;
    } catch {
      return null;
    }
  }

  override get defaultAcl(): Acl | null {
    if (this.inode.fileAcl === 0) return null;
    try {
      return this.inode.acls().default;
    } catch {
      return null;
    }
  }

  override get supportsAcl(): boolean {
    return this.inode.type !== S_IFLNK;
  }

  override setAcl(type: AclType, acl: Acl | null): void {
    const index = type === "access" ? ACL_INDEX_ACCESS : ACL_INDEX_DEFAULT;
    const attrs = this.inode.readXattrs().filter((a) => a.index !== index);
    if (acl !== null) attrs.push({ index, name: "", value: aclToDisk(acl) });
    this.inode.forgetAcls();
    this.#fs.op(() => {
      this.inode.writeXattrs(attrs);
      this.inode.ctimeNs = nowNs();
      this.inode.save();
    });
    void aclToXattr;
  }

  /** ext2_fileattr_get: the user-visible flags (FS_FL_USER_VISIBLE). */
  override get inodeFlags(): number | null {
    const t = this.inode.type;
    return t === S_IFREG || t === S_IFDIR ? this.inode.flags & FL_USER_VISIBLE : null;
  }

  /** ext2_fileattr_set masks what it does not let users change, and refuses nothing. */
  override get settableInodeFlags(): number {
    return 0xffffffff;
  }

  override setInodeFlags(flags: number): void {
    const i = this.inode;
    this.#fs.op(() => {
      i.flags = ((i.flags & ~FL_USER_MODIFIABLE) | (flags & FL_USER_MODIFIABLE)) >>> 0;
      i.ctimeNs = nowNs();
      i.save();
    });
  }

  override boundSocket(): unknown {
    return this.inode.socket;
  }
}

function ftToDt(ft: number): number {
  switch (ft) {
    case FT_REG: return 8;
    case FT_DIR: return 4;
    case FT_CHR: return 2;
    case FT_BLK: return 6;
    case FT_FIFO: return 1;
    case FT_SOCK: return 12;
    case FT_SYMLINK: return 10;
    default: return 0;
  }
}

/** An open regular file of an ext2 filesystem. */
export class Ext2RegularFile extends LocatedFile {
  /** Immutable. */
  readonly inode: Ext2Inode;

  constructor(loc: Location, flags: number, inode: Ext2Inode) {
    super(loc, flags);
    this.inode = inode;
    inode.openFiles++;
  }

  override read(dst: Uint8Array, offset: number | null): number {
    const off = offset ?? this.offset;
    if (off < 0) throw EINVAL;
    // O_NONBLOCK here is preadv2's RWF_NOWAIT (Linux ignores it on regular files otherwise;
    // only data dropped by drop_caches and not read since is EAGAIN: vfs/page_cache.ts).
    if (this.flags & O_NONBLOCK) this.inode.checkCachedForNowait(off, dst.length);
    const n = this.inode.read(dst, off);
    if (offset === null) this.offset += n;
    // atime_needs_update: not through a description opened O_NOATIME, nor on a read-only mount.
    if (!(this.flags & O_NOATIME)) this.inode.touchAtime(this.loc.mount.flags | (this.loc.mount.readonly ? MS_NOATIME : 0));
    return n;
  }

  override write(src: Uint8Array, offset: number | null): number {
    let off = offset ?? this.offset;
    if (this.flags & O_APPEND) off = this.inode.size;
    if (off < 0) throw EINVAL;
    const n = this.inode.fs.op(() => this.inode.write(src, off));
    if (offset === null) this.offset = off + n;
    return n;
  }

  override seek(offset: number, whence: number): number {
    this.offset = seekRegular(this.offset, offset, whence, () => this.inode.size, (o, w, n) => this.inode.seekHoleData(o, w, n));
    return this.offset;
  }

  override ioctl(cmd: number, arg: number, io: MemoryIO): number {
    if (cmd === FS_IOC_FIEMAP) return this.#fiemap(arg, io);
    if (cmd !== FIONREAD) return super.ioctl(cmd, arg, io);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, Math.min(Math.max(this.inode.size - this.offset, 0), 0x7fffffff), true);
    io.copyOut(arg, b);
    return 0;
  }

  /**
   * FS_IOC_FIEMAP as Linux's iomap_fiemap over ext2's block map: the allocated runs of the
   * range (logically and physically contiguous blocks merged), the last one flagged
   * FIEMAP_EXTENT_LAST; flags other than FIEMAP_FLAG_SYNC are EBADR, written back in fm_flags.
   */
  #fiemap(arg: number, io: MemoryIO): number {
    const hdr = io.copyIn(arg, FIEMAP_HEADER);
    const v = new DataView(hdr.buffer, hdr.byteOffset, FIEMAP_HEADER);
    const start = Number(v.getBigUint64(0, true)), reqLen = v.getBigUint64(8, true);
    const flags = v.getUint32(16, true), max = v.getUint32(24, true);
    const incompat = flags & ~FIEMAP_FLAG_SYNC;
    if (incompat) {
      v.setUint32(16, incompat, true);
      io.copyOut(arg, hdr);
      throw EBADR;
    }
    if (reqLen === 0n) throw EINVAL;
    const i = this.inode, fs = i.fs, bs = fs.blockSize;
    if (flags & FIEMAP_FLAG_SYNC) this.sync();
    const end = Math.min(Number(reqLen > BigInt(fs.maxFileSize) ? BigInt(fs.maxFileSize) : reqLen) + start, fs.maxFileSize, i.size);
    const extents: [number, number, number][] = [];
    const endBlock = Math.ceil(end / bs);
    for (let lb = i.nextMapped(Math.floor(start / bs), endBlock), n = 0; lb < endBlock; lb = i.nextMapped(lb + 1, endBlock)) {
      if (++n > fs.blocksCount) throw EUCLEAN;
      const pb = i.bmap(lb, false);
      if (pb === 0) continue;
      const last = extents[extents.length - 1];
      if (last !== undefined && last[0] + last[2] === lb && last[1] + last[2] === pb) last[2]++;
      else extents.push([lb, pb, 1]);
    }
    const shown = max === 0 ? [] : extents.slice(0, max);
    v.setUint32(20, max === 0 ? extents.length : shown.length, true);
    io.copyOut(arg, hdr);
    if (shown.length > 0) {
      const out = new Uint8Array(shown.length * FIEMAP_EXTENT);
      const ov = new DataView(out.buffer);
      shown.forEach(([lb, pb, n], k) => {
        ov.setBigUint64(k * FIEMAP_EXTENT, BigInt(lb * bs), true);
        ov.setBigUint64(k * FIEMAP_EXTENT + 8, BigInt(pb * bs), true);
        ov.setBigUint64(k * FIEMAP_EXTENT + 16, BigInt(n * bs), true);
        if (k === extents.length - 1) ov.setUint32(k * FIEMAP_EXTENT + 40, FIEMAP_EXTENT_LAST, true);
      });
      io.copyOut(arg + FIEMAP_HEADER, out);
    }
    return 0;
  }

  /** ext2 has no fallocate (Linux's ext2_file_operations): every mode is EOPNOTSUPP. */
  override allocate(_mode: number, _off: number, _len: number): void {
    throw EOPNOTSUPP;
  }

  override sync(): void {
    this.inode.writeBack();
    this.inode.fs.syncFs();
  }

  override hostFdForMmap(): number {
    return this.inode.mapFd();
  }

  protected override release(): void {
    const i = this.inode;
    i.openFiles--;
    if (i.openFiles > 0) return;
    try {
      if (i.nlink > 0) i.unmap();
    } catch {
      // A device error at the last close loses what the mapping wrote, as Linux's writeback.
    }
    i.freeIfUnused();
  }
}
