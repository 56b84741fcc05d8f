/**
 * The loop block devices and /dev/loop-control, as Linux's drivers/block/loop.c and the
 * generic block device ioctls of block/ioctl.c: a loop device bound to a sandbox file (tmpfs,
 * the overlay, another loop device) reads and writes that file's description, so the host
 * sees nothing of it. Loaded at the first open of a loop device or of loop-control (the open
 * syscall resolves vfs/devices.ts's placeholder here).
 *
 * States as Linux's: unbound, bound (LOOP_SET_FD, LOOP_CONFIGURE), rundown (LOOP_CLR_FD by the
 * last opener: opens are ENXIO until the last close clears it). A LOOP_CLR_FD while others hold
 * the device (a mount among them) only sets autoclear: the last close or unmount clears it.
 * Claims as bd_prepare_to_claim: an O_EXCL open or a mount holds the device, and another
 * holder's O_EXCL open or mount is EBUSY.
 *
 * The device's size is fixed at bind time (and LOOP_SET_CAPACITY, LOOP_SET_STATUS changing the
 * offset or size limit), from the backing file's size then, as Linux's.
 *
 * @module
 */

import {
  EACCES, EBADF, EBUSY, EEXIST, EINVAL, EIO, ENODEV, ENOSPC, ENOSYS, ENOTTY, ENXIO, EOPNOTSUPP, EOVERFLOW, EPERM,
  EROFS, LinuxError,
} from "./errno.ts";
import {
  FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, O_ACCMODE, O_EXCL, O_PATH, O_RDONLY, S_IFBLK, S_IFMT, S_IFREG,
  SEEK_CUR, SEEK_END, SEEK_SET,
} from "../abi/linux/file.ts";
import { CAP_SYS_ADMIN } from "../abi/linux/capability.ts";
import type { Task } from "./task.ts";
import type { FileDescription, Stat } from "../vfs/file_description.ts";
import { LoopDeviceFileBase, type LoopNodeFile, majorMinor } from "../vfs/devices.ts";
import type { Location } from "../vfs/mount.ts";
import type { BlockDevice } from "../vfs/block/device.ts";
import { type BlockDeviceTable, type IoCounters, LOOP_MAJOR, type LoopView, newIoCounters } from "../vfs/block/table.ts";
import { makedev } from "../vfs/devfs/devfs.ts";
import type { Kernel } from "./kernel.ts";
import { releaseUnmounted } from "./block_mount.ts";

// ---- ABI (linux/loop.h, linux/fs.h) -----------------------------------------------------------

export const LOOP_SET_FD = 0x4c00, LOOP_CLR_FD = 0x4c01, LOOP_SET_STATUS = 0x4c02, LOOP_GET_STATUS = 0x4c03,
  LOOP_SET_STATUS64 = 0x4c04, LOOP_GET_STATUS64 = 0x4c05, LOOP_CHANGE_FD = 0x4c06, LOOP_SET_CAPACITY = 0x4c07,
  LOOP_SET_DIRECT_IO = 0x4c08, LOOP_SET_BLOCK_SIZE = 0x4c09, LOOP_CONFIGURE = 0x4c0a;
export const LOOP_CTL_ADD = 0x4c80, LOOP_CTL_REMOVE = 0x4c81, LOOP_CTL_GET_FREE = 0x4c82;
export const LO_FLAGS_READ_ONLY = 1, LO_FLAGS_AUTOCLEAR = 4, LO_FLAGS_PARTSCAN = 8, LO_FLAGS_DIRECT_IO = 16;
const LOOP_CONFIGURE_SETTABLE_FLAGS = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR | LO_FLAGS_PARTSCAN | LO_FLAGS_DIRECT_IO;
const LOOP_SET_STATUS_SETTABLE_FLAGS = LO_FLAGS_AUTOCLEAR | LO_FLAGS_PARTSCAN;
const LOOP_SET_STATUS_CLEARABLE_FLAGS = LO_FLAGS_AUTOCLEAR;
const LO_NAME_SIZE = 64, LO_KEY_SIZE = 32;
const LO_CRYPT_NONE = 0, LO_CRYPT_CRYPTOAPI = 18;
/** struct loop_info64 and struct loop_config (fd, block_size, info, 8 reserved u64). */
const INFO64_SIZE = 232, CONFIG_SIZE = 304;
/** struct loop_info (x86-64: __kernel_old_dev_t and unsigned long are 8 bytes). */
const INFO_SIZE = 168;

const BLKROSET = 0x125d, BLKROGET = 0x125e, BLKRRPART = 0x125f, BLKGETSIZE = 0x1260, BLKFLSBUF = 0x1261,
  BLKRASET = 0x1262, BLKRAGET = 0x1263, BLKFRASET = 0x1264, BLKFRAGET = 0x1265, BLKSECTGET = 0x1267,
  BLKSSZGET = 0x1268, BLKBSZGET = 0x80081270, BLKBSZSET = 0x40081271, BLKGETSIZE64 = 0x80081272,
  BLKDISCARD = 0x1277, BLKIOMIN = 0x1278, BLKIOOPT = 0x1279, BLKALIGNOFF = 0x127a, BLKPBSZGET = 0x127b,
  BLKDISCARDZEROES = 0x127c, BLKSECDISCARD = 0x127d, BLKROTATIONAL = 0x127e, BLKZEROOUT = 0x127f,
  BLKGETDISKSEQ = 0x80081280, BLKGETZONESZ = 0x80041284, BLKGETNRZONES = 0x80041285, HDIO_GETGEO = 0x0301;
const PAGE_SIZE = 4096;
/** A loop device's read-ahead in sectors (BLKRAGET's unit), as Linux 6.18 sets it. */
const READ_AHEAD_SECTORS = 5120;
/** The largest logical block size (BLK_MAX_BLOCK_SIZE). */
const MAX_BLOCK_SIZE = 65536;

type LoopState = "unbound" | "bound" | "rundown";

/** What holds a device exclusively: an O_EXCL description or a mounted filesystem. */
export type LoopHolder = object;

/** @savable (refused while bound: kernel/checkpoint/save.ts) One loop device. */
export class LoopDevice implements BlockDevice, LoopView {
  readonly minor: number;
  state: LoopState = "unbound";
  /** The backing file's description, held (a reference) while bound. */
  backing: FileDescription | null = null;
  /** Where the backing file is, as the sandbox saw it at bind time (loop/backing_file). */
  backingPath = "";
  offset = 0;
  sizeLimit = 0;
  /** LO_FLAGS_*. */
  loFlags = 0;
  /** lo_file_name and lo_crypt_name as the last status set them (NUL-padded, 64 bytes). */
  fileName = new Uint8Array(LO_NAME_SIZE);
  cryptName = new Uint8Array(LO_NAME_SIZE);
  logicalBlockSize = 512;
  /** The size in bytes, a multiple of 512, as figured at bind time or since. */
  size = 0;
  /** BLKROSET's read-only mark (bd_read_only), kept across binds as Linux's. */
  roSet = false;
  /**
   * The disk's read-only mark, set at each bind from LO_FLAGS_READ_ONLY and, as Linux's, not
   * reset when the device is cleared: an unbound device last bound read-only stays so.
   */
  diskRo = false;
  /** Open descriptions and mounts (disk_openers). */
  openers = 0;
  /** The exclusive holder (an O_EXCL description, a mounted filesystem) and how many claims it has. */
  holder: LoopHolder | null = null;
  holds = 0;
  /** The read-ahead in pages (BLKRASET, BLKRAGET; read_ahead_kb). */
  raPages = READ_AHEAD_SECTORS * 512 / PAGE_SIZE;
  /** I/O counters (/sys/block/loopN/stat; LTP measures what a sync wrote by them). */
  readonly io: IoCounters = newIoCounters();
  /** Bumped at each bind: BLKGETDISKSEQ. */
  diskseq = 0;

  constructor(minor: number) {
    this.minor = minor;
  }

  get name(): string {
    return `loop${this.minor}`;
  }

  get dev(): number {
    return makedev(LOOP_MAJOR, this.minor);
  }

  get bound(): boolean {
    return this.state === "bound";
  }

  get readOnly(): boolean {
    return this.roSet || this.diskRo;
  }

  get autoclear(): boolean {
    return (this.loFlags & LO_FLAGS_AUTOCLEAR) !== 0;
  }

  get partscan(): boolean {
    return (this.loFlags & LO_FLAGS_PARTSCAN) !== 0;
  }

  get directIo(): boolean {
    return (this.loFlags & LO_FLAGS_DIRECT_IO) !== 0;
  }

  /** Takes the device for holder (bd_prepare_to_claim): EBUSY if another holds it. */
  claim(holder: LoopHolder): void {
    if (this.holder !== null && this.holder !== holder) throw EBUSY;
    this.holder = holder;
    this.holds++;
  }

  unclaim(holder: LoopHolder): void {
    if (this.holder !== holder) return;
    if (--this.holds === 0) this.holder = null;
  }

  /** lo_calculate_size: the backing file's size past the offset, capped by the size limit, in whole sectors. */
  figureSize(): void {
    const b = this.backing;
    if (b === null) {
      this.size = 0;
      return;
    }
    let size = Math.max(0, backingSize(b) - this.offset);
    if (this.sizeLimit > 0 && this.sizeLimit < size) size = this.sizeLimit;
    this.size = size - (size % 512);
  }

  read(offset: number, length: number): Uint8Array {
    const end = Math.min(this.size, offset + length);
    if (this.backing === null || end <= offset) return new Uint8Array(0);
    const out = new Uint8Array(end - offset);
    this.io.reads++;
    this.io.readSectors += Math.ceil(out.length / 512);
    this.io.ticks++;
    let done = 0;
    try {
      while (done < out.length) {
        const n = this.backing.read(out.subarray(done), this.offset + offset + done);
        if (n <= 0) break; // past the backing file's end: zeros, as lo_read_simple's zero fill
        done += n;
      }
    } catch (e) {
      if (e instanceof LinuxError) throw EIO;
      throw e;
    }
    return out;
  }

  write(offset: number, data: Uint8Array): void {
    if (this.readOnly) throw EROFS;
    if (offset + data.length > this.size) throw ENOSPC;
    const b = this.backing;
    if (b === null) throw ENOSPC;
    this.io.writes++;
    this.io.writeSectors += Math.ceil(data.length / 512);
    this.io.ticks++;
    let done = 0;
    try {
      while (done < data.length) {
        const n = b.write(data.subarray(done), this.offset + offset + done);
        if (n <= 0) throw EIO;
        done += n;
      }
    } catch (e) {
      if (e instanceof LinuxError) throw EIO;
      throw e;
    }
  }

  flush(): void {
    this.io.flushes++;
    try {
      this.backing?.sync();
    } catch (e) {
      if (e instanceof LinuxError) throw EIO;
      throw e;
    }
  }

  /** __loop_clr_fd: back to unbound, the backing file let go. */
  clear(): void {
    const b = this.backing;
    this.backing = null;
    this.backingPath = "";
    this.state = "unbound";
    this.offset = 0;
    this.sizeLimit = 0;
    this.loFlags = 0;
    this.fileName = new Uint8Array(LO_NAME_SIZE);
    this.cryptName = new Uint8Array(LO_NAME_SIZE);
    this.logicalBlockSize = 512;
    this.size = 0;
    b?.decRef();
  }

  /** One opener fewer (lo_release): the last clears a device marked for it. */
  release(): void {
    if (--this.openers > 0) return;
    if (this.state === "bound" && this.autoclear) this.state = "rundown";
    if (this.state === "rundown") this.clear();
  }
}

/** The size of a backing file: a regular file's length, a block device's size. */
function backingSize(f: FileDescription): number {
  if (f instanceof LoopFile) return f.device.size;
  return Number(f.stat().size);
}

/** The device of minor, made now if it exists but was never used (loop_probe for an open). */
export function loopDevice(table: BlockDeviceTable, minor: number): LoopDevice {
  const d = table.loops.get(minor);
  if (d instanceof LoopDevice) return d;
  const made = new LoopDevice(minor);
  table.loopMinors.add(minor);
  table.loops.set(minor, made);
  return made;
}

// ---- Descriptions -----------------------------------------------------------------------------

/** @savable (refused) An open loop device. */
export class LoopFile extends LoopDeviceFileBase {
  readonly device: LoopDevice;
  /** Holds the device exclusively (opened with O_EXCL). */
  readonly exclusive: boolean;

  constructor(loc: Location, flags: number, device: LoopDevice, exclusive: boolean) {
    super(loc, flags);
    this.device = device;
    this.exclusive = exclusive;
  }

  override read(dst: Uint8Array, offset: number | null): number {
    const pos = offset ?? this.offset;
    if (pos < 0) throw EINVAL;
    const data = this.device.read(pos, dst.length);
    dst.set(data);
    if (offset === null) this.offset += data.length;
    return data.length;
  }

  /** blkdev_write_iter: EPERM on a read-only device, ENOSPC at or past the end, cut at it. */
  override write(src: Uint8Array, offset: number | null): number {
    const d = this.device;
    if (d.readOnly) throw EPERM;
    const pos = offset ?? this.offset;
    if (pos < 0) throw EINVAL;
    if (src.length === 0) return 0;
    if (pos >= d.size) throw ENOSPC;
    const n = Math.min(src.length, d.size - pos);
    d.write(pos, src.subarray(0, n));
    if (offset === null) this.offset += n;
    return n;
  }

  /** The buffer is never touched past the end: 0 without one, as read_null. */
  override readWithoutData(): number | null {
    return this.device.size === 0 ? 0 : null;
  }

  override writeWithoutData(len: number): number | null {
    if (len > 0 && this.device.size === 0) throw ENOSPC;
    return null;
  }

  /** blkdev_llseek: fixed_size_llseek over the device's size (SEEK_DATA and SEEK_HOLE: EINVAL). */
  override seek(offset: number, whence: number): number {
    const size = this.device.size;
    let pos: number;
    switch (whence) {
      case SEEK_SET:
        pos = offset;
        break;
      case SEEK_CUR:
        pos = this.offset + offset;
        break;
      case SEEK_END:
        pos = size + offset;
        break;
      default:
        throw EINVAL;
    }
    if (pos < 0 || pos > size) throw EINVAL;
    this.offset = pos;
    return pos;
  }

  override sync(): void {
    this.device.flush();
  }

  override stat(): Stat {
    return this.loc.dentry.stat();
  }

  /** Opened for writing (BLK_OPEN_WRITE). */
  get forWrite(): boolean {
    return (this.flags & O_ACCMODE) !== O_RDONLY;
  }

  protected override release(): void {
    if (this.exclusive) this.device.unclaim(this);
    this.device.release();
  }
}

/** @savable (refused) An open /dev/loop-control. */
export class LoopControlFile extends LoopDeviceFileBase {
  readonly table: BlockDeviceTable;

  constructor(loc: Location, flags: number, table: BlockDeviceTable) {
    super(loc, flags);
    this.table = table;
  }
}

/**
 * The description an open of a loop node becomes (the open syscall's resolution of
 * vfs/devices.ts's placeholder): loop-control's, or the device's (made if it does not exist yet,
 * as loop_probe; ENXIO while it is being cleared; EBUSY for O_EXCL while another holds it).
 */
export function openLoopNode(k: Kernel, node: LoopNodeFile, openFlags: number): FileDescription {
  const table = k.vfs.blockDevices;
  const loc = node.nodeLocation;
  if (node.control) return new LoopControlFile(loc, node.flags, table);
  const [, minor] = majorMinor(node.rdev);
  const d = loopDevice(table, minor);
  if (d.state === "rundown") throw ENXIO;
  if ((openFlags & O_EXCL) !== 0 && d.holder !== null) releaseUnmounted(k);
  const f = new LoopFile(loc, node.flags, d, (openFlags & O_EXCL) !== 0);
  if (f.exclusive) d.claim(f);
  d.openers++;
  return f;
}

// ---- ioctl --------------------------------------------------------------------------------------

/** ioctl(2) on a loop device or loop-control. */
export function loopIoctl(t: Task, file: LoopDeviceFileBase, cmd: number, arg: number): number {
  if (file instanceof LoopControlFile) return controlIoctl(file.table, cmd, arg);
  if (!(file instanceof LoopFile)) throw ENOTTY;
  const r = blockIoctl(t, file, cmd, arg);
  return r ?? deviceIoctl(t, file, cmd, arg);
}

/** loop_control_ioctl: the argument is an int (the low 32 bits). */
function controlIoctl(table: BlockDeviceTable, cmd: number, arg: number): number {
  const idx = arg | 0;
  switch (cmd) {
    case LOOP_CTL_ADD:
      return loopAdd(table, idx);
    case LOOP_CTL_REMOVE: {
      if (idx < 0) throw EINVAL;
      if (!table.loopMinors.has(idx)) throw ENODEV;
      const d = table.loops.get(idx);
      if (d instanceof LoopDevice && (d.state !== "unbound" || d.openers > 0)) throw EBUSY;
      table.loopMinors.delete(idx);
      table.loops.delete(idx);
      return 0;
    }
    case LOOP_CTL_GET_FREE: {
      for (const m of table.sortedLoopMinors()) {
        const d = table.loops.get(m);
        if (!(d instanceof LoopDevice) || d.state === "unbound") return m;
      }
      return loopAdd(table, -1);
    }
    default:
      throw ENOSYS;
  }
}

/** loop_add: the given index (EEXIST when taken) or the lowest free one. */
function loopAdd(table: BlockDeviceTable, idx: number): number {
  // Minor numbers are 20 bits (MINORMASK).
  if (idx > 0xfffff) throw EINVAL;
  if (idx >= 0) {
    if (table.loopMinors.has(idx)) throw EEXIST;
  } else {
    idx = 0;
    while (table.loopMinors.has(idx)) idx++;
  }
  loopDevice(table, idx);
  return idx;
}

function putInt(t: Task, arg: number, v: number): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  t.copyOut(arg, b);
}

function putU64(t: Task, arg: number, v: number): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  t.copyOut(arg, b);
}

function putU16(t: Task, arg: number, v: number): void {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, v, true);
  t.copyOut(arg, b);
}

/** The bdev's soft block size (set_init_blocksize): the largest power of two up to a page dividing the size. */
function softBlockSize(d: LoopDevice): number {
  let bs = d.logicalBlockSize;
  while (bs < PAGE_SIZE && d.size % (bs * 2) === 0) bs *= 2;
  return bs;
}

/**
 * The generic block device ioctls (blkdev_common_ioctl, then blkdev_ioctl's own), or null for
 * the driver's (lo_ioctl).
 */
function blockIoctl(t: Task, f: LoopFile, cmd: number, arg: number): number | null {
  const d = f.device;
  const admin = t.creds.hasCap(CAP_SYS_ADMIN);
  switch (cmd) {
    case BLKFLSBUF:
      if (!admin) throw EACCES;
      d.flush();
      return 0;
    case BLKROGET:
      putInt(t, arg, d.readOnly ? 1 : 0);
      return 0;
    case BLKROSET: {
      if (!admin) throw EACCES;
      const v = new DataView(t.copyIn(arg, 4).buffer).getInt32(0, true);
      d.roSet = v !== 0;
      return 0;
    }
    case BLKDISCARD:
    case BLKZEROOUT:
    case BLKSECDISCARD: {
      if (!f.forWrite) throw EBADF;
      const v = new DataView(t.copyIn(arg, 16).buffer);
      const start = Number(v.getBigUint64(0, true)), len = Number(v.getBigUint64(8, true));
      if (cmd === BLKSECDISCARD) throw EOPNOTSUPP;
      if (start % 512 !== 0 || len % 512 !== 0) throw EINVAL;
      if (cmd === BLKDISCARD && !d.bound) throw EOPNOTSUPP;
      const end = start + len;
      if (cmd === BLKZEROOUT ? end - 1 >= d.size || end - 1 < start : end > d.size) throw EINVAL;
      if (d.readOnly) throw EPERM;
      zeroRange(d, start, len, cmd === BLKDISCARD);
      return 0;
    }
    case BLKGETDISKSEQ:
      putU64(t, arg, d.diskseq);
      return 0;
    case BLKGETZONESZ:
    case BLKGETNRZONES:
      putInt(t, arg, 0);
      return 0;
    case BLKALIGNOFF:
    case BLKDISCARDZEROES:
      putInt(t, arg, 0);
      return 0;
    case BLKSSZGET:
      putInt(t, arg, d.logicalBlockSize);
      return 0;
    case BLKPBSZGET:
    case BLKIOMIN:
      putInt(t, arg, d.logicalBlockSize);
      return 0;
    case BLKIOOPT:
      putInt(t, arg, 0);
      return 0;
    case BLKSECTGET:
      putU16(t, arg, 2560); // max_sectors (1280 KiB) in sectors, an unsigned short
      return 0;
    case BLKROTATIONAL:
      putU16(t, arg, 1);
      return 0;
    case BLKFRASET:
    case BLKRASET:
      if (!admin) throw EACCES;
      d.raPages = Math.floor((arg * 512) / PAGE_SIZE);
      return 0;
    case BLKRRPART:
      if (!admin) throw EACCES;
      // No partition table is scanned here: a device without LO_FLAGS_PARTSCAN has none to
      // rescan (GENHD_FL_NO_PART: EINVAL), and one with it finds none.
      if (!d.partscan) throw EINVAL;
      return 0;
    case HDIO_GETGEO:
      throw ENOTTY;
    case BLKRAGET:
    case BLKFRAGET:
      if (arg === 0) throw EINVAL;
      putU64(t, arg, (d.raPages * PAGE_SIZE) / 512);
      return 0;
    case BLKGETSIZE:
      putU64(t, arg, Math.floor(d.size / 512));
      return 0;
    case BLKBSZGET:
      putInt(t, arg, softBlockSize(d));
      return 0;
    case BLKBSZSET: {
      const v = new DataView(t.copyIn(arg, 4).buffer).getInt32(0, true);
      if (v < d.logicalBlockSize || v > PAGE_SIZE || (v & (v - 1)) !== 0) throw EINVAL;
      return 0;
    }
    case BLKGETSIZE64:
      putU64(t, arg, d.size);
      return 0;
    default:
      return null;
  }
}

/** Zeroes (or, discarding, punches out of the backing file) len bytes from start. */
function zeroRange(d: LoopDevice, start: number, len: number, discard: boolean): void {
  const b = d.backing;
  if (b === null) return;
  if (discard) {
    try {
      b.allocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, d.offset + start, len);
      return;
    } catch {
      // A backing file without hole punching: zeroes, which a discard may leave as well.
    }
  }
  const chunk = new Uint8Array(Math.min(len, 1 << 20));
  for (let done = 0; done < len; done += chunk.length) {
    d.write(start + done, chunk.subarray(0, Math.min(chunk.length, len - done)));
  }
}

/** lo_ioctl. */
function deviceIoctl(t: Task, f: LoopFile, cmd: number, arg: number): number {
  const d = f.device;
  const writeOrAdmin = f.forWrite || t.creds.hasCap(CAP_SYS_ADMIN);
  switch (cmd) {
    case LOOP_SET_FD:
      configure(t, f, { fd: arg | 0, blockSize: 0, info: null });
      return 0;
    case LOOP_CONFIGURE: {
      const b = t.copyIn(arg, CONFIG_SIZE);
      const v = new DataView(b.buffer, b.byteOffset);
      configure(t, f, { fd: v.getInt32(0, true), blockSize: v.getUint32(4, true), info: parseInfo64(b.subarray(8, 8 + INFO64_SIZE)) });
      return 0;
    }
    case LOOP_CHANGE_FD:
      changeFd(t, d, arg | 0);
      return 0;
    case LOOP_CLR_FD:
      if (d.state !== "bound") throw ENXIO;
      if (d.openers > 1) releaseUnmounted(t.kernel);
      // Cleared at the last close; now only when this is the one opener (Lo_rundown).
      d.loFlags |= LO_FLAGS_AUTOCLEAR;
      if (d.openers === 1) d.state = "rundown";
      return 0;
    case LOOP_SET_STATUS:
      if (!writeOrAdmin) throw EPERM;
      setStatus(d, infoFromOld(t.copyIn(arg, INFO_SIZE)));
      return 0;
    case LOOP_SET_STATUS64:
      if (!writeOrAdmin) throw EPERM;
      setStatus(d, parseInfo64(t.copyIn(arg, INFO64_SIZE)));
      return 0;
    case LOOP_GET_STATUS:
      if (arg === 0) throw EINVAL;
      t.copyOut(arg, infoToOld(getStatus(d)));
      return 0;
    case LOOP_GET_STATUS64:
      if (arg === 0) throw EINVAL;
      t.copyOut(arg, serializeInfo64(getStatus(d)));
      return 0;
    case LOOP_SET_CAPACITY:
    case LOOP_SET_DIRECT_IO:
    case LOOP_SET_BLOCK_SIZE:
      if (!writeOrAdmin) throw EPERM;
      if (d.state !== "bound") throw ENXIO;
      if (cmd === LOOP_SET_CAPACITY) {
        d.figureSize();
      } else if (cmd === LOOP_SET_DIRECT_IO) {
        // The backing file's O_DIRECT needs the offset aligned to the logical block size.
        if (arg !== 0 && d.offset % d.logicalBlockSize !== 0) throw EINVAL;
        d.loFlags = arg !== 0 ? d.loFlags | LO_FLAGS_DIRECT_IO : d.loFlags & ~LO_FLAGS_DIRECT_IO;
      } else {
        checkBlockSize(arg);
        d.logicalBlockSize = arg;
        d.figureSize();
      }
      return 0;
    default:
      throw EINVAL;
  }
}

/** blk_validate_block_size: a power of two from 512 to BLK_MAX_BLOCK_SIZE. */
function checkBlockSize(bs: number): void {
  if (bs < 512 || bs > MAX_BLOCK_SIZE || (bs & (bs - 1)) !== 0) throw EINVAL;
}

interface Info64 {
  device: bigint;
  inode: bigint;
  rdevice: bigint;
  offset: bigint;
  sizeLimit: bigint;
  number: number;
  encryptType: number;
  encryptKeySize: number;
  flags: number;
  fileName: Uint8Array;
  cryptName: Uint8Array;
}

function parseInfo64(b: Uint8Array): Info64 {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    device: v.getBigUint64(0, true), inode: v.getBigUint64(8, true), rdevice: v.getBigUint64(16, true),
    offset: v.getBigUint64(24, true), sizeLimit: v.getBigUint64(32, true), number: v.getUint32(40, true),
    encryptType: v.getUint32(44, true), encryptKeySize: v.getUint32(48, true), flags: v.getUint32(52, true),
    fileName: b.slice(56, 56 + LO_NAME_SIZE), cryptName: b.slice(120, 120 + LO_NAME_SIZE),
  };
}

function serializeInfo64(i: Info64): Uint8Array {
  const b = new Uint8Array(INFO64_SIZE);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, i.device, true);
  v.setBigUint64(8, i.inode, true);
  v.setBigUint64(16, i.rdevice, true);
  v.setBigUint64(24, i.offset, true);
  v.setBigUint64(32, i.sizeLimit, true);
  v.setUint32(40, i.number, true);
  v.setUint32(44, i.encryptType, true);
  v.setUint32(48, i.encryptKeySize, true);
  v.setUint32(52, i.flags, true);
  b.set(i.fileName, 56);
  b.set(i.cryptName, 120);
  return b;
}

/** loop_info64_from_old: struct loop_info's fields, widened (a negative offset becomes huge). */
function infoFromOld(b: Uint8Array): Info64 {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const encryptType = v.getInt32(36, true);
  const name = b.slice(48, 48 + LO_NAME_SIZE);
  return {
    device: v.getBigUint64(8, true), inode: v.getBigUint64(16, true), rdevice: v.getBigUint64(24, true),
    offset: BigInt.asUintN(64, BigInt(v.getInt32(32, true))), sizeLimit: 0n, number: v.getInt32(0, true),
    encryptType, encryptKeySize: v.getInt32(40, true), flags: v.getInt32(44, true), fileName: name,
    cryptName: encryptType === LO_CRYPT_CRYPTOAPI ? name.slice() : new Uint8Array(LO_NAME_SIZE),
  };
}

/** loop_info64_to_old: EOVERFLOW when a field does not fit struct loop_info. */
function infoToOld(i: Info64): Uint8Array {
  if (i.offset > 0x7fffffffn) throw EOVERFLOW;
  const b = new Uint8Array(INFO_SIZE);
  const v = new DataView(b.buffer);
  v.setInt32(0, i.number, true);
  v.setBigUint64(8, i.device, true);
  v.setBigUint64(16, i.inode, true);
  v.setBigUint64(24, i.rdevice, true);
  v.setInt32(32, Number(i.offset), true);
  v.setInt32(36, i.encryptType, true);
  v.setInt32(44, i.flags, true);
  b.set(i.encryptType === LO_CRYPT_CRYPTOAPI ? i.cryptName : i.fileName, 48);
  return b;
}

/** loop_get_status: ENXIO unless bound. */
function getStatus(d: LoopDevice): Info64 {
  if (d.state !== "bound" || d.backing === null) throw ENXIO;
  const st = d.backing.stat();
  return {
    device: BigInt(st.dev), inode: BigInt(st.ino), rdevice: BigInt(st.rdev), offset: BigInt(d.offset),
    sizeLimit: BigInt(d.sizeLimit), number: d.minor, encryptType: LO_CRYPT_NONE, encryptKeySize: 0, flags: d.loFlags,
    fileName: d.fileName.slice(), cryptName: d.cryptName.slice(),
  };
}

/** loop_set_status_from_info: encryption is gone (EINVAL), offsets past LLONG_MAX are EOVERFLOW. */
function statusFromInfo(d: LoopDevice, i: Info64): void {
  if (i.encryptKeySize > LO_KEY_SIZE) throw EINVAL;
  if (i.encryptType !== LO_CRYPT_NONE) throw EINVAL;
  if (i.offset > 0x7fff_ffff_ffff_ffffn || i.sizeLimit > 0x7fff_ffff_ffff_ffffn) throw EOVERFLOW;
  d.offset = Number(i.offset);
  d.sizeLimit = Number(i.sizeLimit);
  d.fileName = i.fileName.slice();
  d.fileName[LO_NAME_SIZE - 1] = 0;
  d.cryptName = i.cryptName.slice();
  d.cryptName[LO_NAME_SIZE - 1] = 0;
}

/** loop_set_status. */
function setStatus(d: LoopDevice, i: Info64): void {
  if (d.state !== "bound") throw ENXIO;
  const sizeChanged = BigInt(d.offset) !== i.offset || BigInt(d.sizeLimit) !== i.sizeLimit;
  statusFromInfo(d, i);
  d.loFlags &= ~LOOP_SET_STATUS_CLEARABLE_FLAGS;
  d.loFlags |= i.flags & LOOP_SET_STATUS_SETTABLE_FLAGS;
  if (sizeChanged) d.figureSize();
}

/**
 * loop_validate_file: a regular file or a block device, and no loop device in the chain of
 * its backing files is this one (EINVAL).
 */
function validateBacking(file: FileDescription, d: LoopDevice): void {
  const type = file.stat().mode & S_IFMT;
  if (type !== S_IFREG && type !== S_IFBLK) throw EINVAL;
  for (let f: FileDescription | null = file; f instanceof LoopFile; f = f.device.backing) {
    if (f.device === d) throw EINVAL;
  }
  if (type === S_IFBLK && !(file instanceof LoopFile)) throw EINVAL;
}

/** The backing file of fd: EBADF for none or an O_PATH descriptor (fget). */
function backingFile(t: Task, fd: number): FileDescription {
  const file = t.fdTable.get(fd);
  if ((file.flags & O_PATH) !== 0) throw EBADF;
  return file;
}

/** loop_configure (LOOP_SET_FD and LOOP_CONFIGURE), checked in Linux's order. */
function configure(t: Task, f: LoopFile, c: { fd: number; blockSize: number; info: Info64 | null }): void {
  const d = f.device;
  const file = backingFile(t, c.fd);
  // Upgraded to an exclusive hold while binding, unless this opener holds one already.
  if (!f.exclusive && d.holder !== null) throw EBUSY;
  if (d.state !== "unbound") throw EBUSY;
  validateBacking(file, d);
  const info = c.info;
  if (info !== null && (info.flags & ~LOOP_CONFIGURE_SETTABLE_FLAGS) !== 0) throw EINVAL;
  if (info !== null) statusFromInfo(d, info);
  if (c.blockSize !== 0) {
    try {
      checkBlockSize(c.blockSize);
    } catch (e) {
      d.clear();
      throw e;
    }
  }
  d.loFlags = info?.flags ?? 0;
  if (!file.writable || !f.forWrite) d.loFlags |= LO_FLAGS_READ_ONLY;
  d.diskRo = (d.loFlags & LO_FLAGS_READ_ONLY) !== 0;
  d.logicalBlockSize = c.blockSize !== 0 ? c.blockSize : 512;
  d.backing = file.incRef();
  d.backingPath = file.path();
  d.state = "bound";
  d.diskseq++;
  d.figureSize();
}

/** loop_change_fd: only for a read-only device, to a file of the same size. */
function changeFd(t: Task, d: LoopDevice, fd: number): void {
  const file = backingFile(t, fd);
  if (d.state !== "bound" || d.backing === null) throw ENXIO;
  if ((d.loFlags & LO_FLAGS_READ_ONLY) === 0) throw EINVAL;
  validateBacking(file, d);
  if (backingSize(file) !== backingSize(d.backing)) throw EINVAL;
  const old = d.backing;
  d.backing = file.incRef();
  d.backingPath = file.path();
  old.decRef();
}
