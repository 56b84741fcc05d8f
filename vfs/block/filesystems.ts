/**
 * The registry of filesystem types that live on a block device ("requires a device", not
 * "nodev" in /proc/filesystems). Each entry loads its driver at first use: a start never
 * imports one (tests/startup_graph_test.ts).
 *
 * A driver module exports `mountBlockFilesystem(dev, options)`: it reads the device's
 * superblock and returns the filesystem, or throws a LinuxError as Linux's fill_super would
 * (EINVAL: no such filesystem on the device; EROFS: read-write mount of a device or feature set
 * that only allows read-only; ENOMEM...). The mount plumbing (kernel/syscalls/linux/sys_mount.ts)
 * resolves the source, claims the device (EBUSY while mounted) and releases it when the
 * filesystem's last mount goes (Filesystem.release, which the driver's must let finish:
 * flush what it holds, `dev.flush()`).
 *
 * @module
 */

import type { Filesystem } from "../dentry.ts";
import type { BlockDevice, BlockMountOptions } from "./device.ts";

export type { BlockDevice, BlockMountOptions };

/** What a driver module exports. */
export interface BlockFilesystemModule {
  mountBlockFilesystem(dev: BlockDevice, options: BlockMountOptions): Filesystem;
}

/**
 * Type name → the driver module's import, in /proc/filesystems order. Written out as
 * `() => import("...")` so that bundlers and the type checker see the module.
 */
export const BLOCK_FILESYSTEMS: ReadonlyMap<string, () => Promise<BlockFilesystemModule>> = new Map([
  // ext4 is not served (no extents, flex_bg, 64bit, metadata_csum): unlisted, so test suites
  // that loop over the kernel's filesystems skip it instead of failing its mkfs.ext4 images.
  ["ext3", () => import("../ext2/ext2.ts")],
  ["ext2", () => import("../ext2/ext2.ts")],
]);
