/**
 * The memory character devices, implemented in the sentry: /dev/null (1:3), /dev/zero (1:5),
 * /dev/full (1:7), /dev/random (1:8) and /dev/urandom (1:9), as Linux's drivers/char/mem.c;
 * and the placeholders of the devices the kernel resolves at open (terminals, TUN,
 * userfaultfd, the loop block devices 7:N and /dev/loop-control 10:237: kernel/loop.ts).
 *
 * A device node met in a host tree is opened as one of these when its device number is one of
 * them (so `sentry do` can use the host's /dev/null); any other device node is refused. devfs
 * will create its nodes from the same table.
 *
 * @module
 */

import { EBADFD, EFAULT, EINVAL, ENOSPC, ENOTTY, EPERM } from "../kernel/errno.ts";
import { hostRandom } from "../platform/ptrace/_ffi.ts";
import { FileDescription, type MemoryIO } from "./file_description.ts";
import { LocatedFile } from "./located_file.ts";
import type { Location } from "./mount.ts";
import { TtyDeviceFile, ttyDeviceKind } from "./tty/device_file.ts";

type Kind = "null" | "zero" | "full" | "random" | "urandom";

/** Device numbers (major, minor) of the memory devices. */
const MEMORY_DEVICES = new Map<string, Kind>([
  ["1:3", "null"], ["1:5", "zero"], ["1:7", "full"], ["1:8", "random"], ["1:9", "urandom"],
]);

import { LOOP_CTRL_MAJOR, LOOP_CTRL_MINOR, LOOP_MAJOR } from "./block/table.ts";
export { LOOP_MAJOR };

/** Major and minor numbers of a dev_t in the kernel's 64-bit encoding. */
export function majorMinor(dev: number): [number, number] {
  const lo = dev >>> 0;
  const hi = Math.floor(dev / 0x1_0000_0000) >>> 0;
  return [((lo >>> 8) & 0xfff) | (hi & ~0xfff), (lo & 0xff) | ((lo >>> 12) & ~0xff) | ((hi & 0xfff) << 20)];
}

/** random(4)'s ioctls (linux/random.h: _IOR/_IOW('R', n, ...), _IO('R', n)). */
const RNDGETENTCNT = 0x80045200, RNDADDTOENTCNT = 0x40045201, RNDADDENTROPY = 0x40085203, RNDZAPENTCNT = 0x5204,
  RNDCLEARPOOL = 0x5206, RNDRESEEDCRNG = 0x5207;
/** The input pool's bits once the generator is ready (POOL_READY_BITS). */
const POOL_READY_BITS = 256;

/** @savable An open memory device. */
export class MemoryDeviceFile extends LocatedFile {
  readonly #kind: Kind;

  constructor(loc: Location, flags: number, kind: Kind) {
    super(loc, flags);
    this.#kind = kind;
  }

  override read(dst: Uint8Array, _offset: number | null): number {
    switch (this.#kind) {
      case "null":
        return 0;
      case "random":
      case "urandom":
        hostRandom(dst);
        return dst.length;
      default:
        dst.fill(0);
        return dst.length;
    }
  }

  override write(src: Uint8Array, _offset: number | null): number {
    if (this.#kind === "full" && src.length > 0) throw ENOSPC;
    return src.length;
  }

  /** Only /dev/random has a poll operation (random_fops); the others are EPERM in epoll_ctl. */
  override get epollable(): boolean {
    return this.#kind === "random";
  }

  /** Only /dev/zero has an mmap operation (Linux's mem.c); the others are ENODEV. */
  get mappable(): boolean {
    return this.#kind === "zero";
  }

  /** /dev/null reads nothing, whatever the buffer: 0 even for a bad one. */
  override readWithoutData(): number | null {
    return this.#kind === "null" ? 0 : null;
  }

  /** /dev/null and /dev/zero take any write unread, /dev/full refuses it (a bad buffer too). */
  override writeWithoutData(len: number): number | null {
    if (this.#kind === "full" && len > 0) throw ENOSPC;
    return this.#kind === "random" || this.#kind === "urandom" ? null : len;
  }

  /**
   * ioctl(2) (random_ioctl for /dev/random and /dev/urandom; mem.c's devices have none: ENOTTY).
   * The pool is always initialised here: RNDGETENTCNT reports its 256 bits, as
   * /proc/sys/kernel/random/entropy_avail; the writers need CAP_SYS_ADMIN (`admin`) and change
   * nothing the sandbox could notice (the bytes come from the host); other commands are EINVAL.
   */
  deviceIoctl(cmd: number, arg: number, io: MemoryIO, admin: boolean): number {
    if (this.#kind !== "random" && this.#kind !== "urandom") throw ENOTTY;
    const int = (at: number) => new DataView(io.copyIn(at, 4).buffer).getInt32(0, true);
    switch (cmd) {
      case RNDGETENTCNT: {
        const b = new Uint8Array(4);
        new DataView(b.buffer).setInt32(0, POOL_READY_BITS, true);
        io.copyOut(arg, b);
        return 0;
      }
      case RNDADDTOENTCNT:
        if (!admin) throw EPERM;
        if (int(arg) < 0) throw EINVAL;
        return 0;
      case RNDADDENTROPY: {
        if (!admin) throw EPERM;
        if (int(arg) < 0) throw EINVAL;
        const len = int(arg + 4);
        // import_ubuf of a negative length (a huge size_t) fails access_ok.
        if (len < 0) throw EFAULT;
        if (len > 0) io.copyIn(arg + 8, len);
        return 0;
      }
      case RNDZAPENTCNT:
      case RNDCLEARPOOL:
      case RNDRESEEDCRNG:
        if (!admin) throw EPERM;
        return 0;
      default:
        throw EINVAL;
    }
  }

  /** lseek(2) on the character devices always lands at 0, as Linux's null_lseek. */
  override seek(_offset: number, _whence: number): number {
    this.offset = 0;
    return 0;
  }
}

/** /dev/net/tun's device number: the misc major, TUN_MINOR. */
export const TUN_MAJOR = 10, TUN_MINOR = 200;

/**
 * /dev/net/tun opened but not yet resolved: a TUN/TAP file belongs to the kernel's network,
 * which the VFS does not know, so the open syscall replaces this placeholder with one
 * (kernel/net_tun.ts), as it does the terminal devices'. Used alone it refuses everything.
 * @savable
 */
export class TunNodeFile extends LocatedFile {
  /** The node's Location, for the description that replaces this one. */
  get nodeLocation(): Location {
    return this.loc;
  }

  override read(): number {
    throw EBADFD;
  }

  override write(): number {
    throw EBADFD;
  }
}

/** /dev/userfaultfd's device number: the misc major and the minor Linux 6.18 hands it here. */
export const USERFAULTFD_MAJOR = 10, USERFAULTFD_MINOR = 257;

/**
 * /dev/userfaultfd opened but not yet resolved: its USERFAULTFD_IOC_NEW makes the kernel's
 * userfaultfds, which the VFS does not know, so the open syscall replaces this placeholder
 * (kernel/userfaultfd.ts), as it does /dev/net/tun's. Used alone it refuses everything.
 * @savable
 */
export class UserfaultfdNodeFile extends TunNodeFile {}

/**
 * A loop device (`rdev` 7:N) or /dev/loop-control opened but not yet resolved: the loop driver
 * (kernel/loop.ts) is loaded at first use, so the open syscall replaces this placeholder with
 * its description, as it does /dev/net/tun's. Used alone it refuses everything.
 * @savable
 */
export class LoopNodeFile extends TunNodeFile {
  constructor(loc: Location, flags: number, readonly rdev: number, readonly control: boolean) {
    super(loc, flags);
  }
}

/**
 * The open loop devices and loop-control (kernel/loop.ts's descriptions extend it), so that
 * ioctl(2) reaches their driver without loading it first.
 */
export abstract class LoopDeviceFileBase extends LocatedFile {
  /** loop-control (loop_ctl_fops) and a block device (def_blk_fops) have no poll: epoll_ctl is EPERM. */
  override get epollable(): boolean {
    return false;
  }
}

/**
 * The in-sentry implementation for a device number, or null if there is none. `block` for a
 * block special node: its numbers name a different driver (only loop is implemented).
 */
export function openMemoryDevice(loc: Location, flags: number, rdev: number, block = false): FileDescription | null {
  const [major, minor] = majorMinor(rdev);
  if (block) return major === LOOP_MAJOR ? new LoopNodeFile(loc, flags, rdev, false) : null;
  if (major === LOOP_CTRL_MAJOR && minor === LOOP_CTRL_MINOR) return new LoopNodeFile(loc, flags, rdev, true);
  if (major === TUN_MAJOR && minor === TUN_MINOR) return new TunNodeFile(loc, flags);
  if (major === USERFAULTFD_MAJOR && minor === USERFAULTFD_MINOR) return new UserfaultfdNodeFile(loc, flags);
  // /dev/tty, /dev/console, /dev/ptmx: resolved by the open syscall (vfs/tty/device_file.ts).
  const tty = ttyDeviceKind(major, minor);
  if (tty !== null) return new TtyDeviceFile(loc, flags, tty);
  const kind = MEMORY_DEVICES.get(`${major}:${minor}`);
  return kind === undefined ? null : new MemoryDeviceFile(loc, flags, kind);
}
