/**
 * Checkpoint of what the sandbox wrote to its filesystems, and of its open regular files
 * (issue #13; docs/checkpoint.md).
 *
 * The trees: the root overlay's in-memory upper layer (every directory, file, symlink and FIFO
 * in it, with owner, mode, times and data, hard links kept) with the overlay's whiteouts and
 * opaque directories, and every tmpfs mount. They are read through the filesystems' own
 * objects (nothing changes) and written back on restore through the VFS's path operations as
 * root, in order: what the overlay hides is removed first (which makes the whiteouts), then the
 * entries parents first, then their attributes children first (a directory's times after its
 * contents are written). The lower layer is the host's and is not saved: the root's identity is
 * checked (image.ts checkRoot), and each host file the program has open by its size and mtime.
 *
 * Open regular files (and the stateless devices /dev/null, zero, full, random, urandom) are saved
 * by path with their flags and offset, and reopened on restore. A file no longer at its path
 * (unlinked while open, O_TMPFILE) is saved as orphans.ts finds it.
 *
 * @module
 */

import { intIn, lazyKind, z } from "./zod_tree.ts";
import type { Kernel } from "../kernel.ts";
import { Credentials } from "../creds.ts";
import { LinuxError } from "../errno.ts";
import type { FileDescription } from "../../vfs/file_description.ts";
import { Location, type Mount } from "../../vfs/mount.ts";
import type { PathContext } from "../../vfs/path_walk.ts";
import { MemoryDeviceFile } from "../../vfs/devices.ts";
import { DirectoryFile } from "../../vfs/directory_file.ts";
import { OverlayDentry, OverlayFilesystem } from "../../vfs/overlay/overlay.ts";
import { OverlayRegularFile } from "../../vfs/overlay/overlay_file.ts";
import { TmpfsDentry, TmpfsFilesystem, type TmpfsInode, TmpfsRegularFile } from "../../vfs/tmpfs/tmpfs.ts";
import {
  O_CREAT, O_DIRECTORY, O_EXCL, O_NOCTTY, O_NOFOLLOW, O_RDWR, O_TRUNC, O_WRONLY, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT,
  S_IFREG, S_IFSOCK,
} from "../../abi/linux/file.ts";
import { blobBytes, type ImageBlob, ImageError } from "./image.ts";
import type { Dentry } from "../../vfs/dentry.ts";
import { HostDentry, HostRegularFile } from "../../vfs/hostfs/hostfs.ts";
import { hostFds } from "../../vfs/host_fds.ts";
import { hostPread } from "../../platform/ptrace/_ffi.ts";
import { checkAclValid } from "../../vfs/posix_acl.ts";

/** The largest run of file data one blob holds. */
const RUN_BYTES = 16 << 20;

/** Why something cannot be saved, in one line (save.ts's CheckpointError makes it one). */
export type Refuse = (what: string) => Error;

export const u32 = intIn(0, 0xffff_ffff);
export const u64 = intIn(0, Number.MAX_SAFE_INTEGER);
/** A time in ns since the epoch, as decimal digits (it does not fit a double exactly). */
export const timeNs = z.string().regex(/^-?[0-9]{1,20}$/);
/** A path relative to a tree's top: names without "." or "..", "" for the top itself. */
const relPath = z.string().max(4096).refine(
  (p) => p === "" || p.split("/").every((n) => n !== "" && n !== "." && n !== ".." && !n.includes("\0")),
  "not a relative path",
);
export const absPath = z.string().max(4096).refine(
  (p) => p.startsWith("/") && (p === "/" || p.slice(1).split("/").every((n) => n !== "" && n !== "." && n !== "..")),
  "not an absolute path",
);

const aclSchema = z.array(z.object({ tag: u32, perm: u32, id: u32 }).strict()).min(1).max(4096);

/**
 * An inode's permission bits, owner, times and data as an image holds them, a tree entry's as
 * an orphan's (orphans.ts): a regular file's size and the runs of it that are not holes, data
 * in blobs ({@linkcode saveFileData}).
 */
export const inodeShape = {
  mode: intIn(0, 0o7777),
  uid: u32,
  gid: u32,
  atimeNs: timeNs,
  mtimeNs: timeNs,
  size: u64,
  runs: z.array(z.object({ off: u64, blob: u32 }).strict()).max(1 << 20),
};

const entrySchema = z.object({
  path: relPath,
  kind: z.enum(["dir", "file", "symlink", "fifo", "socket", "chr", "blk"]),
  ...inodeShape,
  target: z.string().max(4096),
  /** Another name of the file of entries[linkTo] (a hard link), saved before it. */
  linkTo: u32.nullable(),
  /** A device node's device number (its kind "chr" or "blk"). */
  rdev: u32.optional(),
  /**
   * A socket file's bound socket: an index of the image's Unix sockets, or null when the socket
   * bound to it is closed (connect is refused, ECONNREFUSED, as before the checkpoint).
   */
  socket: u32.nullable().optional(),
  /** The POSIX ACLs (vfs/posix_acl.ts), absent when none; validated again on restore. */
  acl: aclSchema.optional(),
  defaultAcl: aclSchema.optional(),
  /** chattr(1)'s inode flags (FS_IOC_SETFLAGS), absent when none; checked again on restore. */
  fsflags: u32.optional(),
}).strict();

export const treeSchema = z.object({
  /** Where the tree is in the sandbox: "/" for the root overlay's upper layer, or a tmpfs mount. */
  at: absPath,
  entries: z.array(entrySchema).max(1 << 22),
  /** Paths the overlay hides (whiteouts), and directories whose lower side it ignores (opaque). */
  whiteouts: z.array(absPath).max(1 << 22),
  opaque: z.array(absPath).max(1 << 22),
}).strict();

// The two kinds of file below are built at the first such file an image holds (zod_tree.ts lazyKind).
export const openFileSchema = lazyKind("file", () => z.object({
  kind: z.literal("file"),
  path: absPath,
  flags: u32,
  offset: u64,
  /** A host file (the overlay's lower layer): its size and mtime, checked on restore. */
  host: z.object({ size: u64, mtimeNs: timeNs }).strict().nullable(),
  /**
   * A file unlinked while open, with no name left: orphans[orphan] (orphans.ts); `path` is
   * then only what /proc showed.
   */
  orphan: u32.optional(),
}).strict());

/**
 * A directory open as a descriptor, reopened by path; its position is an index into the listing
 * it was reading, which is saved with it (names, inode numbers and types as the program saw
 * them), so that the rest of a readdir goes on where it was.
 */
export const openDirSchema = lazyKind("dir", () => z.object({
  kind: z.literal("dir"),
  path: absPath,
  flags: u32,
  offset: u64,
  listing: z.array(z.object({
    name: z.string().min(1).max(255).refine((n) => !n.includes("/") && !n.includes("\0"), "not a file name"),
    ino: u64,
    type: intIn(0, 15),
  }).strict()).max(1 << 20).nullable(),
}).strict());

export type SavedOpenDir = z.infer<typeof openDirSchema>;
export type SavedTree = z.infer<typeof treeSchema>;
export type SavedOpenFile = z.infer<typeof openFileSchema>;
type SavedEntry = z.infer<typeof entrySchema>;

export function rootCtx(k: Kernel): PathContext {
  return { root: k.vfs.root(), creds: Credentials.root() };
}

function join(at: string, rel: string): string {
  return rel === "" ? at : at === "/" ? `/${rel}` : `${at}/${rel}`;
}

// ---- Save ----------------------------------------------------------------------------------

/** The trees the sandbox wrote to: the root overlay's upper layer and every tmpfs mount. */
/** A socket file's endpoint's index among the image's Unix sockets, or null when it is closed. */
export type SocketIndex = (endpoint: unknown) => number | null;

export function saveTrees(k: Kernel, blobs: Uint8Array[], refuse: Refuse, socketIndex: SocketIndex): SavedTree[] {
  const trees: SavedTree[] = [];
  const mounts = k.vfs.mounts();
  const rootMount = k.vfs.root().mount;
  // Paths where other filesystems are mounted: what a tree has under them is hidden.
  const mountPaths = new Set(mounts.filter((m) => m !== rootMount).map((m) => new Location(m, m.root).path()));
  const fs = rootMount.fs;
  for (const m of mounts) {
    if (m !== rootMount && m.fs instanceof OverlayFilesystem) refuseThrow(refuse, "an overlay mounted in the sandbox");
  }
  if (fs instanceof OverlayFilesystem && rootMount.readonly) {
    // A read-only root's layer holds only the mount points boot made, which the restoring
    // boot makes again.
  } else if (fs instanceof OverlayFilesystem) {
    // The upper layer is a tmpfs, or a host directory (--overlay-upper), saved alike.
    if (fs.upper === null) refuseThrow(refuse, "a root overlay without an upper layer");
    const hidden = { whiteouts: [] as string[], opaque: [] as string[] };
    hiddenOf(fs.root, "/", hidden, mountPaths);
    trees.push({
      at: "/",
      entries: saveTree(fs.upper.root, "/", mountPaths, blobs, refuse, socketIndex),
      whiteouts: hidden.whiteouts,
      opaque: hidden.opaque,
    });
  } else if (!rootMount.readonly) {
    refuseThrow(refuse, `a writable root of type ${fs.name}`);
  }
  for (const m of mounts) {
    if (m === rootMount || !(m.fs instanceof TmpfsFilesystem) || m.root !== m.fs.root) continue;
    const at = new Location(m, m.root).path();
    trees.push({ at, entries: saveTree(m.fs.root, at, mountPaths, blobs, refuse, socketIndex), whiteouts: [], opaque: [] });
  }
  return trees;
}

function refuseThrow(refuse: Refuse, what: string): never {
  throw refuse(what);
}

/** The entries of a tmpfs tree in pre-order (parents first), leaving out what mounts hide. */
/**
 * The entries of a tree in pre-order (parents first), leaving out what mounts hide: a tmpfs, or
 * a host directory (the overlay's upper layer with `--overlay-upper`), read through its dentries
 * (a host file's data through a descriptor of its own).
 */
function saveTree(
  top: Dentry, at: string, mountPaths: Set<string>, blobs: Uint8Array[], refuse: Refuse, socketIndex: SocketIndex,
): SavedEntry[] {
  const out: SavedEntry[] = [];
  // Hard links: a tmpfs file by its inode, a host file by its inode number.
  const byInode = new Map<unknown, number>();
  const walk = (d: Dentry, rel: string): void => {
    const st = d.stat();
    const type = st.mode & S_IFMT;
    const acl = d.acl, defaultAcl = d.defaultAcl, fsflags = d.inodeFlags ?? 0;
    const base = {
      path: rel, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, atimeNs: String(st.atimeNs), mtimeNs: String(st.mtimeNs),
      size: 0, runs: [] as { off: number; blob: number }[], target: "", linkTo: null as number | null,
      ...(acl !== null ? { acl: acl.map((e) => ({ ...e })) } : {}),
      ...(defaultAcl !== null ? { defaultAcl: defaultAcl.map((e) => ({ ...e })) } : {}),
      ...(fsflags !== 0 ? { fsflags } : {}),
    };
    if (type === S_IFDIR) {
      out.push({ ...base, kind: "dir" });
      for (const e of d.children().sort((a, b) => (a.name < b.name ? -1 : 1))) {
        if (e.name === "." || e.name === "..") continue;
        const childRel = rel === "" ? e.name : `${rel}/${e.name}`;
        if (mountPaths.has(join(at, childRel))) continue;
        const c = d.lookup(e.name);
        if (c !== null) walk(c, childRel);
      }
      return;
    }
    const key = d instanceof TmpfsDentry ? d.inode : st.nlink > 1 ? `${st.dev}:${st.ino}` : null;
    const seen = key === null ? undefined : byInode.get(key);
    if (seen !== undefined) {
      out.push({ ...base, kind: "file", linkTo: seen });
      return;
    }
    if (type === S_IFREG) {
      if (key !== null) byInode.set(key, out.length);
      const size = Number(st.size);
      if (d instanceof TmpfsDentry) {
        out.push({ ...base, kind: "file", size, runs: saveFileData(d.inode, size, blobs) });
      } else if (d instanceof HostDentry) {
        out.push({ ...base, kind: "file", size, runs: saveHostFileData(d, size, blobs, refuse) });
      } else {
        throw refuse(`${join(at, rel)}: a file of ${d.fs.name} in a written filesystem`);
      }
    } else if (type === S_IFLNK) {
      out.push({ ...base, kind: "symlink", target: d.readlink() });
    } else if (type === S_IFIFO) {
      out.push({ ...base, kind: "fifo" });
    } else if (type === S_IFSOCK) {
      const ep = d.boundSocket();
      out.push({ ...base, kind: "socket", socket: ep === null || ep === undefined ? null : socketIndex(ep) });
    } else if (type === S_IFCHR || type === S_IFBLK) {
      out.push({ ...base, kind: type === S_IFCHR ? "chr" : "blk", rdev: Number(st.rdev) });
    } else {
      throw refuse(`${join(at, rel)}: a file of type 0o${type.toString(8)} in a written filesystem`);
    }
  };
  walk(top, "");
  return out;
}

/** A tmpfs file's data as runs of blobs (RUN_BYTES each at most), holes and zero pages left out. */
export function saveFileData(inode: TmpfsInode, size: number, blobs: Uint8Array[]): { off: number; blob: number }[] {
  const runs: { off: number; blob: number }[] = [];
  for (let off = 0; off < size; off += RUN_BYTES) {
    const buf = new Uint8Array(Math.min(RUN_BYTES, size - off));
    const n = inode.read(buf, off);
    nonZeroRuns(buf.subarray(0, n), off, runs, blobs);
  }
  return runs;
}

/**
 * Adds the runs of buf (the file's bytes at off) that hold anything but zeros, page by page,
 * so that a sparse file's holes stay holes on restore (the restore writes the runs only).
 */
function nonZeroRuns(buf: Uint8Array, off: number, runs: { off: number; blob: number }[], blobs: Uint8Array[]): void {
  const PAGE = 4096;
  let start = -1;
  for (let p = 0; p < buf.length + PAGE; p += PAGE) {
    const zero = p >= buf.length || buf.subarray(p, Math.min(p + PAGE, buf.length)).every((b) => b === 0);
    if (!zero && start < 0) start = p;
    if (zero && start >= 0) {
      runs.push({ off: off + start, blob: blobs.length });
      const end = Math.min(p, buf.length);
      // A blob is written from its buffer's start: a piece of buf is its own copy.
      blobs.push(start === 0 && end === buf.length && buf.byteOffset === 0 ? buf : buf.slice(start, end));
      start = -1;
    }
  }
}

/** A host file's data as runs of blobs, read through a descriptor of its own (all-zero runs left out). */
function saveHostFileData(d: HostDentry, size: number, blobs: Uint8Array[], refuse: Refuse): { off: number; blob: number }[] {
  let fd: number;
  try {
    fd = d.openHostFd();
  } catch {
    throw refuse(`cannot read ${d.hostPath()} of the upper layer`);
  }
  try {
    const runs: { off: number; blob: number }[] = [];
    for (let off = 0; off < size; off += RUN_BYTES) {
      const buf = new Uint8Array(Math.min(RUN_BYTES, size - off));
      let n = 0;
      while (n < buf.length) {
        const r = hostPread(fd, buf.subarray(n), off + n);
        if (r < 0) throw refuse(`cannot read ${d.hostPath()} of the upper layer`);
        if (r === 0) break;
        n += r;
      }
      if (n !== buf.length) throw refuse(`${d.hostPath()} of the upper layer changed size while it was read`);
      nonZeroRuns(buf, off, runs, blobs);
    }
    return runs;
  } finally {
    hostFds.close(fd);
  }
}

/** The whiteouts and opaque directories among the overlay's dentries (all cached: overlay.ts). */
function hiddenOf(d: OverlayDentry, path: string, out: { whiteouts: string[]; opaque: string[] }, mountPaths: Set<string>): void {
  for (const name of [...d.whiteouts].sort()) out.whiteouts.push(path === "/" ? `/${name}` : `${path}/${name}`);
  for (const c of d.cachedChildren()) {
    const p = path === "/" ? `/${c.name}` : `${path}/${c.name}`;
    if (mountPaths.has(p)) continue;
    if (c.isDir && c.upper !== null && c.lower === null && d.lower?.lookup(c.name)?.isDir === true) out.opaque.push(p);
    if (c.isDir) hiddenOf(c, p, out, mountPaths);
  }
}

/** Where an open file whose path no longer leads to it is found again (orphans.ts). */
export type Moved = (f: FileDescription, refuse: Refuse) => { path: string } | { orphan: number };

/**
 * An open regular file of a saved tree or of the host's lower layer, by path (or, when it is
 * no longer at its path, as `moved` finds it); refuses the rest.
 */
export function saveOpenFile(k: Kernel, f: FileDescription, refuse: Refuse, moved: Moved): SavedOpenFile | SavedOpenDir | null {
  if (f instanceof DirectoryFile) {
    const path = f.path();
    if (!atItsPath(k, f)) throw refuse(`the open directory ${path} was removed or renamed`);
    return { kind: "dir", path, flags: f.flags, offset: f.offset, listing: f.listing === null ? null : f.listing.map((e) => ({ ...e })) };
  }
  // /dev/null, zero, full, random, urandom hold no state: reopened by path as the files are.
  if (!(f instanceof OverlayRegularFile) && !(f instanceof TmpfsRegularFile) && !(f instanceof MemoryDeviceFile)) return null;
  const loc = f.location()!;
  const path = f.path();
  if (!atItsPath(k, f)) {
    if (f instanceof MemoryDeviceFile) throw refuse(`the open device ${path} was unlinked or renamed`);
    const m = moved(f, refuse);
    if ("orphan" in m) return { kind: "file", path, flags: f.flags, offset: f.offset, host: null, orphan: m.orphan };
    return { kind: "file", path: m.path, flags: f.flags, offset: f.offset, host: null };
  }
  let host: SavedOpenFile["host"] = null;
  const d = loc.dentry;
  if (d instanceof OverlayDentry && d.upper === null) {
    const st = f.stat();
    host = { size: Number(st.size), mtimeNs: String(st.mtimeNs) };
  }
  return { kind: "file", path, flags: f.flags, offset: f.offset, host };
}

/** Whether f's path (as /proc shows it) still leads to where f was opened. */
function atItsPath(k: Kernel, f: FileDescription): boolean {
  try {
    return k.vfs.resolve(rootCtx(k), k.vfs.root(), f.path(), { follow: false }).equals(f.location()!);
  } catch {
    return false;
  }
}

// ---- Restore -------------------------------------------------------------------------------

/**
 * Writes the saved trees into k's filesystems (mounted, nothing running yet). Socket files are
 * made with no socket bound; the ones whose socket lives are returned, for
 * {@linkcode bindSocketFiles} once the sockets exist.
 */
export function restoreTrees(k: Kernel, trees: SavedTree[], blobs: readonly ImageBlob[]): { path: string; socket: number }[] {
  const sockets: { path: string; socket: number }[] = [];
  const ctx = rootCtx(k);
  const root = k.vfs.root();
  for (const t of trees) {
    // A tree on a read-only mount (a read-only tmpfs of config.json, linux.maskedPaths' empty
    // one, a tmpfs remounted read-only after it was written) is rebuilt through it all the same.
    let top: Mount | null = null;
    try {
      top = k.vfs.resolve(ctx, root, t.at, { follow: false }).mount;
    } catch { /* missing: the entries' own errors say so */ }
    const wasReadonly = top?.readonly ?? false;
    if (top !== null) top.readonly = false;
    try {
      restoreTree(k, t, blobs, sockets);
    } finally {
      if (top !== null) top.readonly = wasReadonly;
    }
  }
  return sockets;
}

function restoreTree(k: Kernel, t: SavedTree, blobs: readonly ImageBlob[], sockets: { path: string; socket: number }[]): void {
  const ctx = rootCtx(k);
  const root = k.vfs.root();
  {
    const where = (p: string) => `restore: cannot rebuild ${p}`;
    for (const p of [...t.whiteouts, ...t.opaque]) removeTree(k, ctx, p);
    const locOf = (rel: string): Location => k.vfs.resolve(ctx, root, join(t.at, rel), { follow: false });
    for (const e of t.entries) {
      const p = join(t.at, e.path);
      try {
        if (e.kind === "dir") {
          let existing: Location | null = null;
          try {
            existing = locOf(e.path);
          } catch { /* missing */ }
          if (existing !== null && !existing.isDir) removeTree(k, ctx, p);
          if (existing === null || !existing.isDir) k.vfs.mkdirAt(ctx, root, p, e.mode);
          continue;
        }
        if (e.path !== "") removeTree(k, ctx, p);
        if (e.linkTo !== null) {
          const target = t.entries[e.linkTo]!;
          k.vfs.linkAt(ctx, locOf(target.path), root, p);
        } else if (e.kind === "symlink") {
          k.vfs.symlinkAt(ctx, e.target, root, p);
        } else if (e.kind === "fifo") {
          k.vfs.mknodAt(ctx, root, p, S_IFIFO | e.mode, 0);
        } else if (e.kind === "socket") {
          k.vfs.mknodAt(ctx, root, p, S_IFSOCK | e.mode, 0);
          if (e.socket !== null && e.socket !== undefined) sockets.push({ path: p, socket: e.socket });
        } else if (e.kind === "chr" || e.kind === "blk") {
          k.vfs.mknodAt(ctx, root, p, (e.kind === "chr" ? S_IFCHR : S_IFBLK) | e.mode, e.rdev ?? 0);
        } else {
          const f = k.vfs.openAt(ctx, root, p, O_WRONLY | O_CREAT | O_TRUNC, e.mode);
          try {
            for (const r of e.runs) {
              const data = blobBytes(blobs[r.blob]!);
              if (f.write(data, r.off) !== data.length) throw new ImageError(`${where(p)}: short write`);
            }
          } finally {
            f.decRef();
          }
          k.vfs.truncate(ctx, locOf(e.path), e.size, false);
        }
      } catch (err) {
        if (err instanceof ImageError) throw err;
        throw new ImageError(`${where(p)}: ${err instanceof LinuxError ? err.message : String(err)}`);
      }
    }
    // Attributes children first, so that writing a child never changes its directory's times after.
    for (const e of [...t.entries].reverse()) {
      if (e.linkTo !== null) continue;
      const p = join(t.at, e.path);
      try {
        const loc = locOf(e.path);
        k.vfs.chown(ctx, loc, e.uid, e.gid);
        if (e.kind !== "symlink") k.vfs.chmod(ctx, loc, e.mode);
        for (const [type, acl] of [["access", e.acl], ["default", e.defaultAcl]] as const) {
          if (acl === undefined) continue;
          checkAclValid(acl);
          loc.dentry.setAcl(type, acl);
        }
        k.vfs.utimes(ctx, loc, BigInt(e.atimeNs), BigInt(e.mtimeNs));
        // Last: an immutable or append-only file refuses the attribute changes above.
        if (e.fsflags !== undefined) k.vfs.setInodeFlags(ctx, loc, e.fsflags);
      } catch (err) {
        throw new ImageError(`restore: cannot set the attributes of ${p}: ${err instanceof LinuxError ? err.message : String(err)}`);
      }
    }
  }
}

/**
 * Binds the restored socket files to their restored sockets (bind(2) made the file; here the
 * file exists and takes the socket, as it held it).
 */
export function bindSocketFiles(k: Kernel, files: readonly { path: string; socket: number }[], sockets: readonly unknown[]): void {
  for (const f of files) {
    let d;
    try {
      d = k.vfs.resolve(rootCtx(k), k.vfs.root(), f.path, { follow: false }).dentry;
    } catch {
      throw new ImageError(`restore: the socket file ${f.path} is gone`);
    }
    const t = d instanceof OverlayDentry ? d.upper : d;
    if (t instanceof TmpfsDentry && t.inode.type === S_IFSOCK) t.inode.socket = sockets[f.socket];
    else if (t instanceof HostDentry && t.type === S_IFSOCK) t.attachSocket(sockets[f.socket]);
    else throw new ImageError(`restore: ${f.path} is not a socket file of a written filesystem`);
  }
}

/** Removes path and everything under it through the VFS, if it exists (as rm -rf). */
function removeTree(k: Kernel, ctx: PathContext, path: string): void {
  const root = k.vfs.root();
  let loc: Location;
  try {
    loc = k.vfs.resolve(ctx, root, path, { follow: false });
  } catch {
    return;
  }
  if (loc.isDir) {
    for (const e of loc.dentry.children()) {
      if (e.name !== "." && e.name !== "..") removeTree(k, ctx, `${path}/${e.name}`);
    }
    k.vfs.rmdirAt(ctx, root, path);
  } else {
    k.vfs.unlinkAt(ctx, root, path);
  }
}

/** Reopens a saved directory at its position in the listing it was reading. */
export function restoreOpenDir(k: Kernel, s: SavedOpenDir): FileDescription {
  const flags = s.flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_WRONLY | O_RDWR);
  let f: FileDescription;
  try {
    f = k.vfs.openAt(rootCtx(k), k.vfs.root(), s.path, flags | O_DIRECTORY | O_NOFOLLOW, 0);
  } catch (err) {
    throw new ImageError(`restore: cannot reopen the directory ${s.path}: ${err instanceof LinuxError ? err.message : String(err)}`);
  }
  if (!(f instanceof DirectoryFile)) {
    f.decRef();
    throw new ImageError(`restore: ${s.path} is no longer a directory`);
  }
  f.flags = flags;
  f.offset = s.offset;
  f.listing = s.listing;
  return f;
}

/** Reopens a saved open file (an orphan through `orphan`, orphans.ts); checks that a host file is unchanged. */
export function restoreOpenFile(k: Kernel, s: SavedOpenFile, orphan: (i: number, flags: number) => FileDescription): FileDescription {
  const ctx = rootCtx(k);
  const root = k.vfs.root();
  if (s.orphan !== undefined) {
    const f = orphan(s.orphan, s.flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY));
    f.flags = s.flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY);
    f.offset = s.offset;
    return f;
  }
  if (s.host !== null) {
    let st;
    try {
      st = k.vfs.statAt(ctx, root, s.path, { follow: false, emptyPath: false });
    } catch {
      throw new ImageError(`restore: the host file ${s.path} the program had open is gone`);
    }
    if (Number(st.size) !== s.host.size || String(st.mtimeNs) !== s.host.mtimeNs) {
      throw new ImageError(`restore: the host file ${s.path} the program had open changed since the checkpoint`);
    }
  }
  let f: FileDescription;
  try {
    f = k.vfs.openAt(ctx, root, s.path, s.flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY), 0);
  } catch (err) {
    throw new ImageError(`restore: cannot reopen ${s.path}: ${err instanceof LinuxError ? err.message : String(err)}`);
  }
  f.flags = s.flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY);
  f.offset = s.offset;
  return f;
}

/** A host file as it is: a lower file of the overlay, or a file of a host directory mount. */
export function hostBacked(f: FileDescription): boolean {
  if (f instanceof HostRegularFile) return true;
  const d = f.location()?.dentry;
  return f instanceof OverlayRegularFile && d instanceof OverlayDentry && d.upper === null;
}
