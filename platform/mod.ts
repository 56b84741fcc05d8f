/**
 * The platform: runs application threads in user mode and reports why they stopped. It knows
 * nothing of tasks, files or signals; the kernel above decides what every stop means.
 *
 * A second platform (seccomp trap, KVM) would sit beside `ptrace/` and implement these same
 * interfaces without a change in kernel/.
 *
 * @module
 */

import type { Registers } from "./ptrace/regs_amd64.ts";
import type { SyscallInfo } from "./syscall_info.ts";
export { SyscallInfo } from "./syscall_info.ts";
export { Registers, REG, defaultFpState, FPREGS_SIZE } from "./ptrace/regs_amd64.ts";
export type { RegName } from "./ptrace/regs_amd64.ts";

/** Why a context left user mode. */
export type StopReason =
  /** The thread executed `syscall`; its registers hold the number and arguments. */
  | { kind: "syscall" }
  /** A synchronous fault the CPU raised (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP). */
  | { kind: "fault"; signo: number; code: number; addr: number }
  /**
   * The thread called an entry of the vsyscall page; the host has emulated its `ret` (rip is
   * the caller's, rsp 8 higher) and nothing else. `syscall` holds the entry's syscall number and
   * arguments, its instruction pointer the entry's address (what seccomp filters see).
   */
  | { kind: "vsyscall" }
  /** The platform stopped the thread on the kernel's request (or a spurious host stop). */
  | { kind: "interrupt" }
  /** The host thread is gone (killed from outside the sentry). */
  | { kind: "gone"; status: number };

/** One application thread as the platform runs it. */
export interface Context {
  /** At a syscall stop: the number and arguments (read cheaply, without every register). */
  readonly syscall: SyscallInfo;
  /**
   * The general registers, read from the host on first use after a stop. Call
   * {@linkcode markRegsDirty} after changing them.
   */
  readonly regs: Registers;
  /** Marks the registers as changed, so they are written back before the thread runs again. */
  markRegsDirty(): void;
  /** Sets the syscall return value (rax) the thread sees when it runs again. */
  setReturn(v: number): void;
  /** The XSAVE image of the thread's x87/SSE/AVX state (a copy). */
  getFpState(): Uint8Array;
  setFpState(fp: Uint8Array): void;
  /** Makes a thread in user mode stop soon (it reports an "interrupt" stop). */
  interrupt(): void;
  /** The address space this thread runs in. */
  readonly addressSpace: AddressSpace;
  /** Ends this thread; the last thread of an address space releases it. */
  release(): void;
  /**
   * The CPU time the host has charged to this thread so far, in ns, split into user and system
   * time; zeros once the host thread is gone. Costs host reads: call on demand only.
   */
  cpuTime(): CpuTime;
  /**
   * Arms the thread's hardware breakpoints (x86 debug registers): each slot's address, length
   * and type as Linux's X86_BREAKPOINT_* codes, or null for none, and DR7 as Linux's
   * ptrace_get_dr7 encodes the enabled ones. Returns 0 or -errno. Absent: no hardware debugging.
   */
  setDebugRegs?(slots: readonly (DebugSlot | null)[], dr7: bigint): number;
  /** The host thread's DR6 as ptrace reads it, after a debug trap. */
  debugStatus?(): bigint;
}

/** One hardware breakpoint for {@linkcode Context.setDebugRegs}. */
export interface DebugSlot {
  addr: bigint;
  len: number;
  type: number;
  enabled: boolean;
}

/** CPU time of a thread, in ns. */
export interface CpuTime {
  userNs: number;
  sysNs: number;
}

/** CPU time and peak resident set of a host process over its life (wait4's rusage). */
export interface HostUsage extends CpuTime {
  maxRssKb: number;
}

/**
 * With AddressSpace.setWithheld's rights: the sentry's own copies refuse the pages too (guard
 * and poisoned pages, where a syscall's copy is EFAULT on Linux). Without it they go by the
 * application's protection (a userfaultfd's missing page: the copy fills it).
 */
export const WITHHOLD_COPIES = 0x100;

/** Memory protections, as PROT_* in Linux. */
export type Prot = number;

/** The host side of one application address space. */
export interface AddressSpace {
  /**
   * Makes rdtsc fault (SIGSEGV) or work again for the thread `via` (the host's PR_SET_TSC on its
   * host thread, which forks and new threads inherit); 0 or -errno. Absent: not supported.
   */
  setTscFaulting?(via: Context, faulting: boolean): number;
  /**
   * The ranges of [start, end) that may hold data, in order; unlisted pages were never
   * touched (they read as zeros, or as the mapped file's bytes). null when it cannot tell.
   * What a checkpoint reads of a large sparse mapping (a 64 GiB reservation with a few pages).
   */
  populated?(start: number, end: number): Array<[number, number]> | null;
  /**
   * Of [start, end), a private mapping of a host file, the ranges whose pages may differ from
   * the file's: those the process made its own copies of (a write, ptrace's, the sentry's);
   * every other page reads as the file's bytes. null when it cannot tell. A checkpoint reads
   * and compares only these (an idle shell's libraries were ~2 MB read and compared for a few
   * pages of relocations).
   */
  fileCopies?(start: number, end: number): Array<[number, number]> | null;
  /**
   * Maps anonymous private memory at a fixed address, replacing what was there.
   * `noReserve`: the application asked MAP_NORESERVE (the host's overcommit check is skipped).
   * Returns 0 or -errno.
   */
  mapAnonymous(via: Context, addr: number, len: number, prot: Prot, shared: boolean, noReserve?: boolean): number;
  /**
   * Maps at a fixed address the shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS) that `source`
   * maps at sourceAddr, so that both address spaces share its pages as after a fork (a restore
   * rebuilds shared memory so). Returns 0 or -errno (EINVAL when that range of the source is not
   * all shared anonymous memory the platform can map elsewhere).
   */
  shareAnonymous(via: Context, addr: number, len: number, prot: Prot, source: AddressSpace, sourceAddr: number): number;
  /**
   * Maps at a fixed address, privately, the pages of `mem` from `offset`: every address space
   * that maps them reads the same pages until it writes one, and then has its own copy (as
   * after a fork; a restore rebuilds fork's copy-on-write sharing so). Returns 0 or -errno.
   */
  mapCopyOnWrite(via: Context, addr: number, len: number, prot: Prot, mem: CowMemory, offset: number): number;
  /**
   * Maps `len` bytes of the host file open as `hostFd` (a descriptor of the sentry) at
   * `offset`, at a fixed address. Returns 0 or -errno.
   */
  mapHostFile(
    via: Context,
    opts: { addr: number; len: number; prot: Prot; shared: boolean; hostFd: number; offset: number },
  ): number;
  unmap(via: Context, addr: number, len: number): number;
  protect(via: Context, addr: number, len: number, prot: Prot): number;
  /**
   * A fault (SEGV_ACCERR) at addr where the host's protection may lag behind the application's
   * (protect added rights without telling the host): brings it up; true if the access is to be
   * tried again. Optional: an address space that never lags has none.
   */
  catchUpProtection?(via: Context, addr: number): boolean;
  /**
   * Withholds `rights` (PROT_* bits, 0 for none) of [start, end) from the host, whatever the
   * application's protection: its accesses there stop with SIGSEGV (SEGV_ACCERR) for the kernel
   * to decide (a userfaultfd's missing page, a guard page). The range must have been made the
   * platform's own with {@linkcode ownMemory}. Returns 0 or -errno. Optional: a platform without
   * it has no userfaultfd nor guard pages.
   */
  setWithheld?(via: Context, start: number, end: number, rights: Prot): number;
  /** The rights withheld at addr (0: none). */
  withheldAt?(addr: number): Prot;
  /**
   * Makes the anonymous memory of [start, end) (protection `prot`) memory whose rights the
   * platform can withhold page by page, keeping its contents and which pages were never
   * touched ({@linkcode populated} still tells). Returns 0 or -errno.
   */
  ownMemory?(via: Context, start: number, end: number, prot: Prot, shared: boolean): number;
  /**
   * Faults in the pages of [start, end) (mlock, MAP_POPULATE, MADV_POPULATE_*): afterwards
   * {@linkcode populated} lists them. Returns 0 or -errno; optional.
   */
  populate?(via: Context, start: number, end: number): number;
  /** Drops the pages of a range (madvise MADV_DONTNEED): private anonymous memory reads as zeros. */
  discard(via: Context, addr: number, len: number): number;
  /** Moves or resizes a mapping as mremap(2) with the given flags; returns the address or -errno. */
  remap(via: Context, o: { addr: number; oldLen: number; newLen: number; flags: number; newAddr: number }): number;
  /**
   * Holds back mapAnonymous, mapHostFile, protect and unmap (each returns 0 at once) to run them
   * together, in order, on the stopped thread `via`, at {@linkcode flushMappings}: one host
   * round trip instead of one per operation. Any other operation (read, write, newThread, ...)
   * runs what is held back first. For building a fresh image (exec), where a host failure is
   * fatal to the address space anyway: callers must not rely on a single operation's result.
   * The host descriptors of deferred mapHostFile calls must stay open until the flush.
   */
  deferMappings(via: Context): void;
  /** Runs what deferMappings held back and stops deferring. Returns 0 or the first -errno. */
  flushMappings(): number;
  /**
   * Copies application memory out. Returns the bytes copied: short (possibly 0) at the first
   * inaccessible page.
   */
  read(addr: number, dst: Uint8Array): number;
  /** Copies into application memory; same contract as read. Honours page protections. */
  write(addr: number, src: Uint8Array): number;
  /**
   * Replaces the little-endian 32-bit word at addr (4-aligned) with `replacement` if it holds
   * `expected`, as a futex op's cmpxchg does, on behalf of the stopped thread `via`; returns the
   * word found, or null when the word cannot be both read and written. Atomic against the
   * application's own threads (see the implementation for the exception).
   */
  compareExchange32(via: Context, addr: number, expected: number, replacement: number): number | null;
  /** Writes even to read-only pages (for the loader and breakpoints), as FOLL_FORCE does. */
  forceWrite(addr: number, src: Uint8Array): number;
  /** A new, stopped thread in this address space (for CLONE_VM), made from the stopped `via`. */
  newThread(via: Context): Context;
  /**
   * A copy of this address space (fork): same mappings, pages copied on write, with one
   * stopped thread whose registers are via's.
   */
  fork(via: Context): Context;
  /** Kills the host process behind this address space and every thread in it. */
  release(): void;
  /**
   * Kills the host process like release() and waits until it is gone. Returns what the host
   * charged the process over its whole life (every thread it ever had): for the exit of a
   * process that was alone in its address space, read at no extra cost.
   */
  releaseAndReap(): HostUsage;
  /** The peak resident set size of the host process, in KiB (VmHWM); 0 if unknown. */
  peakRssKb(): number;
  /** The resident set size of the host process now, in KiB (VmRSS); 0 if unknown. */
  rssKb(): number;
  /**
   * The host process's own anonymous pages now, in KiB (RssAnon: large mappings and pages
   * copied on write after a fork, not the memory file's pages); 0 if unknown.
   */
  anonRssKb(): number;
  /** The lowest and highest addresses the application may map. */
  readonly minAddr: number;
  readonly maxAddr: number;
  /** Ranges the platform itself occupies, which the application must never map over. */
  readonly reserved: ReadonlyArray<{ start: number; end: number }>;
}

/**
 * Pages that address spaces map copy-on-write ({@linkcode AddressSpace.mapCopyOnWrite}): filled
 * once, then mapped by each; they live as long as a mapping or the maker's hold does.
 */
export interface CowMemory {
  readonly length: number;
  /** Copies src into the memory at offset (before anything maps it: mappings see the pages as they are). */
  write(offset: number, src: Uint8Array): void;
  /** Drops the maker's hold (once); the pages stay while some address space maps them. */
  release(): void;
}

/** Result of a wait for the next stop. */
export interface Stop {
  ctx: Context;
  reason: StopReason;
}

/** A way of running application code. */
export interface Platform {
  readonly name: string;
  /** Makes a fresh, empty address space and its first (stopped) thread. */
  newAddressSpace(): Context;
  /**
   * Lets a stopped context run application code until its next stop. `step`: for one
   * instruction only (a traced task single-stepped by its tracer): it then stops with a SIGTRAP
   * fault.
   */
  resume(ctx: Context, step?: boolean): void;
  /**
   * Blocks until some running context stops. `timeoutNs` bounds the wait; null means the
   * deadline passed first. `contended`: more than one context is running, so a stop of
   * another may be waiting behind the one reported (the platform may serve that first).
   */
  waitStop(timeoutNs: number, contended?: boolean): Stop | null;
  /** Resolves (without consuming it) when some context has a stop to collect. */
  waitStopAsync(): Promise<void>;
  /**
   * No context runs and the caller is about to sleep on something else: release whatever
   * waitStop keeps armed between calls (the ptrace platform's repeating wake-up alarm), so an
   * idle or paused sandbox uses no CPU. The next waitStop re-arms it.
   */
  idle(): void;
  /** Collects a stop if one is ready, without blocking. */
  pollStop(): Stop | null;
  /** Kills everything; no host process outlives this call. */
  shutdown(): void;
  /**
   * Bytes of application memory the platform holds outside the address spaces' own pages,
   * counted once however many map them (the memory file's pages); 0 when there is none.
   */
  memoryFileBytes?(): number;
  /**
   * New memory of `length` bytes (a multiple of the page size), zero-filled, to map
   * copy-on-write into several address spaces; null when the platform cannot share pages so.
   */
  newCowMemory?(length: number): CowMemory | null;
  /**
   * A full memory barrier on every CPU that runs application code (membarrier(2)): when it
   * returns, each thread running meanwhile has passed one. False when the platform has none.
   */
  memoryBarrier?(): boolean;
}
