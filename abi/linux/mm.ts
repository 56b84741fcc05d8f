/** Memory-management ABI: mmap(2), mprotect(2), madvise(2), mremap(2). */

export const PAGE_SIZE = 4096;
/**
 * The end of the x86-64 user address space with 4-level paging (Linux's TASK_SIZE_MAX: 2^47
 * minus one guard page), exclusive. No user address, TLS base or break lies at or above it.
 */
export const TASK_SIZE = 0x7fff_ffff_f000;
export const PROT_NONE = 0;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;
/** Accepted by mprotect(2) and meaning nothing on x86 (<asm-generic/mman-common.h>). */
export const PROT_SEM = 0x8;
export const PROT_GROWSDOWN = 0x01000000;
export const PROT_GROWSUP = 0x02000000;

export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_SHARED_VALIDATE = 0x03;
export const MAP_TYPE = 0x0f;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_32BIT = 0x40;
export const MAP_GROWSDOWN = 0x0100;
export const MAP_DENYWRITE = 0x0800;
export const MAP_EXECUTABLE = 0x1000;
export const MAP_LOCKED = 0x2000;
export const MAP_NORESERVE = 0x4000;
export const MAP_POPULATE = 0x8000;
export const MAP_NONBLOCK = 0x10000;
export const MAP_STACK = 0x20000;
export const MAP_HUGETLB = 0x40000;
export const MAP_SYNC = 0x80000;
export const MAP_FIXED_NOREPLACE = 0x100000;

export const MREMAP_MAYMOVE = 1;
export const MREMAP_FIXED = 2;
export const MREMAP_DONTUNMAP = 4;

export const MADV_NORMAL = 0;
export const MADV_RANDOM = 1;
export const MADV_SEQUENTIAL = 2;
export const MADV_WILLNEED = 3;
export const MADV_DONTNEED = 4;
export const MADV_FREE = 8;
export const MADV_REMOVE = 9;
export const MADV_DONTFORK = 10;
export const MADV_DOFORK = 11;
export const MADV_HUGEPAGE = 14;
export const MADV_NOHUGEPAGE = 15;

export function pageRoundDown(n: number): number {
  return n - (n % PAGE_SIZE);
}

export function pageRoundUp(n: number): number {
  const r = n % PAGE_SIZE;
  return r === 0 ? n : n + PAGE_SIZE - r;
}

/** set_mempolicy(2)'s modes (include/uapi/linux/mempolicy.h). */
export const MPOL_DEFAULT = 0, MPOL_PREFERRED = 1, MPOL_BIND = 2, MPOL_INTERLEAVE = 3, MPOL_LOCAL = 4;
export const MPOL_PREFERRED_MANY = 5, MPOL_WEIGHTED_INTERLEAVE = 6, MPOL_MAX = 7;
/** set_mempolicy(2)'s mode flags. */
export const MPOL_F_STATIC_NODES = 1 << 15, MPOL_F_RELATIVE_NODES = 1 << 14, MPOL_F_NUMA_BALANCING = 1 << 13;
export const MPOL_MODE_FLAGS = MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES | MPOL_F_NUMA_BALANCING;
/** Linux's MAX_NUMNODES as distributions build it (CONFIG_NODES_SHIFT=10). */
export const MAX_NUMNODES = 1024;
