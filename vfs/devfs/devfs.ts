/**
 * devfs: a synthetic /dev, as runsc's devtmpfs: the memory devices (null, zero, full, random,
 * urandom) implemented in the sentry, tty, console and ptmx (placeholders the open syscall
 * resolves: the caller's controlling terminal, the `-t` console, a new pty of the devpts
 * mounted on /dev/pts; see vfs/tty/device_file.ts), the /proc/self/fd links (fd, stdin, stdout, stderr), and
 * the directories other filesystems are mounted on (shm, pts, mqueue).
 *
 * No host device is ever reachable through it.
 *
 * @module
 */

import { ENXIO } from "../../kernel/errno.ts";
import { S_IFBLK, S_IFCHR } from "../../abi/linux/file.ts";
import { openMemoryDevice, TUN_MAJOR, TUN_MINOR, USERFAULTFD_MAJOR, USERFAULTFD_MINOR } from "../devices.ts";
import type { DirEntry, FileDescription, Stat } from "../file_description.ts";
import type { Dentry } from "../dentry.ts";
import { BlockDeviceTable, LOOP_CTRL_MAJOR, LOOP_CTRL_MINOR, LOOP_MAJOR, loopMinorOf } from "../block/table.ts";
import type { Location } from "../mount.ts";
import { dirEntry, FixedSymlink, KDentry, KernFilesystem, StaticDir, TMPFS_MAGIC } from "../kernfs/kernfs.ts";

/** A dev_t from major and minor numbers (Linux's new_encode_dev, for numbers below 4096/256). */
export function makedev(major: number, minor: number): number {
  return ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & 0xfff00) << 12);
}

/** [name, major, minor, mode] of every device node. */
const DEVICES: ReadonlyArray<[string, number, number, number]> = [
  ["null", 1, 3, 0o666], ["zero", 1, 5, 0o666], ["full", 1, 7, 0o666], ["random", 1, 8, 0o666],
  ["urandom", 1, 9, 0o666], ["tty", 5, 0, 0o666], ["console", 5, 1, 0o600], ["ptmx", 5, 2, 0o666],
];

/** @savable A character (or, with `block`, block) device node. */
export class DeviceNode extends KDentry {
  readonly block: boolean;

  constructor(kfs: KernFilesystem, parent: KDentry, name: string, rdev: number, perm: number, block = false) {
    super(kfs, parent, name, { mode: (block ? S_IFBLK : S_IFCHR) | perm, rdev });
    this.block = block;
  }

  override open(loc: Location, flags: number): FileDescription {
    // tty, console, ptmx: a TtyDeviceFile the open syscall resolves; loop devices and
    // loop-control: placeholders it resolves too (kernel/loop.ts).
    const dev = openMemoryDevice(loc, flags, this.rdev, this.block);
    if (dev === null) throw ENXIO;
    return dev;
  }

  /**
   * A block device's st_blksize is its minimum I/O size (bdev_statx: the loop device's logical
   * block size); devtmpfs's other inodes have shmem's PAGE_SIZE.
   */
  override stat(): Stat {
    const st = super.stat();
    if (!this.block) return { ...st, blksize: 4096 };
    const minor = loopMinorOf(this.name);
    const view = minor === null ? null : (this.kfs as DevFilesystem).blocks.loop(minor);
    return { ...st, blksize: view?.logicalBlockSize ?? 512 };
  }
}

/**
 * @savable /dev itself: fixed entries, and a node for each loop device of the table as it is
 * now (devtmpfs gains and loses them as loop-control adds and removes devices).
 */
export class DevRoot extends StaticDir {
  constructor(kfs: DevFilesystem) {
    super(kfs, null, "", 0o755);
  }

  get blocks(): BlockDeviceTable {
    return (this.kfs as DevFilesystem).blocks;
  }

  #loopNode(minor: number): DeviceNode {
    return new DeviceNode(this.kfs, this, `loop${minor}`, makedev(LOOP_MAJOR, minor), 0o600, true);
  }

  override lookup(name: string): Dentry | null {
    const fixed = this.entries.get(name);
    if (fixed !== undefined) return fixed;
    const minor = loopMinorOf(name);
    return minor !== null && this.blocks.loopMinors.has(minor) ? this.#loopNode(minor) : null;
  }

  override children(): DirEntry[] {
    return [...super.children(), ...this.blocks.sortedLoopMinors().map((m) => dirEntry(this.#loopNode(m)))];
  }
}

/** @savable One /dev. */
export class DevFilesystem extends KernFilesystem {
  /** The directory a tmpfs is mounted on (boot does it). */
  readonly shm: StaticDir;
  /** The directory devpts is mounted on. */
  readonly pts: StaticDir;

  /** The sandbox's block devices (the VirtualFilesystem's; a fresh table for tests). */
  readonly blocks: BlockDeviceTable;

  constructor(blocks: BlockDeviceTable = new BlockDeviceTable()) {
    super("devtmpfs", TMPFS_MAGIC);
    this.blocks = blocks;
    const root = new DevRoot(this);
    this.root = root;
    for (const [name, major, minor, mode] of DEVICES) {
      root.add(new DeviceNode(this, root, name, makedev(major, minor), mode));
    }
    root.add(new FixedSymlink(this, root, "fd", "/proc/self/fd"));
    root.add(new FixedSymlink(this, root, "stdin", "/proc/self/fd/0"));
    root.add(new FixedSymlink(this, root, "stdout", "/proc/self/fd/1"));
    root.add(new FixedSymlink(this, root, "stderr", "/proc/self/fd/2"));
    root.add(new FixedSymlink(this, root, "core", "/proc/kcore"));
    this.shm = root.dir("shm", 0o1777);
    this.pts = root.dir("pts", 0o755);
    root.dir("mqueue", 0o1777);
    // /dev/net/tun, world-usable as udev and runsc make it: creating a device needs
    // CAP_NET_ADMIN anyway (kernel/net_tun.ts).
    const netDir = root.dir("net", 0o755);
    netDir.add(new DeviceNode(this, netDir, "tun", makedev(TUN_MAJOR, TUN_MINOR), 0o666));
    // Root's only, as Linux's misc device is made (0600): its userfaultfds skip the sysctl.
    root.add(new DeviceNode(this, root, "userfaultfd", makedev(USERFAULTFD_MAJOR, USERFAULTFD_MINOR), 0o600));
    root.add(new DeviceNode(this, root, "loop-control", makedev(LOOP_CTRL_MAJOR, LOOP_CTRL_MINOR), 0o600));
  }
}
