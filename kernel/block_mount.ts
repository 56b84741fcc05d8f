/**
 * Mounting a filesystem that lives on a block device (Linux's get_tree_bdev and
 * setup_bdev_super): the source path is resolved to a sandbox block device (a loop device),
 * the device is claimed for the superblock (an O_EXCL opener or another filesystem type holding
 * it is EBUSY), and the type's driver (vfs/block/filesystems.ts, loaded at first use) reads it.
 * A second mount of the same device with the same type shares the superblock, as sget_dev
 * finds it (EBUSY when one is read-only and the other not). When no mount of the superblock is
 * left in any namespace, the driver releases it and the device is let go (a LOOP_CLR_FD made
 * meanwhile takes effect then).
 *
 * Loaded with mount(2)'s syscall family (sys_mount.ts), never at start.
 *
 * @module
 */

import { fsnotifyUnmount } from "../vfs/fsnotify.ts";
import { EACCES, EBUSY, EINVAL, ENOTBLK, ENXIO } from "./errno.ts";
import { S_IFBLK, S_IFMT } from "../abi/linux/file.ts";
import type { Task } from "./task.ts";
import type { Kernel } from "./kernel.ts";
import type { Filesystem } from "../vfs/dentry.ts";
import type { Location, MountNamespace } from "../vfs/mount.ts";
import { BLOCK_FILESYSTEMS, type BlockFilesystemModule } from "../vfs/block/filesystems.ts";
import { type BlockSuper, LOOP_MAJOR } from "../vfs/block/table.ts";
import type { BlockDevice } from "../vfs/block/device.ts";
import { majorMinor } from "../vfs/devices.ts";
import { LazyModule } from "./lazy_module.ts";
import { loopModule } from "./loop_load.ts";
import type { LoopDevice } from "./loop.ts";

/** One driver module per import (ext2 and ext3 share one), each loaded at its first mount. */
const drivers = new Map<() => Promise<BlockFilesystemModule>, LazyModule<BlockFilesystemModule>>();

/** True when type lives on a block device (a registered driver). */
export function isBlockFilesystem(type: string): boolean {
  return BLOCK_FILESYSTEMS.has(type);
}

/**
 * The driver of type, loaded; throws ModuleNotLoaded (the syscall sleeps and runs again) until
 * it is. Call before changing anything.
 */
export function blockDriver(type: string): BlockFilesystemModule {
  const importer = BLOCK_FILESYSTEMS.get(type)!;
  let m = drivers.get(importer);
  if (m === undefined) drivers.set(importer, m = new LazyModule(`${type} driver`, importer));
  return m.get();
}

function supersOf(t: Task): Map<BlockDevice, BlockSuper> {
  return t.kernel.vfs.blockDevices.supers;
}

/**
 * The filesystem of a mount(2) of type from source (lookup_bdev, then the superblock): ENOTBLK
 * for a source that is no block device, EACCES for one on a nodev mount or a read-write mount
 * of a read-only device, ENXIO for a device number without a driver or a device being cleared,
 * EBUSY for a device another holds, the driver's error (EINVAL: not this filesystem) otherwise.
 * `fresh` is false for a superblock already mounted elsewhere.
 */
export function blockSuper(
  t: Task,
  source: Location | null,
  type: string,
  o: { readonly: boolean; data: string; silent: boolean },
): { fs: Filesystem; fresh: boolean } {
  const driver = blockDriver(type);
  const loop = loopModule.get();
  if (source === null) throw EINVAL; // no source (invalf "No source specified")
  const st = source.dentry.stat();
  if ((st.mode & S_IFMT) !== S_IFBLK) throw ENOTBLK;
  if (source.mount.nodev) throw EACCES; // may_open_dev
  const [major, minor] = majorMinor(st.rdev);
  if (major !== LOOP_MAJOR) throw ENXIO;
  const table = t.kernel.vfs.blockDevices;
  const dev = loop.loopDevice(table, minor);
  if (dev.state === "rundown") throw ENXIO;
  const supers = supersOf(t);
  if (supers.has(dev)) releaseUnmounted(t.kernel); // a superblock nothing uses any more is gone
  const existing = supers.get(dev);
  if (existing !== undefined) {
    if (existing.type !== type) throw EBUSY; // another filesystem holds the device
    if (existing.readonly !== o.readonly) throw EBUSY;
    return { fs: existing.fs, fresh: false };
  }
  const holder = {};
  if (dev.holder !== null) releaseUnmounted(t.kernel);
  dev.claim(holder);
  dev.openers++;
  try {
    if (!o.readonly && dev.readOnly) throw EACCES;
    const fs = driver.mountBlockFilesystem(dev, { type, readonly: o.readonly, data: o.data, silent: o.silent });
    dev.unclaim(holder);
    dev.claim(fs);
    supers.set(dev, { fs, type, readonly: o.readonly });
    return { fs, fresh: true };
  } catch (e) {
    dev.unclaim(holder);
    dev.release();
    throw e;
  }
}

/**
 * Releases every block superblock nothing uses any more (no mount in a namespace, no descriptor,
 * mapping, cwd or root on a detached one): the driver's release, then the device's claim and
 * opener. Run after umount2, a failed attach, the close of a context that created one, and
 * before a device's holders are judged (an O_EXCL open, LOOP_CLR_FD, a mount), as Linux drops
 * a detached mount at its last fput.
 */
export function releaseUnmounted(k: Kernel): void {
  const supers = k.vfs.blockDevices.supers;
  if (supers.size === 0) return;
  const inUse = new Set<Filesystem>();
  const namespaces = new Set<MountNamespace>([k.vfs.initNs]);
  for (const task of k.tasks.values()) if (task.fs.mntns !== null) namespaces.add(task.fs.mntns);
  for (const ns of namespaces) for (const m of ns.mounts()) inUse.add(m.fs);
  // A detached mount (fsmount's, open_tree's, a lazily unmounted one) lives while a
  // descriptor, a mapping, a cwd or a root is on it.
  for (const task of k.tasks.values()) {
    inUse.add(task.fs.cwd.mount.fs);
    inUse.add(task.fs.root.mount.fs);
    for (const fd of task.fdTable.fds()) {
      const m = task.fdTable.get(fd).location()?.mount;
      if (m !== undefined) inUse.add(m.fs);
    }
    for (const v of task.mm.vmas) {
      const m = v.file?.location()?.mount;
      if (m !== undefined) inUse.add(m.fs);
    }
  }
  for (const [dev, sb] of supers) {
    if (inUse.has(sb.fs)) continue;
    supers.delete(dev);
    const d = dev as LoopDevice;
    try {
      fsnotifyUnmount(sb.fs);
      sb.fs.release();
    } finally {
      d.unclaim(sb.fs);
      d.release();
    }
  }
}

/**
 * A superblock remount (MS_REMOUNT without MS_BIND, fsconfig's CMD_RECONFIGURE) of a filesystem
 * on a block device between read-only and read-write: EACCES going read-write on a read-only
 * device, then the driver's reconfigure (EROFS when it cannot write). Nothing for other
 * filesystems.
 */
export function remountBlockSuper(k: Kernel, fs: Filesystem, readonly: boolean): void {
  for (const [dev, sb] of k.vfs.blockDevices.supers) {
    if (sb.fs !== fs || sb.readonly === readonly) continue;
    if (!readonly && dev.readOnly) throw EACCES;
    (fs as Filesystem & { reconfigure?(readonly: boolean): void }).reconfigure?.(readonly);
    sb.readonly = readonly;
  }
}
