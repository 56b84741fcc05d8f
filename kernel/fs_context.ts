/**
 * A task's filesystem context: root, working directory and umask (Linux's struct fs_struct),
 * and the mount namespace they are in. Shared by CLONE_FS threads, copied on fork.
 *
 * Linux keeps the mount namespace in the nsproxy, not here. It is kept here because the two
 * always go together: unshare(CLONE_NEWNS) unshares the fs_struct first, setns(2) to a mount
 * namespace is EINVAL while the fs_struct is shared, and both move root and cwd into the new
 * tree; so no two tasks sharing a context are ever in different namespaces.
 *
 * @module
 */

import { Location, type MountNamespace, type VirtualFilesystem } from "../vfs/mod.ts";
import { EINVAL } from "./errno.ts";
import type { Credentials } from "./creds.ts";
import { INIT_USER_NS, type UserNamespace } from "./user_namespace.ts";
import { CAP_SYS_ADMIN } from "../abi/linux/capability.ts";

/** @savable */
export class FsContext {
  /** The mount namespace (vfs/mount.ts); root and cwd are locations of its tree. */
  mntns: MountNamespace | null;

  constructor(public root: Location, public cwd: Location, public umask = 0o022, mntns?: MountNamespace | null) {
    this.mntns = mntns === undefined ? root.mount.ns : mntns;
  }

  fork(): FsContext {
    return new FsContext(this.root, this.cwd, this.umask, this.mntns);
  }
}

/**
 * Moves fs into a copy of its mount namespace, root and cwd following their mounts into the
 * copy (unshare(2) or clone(2) with CLONE_NEWNS; Linux's copy_mnt_ns), owned by user namespace
 * `owner` (the task's, null for the first): under another owner than the original's the copy is
 * locked (vfs.ts copyNamespace). A root or cwd on a mount no longer in the tree stays where it
 * is, as in Linux.
 */
export function unshareMountNs(vfs: VirtualFilesystem, fs: FsContext, owner: object | null): void {
  if (fs.mntns === null) throw EINVAL;
  const { ns, map } = vfs.copyNamespace(fs.mntns, owner);
  const moved = (l: Location): Location => {
    const m = map.get(l.mount);
    return m === undefined ? l : new Location(m, l.dentry);
  };
  fs.root = moved(fs.root);
  fs.cwd = moved(fs.cwd);
  fs.mntns = ns;
}

/** The owner a new mount namespace made with creds gets: their user namespace (null for the first). */
export function mountNsOwner(creds: Credentials): object | null {
  return creds.userNs === INIT_USER_NS ? null : creds.userNs;
}

/**
 * Whether creds may change the tree of mount namespace ns (Linux's may_mount): CAP_SYS_ADMIN
 * over the user namespace that owns it.
 */
export function mayMount(creds: Credentials, ns: MountNamespace | null): boolean {
  const owner = (ns?.owner ?? INIT_USER_NS) as UserNamespace;
  return creds.capableIn(owner, CAP_SYS_ADMIN);
}

/** setns(2) into mount namespace ns: root and cwd become its root (Linux's mntns_install). */
export function joinMountNs(fs: FsContext, ns: MountNamespace): void {
  fs.root = fs.cwd = new Location(ns.root, ns.root.root);
  fs.mntns = ns;
}
