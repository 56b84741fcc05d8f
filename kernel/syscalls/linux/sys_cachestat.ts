/**
 * cachestat(2) (mm/filemap.c, Linux 6.5; the permission check of 6.13): page-cache statistics
 * of a file range, in Linux's order of checks. The sandbox's files live in its memory, so what
 * is "cached" is what Linux's page cache would hold for them: a tmpfs file's allocated pages
 * (TmpfsInode.cachedPages); any other regular file counts its every page, as one that was
 * read. Nothing is ever dirty, under writeback or evicted (shmem's pages are not dirtied, and
 * the sandbox never evicts); other files have no pages.
 *
 * @module
 */

import { EBADF, EINVAL, EPERM } from "../../errno.ts";
import { O_PATH } from "../../../abi/linux/file.ts";
import { CAP_FOWNER } from "../../../abi/linux/capability.ts";
import { S_IFMT, S_IFREG } from "../../../abi/linux/file.ts";
import { TmpfsRegularFile } from "../../../vfs/mod.ts";
import { MAY_WRITE, mayAccess } from "../../../vfs/permissions.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const PAGE_SHIFT = 12n;
const ULONG_MAX = (1n << 64n) - 1n;
/** struct cachestat: nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted. */
const CACHESTAT_SIZE = 40;

const sysCachestat: SyscallFn = (t, a) => {
  const fd = a.uint(0), rangeAddr = a.pointer(1), out = a.pointer(2), flags = a.uint(3);
  const file = t.fdTable.get(fd);
  if (file.flags & O_PATH) throw EBADF; // fdget: O_PATH descriptors are not there
  const rv = new DataView(t.copyIn(rangeAddr, 16).buffer);
  const off = rv.getBigUint64(0, true), len = rv.getBigUint64(8, true);
  // No hugetlbfs here (EOPNOTSUPP on Linux). can_do_cachestat: opened for writing, the
  // owner (or CAP_FOWNER), or write permission.
  const st = file.stat();
  const c = t.creds;
  const loc = file.location();
  if (
    !file.writable && c.fsuid !== st.uid && !c.hasCapOver(CAP_FOWNER, st.uid, st.gid) &&
    !(mayAccess(c, MAY_WRITE, st.mode, st.uid, st.gid) && !(loc?.mount.isReadonly ?? false))
  ) throw EPERM;
  if (flags !== 0) throw EINVAL;
  const first = off >> PAGE_SHIFT;
  const last = len === 0n ? ULONG_MAX : BigInt.asUintN(64, off + len - 1n) >> PAGE_SHIFT;
  let cached = 0;
  if (first <= last && (st.mode & S_IFMT) === S_IFREG) {
    // Page indexes past 2^53 hold nothing: no file is that large.
    const lo = first > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(first);
    const hi = last > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(last);
    if (lo <= hi) {
      if (file instanceof TmpfsRegularFile) cached = file.inode.cachedPages(lo, hi);
      else cached = Math.max(0, Math.min(hi, Math.ceil(st.size / 4096) - 1) - lo + 1);
    }
  }
  const b = new Uint8Array(CACHESTAT_SIZE);
  new DataView(b.buffer).setBigUint64(0, BigInt(cached), true);
  t.copyOut(out, b);
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  451: supported("cachestat", sysCachestat),
};
