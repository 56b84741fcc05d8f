/**
 * Memory syscalls: mmap(2), munmap(2), mprotect(2), brk(2), mremap(2), madvise(2), and the
 * protection-key calls pkey_alloc(2), pkey_free(2), pkey_mprotect(2).
 */

import { EINVAL, ENOMEM, ENOSPC, EOPNOTSUPP } from "../../errno.ts";
import {
  MADV_DONTNEED, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED_VALIDATE, MAP_TYPE, PAGE_SIZE, PROT_EXEC, PROT_GROWSDOWN,
  PROT_GROWSUP, PROT_READ, PROT_WRITE,
} from "../../../abi/linux/mm.ts";
import { RLIMIT_AS } from "../../../abi/linux/limits.ts";
import { partial, supported, type SyscallEntry, type SyscallFn } from "./support.ts";

/** Flags Linux accepts with MAP_SHARED_VALIDATE. */
const KNOWN_MAP_FLAGS = 0x1fff7f;

/** Implements mmap(2). */
const sysMmap: SyscallFn = (t, a) => {
  const [addr, len, prot, flags, fd, off] = [a.pointer(0), a.sizeT(1), a.uint(2), a.uint(3), a.fd(4), a.long(5)];
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN | PROT_GROWSUP)) throw EINVAL;
  if ((flags & MAP_TYPE) === MAP_SHARED_VALIDATE && (flags & ~KNOWN_MAP_FLAGS)) throw EOPNOTSUPP;
  if (off < 0 || off % PAGE_SIZE !== 0) throw EINVAL;
  const anon = (flags & MAP_ANONYMOUS) !== 0;
  const file = anon ? null : t.fdTable.get(fd);
  // --memory: memory the sandbox would hold once touched (anonymous, or a private writable
  // copy of a file); an inaccessible reservation costs nothing until mprotect.
  const charged = anon ? (prot & 7) !== 0 : (flags & MAP_TYPE) === MAP_PRIVATE && (prot & PROT_WRITE) !== 0;
  if (charged && !t.kernel.resources.mayMap(len)) throw ENOMEM;
  return t.mm.mmap(t.ctx, {
    addr, len, prot: prot & 7, flags, file, offset: anon ? 0 : off, asLimit: t.tg.limits.soft(RLIMIT_AS),
  });
};

/** Implements munmap(2). */
const sysMunmap: SyscallFn = (t, a) => {
  t.mm.munmap(t.ctx, a.pointer(0), a.sizeT(1));
  return 0;
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
  return t.mm.setBrk(t.ctx, want, t.tg.limits.soft(RLIMIT_AS));
};

/** Implements mremap(2). */
const sysMremap: SyscallFn = (t, a) => {
  if (a.sizeT(2) > a.sizeT(1) && !t.kernel.resources.mayMap(a.sizeT(2) - a.sizeT(1))) throw ENOMEM; // --memory
  return t.mm.mremap(t.ctx, {
    oldAddr: a.pointer(0), oldLen: a.sizeT(1), newLen: a.sizeT(2), flags: a.uint(3), newAddr: a.pointer(4),
    asLimit: t.tg.limits.soft(RLIMIT_AS),
  });
};

/** Implements madvise(2): MADV_DONTNEED really discards (later reads see zeros); hints are no-ops. */
const sysMadvise: SyscallFn = (t, a) => {
  const addr = a.pointer(0), len = a.sizeT(1), advice = a.int(2);
  if (addr % PAGE_SIZE !== 0) throw EINVAL;
  if (advice < 0 || (advice > 25 && advice !== 100 && advice !== 101)) throw EINVAL;
  if (advice === MADV_DONTNEED && len > 0) t.mm.discard(t.ctx, addr, len);
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  9: supported("mmap", sysMmap),
  10: supported("mprotect", sysMprotect),
  11: supported("munmap", sysMunmap),
  12: supported("brk", sysBrk),
  25: partial("mremap", sysMremap, "growing a zero-length shared mapping is not supported"),
  28: partial("madvise", sysMadvise, "only MADV_DONTNEED has an effect"),
  329: partial("pkey_mprotect", sysPkeyMprotect, "no protection keys: only key -1"),
  330: partial("pkey_alloc", sysPkeyAlloc, "no protection keys: ENOSPC, as on a CPU without them"),
  331: partial("pkey_free", sysPkeyFree, "no protection keys: EINVAL"),
};
