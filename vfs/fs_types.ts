/**
 * The filesystem types the sandbox registers, in registration order: /proc/filesystems lists
 * them and sysfs(2) numbers them (index 0 first), as Linux's file_systems list. The "nodev"
 * ones first, then those that live on a block device (vfs/block/filesystems.ts: listed only
 * when their driver exists).
 *
 * @module
 */

import { BLOCK_FILESYSTEMS } from "./block/filesystems.ts";

/** Types that need no device ("nodev" in /proc/filesystems). */
export const NODEV_FILESYSTEM_TYPES: readonly string[] = [
  "sysfs", "tmpfs", "proc", "devtmpfs", "devpts", "bind", "overlay", "mqueue", "cgroup2",
];

export const FILESYSTEM_TYPES: readonly string[] = [...NODEV_FILESYSTEM_TYPES, ...BLOCK_FILESYSTEMS.keys()];
