/**
 * MemoryManager: one application address space, as Linux's mm_struct and gVisor's mm.MemoryManager.
 *
 * The kernel keeps the authoritative list of mappings (VMAs): it is what /proc/PID/maps shows and
 * what a checkpoint saves. The host stub holds the pages; every change here is mirrored into the
 * stub by a syscall the sentry injects (mmap, munmap, mprotect, mremap) after this module has
 * checked and chosen the addresses. The application never picks a host address on its own.
 *
 * Layout (like Linux with ASLR off, deterministic):
 *   stack top 0x7ffffffff000, mmap base 0x7ffff7fff000 growing down, PIE base 0x555555554000.
 *
 * @module
 */

import {
  MAP_32BIT, MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, MAP_LOCKED, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED,
  MAP_SHARED_VALIDATE, MAP_TYPE, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE, PAGE_SIZE, pageRoundUp, PROT_EXEC,
  PROT_GROWSDOWN, PROT_GROWSUP, PROT_READ, PROT_SEM, PROT_WRITE,
} from "../../abi/linux/mm.ts";
import { EACCES, EAGAIN, EBADF, EEXIST, EFAULT, EINVAL, ENOMEM, EPERM, errnoFromNumber } from "../errno.ts";
import { FS_APPEND_FL } from "../../abi/linux/file.ts";
import { type AddressSpace, type Context, WITHHOLD_COPIES } from "../../platform/mod.ts";
import type { FileDescription } from "../../vfs/file_description.ts";
import type { Location } from "../../vfs/mount.ts";
import { addDenyWrite, allowWrite, type InodeUse, inodeUseFor } from "../../vfs/inode_use.ts";
import type { AioTable } from "../aio.ts";

export const STACK_TOP = 0x7fff_ffff_f000;
export const MMAP_BASE = 0x7fff_f7ff_f000;
export const PIE_BASE = 0x5555_5555_4000;
/** Linux's stack_guard_gap: a stack does not grow within 256 pages of the mapping below it. */
export const STACK_GUARD_GAP = 256 * 4096;
/** MAP_32BIT's window on x86-64 (find_start_end): the second GiB, bottom-up. */
const MAP_32BIT_LOW = 0x4000_0000;
const MAP_32BIT_HIGH = 0x8000_0000;

/**
 * @savable The identity of one shared anonymous memory object (Linux's shmem file behind
 * MAP_SHARED|MAP_ANONYMOUS). Made by mmap and held by reference by every VMA that maps it: the
 * pieces of a split, the VMA moved by mremap and the copies a fork makes, so that two processes
 * sharing the memory compare equal by identity (futex keys, kernel/futex.ts).
 */
export class SharedAnon {}

/**
 * What a MAP_SHARED mapping maps, compared to find the same memory in other mappings (futex keys):
 * a SharedAnon for shared anonymous memory, "dev:ino" of a file's inode, or the file description
 * itself when the file cannot be stat'ed. null for a private mapping.
 */
export type SharedObject = SharedAnon | string | FileDescription;

/** One mapping. @savable (the file by reference to its description). */
export interface Vma {
  start: number;
  end: number;
  prot: number;
  shared: boolean;
  /** What a shared mapping maps (see SharedObject); null when private. */
  object: SharedObject | null;
  /** The mapped file, holding a reference; null for anonymous memory. */
  file: FileDescription | null;
  /** File offset of `start`. */
  offset: number;
  /** What /proc/PID/maps shows in the path column: a path, [heap], [stack], or "". */
  name: string;
  growsDown: boolean;
  /**
   * mlock(2), MAP_LOCKED or mlockall (Linux's VM_LOCKED): only bookkeeping, the host still pages
   * the stub's memory; what msync(MS_INVALIDATE), MADV_DONTNEED and RLIMIT_MEMLOCK see.
   */
  locked?: boolean;
  /** False for a shared mapping that may never become writable though its file is (shmat's SHM_RDONLY). */
  mayWrite?: boolean;
  /** prctl(PR_SET_VMA_ANON_NAME)'s name of anonymous memory ("" is a name too); absent: none. */
  anonName?: string;
  /** False for a file mapping on a noexec mount (Linux clears VM_MAYEXEC): mprotect(PROT_EXEC) is EACCES. */
  mayExec?: boolean;
  /** Linux's VM_DONTCOPY (madvise MADV_DONTFORK): a fork's child does not get it. */
  dontCopy?: boolean;
  /** Linux's VM_WIPEONFORK (madvise MADV_WIPEONFORK; private anonymous memory only): a fork's child gets zeros. */
  wipeOnFork?: boolean;
  /** Linux's VM_DONTEXPAND: mremap may move it, never grow it (EFAULT) (an aio ring). */
  dontExpand?: boolean;
  /**
   * Linux's VM_SEALED (mseal(2), 6.10): munmap, mprotect, mremap of it or over it and
   * mmap(MAP_FIXED) over it are EPERM, as are discarding madvise advices on read-only
   * anonymous memory (madviseSealed); smaps shows "sl". It is never cleared.
   */
  sealed?: boolean;
  /**
   * The userfaultfd this VMA is registered with and the UFFDIO_REGISTER_MODE_* bits (Linux's
   * vm_userfaultfd_ctx and VM_UFFD_*): kernel/userfaultfd.ts. Never saved: a sandbox with an
   * open userfaultfd is refused, and closing it unregisters every VMA.
   */
  uffd?: { ctx: UffdContext; mode: number };
  /**
   * mbind(2)'s NUMA policy of this range (Linux's vm_policy), as set_mempolicy keeps a task's:
   * reported by get_mempolicy(MPOL_F_ADDR), kept across fork; absent: the default policy.
   */
  policy?: MemPolicy;
}

/** A NUMA policy: mode, mode flags, and the node mask get_mempolicy reports. */
export interface MemPolicy {
  readonly mode: number;
  readonly flags: number;
  readonly nodes: bigint;
}

const samePolicy = (a: MemPolicy | undefined, b: MemPolicy | undefined) =>
  a === b || (a !== undefined && b !== undefined && a.mode === b.mode && a.flags === b.flags && a.nodes === b.nodes);

/** What a VMA's userfaultfd registration names (kernel/userfaultfd.ts's context). */
export interface UffdContext {
  readonly features: number | null;
}

/** Per-page marks (Linux's PTE markers and uffd-wp bits), MemoryManager.pageMarks. */
export const MARK_GUARD = 1, MARK_POISON = 2, MARK_UFFD_WP = 4;
/**
 * A page of a mapping of a size-limited tmpfs file not yet allocated to the file: the host
 * withholds every right until the first touch charges it (or finds the mount full: SIGBUS).
 */
export const MARK_UNCHARGED = 8;
/** A page of a shmem mapping registered for minor faults that this address space does not map yet. */
export const MARK_UFFD_MINOR = 16;
/** Marks whose pages the host keeps closed in any mapping (mprotect, fork keep them closed). */
const MARKS_CLOSED = MARK_UNCHARGED | MARK_UFFD_MINOR;
/** UFFDIO_REGISTER's modes as VMAs keep them. */
export const UFFD_MODE_MISSING = 1, UFFD_MODE_WP = 2, UFFD_MODE_MINOR = 4;
const UFFD_FEATURE_EVENT_REMAP = 1 << 2;
const PROT_ALL = PROT_READ | PROT_WRITE | PROT_EXEC;

/** Arguments of {@linkcode MemoryManager.mmap}. */
export interface MmapOpts {
  addr: number;
  len: number;
  prot: number;
  flags: number;
  file: FileDescription | null;
  offset: number;
  /** Name for /proc/PID/maps when not a file (e.g. "[stack]"). */
  name?: string;
  /** RLIMIT_AS in bytes (Infinity: unlimited): ENOMEM if the address space would exceed it. */
  asLimit?: number;
  /**
   * A private file mapping whose contents the caller writes itself (the exec loader, for the
   * page where a segment's file bytes end): the host maps anonymous memory, the VMA is still
   * the file's, as /proc/PID/maps shows it on Linux.
   */
  callerFills?: boolean;
  /** A shared mapping mprotect may never make writable (Linux's VM_MAYWRITE clear). */
  readOnly?: boolean;
  /** VM_DONTEXPAND (kernel/aio.ts's rings). */
  dontExpand?: boolean;
}

/** @savable */
export class MemoryManager {
  /** @nosave The host side; rebuilt on restore. */
  readonly as: AddressSpace;
  /** Sorted by start, non-overlapping. */
  vmas: Vma[] = [];
  brkStart = 0;
  brk = 0;
  /** Lowest address of the initial stack mapping; set by the loader. */
  stackBottom = 0;
  /** Addresses of argv/envp strings for /proc/PID/cmdline and environ. */
  argStart = 0;
  argEnd = 0;
  envStart = 0;
  envEnd = 0;
  /** Path of the executable, as execve was given it. */
  executable = "";
  #exe: Location | null = null;
  /** The executable's open counts while this address space may run it (Linux's exe_file deny_write_access). */
  #exeUse: InodeUse | null = null;

  /**
   * Where the executable is in the tree, for /proc/PID/exe; null before the first exec. While
   * set (until releaseAll), no one may open the file for writing (ETXTBSY).
   */
  get exe(): Location | null {
    return this.#exe;
  }

  set exe(loc: Location | null) {
    this.#allowExeWrite();
    this.#exe = loc;
    if (loc !== null && loc.dentry.isRegular) {
      this.#exeUse = inodeUseFor(loc.dentry);
      addDenyWrite(this.#exeUse);
    }
  }

  /**
   * The executable's description when it is in no directory (a memfd run by execveat with
   * AT_EMPTY_PATH, as crun re-executes itself): /proc/PID/exe reaches it, as Linux's exe_file.
   * One reference, dropped by releaseAll.
   */
  exeFile: FileDescription | null = null;

  #allowExeWrite(): void {
    if (this.#exeUse === null) return;
    allowWrite(this.#exeUse);
    this.#exeUse = null;
  }
  /** Thread groups using this address space (more than one after vfork / CLONE_VM). */
  users = 1;
  /** The auxiliary vector exec gave the program, AT_NULL pair included (/proc/PID/auxv). */
  auxv: Uint8Array = new Uint8Array(0);
  /** mlockall(MCL_FUTURE): new mappings are locked (Linux's def_flags VM_LOCKED). */
  lockFuture = false;
  /**
   * membarrier(2)'s registrations of this address space, as the MEMBARRIER_CMD_REGISTER_*
   * bits MEMBARRIER_CMD_GET_REGISTRATIONS returns (Linux's mm->membarrier_state): kept by
   * fork, gone at execve (a new address space).
   */
  membarrierRegistered = 0;
  /**
   * CPU time of this address space's host threads already charged to tasks one thread at a
   * time (a thread that exited, a vfork child that exec'd), in ns: what is left of the host
   * process's lifetime total when it is reaped goes to the last users (kernel/cpu_time.ts).
   */
  hostCpuCharged = { userNs: 0, sysNs: 0 };
  /** io_setup's contexts (kernel/aio.ts), made on first use; a fork's child has none. */
  aio: AioTable | null = null;
  /**
   * Marks of single pages by page address, MARK_* bits: guard pages (MADV_GUARD_INSTALL),
   * poisoned pages (UFFDIO_POISON) and userfaultfd write protection (UFFDIO_WRITEPROTECT).
   * Linux keeps them in the page tables (PTE markers, the uffd-wp bit); here the host mapping
   * withholds the rights they take away (AddressSpace.setWithheld) and the kernel's fault stop
   * decides (kernel/userfaultfd.ts). null while none was ever set.
   */
  pageMarks: Map<number, number> | null = null;
  /**
   * True once the host mapping was made to withhold rights somewhere in this address space
   * (userfaultfd, guard pages): only then does a SIGSEGV stop look for a withheld page.
   */
  withholding = false;

  constructor(as: AddressSpace) {
    this.as = as;
  }

  read(addr: number, dst: Uint8Array): number {
    return this.as.read(addr, dst);
  }

  write(addr: number, src: Uint8Array): number {
    return this.as.write(addr, src);
  }

  /**
   * Finds a free range of len bytes, top-down from below `below`, as Linux's
   * unmapped_area_topdown: never within the guard gap below a MAP_GROWSDOWN VMA.
   */
  findFree(len: number, below: number = MMAP_BASE): number {
    let top = below;
    // The busy ranges from the highest start down: the VMAs (sorted) merged with the platform's
    // reserved ranges, without building and sorting a list on every mmap.
    const res = this.as.reserved;
    let vi = this.vmas.length - 1;
    const taken = new Array<boolean>(res.length).fill(false);
    for (;;) {
      let r: { start: number; end: number } | undefined = vi >= 0 ? this.vmas[vi] : undefined;
      let ri = -1;
      for (let i = 0; i < res.length; i++) {
        if (!taken[i] && (r === undefined || res[i]!.start > r.start)) {
          r = res[i];
          ri = i;
        }
      }
      if (r === undefined) break;
      if (ri >= 0) taken[ri] = true;
      else {
        vi--;
        // Nothing is placed within the guard gap below a MAP_GROWSDOWN VMA, where it grows
        // (Linux's vm_start_gap).
        if (this.vmas[vi + 1]!.growsDown) r = { start: Math.max(0, r.start - STACK_GUARD_GAP), end: r.end };
      }
      if (r.start >= top) {
        if (r.end > top - len) top = Math.min(top, r.start);
        continue;
      }
      if (r.end <= top - len) return top - len;
      top = r.start;
    }
    if (top - len >= this.as.minAddr) return top - len;
    throw ENOMEM;
  }

  /**
   * Finds the lowest free range of len bytes within [lo, hi), as Linux's bottom-up
   * unmapped_area does for MAP_32BIT (the 1-2 GiB window); ENOMEM when none fits.
   */
  findFreeBottomUp(len: number, lo: number, hi: number): number {
    const busy = [
      ...this.as.reserved.map((r) => ({ start: r.start, end: r.end })),
      ...this.vmas.map((v) => ({ start: v.growsDown ? Math.max(0, v.start - STACK_GUARD_GAP) : v.start, end: v.end })),
    ].sort((a, b) => a.start - b.start);
    let start = Math.max(lo, this.as.minAddr);
    for (const r of busy) {
      if (r.end <= start) continue;
      if (r.start >= start + len) break;
      start = r.end;
    }
    if (start + len > hi) throw ENOMEM;
    return start;
  }

  #isFree(start: number, end: number): boolean {
    // Written so that a NaN bound is not free either.
    if (!(start >= this.as.minAddr && end <= this.as.maxAddr)) return false;
    for (const r of this.as.reserved) if (r.start < end && start < r.end) return false;
    const next = this.vmas[this.#firstEndingAbove(start)];
    return next === undefined || next.start >= end;
  }

  /** Whether a range ending at end reaches into the guard gap below a MAP_GROWSDOWN VMA. */
  #inStackGap(end: number): boolean {
    const vs = this.vmas;
    for (let i = this.#firstEndingAbove(end); i < vs.length && vs[i]!.start - STACK_GUARD_GAP < end; i++) {
      if (vs[i]!.growsDown && vs[i]!.start >= end) return true;
    }
    return false;
  }

  #checkRange(start: number, end: number): void {
    if (start < this.as.minAddr || end > this.as.maxAddr || end <= start) throw ENOMEM;
    for (const r of this.as.reserved) if (r.start < end && start < r.end) throw ENOMEM;
  }

  /** mmap(2): returns the address mapped. */
  mmap(via: Context, o: MmapOpts): number {
    const type = o.flags & MAP_TYPE;
    const anon = (o.flags & MAP_ANONYMOUS) !== 0;
    if (o.len === 0) throw EINVAL;
    if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) throw EINVAL;
    if (o.addr % PAGE_SIZE !== 0 && (o.flags & (MAP_FIXED | MAP_FIXED_NOREPLACE))) throw EINVAL;
    if (!anon && o.offset % PAGE_SIZE !== 0) throw EINVAL;
    const len = pageRoundUp(o.len);
    if (len > this.as.maxAddr) throw ENOMEM;
    const shared = type !== MAP_PRIVATE;
    if (!anon) {
      const f = o.file;
      if (!f) throw EBADF;
      if (!f.readable) throw EACCES;
      if (shared && (o.prot & PROT_WRITE) && !f.writable) throw EACCES;
      // do_mmap: no shared mapping of an append-only file through a writable descriptor.
      if (shared && f.writable && ((f.location()?.dentry.inodeFlags ?? 0) & FS_APPEND_FL)) throw EACCES;
      // Linux's do_mmap: a file on a noexec mount never maps executable.
      if ((o.prot & PROT_EXEC) && f.location()?.mount.noexec) throw EPERM;
    }
    let addr: number;
    if (o.flags & MAP_FIXED_NOREPLACE) {
      if (!this.#isFree(o.addr, o.addr + len)) throw EEXIST;
      addr = o.addr;
    } else if (o.flags & MAP_FIXED) {
      this.#checkRange(o.addr, o.addr + len);
      this.#checkUnsealed(o.addr, o.addr + len);
      addr = o.addr;
    } else {
      // A hint past 2^53 (a pointer() of Infinity) is no address: ignored, as Linux ignores a
      // hint beyond the address space.
      const hint = Number.isSafeInteger(o.addr) ? o.addr - (o.addr % PAGE_SIZE) : 0;
      const hintFits = hint !== 0 && this.#isFree(hint, hint + len) && !this.#inStackGap(hint + len);
      if (hintFits) addr = hint;
      else if (o.flags & MAP_32BIT) addr = this.findFreeBottomUp(len, MAP_32BIT_LOW, MAP_32BIT_HIGH);
      else addr = this.findFree(len);
    }
    // Linux's may_expand_vm: what MAP_FIXED replaces does not count twice.
    if (o.asLimit !== undefined && o.asLimit !== Infinity) {
      this.#checkAsLimit(len - this.#mappedIn(addr, addr + len), o.asLimit);
    }
    this.#mapAt(via, addr, len, o, shared, anon);
    return addr;
  }

  #mapAt(via: Context, addr: number, len: number, o: MmapOpts, shared: boolean, anon: boolean): void {
    const file = anon ? null : o.file;
    let r: number;
    const hostFd = o.callerFills ? null : file?.hostFdForMmap() ?? null;
    if (file && hostFd !== null) {
      r = this.as.mapHostFile(via, { addr, len, prot: o.prot, shared, hostFd, offset: o.offset });
    } else if (o.callerFills && !shared) {
      r = this.as.mapAnonymous(via, addr, len, o.prot, false);
    } else {
      r = this.as.mapAnonymous(via, addr, len, file ? o.prot | PROT_WRITE : o.prot, shared, (o.flags & MAP_NORESERVE) !== 0);
      if (r === 0 && file) {
        // No host file to map: copy the contents in (MAP_PRIVATE semantics).
        const buf = new Uint8Array(Math.min(len, 1 << 20));
        for (let done = 0; done < len;) {
          const n = file.read(buf.subarray(0, Math.min(buf.length, len - done)), o.offset + done);
          if (n <= 0) break;
          this.as.write(addr + done, buf.subarray(0, n));
          done += n;
        }
        if (!(o.prot & PROT_WRITE)) this.as.protect(via, addr, len, o.prot);
      }
    }
    if (r < 0) throw errnoFromNumber(-r);
    // What MAP_FIXED replaced lets go of its file (ld.so maps a library's whole span from the
    // file, then its segments over it: kept, each would pin the file's host descriptor).
    for (const v of this.#remove(addr, addr + len)) v.file?.decRef();
    this.dropMarks(addr, addr + len);
    this.#insert({
      start: addr,
      end: addr + len,
      prot: o.prot,
      shared,
      object: shared ? sharedObject(file) : null,
      file: file ? file.incRef() : null,
      offset: anon ? 0 : o.offset,
      name: o.name ?? (file ? file.path() : ""),
      growsDown: (o.flags & MAP_GROWSDOWN) !== 0,
      locked: (o.flags & MAP_LOCKED) !== 0 || this.lockFuture,
      ...(o.readOnly ? { mayWrite: false } : {}),
      ...(file?.location()?.mount.noexec ? { mayExec: false } : {}),
      ...(o.dontExpand ? { dontExpand: true } : {}),
    });
    if (file !== null && (o.prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) !== 0) this.#withholdUncharged(via, file, addr, addr + len, o.offset);
  }

  /**
   * The pages of [start, end), mapping file from `offset`, that a size-limited tmpfs has not
   * allocated yet: marked MARK_UNCHARGED and inaccessible on the host, so that the first touch
   * of each stops in the kernel ({@linkcode chargeTouched}). Pages past the end of the file are
   * left to the host (SIGBUS there already).
   */
  #withholdUncharged(via: Context, file: FileDescription, start: number, end: number, offset: number): void {
    const charge = file.mappedPageCharge();
    if (charge === null) return;
    let size = Infinity;
    try {
      size = file.stat().size;
    } catch { /* keep Infinity */ }
    const last = Math.min(end, start + Math.max(0, pageRoundUp(size) - offset));
    let run = -1;
    const flush = (at: number) => {
      if (run >= 0 && at > run) this.as.protect(via, run, at - run, 0);
      run = -1;
    };
    for (let p = start; p < last; p += PAGE_SIZE) {
      if (charge.allocated((offset + (p - start)) / PAGE_SIZE)) {
        flush(p);
        continue;
      }
      this.addMarks(p, p + PAGE_SIZE, MARK_UNCHARGED);
      this.withholding = true;
      if (run < 0) run = p;
    }
    flush(last);
  }

  /**
   * A touch (by the program or a syscall's copy) of addr's page in a mapping of a size-limited
   * tmpfs file that the host withholds: the file's page is charged (or was allocated since) and
   * the mapping opened to it, true; the mount is full, false (SIGBUS, or EFAULT for a copy).
   * null when the page is not such a page.
   */
  chargeTouched(via: Context, addr: number): boolean | null {
    const page = addr - (addr % PAGE_SIZE);
    const b = this.pageMarks?.get(page) ?? 0;
    if (!(b & MARK_UNCHARGED)) return null;
    const v = this.findVma(addr);
    const charge = v?.file?.mappedPageCharge() ?? null;
    if (v !== undefined && charge !== null) {
      const pg = (v.offset + (page - v.start)) / PAGE_SIZE;
      if (!charge.allocated(pg) && !charge.charge(pg)) return false;
    }
    this.dropMarks(page, page + PAGE_SIZE, MARK_UNCHARGED);
    if (v !== undefined) this.as.protect(via, page, PAGE_SIZE, v.prot);
    return true;
  }

  /** Bytes in locked VMAs (Linux's locked_vm), within [start, end) if given. */
  lockedBytes(start = 0, end = Infinity): number {
    let n = 0;
    for (const v of start === 0 && end === Infinity ? this.vmas : this.overlapping(start, end)) {
      if (v.locked) n += Math.min(v.end, end) - Math.max(v.start, start);
    }
    return n;
  }

  /** Whether a VMA overlapping [start, end) is locked. */
  anyLocked(start: number, end: number): boolean {
    return this.overlapping(start, end).some((v) => v.locked === true);
  }

  /**
   * mlock/munlock's VMA part (Linux's apply_vma_lock_flags): ENOMEM if part of [start, end) is
   * unmapped, else the VMAs there are split and marked; the vDSO's special mappings never are.
   */
  setLocked(start: number, end: number, locked: boolean): void {
    this.#checkMapped(start, end);
    this.#setLockedIn(start, end, locked);
  }

  /**
   * prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME): names (or, with null, unnames) the anonymous
   * memory in [start, start+len), splitting VMAs at the ends, as Linux's madvise_set_anon_name:
   * EINVAL for an unaligned start, EBADF if a file mapping lies in the range (nothing changes
   * then), ENOMEM if part of the range is unmapped (the mapped parts are named all the same).
   */
  setAnonName(start: number, len: number, name: string | null): void {
    if (start % PAGE_SIZE !== 0) throw EINVAL;
    const end = start + pageRoundUp(len);
    if (end === start) return;
    const inRange = this.overlapping(start, end);
    if (inRange.some((v) => v.file !== null || isSpecial(v))) throw EBADF;
    let covered = 0;
    for (const v of inRange) covered += Math.min(v.end, end) - Math.max(v.start, start);
    for (const p of this.#remove(start, end)) {
      const { anonName: _, ...rest } = p;
      this.#insert(name === null ? rest : { ...rest, anonName: name });
    }
    if (covered < end - start) throw ENOMEM;
  }

  /**
   * Registers the VMAs of [start, end) with a userfaultfd (null: unregisters them), splitting
   * them at the ends (Linux's userfaultfd_register_range and userfaultfd_clear_vma). The caller
   * checked them.
   */
  setUffd(start: number, end: number, uffd: NonNullable<Vma["uffd"]> | null): void {
    if (this.overlapping(start, end).length === 0) return;
    for (const p of this.#remove(start, end)) {
      const { uffd: _, ...rest } = p;
      this.#insert(uffd === null ? rest : { ...rest, uffd });
    }
  }

  /**
   * madvise(MADV_DONTFORK / MADV_DOFORK): [start, end) is (not) left out of a fork's child.
   * The caller checked that the range is mapped.
   */
  setDontCopy(start: number, end: number, dontCopy: boolean): void {
    if (!this.overlapping(start, end).some((v) => !v.dontCopy !== !dontCopy)) return;
    for (const p of this.#remove(start, end)) {
      const { dontCopy: _, ...rest } = p;
      this.#insert(dontCopy ? { ...rest, dontCopy: true } : rest);
    }
  }

  /** madvise(MADV_WIPEONFORK / MADV_KEEPONFORK) over [start, end); the caller checked the range. */
  setWipeOnFork(start: number, end: number, wipe: boolean): void {
    if (!this.overlapping(start, end).some((v) => !v.wipeOnFork !== !wipe)) return;
    for (const p of this.#remove(start, end)) {
      const { wipeOnFork: _, ...rest } = p;
      this.#insert(wipe ? { ...rest, wipeOnFork: true } : rest);
    }
  }

  /**
   * For a fork's child, before it first runs (via: its context): its copies of the mappings
   * marked MADV_DONTFORK go, on the host too, and those marked MADV_WIPEONFORK are zeros
   * (Linux's dup_mmap copies no page of them).
   */
  dropUncopied(via: Context): void {
    for (const v of this.vmas.filter((v) => v.dontCopy)) this.munmap(via, v.start, v.end - v.start);
    for (const v of this.vmas.filter((v) => v.wipeOnFork)) this.discard(via, v.start, v.end - v.start);
  }

  /** mlockall(MCL_CURRENT) and munlockall: every VMA. */
  setAllLocked(locked: boolean): void {
    for (const v of [...this.vmas]) this.#setLockedIn(v.start, v.end, locked);
  }

  #setLockedIn(start: number, end: number, locked: boolean): void {
    if (!this.overlapping(start, end).some((v) => !v.locked !== !locked && !isSpecial(v))) return;
    for (const p of this.#remove(start, end)) this.#insert({ ...p, locked: isSpecial(p) ? p.locked === true : locked });
  }

  /** Whether any VMA overlapping [start, end) has no access at all (mlock cannot fault it in). */
  anyInaccessible(start: number, end: number): boolean {
    return this.overlapping(start, end).some((v) => v.prot === 0);
  }

  /**
   * Maps a range of a host file of the kernel's own at a fixed address, as a VMA without a file
   * (the vDSO and its parameters page: see kernel/vdso/vdso.ts), named `name` in
   * /proc/PID/maps. Throws an errno.
   */
  mapSpecial(
    via: Context,
    o: {
      addr: number; len: number; prot: number; shared: boolean; hostFd: number; offset: number; name: string;
    },
  ): void {
    this.#checkRange(o.addr, o.addr + o.len);
    const r = this.as.mapHostFile(via, { addr: o.addr, len: o.len, prot: o.prot, shared: o.shared, hostFd: o.hostFd, offset: o.offset });
    if (r < 0) throw errnoFromNumber(-r);
    for (const v of this.#remove(o.addr, o.addr + o.len)) v.file?.decRef();
    // Shown as Linux shows its special mappings: private, offset 0, no file.
    this.#insert({
      start: o.addr, end: o.addr + o.len, prot: o.prot, shared: false, object: null, file: null,
      offset: 0, name: o.name, growsDown: false,
    });
  }

  /** Bytes of [start, end) that VMAs cover. */
  #mappedIn(start: number, end: number): number {
    let n = 0;
    for (const v of this.overlapping(start, end)) n += Math.min(v.end, end) - Math.max(v.start, start);
    return n;
  }

  /** ENOMEM if growing the address space by `grow` bytes would exceed RLIMIT_AS (`limit` bytes). */
  #checkAsLimit(grow: number, limit: number): void {
    if (limit !== Infinity && this.mappedBytes + grow > limit) throw ENOMEM;
  }

  /**
   * Inserts v over addresses no VMA holds, merged with a neighbour it continues when both are
   * private anonymous memory alike (protection, name, MAP_GROWSDOWN), as Linux's vma_merge:
   * mprotect back and forth or an mmap next to another must leave one VMA, or an mremap of the
   * whole range would be EFAULT ("spans VMAs") where Linux succeeds. File and shared mappings
   * are not merged.
   */
  #insert(v: Vma): void {
    // v lies where no VMA is: the first VMA ending above its start begins at or after its end.
    const i = this.#firstEndingAbove(v.start);
    const prev = this.vmas[i - 1], next = this.vmas[i];
    // Private anonymous memory, and shared mappings of one open file at contiguous offsets
    // (Linux's is_mergeable_vma: the same struct file; a private file mapping's copied pages
    // would need anon_vma's rules, so those stay apart).
    const joins = (a: Vma, b: Vma) =>
      a.end === b.start &&
      (a.file === null ? b.file === null && !a.shared && !b.shared
        : a.file === b.file && a.shared && b.shared && a.object === b.object && b.offset === a.offset + (a.end - a.start) &&
          a.mayWrite === b.mayWrite && a.mayExec === b.mayExec && !a.dontExpand && !b.dontExpand) &&
      a.prot === b.prot && a.name === b.name && a.growsDown === b.growsDown && !a.locked === !b.locked &&
      a.anonName === b.anonName && !a.dontCopy === !b.dontCopy && !a.wipeOnFork === !b.wipeOnFork && !a.sealed === !b.sealed &&
      a.uffd?.ctx === b.uffd?.ctx && a.uffd?.mode === b.uffd?.mode && samePolicy(a.policy, b.policy);
    if (prev !== undefined && joins(prev, v)) {
      prev.end = v.end;
      v.file?.decRef();
      if (next !== undefined && joins(prev, next)) {
        prev.end = next.end;
        next.file?.decRef();
        this.vmas.splice(i, 1);
      }
    } else if (next !== undefined && joins(v, next)) {
      next.start = v.start;
      next.offset = v.offset;
      v.file?.decRef();
    } else {
      this.vmas.splice(i, 0, v);
    }
  }

  /** Removes [start, end) from the VMA list, splitting partial overlaps. Host pages untouched. */
  #remove(start: number, end: number): Vma[] {
    const out: Vma[] = [];
    const vs = this.vmas;
    const i = this.#firstEndingAbove(start);
    let j = i;
    while (j < vs.length && vs[j]!.start < end) j++;
    if (i === j) return out; // a fresh range
    // The overlapped VMAs [i, j) are replaced in place by what is left of them, so a VMA's
    // pieces stay between its neighbours.
    const keep: Vma[] = [];
    for (let k = i; k < j; k++) {
      const v = vs[k]!;
      if (v.start < start) keep.push({ ...v, end: start, file: v.file?.incRef() ?? null });
      if (v.end > end) {
        keep.push({ ...v, start: end, offset: v.offset + (end - v.start), file: v.file?.incRef() ?? null });
      }
      const s = Math.max(v.start, start), e = Math.min(v.end, end);
      out.push({ ...v, start: s, end: e, offset: v.offset + (s - v.start) });
    }
    vs.splice(i, j - i, ...keep);
    return out;
  }

  /**
   * The index of the first VMA that ends above addr (vmas.length if none): a binary search, as
   * VMAs are sorted and disjoint. Every range query starts here, so that a process holding tens
   * of thousands of mappings (up to max_map_count, 65,530) pays O(log n) per mmap, munmap or
   * mprotect rather than a walk over all of them (which made filling the map quadratic).
   */
  #firstEndingAbove(addr: number): number {
    const vs = this.vmas;
    let lo = 0, hi = vs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (vs[mid]!.end > addr) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The VMAs overlapping [start, end), in address order. */
  overlapping(start: number, end: number): Vma[] {
    const vs = this.vmas;
    const i = this.#firstEndingAbove(start);
    let j = i;
    while (j < vs.length && vs[j]!.start < end) j++;
    return i === j ? [] : vs.slice(i, j);
  }

  /** The VMA containing addr, or undefined (binary search: VMAs are sorted and disjoint). */
  findVma(addr: number): Vma | undefined {
    const vs = this.vmas;
    let lo = 0, hi = vs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const v = vs[mid]!;
      if (addr < v.start) hi = mid;
      else if (addr >= v.end) lo = mid + 1;
      else return v;
    }
    return undefined;
  }

  /**
   * Linux's expand_downwards, for a fault at addr that no VMA holds: when the first VMA above
   * it is private anonymous memory mapped MAP_GROWSDOWN, maps [addr's page, its start) as more
   * of it and returns true (the faulting instruction runs again). False for a real fault: no
   * such VMA, an accessible VMA below that does not grow down within the guard gap, or a stack
   * that would exceed RLIMIT_STACK (`stackLimit`) or the address space RLIMIT_AS (`asLimit`).
   * The host mapping itself never grows (the platform maps without MAP_GROWSDOWN: memory-file
   * memory cannot), so this is the only way such a mapping grows: from the CPU's fault (the
   * kernel's fault stop) and from a syscall's copy that stops there ({@linkcode copyGrowing}).
   */
  growDown(via: Context, addr: number, stackLimit: number, asLimit: number): boolean {
    const v = this.growsDownAt(addr, stackLimit, asLimit);
    if (v === undefined) return false;
    const start = addr - (addr % PAGE_SIZE);
    if (this.as.mapAnonymous(via, start, v.start - start, v.prot, false) < 0) return false;
    v.start = start;
    return true;
  }

  /**
   * The MAP_GROWSDOWN VMA a fault at addr would grow down to it (see growDown), or undefined:
   * a check only, nothing changes.
   */
  growsDownAt(addr: number, stackLimit: number, asLimit: number): Vma | undefined {
    if (!Number.isSafeInteger(addr) || addr < 0) return undefined;
    const start = addr - (addr % PAGE_SIZE);
    const vs = this.vmas;
    const i = this.#firstEndingAbove(addr);
    const v = vs[i];
    if (v === undefined || v.start <= addr || !v.growsDown || v.shared || v.file !== null) return undefined;
    const prev = vs[i - 1];
    if (prev !== undefined && !prev.growsDown && (prev.prot & 7) !== 0 && start - prev.end < STACK_GUARD_GAP) {
      return undefined;
    }
    if (start < this.as.minAddr) return undefined;
    for (const r of this.as.reserved) if (r.start < v.start && start < r.end) return undefined;
    if (v.end - start > stackLimit) return undefined;
    if (asLimit !== Infinity && this.mappedBytes + (v.start - start) > asLimit) return undefined;
    return v;
  }

  /**
   * Finishes a syscall's copy (copy_from_user, copy_to_user) of buf from or to addr that
   * read or write stopped after `done` bytes: where it stopped just below a MAP_GROWSDOWN
   * mapping, the mapping grows down to there as the kernel's own page fault grows it
   * (growDown, same limits) and the copy goes on. Returns the bytes copied in all. The
   * sentry's own looks at memory (strace, /proc/PID/cmdline) use read and write, which never
   * grow anything.
   */
  copyGrowing(
    via: Context, addr: number, buf: Uint8Array, done: number, toUser: boolean, stackLimit: number, asLimit: number,
  ): number {
    while (done < buf.length && (this.growDown(via, addr + done, stackLimit, asLimit) || this.chargeTouched(via, addr + done) === true)) {
      const rest = buf.subarray(done);
      const n = toUser ? this.as.write(addr + done, rest) : this.as.read(addr + done, rest);
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  /**
   * EINVAL if [start, end) cuts across the vDSO's mappings ([vdso], [vvar]): Linux never splits
   * a special mapping (special_mapping_split); whole, they may be unmapped, moved, protected.
   */
  #checkNoSpecialSplit(start: number, end: number): void {
    for (const v of this.overlapping(start, end)) {
      if (v.file !== null || (v.name !== "[vdso]" && v.name !== "[vvar]")) continue;
      if (v.start < end && start < v.end && (v.start < start || v.end > end)) throw EINVAL;
    }
  }

  /**
   * mbind(2)'s mbind_range over [start, end), page-aligned and non-empty: the mappings there are
   * split at the edges and take `policy` (undefined: the default one). The caller checked that
   * they cover it.
   */
  setPolicy(start: number, end: number, policy: MemPolicy | undefined): void {
    for (const p of this.#remove(start, end)) {
      const v = { ...p };
      if (policy === undefined) delete v.policy;
      else v.policy = policy;
      this.#insert(v);
    }
  }

  /** EPERM when a mapping in [start, end) is sealed (Linux's vma_is_sealed checks). */
  #checkUnsealed(start: number, end: number): void {
    for (const v of this.overlapping(start, end)) if (v.sealed) throw EPERM;
  }

  /**
   * mseal(2) of [start, end), page-aligned and non-empty: ENOMEM unless every page is mapped,
   * then the mappings there are split at the edges and sealed.
   */
  mseal(start: number, end: number): void {
    this.#checkMapped(start, end);
    for (const p of this.#remove(start, end)) this.#insert({ ...p, sealed: true });
  }

  /**
   * Linux's can_madvise_modify: a discarding advice (`discard`) over a sealed mapping is EPERM
   * unless the mapping is a file's or shared, or writable anyway.
   */
  madviseSealed(start: number, end: number, discard: boolean): void {
    if (!discard) return;
    for (const v of this.overlapping(start, end)) {
      if (!v.sealed) continue;
      if (v.file !== null || v.shared || (v.prot & PROT_WRITE)) continue;
      throw EPERM;
    }
  }

  /** munmap(2). */
  munmap(via: Context, addr: number, len: number): void {
    if (addr % PAGE_SIZE !== 0 || len === 0) throw EINVAL;
    const end = addr + pageRoundUp(len);
    if (end > this.as.maxAddr || addr < 0) throw EINVAL;
    for (const r of this.as.reserved) if (r.start < end && addr < r.end) throw EINVAL;
    this.#checkNoSpecialSplit(addr, end);
    this.#checkUnsealed(addr, end);
    if (this.overlapping(addr, end).length === 0) return;
    // The host first: when it refuses (a split past the host's max_map_count is ENOMEM), the
    // mappings stay as they were, as Linux leaves them.
    const r = this.as.unmap(via, addr, end - addr);
    if (r < 0) throw errnoFromNumber(-r);
    this.dropMarks(addr, end);
    for (const v of this.#remove(addr, end)) v.file?.decRef();
  }

  /** Every page of [addr, end) must be mapped (ENOMEM otherwise), as Linux checks. */
  #checkMapped(addr: number, end: number): void {
    let cur = addr;
    const vs = this.vmas;
    for (let i = this.#firstEndingAbove(addr); i < vs.length; i++) {
      const v = vs[i]!;
      if (v.start > cur) break;
      cur = v.end;
      if (cur >= end) break;
    }
    if (cur < end) throw ENOMEM;
  }

  /**
   * mprotect(2) and pkey_mprotect(2), checked in Linux's order (do_mprotect_pkey). PROT_SEM is
   * accepted and means nothing, as on x86. PROT_GROWSDOWN extends the range down to the start
   * of the MAP_GROWSDOWN mapping holding its first page (glibc's way to make the main stack
   * executable); no mapping grows up on x86, so PROT_GROWSUP is EINVAL.
   *
   * Protection keys: this kernel has none to give (pkey_alloc is ENOSPC, as Linux on a CPU
   * without them), so every key but -1 (none: plain mprotect) is unallocated, EINVAL.
   */
  mprotect(via: Context, addr: number, len: number, prot: number, pkey = -1): void {
    const grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
    prot &= ~grows;
    if (grows === (PROT_GROWSDOWN | PROT_GROWSUP)) throw EINVAL;
    if (addr % PAGE_SIZE !== 0) throw EINVAL;
    const end = addr + pageRoundUp(len);
    if (end === addr) return;
    if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM)) throw EINVAL;
    prot &= PROT_READ | PROT_WRITE | PROT_EXEC;
    if (pkey !== -1) throw EINVAL;
    if (grows !== 0) {
      const v = this.vmas[this.#firstEndingAbove(addr)];
      if (v === undefined) throw ENOMEM;
      if (grows === PROT_GROWSDOWN) {
        if (v.start >= end) throw ENOMEM;
        if (!v.growsDown) throw EINVAL;
        addr = v.start;
      } else {
        if (v.start > addr) throw ENOMEM;
        throw EINVAL;
      }
    }
    this.#checkMapped(addr, end);
    for (const v of this.overlapping(addr, end)) {
      if (
        v.start < end && addr < v.end && v.shared && v.file && (prot & PROT_WRITE) &&
        (!v.file.writable || v.mayWrite === false)
      ) {
        throw EACCES;
      }
      if (v.start < end && addr < v.end && (prot & PROT_EXEC) && v.mayExec === false) throw EACCES;
      // The vDSO's parameters page may only ever be read (Linux's [vvar] has no VM_MAYWRITE
      // nor VM_MAYEXEC).
      if (v.start < end && addr < v.end && v.name === "[vvar]" && (prot & (PROT_WRITE | PROT_EXEC))) throw EACCES;
    }
    // Linux's do_mprotect_pkey refuses the rights (EACCES) before mprotect_fixup splits.
    this.#checkNoSpecialSplit(addr, end);
    this.#checkUnsealed(addr, end);
    // The host first, so that its refusal (ENOMEM: a split past its max_map_count) changes
    // nothing here either.
    const r = this.as.protect(via, addr, end - addr, prot);
    if (r < 0) throw errnoFromNumber(-r);
    for (const p of this.#remove(addr, end)) this.#insert({ ...p, prot });
    if (this.withholding && (this.pageMarks?.size ?? 0) > 0) {
      for (const [page, b] of this.pageMarks!) {
        if ((b & MARKS_CLOSED) && page >= addr && page < end) this.as.protect(via, page, PAGE_SIZE, 0);
      }
    }
  }

  /**
   * brk(2): returns the new (or unchanged) break, never an error. The break stays where it was
   * when growing would exceed RLIMIT_AS (`asLimit` bytes).
   */
  setBrk(via: Context, want: number, asLimit: number = Infinity): number {
    // A break outside the address space (brk(-1) arrives as Infinity) cannot be given: Linux
    // leaves the break where it was.
    if (!Number.isSafeInteger(want) || want < this.brkStart || want > this.as.maxAddr) return this.brk;
    const oldTop = pageRoundUp(this.brk), newTop = pageRoundUp(want);
    if (newTop > oldTop) {
      if (!this.#isFree(oldTop, newTop)) return this.brk;
      if (asLimit !== Infinity && this.mappedBytes + (newTop - oldTop) > asLimit) return this.brk;
      const r = this.as.mapAnonymous(via, oldTop, newTop - oldTop, PROT_READ | PROT_WRITE, false);
      if (r < 0) return this.brk;
      // Extend the heap VMA rather than adding one per call.
      const heap = this.vmas.find((v) => v.name === "[heap]" && v.end === oldTop);
      if (heap) heap.end = newTop;
      else {
        this.#insert({
          start: oldTop, end: newTop, prot: PROT_READ | PROT_WRITE, shared: false, object: null, file: null,
          offset: 0, name: "[heap]", growsDown: false,
        });
      }
    } else if (newTop < oldTop) {
      if (this.vmas.some((v) => v.sealed && v.start < oldTop && newTop < v.end)) return this.brk;
      this.munmap(via, newTop, oldTop - newTop);
    }
    this.brk = want;
    return want;
  }

  /**
   * mremap(2), done on the host by an injected mremap at an address chosen here. Growing past
   * RLIMIT_AS (`asLimit` bytes) is ENOMEM.
   */
  mremap(
    via: Context,
    o: {
      oldAddr: number; oldLen: number; newLen: number; flags: number; newAddr: number; asLimit?: number;
      /** RLIMIT_MEMLOCK in bytes (Infinity with CAP_IPC_LOCK): growing a locked VMA past it is EAGAIN. */
      lockLimit?: number;
    },
  ): number {
    const asLimit = o.asLimit ?? Infinity;
    if (o.oldAddr % PAGE_SIZE !== 0) throw EINVAL;
    if (o.flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) throw EINVAL;
    if ((o.flags & MREMAP_FIXED) && !(o.flags & MREMAP_MAYMOVE)) throw EINVAL;
    // check_mremap_params: MREMAP_DONTUNMAP moves, and only at the same size.
    if ((o.flags & MREMAP_DONTUNMAP) && (!(o.flags & MREMAP_MAYMOVE) || o.oldLen !== o.newLen)) throw EINVAL;
    let oldLen = pageRoundUp(o.oldLen);
    const newLen = pageRoundUp(o.newLen);
    if (newLen === 0) throw EINVAL;
    // mseal(2): any sealed page of the source, before the source's own checks.
    this.#checkUnsealed(o.oldAddr, o.oldAddr + Math.max(oldLen, PAGE_SIZE));
    if (o.flags & MREMAP_DONTUNMAP) return this.#moveKeepingSource(via, o.oldAddr, oldLen, o.flags, o.newAddr, asLimit);
    const first = this.findVma(o.oldAddr);
    if (first !== undefined && first.file === null && (first.name === "[vdso]" || first.name === "[vvar]")) {
      // Moved whole only; never grown (Linux: VM_DONTEXPAND, EFAULT) nor split (EINVAL).
      if (o.oldAddr + oldLen > first.end || newLen > oldLen) throw EFAULT;
      if (o.oldAddr !== first.start || oldLen !== first.end - first.start || newLen !== oldLen) throw EINVAL;
    }
    if (!(o.flags & MREMAP_FIXED) && oldLen !== 0 && newLen <= oldLen) {
      // Always allowed: a shrink just unmaps the tail, whatever mappings the range spans.
      if (newLen < oldLen) this.munmap(via, o.oldAddr + newLen, oldLen - newLen);
      return o.oldAddr;
    }
    // The source must lie in one mapping, checked before anything is unmapped (Linux 6.18's
    // mremap: a MREMAP_FIXED shrink across mappings is EFAULT with nothing changed).
    const v = this.findVma(o.oldAddr);
    if (!v || o.oldAddr + oldLen > v.end) throw EFAULT;
    if (o.flags & MREMAP_FIXED) {
      if (o.newAddr % PAGE_SIZE !== 0) throw EINVAL;
      if (o.newAddr < o.oldAddr + oldLen && o.oldAddr < o.newAddr + newLen) throw EINVAL;
      this.#checkRange(o.newAddr, o.newAddr + newLen);
      this.munmap(via, o.newAddr, newLen);
      if (oldLen > newLen) {
        this.munmap(via, o.oldAddr + newLen, oldLen - newLen);
        oldLen = newLen;
      }
    }
    // old_len 0 duplicates a shared mapping at a new address (it cannot grow in place: ENOMEM
    // without MREMAP_MAYMOVE); a private one is EINVAL, as Linux since 4.14.
    if (oldLen === 0) {
      if (!v.shared) throw EINVAL;
      if (!(o.flags & MREMAP_MAYMOVE)) throw ENOMEM;
      return this.#duplicate(via, v, o.oldAddr, newLen, (o.flags & MREMAP_FIXED) ? o.newAddr : null, asLimit);
    }
    // VM_DONTEXPAND (Linux's vma_to_resize, after mremap_to cleared the destination).
    if (v.dontExpand && newLen > oldLen) throw EFAULT;
    // Linux's vma_to_resize: a locked mapping may grow only within RLIMIT_MEMLOCK.
    if (v.locked && newLen > oldLen && this.lockedBytes() + (newLen - oldLen) > (o.lockLimit ?? Infinity)) throw EAGAIN;
    if (!(o.flags & MREMAP_FIXED)) this.#checkAsLimit(newLen - oldLen, asLimit);
    // Grow in place when the following range is free.
    if (!(o.flags & MREMAP_FIXED) && this.#isFree(o.oldAddr + oldLen, o.oldAddr + newLen)) {
      const r = this.#hostMremap(via, o.oldAddr, oldLen, newLen, 0, 0);
      if (r < 0) throw errnoFromNumber(-r);
      const piece = this.#remove(o.oldAddr, o.oldAddr + oldLen)[0]!;
      this.#insert({ ...piece, end: o.oldAddr + newLen });
      return o.oldAddr;
    }
    if (!(o.flags & MREMAP_MAYMOVE)) throw ENOMEM;
    let dest: number;
    if (o.flags & MREMAP_FIXED) {
      dest = o.newAddr; // checked and cleared above
      this.#checkAsLimit(newLen - oldLen, asLimit);
    } else {
      dest = this.findFree(newLen);
    }
    const r = this.#hostMremap(via, o.oldAddr, oldLen, newLen, MREMAP_MAYMOVE | MREMAP_FIXED, dest);
    if (r < 0) throw errnoFromNumber(-r);
    const piece = this.#remove(o.oldAddr, o.oldAddr + oldLen)[0]!;
    // Without UFFD_FEATURE_EVENT_REMAP the moved VMA leaves its userfaultfd
    // (mremap_userfaultfd_prep); its guard and poison marks move with its pages.
    const moved: Vma = { ...piece, start: dest, end: dest + newLen };
    if (!((moved.uffd?.ctx.features ?? 0) & UFFD_FEATURE_EVENT_REMAP)) delete moved.uffd;
    this.#insert(moved);
    if (this.withholding) {
      this.#moveMarks(o.oldAddr, oldLen, dest);
      this.syncWithheld(via, dest, dest + newLen);
    }
    return dest;
  }

  /**
   * MREMAP_DONTUNMAP (Linux 5.7): the pages of [addr, addr+len), one private anonymous VMA
   * (EFAULT otherwise; other memory: EINVAL, as before Linux 5.13), move to a new mapping (at
   * newAddr with MREMAP_FIXED); the old range stays mapped, empty: it reads zeros, and a
   * userfaultfd registered there sees missing pages (the registration stays with it, the new
   * mapping has none: no UFFD_FEATURE_EVENT_REMAP).
   */
  #moveKeepingSource(via: Context, addr: number, len: number, flags: number, newAddr: number, asLimit: number): number {
    const v = this.findVma(addr);
    if (!v || addr + len > v.end) throw EFAULT;
    if (v.file !== null || v.shared || isSpecial(v)) throw EINVAL;
    let dest: number;
    if (flags & MREMAP_FIXED) {
      if (newAddr % PAGE_SIZE !== 0) throw EINVAL;
      if (newAddr < addr + len && addr < newAddr + len) throw EINVAL;
      this.#checkRange(newAddr, newAddr + len);
      this.munmap(via, newAddr, len);
      dest = newAddr;
    } else {
      dest = this.findFree(len);
    }
    this.#checkAsLimit(len, asLimit);
    const r = this.as.mapAnonymous(via, dest, len, v.prot, false);
    if (r < 0) throw errnoFromNumber(-r);
    const piece: Vma = { ...v, start: dest, end: dest + len, offset: 0 };
    delete piece.uffd;
    this.#insert(piece);
    // The source's pages, whatever their protection, go to the new mapping; the source drops them.
    const buf = new Uint8Array(PAGE_SIZE);
    for (const [s, e] of this.as.populated?.(addr, addr + len) ?? [[addr, addr + len]]) {
      for (let p = Math.max(s, addr); p < Math.min(e, addr + len); p += PAGE_SIZE) {
        if (this.as.read(p, buf) === PAGE_SIZE) this.as.forceWrite(dest + (p - addr), buf);
      }
    }
    this.discard(via, addr, len);
    return dest;
  }

  /**
   * mremap's old_len 0: a second mapping of what the shared VMA v maps at `from`, `len` bytes at
   * dest (already cleared) or at a free range (Linux's copy_vma: the same file or shared memory
   * object at the same offset; the old mapping stays).
   */
  #duplicate(via: Context, v: Vma, from: number, len: number, fixed: number | null, asLimit: number): number {
    this.#checkAsLimit(len, asLimit);
    const dest = fixed ?? this.findFree(len);
    const offset = v.offset + (from - v.start);
    if (v.file !== null) {
      this.#mapAt(via, dest, len, { addr: dest, len, prot: v.prot, flags: MAP_SHARED, file: v.file, offset }, true, false);
    } else {
      // Shared anonymous memory: the same pages of the memory file, or the host's own shared
      // mapping duplicated by the host's mremap.
      let r = this.as.shareAnonymous(via, dest, len, v.prot, this.as, from);
      if (r < 0) r = this.#hostMremap(via, from, 0, len, MREMAP_MAYMOVE | MREMAP_FIXED, dest);
      if (r < 0) throw errnoFromNumber(-r);
      for (const old of this.#remove(dest, dest + len)) old.file?.decRef();
      this.#insert({ ...v, start: dest, end: dest + len, offset: 0 });
    }
    return dest;
  }

  #hostMremap(via: Context, old: number, oldLen: number, newLen: number, flags: number, dest: number): number {
    return this.as.remap(via, { addr: old, oldLen, newLen, flags, newAddr: dest });
  }

  /** madvise(MADV_DONTNEED): ENOMEM if part of the range is unmapped, as Linux. */
  discard(via: Context, addr: number, len: number): void {
    const end = addr + pageRoundUp(len);
    this.#checkMapped(addr, end);
    const r = this.as.discard(via, addr, end - addr);
    if (r < 0) throw errnoFromNumber(-r);
    if (this.withholding) {
      // The pages are gone: so are their write protection and poison (guard marks stay), and
      // a userfaultfd sees them missing again.
      this.dropMarks(addr, end, MARK_UFFD_WP | MARK_POISON);
      this.syncWithheld(via, addr, end);
      // A shmem mapping registered for minor faults no longer maps the pages: they fault again.
      for (const v of this.vmas) {
        if (v.end <= addr || v.start >= end || v.file === null || !((v.uffd?.mode ?? 0) & UFFD_MODE_MINOR)) continue;
        this.withholdMinor(via, Math.max(v.start, addr), Math.min(v.end, end), false);
      }
    }
  }

  /**
   * Closes the pages of [start, end), a shmem mapping registered for minor faults, that this
   * address space does not map yet (all of them when `unmappedOnly` is false): MARK_UFFD_MINOR,
   * no host rights, so that the first touch of each stops in the kernel (kernel/userfaultfd.ts).
   */
  withholdMinor(via: Context, start: number, end: number, unmappedOnly: boolean): void {
    const mapped = unmappedOnly ? this.as.populated?.(start, end) ?? [] : [];
    let at = start;
    const close = (s: number, e: number) => {
      if (s >= e) return;
      this.addMarks(s, e, MARK_UFFD_MINOR);
      this.as.protect(via, s, e - s, 0);
    };
    for (const [s, e] of mapped) {
      close(at, Math.max(at, Math.min(s, end)));
      at = Math.max(at, e);
    }
    close(at, end);
    this.withholding = true;
  }

  /**
   * Faults in the accessible pages of [start, end) (mlock without MLOCK_ONFAULT, MAP_POPULATE,
   * MAP_LOCKED, MADV_POPULATE_*), as Linux's populate_vma_page_range: mincore and pagemap then
   * show them resident. PROT_NONE memory and guard pages are skipped.
   */
  populate(via: Context, start: number, end: number): void {
    if (this.as.populate === undefined) return;
    for (const v of this.overlapping(start, end)) {
      if ((v.prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) === 0) continue;
      const a = Math.max(v.start, start), b = Math.min(v.end, end);
      if ((this.pageMarks?.size ?? 0) === 0) {
        this.as.populate(via, a, b);
        continue;
      }
      for (let p = a; p < b;) {
        let q = p;
        while (q < b && !((this.pageMarks!.get(q) ?? 0) & MARK_GUARD)) q += PAGE_SIZE;
        if (q > p) this.as.populate(via, p, q);
        p = q + PAGE_SIZE;
      }
    }
  }

  /**
   * Which pages of [start, end) are resident (mincore(2), /proc/PID/pagemap): anonymous memory
   * that was touched or populated (the memory file's pages, the host's page tables elsewhere).
   * File mappings count as resident: their pages are the host's page cache, not this address
   * space's. One byte per page, 1 when resident.
   */
  residency(start: number, end: number): Uint8Array {
    const out = new Uint8Array(Math.ceil((end - start) / PAGE_SIZE));
    const pop = this.as.populated?.(start, end) ?? null;
    for (const v of this.overlapping(start, end)) {
      const a = Math.max(v.start, start), b = Math.min(v.end, end);
      if (v.file !== null || pop === null) {
        out.fill(1, (a - start) / PAGE_SIZE, (b - start) / PAGE_SIZE);
        continue;
      }
      for (const [x, y] of pop) {
        const lo = Math.max(x, a), hi = Math.min(y, b);
        if (lo < hi) out.fill(1, Math.floor((lo - start) / PAGE_SIZE), Math.ceil((hi - start) / PAGE_SIZE));
      }
    }
    return out;
  }

  /**
   * MADV_GUARD_INSTALL (Linux 6.13's madvise_guard_install) over anonymous VMAs the caller
   * checked: the pages are dropped (private memory reads zeros once the guard goes) and
   * marked; every access is SIGSEGV until MADV_GUARD_REMOVE, across fork, mprotect and
   * MADV_DONTNEED, moved by mremap, gone with munmap.
   */
  installGuard(via: Context, start: number, end: number): void {
    for (const v of this.overlapping(start, end)) {
      const a = Math.max(v.start, start), b = Math.min(v.end, end);
      const r = this.as.ownMemory?.(via, a, b, v.prot, v.shared) ?? -EINVAL.errno;
      if (r < 0) throw errnoFromNumber(-r);
      this.as.discard(via, a, b - a);
      this.addMarks(a, b, MARK_GUARD);
    }
    this.syncWithheld(via, start, end);
  }

  /** MADV_GUARD_REMOVE: the pages of [start, end) are ordinary again (what they hold is kept). */
  removeGuard(via: Context, start: number, end: number): void {
    if (this.pageMarks === null || this.pageMarks.size === 0) return;
    this.dropMarks(start, end, MARK_GUARD);
    this.syncWithheld(via, start, end);
  }

  /** Clears `bits` (all by default) of the marks of pages in [start, end). */
  dropMarks(start: number, end: number, bits = MARK_GUARD | MARK_POISON | MARK_UFFD_WP | MARK_UNCHARGED | MARK_UFFD_MINOR): void {
    const m = this.pageMarks;
    if (m === null || m.size === 0) return;
    for (const [page, b] of m) {
      if (page < start || page >= end) continue;
      if ((b & ~bits) === 0) m.delete(page);
      else m.set(page, b & ~bits);
    }
  }

  /** Sets `bits` on the marks of the pages of [start, end). */
  addMarks(start: number, end: number, bits: number): void {
    const m = this.pageMarks ??= new Map();
    for (let p = start; p < end; p += PAGE_SIZE) m.set(p, (m.get(p) ?? 0) | bits);
  }

  /** The marks of [from, from+len) go to the same pages at `to` (mremap moved them). */
  #moveMarks(from: number, len: number, to: number): void {
    const m = this.pageMarks;
    if (m === null || m.size === 0) return;
    const moved: Array<[number, number]> = [];
    for (const [page, b] of m) {
      if (page < from || page >= from + len) continue;
      m.delete(page);
      moved.push([page - from + to, b]);
    }
    for (const [page, b] of moved) m.set(page, b);
  }

  /**
   * The rights the host mapping must withhold at `page` (kernel/userfaultfd.ts decides on the
   * fault): all of them on a guard or poisoned page and on a page a missing-mode userfaultfd
   * registration has not had filled (`present` says whether it holds data), the write right on
   * a write-protected page of a WP registration, none elsewhere.
   */
  rightsWithheld(v: Vma, page: number, present: boolean): number {
    const b = this.pageMarks?.get(page) ?? 0;
    if (b & (MARK_GUARD | MARK_POISON)) return PROT_ALL | WITHHOLD_COPIES;
    const mode = v.uffd?.mode ?? 0;
    if ((mode & UFFD_MODE_MISSING) && !present) return PROT_ALL;
    if ((mode & UFFD_MODE_WP) && (b & MARK_UFFD_WP)) return PROT_WRITE;
    return 0;
  }

  /**
   * Brings what the host withholds in [start, end) in line with {@linkcode rightsWithheld},
   * in runs of equal rights. Memory the platform cannot withhold in is left as it is.
   */
  syncWithheld(via: Context, start: number, end: number): void {
    if (this.as.setWithheld === undefined) return;
    const pop = this.as.populated?.(start, end) ?? null;
    let pi = 0;
    const present = (p: number) => {
      if (pop === null) return true;
      while (pi < pop.length && pop[pi]![1] <= p) pi++;
      return pi < pop.length && pop[pi]![0] <= p;
    };
    let runStart = start, runRights = -1;
    const flush = (at: number) => {
      if (runRights >= 0 && at > runStart) {
        if (runRights !== 0) this.withholding = true;
        if (runRights !== 0 || this.withholding) this.as.setWithheld!(via, runStart, at, runRights);
      }
    };
    for (const v of this.overlapping(start, end)) {
      if (v.file !== null) {
        flush(Math.max(v.start, start));
        runRights = -1;
        continue;
      }
      const lo = Math.max(v.start, start), hi = Math.min(v.end, end);
      if ((this.pageMarks?.size ?? 0) === 0) {
        // No marks: the rights follow the registration and the populated runs alone.
        const missing = ((v.uffd?.mode ?? 0) & UFFD_MODE_MISSING) !== 0;
        let at = lo;
        for (const [a, b] of missing && pop !== null ? pop : []) {
          const x = Math.max(a, lo), y = Math.min(b, hi);
          if (x >= y) continue;
          if (at < x) {
            if (runRights !== PROT_ALL) flush(at), runStart = at, runRights = PROT_ALL;
          }
          if (runRights !== 0) flush(x), runStart = x, runRights = 0;
          at = y;
        }
        const rest = missing && pop !== null ? PROT_ALL : 0;
        if (at < hi && runRights !== rest) flush(at), runStart = at, runRights = rest;
        flush(hi);
        runRights = -1;
        continue;
      }
      for (let p = lo; p < hi; p += PAGE_SIZE) {
        const r = this.rightsWithheld(v, p, present(p));
        if (r !== runRights) {
          flush(p);
          runStart = p;
          runRights = r;
        }
      }
      flush(Math.min(v.end, end));
      runRights = -1;
    }
  }

  /**
   * For fork: the same mappings over a copy of the address space (the host copies pages on
   * write). `as` is the forked host side.
   */
  fork(as: AddressSpace): MemoryManager {
    const m = new MemoryManager(as);
    // Locks are not inherited (Linux's dup_mmap clears VM_LOCKED), nor is mlockall(MCL_FUTURE).
    m.vmas = this.vmas.map((v) => {
      const c: Vma = { ...v, file: v.file?.incRef() ?? null, locked: false };
      // Without UFFD_FEATURE_EVENT_FORK (not offered) the child's VMAs have no userfaultfd
      // (dup_userfaultfd); pages the host withholds there are given back at its first touch.
      delete c.uffd;
      return c;
    });
    m.withholding = this.withholding;
    if (this.pageMarks !== null) {
      // Guard and poison markers are copied (copy_pte_marker), uffd-wp bits are not.
      m.pageMarks = new Map();
      // Uncharged pages stay inaccessible in the child's inherited host mappings too.
      const kept = MARK_GUARD | MARK_POISON | MARKS_CLOSED;
      for (const [page, b] of this.pageMarks) if (b & kept) m.pageMarks.set(page, b & kept);
    }
    m.brkStart = this.brkStart;
    m.brk = this.brk;
    m.stackBottom = this.stackBottom;
    m.argStart = this.argStart;
    m.argEnd = this.argEnd;
    m.envStart = this.envStart;
    m.envEnd = this.envEnd;
    m.executable = this.executable;
    m.auxv = this.auxv;
    m.exe = this.exe;
    m.exeFile = this.exeFile?.incRef() ?? null;
    m.membarrierRegistered = this.membarrierRegistered;
    return m;
  }

  /** Drops every mapping's file reference and the aio contexts (the address space is going away). */
  releaseAll(): void {
    this.#allowExeWrite();
    this.exeFile?.decRef();
    this.exeFile = null;
    this.aio?.release();
    this.aio = null;
    for (const v of this.vmas) v.file?.decRef();
    this.vmas = [];
  }

  /** Total mapped bytes (for /proc and sysinfo). */
  get mappedBytes(): number {
    return this.vmas.reduce((s, v) => s + (v.end - v.start), 0);
  }
}

/** The vDSO's mappings: Linux's special mappings, which mlock leaves alone. */
function isSpecial(v: Vma): boolean {
  return v.file === null && (v.name === "[vdso]" || v.name === "[vvar]");
}

/**
 * The identity of what a new MAP_SHARED mapping of file (null: anonymous memory) maps. A file is
 * known by its inode (dev, ino), as Linux keys shared futexes by inode, so that two opens of one
 * file compare equal; one stat per shared file mapping, at mmap time.
 */

export function sharedObject(file: FileDescription | null): SharedObject {
  if (file === null) return new SharedAnon();
  try {
    const st = file.stat();
    return `${st.dev}:${st.ino}`;
  } catch {
    return file;
  }
}
