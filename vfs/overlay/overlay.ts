/**
 * overlay: the writable root filesystem, a writable upper layer over the read-only host tree,
 * as runsc's --overlay (and Linux's overlayfs). The host tree never changes: every change goes
 * to the upper layer (a tmpfs in memory, or a host directory opened writable, `--overlay-upper`).
 *
 * - Lookup merges: a name in the upper layer wins; a directory present in both is merged.
 * - Deletion of a name the lower layer has leaves a whiteout: a name in the directory's
 *   {@linkcode OverlayDentry.whiteouts} set hides the lower entry (kept in the sentry's memory,
 *   not in the upper layer, so no name is reserved; the upper directory is a scratch area).
 *   A directory created over a whiteout is opaque: its lower side is not looked at.
 * - Copy-up: the first write, truncate or attribute change of a lower file copies it (and its
 *   parents) to the upper layer, with its owner, mode and times; data is copied by the host
 *   (sendfile from the lower file into the upper one). Descriptions opened read-only before
 *   the copy-up switch to the copy (vfs/overlay/overlay_file.ts). Renaming a directory copies up its whole
 *   subtree first, so the moved directory no longer depends on the lower layer.
 * - Inode numbers: a file keeps its lower inode number after copy-up; files born in the upper
 *   layer get theirs offset by 2^52. st_dev is the lower file's (one value for the root's
 *   filesystem), so tools that compare (dev, ino) see stable identities.
 *
 * Dentries are cached for the life of the filesystem (as hostfs's), so the whiteout sets and
 * the identity of mount points stay put.
 *
 * @module
 */

import { ENODATA, ENOTEMPTY, EXDEV } from "../../kernel/errno.ts";
import {
  O_ACCMODE, O_RDONLY, O_WRONLY, OVERLAYFS_SUPER_MAGIC, RENAME_EXCHANGE, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG,
} from "../../abi/linux/file.ts";
import { hostFds } from "../host_fds.ts";
import { Dentry, type Filesystem, type FsStat, type NewFile, type SetAttr } from "../dentry.ts";
import type { DirEntry, FileDescription, Stat } from "../file_description.ts";
import { Location, Mount } from "../mount.ts";
import { fsnotifyOpenAllowed } from "../fsnotify.ts";
import type { HostDentry, HostFilesystem } from "../hostfs/hostfs.ts";
import { nowNs } from "../tmpfs/tmpfs.ts";
import { OverlayDirectoryFile, OverlayRegularFile } from "./overlay_file.ts";
import type { Acl, AclType } from "../posix_acl.ts";

/** Upper-layer inode numbers are shifted by this, out of the host's range in practice. */
const UPPER_INO_BASE = 2 ** 52;

/** What the overlay needs from its upper layer beyond the Dentry operations. */
export interface UpperFilesystem extends Filesystem {
  /** Fills the new, empty regular file d with len bytes of the host descriptor src. */
  copyData(d: Dentry, src: number, len: number): void;
}

/**
 * The layers of an overlay mounted with mount(2) (`-t overlay -o lowerdir=,upperdir=,workdir=`):
 * directories of the sandbox's tree, each seen through its mount. No upper: read-only.
 */
export interface OverlayLayers {
  lower: Location;
  upper: Location | null;
}

/**
 * Each layer's private mount (Linux's clone_private_mount): detached, id 0, in no namespace's
 * tree, so no mount mark matches it. Derived from the layer, so made again after a restore.
 */
const PRIVATE_MOUNTS = new WeakMap<Location, Mount>();

function privateMount(layer: Location): Mount {
  let m = PRIVATE_MOUNTS.get(layer);
  if (m === undefined) {
    const o = layer.mount;
    m = new Mount({ id: 0, fs: o.fs, root: o.root, parent: null, mountpoint: null, readonly: o.readonly, flags: o.flags, source: o.source });
    PRIVATE_MOUNTS.set(layer, m);
  }
  return m;
}

/** Device numbers of mounted overlays (anonymous superblocks, as tmpfs's). */
let nextMountedDev = 0x3000;

/**
 * @savable A merged tree: upper over lower. The root overlay has the host tree below and a
 * tmpfs or writable host directory above, whole filesystems it owns; a mounted overlay has
 * directories of the sandbox's tree (`layers`), which it does not own, and copies data up
 * through their files.
 */
export class OverlayFilesystem implements Filesystem {
  readonly name = "overlay";
  /** Immutable. A mounted overlay without an upper layer. */
  readonly readonly: boolean;
  /** Immutable. The root overlay's lower filesystem; null for a mounted overlay. */
  readonly lower: HostFilesystem | null;
  /** Immutable. The root overlay's upper filesystem; null for a mounted overlay. */
  readonly upper: UpperFilesystem | null;
  /** Immutable. A mounted overlay's layers; null for the root overlay. */
  readonly layers: OverlayLayers | null;
  readonly root: OverlayDentry;
  /** Immutable. st_dev of files that have no lower side. */
  readonly dev: number;
  /** The overlay inode number of upper inodes that were copied up, by upper inode number. */
  readonly #inoOfUpper = new Map<number, number>();

  constructor(lower: HostFilesystem | null, upper: UpperFilesystem | null, layers: OverlayLayers | null = null) {
    this.lower = lower;
    this.upper = upper;
    this.layers = layers;
    if (layers !== null) {
      this.readonly = layers.upper === null;
      this.dev = nextMountedDev++;
      this.root = new OverlayDentry(this, null, "", layers.lower.dentry, layers.upper?.dentry ?? null);
      return;
    }
    this.readonly = false;
    const st = lower!.root.stat();
    this.dev = st.dev;
    // The upper root shows the lower root's attributes.
    upper!.root.setattr({ mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, atimeNs: st.atimeNs, mtimeNs: st.mtimeNs });
    this.root = new OverlayDentry(this, null, "", lower!.root, upper!.root);
  }

  /** Whether the upper layer keeps POSIX ACLs (a tmpfs does). */
  get upperKeepsAcls(): boolean {
    return (this.upper?.root ?? this.layers?.upper?.dentry ?? this.layers!.lower.dentry).supportsAcl;
  }

  /**
   * Fills up, a new empty regular file of the upper layer, with the len bytes of low: from the
   * host descriptor into the upper filesystem for the root overlay, else from an open file of
   * the lower layer into one of the upper layer, 1 MiB at a time.
   */
  copyData(low: Dentry, up: Dentry, len: number): void {
    if (this.upper !== null) {
      const fd = (low as HostDentry).openHostFd();
      try {
        this.upper.copyData(up, fd, len);
      } finally {
        hostFds.close(fd);
      }
      return;
    }
    const layers = this.layers!;
    const src = low.open(new Location(layers.lower.mount, low), O_RDONLY);
    try {
      const dst = up.open(new Location(layers.upper!.mount, up), O_WRONLY);
      try {
        const buf = new Uint8Array(Math.min(len, 1 << 20));
        for (let off = 0; off < len;) {
          const n = src.read(buf.subarray(0, Math.min(buf.length, len - off)), off);
          if (n <= 0) break;
          for (let w = 0; w < n;) w += dst.write(buf.subarray(w, n), off + w);
          off += n;
        }
      } finally {
        dst.decRef();
      }
    } finally {
      src.decRef();
    }
  }

  /** The overlay inode number of an upper inode. */
  inoOfUpper(upperIno: number): number {
    return this.#inoOfUpper.get(upperIno) ?? UPPER_INO_BASE + upperIno;
  }

  /** Records that the upper inode upperIno is the copy of the lower inode ino. */
  recordCopyUp(upperIno: number, ino: number): void {
    this.#inoOfUpper.set(upperIno, ino);
  }

  statfs(): FsStat {
    const st = (this.upper ?? (this.layers!.upper ?? this.layers!.lower).mount.fs).statfs?.();
    return {
      type: OVERLAYFS_SUPER_MAGIC, bsize: 4096, blocks: st?.blocks ?? 1 << 24, bfree: st?.bfree ?? 1 << 23,
      bavail: st?.bavail ?? 1 << 23, files: st?.files ?? 1 << 20, ffree: st?.ffree ?? 1 << 19, namelen: 255,
    };
  }

  /** The root overlay releases its layers; a mounted one owns nothing. */
  release(): void {
    this.upper?.release();
    this.lower?.release();
  }
}

/** @savable One name of the merged tree. */
export class OverlayDentry extends Dentry {
  readonly #fs: OverlayFilesystem;
  /** The lower file, or null (upper only, or a directory made opaque by a rename). */
  lower: Dentry | null;
  /** The upper file, or null until copy-up. */
  upper: Dentry | null;
  /** Immutable. */
  readonly #ino: number;
  /** st_dev once copied up (the lower file's), or the overlay's for upper-only files. */
  #dev: number;
  /** Cached children (positive lookups). */
  readonly #children = new Map<string, OverlayDentry>();
  /** Names whose lower entries are hidden (deleted or replaced through the overlay). */
  readonly whiteouts = new Set<string>();
  /**
   * The upper file this dentry counts a user of since it was removed while descriptions held
   * it (an O_PATH descriptor, an executable): as Linux's overlay inode holds its upper dentry,
   * so a disk filesystem keeps the unlinked file until the last goes (Dentry.lastUserGone).
   */
  #heldUpper: Dentry | null = null;

  constructor(fs: OverlayFilesystem, parent: OverlayDentry | null, name: string, lower: Dentry | null, upper: Dentry | null) {
    super(parent, name);
    this.#fs = fs;
    this.lower = lower;
    this.upper = upper;
    this.#ino = lower !== null ? lower.ino : fs.inoOfUpper(upper!.ino);
    this.#dev = lower === null ? fs.dev : -1;
  }

  /** The children looked up so far (every one the overlay ever touched stays cached). */
  cachedChildren(): OverlayDentry[] {
    return [...this.#children.values()];
  }

  get fs(): OverlayFilesystem {
    return this.#fs;
  }

  get #top(): Dentry {
    return (this.upper ?? this.lower)!;
  }

  get mode(): number {
    return this.#top.mode;
  }

  get uid(): number {
    return this.#top.uid;
  }

  get gid(): number {
    return this.#top.gid;
  }

  get ino(): number {
    return this.#ino;
  }

  stat(): Stat {
    if (this.upper === null) return this.lower!.stat();
    const st = this.upper.stat();
    st.ino = this.#ino;
    st.dev = this.dev;
    return st;
  }

  /**
   * ovl_do_remove drops the overlay inode's links when it removes a lower-only file (a whiteout
   * hides it now): its watches hear IN_DELETE_SELF at the last close, though stat still
   * reports the lower file's count (ovl_getattr), which keeps its links.
   */
  override links(): number {
    const n = super.links();
    return this.unlinked && this.upper === null && !this.isDir ? Math.max(0, n - 1) : n;
  }

  lookup(name: string): OverlayDentry | null {
    const cached = this.#children.get(name);
    if (cached !== undefined) return cached;
    const up = this.upper !== null ? this.upper.lookup(name) : null;
    let low: Dentry | null = null;
    if (this.lower !== null && !this.whiteouts.has(name) && (up === null || up.isDir)) {
      low = this.lower.lookup(name);
      if (up !== null && low !== null && !low.isDir) low = null;
    }
    if (up === null && low === null) return null;
    const c = new OverlayDentry(this.#fs, this, name, low, up);
    this.#children.set(name, c);
    return c;
  }

  children(): DirEntry[] {
    const out = new Map<string, DirEntry>();
    if (this.upper !== null) {
      for (const e of this.upper.children()) {
        const c = this.#children.get(e.name);
        out.set(e.name, { name: e.name, ino: c !== undefined ? c.ino : this.#fs.inoOfUpper(e.ino), type: e.type });
      }
    }
    if (this.lower !== null) {
      for (const e of this.lower.children()) {
        if (!out.has(e.name) && !this.whiteouts.has(e.name)) out.set(e.name, e);
      }
    }
    return [...out.values()];
  }

  override readlink(): string {
    return this.#top.readlink();
  }

  override symlinkRead(mountFlags: number): void {
    this.#top.symlinkRead(mountFlags);
  }

  override dirListed(mountFlags: number): void {
    this.#top.dirListed(mountFlags);
  }

  /** st_dev as stat reports it once copied up (the lower file's), or the overlay's. */
  get dev(): number {
    return this.#dev >= 0 ? this.#dev : this.#fs.dev;
  }

  /**
   * Regular files open as an {@linkcode OverlayRegularFile}, which follows a later copy-up;
   * a write open copies up first.
   */
  override open(loc: Location, flags: number): FileDescription {
    if (this.isDir) {
      // ovl_dir_open opens the real directory (the upper one of a merged directory) too.
      const real = this.#fs.layers === null ? null : this.openReal(loc, flags);
      return new OverlayDirectoryFile(loc, flags, real);
    }
    if (!this.isRegular) return this.#top.open(loc, flags);
    if ((flags & O_ACCMODE) !== O_RDONLY) this.copyUp();
    const onLower = this.upper === null;
    return new OverlayRegularFile(loc, flags, this, this.openReal(loc, flags), onLower);
  }

  /**
   * The real file of the layer that holds this file now (ovl_open_realfile's backing file). A
   * mounted overlay opens it through the layer's private mount, as a VFS open, so the layer's
   * inode and filesystem fanotify marks and inotify watches hear its open and close (mount
   * marks do not: Linux's layers are private clones, clone_private_mount). The root overlay's
   * layers are the sandbox's own host tree and tmpfs, which nothing can watch but through it.
   */
  openReal(loc: Location, flags: number): FileDescription {
    const top = this.#top;
    const layers = this.#fs.layers;
    if (layers === null) return top.open(loc, flags);
    const layer = this.upper !== null ? layers.upper! : layers.lower;
    return fsnotifyOpenAllowed(top.open(new Location(privateMount(layer), top), flags));
  }

  override hostPath(): string | null {
    return this.upper === null ? this.lower!.hostPath() : null;
  }

  override boundSocket(): unknown {
    return this.upper?.boundSocket() ?? null;
  }

  // ---- Copy-up -------------------------------------------------------------------------------

  /**
   * Gives this file an upper copy (and its ancestors first), with the lower file's owner,
   * mode, times and (unless withData is false) contents. The parent's times are kept, as
   * overlayfs does: a copy-up is not a change of the directory.
   */
  copyUp(withData = true): void {
    if (this.upper !== null) return;
    const parent = this.parent as OverlayDentry;
    parent.copyUp();
    const pu = parent.upper!;
    const low = this.lower!;
    const st = low.stat();
    const pst = pu.stat();
    const attrs: NewFile = { mode: st.mode, uid: st.uid, gid: st.gid };
    let up: Dentry;
    switch (st.mode & S_IFMT) {
      case S_IFDIR:
        up = pu.mkdir(this.name, attrs);
        break;
      case S_IFREG:
        up = pu.create(this.name, attrs);
        if (withData && st.size > 0) this.#fs.copyData(low, up, Number(st.size));
        break;
      case S_IFLNK:
        up = pu.symlink(this.name, low.readlink(), attrs);
        break;
      default:
        up = pu.mknod(this.name, { ...attrs, rdev: st.rdev });
    }
    const keep: SetAttr = { atimeNs: st.atimeNs, mtimeNs: st.mtimeNs };
    if ((st.mode & S_IFMT) !== S_IFLNK) keep.mode = st.mode & 0o7777;
    up.setattr(keep);
    // Extended attributes and ACLs come along (a tmpfs lower has them; the host tree shows none).
    for (const name of low.listxattr()) {
      try {
        up.setxattr(name, low.getxattr(name), 0);
      } catch { /* a name the upper layer does not keep */ }
    }
    if (low.acl !== null && up.supportsAcl) up.setAcl("access", low.acl);
    if (low.defaultAcl !== null && up.supportsAcl) up.setAcl("default", low.defaultAcl);
    pu.setattr({ atimeNs: pst.atimeNs, mtimeNs: pst.mtimeNs });
    this.upper = up;
    this.#dev = st.dev;
    this.#fs.recordCopyUp(up.ino, this.#ino);
  }

  /** Copies up this file and, for a directory, everything visible under it. */
  copyUpTree(): void {
    this.copyUp();
    if (!this.isDir || this.lower === null) return;
    for (const e of this.children()) this.lookup(e.name)?.copyUpTree();
    this.lower = null;
  }

  // ---- Changes (this is the parent directory) ------------------------------------------------

  #added(name: string, up: Dentry): OverlayDentry {
    const c = new OverlayDentry(this.#fs, this, name, null, up);
    this.#children.set(name, c);
    return c;
  }

  override create(name: string, attrs: NewFile): Dentry {
    this.copyUp();
    return this.#added(name, this.upper!.create(name, attrs));
  }

  /** An unnamed upper file; not cached among the children until link() names it. */
  override createTmpfile(attrs: NewFile, linkable: boolean): Dentry {
    this.copyUp();
    const up = this.upper!.createTmpfile(attrs, linkable);
    return new OverlayDentry(this.#fs, this, up.name, null, up);
  }

  override mkdir(name: string, attrs: NewFile): Dentry {
    this.copyUp();
    return this.#added(name, this.upper!.mkdir(name, attrs));
  }

  override mknod(name: string, attrs: NewFile): Dentry {
    this.copyUp();
    return this.#added(name, this.upper!.mknod(name, attrs));
  }

  override symlink(name: string, target: string, attrs: NewFile): Dentry {
    this.copyUp();
    return this.#added(name, this.upper!.symlink(name, target, attrs));
  }

  override link(name: string, target: Dentry): Dentry {
    if (!(target instanceof OverlayDentry) || target.fs !== this.#fs) throw EXDEV;
    this.copyUp();
    target.copyUp();
    const up = this.upper!.link(name, target.upper!);
    return this.#added(name, up);
  }

  /** Removes child's upper side and hides its lower side; touches this directory's times. */
  #remove(name: string, c: OverlayDentry, dir: boolean): void {
    this.copyUp();
    c.#holdUpper();
    if (c.upper !== null) {
      if (dir) this.upper!.rmdir(name, c.upper);
      else this.upper!.unlink(name, c.upper);
    }
    if (c.lower !== null || this.lower?.lookup(name)) this.whiteouts.add(name);
    if (c.upper === null) this.upper!.setattr({ mtimeNs: nowNs() });
    this.#children.delete(name);
  }

  override unlink(name: string, child: Dentry): void {
    this.#remove(name, child as OverlayDentry, false);
  }

  /** Before this file's upper name goes: while descriptions hold it, they hold the upper file too. */
  #holdUpper(): void {
    if (this.users === 0 || this.upper === null || this.#heldUpper !== null) return;
    this.#heldUpper = this.upper;
    this.upper.users++;
  }

  override lastUserGone(): void {
    const u = this.#heldUpper;
    if (u === null) return;
    this.#heldUpper = null;
    u.users--;
    if (u.users === 0) u.lastUserGone();
  }

  override rmdir(name: string, child: Dentry): void {
    const c = child as OverlayDentry;
    if (c.children().length > 0) throw ENOTEMPTY;
    this.#remove(name, c, true);
  }

  override rename(
    name: string,
    child: Dentry,
    newParent: Dentry,
    newName: string,
    replaced: Dentry | null,
    flags: number,
  ): void {
    if (!(newParent instanceof OverlayDentry) || newParent.fs !== this.#fs) throw EXDEV;
    const src = child as OverlayDentry;
    const dst = replaced as OverlayDentry | null;
    const exchange = (flags & RENAME_EXCHANGE) !== 0;
    if (!exchange && dst !== null && dst.isDir && dst.children().length > 0) throw ENOTEMPTY;
    this.copyUp();
    newParent.copyUp();
    src.copyUpTree();
    if (exchange) dst!.copyUpTree();
    const srcHadLower = src.lower !== null || this.lower?.lookup(name) != null;
    const dstHadLower = newParent.lower?.lookup(newName) != null;
    // A lower-only target has nothing to replace in the upper layer, only a name to hide.
    if (!exchange && dst !== null) dst.#holdUpper();
    this.upper!.rename(name, src.upper!, newParent.upper!, newName, dst?.upper ?? null, flags);
    if (dstHadLower) newParent.whiteouts.add(newName);
    if (srcHadLower) this.whiteouts.add(name);
    src.lower = null;
    this.#children.delete(name);
    newParent.#children.set(newName, src);
    src.parent = newParent;
    src.name = newName;
    if (exchange && dst !== null) {
      dst.lower = null;
      this.#children.set(name, dst);
      dst.parent = this;
      dst.name = name;
    }
  }

  // ---- Attributes ----------------------------------------------------------------------------

  override setattr(a: SetAttr): void {
    this.copyUp(a.size !== 0);
    this.upper!.setattr(a);
  }

  override getxattr(name: string): Uint8Array {
    return this.#top.getxattr(name);
  }

  override setxattr(name: string, value: Uint8Array, flags: number): void {
    this.copyUp();
    this.upper!.setxattr(name, value, flags);
  }

  override listxattr(): string[] {
    return this.#top.listxattr();
  }

  override get acl(): Acl | null {
    return this.#top.acl;
  }

  override get defaultAcl(): Acl | null {
    return this.#top.defaultAcl;
  }

  override get fileCaps(): boolean {
    return this.#top.fileCaps;
  }

  /** The top layer's flags (a host lower file's read as none); set on the copied-up file. */
  override get inodeFlags(): number | null {
    const top = this.#top;
    if (top === this.upper) return top.inodeFlags;
    return this.isRegular || this.isDir ? (top.inodeFlags ?? 0) : null;
  }

  override setInodeFlags(flags: number): void {
    this.copyUp();
    this.upper!.setInodeFlags(flags);
  }

  /** ACLs live in the upper layer: the overlay keeps them when it does (a tmpfs upper). */
  override get supportsAcl(): boolean {
    return !this.isSymlink && this.#fs.upperKeepsAcls;
  }

  /** Removing an ACL the file does not have is ENODATA, without a copy-up (ovl_set_or_remove_acl). */
  override setAcl(type: AclType, acl: Acl | null, removal = false): void {
    if (removal && this.upper === null && (type === "access" ? this.lower!.acl : this.lower!.defaultAcl) === null) {
      throw ENODATA;
    }
    this.copyUp();
    this.upper!.setAcl(type, acl);
  }

  override removexattr(name: string): void {
    this.copyUp();
    this.upper!.removexattr(name);
  }
}
