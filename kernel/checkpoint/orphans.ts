/**
 * Checkpoint of open files that are no longer at the path they were opened by (issue #13;
 * docs/checkpoint.md): files unlinked while open (tmpfile(), compilers' and test frameworks'
 * temporary files), O_TMPFILE files never named (Python's tempfile.TemporaryFile), and files
 * whose name was removed while another hard link still names them — in a tmpfs or in the root
 * overlay's in-memory upper layer. (A file renamed while open is still at the path /proc shows
 * for it, and is saved by that path as any open file: files.ts.)
 *
 * A file that still has a name elsewhere is saved by that name (found by walking its
 * filesystem's tree for its inode, and checked by resolving the name again), and reopened by it.
 *
 * A file with no name left (an orphan) is saved once, however many descriptions hold it, in
 * the image's `orphans` table: the directory its dentry sits in, its name there, its owner,
 * mode, times, size and data (runs of blobs, as the trees' files), and whether link() may
 * still name it (an O_TMPFILE file opened without O_EXCL). The restore makes it again as an
 * O_TMPFILE file in that directory (so it is in the same filesystem and counted as Linux
 * counts an unnamed file), writes its data and attributes, gives its dentry the saved name,
 * and opens each saved description on that dentry: descriptions that shared the file share
 * it again. A holder description keeps the file alive until every description is made
 * (closing the last description of an unnamed file frees it).
 *
 * Refused: an overlay file whose data is still only the host's lower file when its name was
 * removed (the lower file cannot be reopened through the overlay any more).
 *
 * @module
 */

import { z } from "./zod_tree.ts";
import type { Kernel } from "../kernel.ts";
import { LinuxError } from "../errno.ts";
import type { FileDescription } from "../../vfs/file_description.ts";
import type { Dentry } from "../../vfs/dentry.ts";
import { Location } from "../../vfs/mount.ts";
import { fsnotifyOpen } from "../../vfs/fsnotify.ts";
import { OverlayDentry } from "../../vfs/overlay/overlay.ts";
import { OverlayRegularFile } from "../../vfs/overlay/overlay_file.ts";
import { TmpfsDentry, type TmpfsInode, TmpfsRegularFile } from "../../vfs/tmpfs/tmpfs.ts";
import { O_LARGEFILE, O_RDWR, O_TMPFILE } from "../../abi/linux/file.ts";
import { absPath, inodeShape, type Refuse, rootCtx, saveFileData } from "./files.ts";
import { blobBytes, type ImageBlob, ImageError } from "./image.ts";

const fileName = z.lazy(() => z.string().min(1).max(255).refine((n) => !n.includes("/") && !n.includes("\0") && n !== "." && n !== "..", "not a file name"));

/** Built at the first orphan an image holds (z.lazy). */
export const orphanSchema = z.lazy(() => z.object({
  /** The directory the file's dentry sits in (its parent when it was made or last named). */
  dir: absPath,
  /** Its name there, as /proc shows it ("#INO" for an O_TMPFILE file). */
  name: fileName,
  /** Its name was removed by unlink or a replacing rename (Linux's d_unlinked). */
  unlinked: z.boolean(),
  /** An O_TMPFILE file opened without O_EXCL: linkat(2) may still name it. */
  linkable: z.boolean(),
  ...inodeShape,
}).strict());

export type SavedOrphan = z.infer<typeof orphanSchema>;

/** The tmpfs inode behind an open regular file of a tmpfs or of the overlay's upper layer, or null. */
export function tmpfsInodeOf(f: FileDescription): TmpfsInode | null {
  if (f instanceof TmpfsRegularFile) return f.inode;
  return f instanceof OverlayRegularFile ? inodeAt(f.location()!) : null;
}

/** Saves the orphans of one checkpoint, each once. */
export class OrphanSaver {
  readonly items: SavedOrphan[] = [];
  readonly #index = new Map<TmpfsInode, number>();

  constructor(readonly kernel: Kernel, readonly blobs: Uint8Array[]) {}

  /**
   * Where f, an open regular file whose path no longer leads to it, is found again: another
   * name of its file, or an index of the orphans table.
   */
  moved(f: FileDescription, refuse: Refuse): { path: string } | { orphan: number } {
    const inode = tmpfsInodeOf(f);
    const loc = f.location()!;
    if (inode === null) {
      const d = loc.dentry;
      if (d instanceof OverlayDentry && d.upper !== null) {
        throw refuse(`the open file ${f.path()} of the upper layer's host directory (--overlay-upper) was unlinked`);
      }
      throw refuse(`the open file ${f.path()} of the host's lower layer was removed or renamed through the overlay`);
    }
    if (inode.nlink > 0) {
      const path = this.#otherName(loc, inode);
      if (path === null) throw refuse(`the open file ${f.path()} was unlinked and its other names are hidden`);
      return { path };
    }
    let i = this.#index.get(inode);
    if (i === undefined) {
      i = this.items.length;
      this.#index.set(inode, i);
      this.items.push(this.#save(loc, inode, refuse));
    }
    return { orphan: i };
  }

  #save(loc: Location, inode: TmpfsInode, refuse: Refuse): SavedOrphan {
    if (inode.acl !== null) throw refuse(`the unlinked file ${loc.path()} has an ACL`);
    if (inode.xattrs.size > 0) throw refuse(`the unlinked file ${loc.path()} has extended attributes`);
    const d = loc.dentry;
    // Its directory, if that is still where it was; else the top of its filesystem's mount.
    let dir = loc.parent();
    if (dir.dentry.unlinked || !this.#reaches(dir.path(), dir)) dir = new Location(loc.mount, loc.mount.root);
    if (!this.#reaches(dir.path(), dir)) throw refuse(`the directory of the unlinked file ${loc.path()} is hidden`);
    const size = inode.size;
    return {
      dir: dir.path(), name: d.name, unlinked: d.unlinked, linkable: inode.linkable,
      mode: inode.mode & 0o7777, uid: inode.uid, gid: inode.gid, atimeNs: String(inode.atimeNs), mtimeNs: String(inode.mtimeNs),
      size, runs: saveFileData(inode, size, this.blobs),
    };
  }

  /** Whether path leads to loc from the sandbox's root. */
  #reaches(path: string, loc: Location): boolean {
    const k = this.kernel;
    try {
      return k.vfs.resolve(rootCtx(k), k.vfs.root(), path, { follow: false }).equals(loc);
    } catch {
      return false;
    }
  }

  /** A path that leads to inode (a linked file of loc's filesystem), checked by resolving it; null if none does. */
  #otherName(loc: Location, inode: TmpfsInode): string | null {
    // The inode's own tmpfs: a tmpfs mount's, or the overlay's upper layer (whose paths are the overlay's).
    const top: Dentry = inode.fs.root;
    const topPath = new Location(loc.mount, loc.mount.root).path();
    const k = this.kernel;
    let found: string | null = null;
    const walk = (d: Dentry, rel: string): void => {
      for (const e of d.children()) {
        if (found !== null) return;
        const c = d.lookup(e.name);
        if (c === null) continue;
        const p = rel === "" ? e.name : `${rel}/${e.name}`;
        if (c instanceof TmpfsDentry && c.inode === inode) {
          const path = topPath === "/" ? `/${p}` : `${topPath}/${p}`;
          try {
            const at = k.vfs.resolve(rootCtx(k), k.vfs.root(), path, { follow: false });
            if (inodeAt(at) === inode) found = path;
          } catch { /* hidden */ }
        } else if (c.isDir) {
          walk(c, p);
        }
      }
    };
    walk(top, "");
    return found;
  }
}

/** The tmpfs inode a location shows: a tmpfs dentry's, or an overlay dentry's upper one. */
function inodeAt(loc: Location): TmpfsInode | null {
  const d = loc.dentry;
  if (d instanceof TmpfsDentry) return d.inode;
  if (d instanceof OverlayDentry && d.upper instanceof TmpfsDentry) return d.upper.inode;
  return null;
}

/**
 * A working directory as the image holds it: its path, and whether it was removed (rmdir'd
 * while a process was in it: /proc shows its old path, and nothing can be made in it). A
 * directory neither at its path nor removed (hidden under a mount since) is refused.
 */
export function saveCwd(k: Kernel, cwd: Location, refuse: Refuse): { cwd: string; removed?: true } {
  const path = cwd.path();
  if (cwd.dentry.unlinked) return { cwd: path, removed: true };
  try {
    if (k.vfs.resolve(rootCtx(k), k.vfs.root(), path, { follow: false }).equals(cwd)) return { cwd: path };
  } catch { /* refused below */ }
  throw refuse(`the working directory ${path} is no longer at its path`);
}

/**
 * A removed working directory again: made in its parent (or, if that is gone too, in the top of
 * the root) under a name of its own, then removed, and given its old name for /proc.
 */
export function removedDir(k: Kernel, path: string, i: number): Location {
  const ctx = rootCtx(k), root = k.vfs.root();
  const cut = path.lastIndexOf("/");
  const name = path.slice(cut + 1);
  let parent = path.slice(0, cut) || "/";
  try {
    if (!k.vfs.resolve(ctx, root, parent, { follow: false }).isDir) parent = "/";
  } catch {
    parent = "/";
  }
  const made = `${parent === "/" ? "" : parent}/.sentry-removed-cwd-${i}`;
  try {
    k.vfs.mkdirAt(ctx, root, made, 0o700);
    const loc = k.vfs.resolve(ctx, root, made, { follow: false });
    k.vfs.rmdirAt(ctx, root, made);
    if (name !== "") loc.dentry.name = name;
    return loc;
  } catch (err) {
    throw new ImageError(`restore: cannot make the removed working directory ${path} again: ${err instanceof LinuxError ? err.message : String(err)}`);
  }
}

// ---- Restore -------------------------------------------------------------------------------

/** The orphans of a restore, each made at its first description and held until all are made. */
export class OrphanMaker {
  readonly #made = new Map<number, FileDescription>();

  constructor(readonly kernel: Kernel, readonly saved: readonly SavedOrphan[], readonly blobs: readonly ImageBlob[]) {}

  /** A new description of orphan i with these status flags. */
  open(i: number, flags: number): FileDescription {
    const holder = this.#made.get(i) ?? this.#make(i);
    const loc = holder.location()!;
    const f = fsnotifyOpen(loc.dentry.open(loc, flags | O_LARGEFILE));
    f.openerCreds = holder.openerCreds;
    return f;
  }

  #make(i: number): FileDescription {
    const k = this.kernel;
    const o = this.saved[i]!;
    const ctx = rootCtx(k);
    const where = `restore: cannot make the unlinked file ${o.dir}/${o.name} again`;
    let f: FileDescription;
    try {
      f = k.vfs.openAt(ctx, k.vfs.root(), o.dir, O_TMPFILE | O_RDWR, o.mode);
    } catch (err) {
      throw new ImageError(`${where}: ${err instanceof LinuxError ? err.message : String(err)}`);
    }
    this.#made.set(i, f);
    const loc = f.location()!;
    const inode = inodeAt(loc);
    if (inode === null || !(f instanceof TmpfsRegularFile || f instanceof OverlayRegularFile)) {
      throw new ImageError(`${where}: ${o.dir} is not in a tmpfs or the overlay`);
    }
    try {
      for (const r of o.runs) {
        const data = blobBytes(this.blobs[r.blob]!);
        if (f.write(data, r.off) !== data.length) throw new ImageError(`${where}: short write`);
      }
      k.vfs.truncate(ctx, loc, o.size, false);
      k.vfs.chown(ctx, loc, o.uid, o.gid);
      k.vfs.chmod(ctx, loc, o.mode);
      k.vfs.utimes(ctx, loc, BigInt(o.atimeNs), BigInt(o.mtimeNs));
    } catch (err) {
      if (err instanceof ImageError) throw err;
      throw new ImageError(`${where}: ${err instanceof LinuxError ? err.message : String(err)}`);
    }
    inode.linkable = o.linkable;
    // The name /proc shows; the dentry is in no directory, so no lookup ever sees it.
    for (const d of [loc.dentry, loc.dentry instanceof OverlayDentry ? loc.dentry.upper : null]) {
      if (d === null) continue;
      d.name = o.name;
      d.unlinked = o.unlinked;
    }
    return f;
  }

  /** Drops the holders: the orphans live on in the descriptions made. */
  release(): void {
    for (const f of this.#made.values()) f.decRef();
    this.#made.clear();
  }
}

/** Checks the orphans' data runs against the blobs (each blob once) and their size. */
export function checkOrphansShape(
  orphans: readonly SavedOrphan[], blobs: readonly ImageBlob[], used: Set<number>, bad: (why: string) => ImageError,
): void {
  for (const [i, o] of orphans.entries()) {
    for (const r of o.runs) {
      const b = blobs[r.blob];
      if (b === undefined || used.has(r.blob) || r.off + b.length > o.size) throw bad(`data of unlinked file ${i} names blob ${r.blob}`);
      used.add(r.blob);
    }
  }
}
