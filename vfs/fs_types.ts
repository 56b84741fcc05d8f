/**
 * The filesystem types the sandbox registers, in registration order: /proc/filesystems lists
 * them and sysfs(2) numbers them (index 0 first), as Linux's file_systems list. None needs a
 * block device ("nodev").
 *
 * @module
 */

export const FILESYSTEM_TYPES: readonly string[] = [
  "sysfs", "tmpfs", "proc", "devtmpfs", "devpts", "bind", "overlay", "mqueue", "cgroup2",
];
