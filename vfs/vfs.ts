/**
 * The virtual filesystem: the mount tree and the path-based operations the syscalls use
 * (open, stat, readlink, access, chdir, exec). Analogous to gVisor's vfs.VirtualFilesystem and
 * to the path half of Linux's fs/open.c, fs/stat.c and fs/namei.c.
 *
 * Every operation takes a {@linkcode PathContext} (the caller's root and credentials) and a
 * start directory (the caller's cwd or dirfd); the syscall layer decides those. Errors are
 * thrown as LinuxError singletons in Linux's order of checks.
 *
 * Synchronous on purpose: no operation awaits, so the tree cannot change under a walk.
 *
 * @module
 */

import { BlockDeviceTable } from "./block/table.ts";
import { NsInodes } from "../kernel/user_namespace.ts";
import {
  EACCES, EADDRINUSE, EBUSY, ECONNREFUSED, EEXIST, EINVAL, EISDIR, ELOOP, ENODATA, ENOENT, ENOTDIR,
  ENOSPC, ENOTEMPTY, EOPNOTSUPP, EPERM, EROFS, EXDEV,
} from "../kernel/errno.ts";
import type { Credentials } from "../kernel/creds.ts";
import {
  AT_EACCESS, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, FS_APPEND_FL, FS_IMMUTABLE_FL, O_ACCMODE, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECT, O_DIRECTORY,
  O_EXCL, O_LARGEFILE, O_NOATIME, O_NOCTTY, O_NOFOLLOW, O_PATH, O_RDONLY, O_TMPFILE, O_TRUNC,
  O_WRONLY, RENAME_EXCHANGE, RENAME_NOREPLACE, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT,
  S_IFREG, S_IFSOCK, S_ISGID, S_ISUID, S_IXGRP, XATTR_CREATE, XATTR_REPLACE,
} from "../abi/linux/file.ts";
import type { Dentry, Filesystem, FsStat, NewFile } from "./dentry.ts";
import { BPF_DEVCG_ACC_MKNOD, BPF_DEVCG_ACC_READ, BPF_DEVCG_ACC_WRITE } from "../abi/linux/bpf.ts";
import type { FileDescription, Stat } from "./file_description.ts";
import {
  fsnotifyChange, fsnotifyCreate, fsnotifyLink, fsnotifyOpen, fsnotifyRemove, fsnotifyRename, IN_ACCESS, IN_ATTRIB,
  IN_MODIFY,
} from "./fsnotify.ts";
import { attachMount, detachMount, Location, Mount, MOUNT_MAX, MountNamespace } from "./mount.ts";
import {
  changePropagation, CL_SHARED_TO_SLAVE, dropPropagation, GroupIds, makeShared, propagationTargets, receivers,
  setClonePropagation,
} from "./propagation.ts";
import { MS_NOATIME, MS_NODEV, MS_NODIRATIME, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_STRICTATIME } from "../abi/linux/mount.ts";
import { OPathFile } from "./opath_file.ts";
import { checkNotWritten, checkWriteAccess } from "./inode_use.ts";
import { checkSearch, type ParentWalk, type PathContext, walk, walkOrMissing, walkParent } from "./path_walk.ts";
import {
  checkAttrsChangeable, checkMayDelete, checkNotImmutable, checkPermission, checkUtimes, inodeFlagsOf, chmodBits, chownChange, explicitTimes, isOwnerOrRoot, MAY_EXEC, MAY_READ, MAY_WRITE, mayAccess, mayHardlink,
} from "./permissions.ts";
import { HostFilesystem, type HostIdMap } from "./hostfs/hostfs.ts";
import { OverlayFilesystem } from "./overlay/overlay.ts";
import { TmpfsFilesystem } from "./tmpfs/tmpfs.ts";
import { hostStdio, type OutputMeter } from "./host_file.ts";
import { nowNs } from "./tmpfs/tmpfs.ts";
import { CAP_FSETID, CAP_LINUX_IMMUTABLE, CAP_MKNOD, CAP_SYS_ADMIN } from "../abi/linux/capability.ts";
import {
  checkLandlock, checkLandlockRefer, FS_IOCTL_DEV, FS_MAKE_REG, landlockAllows, FS_READ_DIR, FS_READ_FILE, FS_TRUNCATE, FS_WRITE_FILE, makeRight,
  removeRight,
} from "../kernel/landlock.ts";
import {
  type Acl, aclChmod, aclCreate, aclMode, aclToXattr, aclTypeOf, checkAclValid, checkDefaultAclTarget, parseAclXattr,
  XATTR_POSIX_ACL_ACCESS, XATTR_POSIX_ACL_DEFAULT,
} from "./posix_acl.ts";

/** Flags an O_PATH open keeps (Linux's O_PATH_FLAGS); the rest are ignored. */
/** The inode flags tmpfs keeps (SHMEM_FL_USER_MODIFIABLE without FS_CASEFOLD_FL). */
const O_PATH_FLAGS = O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC;
/** Flags that act at open time only and are not kept in the description (F_GETFL). */
const OPEN_ONLY_FLAGS = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC;

/** A time for {@linkcode VirtualFilesystem.utimes}: nanoseconds, or UTIME_NOW / UTIME_OMIT. */
export type TimeSpec = bigint | "now" | "omit";

/** What {@linkcode VirtualFilesystem.openExecutable} returns to the ELF loader. */
export interface Executable {
  /** Open for reading (even when the file is execute-only, as execve's open is). */
  file: FileDescription;
  location: Location;
  /** The file's host path, for diagnostics; null when it has none. */
  hostPath: string | null;
}

/** The inode number /proc/PID/ns/mnt shows for the first mount namespace (Linux's boot numbering). */
export const MNT_NS_INIT_INO = 4026531841;

/** The three kinds of mount propagation change mount(2) makes. */
export type PropagationType = "shared" | "slave" | "private" | "unbindable";

/** @savable The mount tree and the operations on paths. */
export class VirtualFilesystem {
  /** Immutable. The first mount namespace: init's, the one boot mounts into and a checkpoint saves. */
  readonly initNs: MountNamespace;
  /**
   * Immutable. The first namespace's root mount at boot (the host tree or its overlay): a
   * checkpoint saves the tree only while it is still the root (pivot_root can change that).
   */
  readonly bootRoot: Mount;
  #nextMountId = 1;
  /**
   * Where a new mount namespace takes its inode number (Linux's proc_inum ida): the kernel's,
   * shared with every other kind of namespace, once the kernel sets it.
   */
  nsInodes = new NsInodes();
  /** Peer group ids in use (vfs/propagation.ts). */
  readonly groupIds = new GroupIds();
  /** The sandbox's block devices (loop), as every devfs and sysfs instance shows them. */
  readonly blockDevices = new BlockDeviceTable();
  /** The last rename's inotify cookie (IN_MOVED_FROM and IN_MOVED_TO of one move share it). */
  #moveCookie = 0;

  private constructor(rootFs: Filesystem, readonly: boolean) {
    const root = new Mount({
      id: this.#nextMountId++, fs: rootFs, root: rootFs.root, parent: null, mountpoint: null, readonly,
    });
    this.initNs = new MountNamespace(MNT_NS_INIT_INO, root);
    root.ns = this.initNs;
    this.bootRoot = root;
  }

  /**
   * A tree whose root is the host directory rootHostPath: read-only (EROFS) when readonly, else
   * an overlay of a writable upper layer over it (the host tree never changes). The upper
   * layer is memory, or the host directory upperHostPath (written through held descriptors,
   * see vfs/hostfs). upperSizeLimit caps an in-memory upper layer as tmpfs's size= (ENOSPC).
   * Throws a LinuxError when a directory cannot be opened.
   *
   * mountPoints (with readonly): the read-only root still gets an in-memory upper layer, and
   * its mount stays writable until {@linkcode sealBootRoot}, so that boot can create the mount
   * points config.json names and the root lacks, as runc creates them in the rootfs before it
   * remounts it read-only (`podman run --read-only` mounts /run on images without one); the
   * host tree still never changes.
   */
  static create(
    o: {
      rootHostPath: string; readonly: boolean; upperHostPath?: string | null; upperSizeLimit?: number;
      mountPoints?: boolean; idMap?: HostIdMap | null;
    },
  ): VirtualFilesystem {
    const idMap = o.idMap ?? null;
    const lower = HostFilesystem.open(o.rootHostPath, { idMap });
    if (o.readonly && !o.mountPoints) return new VirtualFilesystem(lower, true);
    try {
      const upper = o.upperHostPath && !o.readonly
        ? HostFilesystem.open(o.upperHostPath, { writable: true, idMap })
        : new TmpfsFilesystem({ sizeLimit: o.upperSizeLimit ?? Infinity });
      try {
        return new VirtualFilesystem(new OverlayFilesystem(lower, upper), false);
      } catch (e) {
        upper.release();
        throw e;
      }
    } catch (e) {
      lower.release();
      throw e;
    }
  }

  /** Makes the boot root mount read-only, once boot created its mount points (create's mountPoints). */
  sealBootRoot(): void {
    this.bootRoot.readonly = true;
  }

  /** A tree whose root is fs (tests, and filesystems assembled by the caller). */
  static withRoot(fs: Filesystem, readonly = false): VirtualFilesystem {
    return new VirtualFilesystem(fs, readonly);
  }

  /** The root of the first namespace's tree (init's root and cwd start here). */
  root(): Location {
    const r = this.initNs.root;
    return new Location(r, r.root);
  }

  /**
   * Mounts fs (its root, or the subtree at root) on at: a directory on a directory, or a
   * non-directory (a file bind mount) on a non-directory; ENOTDIR otherwise, as Linux's
   * graft_tree. Stacks on an existing mount there, and propagates to the mounts that receive
   * at's events (vfs/propagation.ts). Permission checks are the caller's (mount(2) needs
   * CAP_SYS_ADMIN).
   */
  mount(at: Location, fs: Filesystem, o: { readonly: boolean; root?: Dentry; flags?: number; source?: string }): Mount {
    const root = o.root ?? fs.root;
    if (at.isDir !== root.isDir) throw ENOTDIR;
    const m = this.detachedMount(fs, { ...o, root });
    this.#attachTree(m, topmost(at), false);
    return m;
  }

  /**
   * A bind mount of src on at (Linux's do_loopback): a copy of src's mount showing src's
   * subtree, with the submounts under it when recursive (unbindable ones left out). The copy is
   * a peer of a shared source and a slave of a slave's master. EINVAL for an unbindable source.
   */
  bind(at: Location, src: Location, recursive: boolean): Mount {
    if (src.mount.unbindable) throw EINVAL;
    if (!recursive && hasLockedChildren(src)) throw EINVAL;
    if (at.isDir !== src.isDir) throw ENOTDIR;
    const m = this.cloneDetached(src, recursive);
    try {
      this.#attachTree(m, topmost(at), false);
    } catch (e) {
      this.#discard(m);
      throw e;
    }
    return m;
  }

  /**
   * A detached copy of src's mount showing src's subtree (with its submounts when recursive),
   * its top unlocked: made by this namespace (Linux's __do_loopback). The caller checks
   * unbindable and locked children.
   */
  cloneDetached(src: Location, recursive: boolean): Mount {
    const m = recursive ? this.copyTree(src.mount, src.dentry, 0) : this.cloneMount(src.mount, src.dentry, 0);
    m.locked = false;
    return m;
  }

  /**
   * Moves the (attached or detached) tree whose top is m onto at, with propagation to at's
   * receivers as a mount (Linux's do_move_mount; the caller checks what may move).
   */
  moveMount(m: Mount, at: Location): void {
    this.#attachTree(m, topmost(at), true);
  }

  /**
   * move_mount's MOVE_MOUNT_BENEATH: m takes top's place on top's parent (with the propagation
   * an attach there makes), and top goes onto the topmost mount of m's root, so that top still
   * covers the path and m shows once top is unmounted. The caller has checked
   * (can_move_mount_beneath).
   */
  moveMountBeneath(m: Mount, top: Mount): void {
    const at = new Location(top.parent!, top.mountpoint!);
    this.#attachTree(m, at, true);
    let under = m;
    for (let c = under.children.get(under.root); c !== undefined; c = under.children.get(under.root)) under = c;
    attachMount(top, new Location(under, under.root));
    top.ns?.changed();
  }

  /**
   * pivot_root(2)'s change of the tree (Linux's pivot_root after its checks): newMnt leaves its
   * parent and takes rootMnt's place (for the root of the namespace, the place of its root),
   * and rootMnt goes onto putOld, with no propagation (attach_mnt). A locked root passes its
   * lock to newMnt. The caller has checked that putOld is under newMnt and newMnt under rootMnt.
   */
  pivotRoot(ns: MountNamespace, newMnt: Mount, rootMnt: Mount, putOld: Location): void {
    const rootParent = rootMnt.parent, rootMp = rootMnt.mountpoint;
    detachMount(newMnt);
    detachMount(rootMnt);
    if (rootMnt.locked) {
      newMnt.locked = true;
      rootMnt.locked = false;
    }
    attachMount(rootMnt, putOld);
    if (rootParent === null || rootMp === null) ns.root = newMnt;
    else attachMount(newMnt, new Location(rootParent, rootMp));
    ns.changed();
  }

  /**
   * A detached mount of fs (fsmount(2), open_tree(2)'s clones): the root of a tree of its own,
   * reached only through descriptors until move_mount attaches it.
   */
  detachedMount(fs: Filesystem, o: { readonly: boolean; root?: Dentry; flags?: number; source?: string }): Mount {
    return new Mount({
      id: this.#nextMountId++, fs, root: o.root ?? fs.root, parent: null, mountpoint: null,
      readonly: o.readonly, flags: o.flags ?? 0, source: o.source ?? fs.name,
    });
  }

  /** A detached copy of old showing its subtree at root, related to old as `flag` says (clone_mnt). */
  cloneMount(old: Mount, root: Dentry, flag: number): Mount {
    const m = this.detachedMount(old.fs, { readonly: old.readonly, root, flags: old.flags, source: old.source });
    setClonePropagation(m, old, flag, this.groupIds);
    // clone_mnt copies the locks (a bind clears the top's MNT_LOCKED: bind()).
    m.locked = old.locked;
    m.lockedFlags = old.lockedFlags;
    m.atimeLocked = old.atimeLocked;
    return m;
  }

  /**
   * A detached copy of old at root with every submount under root (Linux's copy_tree), each
   * copy related to its original as `flag` says. Unbindable submounts are left out unless
   * `all`; `map` receives original → copy.
   */
  copyTree(old: Mount, root: Dentry, flag: number, o: { all?: boolean; map?: Map<Mount, Mount> } = {}): Mount {
    const top = this.cloneMount(old, root, flag);
    o.map?.set(old, top);
    // Without recursion: mounts may nest thousands deep.
    const work: Array<[Mount, Mount]> = [[old, top]];
    for (let i = 0; i < work.length; i++) {
      const [from, to] = work[i]!;
      for (const [at, child] of from.children) {
        if (from === old && !isAncestor(root, at)) continue;
        if (child.unbindable && !o.all) continue;
        const c = this.cloneMount(child, child.root, flag);
        o.map?.set(child, c);
        attachMount(c, new Location(to, at));
        work.push([child, c]);
      }
    }
    return top;
  }

  /** Drops a tree that was never attached (a failed bind): its propagation relations go. */
  #discard(m: Mount): void {
    for (const x of subtree(m)) dropPropagation(x, this.groupIds);
  }

  /**
   * Attaches the tree whose top is source on at (Linux's attach_recursive_mnt): under a shared
   * mount the tree becomes shared and copies go to every mount receiving at's events, each
   * placed under whatever is already mounted there. ENOSPC when a namespace would pass
   * MOUNT_MAX; nothing changes then.
   */
  #attachTree(source: Mount, at: Location, moving: boolean): void {
    const dest = at.mount, d = at.dentry;
    const ns = dest.ns;
    if (ns === null) {
      // Onto a detached tree (move_mount between detached mounts): no namespace, no propagation.
      attachMount(source, at);
      return;
    }
    const size = subtree(source).length;
    const add = new Map<MountNamespace, number>();
    if (source.ns !== ns) add.set(ns, size);
    if (dest.shared) {
      for (const { on } of propagationTargets(dest, d, source, () => source)) {
        add.set(on.ns!, (add.get(on.ns!) ?? 0) + size);
      }
    }
    for (const [n, k] of add) if (n.count + k > MOUNT_MAX) throw ENOSPC;
    let made: Array<{ copy: Mount; on: Mount }> = [];
    if (dest.shared) {
      for (const x of subtree(source)) makeShared(x, this.groupIds);
      made = propagationTargets(dest, d, source, (s) => this.copyTree(s.from, s.from.root, s.flag, { all: true }));
    }
    const oldNs = source.ns;
    attachMount(source, at);
    if (oldNs !== ns) {
      for (const x of subtree(source)) x.ns = ns;
      if (oldNs !== null) oldNs.count -= size;
      ns.count += size;
    }
    const touched = new Set<MountNamespace>([ns]);
    if (oldNs !== null) touched.add(oldNs);
    for (const { copy, on } of made) {
      for (const x of subtree(copy)) x.ns = on.ns;
      // Into a namespace of another owner: the tree's flags and its submounts are locked there,
      // its top is not (attach_recursive_mnt's lock_mnt_tree).
      if (on.ns!.owner !== ns.owner) {
        lockTree(copy);
        copy.locked = false;
      }
      const q = on.children.get(d);
      attachMount(copy, new Location(on, d));
      if (q !== undefined) {
        // The copy goes under what is mounted there already (Linux's mnt_change_mountpoint).
        let top = copy;
        for (let c = top.children.get(top.root); c !== undefined; c = top.children.get(top.root)) top = c;
        attachMount(q, new Location(top, top.root));
      }
      on.ns!.count += size;
      touched.add(on.ns!);
    }
    void moving;
    for (const n of touched) n.changed();
  }

  /**
   * Unmounts m (Linux's umount_tree with UMOUNT_PROPAGATE): with detach its whole subtree, else
   * m alone (the caller has checked it has no submounts). What is mounted at the same place in
   * each mount receiving the parent's events goes too, unless it has submounts of its own that
   * stay; without detach, one of those in use (`busy`) makes the whole call EBUSY.
   */
  umount(m: Mount, detach: boolean, busy: (m: Mount) => boolean): void {
    const set = detach ? subtree(m) : [m];
    const inSet = new Set(set);
    // The mounts whose child at a dentry was looked at: whatever receives the events of one of
    // them was looked at with it (its peers and slaves are among the receivers that found it),
    // so each is looked at once (a chain of thousands of slaves would be walked again for each).
    const examined = new Map<Dentry, Set<Mount>>();
    // Mounts tucked under another (a propagated copy placed beneath what was there): the one
    // on top takes the unmounted one's place (propagate_umount's find_topper).
    const toppers: Array<{ topper: Mount; at: Location }> = [];
    for (let i = 0; i < set.length; i++) {
      const u = set[i]!;
      const p = u.parent, d = u.mountpoint;
      if (p === null || d === null || (p.group === null && p.slaves.size === 0)) continue;
      let ex = examined.get(d);
      if (ex === undefined) examined.set(d, ex = new Set());
      if (ex.has(p)) continue;
      for (const r of [p, ...receivers(p)]) {
        if (ex.has(r)) continue;
        ex.add(r);
        const c = r.children.get(d);
        if (c === undefined || inSet.has(c) || c.ns === null) continue;
        // A locked mount goes only with what it sits on.
        if (c.locked && !inSet.has(r)) continue;
        const stay = [...c.children.values()].filter((x) => !inSet.has(x));
        if (stay.length > 1 || (stay.length === 1 && stay[0]!.mountpoint !== c.root)) continue;
        if (stay.length === 1) toppers.push({ topper: stay[0]!, at: new Location(r, d) });
        set.push(c);
        inSet.add(c);
      }
    }
    if (!detach && set.some((x) => x !== m && busy(x))) throw EBUSY;
    const touched = new Set<MountNamespace>();
    for (const u of set.reverse()) {
      // A lazy unmount leaves a locked mount on its parent when both go (disconnect_mount): a
      // descriptor into the tree still finds it covering what it hid.
      const keep = detach && u.locked && u.parent !== null && inSet.has(u.parent);
      if (!keep && u.parent !== null && u.mountpoint !== null && u.parent.children.get(u.mountpoint) === u) {
        u.parent.children.delete(u.mountpoint);
      }
      u.umounted = true;
      if (u.ns !== null) {
        u.ns.count--;
        touched.add(u.ns);
      }
      u.ns = null;
      dropPropagation(u, this.groupIds);
    }
    for (const { topper, at } of toppers) if (!topper.umounted && !at.mount.umounted) attachMount(topper, at);
    for (const n of touched) n.changed();
  }

  /** Changes the propagation type of m, and with recursive of every mount under it (mount(2)'s MS_REC). */
  /** m and every mount under it, parents first (mount_setattr's AT_RECURSIVE). */
  subtreeOf(m: Mount): Mount[] {
    return subtree(m);
  }

  setPropagation(m: Mount, type: PropagationType, recursive: boolean): void {
    for (const x of recursive ? subtree(m) : [m]) changePropagation(x, type, this.groupIds);
    m.ns?.changed();
  }

  /**
   * A copy of ns for unshare(2) or clone(2) with CLONE_NEWNS (Linux's copy_mnt_ns): every mount,
   * unbindable ones too, each a peer of a shared original and a slave of a slave's master.
   * Returns it with the map of original → copy (for the caller's root and cwd).
   */
  copyNamespace(ns: MountNamespace, owner: object | null = ns.owner): { ns: MountNamespace; map: Map<Mount, Mount> } {
    const map = new Map<Mount, Mount>();
    // For a less privileged owner (another user namespace), shared mounts come as slaves and
    // the tree is locked (copy_mnt_ns's CL_SHARED_TO_SLAVE and lock_mnt_tree).
    const unprivileged = owner !== ns.owner;
    const root = this.copyTree(ns.root, ns.root.root, unprivileged ? CL_SHARED_TO_SLAVE : 0, { all: true, map });
    if (unprivileged) lockTree(root);
    const copy = new MountNamespace(this.nsInodes.next(), root, owner);
    const all = subtree(root);
    for (const x of all) x.ns = copy;
    copy.count = all.length;
    return { ns: copy, map };
  }

  /** Whether m or a mount under it is unbindable (Linux's tree_contains_unbindable). */
  treeHasUnbindable(m: Mount): boolean {
    return subtree(m).some((x) => x.unbindable);
  }

  /** Whether m is in ns's tree (Linux's check_mnt); any namespace's when ns is omitted. */
  isAttached(m: Mount, ns?: MountNamespace): boolean {
    return m.ns !== null && (ns === undefined || m.ns === ns);
  }

  /** Every mount of the first namespace, parents before children. */
  mounts(): Mount[] {
    return this.initNs.mounts();
  }

  /**
   * Implements the path part of openat(2). mode is the creation mode with the umask already
   * applied. Returns a new description (one reference, for the caller to install).
   */
  openAt(ctx: PathContext, dir: Location, path: string, flags: number, mode: number): FileDescription {
    const f = this.#openAt(ctx, dir, path, flags, mode);
    f.openerCreds = ctx.creds;
    return f;
  }

  #openAt(ctx: PathContext, dir: Location, path: string, flags: number, mode: number): FileDescription {
    if ((flags & O_TMPFILE) === O_TMPFILE) return this.#openTmpfile(ctx, dir, path, flags, mode);
    if (flags & O_PATH) {
      const f = flags & O_PATH_FLAGS;
      const loc = walk(ctx, dir, path, (f & O_NOFOLLOW) === 0);
      if ((f & O_DIRECTORY) && !loc.isDir) throw ENOTDIR;
      return fsnotifyOpen(new OPathFile(loc, f & ~O_CLOEXEC));
    }
    if ((flags & (O_CREAT | O_DIRECTORY)) === (O_CREAT | O_DIRECTORY)) throw EINVAL;

    let loc: Location;
    if (flags & O_CREAT) {
      const r = walkOrMissing(ctx, dir, path, (flags & (O_EXCL | O_NOFOLLOW)) === 0);
      if (!(r instanceof Location)) {
        if (r.mustBeDir) throw EISDIR;
        const p = r.parent;
        if (p.mount.isReadonly) throw EROFS;
        checkNotImmutable(p.dentry, MAY_WRITE);
        checkPermission(ctx.creds, MAY_WRITE | MAY_EXEC, p.dentry.mode, p.dentry.uid, p.dentry.gid, p.dentry.acl);
        checkLandlock(ctx.landlock, p, FS_MAKE_REG);
        const attrs = newFileAttrs(ctx, p.dentry, S_IFREG | (mode & 0o7777));
        const d = fsnotifyCreate(p.dentry, inheritAcls(p.dentry.create(r.name, attrs), attrs));
        // A file this call created is opened whatever its mode says (Linux's may_open skip).
        const f = fsnotifyOpen(d.open(new Location(p.mount, d), (flags & ~OPEN_ONLY_FLAGS) | O_LARGEFILE));
        f.created = true;
        return f;
      }
      if (flags & O_EXCL) throw EEXIST;
      loc = r;
      if (loc.isDir) throw EISDIR;
    } else {
      loc = walk(ctx, dir, path, (flags & O_NOFOLLOW) === 0);
    }
    return this.#openResolved(ctx, loc, flags);
  }

  /**
   * open_by_handle_at(2)'s open of the file a handle names (Linux's file_open_root with an empty
   * name: the location itself is the last component, so O_CREAT finds it existing).
   */
  openLocation(ctx: PathContext, loc: Location, flags: number): FileDescription {
    let f: FileDescription;
    if ((flags & O_TMPFILE) === O_TMPFILE) {
      f = this.#openTmpfile(ctx, loc, ".", flags, 0);
    } else if (flags & O_PATH) {
      if ((flags & O_DIRECTORY) && !loc.isDir) throw ENOTDIR;
      f = fsnotifyOpen(new OPathFile(loc, flags & O_PATH_FLAGS & ~O_CLOEXEC));
    } else {
      if ((flags & (O_CREAT | O_DIRECTORY)) === (O_CREAT | O_DIRECTORY)) throw EINVAL;
      if (flags & O_CREAT) {
        if (flags & O_EXCL) throw EEXIST;
        if (loc.isDir) throw EISDIR;
      }
      f = this.#openResolved(ctx, loc, flags);
    }
    f.openerCreds = ctx.creds;
    return f;
  }

  /** The open of an existing file, after the walk: type, permission and mount checks. */
  #openResolved(ctx: PathContext, loc: Location, flags: number): FileDescription {
    const d = loc.dentry;
    const type = d.mode & S_IFMT;
    if (type === S_IFLNK) throw ELOOP; // Only reachable with O_NOFOLLOW.
    if ((type === S_IFCHR || type === S_IFBLK) && loc.mount.nodev) throw EACCES;
    if ((flags & O_DIRECTORY) && type !== S_IFDIR) throw ENOTDIR;
    const acc = flags & O_ACCMODE;
    let want = acc === O_WRONLY ? 0 : MAY_READ;
    if (acc !== O_RDONLY || (flags & O_TRUNC)) want |= MAY_WRITE;
    if (type === S_IFDIR && (want & MAY_WRITE)) throw EISDIR;
    if ((want & MAY_WRITE) && (type === S_IFREG || type === S_IFDIR) && loc.mount.isReadonly) throw EROFS;
    checkNotImmutable(d, want);
    d.checkAccess(ctx.creds, want);
    if (ctx.devices && (type === S_IFCHR || type === S_IFBLK)) checkDevice(ctx, d, want);
    // may_open: an append-only file opens for writing only with O_APPEND, and never truncates.
    if (inodeFlagsOf(d) & FS_APPEND_FL) {
      if ((acc !== O_RDONLY && !(flags & O_APPEND)) || (flags & O_TRUNC)) throw EPERM;
    }
    if (ctx.landlock) {
      // Linux's hook_file_open (and hook_path_truncate for O_TRUNC).
      let access = 0;
      if (want & MAY_READ) access |= type === S_IFDIR ? FS_READ_DIR : FS_READ_FILE;
      if (acc !== O_RDONLY) access |= FS_WRITE_FILE;
      if ((flags & O_TRUNC) && type === S_IFREG) access |= FS_TRUNCATE;
      checkLandlock(ctx.landlock, loc, access);
    }
    if ((flags & O_NOATIME) && !isOwnerOrRoot(ctx.creds, d.uid)) throw EPERM;
    // A directory cannot do direct I/O (do_dentry_open: no FMODE_CAN_ODIRECT).
    if ((flags & O_DIRECT) && type === S_IFDIR) throw EINVAL;
    if (type === S_IFREG) {
      // do_dentry_open's get_write_access (a running program is ETXTBSY; so is O_TRUNC's
      // handle_truncate), then break_lease, before the truncation.
      if (acc !== O_RDONLY || (flags & O_TRUNC)) checkWriteAccess(d);
      ctx.breakLease?.(d, acc !== O_RDONLY);
    }
    if ((flags & O_TRUNC) && type === S_IFREG) d.setattr({ size: 0 });
    const f = fsnotifyOpen(d.open(loc, (flags & ~OPEN_ONLY_FLAGS) | O_LARGEFILE), (flags & O_TRUNC) !== 0);
    if (ctx.landlock) {
      // The rights the file keeps from its open (Linux's hook_file_open): truncate for a regular
      // file, ioctl for a device.
      const optional = type === S_IFREG ? FS_TRUNCATE : type === S_IFCHR || type === S_IFBLK ? FS_IOCTL_DEV : 0;
      for (const r of [FS_TRUNCATE, FS_IOCTL_DEV]) {
        if ((optional & r) && !landlockAllows(ctx.landlock, loc, r)) f.landlockDenied |= r;
      }
    }
    return f;
  }

  /**
   * open(2) with O_TMPFILE: an unnamed regular file in the directory at path (Linux's
   * do_o_tmpfile order: EROFS, then write+search permission, then the filesystem's support),
   * which linkat(2) can name later unless O_EXCL.
   */
  #openTmpfile(ctx: PathContext, dir: Location, path: string, flags: number, mode: number): FileDescription {
    if ((flags & O_ACCMODE) === O_RDONLY) throw EINVAL;
    const loc = walk(ctx, dir, path, true);
    if (!loc.isDir) throw ENOTDIR;
    if (loc.mount.isReadonly) throw EROFS;
    const p = loc.dentry;
    checkNotImmutable(p, MAY_WRITE);
    checkPermission(ctx.creds, MAY_WRITE | MAY_EXEC, p.mode, p.uid, p.gid, p.acl);
    const attrs = newFileAttrs(ctx, p, S_IFREG | (mode & 0o7777));
    const d = inheritAcls(p.createTmpfile(attrs, (flags & O_EXCL) === 0), attrs);
    return fsnotifyOpen(d.open(new Location(loc.mount, d), (flags & ~OPEN_ONLY_FLAGS) | O_LARGEFILE));
  }

  /**
   * Implements the path part of stat(2), lstat(2), newfstatat(2), statx(2). emptyPath: an
   * empty path names dir itself (AT_EMPTY_PATH).
   */
  statAt(ctx: PathContext, dir: Location, path: string, opts: { follow: boolean; emptyPath: boolean }): Stat {
    if (path === "") {
      if (!opts.emptyPath) throw ENOENT;
      return dir.dentry.stat();
    }
    return walk(ctx, dir, path, opts.follow).dentry.stat();
  }

  /** Implements readlinkat(2): EINVAL if not a symlink. An empty path names dir (ENOENT if not a link). */
  readlinkAt(ctx: PathContext, dir: Location, path: string): string {
    if (path === "") {
      if (!dir.dentry.isSymlink) throw ENOENT;
      const target = dir.dentry.readlink();
      dir.dentry.symlinkRead(dir.mount.flags);
      return target;
    }
    const loc = walk(ctx, dir, path, false);
    if (!loc.dentry.isSymlink) throw EINVAL;
    const target = loc.dentry.readlink();
    loc.dentry.symlinkRead(loc.mount.flags);
    return target;
  }

  /**
   * Implements faccessat2(2). mode: F_OK or a mask of R_OK, W_OK, X_OK (validated by the
   * caller). flags: AT_EACCESS, AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH. Without AT_EACCESS the
   * check uses the real uid and gid, for the walk too, as Linux's access_override_creds().
   */
  accessAt(ctx: PathContext, dir: Location, path: string, mode: number, flags: number): void {
    const c = ctx.creds;
    const creds = (flags & AT_EACCESS) ? c : c.forAccess();
    const actx = creds === c ? ctx : { root: ctx.root, creds };
    let loc: Location;
    if (path === "" && (flags & AT_EMPTY_PATH)) loc = dir;
    else loc = walk(actx, dir, path, (flags & AT_SYMLINK_NOFOLLOW) === 0);
    if (mode === 0) {
      // F_OK still goes through inode_permission: the device cgroup is asked, for no access.
      const ft = ctx.devices ? loc.dentry.mode & S_IFMT : 0;
      if (ft === S_IFCHR || ft === S_IFBLK) checkDevice(ctx, loc.dentry, 0);
      return;
    }
    const d = loc.dentry;
    const type = d.mode & S_IFMT;
    if ((mode & MAY_WRITE) && (type === S_IFREG || type === S_IFDIR || type === S_IFLNK) && loc.mount.isReadonly) {
      throw EROFS;
    }
    checkNotImmutable(d, mode);
    d.checkAccess(creds, mode);
    if (ctx.devices && (type === S_IFCHR || type === S_IFBLK)) checkDevice(ctx, d, mode);
  }

  /** Resolves a directory to change into (chdir(2), the initial cwd): ENOTDIR, EACCES. */
  lookupDir(ctx: PathContext, dir: Location, path: string): Location {
    const loc = walk(ctx, dir, path, true);
    this.checkChdir(ctx, loc);
    return loc;
  }

  /** The checks fchdir(2) makes on a location it already has. */
  checkChdir(ctx: PathContext, loc: Location): void {
    const d = loc.dentry;
    if (!d.isDir) throw ENOTDIR;
    checkPermission(ctx.creds, MAY_EXEC, d.mode, d.uid, d.gid, d.acl);
  }

  /**
   * Resolves and opens a file for execve(2) and the ELF interpreter: it must be a regular file
   * the caller may execute (EACCES otherwise, as Linux for directories and devices).
   */
  openExecutable(ctx: PathContext, dir: Location, path: string, follow = true): Executable {
    const loc = walk(ctx, dir, path, follow);
    if (loc.dentry.isSymlink) throw ELOOP; // only without follow (execveat's AT_SYMLINK_NOFOLLOW)
    const d = loc.dentry;
    if (!d.isRegular || loc.mount.noexec) throw EACCES;
    if (!mayAccess(ctx.creds, MAY_EXEC, d.mode, d.uid, d.gid, d.acl)) throw EACCES;
    checkNotWritten(d); // do_open_execat's deny_write_access
    // IN_OPEN (FAN_OPEN_EXEC) as Linux's open_exec (and IN_CLOSE_NOWRITE when the loader lets go).
    return { file: fsnotifyOpen(d.open(loc, O_RDONLY | O_LARGEFILE), false, true), location: loc, hostPath: d.hostPath() };
  }

  // ---- Changing the tree (fs/namei.c) --------------------------------------------------------

  /**
   * Resolves (dir, path) to a location: follow the final symlink or not; an empty path names
   * dir when emptyPath (AT_EMPTY_PATH), else ENOENT.
   */
  resolve(ctx: PathContext, dir: Location, path: string, o: { follow: boolean; emptyPath?: boolean }): Location {
    if (path === "") {
      if (!o.emptyPath) throw ENOENT;
      return dir;
    }
    return walk(ctx, dir, path, o.follow);
  }

  /** The existing child p.name of p.parent (a normal name), after the search check; or null. */
  #lookupChild(ctx: PathContext, p: ParentWalk): Dentry | null {
    checkSearch(ctx.creds, p.parent.dentry);
    return p.parent.dentry.lookup(p.name);
  }

  /**
   * The common part of mkdir, mknod, symlink and the new name of link: the parent of a name
   * that must not exist, writable, with write and search permission (Linux's filename_create
   * and may_create). forDir: a trailing slash is allowed.
   */
  #createTarget(ctx: PathContext, dir: Location, path: string, forDir: boolean, mode: number): ParentWalk {
    const p = walkParent(ctx, dir, path);
    if (p.name === "." || p.name === ".." || p.name === "/") throw EEXIST;
    const existing = this.#lookupChild(ctx, p);
    if (existing !== null) throw EEXIST;
    if (p.trailingSlash && !forDir) throw ENOENT;
    if (p.parent.mount.isReadonly) throw EROFS;
    const d = p.parent.dentry;
    checkNotImmutable(d, MAY_WRITE);
    checkPermission(ctx.creds, MAY_WRITE | MAY_EXEC, d.mode, d.uid, d.gid, d.acl);
    checkLandlock(ctx.landlock, p.parent, makeRight(mode));
    return p;
  }

  /** Implements mkdirat(2). mode: permission bits with the umask applied. */
  mkdirAt(ctx: PathContext, dir: Location, path: string, mode: number): void {
    const p = this.#createTarget(ctx, dir, path, true, S_IFDIR);
    const attrs = newFileAttrs(ctx, p.parent.dentry, S_IFDIR | (mode & 0o7777));
    fsnotifyCreate(p.parent.dentry, inheritAcls(p.parent.dentry.mkdir(p.name, attrs), attrs));
  }

  /** Implements mknodat(2): regular files, FIFOs, sockets, and devices (root only). */
  mknodAt(ctx: PathContext, dir: Location, path: string, mode: number, rdev: number): void {
    const type = mode & S_IFMT;
    if (type === S_IFDIR) throw EPERM;
    if (type !== 0 && type !== S_IFREG && type !== S_IFIFO && type !== S_IFSOCK && type !== S_IFCHR && type !== S_IFBLK) {
      throw EINVAL;
    }
    const p = this.#createTarget(ctx, dir, path, false, type || S_IFREG);
    if ((type === S_IFCHR || type === S_IFBLK) && !ctx.creds.hasCap(CAP_MKNOD)) throw EPERM;
    // devcgroup_inode_mknod; a character device 0:0 is a whiteout, never checked.
    if (ctx.devices && (type === S_IFBLK || (type === S_IFCHR && rdev !== 0))) ctx.devices(type === S_IFBLK, rdev, BPF_DEVCG_ACC_MKNOD);
    const attrs = newFileAttrs(ctx, p.parent.dentry, (type || S_IFREG) | (mode & 0o7777));
    if (type === S_IFCHR || type === S_IFBLK) attrs.rdev = rdev;
    fsnotifyCreate(p.parent.dentry, inheritAcls(p.parent.dentry.mknod(p.name, attrs), attrs));
  }

  /**
   * bind(2) of an AF_UNIX socket to a path: creates a socket file holding endpoint
   * (EADDRINUSE if the name exists). mode: permission bits with the umask applied.
   */
  bindSocketAt(ctx: PathContext, dir: Location, path: string, mode: number, endpoint: unknown): Location {
    let p: ParentWalk;
    try {
      p = this.#createTarget(ctx, dir, path, false, S_IFSOCK);
    } catch (e) {
      throw e === EEXIST ? EADDRINUSE : e;
    }
    const attrs = newFileAttrs(ctx, p.parent.dentry, S_IFSOCK | (mode & 0o7777));
    attrs.socket = endpoint;
    return new Location(p.parent.mount, fsnotifyCreate(p.parent.dentry, inheritAcls(p.parent.dentry.mknod(p.name, attrs), attrs)));
  }

  /**
   * connect(2) to an AF_UNIX path: the endpoint bound there. Needs write permission on the
   * socket file; ECONNREFUSED when the file is not a socket or nothing is bound to it.
   */
  lookupSocketAt(ctx: PathContext, dir: Location, path: string): unknown {
    const d = walk(ctx, dir, path, true).dentry;
    checkPermission(ctx.creds, MAY_WRITE, d.mode, d.uid, d.gid, d.acl);
    if ((d.mode & S_IFMT) !== S_IFSOCK) throw ECONNREFUSED;
    const ep = d.boundSocket();
    if (ep === null || ep === undefined) throw ECONNREFUSED;
    return ep;
  }

  /** Implements symlinkat(2). */
  symlinkAt(ctx: PathContext, target: string, dir: Location, path: string): void {
    if (target === "") throw ENOENT;
    const p = this.#createTarget(ctx, dir, path, false, S_IFLNK);
    fsnotifyCreate(p.parent.dentry, p.parent.dentry.symlink(p.name, target, newFileAttrs(ctx, p.parent.dentry, S_IFLNK | 0o777)));
  }

  /** Implements linkat(2): `from` is the resolved existing file. */
  linkAt(ctx: PathContext, from: Location, dir: Location, path: string): void {
    const p = walkParent(ctx, dir, path);
    if (p.name === "." || p.name === ".." || p.name === "/") throw EEXIST;
    if (this.#lookupChild(ctx, p) !== null) throw EEXIST;
    if (p.trailingSlash) throw ENOENT;
    if (from.mount !== p.parent.mount) throw EXDEV;
    if (p.parent.mount.isReadonly) throw EROFS;
    const d = p.parent.dentry;
    checkNotImmutable(d, MAY_WRITE);
    checkPermission(ctx.creds, MAY_WRITE | MAY_EXEC, d.mode, d.uid, d.gid, d.acl);
    if (from.dentry.isDir) throw EPERM;
    if (!mayHardlink(ctx.creds, from.dentry)) throw EPERM;
    // vfs_link: an immutable or append-only file gets no new name.
    if (inodeFlagsOf(from.dentry) & (FS_APPEND_FL | FS_IMMUTABLE_FL)) throw EPERM;
    checkLandlockRefer(ctx.landlock, from.parent(), p.parent, from.dentry.mode, false);
    fsnotifyLink(from.dentry, d, d.link(p.name, from.dentry));
  }

  /** Throws EBUSY if the child of parent is a mount point or the caller's root. */
  #checkNotBusy(ctx: PathContext, parent: Location, child: Dentry): void {
    if (parent.mount.children.has(child)) throw EBUSY;
    if (ctx.root.mount === parent.mount && ctx.root.dentry === child) throw EBUSY;
  }

  /** Implements unlinkat(2) without AT_REMOVEDIR. */
  unlinkAt(ctx: PathContext, dir: Location, path: string): void {
    const p = walkParent(ctx, dir, path);
    if (p.name === "." || p.name === ".." || p.name === "/") throw EISDIR;
    if (p.parent.mount.isReadonly) throw EROFS;
    const child = this.#lookupChild(ctx, p);
    if (child === null) throw ENOENT;
    if (p.trailingSlash) throw child.isDir ? EISDIR : ENOTDIR;
    checkMayDelete(ctx.creds, p.parent.dentry, child);
    if (child.isDir) throw EISDIR;
    checkLandlock(ctx.landlock, p.parent, removeRight(child.mode));
    this.#checkNotBusy(ctx, p.parent, child);
    p.parent.dentry.unlink(p.name, child);
    fsnotifyRemove(p.parent.dentry, p.name, child);
  }

  /** Implements rmdir(2) and unlinkat(2) with AT_REMOVEDIR. */
  rmdirAt(ctx: PathContext, dir: Location, path: string): void {
    const p = walkParent(ctx, dir, path);
    if (p.name === ".") throw EINVAL;
    if (p.name === "..") throw ENOTEMPTY;
    if (p.name === "/") throw EBUSY;
    if (p.parent.mount.isReadonly) throw EROFS;
    const child = this.#lookupChild(ctx, p);
    if (child === null) throw ENOENT;
    checkMayDelete(ctx.creds, p.parent.dentry, child);
    if (!child.isDir) throw ENOTDIR;
    checkLandlock(ctx.landlock, p.parent, removeRight(child.mode));
    this.#checkNotBusy(ctx, p.parent, child);
    p.parent.dentry.rmdir(p.name, child);
    fsnotifyRemove(p.parent.dentry, p.name, child);
  }

  /** Implements renameat2(2). flags: RENAME_NOREPLACE, RENAME_EXCHANGE (validated here). */
  renameAt(ctx: PathContext, oldDir: Location, oldPath: string, newDir: Location, newPath: string, flags: number): void {
    if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) throw EINVAL;
    if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) throw EINVAL;
    const exchange = (flags & RENAME_EXCHANGE) !== 0;
    const op = walkParent(ctx, oldDir, oldPath);
    const np = walkParent(ctx, newDir, newPath);
    const normal = (n: string) => n !== "." && n !== ".." && n !== "/";
    if (!normal(op.name)) throw EBUSY;
    if (!normal(np.name)) throw (flags & RENAME_NOREPLACE) ? EEXIST : EBUSY;
    if (op.parent.mount !== np.parent.mount) throw EXDEV;
    if (op.parent.mount.isReadonly) throw EROFS;
    const src = this.#lookupChild(ctx, op);
    if (src === null) throw ENOENT;
    const dst = this.#lookupChild(ctx, np);
    if (exchange && dst === null) throw ENOENT;
    if ((flags & RENAME_NOREPLACE) && dst !== null) throw EEXIST;
    if (!src.isDir && (op.trailingSlash || (np.trailingSlash && !exchange))) throw ENOTDIR;
    if (exchange && dst !== null && !dst.isDir && np.trailingSlash) throw ENOTDIR;
    // A directory cannot move under itself; the target cannot be an ancestor of the source.
    const od = op.parent.dentry, nd = np.parent.dentry;
    if (isAncestor(src, nd)) throw EINVAL;
    if (dst !== null && isAncestor(dst, od)) throw exchange ? EINVAL : ENOTEMPTY;
    if (src === dst) return;
    checkMayDelete(ctx.creds, od, src);
    if (dst !== null) {
      checkMayDelete(ctx.creds, nd, dst);
      if (!exchange) {
        if (src.isDir && !dst.isDir) throw ENOTDIR;
        if (!src.isDir && dst.isDir) throw EISDIR;
      }
    } else {
      checkNotImmutable(nd, MAY_WRITE);
      checkPermission(ctx.creds, MAY_WRITE | MAY_EXEC, nd.mode, nd.uid, nd.gid, nd.acl);
    }
    // Moving a directory to another parent rewrites its "..": write permission on it (and on
    // the other one for an exchange).
    if (od !== nd) {
      if (src.isDir) {
        checkNotImmutable(src, MAY_WRITE);
        checkPermission(ctx.creds, MAY_WRITE, src.mode, src.uid, src.gid, src.acl);
      }
      if (exchange && dst !== null && dst.isDir) {
        checkNotImmutable(dst, MAY_WRITE);
        checkPermission(ctx.creds, MAY_WRITE, dst.mode, dst.uid, dst.gid, dst.acl);
      }
    }
    if (ctx.landlock) {
      // Linux's hook_path_rename: the move (and the exchanged file's move back), and the
      // removal of what it replaces.
      checkLandlockRefer(ctx.landlock, op.parent, np.parent, src.mode, true);
      if (exchange && dst !== null) checkLandlockRefer(ctx.landlock, np.parent, op.parent, dst.mode, true);
      else if (dst !== null) checkLandlock(ctx.landlock, np.parent, removeRight(dst.mode));
    }
    this.#checkNotBusy(ctx, op.parent, src);
    if (dst !== null) this.#checkNotBusy(ctx, np.parent, dst);
    // Hard links of one inode: rename does nothing (Linux's same-inode rule).
    if (dst !== null && !exchange && dst.fs === src.fs && dst.ino === src.ino && !src.isDir) return;
    od.rename(op.name, src, nd, np.name, dst, flags);
    fsnotifyRename(() => ++this.#moveCookie, od, op.name, nd, np.name, src, dst, exchange);
  }

  // ---- Attributes (fs/attr.c, fs/open.c, fs/utimes.c, fs/xattr.c) -----------------------------

  #checkWritable(loc: Location): void {
    if (loc.mount.isReadonly) throw EROFS;
  }

  /** Implements chmod(2) on a resolved file. EOPNOTSUPP for a symlink (fchmodat's AT_SYMLINK_NOFOLLOW). */
  chmod(ctx: PathContext, loc: Location, mode: number): void {
    const d = loc.dentry;
    if (d.isSymlink) throw EOPNOTSUPP;
    this.#checkWritable(loc);
    checkAttrsChangeable(d);
    const m = chmodBits(ctx.creds, d, mode);
    d.setattr({ mode: m });
    // An access ACL follows the new bits (Linux's posix_acl_chmod).
    const acl = d.acl;
    if (acl !== null) d.setAcl("access", aclChmod(acl, m));
    fsnotifyChange(d, IN_ATTRIB);
  }

  /** Implements chown(2) on a resolved file; -1 leaves an id unchanged. */
  chown(ctx: PathContext, loc: Location, uid: number, gid: number): void {
    const d = loc.dentry;
    this.#checkWritable(loc);
    checkAttrsChangeable(d);
    // chown of a non-directory (even to -1, -1) also clears set-ID bits (chownChange) and file
    // capabilities (ATTR_KILL_PRIV); a symlink keeps its mode.
    const killPriv = !d.isDir && !d.isSymlink;
    const attr = chownChange(ctx.creds, d, uid, gid, !killPriv);
    d.setattr(attr);
    if (killPriv && d.fileCaps) d.removexattr(XATTR_SECURITY_CAPABILITY);
    fsnotifyChange(d, attr.uid !== undefined || attr.gid !== undefined || attr.mode !== undefined ? IN_ATTRIB : 0);
  }

  /**
   * Implements utimensat(2) on a resolved file. Setting both to now needs ownership or write
   * permission (EACCES); explicit times need ownership (EPERM).
   */
  utimes(ctx: PathContext, loc: Location, atime: TimeSpec, mtime: TimeSpec): void {
    const d = loc.dentry;
    this.#checkWritable(loc);
    if (atime === "omit" && mtime === "omit") return;
    // notify_change: explicit times are refused on an immutable or append-only file, "now"
    // (ATTR_TOUCH) on an immutable one.
    if (explicitTimes(atime, mtime)) checkAttrsChangeable(d);
    else if (inodeFlagsOf(d) & FS_IMMUTABLE_FL) throw EPERM;
    checkUtimes(ctx.creds, d, explicitTimes(atime, mtime), d.acl);
    const now = nowNs();
    const attr: { atimeNs?: bigint; mtimeNs?: bigint } = {};
    if (atime !== "omit") attr.atimeNs = atime === "now" ? now : atime;
    if (mtime !== "omit") attr.mtimeNs = mtime === "now" ? now : mtime;
    d.setattr(attr);
    fsnotifyChange(d, atime === "omit" ? IN_MODIFY : mtime === "omit" ? IN_ACCESS : IN_ATTRIB);
  }

  /**
   * Implements truncate(2) on a resolved file (write permission); ftruncate checks its fd
   * instead. checkSize runs after every other check, just before the change (the syscall
   * layer's RLIMIT_FSIZE check, Linux's inode_newsize_ok).
   */
  truncate(ctx: PathContext, loc: Location, size: number, checkAccess = true, checkSize?: () => void): void {
    const d = loc.dentry;
    if (size < 0) throw EINVAL;
    if (d.isDir) throw EISDIR;
    if (!d.isRegular) throw EINVAL;
    if (checkAccess) {
      checkNotImmutable(d, MAY_WRITE);
      checkPermission(ctx.creds, MAY_WRITE, d.mode, d.uid, d.gid, d.acl);
    }
    // vfs_truncate and do_ftruncate: an append-only file keeps its size.
    if (inodeFlagsOf(d) & FS_APPEND_FL) throw EPERM;
    checkLandlock(ctx.landlock, loc, FS_TRUNCATE);
    this.#checkWritable(loc);
    // truncate(2) (vfs_truncate): get_write_access and break_lease; ftruncate's file has both.
    if (checkAccess) {
      checkWriteAccess(d);
      ctx.breakLease?.(d, true);
    }
    checkSize?.();
    const kill = privsToRemove(ctx.creds, d);
    d.setattr(kill === 0 ? { size } : { size, mode: d.mode & 0o7777 & ~kill });
    if (d.fileCaps) d.removexattr(XATTR_SECURITY_CAPABILITY);
    fsnotifyChange(d, kill === 0 ? IN_MODIFY : IN_MODIFY | IN_ATTRIB);
  }

  /**
   * Before a write (of at least one byte) to the regular file d: clears its set-ID bits as
   * {@linkcode privsToRemove} says (Linux's file_remove_privs; CAP_FSETID goes with fsuid 0).
   * File capabilities go too, whoever writes. One mode test in the common case.
   */
  removePrivs(creds: Credentials, d: Dentry): void {
    const kill = privsToRemove(creds, d);
    if (kill !== 0) d.setattr({ mode: d.mode & 0o7777 & ~kill });
    if (d.fileCaps) d.removexattr(XATTR_SECURITY_CAPABILITY);
  }

  /**
   * The permission check of the xattr calls (Linux's xattr_permission): user.* only on regular
   * files and directories, with read or write permission; trusted.* for root only;
   * security.* for all; other namespaces EOPNOTSUPP.
   */
  #xattrCheck(ctx: PathContext, loc: Location, name: string, write: boolean): void {
    const d = loc.dentry;
    if (write) checkAttrsChangeable(d);
    if (name.startsWith("trusted.")) {
      if (!ctx.creds.hasCap(CAP_SYS_ADMIN)) throw write ? EPERM : ENODATA;
    } else if (name.startsWith("user.")) {
      if (!d.isRegular && !d.isDir) throw write ? EPERM : ENODATA;
      checkPermission(ctx.creds, write ? MAY_WRITE : MAY_READ, d.mode, d.uid, d.gid, d.acl);
    } else if (!name.startsWith("security.")) {
      throw EOPNOTSUPP;
    }
    if (write) this.#checkWritable(loc);
  }

  /**
   * FS_IOC_SETFLAGS (Linux's ioctl_setflags and vfs_fileattr_set) on a file whose inodeFlags is
   * not null: EROFS, then the owner or CAP_FOWNER (EPERM), then CAP_LINUX_IMMUTABLE to change
   * FS_IMMUTABLE_FL or FS_APPEND_FL (EPERM), then the flags tmpfs keeps (shmem_fileattr_set's
   * EOPNOTSUPP for any other, casefolding included: no tmpfs here has an encoding).
   */
  setInodeFlags(ctx: PathContext, loc: Location, flags: number, prepare?: (d: Dentry) => void): void {
    this.#checkWritable(loc);
    const d = loc.dentry;
    // No fileattr_set (file_setattr(2); the ioctl is ENOTTY before): tmpfs's symlinks have none.
    if (d.inodeFlags === null || d.isSymlink) throw EOPNOTSUPP;
    if (!isOwnerOrRoot(ctx.creds, d.uid)) throw EPERM;
    const old = inodeFlagsOf(d);
    if (((old ^ flags) & (FS_APPEND_FL | FS_IMMUTABLE_FL)) && !ctx.creds.hasCap(CAP_LINUX_IMMUTABLE)) throw EPERM;
    // file_setattr(2)'s rest of fileattr_set_prepare and shmem_fileattr_set's fsx check.
    prepare?.(d);
    if (flags & ~d.settableInodeFlags) throw EOPNOTSUPP;
    d.setInodeFlags(flags);
  }

  /** Implements getxattr(2) on a resolved file. */
  getxattr(ctx: PathContext, loc: Location, name: string): Uint8Array {
    const type = aclTypeOf(name);
    if (type !== null) {
      const d = loc.dentry;
      if (!d.supportsAcl) throw EOPNOTSUPP;
      const acl = type === "access" ? d.acl : d.defaultAcl;
      if (acl === null) throw ENODATA;
      return aclToXattr(acl);
    }
    this.#xattrCheck(ctx, loc, name, false);
    return loc.dentry.getxattr(name);
  }

  /** Implements setxattr(2) on a resolved file; flags XATTR_CREATE, XATTR_REPLACE. */
  setxattr(ctx: PathContext, loc: Location, name: string, value: Uint8Array, flags: number): void {
    if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) throw EINVAL;
    const type = aclTypeOf(name);
    if (type !== null) return this.#setAcl(ctx, loc, type, value);
    this.#xattrCheck(ctx, loc, name, true);
    loc.dentry.setxattr(name, value, flags);
    fsnotifyChange(loc.dentry, IN_ATTRIB);
  }

  /** Implements listxattr(2) on a resolved file: the names the caller may see. */
  listxattr(ctx: PathContext, loc: Location): string[] {
    const d = loc.dentry;
    const acls = [];
    if (d.acl !== null) acls.push(XATTR_POSIX_ACL_ACCESS);
    if (d.defaultAcl !== null) acls.push(XATTR_POSIX_ACL_DEFAULT);
    return [...acls, ...d.listxattr().filter((n) => ctx.creds.hasCap(CAP_SYS_ADMIN) || !n.startsWith("trusted."))];
  }

  /**
   * setxattr(2) and removexattr(2) (value null) of system.posix_acl_access or _default (Linux's
   * vfs_set_acl and set_posix_acl): EOPNOTSUPP where ACLs cannot be kept (symlinks); a default
   * ACL only on a directory (EACCES; removing it elsewhere does nothing); the owner or
   * CAP_FOWNER (EPERM); a valid ACL (EINVAL). An access ACL sets the mode's permission bits and
   * is not kept when they say it all; set-group-ID goes unless the caller is in the file's group
   * or holds CAP_FSETID.
   */
  #setAcl(ctx: PathContext, loc: Location, type: "access" | "default", value: Uint8Array | null): void {
    this.#checkWritable(loc);
    checkAttrsChangeable(loc.dentry);
    let acl = value === null ? null : parseAclXattr(value);
    const d = loc.dentry;
    if (!d.supportsAcl) throw EOPNOTSUPP;
    if (type === "default" && !checkDefaultAclTarget(d.isDir, acl)) return;
    const c = ctx.creds;
    if (!isOwnerOrRoot(c, d.uid)) throw EPERM;
    if (acl !== null) checkAclValid(acl);
    const removal = acl === null;
    let mode = d.mode & 0o7777;
    if (type === "access") {
      if (acl !== null) {
        const m = aclMode(acl);
        mode = (mode & ~0o777) | m.bits;
        if (m.equiv) acl = null;
      }
      if (!c.inGroup(d.gid) && !c.hasCapOver(CAP_FSETID, d.uid, d.gid)) mode &= ~S_ISGID;
    }
    d.setAcl(type, acl, removal);
    if (mode !== (d.mode & 0o7777)) d.setattr({ mode });
    fsnotifyChange(d, IN_ATTRIB);
  }

  /** Implements removexattr(2) on a resolved file. */
  removexattr(ctx: PathContext, loc: Location, name: string): void {
    const type = aclTypeOf(name);
    if (type !== null) return this.#setAcl(ctx, loc, type, null);
    this.#xattrCheck(ctx, loc, name, true);
    loc.dentry.removexattr(name);
    fsnotifyChange(loc.dentry, IN_ATTRIB);
  }

  /** Implements statfs(2) for the filesystem of loc; readonly: the mount is read-only (ST_RDONLY). */
  statfs(loc: Location): FsStat & { readonly: boolean } {
    const st = loc.mount.fs.statfs?.() ?? {
      type: 0x858458f6 /* RAMFS_MAGIC: synthetic trees */, bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0,
      ffree: 0, namelen: 255,
    };
    return { ...st, readonly: loc.mount.isReadonly };
  }

  /** The sentry's own stdin, stdout or stderr as a description; see vfs/host_file.ts. */
  hostStdio(fd: 0 | 1 | 2, meter: OutputMeter | null = null): FileDescription {
    return hostStdio(fd, meter);
  }

  /** Releases every filesystem's host resources. The tree must not be used afterwards. */
  release(): void {
    for (const m of this.mounts().reverse()) m.fs.release();
  }
}

const XATTR_SECURITY_CAPABILITY = "security.capability";

/** A new file's attributes and the ACLs it inherits from its directory's default ACL. */
interface NewFileAcl extends NewFile {
  /** The access ACL to give the file (null: its mode says it all). */
  acl: Acl | null;
  /** A directory's default ACL (its parent's, verbatim). */
  defaultAcl: Acl | null;
}

/**
 * The owner and mode of a new file in parent (Linux's inode_init_owner): the caller's fsuid,
 * and the parent's group when it is set-group-ID (directories inherit the bit); a non-member
 * creating a set-group-ID file loses the bit. Then the umask, or instead, when the parent has a
 * default ACL, that ACL (Linux's posix_acl_create): the mode is cut down to it and the file
 * inherits it as its access ACL (a directory also as its default ACL).
 */
function newFileAttrs(ctx: PathContext, parent: Dentry, mode: number): NewFileAcl {
  const c = ctx.creds;
  let gid = c.fsgid;
  if (parent.mode & S_ISGID) {
    gid = parent.gid;
    if ((mode & S_IFMT) === S_IFDIR) mode |= S_ISGID;
  }
  if ((mode & S_IFMT) !== S_IFDIR && (mode & S_ISGID) && (mode & S_IXGRP) && !c.inGroup(gid) && !c.hasCapOver(CAP_FSETID, parent.uid, parent.gid)) {
    mode &= ~S_ISGID;
  }
  const dflt = (mode & S_IFMT) === S_IFLNK ? null : parent.defaultAcl;
  if (dflt === null) {
    return { mode: mode & ~((ctx.umask ?? 0) & 0o777), uid: c.fsuid, gid, acl: null, defaultAcl: null };
  }
  const made = aclCreate(dflt, mode);
  return {
    mode: (mode & ~0o777) | made.bits, uid: c.fsuid, gid, acl: made.acl,
    defaultAcl: (mode & S_IFMT) === S_IFDIR ? dflt : null,
  };
}

/** Gives the new file d the ACLs of attrs (a filesystem without ACLs has none to give). */
function inheritAcls<D extends Dentry>(d: D, attrs: NewFileAcl): D {
  if (attrs.acl !== null) d.setAcl("access", attrs.acl);
  if (attrs.defaultAcl !== null) d.setAcl("default", attrs.defaultAcl);
  return d;
}

/**
 * The set-ID bits a write or truncate by creds must clear from d (Linux's should_remove_suid
 * and setattr_should_drop_sgid): set-user-ID; set-group-ID when group execute is set or the
 * writer is not in the file's group. Nothing for a privileged writer (CAP_FSETID).
 */
function privsToRemove(creds: Credentials, d: Dentry): number {
  const m = d.mode;
  if ((m & (S_ISUID | S_ISGID)) === 0 || !d.isRegular || creds.hasCap(CAP_FSETID)) return 0;
  let kill = m & S_ISUID;
  if ((m & S_ISGID) && ((m & S_IXGRP) || !creds.inGroup(d.gid))) kill |= S_ISGID;
  return kill;
}

/**
 * Linux's lock_mnt_tree: every mount of m's tree keeps its ro, nosuid, nodev, noexec and
 * access-time flags, and every one but m is locked on its parent.
 */
function lockTree(m: Mount): void {
  for (const p of subtree(m)) {
    p.atimeLocked = true;
    p.lockedFlags |= (p.readonly ? MS_RDONLY : 0) | (p.flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC));
    if (p !== m) p.locked = true;
  }
}

/** Whether a locked mount sits on src's mount at or under src's dentry (has_locked_children). */
export function hasLockedChildren(src: Location): boolean {
  for (const [at, c] of src.mount.children) if (c.locked && isAncestor(src.dentry, at)) return true;
  return false;
}

/**
 * Whether a remount to `readonly` and `flags` keeps every locked flag of m (Linux's
 * can_change_locked_flags): a locked flag stays set, locked access-time flags stay as they are.
 */
export function mayChangeLockedFlags(m: Mount, readonly: boolean, flags: number): boolean {
  const want = (readonly ? MS_RDONLY : 0) | flags;
  if ((m.lockedFlags & ~want) !== 0) return false;
  const atime = MS_NOATIME | MS_NODIRATIME | MS_STRICTATIME;
  return !m.atimeLocked || (m.flags & atime) === (flags & atime);
}

/** m and every mount under it, parents first. */
function subtree(m: Mount): Mount[] {
  const out = [m];
  for (let i = 0; i < out.length; i++) for (const c of out[i]!.children.values()) out.push(c);
  return out;
}

/** Whether a is d or one of d's ancestors (same filesystem). */
function isAncestor(a: Dentry, d: Dentry): boolean {
  for (let x: Dentry | null = d; x !== null; x = x.parent) if (x === a) return true;
  return false;
}

/**
 * devcgroup_inode_permission, after the mode bits allowed `want` (MAY_READ | MAY_WRITE): the
 * caller's device cgroup may still refuse (EPERM). A device numbered 0 is never checked.
 */
function checkDevice(ctx: PathContext, d: Dentry, want: number): void {
  const st = d.stat();
  if (st.rdev === 0 || !ctx.devices) return;
  let access = 0;
  if (want & MAY_WRITE) access |= BPF_DEVCG_ACC_WRITE;
  if (want & MAY_READ) access |= BPF_DEVCG_ACC_READ;
  ctx.devices((st.mode & S_IFMT) === S_IFBLK, st.rdev, access);
}

/**
 * lock_mount: a mount goes on the topmost mount stacked at `at`. A walk ends there already but
 * for a path that starts where mounts are stacked and does not cross them: "/" in a chroot
 * whose root was mounted over, "." in a directory mounted over after it became the cwd.
 */
function topmost(at: Location): Location {
  for (let over = at.mount.children.get(at.dentry); over !== undefined; over = at.mount.children.get(at.dentry)) {
    at = new Location(over, over.root);
  }
  return at;
}
