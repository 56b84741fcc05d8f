/**
 * The sandbox's block devices as /dev and /sys show them: which loop devices exist (devtmpfs
 * shows /dev/loopN, sysfs /sys/block/loopN) and, for those in use, what their attributes are.
 * One per VirtualFilesystem (`vfs.blockDevices`), read by every devfs and sysfs instance, so a
 * device that loop-control adds appears in all of them at once, as devtmpfs's one superblock.
 *
 * The devices themselves (kernel/loop.ts) load at first use; until then every minor here is an
 * unbound loop device of size 0.
 *
 * @module
 */

import type { Filesystem } from "../dentry.ts";
import type { BlockDevice } from "./device.ts";

/** The loop driver's major (LOOP_MAJOR) and loop-control's misc minor (LOOP_CTRL_MINOR). */
export const LOOP_MAJOR = 7;
export const LOOP_CTRL_MAJOR = 10, LOOP_CTRL_MINOR = 237;
/** Loop devices made at boot, as Linux's CONFIG_BLK_DEV_LOOP_MIN_COUNT (8). */
export const LOOP_MIN_COUNT = 8;

/** What sysfs shows of one loop device (kernel/loop.ts's LoopDevice implements it). */
export interface LoopView {
  readonly minor: number;
  /** Bound to a backing file (Lo_bound): /sys/block/loopN/loop/ exists only then. */
  readonly bound: boolean;
  /** Size in bytes (0 unbound). */
  readonly size: number;
  readonly readOnly: boolean;
  readonly logicalBlockSize: number;
  /** The backing file's path as the sandbox sees it (loop/backing_file). */
  readonly backingPath: string;
  readonly offset: number;
  readonly sizeLimit: number;
  readonly autoclear: boolean;
  readonly partscan: boolean;
  readonly directIo: boolean;
  /** Read-ahead in pages (queue/read_ahead_kb, BLKRAGET). */
  readonly raPages: number;
  /** I/O counters, as /sys/block/loopN/stat shows them. */
  readonly io: IoCounters;
}

/** The counters of a disk's stat file (Documentation/block/stat.rst), in its order. */
export interface IoCounters {
  reads: number;
  readSectors: number;
  writes: number;
  writeSectors: number;
  /** Milliseconds the device was busy (io_ticks): counted as one per request here. */
  ticks: number;
  discards: number;
  discardSectors: number;
  flushes: number;
}

/** Fresh counters. */
export function newIoCounters(): IoCounters {
  return { reads: 0, readSectors: 0, writes: 0, writeSectors: 0, ticks: 0, discards: 0, discardSectors: 0, flushes: 0 };
}

/** A filesystem mounted from a block device (kernel/block_mount.ts): one per device, as Linux's superblock. */
export interface BlockSuper {
  readonly fs: Filesystem;
  /** The type it was mounted as ("ext2", "ext3"). */
  readonly type: string;
  /** The superblock's read-only flag (MS_RDONLY at mount, changed by a remount). */
  readonly: boolean;
}

/** @savable (refused while a device is in use: kernel/checkpoint/save.ts) The block devices. */
export class BlockDeviceTable {
  /** Loop minors that exist, in creation order. */
  readonly loopMinors = new Set<number>(Array.from({ length: LOOP_MIN_COUNT }, (_, i) => i));
  /** Loop devices instantiated by the driver (opened at least once), by minor. */
  readonly loops = new Map<number, LoopView>();
  /** The filesystems mounted from a device, by device, until their last mount goes. */
  readonly supers = new Map<BlockDevice, BlockSuper>();

  /** The view of loop device minor, or null if it does not exist. */
  loop(minor: number): LoopView | null {
    if (!this.loopMinors.has(minor)) return null;
    return this.loops.get(minor) ?? unboundView(minor);
  }

  /** The existing minors, ascending. */
  sortedLoopMinors(): number[] {
    return [...this.loopMinors].sort((a, b) => a - b);
  }

  /** True when the devices are loop0..7 as at boot (a checkpoint refuses other sets). */
  get atBootState(): boolean {
    if (this.loopMinors.size !== LOOP_MIN_COUNT) return false;
    for (let i = 0; i < LOOP_MIN_COUNT; i++) if (!this.loopMinors.has(i)) return false;
    return true;
  }

  /** True when some loop device is bound (a checkpoint refuses it). */
  get anyBound(): boolean {
    for (const l of this.loops.values()) if (l.bound) return true;
    return false;
  }
}

function unboundView(minor: number): LoopView {
  return {
    minor, bound: false, size: 0, readOnly: false, logicalBlockSize: 512, backingPath: "", offset: 0, sizeLimit: 0,
    autoclear: false, partscan: false, directIo: false, raPages: 640, io: newIoCounters(),
  };
}

/** "loopN" → N, or null. */
export function loopMinorOf(name: string): number | null {
  const m = /^loop(0|[1-9][0-9]{0,6})$/.exec(name);
  return m === null ? null : Number(m[1]);
}
