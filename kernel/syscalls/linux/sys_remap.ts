/**
 * remap_file_pages(2), as Linux has emulated it since 4.0 (mm/mmap.c): the pages of a shared
 * file mapping are rearranged by mapping the file's range at pgoff over [start, start+size)
 * with mmap(MAP_SHARED | MAP_FIXED | MAP_POPULATE) and the mapping's own protection, so the
 * window becomes VMAs of its own, as Linux's do_mmap makes them.
 *
 * @module
 */

import { EINVAL, EOVERFLOW } from "../../errno.ts";
import { MAP_FIXED, MAP_LOCKED, MAP_NONBLOCK, MAP_POPULATE, MAP_SHARED, PAGE_SIZE } from "../../../abi/linux/mm.ts";
import { RLIMIT_AS } from "../../../abi/linux/limits.ts";
import { partial, type SyscallEntry, type SyscallFn } from "./support.ts";
import type { Vma } from "../../mm/mm.ts";
import { shmAttachCount } from "../../ipc_proc.ts";

/** SHM_DEST: IPC_RMID with attaches left (ipc/shm.c). */
const SHM_DEST = 0o1000;

const U64 = 1n << 64n;
const PAGE_MASK = ~BigInt(PAGE_SIZE - 1) & (U64 - 1n);

/** What Linux compares of two VMAs' vm_flags here: the rights, sharing and VM_LOCKED. */
const sameFlags = (a: Vma, b: Vma) => a.prot === b.prot && a.shared === b.shared && (a.locked ?? false) === (b.locked ?? false);

const sysRemapFilePages: SyscallFn = (t, a) => {
  const prot = a.u64(2), pgoff = a.u64(3);
  let flags = Number(a.u64(4) & BigInt(MAP_NONBLOCK));
  if (prot !== 0n) throw EINVAL;
  const start = a.u64(0) & PAGE_MASK, size = a.u64(1) & PAGE_MASK;
  // An empty range or one that wraps, and a pgoff that wraps with it, are EINVAL.
  if (start + size <= start || start + size >= U64) throw EINVAL;
  if (pgoff + size / BigInt(PAGE_SIZE) >= U64) throw EINVAL;
  if (start > BigInt(Number.MAX_SAFE_INTEGER)) throw EINVAL; // beyond the address space: no VMA
  const s = Number(start), e = start + size > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(start + size);
  const vma = t.mm.findVma(s);
  if (vma === undefined || vma.start > s || !vma.shared) throw EINVAL;
  // Shared anonymous memory has no file here to map again at another offset (Linux maps its
  // shmem file): refused rather than mapped as new zeroed memory.
  if (vma.file === null) throw EINVAL;
  // A range past the VMA must continue in VMAs of the same file and flags, without a hole.
  let prev = vma;
  while (e > prev.end) {
    const next = t.mm.findVma(prev.end);
    if (next === undefined || next.start !== prev.end || next.file !== vma.file || !sameFlags(next, vma)) throw EINVAL;
    prev = next;
  }
  flags |= MAP_SHARED | MAP_FIXED | MAP_POPULATE | (vma.locked ? MAP_LOCKED : 0);
  const offset = pgoff * BigInt(PAGE_SIZE);
  if (offset > BigInt(Number.MAX_SAFE_INTEGER)) throw EOVERFLOW; // do_mmap's file_mmap_ok
  const len = Number(size);
  const file = vma.file.incRef(); // the VMA it came from may go with the mmap
  try {
    // A System V segment's attach (Linux's shm_mmap finds the segment by its id again): when
    // IPC_RMID has marked it, the unmapping that MAP_FIXED does first may be its last attach,
    // which destroys it; then the id names nothing and the call fails, the range left unmapped.
    const seg = t.ipc.shm.all().find((x) => x.file === file);
    if (seg !== undefined && (seg.perm.mode & SHM_DEST)) {
      t.mm.munmap(t.ctx, s, len);
      if (shmAttachCount(t.kernel, seg) === 0) {
        t.ipc.removeSegment(seg);
        throw EINVAL;
      }
    }
    t.mm.mmap(t.ctx, { addr: s, len, prot: vma.prot, flags, file, offset: Number(offset), asLimit: t.tg.limits.soft(RLIMIT_AS) });
  } finally {
    file.decRef();
  }
  if (!(flags & MAP_NONBLOCK) || vma.locked) t.mm.populate(t.ctx, s, s + len);
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  216: partial("remap_file_pages", sysRemapFilePages, "shared anonymous memory is EINVAL (Linux remaps its shmem file)"),
};
