/**
 * File handles (name_to_handle_at(2), open_by_handle_at(2)): Linux's exportfs, for the
 * sandbox's own filesystems.
 *
 * A handle names a file of one filesystem of the sandbox by the inode number the sandbox shows
 * for it (stat's st_ino), never by anything of the host: a hostfs handle is not the host's
 * handle, and open_by_handle_at resolves it only among the dentries of the filesystem under the
 * given mount, so no handle reaches outside the sandbox's mounts.
 *
 * Which filesystems decode handles, as their Linux counterparts: tmpfs (shmem_export_ops), the
 * host trees (as ext4), and the sandbox's root overlay (as an overlay mounted with
 * nfs_export=on, so that programs get on it what they get on a disk). The others (procfs, sysfs,
 * devpts, cgroup2, an overlay mounted in the sandbox: nfs_export=on is not implemented) only encode
 * AT_HANDLE_FID handles (exportfs_encode_ino64_fid); a decodable handle is EOPNOTSUPP there.
 *
 * Decoding finds the dentry a handle was made from (held weakly), or on tmpfs searches the tree
 * for the inode (another link of it, or after a restore); a file with no name left is found
 * while it is open (shmem_find_alias takes an unhashed alias), and is ESTALE once it is gone.
 * Handles are not saved by a checkpoint (docs/checkpoint.md, known deviations): after a restore
 * a tmpfs handle resolves to the file of that inode number if there is one, a handle of the root
 * overlay or a host tree only once the same handle was encoded again, else it is ESTALE.
 *
 * @module
 */

import { ESTALE } from "../kernel/errno.ts";
import type { Dentry, Filesystem } from "./dentry.ts";
import { HostFilesystem } from "./hostfs/hostfs.ts";
import { OverlayFilesystem } from "./overlay/overlay.ts";
import { TmpfsDentry, TmpfsFilesystem, type TmpfsInode } from "./tmpfs/tmpfs.ts";

/** Linux's MAX_HANDLE_SZ. */
export const MAX_HANDLE_SZ = 128;
/** FILEID_INO32_GEN: shmem's handle type (generation, inode number low and high words). */
const FILEID_INO32_GEN = 1;
/** FILEID_INO64_GEN: exportfs_encode_ino64_fid's (a 64-bit inode number, then the generation). */
const FILEID_INO64_GEN = 0x81;
/** FILEID_INVALID: what a too small buffer gets as the type. */
export const FILEID_INVALID = 0xff;
/** The user flags in the high half of handle_type (include/linux/exportfs.h). */
export const FILEID_IS_CONNECTABLE = 0x10000;
export const FILEID_IS_DIR = 0x20000;
export const FILEID_USER_FLAGS_MASK = 0xffff0000;
/** Every handle the sandbox makes is three 32-bit words. */
const HANDLE_BYTES = 12;

/** Whether fs decodes handles (Linux: s_export_op with fh_to_dentry). */
function decodable(fs: Filesystem): boolean {
  return fs instanceof TmpfsFilesystem || fs instanceof HostFilesystem ||
    (fs instanceof OverlayFilesystem && fs.layers === null);
}

/**
 * The dentries handles were made from, by filesystem and inode number; for tmpfs also the inode,
 * which an open file keeps after the dentry is gone.
 */
const exported = new WeakMap<Filesystem, Map<number, { d: WeakRef<Dentry>; inode: WeakRef<TmpfsInode> | null }>>();

/** An encoded handle: its type and its bytes. */
export interface Handle {
  type: number;
  bytes: Uint8Array;
}

/**
 * Encodes the handle of d (Linux's exportfs_encode_fh): null when the filesystem cannot make
 * one of the kind asked (EOPNOTSUPP). `fid`: AT_HANDLE_FID, an identifier not meant to be
 * decoded, which every filesystem gives; `connectable`: AT_HANDLE_CONNECTABLE, which needs a
 * filesystem that decodes parents (not tmpfs).
 */
export function encodeHandle(d: Dentry, fid: boolean, connectable = false): Handle | null {
  const fs = d.fs;
  // A connectable handle needs fh_to_parent, which shmem has not.
  if (connectable && (!decodable(fs) || fs instanceof TmpfsFilesystem)) return null;
  const ino = d.ino;
  const bytes = new Uint8Array(HANDLE_BYTES);
  const v = new DataView(bytes.buffer);
  if (!decodable(fs)) {
    if (!fid) return null;
    v.setBigUint64(0, BigInt(ino), true);
    return { type: FILEID_INO64_GEN, bytes };
  }
  // Generation 0: the sandbox never reuses an inode number of a tmpfs.
  v.setUint32(4, ino >>> 0, true);
  v.setUint32(8, Math.floor(ino / 2 ** 32), true);
  if (!fid) {
    let m = exported.get(fs);
    if (m === undefined) exported.set(fs, m = new Map());
    m.set(ino, { d: new WeakRef(d), inode: d instanceof TmpfsDentry ? new WeakRef(d.inode) : null });
  }
  return { type: FILEID_INO32_GEN, bytes };
}

/**
 * A filesystem's id, statfs(2)'s f_fsid and what fanotify's records report with handles: its
 * device number, as Linux's huge_encode_dev(s_dev) for filesystems without a uuid (two 32-bit
 * words, low first).
 */
export function fsidOf(fs: Filesystem): [number, number] {
  let dev = 0;
  try {
    dev = fs.root.stat().dev;
  } catch {
    // A filesystem that can no longer stat its root reports 0.
  }
  return [dev >>> 0, Math.floor(dev / 2 ** 32) >>> 0];
}

/** The bytes a handle of d takes, for EOVERFLOW's answer. */
export const HANDLE_SIZE = HANDLE_BYTES;

/**
 * Decodes a handle within fs (Linux's exportfs_decode_fh_raw): the dentry, or ESTALE when fs
 * decodes no handles, the handle is not one of fs's or its file has no name any more.
 */
export function decodeHandle(fs: Filesystem, type: number, bytes: Uint8Array): Dentry {
  if (!decodable(fs) || bytes.length < HANDLE_BYTES || type !== FILEID_INO32_GEN) throw ESTALE;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0, true) !== 0) throw ESTALE;
  const ino = v.getUint32(4, true) + v.getUint32(8, true) * 2 ** 32;
  const e = exported.get(fs)?.get(ino);
  const d = e?.d.deref();
  if (d !== undefined && named(d)) return d;
  if (fs instanceof TmpfsFilesystem) {
    // Another link of it, or (after a restore) any file of that number.
    const inode = e?.inode?.deref();
    if (inode === undefined || inode.nlink > 0) {
      const found = findTmpfsInode(fs.root as TmpfsDentry, ino);
      if (found !== null) return found;
    }
    // No name left, but open: shmem_find_alias takes an unhashed alias.
    if (inode !== undefined && inode.nlink === 0 && inode.openFiles > 0) {
      const alias = new TmpfsDentry(inode, fs.root as TmpfsDentry, `#${ino}`);
      alias.unlinked = true;
      return alias;
    }
    throw ESTALE;
  }
  // A file with no name left is still found while it is open (ext4's orphan inodes).
  if (d !== undefined && d.users > 0) return d;
  throw ESTALE;
}

/** Whether d is still in its directory (or is a root). */
function named(d: Dentry): boolean {
  if (d.unlinked) return false;
  for (let c: Dentry = d; c.parent !== null; c = c.parent) {
    if (c.unlinked) return false;
  }
  return true;
}

/** A linked dentry of the tmpfs inode numbered ino, searching the tree from dir. */
function findTmpfsInode(dir: TmpfsDentry, ino: number): TmpfsDentry | null {
  if (dir.inode.ino === ino) return dir;
  const stack: TmpfsDentry[] = [dir];
  for (let d = stack.pop(); d !== undefined; d = stack.pop()) {
    for (const c of d.inode.children!.values()) {
      if (c.inode.ino === ino) return c;
      if (c.inode.children !== null) stack.push(c);
    }
  }
  return null;
}
