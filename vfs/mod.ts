/**
 * The virtual filesystem: files, mounts and paths, as gVisor's pkg/sentry/vfs. It knows tasks
 * only through the credentials and root directory it is handed ({@linkcode PathContext}).
 *
 * Layers, top to bottom:
 * - {@linkcode VirtualFilesystem} (vfs.ts): the mount tree and path operations (openAt,
 *   statAt, readlinkAt, accessAt, lookupDir, openExecutable).
 * - path_walk.ts: component-by-component resolution (symlinks, `..`, mounts, permissions).
 * - {@linkcode Location} and {@linkcode Mount} (mount.ts): (mount, dentry) pairs.
 * - {@linkcode Dentry} and {@linkcode Filesystem} (dentry.ts): what a filesystem implements.
 * - Filesystems: hostfs/ (a host directory), tmpfs/ (memory, data in memfds), overlay/ (the
 *   writable root: upper over the read-only host tree); kernfs/ (synthetic files) with
 *   procfs/, devfs/ and sysfs/ built on it.
 * - Open files: {@linkcode FileDescription} (file_description.ts) and its implementations:
 *   DirectoryFile, OPathFile, HostRegularFile, HostFile (host stdio).
 *
 * Design notes and the plan for the next filesystems are in docs/vfs.md.
 *
 * @module
 */

export { VirtualFilesystem, type Executable } from "./vfs.ts";
export { Location, Mount, MountNamespace } from "./mount.ts";
export { Dentry, type Filesystem } from "./dentry.ts";
export {
  checkSearch, type MissingFinal, type ParentWalk, type PathContext, walk, walkOrMissing, walkParent,
} from "./path_walk.ts";
export { checkPermission, MAY_EXEC, MAY_READ, MAY_WRITE, mayAccess } from "./permissions.ts";
export {
  checkReadable, checkWritable, type DirEntry, FileDescription, type MemoryIO, type Stat,
} from "./file_description.ts";
export { DirectoryFile } from "./directory_file.ts";
export { OPathFile } from "./opath_file.ts";
export { MemoryDeviceFile, openMemoryDevice } from "./devices.ts";
export { HostFile, hostFile, hostStdio } from "./host_file.ts";
export { dtFromMode, HostFilesystem, HostIdMap } from "./hostfs/hostfs.ts";
export { type FsStat, type NewFile, type SetAttr } from "./dentry.ts";
export { type TimeSpec } from "./vfs.ts";
export { nowNs, TmpfsDentry, TmpfsFilesystem, TmpfsInode, TmpfsRegularFile } from "./tmpfs/tmpfs.ts";
export { OverlayDentry, OverlayFilesystem, type UpperFilesystem } from "./overlay/overlay.ts";
export { FifoEnd, openFifo } from "./fifo.ts";
