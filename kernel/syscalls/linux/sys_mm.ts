/**
 * Memory syscalls: mmap(2), munmap(2), mprotect(2), brk(2), mremap(2), madvise(2), and the
 * protection-key calls pkey_alloc(2), pkey_free(2), pkey_mprotect(2).
 */

import { SocketFile } from "../../socket/socket.ts";
import { EACCES, EAGAIN, EBADF, EINVAL, ENODEV, ENOMEM, ENOSPC, EOPNOTSUPP, EOVERFLOW, EPERM } from "../../errno.ts";
import type { Vma } from "../../mm/mm.ts";
import { O_PATH, S_IFBLK, S_IFMT, S_IFREG } from "../../../abi/linux/file.ts";
import type { FileDescription } from "../../../vfs/file_description.ts";
import { MemoryDeviceFile } from "../../../vfs/devices.ts";

/** MAX_LFS_FILESIZE: the end of a file's offsets. */
const MAX_LFS_FILESIZE = (1n << 63n) - 1n;
import { lockLimitBytes } from "./sys_advice.ts";
import { sendUffdEvent, sendUffdEvents, uffdEventDone, uffdsWanting } from "../../userfaultfd_hooks.ts";
import { UFFD_FEATURE_EVENT_REMAP, UFFD_FEATURE_EVENT_REMOVE, UFFD_FEATURE_EVENT_UNMAP } from "../../../abi/linux/userfaultfd.ts";
import {
  MADV_DONTNEED, MAP_ANONYMOUS, MAP_GROWSDOWN, MAP_HUGETLB, MAP_LOCKED, MAP_NONBLOCK, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED_VALIDATE, MAP_TYPE,
  PAGE_SIZE, PROT_WRITE,
} from "../../../abi/linux/mm.ts";
import { RLIMIT_AS, RLIMIT_DATA } from "../../../abi/linux/limits.ts";
import { partial, supported, type SyscallEntry, type SyscallFn } from "./support.ts";

/**
 * Whether a file has an mmap operation: regular files, memfds and /dev/zero; directories,
 * pipes, sockets, terminals and the other character devices are ENODEV, as on Linux.
 */
function mappable(file: FileDescription): boolean {
  if (file instanceof MemoryDeviceFile) return file.mappable;
  const type = file.stat().mode & S_IFMT;
  return type === S_IFREG || type === S_IFBLK;
}

/**
 * Flags Linux accepts with MAP_SHARED_VALIDATE (LEGACY_MAP_MASK, the type bits and the huge
 * page size bits; MAP_SYNC only on DAX files, which the sandbox has none of): measured on 6.18.
 */
const KNOWN_MAP_FLAGS = 0x7c07f9ff;

/** Implements mmap(2). */
const sysMmap: SyscallFn = (t, a) => {
  const [addr, len, prot, flags, fd, off] = [a.pointer(0), a.sizeT(1), a.uint(2), a.uint(3), a.fd(4), a.long(5)];
  // Unknown protection bits are ignored, as Linux's mmap does (mprotect refuses them).
  if ((flags & MAP_TYPE) === MAP_SHARED_VALIDATE && (flags & ~KNOWN_MAP_FLAGS)) throw EOPNOTSUPP;
  if (off % PAGE_SIZE !== 0) throw EINVAL;
  const anon = (flags & MAP_ANONYMOUS) !== 0;
  // Anonymous memory is private or shared; MAP_SHARED_VALIDATE is for files only.
  if (anon && (flags & MAP_TYPE) === MAP_SHARED_VALIDATE) throw EINVAL;
  // Linux's file_mmap_ok: a file's pages end at MAX_LFS_FILESIZE (offsets are unsigned there,
  // so a negative one lies beyond it); anonymous memory ignores the offset.
  if (!anon && BigInt.asUintN(64, BigInt(off)) + BigInt(Math.ceil(len / PAGE_SIZE) * PAGE_SIZE) > MAX_LFS_FILESIZE) {
    throw EOVERFLOW;
  }
  let file = anon ? null : t.fdTable.get(fd);
  if (file !== null && (file.flags & O_PATH)) throw EBADF; // fget refuses O_PATH descriptors
  // ksys_mmap_pgoff: MAP_HUGETLB needs a hugetlbfs file, which the sandbox has none of.
  if (file !== null && (flags & MAP_HUGETLB)) throw EINVAL;
  // A packet socket's ring is mapped through the ring's own file.
  if (file instanceof SocketFile) file = file.mmapFile(BigInt.asUintN(64, BigInt(off)) > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : off, len) ?? file;
  let offset = anon ? 0 : off;
  let name: string | undefined;
  const target = file !== null ? file.mmapTarget(off, len) : null;
  if (target !== null) {
    file = target.file;
    offset = target.offset;
    name = target.name;
  }
  if (file !== null && !mappable(file)) {
    // ENODEV comes after the access checks (mm.mmap makes them): only when they pass.
    const shared = (flags & MAP_TYPE) !== MAP_PRIVATE;
    if (file.readable && !(shared && (prot & PROT_WRITE) && !file.writable)) throw ENODEV;
  }
  // do_mmap: a file mapping cannot grow down (after the access checks, as ENODEV).
  if (file !== null && (flags & MAP_GROWSDOWN) && file.readable) throw EINVAL;
  // --memory: memory the sandbox would hold once touched (anonymous, or a private writable
  // copy of a file); an inaccessible reservation costs nothing until mprotect.
  const charged = anon ? (prot & 7) !== 0 : (flags & MAP_TYPE) === MAP_PRIVATE && (prot & PROT_WRITE) !== 0;
  if (charged && !t.kernel.resources.mayMap(len)) throw ENOMEM;
  // secretmem_mmap_prepare: shared mappings only, locked (mlock_future_ok's EAGAIN), not populated.
  let locked = false;
  if (file?.secretMemory) {
    if ((flags & MAP_TYPE) === MAP_PRIVATE) throw EINVAL;
    if (t.mm.lockedBytes() + Math.ceil(len / PAGE_SIZE) * PAGE_SIZE > lockLimitBytes(t)) throw EAGAIN;
    locked = true;
  }
  // MAP_LOCKED (or mlockall(MCL_FUTURE)): Linux's can_do_mlock (EPERM), then mlock_future_ok (EAGAIN).
  if ((flags & MAP_LOCKED) || t.mm.lockFuture) {
    const limit = lockLimitBytes(t);
    if ((flags & MAP_LOCKED) && limit === 0) throw EPERM;
    if (t.mm.lockedBytes() + Math.ceil(len / PAGE_SIZE) * PAGE_SIZE > limit) throw EAGAIN;
  }
  const at = t.mm.mmap(t.ctx, {
    addr, len, prot: prot & 7, flags: locked ? flags | MAP_LOCKED : flags, file, offset, asLimit: t.tg.limits.soft(RLIMIT_AS),
    ...(name !== undefined ? { name } : {}),
  });
  // MAP_POPULATE (not with MAP_NONBLOCK) and MAP_LOCKED fault the pages in (mm_populate).
  if (((flags & MAP_POPULATE) && !(flags & MAP_NONBLOCK)) || (flags & MAP_LOCKED)) t.mm.populate(t.ctx, at, at + len);
  return at;
};

/** Implements munmap(2). */
const sysMunmap: SyscallFn = (t, a) => {
  if (uffdEventDone(t) !== null) return 0; // unmapped; its UFFD_EVENT_UNMAP was read
  const addr = a.pointer(0), len = a.sizeT(1);
  const end = addr + Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
  const ctxs = uffdsWanting(t, addr, end, UFFD_FEATURE_EVENT_UNMAP);
  t.mm.munmap(t.ctx, addr, len);
  return sendUffdEvent(t, ctxs, "unmap", [addr, end], 0) ?? 0;
};

/** Implements mprotect(2). */
const sysMprotect: SyscallFn = (t, a) => {
  t.mm.mprotect(t.ctx, a.pointer(0), a.sizeT(1), a.uint(2));
  return 0;
};

/** Implements pkey_mprotect(2): mprotect(2) with a protection key, of which only -1 (none) is valid. */
const sysPkeyMprotect: SyscallFn = (t, a) => {
  t.mm.mprotect(t.ctx, a.pointer(0), a.sizeT(1), a.uint(2), a.int(3));
  return 0;
};

/** The access rights a new key may start with: PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE. */
const PKEY_ACCESS_MASK = 3n;

/**
 * Implements pkey_alloc(2) as Linux on a CPU without protection keys: the arguments are
 * checked, then there is no key to give (ENOSPC). Real keys would need the stubs' page tables
 * and PKRU saved with each thread; V8 (node, deno) and glibc fall back to plain mprotect.
 */
const sysPkeyAlloc: SyscallFn = (_t, a) => {
  if (a.u64(0) !== 0n || (a.u64(1) & ~PKEY_ACCESS_MASK) !== 0n) throw EINVAL;
  throw ENOSPC;
};

/** Implements pkey_free(2): no key is ever allocated (see pkey_alloc), so every key is EINVAL. */
const sysPkeyFree: SyscallFn = () => {
  throw EINVAL;
};

/** Implements brk(2): never fails; returns the current break when it cannot move. */
const sysBrk: SyscallFn = (t, a) => {
  const want = a.pointer(0);
  if (want > t.mm.brk && !t.kernel.resources.mayMap(want - t.mm.brk)) return t.mm.brk; // --memory
  // RLIMIT_DATA bounds the heap (check_data_rlimit; the data segment itself is not counted
  // here, so the check is as Linux's minus the program's .data size).
  if (want > t.mm.brk && want - t.mm.brkStart > t.tg.limits.soft(RLIMIT_DATA)) return t.mm.brk;
  return t.mm.setBrk(t.ctx, want, t.tg.limits.soft(RLIMIT_AS));
};

/** Implements mremap(2). */
const sysMremap: SyscallFn = (t, a) => {
  const done = uffdEventDone(t);
  if (done !== null) return done; // moved; its UFFD_EVENT_REMAP was read
  if (a.sizeT(2) > a.sizeT(1) && !t.kernel.resources.mayMap(a.sizeT(2) - a.sizeT(1))) throw ENOMEM; // --memory
  const old = a.pointer(0), oldLen = a.sizeT(1);
  const ctxs = uffdsWanting(t, old, old + oldLen, UFFD_FEATURE_EVENT_REMAP);
  const unmapCtxs = uffdsWanting(t, old, old + oldLen, UFFD_FEATURE_EVENT_UNMAP);
  const r = t.mm.mremap(t.ctx, {
    oldAddr: a.pointer(0), oldLen: a.sizeT(1), newLen: a.sizeT(2), flags: a.uint(3), newAddr: a.pointer(4),
    asLimit: t.tg.limits.soft(RLIMIT_AS), lockLimit: lockLimitBytes(t),
  });
  // A moved registered mapping: UFFD_EVENT_REMAP (mremap_userfaultfd_complete), then the old
  // range's UFFD_EVENT_UNMAP (its VMA was registered when it was unmapped).
  if (r === old) return r;
  const events = [
    { ctxs, kind: "remap" as const, words: [old, r, oldLen] },
    { ctxs: unmapCtxs, kind: "unmap" as const, words: [old, old + Math.ceil(oldLen / PAGE_SIZE) * PAGE_SIZE] },
  ];
  return sendUffdEvents(t, events, r) ?? r;
};

/**
 * The advice values Linux (6.18, as our hosts build it) accepts: 0-4 and 8-24; MADV_COLLAPSE (25)
 * fails here as on a host without transparent huge pages for the range; hardware poisoning
 * (100, 101) needs CONFIG_MEMORY_FAILURE: EINVAL, as kernels without it. Guard regions (102,
 * 103) are anonymous memory's only here.
 */
function validAdvice(advice: number): boolean {
  return (advice >= 0 && advice <= 4) || (advice >= 8 && advice <= 24) || advice === MADV_GUARD_INSTALL || advice === MADV_GUARD_REMOVE;
}

const MADV_FREE = 8, MADV_REMOVE = 9, MADV_DONTFORK = 10, MADV_DOFORK = 11, MADV_WIPEONFORK = 18, MADV_KEEPONFORK = 19;
/** Linux's is_discard: the advice a sealed read-only anonymous VMA refuses (with DONTNEED_LOCKED 24, GUARD_INSTALL 102). */
const DISCARD_ADVICE = new Set([4, MADV_FREE, MADV_REMOVE, MADV_DONTFORK, MADV_WIPEONFORK, 24, 102]);
const MADV_COLD = 20, MADV_PAGEOUT = 21, MADV_POPULATE_READ = 22, MADV_POPULATE_WRITE = 23;
const MADV_GUARD_INSTALL = 102, MADV_GUARD_REMOVE = 103;

/**
 * What Linux's madvise_vma_behavior refuses of one VMA, in its order: MADV_REMOVE of locked,
 * fileless (EINVAL) or not shared-writable memory (EACCES); MADV_FREE of locked or non-anonymous
 * memory; MADV_WIPEONFORK of a file or shared mapping; MADV_COLD and MADV_PAGEOUT of locked
 * memory (can_madv_lru_vma).
 */
function checkVmaAdvice(v: Vma, advice: number): void {
  switch (advice) {
    case MADV_REMOVE:
      if (v.locked) throw EINVAL;
      if (v.file === null) throw EINVAL;
      if (!v.shared || !v.file.writable || v.mayWrite === false) throw EACCES;
      return;
    case MADV_FREE:
      if (v.locked || v.file !== null || v.shared) throw EINVAL;
      return;
    case MADV_WIPEONFORK:
      if (v.file !== null || v.shared) throw EINVAL;
      return;
    case MADV_COLD:
    case MADV_PAGEOUT:
      if (v.locked) throw EINVAL;
      return;
    case MADV_GUARD_INSTALL:
    case MADV_GUARD_REMOVE:
      // is_valid_guard_vma: no special or hugetlb mapping, nor (to install) a locked one. File
      // mappings take guards on Linux 6.15 and later; here only anonymous memory does.
      if (v.file !== null || v.name === "[vdso]" || v.name === "[vvar]") throw EINVAL;
      if (advice === MADV_GUARD_INSTALL && v.locked) throw EINVAL;
      return;
  }
}
const U64 = 1n << 64n;

/**
 * Implements madvise(2) with Linux's checks: the advice, page alignment, a length that wraps
 * (EINVAL); MADV_REMOVE needs a shared file mapping and MADV_POPULATE_WRITE a writable one
 * (EINVAL), each VMA's (checkVmaAdvice); a hole in the range is ENOMEM. MADV_DONTNEED really
 * discards (later reads see zeros); MADV_DONTFORK and MADV_DOFORK mark what a fork's child
 * does not get, MADV_WIPEONFORK and MADV_KEEPONFORK what it gets as zeros; the other hints
 * are no-ops.
 */
const sysMadvise: SyscallFn = (t, a) => {
  const addr = a.pointer(0), advice = a.int(2), rawLen = a.u64(1);
  if (!validAdvice(advice)) throw EINVAL;
  if (addr % PAGE_SIZE !== 0) throw EINVAL;
  const aligned = ((rawLen + 0xfffn) % U64) & ~0xfffn;
  if (rawLen !== 0n && aligned === 0n) throw EINVAL;
  if (BigInt(addr) + aligned >= U64) throw EINVAL;
  if (aligned === 0n) return 0;
  const end = BigInt(addr) + aligned > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : addr + Number(aligned);
  const len = end - addr;
  const vmas = t.mm.overlapping(addr, end);
  // mseal(2): a sealed VMA refuses discarding advice first (can_madvise_modify).
  t.mm.madviseSealed(addr, end, DISCARD_ADVICE.has(advice));
  for (const v of vmas) checkVmaAdvice(v, advice);
  if (advice === MADV_POPULATE_WRITE && vmas.some((v) => (v.prot & PROT_WRITE) === 0)) throw EINVAL;
  let covered = 0;
  for (const v of vmas) covered += Math.min(v.end, end) - Math.max(v.start, addr);
  if (advice !== MADV_DONTNEED && covered < len) throw ENOMEM;
  if (advice === MADV_DONTNEED) {
    // Linux's madvise_dontneed_free_valid_vma: locked memory cannot be dropped.
    if (t.mm.anyLocked(addr, addr + Math.ceil(len / PAGE_SIZE) * PAGE_SIZE)) throw EINVAL;
    // UFFD_FEATURE_EVENT_REMOVE: the manager hears of it before the pages go (userfaultfd_remove).
    if (uffdEventDone(t) === null) {
      const wait = sendUffdEvent(t, uffdsWanting(t, addr, end, UFFD_FEATURE_EVENT_REMOVE), "remove", [addr, end], 0);
      if (wait !== null) return wait;
    }
    t.mm.discard(t.ctx, addr, len);
  }
  if (advice === MADV_POPULATE_READ || advice === MADV_POPULATE_WRITE) t.mm.populate(t.ctx, addr, end);
  if (advice === MADV_GUARD_INSTALL) t.mm.installGuard(t.ctx, addr, end);
  if (advice === MADV_GUARD_REMOVE) t.mm.removeGuard(t.ctx, addr, end);
  if (advice === MADV_DONTFORK || advice === MADV_DOFORK) t.mm.setDontCopy(addr, end, advice === MADV_DONTFORK);
  if (advice === MADV_WIPEONFORK || advice === MADV_KEEPONFORK) t.mm.setWipeOnFork(addr, end, advice === MADV_WIPEONFORK);
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  9: supported("mmap", sysMmap),
  10: supported("mprotect", sysMprotect),
  11: supported("munmap", sysMunmap),
  12: supported("brk", sysBrk),
  25: partial("mremap", sysMremap, "a shared anonymous mapping shrunk then grown again shows zeros, not its old pages nor SIGBUS"),
  28: partial("madvise", sysMadvise, "only MADV_DONTNEED, MADV_POPULATE_*, MADV_GUARD_* (anonymous memory), MADV_DONTFORK, MADV_DOFORK, MADV_WIPEONFORK and MADV_KEEPONFORK have an effect"),
  329: partial("pkey_mprotect", sysPkeyMprotect, "no protection keys: only key -1"),
  330: partial("pkey_alloc", sysPkeyAlloc, "no protection keys: ENOSPC, as on a CPU without them"),
  331: partial("pkey_free", sysPkeyFree, "no protection keys: EINVAL"),
};
