/**
 * Mounts and locations. A {@linkcode Location} is a (mount, dentry) pair, like Linux's struct
 * path and gVisor's VirtualDentry: the same dentry seen through two mounts is two locations.
 *
 * The mount tree: every mount but the root one sits on a dentry (its mount point) of a parent
 * mount. A walk that reaches a mount point continues at the mounted filesystem's root, and `..`
 * from a mount's root continues from the mount point.
 *
 * @module
 */

import type { Dentry, Filesystem } from "./dentry.ts";
import { MS_NODEV, MS_NOEXEC, MS_NOSUID } from "../abi/linux/mount.ts";
import { EVENT_ERR, EVENT_PRI, WaitQueue } from "../waiter/mod.ts";

/** @savable One filesystem attached to the tree. Analogous to Linux's struct mount. */
export class Mount {
  /** Immutable. The mount id (/proc/PID/mountinfo, statx stx_mnt_id). */
  readonly id: number;
  /** Immutable. */
  readonly fs: Filesystem;
  /** Immutable. The dentry of fs this mount shows at its mount point (a bind mount's subtree). */
  readonly root: Dentry;
  /**
   * Null for the root mount and for a detached mount (fsmount(2), open_tree(2)'s clones, not
   * attached yet: the root of its own tree). Changed only by {@linkcode attachMount} and
   * {@linkcode detachMount}.
   */
  parent: Mount | null;
  /** The dentry of parent this mount covers; null when parent is. */
  mountpoint: Dentry | null;
  /** Set by umount2: gone from the tree (a descriptor may still hold it). */
  umounted = false;
  /**
   * Set by a first umount2(MNT_EXPIRE), which fails with EAGAIN; a second one unmounts unless a
   * walk went through the mount meanwhile (Linux's mnt_expiry_mark, cleared by mntput).
   */
  expiryMark = false;
  /** The namespace whose tree holds this mount; null while detached, and once unmounted. */
  ns: MountNamespace | null = null;
  /**
   * The peer group of a shared mount (MS_SHARED; /proc/PID/mountinfo's "shared:N"): mounts and
   * unmounts under any member happen under every member (vfs/propagation.ts). Null: not shared.
   */
  group: PeerGroup | null = null;
  /** The mount whose group's events this slave receives ("master:N"); null for none. */
  master: Mount | null = null;
  /** The slaves of this mount (each has it as master). */
  readonly slaves = new Set<Mount>();
  /** MS_UNBINDABLE: a bind of it is EINVAL, a recursive bind or namespace copy leaves it out. */
  unbindable = false;
  /**
   * Linux's MNT_LOCKED: a mount that came into a namespace owned by a less privileged user
   * namespace together with the mount it sits on (a namespace copy, a propagated tree): it
   * cannot be unmounted alone (EINVAL), moved, nor left out of a bind (a non-recursive bind of
   * what it sits on is EINVAL), so what it covers stays hidden.
   */
  locked = false;
  /**
   * Linux's MNT_LOCK_*: the flags (MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC) a remount may
   * not clear, and whether the access-time flags may not change, in such a namespace.
   */
  lockedFlags = 0;
  atimeLocked = false;

  /**
   * The mount's unique 64-bit id (statx's STATX_MNT_ID_UNIQUE, statmount, listmount): never
   * reused, above MNT_UNIQUE_ID_OFFSET as Linux's mnt_id_unique. Mount ids here are never
   * reused either, so it is the id past the offset.
   */
  get uniqueId(): number {
    return MNT_UNIQUE_ID_OFFSET + this.id;
  }

  /** The peer group id, 0 when not shared. */
  get peerGroup(): number {
    return this.group?.id ?? 0;
  }

  get shared(): boolean {
    return this.group !== null;
  }
  /** MS_RDONLY. */
  readonly: boolean;
  /** MS_NOSUID, MS_NODEV, MS_NOEXEC (abi/linux/mount.ts); MS_RDONLY is `readonly`. */
  flags: number;
  /** Immutable. What /proc/PID/mounts shows as the source ("proc", "tmpfs", a host path). */
  readonly source: string;
  /** Mounts whose mount point is a dentry of this mount, keyed by that dentry (top of stack). */
  readonly children = new Map<Dentry, Mount>();

  constructor(o: {
    id: number;
    fs: Filesystem;
    root: Dentry;
    parent: Mount | null;
    mountpoint: Dentry | null;
    readonly: boolean;
    flags?: number;
    source?: string;
  }) {
    this.id = o.id;
    this.fs = o.fs;
    this.root = o.root;
    this.parent = o.parent;
    this.mountpoint = o.mountpoint;
    this.readonly = o.readonly;
    this.flags = o.flags ?? 0;
    this.source = o.source ?? o.fs.name;
  }

  /** MS_NOEXEC: execve of a file here is EACCES. */
  get noexec(): boolean {
    return (this.flags & MS_NOEXEC) !== 0;
  }

  /** MS_NOSUID: execve here ignores set-user-ID and set-group-ID bits. */
  get nosuid(): boolean {
    return (this.flags & MS_NOSUID) !== 0;
  }

  /** MS_NODEV: opening a device node here is EACCES. */
  get nodev(): boolean {
    return (this.flags & MS_NODEV) !== 0;
  }

  /** True if writes through this mount must fail with EROFS (__mnt_is_readonly: the mount's flag or the superblock's). */
  get isReadonly(): boolean {
    return this.readonly || this.fs.readonly || this.fs.superReadonly === true;
  }
}

/** Linux's MNT_UNIQUE_ID_OFFSET: unique mount ids start above it, apart from the old 32-bit ones. */
export const MNT_UNIQUE_ID_OFFSET = 2 ** 31;

/**
 * @savable A peer group: the mounts that receive each other's mount and unmount events
 * (Linux's mnt_share ring with its mnt_group_id).
 */
export class PeerGroup {
  readonly members = new Set<Mount>();
  constructor(readonly id: number) {}
}

/**
 * @savable A mount namespace (Linux's struct mnt_namespace): one tree of mounts. Tasks reach
 * theirs through their filesystem context (kernel/fs_context.ts).
 */
export class MountNamespace {
  /** Mounts in the tree, counted against MOUNT_MAX (Linux's ns->mounts). */
  count = 1;
  /** Changes of the tree (mount, unmount, remount, move): /proc/PID/mounts polls on it. */
  events = 0;
  /** Tasks polling this namespace's mounts files. */
  readonly queue = new WaitQueue();
  /**
   * The user namespace that owns this namespace (Linux's mnt_ns->user_ns): mount operations need
   * CAP_SYS_ADMIN over it. Opaque here (kernel/user_namespace.ts); null: the first one.
   */
  readonly owner: object | null;

  constructor(readonly ino: number, public root: Mount, owner: object | null = null) {
    this.owner = owner;
  }

  /** A change of the tree: poll of /proc/PID/mounts and mountinfo reports EPOLLPRI|EPOLLERR once. */
  changed(): void {
    this.events++;
    this.queue.notify(EVENT_PRI | EVENT_ERR);
  }

  /** Every mount of the tree, parents before children (for /proc/PID/mounts). */
  mounts(): Mount[] {
    // Preorder without recursion: mounts may nest thousands deep.
    const out: Mount[] = [];
    const stack: Mount[] = [this.root];
    while (stack.length > 0) {
      const m = stack.pop()!;
      out.push(m);
      const kids = [...m.children.values()];
      for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]!);
    }
    return out;
  }
}

/** Linux's default fs.mount-max: the mounts one namespace may hold (ENOSPC beyond). */
export const MOUNT_MAX = 100000;

/**
 * Puts m (detached, or attached elsewhere: moved) on `at`, stacking over what is mounted there
 * already, as Linux's attach_recursive_mnt. Its own submounts come along.
 */
export function attachMount(m: Mount, at: Location): void {
  if (m.parent !== null && m.mountpoint !== null && m.parent.children.get(m.mountpoint) === m) {
    m.parent.children.delete(m.mountpoint);
  }
  m.parent = at.mount;
  m.mountpoint = at.dentry;
  at.mount.children.set(at.dentry, m);
}

/** Takes m (and its submounts) off its parent, leaving it the root of a tree of its own. */
export function detachMount(m: Mount): void {
  if (m.parent !== null && m.mountpoint !== null && m.parent.children.get(m.mountpoint) === m) {
    m.parent.children.delete(m.mountpoint);
  }
  m.parent = null;
  m.mountpoint = null;
}

/** @savable Immutable. A file in the tree: which mount, which dentry. */
export class Location {
  constructor(readonly mount: Mount, readonly dentry: Dentry) {}

  get isDir(): boolean {
    return this.dentry.isDir;
  }

  equals(o: Location): boolean {
    return this.mount === o.mount && this.dentry === o.dentry;
  }

  /** The absolute path from the root of the whole tree, as /proc shows it. */
  path(): string {
    return this.pathFrom(null) ?? "/";
  }

  /**
   * The absolute path as seen from root (a task's root directory, for getcwd(2)), or null if
   * this location is not under root. A null root means the root of the whole tree.
   */
  pathFrom(root: Location | null): string | null {
    const names: string[] = [];
    let m: Mount = this.mount;
    let d: Dentry = this.dentry;
    for (;;) {
      if (root !== null && m === root.mount && d === root.dentry) break;
      if (d === m.root) {
        if (m.parent === null || m.mountpoint === null) {
          if (root !== null) return null;
          break;
        }
        d = m.mountpoint;
        m = m.parent;
        continue;
      }
      names.push(d.name);
      d = d.parent!;
    }
    if (names.length === 0) return "/";
    names.reverse();
    return "/" + names.join("/");
  }

  /**
   * The location `..` leads to, ignoring any chroot: the parent dentry, across mount points.
   * The root of the tree is its own parent.
   */
  parent(): Location {
    let m: Mount = this.mount;
    let d: Dentry = this.dentry;
    while (d === m.root) {
      if (m.parent === null || m.mountpoint === null) return this;
      d = m.mountpoint;
      m = m.parent;
    }
    return new Location(m, d.parent!);
  }
}
