/**
 * The ptrace platform: each application address space is a stub process (see stub_elf.ts),
 * each application thread a thread of that stub, stopped at every syscall by PTRACE_SYSEMU so
 * that the host never executes an application syscall.
 *
 * Ordering rule: every ptrace request is made from the JavaScript thread, which attached every
 * tracee. Waits are made there too, synchronously, except {@linkcode PtracePlatform.waitStopAsync}
 * which only peeks (WNOWAIT) from a pool thread.
 *
 * @module
 */

import * as ffi from "./_ffi.ts";
import { discardEarlyStub, type EarlyStub } from "./early_stub.ts";
import { MAP_NORESERVE, TASK_SIZE } from "../../abi/linux/mm.ts";
import { Registers } from "./regs_amd64.ts";
import { SYSCALL_INFO_SIZE, SyscallInfo } from "../syscall_info.ts";
import { cpuBetween, ThreadClock, type ThreadCpuReading, ZERO_READING } from "./thread_clock.ts";
import {
  BATCH_ARG0_SAVED, BATCH_ARG4_SAVED, BATCH_ENTRY_SIZE, BATCH_MAX_ENTRIES, BATCH_SAVE_RESULT, buildStubElf,
  STUB_BASE, STUB_BATCH_ADDR, STUB_BATCH_TRAP_ADDR, STUB_CAS_ADDR, STUB_CAS_INSN_ADDR, STUB_CAS_TRAP_ADDR, STUB_DATA,
  STUB_INJECT_ADDR, STUB_INJECT_TRAP_ADDR, STUB_SIZE,
} from "./stub_elf.ts";
import type { AddressSpace, Context, CowMemory, CpuTime, DebugSlot, HostUsage, Platform, Prot, Stop, StopReason } from "../mod.ts";
import { WITHHOLD_COPIES } from "../mod.ts";
import { MEMORY_FILE_MAX_MAPPING, MemoryFile, type Region, RegionList } from "./memory_file.ts";
import { PAGE } from "./file_ranges.ts";
import { CLONE_STUB_FORK, CLONE_STUB_THREAD, stubFilter, SYS_fetch_fd } from "./stub_seccomp.ts";

const SIGKILL = 9;
const SIGTRAP = 5;
const SIGSTOP = 19;
const SIGBUS = 7, SIGSEGV = 11;
const SYSCALL_TRAP = SIGTRAP | 0x80;

const SYS_mmap = 9;
const SYS_mprotect = 10;
const SYS_munmap = 11;
const SYS_close = 3;
const SYS_clone = 56;
const SYS_mremap = 25;
const SYS_prctl = 157;
const PR_SET_TSC = 26, PR_TSC_ENABLE = 1, PR_TSC_SIGSEGV = 2;
const SYS_setrlimit = 160;
const SYS_capset = 126;
const SYS_unshare = 272;
const SYS_membarrier = 324;
const SYS_chdir = 80;
const SYS_pivot_root = 155;
const SYS_mount = 165;
const SYS_umount2 = 166;
const SYS_seccomp = 317;
const SYS_exit = 60;
const SYS_madvise = 28;
const MADV_DONTNEED = 4;
const MADV_POPULATE_READ = 22;
/** Zeros written into the memory file's holes by populate. */
const ZERO_CHUNK = new Uint8Array(64 << 10);

const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;
const MREMAP_MAYMOVE = 1;
const MREMAP_FIXED = 2;
const PROT_READ = 1;
const PROT_WRITE = 2;
const ENOMEM = 12;


/**
 * EFLAGS for the sentry's own code in the stub (IF and the always-one bit): never the
 * application's, whose trap flag would single-step the injected code and whose alignment-check
 * flag could fault it. The application's flags come back with its registers afterwards.
 */
const STUB_EFLAGS = 0x202;
/** Linux x86-64's __USER_CS and __USER_DS selectors. */
const USER_CS = 0x33, USER_DS = 0x2b;

/** How stubs are placed on CPUs. */
export type CpuPlacement = "adaptive" | "tracer" | "free";

/** Options of the ptrace platform. */
export interface PtraceOptions {
  /**
   * "adaptive" (default): the tracer thread is pinned to one CPU and every stub starts there,
   * so that a stop is a same-CPU switch (~2 µs here) rather than a cross-CPU wakeup (~30 µs);
   * a thread that runs a whole placement interval without a stop may use every CPU until it
   * stops often again (see PtracePlatform.#placeThreads). "tracer": every stub stays on the
   * tracer's CPU. "free": no pinning at all.
   */
  placement?: CpuPlacement;
  /**
   * The first zygote's stub, started ahead of the platform (early_stub.ts); the platform owns it
   * from here on (a shutdown before any zygote kills and reaps it).
   */
  stub?: EarlyStub;
}

/**
 * How often (ns) the adaptive placement looks at the running threads. A thread that was running
 * at one look and still is at the next, with no stop between, computed for a whole interval:
 * it is let out to every CPU.
 */
const PLACEMENT_INTERVAL_NS = 5_000_000;
/** How often (in stops) waitStop collects every waiting stop, and at most how many (see #fair). */
const DRAIN_EVERY = 16;
const DRAIN_MAX = 256;
/** Stops #fair lets pass after finding nothing waiting behind the same thread's stop. */
const AGAIN_BACKOFF = 3;
/**
 * After how many stops the hot libc functions get Deno's fast calls (_ffi.ts bindFastCalls): a
 * `do -- /bin/true` makes ~30 stops, and its calls through function pointers cost less than the
 * ~4 ms the trampolines would; a run that goes on pays them once.
 */
const FAST_CALLS_AFTER_STOPS = 400;
/**
 * A let-out thread that stops more often than this (stops per second, over one interval) is
 * pinned again: its stops would cost cross-CPU wake-ups. Between one stop per interval and
 * this rate a thread stays where it is (hysteresis).
 */
const REPIN_STOPS_PER_SEC = 5_000;

const RAX_OFFSET = 80;
/** offsetof(struct user, u_debugreg): DR0-DR7, 8 bytes each. */
const USER_DEBUGREG = 848;
const NT_X86_XSTATE = 0x202;

class PtraceContext implements Context {
  readonly syscall = new SyscallInfo();
  readonly #regs = new Registers();
  /** True when #regs hold the host thread's registers (read since the last stop). */
  #regsValid = false;
  /** True when #regs differ from what the host thread holds. */
  dirty = false;
  /** A return value to poke into rax on resume when the registers were never read. */
  #pendingRax: number | null = null;
  /** True while the host thread runs (resumed, no stop collected yet). */
  running = false;
  /** Stops collected so far, and what the last placement look saw (see #placeThreads). */
  stops = 0;
  stopsAtLook = 0;
  runningAtLook = false;
  /**
   * The host thread's cumulative time when this context took it: zero for a new thread, the
   * time its earlier users had for a parked thread reused (see PtracePlatform.adopt).
   */
  cpuStart: ThreadCpuReading = ZERO_READING;
  /** The last reading cpuTime made, or null: where the next user of a parked thread starts. */
  lastCpu: ThreadCpuReading | null = null;
  /** Hardware breakpoints are enabled on the host thread (cleared before it is parked). */
  debugArmed = false;

  constructor(readonly tid: number, readonly addressSpace: StubAddressSpace) {}

  get regs(): Registers {
    if (!this.#regsValid) this.fetchRegs();
    return this.#regs;
  }

  markRegsDirty(): void {
    this.dirty = true;
  }

  release(): void {
    this.addressSpace.platform.releaseContext(this);
  }

  /**
   * The host thread's time since this context took it (thread_clock.ts: schedstat's run time
   * in ns, split by stat's ticks as Linux's cputime_adjust does for getrusage).
   */
  cpuTime(): CpuTime {
    const r = this.addressSpace.platform.clockOf(this).read();
    if (r === null) return { userNs: 0, sysNs: 0 };
    this.lastCpu = r;
    return cpuBetween(this.cpuStart, r);
  }

  setReturn(v: number): void {
    if (this.#regsValid) {
      this.#regs.set("rax", v);
      this.dirty = true;
    } else {
      this.#pendingRax = v;
    }
  }

  /** Forgets the registers: the thread ran, so they must be read again. */
  invalidate(): void {
    this.#regsValid = false;
    this.#pendingRax = null;
    this.dirty = false;
  }

  fetchSyscallInfo(): void {
    ffi.ptraceBuf(ffi.PTRACE_GET_SYSCALL_INFO, this.tid, SYSCALL_INFO_SIZE, this.syscall.bytes);
  }

  /** The XSAVE image (x87, SSE, AVX, ...), as PTRACE_GETREGSET NT_X86_XSTATE gives it. */
  getFpState(): Uint8Array {
    return ffi.ptraceGetRegset(this.tid, NT_X86_XSTATE);
  }

  setFpState(fp: Uint8Array): void {
    ffi.ptraceSetRegset(this.tid, NT_X86_XSTATE, fp);
  }

  interrupt(): void {
    if (this.running) ffi.ptrace(ffi.PTRACE_INTERRUPT, this.tid, 0, 0);
  }

  fetchRegs(): void {
    ffi.ptraceBuf(ffi.PTRACE_GETREGS, this.tid, 0, this.#regs.bytes);
    this.#regsValid = true;
    if (this.#pendingRax !== null) {
      this.#regs.set("rax", this.#pendingRax);
      this.#pendingRax = null;
      this.dirty = true;
    }
  }

  /**
   * The host thread's debug registers: DR7 cleared first (so that no half-written pair is ever
   * armed), then each address, then DR7. A slot over the platform's own pages is left disabled
   * here: a breakpoint on the stub's code would fire inside the sentry's injected calls.
   */
  setDebugRegs(slots: readonly (DebugSlot | null)[], dr7: bigint): number {
    const reserved = this.addressSpace.reserved;
    let mask = 0n;
    slots.forEach((s, i) => {
      if (s === null || !s.enabled) return;
      const end = s.addr + 8n;
      if (reserved.some((r) => s.addr < BigInt(r.end) && end > BigInt(r.start))) mask |= (3n << BigInt(2 * i)) | (0xfn << BigInt(16 + 4 * i));
    });
    let r = ffi.pokeUser(this.tid, USER_DEBUGREG + 7 * 8, 0n);
    for (let i = 0; r === 0 && i < slots.length; i++) {
      const s = slots[i];
      if (s !== null && s !== undefined) r = ffi.pokeUser(this.tid, USER_DEBUGREG + i * 8, s.addr);
    }
    const armed = dr7 & ~mask;
    if (r === 0) r = ffi.pokeUser(this.tid, USER_DEBUGREG + 7 * 8, armed);
    this.debugArmed = r === 0 && (armed & 0xffn) !== 0n;
    return r;
  }

  debugStatus(): bigint {
    return ffi.peekUser(this.tid, USER_DEBUGREG + 6 * 8);
  }

  /** Writes back what changed: all registers (SETREGS) or just rax (POKEUSER, much cheaper). */
  flushRegs(): void {
    if (this.dirty) {
      ffi.ptraceBuf(ffi.PTRACE_SETREGS, this.tid, 0, this.#regs.bytes);
      this.dirty = false;
    } else if (this.#pendingRax !== null) {
      ffi.ptrace(ffi.PTRACE_POKEUSER, this.tid, RAX_OFFSET, this.#pendingRax);
      this.#pendingRax = null;
    }
  }
}

/** One syscall of a batch: number, up to six arguments, BATCH_* flags. */
interface BatchEntry {
  nr: number;
  args: number[];
  flags: number;
  /** For SYS_fetch_fd: the sentry's descriptor it brings into the stub. */
  fetch?: number;
}

/** A batch of mapping syscalls held back by {@linkcode StubAddressSpace.deferMappings}. */
interface Deferred {
  via: PtraceContext;
  entries: BatchEntry[];
  /** The first error of a flush that already ran (0 if none). */
  error: number;
  /**
   * The sentry descriptor whose pidfd_getfd ... close group ends the queue, or -1: the next
   * mapping of the same file joins that group (one getfd and one close per file, not per
   * segment).
   */
  openHostFd: number;
}

class StubAddressSpace implements AddressSpace {
  readonly minAddr = 0x10000;
  readonly maxAddr = TASK_SIZE;
  readonly reserved = [{ start: STUB_BASE, end: STUB_BASE + STUB_SIZE }];
  /**
   * The sentry's end of the seccomp listener of the filter this stub runs under (the zygote's
   * that it was forked from): how a descriptor of the sentry gets into the stub (see
   * {@linkcode #serveFdFetch}). -1 for a stub that is not confined yet.
   */
  listener = -1;
  /**
   * The memory file's descriptor inside the stub (the zygote holds it; forks inherit it at the
   * same number), or -1 when there is no memory file: anonymous memory is then host memory.
   */
  memfdInStub = -1;
  /** Where this address space maps the memory file (see memory_file.ts). */
  readonly regions = new RegionList();
  /**
   * Pages of MAP_SHARED|MAP_ANONYMOUS objects past the end of a mapping an mremap shrank: the
   * object keeps them (Linux's shmem file keeps its size), so growing the mapping again finds
   * them. By file offset of their start; freed with the region they follow, or at release.
   */
  readonly #sharedTails = new Map<number, number>();
  released = false;
  /** @nosave The live host threads of this stub. */
  readonly threads = new Set<PtraceContext>();
  /**
   * @nosave Host threads of this stub that no application thread uses any more, kept stopped
   * for the next newThread: a vfork child that execs (a shell's every command) or a thread that
   * exits hands its host thread to the next one instead of paying a host exit and a host clone.
   */
  readonly parked: number[] = [];
  /** @nosave Mapping syscalls waiting for {@linkcode flushMappings}, or null when not deferring. */
  #deferred: Deferred | null = null;
  /** @nosave The host's /proc/PID/status of the stub, open once read (see peakRssKb), or -1. */
  #statusFd = -1;
  /** @nosave The host pid of the last child an injected clone made (see {@linkcode #clone}). */
  #cloned = -1;

  constructor(readonly platform: PtracePlatform, readonly pid: number) {}

  /**
   * Runs one syscall on the host inside the stub, on thread `via`, which must be stopped.
   * Preconditions:
   * - `via` is stopped and belongs to this address space.
   * The thread's application registers are kept in via.regs and written back on resume.
   */
  inject(via: Context, nr: number, args: number[]): number {
    this.#flush();
    return this.#inject(via as PtraceContext, nr, args);
  }

  setTscFaulting(via: Context, faulting: boolean): number {
    return this.inject(via, SYS_prctl, [PR_SET_TSC, faulting ? PR_TSC_SIGSEGV : PR_TSC_ENABLE, 0, 0, 0]);
  }

  /**
   * Runs code of the stub on a stopped thread until it traps at `trapAddr`: `setup` points the
   * registers at it. Returns rax at the trap. The application registers are restored in ctx.regs
   * (written back on resume).
   */
  #runStub(
    ctx: PtraceContext,
    setup: (r: Registers) => void,
    trapAddr: number,
    what: string,
    fetches: number[] = [],
    faultAt = -1,
  ): number {
    if (ctx.running) throw new Error("Cannot run stub code: the thread is running");
    const saved = ctx.regs.clone(); // reads the registers if not read yet
    const r = ctx.regs;
    r.set("orig_rax", -1);
    r.set("eflags", STUB_EFLAGS);
    // The 64-bit user code and stack segments, whatever selectors the application loaded: a
    // 32-bit code segment would run the stub's `syscall` in compatibility mode.
    r.set("cs", USER_CS);
    r.set("ss", USER_DS);
    setup(r);
    ffi.ptraceBuf(ffi.PTRACE_SETREGS, ctx.tid, 0, r.bytes);
    ffi.ptrace(ffi.PTRACE_CONT, ctx.tid, 0, 0);
    let rax: number;
    let served = 0;
    for (;;) {
      let w;
      if (served < fetches.length) {
        // A descriptor fetch of the code running now blocks the thread in the host's seccomp
        // notification until the sentry answers it; meanwhile the thread may also stop (a host
        // signal) or die, so both are watched.
        const ev = ffi.hostPoll(this.listener, ffi.POLLIN, 20);
        if (ev > 0) {
          if (this.#serveFdFetch(ctx, fetches[served]!)) served++;
          continue;
        }
        w = ffi.waitpid(ctx.tid, ffi.__WALL | ffi.WNOHANG);
      } else {
        w = ffi.waitpid(ctx.tid, ffi.__WALL);
      }
      if (w === "eintr" || w === null) continue;
      const st = w.status;
      if ((st & 0xff) !== 0x7f) {
        throw new Error(`Stub ${ctx.tid} died during ${what} (status ${st})`);
      }
      const sig = (st >> 8) & 0xff, event = st >>> 16;
      if ((sig === SIGSEGV || sig === SIGBUS) && event === 0 && faultAt >= 0) {
        // The code touched memory it may not (faultAt: the instruction that may fault): NaN,
        // and the signal is dropped with the stop.
        ffi.ptraceBuf(ffi.PTRACE_GETREGS, ctx.tid, 0, r.bytes);
        if (r.get("rip") === faultAt) {
          rax = NaN;
          break;
        }
      }
      if (sig === SIGTRAP && event === 0) {
        ffi.ptraceBuf(ffi.PTRACE_GETREGS, ctx.tid, 0, r.bytes);
        if (r.get("rip") !== trapAddr) throw new Error(`${what} trapped at an unexpected address`);
        if (served < fetches.length) throw new Error(`${what} ended before its descriptor fetch`);
        rax = Number(BigInt.asIntN(64, r.get64("rax")));
        break;
      }
      if (sig === SIGTRAP && (event === ffi.PTRACE_EVENT_FORK || event === ffi.PTRACE_EVENT_CLONE)) {
        // An injected clone made its child: the host pid of it, as the sentry sees it (the
        // clone itself returns the child's pid in the stub's own PID namespace).
        ffi.ptraceBuf(ffi.PTRACE_GETEVENTMSG, ctx.tid, 0, eventMsgBytes);
        this.#cloned = Number(eventMsg[0]);
      }
      // A stray host signal, or the clone event: suppress it and keep going.
      ffi.ptrace(ffi.PTRACE_CONT, ctx.tid, 0, 0);
    }
    r.copyFrom(saved);
    ctx.dirty = true;
    return rax;
  }

  /** Runs one syscall; returns its result. `fetch`: the sentry descriptor a SYS_fetch_fd asks for. */
  #inject(ctx: PtraceContext, nr: number, args: number[], fetch?: number): number {
    return this.#runStub(ctx, (r) => {
      r.set("rax", nr);
      for (let i = 0; i < 6; i++) r.set(ARG_REGS[i]!, args[i] ?? 0);
      r.set("rip", STUB_INJECT_ADDR);
    }, STUB_INJECT_TRAP_ADDR, `injected syscall ${nr}`, fetch === undefined ? [] : [fetch]);
  }

  /**
   * Runs syscalls in order, in one round trip when every thread is stopped (a batch); returns
   * each one's result.
   */
  injectAll(via: Context, calls: { nr: number; args: number[] }[]): number[] {
    this.#flush();
    const ctx = via as PtraceContext;
    if (calls.length > 1 && this.#allStopped() && calls.length <= BATCH_MAX_ENTRIES) {
      this.#runBatch(ctx, calls.map((c) => ({ ...c, flags: 0 })));
      // The runner wrote each result over its entry's nr.
      const back = new Uint8Array(calls.length * BATCH_ENTRY_SIZE);
      if (ffi.vmRead(this.pid, STUB_DATA, back) !== back.length) throw new Error("Cannot read a batch's results");
      const v = new DataView(back.buffer);
      return calls.map((_, i) => Number(v.getBigInt64(i * BATCH_ENTRY_SIZE, true)));
    }
    return calls.map((c) => this.#inject(ctx, c.nr, c.args));
  }

  /**
   * A copy of the sentry's descriptor `hostFd` in the stub (its number there, or -errno), by the
   * stub's descriptor fetch (see {@linkcode #serveFdFetch}).
   */
  fetchFd(via: Context, hostFd: number): number {
    this.#flush();
    return this.#inject(via as PtraceContext, SYS_fetch_fd, [-1, hostFd], hostFd);
  }

  /**
   * Answers one descriptor fetch waiting in the seccomp listener: installs the sentry's
   * descriptor `hostFd` in the stub (SECCOMP_IOCTL_NOTIF_ADDFD) and makes the fetch return its
   * number there (SECCOMP_IOCTL_NOTIF_SEND), or fails it with the host's errno.
   * Which descriptor goes in is the sentry's own record of what it asked for, never what the
   * stub's registers or memory say. Returns false when the notification was not the one
   * expected (none pending any more: the thread was interrupted and will ask again).
   */
  #serveFdFetch(ctx: PtraceContext, hostFd: number): boolean {
    notifBuf.fill(0);
    if (ffi.seccompIoctl(this.listener, SECCOMP_IOCTL_NOTIF_RECV, notifBuf) < 0) return false;
    const id = notifView.getBigUint64(0, true);
    const pid = notifView.getUint32(8, true);
    const nr = notifView.getInt32(16, true);
    if (pid !== ctx.tid || nr !== SYS_fetch_fd) {
      // Not the thread the sentry is running stub code on: no stub makes a fetch on its own.
      this.#answerFetch(id, 0, -1);
      return false;
    }
    // Not SECCOMP_ADDFD_FLAG_SEND: an ADDFD+SEND that a signal interrupts (the sentry's wake-up
    // alarm) leaves the notification answered with 0 and no descriptor, and the stub would
    // then map and close its descriptor 0. A plain ADDFD is withdrawn when interrupted (safe to
    // repeat); the answer follows in a NOTIF_SEND, which never sleeps.
    addfdView.setBigUint64(0, id, true);
    addfdView.setUint32(8, 0, true);
    addfdView.setUint32(12, hostFd, true);
    addfdView.setUint32(16, 0, true);
    addfdView.setUint32(20, 0, true);
    const r = ffi.seccompIoctl(this.listener, SECCOMP_IOCTL_NOTIF_ADDFD, addfdBuf);
    if (r === -ENOENT) return false; // the waiter went away (a signal): it asks again
    if (this.#answerFetch(id, r >= 0 ? r : 0, r >= 0 ? 0 : r) === -ENOENT && r >= 0) {
      // Gone between the two ioctls: the descriptor it got is closed by nobody else.
      return false;
    }
    return true;
  }

  /** Answers a waiting fetch with `val`, or fails it with `err` (-errno); returns the ioctl's result. */
  #answerFetch(id: bigint, val: number, err: number): number {
    respView.setBigUint64(0, id, true);
    respView.setBigInt64(8, BigInt(val), true);
    respView.setInt32(16, err, true);
    respView.setUint32(20, 0, true);
    return ffi.seccompIoctl(this.listener, SECCOMP_IOCTL_NOTIF_SEND, respBuf);
  }

  /**
   * True when no thread of this stub can run application code, so nothing but the sentry can
   * write the stub's data page: the condition for running a batch from it.
   */
  #allStopped(): boolean {
    for (const c of this.threads) if (c.running) return false;
    return true;
  }

  /**
   * Runs the entries in order with one ptrace round trip per BATCH_MAX_ENTRIES: the table is
   * written into the stub's data page and the stub's batch runner executes it. Returns the
   * first error (-errno) or 0; the runner reports it in rax, so the table is never read back.
   * Precondition: {@linkcode #allStopped} (checked): a running application thread could
   * otherwise rewrite the table between our write and the runner's reads.
   */
  #runBatch(ctx: PtraceContext, entries: BatchEntry[]): number {
    if (!this.#allStopped()) throw new Error("A batch needs every thread of the stub stopped");
    let firstError = 0;
    for (let base = 0, n = 0; base < entries.length; base += n) {
      n = Math.min(BATCH_MAX_ENTRIES, entries.length - base);
      // A table never ends between an entry that saves its result (a fetched descriptor) and
      // those that use it: the saved value does not survive into the next table (a restore
      // maps dozens of files in one flush: [fetch, mmap, close] split across two was EBADF).
      while (n > 1 && base + n < entries.length && (entries[base + n]!.flags & (BATCH_ARG0_SAVED | BATCH_ARG4_SAVED)) !== 0) n--;
      const bytes = batchTable.subarray(0, n * BATCH_ENTRY_SIZE);
      for (let i = 0; i < n; i++) {
        const e = entries[base + i]!, o = i * BATCH_ENTRY_SIZE;
        setQword(o, e.nr);
        for (let a = 0; a < 6; a++) setQword(o + 8 + 8 * a, e.args[a] ?? 0);
        setQword(o + 56, e.flags);
      }
      if (ffi.vmWrite(this.pid, STUB_DATA, bytes) !== bytes.length) throw new Error("Cannot write the batch table");
      const fetches: number[] = [];
      for (let i = 0; i < n; i++) {
        const f = entries[base + i]!.fetch;
        if (f !== undefined) fetches.push(f);
      }
      const rax = this.#runStub(ctx, (r) => {
        r.set("rdi", STUB_DATA);
        r.set("rsi", n);
        r.set("rip", STUB_BATCH_ADDR);
      }, STUB_BATCH_TRAP_ADDR, "a syscall batch", fetches);
      if (rax < 0 && firstError === 0) firstError = rax;
    }
    return firstError;
  }

  /**
   * Runs an injected clone with `flags` on `via`; returns the host pid (tid) of the child, or
   * -errno. Stubs live in a PID namespace of their own, where clone's result is the child's pid
   * there, not the host's: the host's comes with the clone event (PTRACE_O_TRACEFORK/CLONE,
   * set at seize and inherited), translated by Linux into the tracer's namespace.
   */
  #clone(via: PtraceContext, flags: number): number {
    this.#cloned = -1;
    const r = this.#inject(via, SYS_clone, [flags, 0, 0, 0, 0]);
    if (r < 0) return r;
    if (this.#cloned <= 0) throw new Error("An injected clone returned without its clone event");
    return this.#cloned;
  }

  /** Collects the first stop of a host thread or process that clone just created. */
  #adoptNew(tid: number): void {
    for (;;) {
      const w = ffi.waitpid(tid, ffi.__WALL);
      if (w === "eintr" || w === null) continue;
      if ((w.status & 0xff) === 0x7f) return;
      throw new Error(`New stub thread ${tid} died before it started (status ${w.status})`);
    }
  }

  newThread(via: Context): Context {
    this.#flush();
    for (let spare = this.parked.pop(); spare !== undefined; spare = this.parked.pop()) {
      const start = this.platform.unpark(spare);
      // What a host clone would copy from the parent thread: the FPU/SSE/AVX state (the
      // general registers are the caller's to set, as for a fresh thread). The host thread's
      // signal mask, affinity and session are the stub's, the same for every thread.
      const ctx = this.platform.adopt(spare, this, start);
      try {
        ctx.setFpState(via.getFpState());
        return ctx;
      } catch (e) {
        // The parked thread was killed from outside the sentry: forget it, try the next.
        if (!(e instanceof ffi.HostError)) throw e;
        this.platform.forget(ctx as PtraceContext);
      }
    }
    // CLONE_PTRACE: the new thread is traced by us from its first instruction and starts in a
    // stop. The parent's clone event stop (see #clone) tells its host tid.
    const newTid = this.#clone(via as PtraceContext, CLONE_STUB_THREAD);
    if (newTid <= 0) throw new Error(`clone in the stub failed: errno ${-newTid}`);
    this.#adoptNew(newTid);
    this.platform.inheritPlacement(via, newTid);
    return this.platform.adopt(newTid, this);
  }

  /**
   * Fork must copy private memory, but a MAP_SHARED mapping of the memory file would be shared
   * by parent and child. Two ways, chosen per private region:
   * - Eager copy (small regions, EAGER_FORK_COPY_MAX in all per fork): while the parent is
   *   stopped, before the clone, the sentry copies the region's populated pages
   *   (SEEK_DATA/SEEK_HOLE: holes stay holes) into a fresh range; the child, stopped at birth
   *   and before any application code, maps its fresh ranges over the inherited ones in one
   *   batch. Both keep fast regions: a program that
   *   forks and then moves data (a pipe or socket benchmark, a server's worker) keeps memcpy.
   * - Conversion (the rest): before the clone the parent maps the region again MAP_PRIVATE at
   *   the same file offsets (one batch; the contents are the file's pages, kept), so the host
   *   copies pages on write in both processes; the region is "converted" in both, both hold a
   *   reference to the file range, and the sentry never writes those file pages again (copies
   *   use process_vm).
   * Shared regions (MAP_SHARED|MAP_ANONYMOUS) stay shared: one more reference each.
   */
  fork(via: Context): Context {
    this.#flush();
    // The child's mappings are the host's (inherited, or remapped with `prot`): none lags.
    this.catchUpProtection(via, -1, 0, Number.MAX_SAFE_INTEGER);
    const mf = this.#memoryFile();
    // The child's own copies (region → its new file offset), made while the parent is stopped.
    const copies = new Map<Region, number>();
    const convert: Region[] = [];
    let budget = EAGER_FORK_COPY_MAX;
    for (const r of this.regions.list) {
      if (r.kind !== "private" || mf === null) continue;
      const data = mf.dataExtents(r.off, r.off + (r.end - r.start));
      let n = 0;
      for (const d of data) n += d.end - d.start;
      // Withheld pages (userfaultfd, guard pages) stay the sentry's to decide: never converted.
      const off = n <= budget || r.withheld !== undefined ? mf.ranges.allocate(r.end - r.start) : -1;
      if (off < 0) {
        convert.push(r);
        continue;
      }
      if (r.withheld === undefined) budget -= n;
      for (const d of data) mf.move(off + (d.start - r.off), d.start, d.end - d.start);
      copies.set(r, off);
    }
    const dropCopies = () => {
      for (const [r, off] of copies) mf!.unref(off, off + (r.end - r.start));
    };
    if (convert.length > 0) {
      const entries = convert.map((r) => ({
        nr: SYS_mmap, args: [r.start, r.end - r.start, hostProtOf(r), MAP_PRIVATE | MAP_FIXED, this.memfdInStub, r.off], flags: 0,
      }));
      const r = this.#runEntries(via as PtraceContext, entries);
      for (const x of convert) x.kind = "converted";
      if (r < 0) {
        dropCopies();
        throw new Error(`Cannot make memory copy-on-write for fork: errno ${-r}`);
      }
    }
    // A copy of the whole stub: the host copies the pages on write, the kernel copies the VMAs.
    // Exit signal SIGCHLD, which every stub ignores: the host reaps the child as soon as the
    // sentry has collected its exit, however long its parent stub lives.
    // CLONE_PTRACE as in newThread: traced from birth (with EXITKILL, which the child inherits).
    const newTid = this.#clone(via as PtraceContext, CLONE_STUB_FORK);
    if (newTid <= 0) {
      dropCopies();
      throw new Error(`clone in the stub failed: errno ${-newTid}`);
    }
    this.#adoptNew(newTid);
    this.platform.inheritPlacement(via, newTid);
    const as = new StubAddressSpace(this.platform, newTid);
    as.listener = this.listener; // the filter is copied by fork
    as.memfdInStub = this.memfdInStub;
    const child = this.platform.adopt(newTid, as) as PtraceContext;
    const remap: BatchEntry[] = [];
    for (const r of this.regions.list) {
      const off = copies.get(r);
      if (off === undefined) {
        as.regions.list.push({ ...r });
        mf?.ranges.ref(r.off, r.off + (r.end - r.start));
        continue;
      }
      as.regions.list.push({ ...r, off });
      remap.push({ nr: SYS_mmap, args: [r.start, r.end - r.start, hostProtOf(r), MAP_SHARED | MAP_FIXED, this.memfdInStub, off], flags: 0 });
    }
    // The child is stopped at birth: it maps its copies before it runs any application code.
    if (remap.length > 0) {
      const r = as.#runEntries(child, remap);
      if (r < 0) {
        as.release();
        throw new Error(`Cannot give a forked stub its own memory: errno ${-r}`);
      }
    }
    return child;
  }

  /**
   * Ends one host thread of this stub (not the whole stub) by making it call exit. Does not
   * wait: the platform collects the exit with the other stops (see PtracePlatform.#dying).
   */
  exitThread(ctx: PtraceContext): void {
    const r = ctx.regs;
    r.set("rax", SYS_exit);
    r.set("orig_rax", -1);
    r.set("rdi", 0);
    r.set("rip", STUB_INJECT_ADDR);
    r.set("eflags", STUB_EFLAGS);
    r.set("cs", USER_CS);
    r.set("ss", USER_DS);
    ffi.ptraceBuf(ffi.PTRACE_SETREGS, ctx.tid, 0, r.bytes);
    ffi.ptrace(ffi.PTRACE_CONT, ctx.tid, 0, 0);
  }

  /**
   * Holds back the mapping operations (mapAnonymous, mapHostFile, protect, unmap) until
   * {@linkcode flushMappings}, to run them all in one batch on `via`. Each returns 0 at once.
   * Any other operation on the address space (read, write, inject, clone) runs the batch first.
   */
  deferMappings(via: Context): void {
    this.#flush();
    this.#deferred = { via: via as PtraceContext, entries: [], error: 0, openHostFd: -1 };
  }

  flushMappings(): number {
    this.#flush();
    const d = this.#deferred;
    this.#deferred = null;
    return d?.error ?? 0;
  }

  /** Runs what was deferred (if anything) and keeps its first error for flushMappings. */
  #flush(): void {
    const d = this.#deferred;
    if (d === null || d.entries.length === 0) return;
    const entries = d.entries;
    d.entries = [];
    d.openHostFd = -1;
    const r = this.#runEntries(d.via, entries);
    if (r < 0 && d.error === 0) d.error = r;
  }

  /** Queues (when deferring) or runs entries as one operation; returns 0 or the first -errno. */
  #mapOp(via: Context, entries: BatchEntry[], hostFd = -1): number {
    const d = this.#deferred;
    if (d !== null) {
      if (hostFd >= 0 && d.openHostFd === hostFd) {
        // The queue ends with [getfd(hostFd), mmap..., close]: add this mmap before the close.
        d.entries.splice(d.entries.length - 1, 0, entries[1]!);
      } else {
        d.entries.push(...entries);
      }
      d.openHostFd = hostFd;
      return 0;
    }
    return this.#runEntries(via as PtraceContext, entries);
  }

  /**
   * Runs entries in order: one injection for a single syscall, a batch (one round trip) for
   * more when every thread is stopped, else one injection each with the BATCH_* flags applied
   * here. Returns 0 or the first -errno (a close after a failed pidfd_getfd fails too; the
   * getfd's error comes first).
   */
  #runEntries(via: PtraceContext, entries: BatchEntry[]): number {
    if (entries.length > 1 && this.#allStopped()) return this.#runBatch(via, entries);
    let firstError = 0;
    let saved = 0;
    for (const e of entries) {
      const args = [...e.args];
      if (e.flags & BATCH_ARG0_SAVED) args[0] = saved;
      if (e.flags & BATCH_ARG4_SAVED) args[4] = saved;
      const r = this.#inject(via, e.nr, args, e.fetch);
      if (e.flags & BATCH_SAVE_RESULT) saved = r;
      if (r < 0 && firstError === 0) firstError = r;
    }
    return firstError;
  }

  /** The platform's memory file when this stub holds it, else null. */
  #memoryFile(): MemoryFile | null {
    return this.memfdInStub >= 0 ? this.platform.memoryFile : null;
  }

  /**
   * Anonymous memory is a fresh range of the memory file mapped MAP_SHARED (the same one
   * injected mmap as host anonymous memory would cost), so that the sentry copies into it with
   * memcpy. Very large mappings, and any when the file is full, stay host anonymous memory.
   */
  mapAnonymous(via: Context, addr: number, len: number, prot: Prot, shared: boolean, noReserve = false): number {
    const mf = this.#memoryFile();
    if (mf !== null && len <= MEMORY_FILE_MAX_MAPPING) {
      const kind = shared ? "shared" : "private";
      const off = this.#allocateFor(mf, addr, len, kind);
      if (off >= 0) {
        const flags = MAP_SHARED | MAP_FIXED;
        const r = this.#mapOp(via, [{ nr: SYS_mmap, args: [addr, len, prot, flags, this.memfdInStub, off], flags: 0 }]);
        if (r < 0) {
          // The host kept what was there (mmap fails before it unmaps): so do the regions.
          mf.unref(off, off + len);
          return r;
        }
        this.#releaseRegions(this.regions.cut(addr, addr + len));
        this.regions.add({ start: addr, end: addr + len, off, prot, kind });
        return 0;
      }
    }
    // The application's MAP_NORESERVE goes to the host: without it the host's overcommit check
    // refuses a large sparse mapping (100 GiB) that Linux grants the application.
    const flags = MAP_FIXED | MAP_ANONYMOUS | (shared ? MAP_SHARED : MAP_PRIVATE) | (noReserve ? MAP_NORESERVE : 0);
    const r = this.#mapOp(via, [{ nr: SYS_mmap, args: [addr, len, prot, flags, -1, 0], flags: 0 }]);
    if (r === 0) this.#releaseRegions(this.regions.cut(addr, addr + len));
    return r;
  }

  shareAnonymous(via: Context, addr: number, len: number, prot: Prot, source: AddressSpace, sourceAddr: number): number {
    const EINVAL = 22;
    const mf = this.#memoryFile();
    if (mf === null || !(source instanceof StubAddressSpace) || source.platform !== this.platform) return -EINVAL;
    const pieces = source.regions.within(sourceAddr, sourceAddr + len);
    let covered = 0;
    for (const p of pieces) {
      if (p.kind !== "shared") return -EINVAL;
      covered += p.end - p.start;
    }
    if (covered !== len) return -EINVAL;
    const at = (p: Region) => addr + (p.start - sourceAddr);
    for (const p of pieces) mf.ranges.ref(p.off, p.off + (p.end - p.start));
    const r = this.#mapOp(via, pieces.map((p) => ({
      nr: SYS_mmap, args: [at(p), p.end - p.start, prot, MAP_SHARED | MAP_FIXED, this.memfdInStub, p.off], flags: 0,
    })));
    if (r < 0) {
      for (const p of pieces) mf.unref(p.off, p.off + (p.end - p.start));
      return r;
    }
    this.#releaseRegions(this.regions.cut(addr, addr + len));
    for (const p of pieces) this.regions.add({ start: at(p), end: at(p) + (p.end - p.start), off: p.off, prot, kind: "shared" });
    return 0;
  }

  /**
   * A range of the memory file mapped MAP_PRIVATE: a "converted" region, as fork leaves one, so
   * the host copies a page on its first write in this address space and the file's pages stay
   * what every other mapping of them reads (the sentry never writes them again).
   */
  mapCopyOnWrite(via: Context, addr: number, len: number, prot: Prot, mem: CowMemory, offset: number): number {
    const EINVAL = 22;
    const mf = this.#memoryFile();
    if (
      mf === null || !(mem instanceof FileCowMemory) || mem.file !== mf || mem.released ||
      offset < 0 || offset % PAGE !== 0 || len <= 0 || len % PAGE !== 0 || offset + len > mem.length
    ) {
      return -EINVAL;
    }
    const off = mem.offset + offset;
    mf.ranges.ref(off, off + len);
    const r = this.#mapOp(via, [{ nr: SYS_mmap, args: [addr, len, prot, MAP_PRIVATE | MAP_FIXED, this.memfdInStub, off], flags: 0 }]);
    if (r < 0) {
      mf.unref(off, off + len);
      return r;
    }
    this.#releaseRegions(this.regions.cut(addr, addr + len));
    this.regions.add({ start: addr, end: addr + len, off, prot, kind: "converted" });
    return 0;
  }

  /**
   * File offsets for a new mapping: right after those of the private region that ends at addr
   * when they are free (a growing heap stays one region and one host VMA), else the lowest free.
   */
  #allocateFor(mf: MemoryFile, addr: number, len: number, kind: string): number {
    if (kind === "private") {
      const prev = this.regions.list[this.regions.indexFrom(addr - 1)];
      if (prev !== undefined && prev.end === addr && prev.kind === "private") {
        const off = prev.off + (prev.end - prev.start);
        if (mf.ranges.allocateAt(off, len)) return off;
      }
    }
    return mf.ranges.allocate(len);
  }

  /** This address space no longer maps these regions: their file pages lose a reference. */
  #releaseRegions(rs: Region[]): void {
    if (rs.length === 0) return;
    const mf = this.platform.memoryFile;
    if (mf === null) return;
    for (const r of rs) {
      const end = r.off + (r.end - r.start);
      const kept = r.kind === "shared" ? this.#sharedTails.get(end) : undefined;
      if (
        r.kind === "shared" &&
        this.regions.list.some((x) => x.kind === "shared" && x.end === r.start && x.off + (x.end - x.start) === r.off)
      ) {
        // The end of a shared mapping whose front stays (munmap or mremap of its tail): the
        // object keeps the pages, and a later growth of the front finds them. (The front is
        // told by address and file offset both: the platform does not know objects.)
        if (kept !== undefined) this.#sharedTails.delete(end);
        this.#sharedTails.set(r.off, kept ?? end);
        continue;
      }
      mf.unref(r.off, end);
      // The pages a shrink left to the object go with the mapping they followed.
      if (kept !== undefined) {
        this.#sharedTails.delete(end);
        mf.unref(end, kept);
      }
    }
  }

  mapHostFile(
    via: Context,
    o: { addr: number; len: number; prot: Prot; shared: boolean; hostFd: number; offset: number },
  ): number {
    // Bring the sentry's descriptor into the stub just for the mmap, then close it there: the
    // application never holds a host file descriptor between syscalls. The three syscalls run
    // as one batch (one round trip) when they can; the fd is passed along inside the stub.
    const flags = MAP_FIXED | (o.shared ? MAP_SHARED : MAP_PRIVATE);
    const r = this.#mapOp(via, [
      { nr: SYS_fetch_fd, args: [-1, o.hostFd], flags: BATCH_SAVE_RESULT, fetch: o.hostFd },
      { nr: SYS_mmap, args: [o.addr, o.len, o.prot, flags, -1, o.offset], flags: BATCH_ARG4_SAVED },
      { nr: SYS_close, args: [-1], flags: BATCH_ARG0_SAVED },
    ], o.hostFd);
    if (r === 0) this.#releaseRegions(this.regions.cut(o.addr, o.addr + o.len));
    return r;
  }

  /** munmap; the file pages of memory-file regions are punched once no address space maps them. */
  unmap(via: Context, addr: number, len: number): number {
    const r = this.#mapOp(via, [{ nr: SYS_munmap, args: [addr, len], flags: 0 }]);
    if (r === 0) this.#releaseRegions(this.regions.cut(addr, addr + len));
    return r;
  }

  /**
   * mprotect. Over memory-file regions (not converted ones) where the host's protection already
   * allows no more than `prot` (rights are only added, or the host still lags behind an earlier
   * such call) nothing is injected: the host mapping keeps its lower protection (`hostProt`),
   * the sentry's copies go by `prot`, and the application's first access the host refuses is a
   * fault the kernel hands to {@linkcode catchUpProtection}. A program that flips a page
   * between read-only and read-write (LTP's signal06 does in a loop, while signals are
   * delivered on it) then pays one stop per mprotect instead of a round trip into its stub as
   * well. Anything else (taking a right away from the host, other memory) is injected.
   */
  protect(via: Context, addr: number, len: number, prot: Prot): number {
    const end = addr + len;
    const pieces = this.regions.within(addr, end);
    let covered = addr;
    for (const p of pieces) {
      if (p.start !== covered || p.kind === "converted" || ((p.hostProt ?? p.prot) & ~prot) !== 0) break;
      covered = p.end;
    }
    if (covered === end && len > 0) {
      for (const p of this.regions.cut(addr, end)) {
        const host = p.hostProt ?? p.prot;
        const r: Region = { ...p, prot };
        if (host !== prot) r.hostProt = host;
        else delete r.hostProt;
        this.regions.add(r);
      }
      return 0;
    }
    const entries: BatchEntry[] = [{ nr: SYS_mprotect, args: [addr, len, prot], flags: 0 }];
    // Pages whose rights the kernel withholds stay without them.
    for (const p of pieces) {
      if (p.withheld !== undefined) entries.push({ nr: SYS_mprotect, args: [p.start, p.end - p.start, prot & ~(p.withheld & 7)], flags: 0 });
    }
    const r = this.#mapOp(via, entries);
    if (r === 0) {
      for (const p of this.regions.cut(addr, end)) {
        const q: Region = { ...p, prot };
        delete q.hostProt;
        this.regions.add(q);
      }
    }
    return r;
  }

  /**
   * The application faulted (SEGV_ACCERR) at addr: when the host's protection there lags behind
   * the application's ({@linkcode protect}), the lagging ranges in [start, end) (all of them
   * when no range is given: before a fork or mremap, which copy or move host mappings) are
   * brought up to it. Returns true when addr was in one: the access is to be tried again.
   */
  catchUpProtection(via: Context, addr: number, start = addr, end = addr + 1): boolean {
    let hit = false;
    const l = this.regions.list;
    for (let i = this.regions.indexFrom(start); i < l.length && l[i]!.start < end; i++) {
      const r = l[i]!;
      if (r.hostProt === undefined) continue;
      const to = r.prot & ~((r.withheld ?? 0) & 7);
      if (this.#mapOp(via, [{ nr: SYS_mprotect, args: [r.start, r.end - r.start, to], flags: 0 }]) < 0) continue;
      delete r.hostProt;
      if (addr >= r.start && addr < r.end) hit = true;
    }
    return hit;
  }

  /**
   * Withholds `rights` (PROT_* bits; 0: none) from the host mapping of [start, end), whatever
   * the application's protection, so that its accesses there fault to the sentry (userfaultfd,
   * guard pages). The range must be memory-file memory of this address space alone or shared
   * anonymous memory ({@linkcode ownMemory}); else -EINVAL. The sentry's own copies go by the
   * application's protection as before. Returns 0 or -errno.
   */
  setWithheld(via: Context, start: number, end: number, rights: number): number {
    const EINVAL = 22;
    this.#flush();
    let covered = start;
    for (const p of this.regions.within(start, end)) {
      if (p.start !== covered || p.kind === "converted") return -EINVAL;
      covered = p.end;
    }
    if (covered !== end) return -EINVAL;
    const entries: BatchEntry[] = [];
    for (const p of this.regions.cut(start, end)) {
      const before = hostProtOf(p);
      const q: Region = { ...p };
      delete q.hostProt;
      if (rights !== 0) q.withheld = rights;
      else delete q.withheld;
      const after = hostProtOf(q);
      if (before !== after) {
        const last = entries.at(-1);
        if (last !== undefined && last.args[0]! + last.args[1]! === p.start && last.args[2] === after) last.args[1]! += p.end - p.start;
        else entries.push({ nr: SYS_mprotect, args: [p.start, p.end - p.start, after], flags: 0 });
      }
      this.regions.add(q);
    }
    return entries.length === 0 ? 0 : this.#runEntries(via as PtraceContext, entries);
  }

  /** The rights withheld at addr ({@linkcode setWithheld}); 0 outside the memory file. */
  withheldAt(addr: number): number {
    const r = this.regions.list[this.regions.indexFrom(addr)];
    return r !== undefined && r.start <= addr ? r.withheld ?? 0 : 0;
  }

  /**
   * Makes [start, end) (anonymous memory, `prot` the application's) memory-file memory of this
   * address space alone, as {@linkcode setWithheld} needs: host anonymous memory and regions
   * copied on write since a fork get a fresh range of the file holding their populated pages
   * (pages never touched stay holes, so a userfaultfd still sees them missing). Shared
   * anonymous memory outside the file cannot be moved without unsharing it: -EINVAL.
   */
  ownMemory(via: Context, start: number, end: number, prot: Prot, shared: boolean): number {
    const EINVAL = 22;
    this.#flush();
    const mf = this.#memoryFile();
    if (mf === null) return -EINVAL;
    const todo: Array<[number, number]> = [];
    const need = (s: number, e: number) => {
      if (s >= e) return;
      const last = todo.at(-1);
      if (last !== undefined && last[1] === s) last[1] = e;
      else todo.push([s, e]);
    };
    let cur = start;
    for (const p of this.regions.within(start, end)) {
      need(cur, p.start);
      if (p.kind === "converted") need(p.start, p.end);
      cur = p.end;
    }
    need(cur, end);
    if (todo.length > 0 && shared) return -EINVAL;
    for (const [s, e] of todo) {
      this.catchUpProtection(via, -1, s, e);
      const data = this.populated(s, e) ?? [[s, e]];
      const off = mf.ranges.allocate(e - s);
      if (off < 0) return -ENOMEM;
      for (const [a0, b0] of data) {
        const a = Math.max(a0, s), b = Math.min(b0, e);
        if (a < b && this.#copyToFile(a, b - a, off + (a - s)) !== b - a) {
          mf.unref(off, off + (e - s));
          return -ENOMEM;
        }
      }
      const r = this.#runEntries(via as PtraceContext, [
        { nr: SYS_mmap, args: [s, e - s, prot, MAP_SHARED | MAP_FIXED, this.memfdInStub, off], flags: 0 },
      ]);
      if (r < 0) {
        mf.unref(off, off + (e - s));
        return r;
      }
      this.#releaseRegions(this.regions.cut(s, e));
      this.regions.add({ start: s, end: e, off, prot, kind: "private" });
    }
    return 0;
  }

  /**
   * Faults in the pages of [start, end) as mlock and MAP_POPULATE do, so that mincore and
   * /proc/PID/pagemap see them resident: holes of memory-file regions get zero pages (their
   * contents anyway), other memory is populated by the host (MADV_POPULATE_READ, injected;
   * a page that cannot be read is left alone). Returns 0 or the first -errno.
   */
  populate(via: Context, start: number, end: number): number {
    this.#flush();
    const mf = this.#memoryFile();
    const entries: BatchEntry[] = [];
    const host = (s: number, e: number) => {
      if (s < e) entries.push({ nr: SYS_madvise, args: [s, e - s, MADV_POPULATE_READ], flags: 0 });
    };
    let cur = start;
    for (const p of this.regions.within(start, end)) {
      host(cur, p.start);
      cur = p.end;
      if (p.kind === "converted" || mf === null) {
        host(p.start, p.end);
        continue;
      }
      const len = p.end - p.start;
      let at = p.off;
      const zeros = (n: number) => {
        for (let done = 0; done < n;) {
          const k = Math.min(n - done, ZERO_CHUNK.length);
          mf.write(at + done, ZERO_CHUNK.subarray(0, k));
          done += k;
        }
      };
      for (const d of mf.dataExtents(p.off, p.off + len)) {
        if (d.start > at) zeros(d.start - at);
        at = d.end;
      }
      if (at < p.off + len) zeros(p.off + len - at);
    }
    host(cur, end);
    return entries.length === 0 ? 0 : this.#runEntries(via as PtraceContext, entries);
  }

  /**
   * madvise(MADV_DONTNEED). Host memory: injected. Private memory-file regions: their pages are
   * punched out of the file by the sentry (every mapping then reads zeros), no injection.
   * Converted regions (after a fork) would read the file's pages again: they get a fresh range
   * mapped over them (zeros, and fast again). Shared memory keeps its contents, as on Linux.
   */
  discard(via: Context, addr: number, len: number): number {
    const end = addr + len;
    this.catchUpProtection(via, -1, addr, end); // fresh ranges are mapped with `prot`
    const pieces = this.regions.within(addr, end);
    if (pieces.length === 0) return this.inject(via, SYS_madvise, [addr, len, MADV_DONTNEED]);
    this.#flush();
    const mf = this.platform.memoryFile!;
    const entries: BatchEntry[] = [];
    const fresh: Region[] = [];
    let cur = addr;
    for (const p of pieces) {
      if (p.start > cur) entries.push({ nr: SYS_madvise, args: [cur, p.start - cur, MADV_DONTNEED], flags: 0 });
      cur = p.end;
      const n = p.end - p.start;
      if (p.kind === "shared") continue;
      if (p.kind === "private" && mf.ranges.refs(p.off, p.off + n) <= 1) {
        mf.punch({ start: p.off, end: p.off + n });
        continue;
      }
      const off = mf.ranges.allocate(n);
      if (off >= 0) {
        const args = [p.start, n, hostProtOf(p), MAP_SHARED | MAP_FIXED, this.memfdInStub, off];
        entries.push({ nr: SYS_mmap, args, flags: 0 });
        fresh.push({ ...p, off, kind: "private" });
      } else {
        const args = [p.start, n, p.prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0];
        entries.push({ nr: SYS_mmap, args, flags: 0 });
        fresh.push({ ...p, off: -1 });
      }
    }
    if (cur < end) entries.push({ nr: SYS_madvise, args: [cur, end - cur, MADV_DONTNEED], flags: 0 });
    const r = entries.length === 0 ? 0 : this.#runEntries(via as PtraceContext, entries);
    for (const f of fresh) {
      this.#releaseRegions(this.regions.cut(f.start, f.end));
      if (f.off >= 0) this.regions.add(f);
    }
    return r;
  }

  /**
   * mremap. A memory-file region must keep one contiguous file range (one host VMA that a later
   * mremap can move): it grows in place in the file when the offsets after it are free (the
   * injected mremap then maps them); otherwise its contents are copied into a new range, mapped
   * at the destination, and the old mapping is removed (one round trip either way).
   */
  remap(via: Context, o: { addr: number; oldLen: number; newLen: number; flags: number; newAddr: number }): number {
    this.catchUpProtection(via, -1, o.addr, o.addr + o.oldLen); // moved or copied with `prot`
    const args = [o.addr, o.oldLen, o.newLen, o.flags, o.newAddr];
    const pieces = this.regions.within(o.addr, o.addr + o.oldLen);
    if (pieces.length === 0) return this.inject(via, SYS_mremap, args);
    const mf = this.platform.memoryFile!;
    if (o.newLen <= o.oldLen) {
      const r = this.inject(via, SYS_mremap, args);
      if (r < 0) return r;
      const keepEnd = o.addr + o.newLen;
      const moved = this.regions.cut(o.addr, o.addr + o.oldLen);
      for (const p of moved) {
        if (p.end > keepEnd) {
          const s = Math.max(p.start, keepEnd);
          const tailStart = p.off + (s - p.start), tailEnd = p.off + (p.end - p.start);
          if (p.kind === "shared" && s > p.start) {
            // The object keeps the pages: a later growth finds them (see #sharedTails).
            const further = this.#sharedTails.get(tailEnd);
            if (further !== undefined) this.#sharedTails.delete(tailEnd);
            this.#sharedTails.set(tailStart, further ?? tailEnd);
          } else {
            mf.unref(tailStart, tailEnd);
            const further = p.kind === "shared" ? this.#sharedTails.get(tailEnd) : undefined;
            if (further !== undefined) {
              this.#sharedTails.delete(tailEnd);
              mf.unref(tailEnd, further);
            }
          }
          if (s === p.start) continue;
          p.end = s;
        }
        this.regions.add({ ...p, start: p.start - o.addr + r, end: p.end - o.addr + r });
      }
      return r;
    }
    const whole = pieces.length === 1 && pieces[0]!.start === o.addr && pieces[0]!.end === o.addr + o.oldLen
      ? pieces[0]!
      : null;
    if (whole !== null && whole.kind === "shared") {
      // MAP_SHARED|MAP_ANONYMOUS memory keeps its object's size, as Linux's shmem file: the
      // mapping moves as it is (still shared with every process that maps it; a copy ended
      // that) and its new tail maps the memory file past its end, where a touch is SIGBUS and
      // a syscall's copy EFAULT (no region: the sentry copies there with process_vm).
      const entries: BatchEntry[] = [];
      const dest = (o.flags & MREMAP_FIXED) ? o.newAddr : o.addr;
      if (dest !== o.addr) {
        entries.push({ nr: SYS_mremap, args: [o.addr, o.oldLen, o.oldLen, MREMAP_MAYMOVE | MREMAP_FIXED, dest], flags: 0 });
      }
      // Pages the object kept past the mapping's end (an earlier shrink) come back first.
      const objEnd = whole.off + o.oldLen;
      const keptEnd = this.#sharedTails.get(objEnd);
      const kept = keptEnd === undefined ? 0 : Math.min(keptEnd - objEnd, o.newLen - o.oldLen);
      if (kept > 0) {
        const back = [dest + o.oldLen, kept, whole.prot, MAP_SHARED | MAP_FIXED, this.memfdInStub, objEnd];
        entries.push({ nr: SYS_mmap, args: back, flags: 0 });
      }
      const past = o.newLen - o.oldLen - kept;
      if (past > 0) {
        const tail = [dest + o.oldLen + kept, past, whole.prot, MAP_SHARED | MAP_FIXED, this.memfdInStub, mf.size];
        entries.push({ nr: SYS_mmap, args: tail, flags: 0 });
      }
      this.#flush();
      const r = this.#runEntries(via as PtraceContext, entries);
      if (r < 0) return r;
      if (kept > 0) {
        this.#sharedTails.delete(objEnd);
        if (objEnd + kept < keptEnd!) this.#sharedTails.set(objEnd + kept, keptEnd!);
      }
      this.regions.cut(o.addr, o.addr + o.oldLen);
      this.regions.add({ ...whole, start: dest, end: dest + o.oldLen + kept });
      return dest;
    }
    if (whole !== null && whole.kind !== "converted" && mf.ranges.allocateAt(whole.off + o.oldLen, o.newLen - o.oldLen)) {
      const r = this.inject(via, SYS_mremap, args);
      if (r < 0) {
        mf.unref(whole.off + o.oldLen, whole.off + o.newLen);
        return r;
      }
      this.regions.cut(o.addr, o.addr + o.oldLen);
      this.regions.add({ ...whole, start: r, end: r + o.newLen });
      return r;
    }
    const dest = (o.flags & MREMAP_FIXED) ? o.newAddr : o.addr;
    const off = o.newLen <= MEMORY_FILE_MAX_MAPPING ? mf.ranges.allocate(o.newLen) : -1;
    if (off < 0) {
      // The memory file cannot take it: move the old mapping as it is and add host memory
      // after it (never an mremap that would map file offsets nobody allocated to it).
      const prot = pieces[0]!.prot;
      const entries: BatchEntry[] = [];
      if (dest !== o.addr) {
        entries.push({ nr: SYS_mremap, args: [o.addr, o.oldLen, o.oldLen, MREMAP_MAYMOVE | MREMAP_FIXED, dest], flags: 0 });
      }
      const tail = [dest + o.oldLen, o.newLen - o.oldLen, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0];
      entries.push({ nr: SYS_mmap, args: tail, flags: 0 });
      this.#flush();
      const r = this.#runEntries(via as PtraceContext, entries);
      if (r < 0) return r;
      for (const p of this.regions.cut(o.addr, o.addr + o.oldLen)) {
        this.regions.add({ ...p, start: p.start - o.addr + dest, end: p.end - o.addr + dest });
      }
      return dest;
    }
    // Copy what the old mapping holds (whatever its protection) into the new range first.
    if (this.#copyToFile(o.addr, o.oldLen, off) !== o.oldLen) {
      mf.unref(off, off + o.newLen);
      return -ENOMEM;
    }
    const prot = pieces[0]!.prot;
    const entries: BatchEntry[] = [
      { nr: SYS_mmap, args: [dest, o.newLen, prot, MAP_SHARED | MAP_FIXED, this.memfdInStub, off], flags: 0 },
    ];
    if (dest !== o.addr) entries.push({ nr: SYS_munmap, args: [o.addr, o.oldLen], flags: 0 });
    const r = this.#runEntries(via as PtraceContext, entries);
    if (r < 0) {
      mf.unref(off, off + o.newLen);
      return r;
    }
    this.#releaseRegions(this.regions.cut(o.addr, o.addr + o.oldLen));
    this.#releaseRegions(this.regions.cut(dest, dest + o.newLen));
    this.regions.add({ start: dest, end: dest + o.newLen, off, prot, kind: whole?.kind === "shared" ? "shared" : "private" });
    return dest;
  }

  /**
   * Copies len bytes of application memory at addr, whatever their protection, into the memory
   * file at fileOff (for mremap's copy): within the file where they lie in regions the sentry
   * may read, else by process_vm_readv straight into its mapping of the file, else through
   * /proc/PID/mem (FOLL_FORCE). Returns the bytes copied.
   */
  #copyToFile(addr: number, len: number, fileOff: number): number {
    const mf = this.platform.memoryFile!;
    let done = 0;
    const l = this.regions.list;
    for (let i = this.regions.indexFrom(addr); done < len; i++) {
      const r = l[i];
      const a = addr + done;
      if (r === undefined || r.start > a || r.kind === "converted") break;
      const n = Math.min(len - done, r.end - a);
      mf.move(fileOff + done, r.off + (a - r.start), n);
      done += n;
    }
    if (done < len) {
      const r = ffi.vmReadToRaw(this.pid, addr + done, mf.base + fileOff + done, len - done);
      if (r > 0) done += r;
    }
    if (done < len) {
      try {
        using f = Deno.openSync(`/proc/${this.pid}/mem`, { read: true });
        f.seekSync(addr + done, Deno.SeekMode.Start);
        const buf = new Uint8Array(Math.min(len - done, 1 << 20));
        while (done < len) {
          const n = f.readSync(buf.subarray(0, Math.min(buf.length, len - done)));
          if (n === null || n <= 0) break;
          mf.write(fileOff + done, buf.subarray(0, n));
          done += n;
        }
      } catch { /* unreadable: short */ }
    }
    return done;
  }

  /**
   * Copies between buf and application memory at addr through the sentry's view of the memory
   * file, as long as the bytes lie in regions it may touch (private or shared, not converted)
   * whose protection allows the access (unless `force`). Returns the bytes copied; when short,
   * it stopped either at bytes outside those regions (the caller goes on with process_vm) or at
   * a protection ({@linkcode #deniedAt}: the copy ends there, as process_vm's would).
   */
  #copyFast(addr: number, buf: Uint8Array, write: boolean, force: boolean): number {
    const l = this.regions.list;
    if (l.length === 0) return 0;
    const mf = this.platform.memoryFile!;
    const need = write ? PROT_WRITE : PROT_READ;
    const len = buf.length;
    let i = this.regions.indexFrom(addr);
    let done = 0;
    while (done < len) {
      const r = l[i++];
      const a = addr + done;
      if (r === undefined || r.start > a || r.kind === "converted") return done;
      if (!force && (r.prot & need) === 0) return done;
      if (r.withheld !== undefined && (r.withheld & WITHHOLD_COPIES)) return done;
      const n = Math.min(len - done, r.end - a);
      const o = r.off + (a - r.start);
      const part = n === len ? buf : buf.subarray(done, done + n);
      if (write) mf.write(o, part);
      else mf.read(o, part);
      done += n;
    }
    return done;
  }

  /** True if addr lies in a fast region whose protection refuses the access (where #copyFast stops for good). */
  #deniedAt(addr: number, write: boolean, force: boolean): boolean {
    const r = this.regions.list[this.regions.indexFrom(addr)];
    if (r === undefined || r.start > addr || r.kind === "converted") return false;
    if (r.withheld !== undefined && (r.withheld & WITHHOLD_COPIES)) return true;
    return !force && (r.prot & (write ? PROT_WRITE : PROT_READ)) === 0;
  }

  /**
   * VmHWM of /proc/PID/status, which stays open from the first call until release: a vfork
   * child's execve reads its parent's stub every time (a shell's every command), and a pread of
   * an open /proc file costs a fraction of opening it again.
   */
  peakRssKb(): number {
    return this.#statusKb(/^VmHWM:\s+(\d+) kB/m);
  }

  rssKb(): number {
    return this.#statusKb(/^VmRSS:\s+(\d+) kB/m);
  }

  anonRssKb(): number {
    return this.#statusKb(/^RssAnon:\s+(\d+) kB/m);
  }

  /** A field in kB of the stub's /proc/PID/status, or 0. */
  #statusKb(field: RegExp): number {
    if (this.#statusFd < 0) {
      const fd = ffi.hostOpen(`/proc/${this.pid}/status`, ffi.O_RDONLY | ffi.O_CLOEXEC);
      if (fd < 0) return 0;
      this.#statusFd = fd;
    }
    const n = ffi.hostPread(this.#statusFd, statusText, 0);
    if (n <= 0) return 0;
    const m = field.exec(textDecoder.decode(statusText.subarray(0, n)));
    return m ? Number(m[1]) : 0;
  }

  /**
   * Of [start, end), mapped privately from a host file, the ranges the stub holds its own copies
   * of (see AddressSpace.fileCopies): the host's page tables tell which pages are anonymous.
   * null where the memory file lies in the range (its pages are no host file's) or the host
   * cannot tell.
   */
  fileCopies(start: number, end: number): Array<[number, number]> | null {
    this.#flush();
    if (this.regions.within(start, end).length > 0) return null;
    return ffi.hostPopulatedRanges(this.pid, start, end, true);
  }

  /** A memcpy from the memory file where the range lies in its fast regions, else process_vm_readv. */
  populated(start: number, end: number): Array<[number, number]> | null {
    this.#flush();
    const mf = this.platform.memoryFile;
    const out: Array<[number, number]> = [];
    // Host memory (not the memory file's): the host's page tables tell.
    const host = (s: number, e: number): boolean => {
      if (s >= e) return true;
      const r = ffi.hostPopulatedRanges(this.pid, s, e);
      if (r === null) return false;
      out.push(...r);
      return true;
    };
    let cur = start;
    for (const p of this.regions.within(start, end)) {
      if (!host(cur, p.start)) return null;
      const fileRuns: Array<[number, number]> = mf === null
        ? [[p.start, p.end]]
        : mf.dataExtents(p.off, p.off + (p.end - p.start)).map((d) => [p.start + (d.start - p.off), p.start + (d.end - p.off)]);
      if (p.kind === "converted") {
        // A private mapping of the file: the file's pages, and the stub's own copies of them.
        const mine = ffi.hostPopulatedRanges(this.pid, p.start, p.end);
        if (mine === null) return null;
        out.push(...mergeRanges([...fileRuns, ...mine]));
      } else {
        out.push(...fileRuns);
      }
      cur = p.end;
    }
    if (!host(cur, end)) return null;
    return mergeRanges(out);
  }

  read(addr: number, dst: Uint8Array): number {
    this.#flush();
    if (addr < 0 || addr + dst.length > TASK_SIZE) return 0;
    return this.#copy(addr, dst, false, false);
  }

  /** A memcpy into the memory file where the range lies in its fast regions, else process_vm_writev. */
  write(addr: number, src: Uint8Array): number {
    this.#flush();
    if (addr < 0 || addr + src.length > TASK_SIZE) return 0;
    return this.#copy(addr, src, true, false);
  }

  /**
   * Copies piece by piece: memcpy through the memory file over fast regions, process_vm over
   * the bytes between them (a static buffer often starts in the last page of a program's data
   * segment, a private file mapping, and goes on in its anonymous bss). Short at the first
   * inaccessible byte.
   */
  #copy(addr: number, buf: Uint8Array, write: boolean, force: boolean): number {
    const len = buf.length;
    let done = 0;
    for (;;) {
      done += this.#copyFast(addr + done, done === 0 ? buf : buf.subarray(done), write, force);
      if (done === len || this.#deniedAt(addr + done, write, force)) return done;
      const a = addr + done;
      const k = Math.min(len - done, this.#nextFast(a) - a);
      const part = done === 0 && k === len ? buf : buf.subarray(done, done + k);
      const r = write ? ffi.vmWrite(this.pid, a, part) : ffi.vmRead(this.pid, a, part);
      if (r > 0) done += r;
      if (r < k) return done;
      if (done === len) return done;
    }
  }

  /** Where the next region at or after addr starts that the sentry copies through (or +inf). */
  #nextFast(addr: number): number {
    const l = this.regions.list;
    for (let i = this.regions.indexFrom(addr); i < l.length; i++) {
      const r = l[i]!;
      if (r.kind !== "converted") return Math.max(r.start, addr + 1);
    }
    return Infinity;
  }

  /**
   * Atomic: a lock cmpxchg through the sentry's view of the memory file where the word lies in
   * a region the sentry copies through (private and shared anonymous memory: the heap, the bss,
   * small stacks), else one the stopped thread `via` runs in the stub (host anonymous memory of
   * large mappings such as the main stack, pages copied on write after a fork, file mappings);
   * a fault there is null. Only when `via` is running (a group's exit walking robust lists) is
   * the word read, compared and written, which the application could race with.
   */
  compareExchange32(via: Context, addr: number, expected: number, replacement: number): number | null {
    this.#flush();
    if (addr < 0 || addr % 4 !== 0 || addr + 4 > TASK_SIZE) return null;
    const r = this.regions.list[this.regions.indexFrom(addr)];
    if (r !== undefined && r.start <= addr && r.kind !== "converted") {
      if ((r.prot & (PROT_READ | PROT_WRITE)) !== (PROT_READ | PROT_WRITE)) return null;
      return this.platform.memoryFile!.compareExchange32(r.off + (addr - r.start), expected, replacement);
    }
    const ctx = via as PtraceContext;
    if (!ctx.running && ctx.addressSpace === this) {
      // Only the stub maps the page: its stopped thread runs the cmpxchg (stub_elf.ts).
      const found = this.#runStub(ctx, (regs) => {
        regs.set("rdi", addr);
        regs.set("rsi", expected >>> 0);
        regs.set("rdx", replacement >>> 0);
        regs.set("rip", STUB_CAS_ADDR);
      }, STUB_CAS_TRAP_ADDR, "a futex cmpxchg", [], STUB_CAS_INSN_ADDR);
      return Number.isNaN(found) ? null : found >>> 0;
    }
    const word = new Uint8Array(4);
    const view = new DataView(word.buffer);
    if (this.#copy(addr, word, false, false) !== 4) return null;
    const found = view.getUint32(0, true);
    if (found !== expected >>> 0) return found;
    view.setUint32(0, replacement >>> 0, true);
    return this.#copy(addr, word, true, false) === 4 ? found : null;
  }

  forceWrite(addr: number, src: Uint8Array): number {
    this.#flush();
    if (addr < 0 || addr + src.length > TASK_SIZE) return 0;
    const done = this.#copy(addr, src, true, true);
    if (done === src.length) return done;
    // /proc/PID/mem writes with FOLL_FORCE, like ptrace's POKEDATA.
    using f = Deno.openSync(`/proc/${this.pid}/mem`, { write: true });
    f.seekSync(addr + done, Deno.SeekMode.Start);
    return done + f.writeSync(src.subarray(done));
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.#deferred = null;
    if (this.#statusFd >= 0) ffi.hostClose(this.#statusFd);
    this.#statusFd = -1;
    this.platform.releaseStub(this);
    // After the kill: the pages go back (and may go to another address space) once this stub
    // can no longer run application code.
    this.#releaseRegions(this.regions.list);
    this.regions.list = [];
    const mf = this.platform.memoryFile;
    for (const [start, end] of this.#sharedTails) mf?.unref(start, end);
    this.#sharedTails.clear();
  }

  releaseAndReap(): HostUsage {
    const u = this.platform.reapStub(this);
    return { userNs: u.userNs, sysNs: u.sysNs, maxRssKb: u.maxRssKb };
  }
}

const ARG_REGS = ["rdi", "rsi", "rdx", "r10", "r8", "r9"] as const;
const SIGSYS = 31, SYS_SECCOMP = 1;

/** Whether addr is one of the vsyscall page's three entries (time, gettimeofday, getcpu). */
function isVsyscallEntry(addr: bigint): boolean {
  return addr === 0xffff_ffff_ff60_0000n || addr === 0xffff_ffff_ff60_0400n || addr === 0xffff_ffff_ff60_0800n;
}

/** Room for /proc/PID/status (about 1.5 KiB on Linux 6). */
const statusText = new Uint8Array(8192);
const textDecoder = new TextDecoder();

// The seccomp listener's ioctls (linux/seccomp.h): _IOWR('!', 0, struct seccomp_notif),
// _IOWR('!', 1, struct seccomp_notif_resp), _IOW('!', 3, struct seccomp_notif_addfd).
const SECCOMP_IOCTL_NOTIF_RECV = 0xc0502100;
const SECCOMP_IOCTL_NOTIF_SEND = 0xc0182101;
const SECCOMP_IOCTL_NOTIF_ADDFD = 0x40182103;
const ENOENT = 2;
const notifBuf = new Uint8Array(80);
const notifView = new DataView(notifBuf.buffer);
const respBuf = new Uint8Array(24);
const respView = new DataView(respBuf.buffer);
const addfdBuf = new Uint8Array(24);
const addfdView = new DataView(addfdBuf.buffer);

/** PTRACE_GETEVENTMSG's answer (an unsigned long). */
const eventMsg = new BigUint64Array(1);
const eventMsgBytes = new Uint8Array(eventMsg.buffer);

/** The batch table as written into a stub's data page (reused: one batch runs at a time). */
const batchTable = new Uint8Array(BATCH_MAX_ENTRIES * BATCH_ENTRY_SIZE);
const batchView = new DataView(batchTable.buffer);

/** Stores a number (negative as two's complement) as a little-endian quadword of batchTable. */
function setQword(off: number, v: number): void {
  batchView.setUint32(off, v >>> 0, true);
  batchView.setInt32(off + 4, Math.floor(v / 0x1_0000_0000), true);
}
/**
 * At fork, private memory-file regions whose populated pages total at most this much are
 * copied for the child at once (both keep memcpy copies); larger ones become copy-on-write
 * (see StubAddressSpace.fork).
 */
const EAGER_FORK_COPY_MAX = 8 << 20;

const RLIMIT_CORE = 4;
const PR_CAPBSET_DROP = 24;
const PR_SET_NO_NEW_PRIVS = 38;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_CLEAR_ALL = 4;
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
const SECCOMP_SET_MODE_FILTER = 1;
const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;
const CLONE_NEWNS = 0x20000, CLONE_NEWCGROUP = 0x2000000, CLONE_NEWUTS = 0x4000000, CLONE_NEWIPC = 0x8000000;
const CLONE_NEWUSER = 0x10000000, CLONE_NEWPID = 0x20000000, CLONE_NEWNET = 0x40000000;
const STUB_NAMESPACES = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
const STUB_NAMESPACE_NAMES = ["mnt", "pid", "net", "ipc", "uts", "cgroup"];
/** The namespaces a zygote asks for, best first (see PtracePlatform.#confine). */
const NAMESPACE_CHOICES: [number, string[]][] = [
  [CLONE_NEWUSER | STUB_NAMESPACES, ["user", ...STUB_NAMESPACE_NAMES]],
  [STUB_NAMESPACES, STUB_NAMESPACE_NAMES],
  // A host without PID or cgroup namespaces (a kernel built without them).
  [CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS, ["user", "mnt", "net", "ipc", "uts"]],
  [CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS, ["mnt", "net", "ipc", "uts"]],
];
const MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8, MS_REC = 0x4000, MS_PRIVATE = 0x40000;
const MNT_DETACH = 2;

/** The host's highest capability number (/proc/sys/kernel/cap_last_cap), read once. */
let capLast: number | null = null;
function lastCap(): number {
  if (capLast === null) {
    try {
      capLast = Number(Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim());
    } catch {
      capLast = 40;
    }
    if (!Number.isInteger(capLast) || capLast < 0 || capLast > 63) capLast = 40;
  }
  return capLast;
}

/** Copy-on-write memory (platform/mod.ts CowMemory): a range of the memory file. */
class FileCowMemory implements CowMemory {
  released = false;
  constructor(readonly file: MemoryFile, readonly offset: number, readonly length: number) {}

  write(offset: number, src: Uint8Array): void {
    if (this.released || offset < 0 || offset + src.length > this.length) throw new RangeError("Write outside copy-on-write memory");
    this.file.write(this.offset + offset, src);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.file.unref(this.offset, this.offset + this.length);
  }
}

/** Released host threads a stub keeps for reuse (see StubAddressSpace.parked). */
const MAX_PARKED_THREADS = 4;

/** The ptrace platform. One per sentry process. */
export class PtracePlatform implements Platform {
  readonly name = "ptrace";
  /** @nosave Every live thread of every stub, by host tid. */
  readonly #contexts = new Map<number, PtraceContext>();
  /** @nosave Stubs by host pid. */
  readonly #stubs = new Map<number, StubAddressSpace>();
  /**
   * @nosave Host threads that were killed or told to exit and whose exit is not collected yet.
   * waitStop and pollStop collect them along with the stops; shutdown waits for the rest, so no
   * host process outlives the platform.
   */
  readonly #dying = new Map<number, number>(); // tid → pid of its stub
  /**
   * @nosave The stub of each parked host thread (see StubAddressSpace.parked) and its time so
   * far, where its next user's time starts.
   */
  readonly #parkedIn = new Map<number, { as: StubAddressSpace; cpu: ThreadCpuReading }>();
  /** @nosave The open /proc files of host threads whose time was read (thread_clock.ts). */
  readonly #clocks = new Map<number, ThreadClock>();
  /**
   * @nosave The zygote: an empty stub (host mappings removed, the sentry's pidfd open in it),
   * never run, that every new address space is forked from. Forking it is several times cheaper
   * than starting and seizing a new stub process. Null until first needed.
   */
  #zygote: PtraceContext | null = null;
  /**
   * The memory file that holds the application's anonymous memory (memory_file.ts), made with
   * the first zygote; null before, or if the host cannot make one.
   */
  memoryFile: MemoryFile | null = null;
  #memoryFileTried = false;
  #stubPath = "";
  #stubDir = "";
  /** #stubDir is this platform's to remove (not the sentry's cache, early_stub.ts). */
  #stubDirTemporary = false;
  /** @nosave The stub started ahead of the platform (PtraceOptions.stub), until a zygote takes it. */
  #early: EarlyStub | null;
  /** @nosave The sentry's ends of the stubs' seccomp listeners (one per zygote started). */
  readonly #listeners = new Set<number>();
  /**
   * What the host gave the last zygote (see #confine): its namespaces, and whether its root is
   * an empty directory (false: the host's, where the host gave no mount namespace or refused
   * the mount); null before the first.
   */
  confinement: { namespaces: string[]; emptyRoot: boolean } | null = null;
  readonly #cpu: number | null;
  /** The CPU the tracer thread and new stubs are bound to, or null (free placement). */
  get tracerCpu(): number | null {
    return this.#cpu;
  }
  /** Adaptive placement: the CPUs a let-out thread may use (the sentry's own at start), or null. */
  readonly #allCpus: number[] | null = null;
  /** The tracer thread's CPUs before it was pinned, given back at shutdown; null if not pinned. */
  readonly #tracerCpus: number[] | null = null;
  /**
   * @nosave Host threads let out of the tracer's CPU (adaptive placement). Kept per host
   * thread, as the host keeps affinity: a parked thread keeps it, a clone inherits its maker's.
   */
  readonly #letOut = new Set<number>();
  /** When the adaptive placement looked last (performance.now() in ns). */
  #lastLook = 0;
  /** @nosave Stops handed out by waitStop, counted up to FAST_CALLS_AFTER_STOPS. */
  #stops = 0;
  /** Stops collected but not yet handed out (see #fair), and stops handed out since the last collection. */
  #ready: Stop[] = [];
  #sinceDrain = 0;
  /** @nosave The context of the last stop waitStop handed out (see #fair). */
  #lastServed: Context | null = null;
  /** @nosave Stops left before #fair looks for other waiting stops again after a fruitless look. */
  #againQuiet = 0;
  /** When the wake-up alarm fires (performance.now() in ns), or null if it is not armed. */
  #alarmAt: number | null = null;

  constructor(opts: PtraceOptions = {}) {
    this.#early = opts.stub ?? null;
    const placement = opts.placement ?? "adaptive";
    if (placement !== "free") {
      // Pin only the tracer (JavaScript) thread, not the whole sentry, and put every stub on
      // the same CPU: a ptrace stop then costs two same-CPU switches.
      const cpu = ffi.currentCpu();
      const all = ffi.getAffinity(ffi.hostTid());
      this.#cpu = ffi.setAffinity(ffi.hostTid(), [cpu]) === 0 ? cpu : null;
      if (this.#cpu !== null) this.#tracerCpus = all;
      if (this.#cpu !== null && placement === "adaptive" && all.length > 1) this.#allCpus = all;
    } else {
      this.#cpu = null;
    }
    // A stub forked from another (fork, the zygote's children) has that stub as its host parent;
    // when both die at shutdown its zombie would go to the host's init. As a subreaper the
    // sentry gets it back and reaps it (shutdown).
    ffi.becomeSubreaper();
  }

  #ensureStubBinary(): string {
    if (this.#stubPath === "" && this.#early !== null) {
      this.#stubDir = this.#early.dir;
      this.#stubPath = this.#early.path;
      this.#stubDirTemporary = this.#early.temporary;
    } else if (this.#stubPath === "") {
      this.#stubDir = Deno.makeTempDirSync({ prefix: "sentry-stub-" });
      this.#stubDirTemporary = true;
      const p = `${this.#stubDir}/stub`;
      Deno.writeFileSync(p, buildStubElf(), { mode: 0o500 });
      this.#stubPath = p;
    }
    return this.#stubPath;
  }

  /**
   * A fresh address space: a fork of the zygote (a clone injected into it; the child is
   * auto-attached, pinned like its parent, and holds the sentry's pidfd at the same number).
   */
  newAddressSpace(): Context {
    const z = this.#zygote;
    if (z !== null && !z.addressSpace.released) {
      try {
        return z.addressSpace.fork(z);
      } catch {
        // The zygote is gone (killed from outside): start another one below.
        z.addressSpace.release();
      }
    }
    const fresh = this.#zygote = this.#spawnZygote();
    return fresh.addressSpace.fork(fresh);
  }

  /**
   * Starts the zygote: a stub process (posix_spawn) seized, emptied (only the stub's pages
   * left), confined (see {@linkcode #confine}) and holding the memory file for its forks to
   * inherit, with one stopped thread.
   */
  #spawnZygote(): PtraceContext {
    const path = this.#ensureStubBinary();
    const early = this.#early;
    this.#early = null;
    const pid = early !== null ? early.pid : ffi.spawnClean(path, ["sentry-stub"]);
    try {
      const ctx = this.#seize(pid);
      this.#unmapHostMappings(ctx, pid);
      this.#confine(ctx);
      if (!this.#memoryFileTried) {
        this.#memoryFileTried = true;
        this.memoryFile = MemoryFile.create();
      }
      if (this.memoryFile !== null) {
        // The zygote holds the memory file; every stub forked from it has it at the same number.
        const fd = ctx.addressSpace.fetchFd(ctx, this.memoryFile.fd);
        if (fd >= 0) ctx.addressSpace.memfdInStub = fd;
      }
      if (!this.confinement!.namespaces.includes("pid")) return ctx;
      // unshare(CLONE_NEWPID) put the stub's children, not the stub, in the new PID namespace;
      // the first of them is its init, and once that init dies the namespace takes no new
      // process. So the zygote is that first child, init of the stubs' namespace for as long as
      // the platform lives: every stub is its fork or a fork of a fork, an orphaned stub becomes
      // its child (it ignores SIGCHLD: the host reaps it once the sentry has collected its exit),
      // and when it dies (shutdown, or the sentry killed: PTRACE_O_EXITKILL) the host kills
      // every stub left in the namespace. As init it ignores signals from inside its namespace
      // that it has no handler for; only the sentry, from the host's, can kill it. Application
      // code never runs in it.
      const zygote = ctx.addressSpace.fork(ctx) as PtraceContext;
      this.reapStub(ctx.addressSpace);
      return zygote;
    } catch (e) {
      ffi.kill(pid, SIGKILL);
      this.#reap(pid);
      this.#contexts.delete(pid);
      this.#stubs.delete(pid);
      throw e;
    }
  }

  /**
   * Confines the zygote (and so every stub, all forked from it) before it ever holds
   * application code, by syscalls injected while it is stopped and runs nothing else (its data
   * page, which holds their arguments, is the sentry's alone then):
   * 1. new namespaces: user (where the host allows), mount, PID (for its children: see
   *    #spawnZygote), network, IPC, UTS, cgroup; a stub then has no capability in the host's
   *    namespaces, sees no host process, and has no network or IPC of the host to reach. The
   *    sentry learns the host pids of the stubs' clones from ptrace's clone events
   *    (StubAddressSpace.#clone).
   *    With a mount namespace, an empty root: a read-only, empty tmpfs made the root by
   *    pivot_root, the host's tree detached (see {@linkcode #emptyRoot}).
   * 2. RLIMIT_CORE 0 (a crash never writes the stub's memory, the application's, to disk);
   * 3. no_new_privs; 4. every capability dropped (ambient, bounding, effective, permitted,
   *    inheritable);
   * 5. the seccomp filter of stub_seccomp.ts, with a listener the sentry takes (pidfd_getfd from
   *    its side) and the stub closes: from then on the only way a descriptor of the sentry gets
   *    into a stub is the sentry answering a fetch, and the stub keeps no descriptor of the
   *    sentry's (nor a pidfd of it).
   * Steps 1 falls back (user namespace refused: the others alone; all refused: none) and
   * {@linkcode confinement} says what the host gave; the rest is required.
   */
  #confine(ctx: PtraceContext): void {
    const as = ctx.addressSpace, pid = as.pid;
    const refusals: number[] = [];
    const put = (bytes: Uint8Array) => {
      if (ffi.vmWrite(pid, STUB_DATA, bytes) !== bytes.length) throw new Error("Cannot write a new stub's data page");
    };
    const must = (r: number, what: string) => {
      if (r < 0) {
        const why = refusals.length > 0 && !ns.includes("user")
          ? ` (no user namespace: unshare failed with errnos ${refusals.join(", ")})`
          : "";
        throw new Error(`The host refused to confine a stub: ${what} failed with errno ${-r}${why}`);
      }
      return r;
    };
    let ns: string[] = [];
    // Twice: a refusal can be transient (ENOMEM, or a namespace count at its limit while other
    // sandboxes end), and without the user namespace the stub keeps no CAP_SETPCAP once the
    // sentry confined itself, so the bounding-set drops below would fail (their error then
    // carries these errnos).
    for (let attempt = 0; attempt < 2 && ns.length === 0; attempt++) {
      for (const [flags, names] of NAMESPACE_CHOICES) {
        const r = as.inject(ctx, SYS_unshare, [flags]);
        if (r === 0) {
          ns = names;
          break;
        }
        refusals.push(-r);
      }
    }
    const emptyRoot = ns.includes("mnt") && this.#emptyRoot(ctx);
    // One batch (one round trip): the arguments (struct rlimit {0, 0}; the capset header
    // {version 3, pid 0} and 2 × {effective, permitted, inheritable}, all 0) lie in the data
    // page after the batch table.
    const argsAt = STUB_DATA + BATCH_ENTRY_SIZE * 48;
    const args = new Uint8Array(16 + 8 + 24);
    new DataView(args.buffer).setUint32(16, LINUX_CAPABILITY_VERSION_3, true);
    if (ffi.vmWrite(pid, argsAt, args) !== args.length) throw new Error("Cannot write a new stub's data page");
    const calls = [
      { nr: SYS_setrlimit, args: [RLIMIT_CORE, argsAt], what: "setrlimit(RLIMIT_CORE)" },
      { nr: SYS_prctl, args: [PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0], what: "prctl(PR_SET_NO_NEW_PRIVS)" },
      ...Array.from({ length: lastCap() + 1 }, (_, cap) => ({
        nr: SYS_prctl, args: [PR_CAPBSET_DROP, cap, 0, 0, 0], what: `prctl(PR_CAPBSET_DROP, ${cap})`,
      })),
      { nr: SYS_capset, args: [argsAt + 16, argsAt + 24], what: "capset" },
      // Last, as it may fail (EINVAL before Linux 4.3: no ambient set to clear).
      { nr: SYS_prctl, args: [PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0], what: "" },
    ];
    if (calls.length > 48) throw new Error("The confinement batch overlaps its arguments");
    as.injectAll(ctx, calls).forEach((r, i) => {
      if (calls[i]!.what !== "") must(r, calls[i]!.what);
    });
    const filter = stubFilter();
    const prog = new Uint8Array(16 + filter.length); // struct sock_fprog {u16 len; u64 filter}, then the filter
    const pv = new DataView(prog.buffer);
    pv.setUint16(0, filter.length / 8, true);
    pv.setBigUint64(8, BigInt(STUB_DATA + 16), true);
    prog.set(filter, 16);
    put(prog);
    const inStub = must(
      as.inject(ctx, SYS_seccomp, [SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, STUB_DATA]),
      "seccomp(SECCOMP_SET_MODE_FILTER) with a listener (Linux 5.9 or later)",
    );
    put(new Uint8Array(prog.length));
    const pidfd = must(ffi.pidfdOpen(pid), "pidfd_open of the stub");
    const listener = ffi.pidfdGetfd(pidfd, inStub);
    ffi.hostClose(pidfd);
    must(listener, "pidfd_getfd of the stub's seccomp listener");
    this.#listeners.add(listener);
    must(as.inject(ctx, SYS_close, [inStub]), "close of the listener in the stub");
    as.listener = listener;
    this.confinement = { namespaces: ns, emptyRoot };
  }

  /**
   * Gives the zygote, in its own mount namespace, an empty root, as runsc gives its sandbox
   * process: the mounts made private (nothing propagates to or from the host's namespace), a
   * read-only, empty tmpfs (no suid, no devices, no exec) mounted on the stub's directory,
   * pivot_root into it (the old root stacked on it, `pivot_root(".", ".")`), the old root
   * detached. The stub then has no path to any host file, whatever its filter let through.
   * Each step checked, in order (a mount made before the mounts are private would reach the
   * host's namespace). Returns false, leaving the host's tree, where the host refuses a step.
   */
  #emptyRoot(ctx: PtraceContext): boolean {
    const as = ctx.addressSpace, pid = as.pid;
    const enc = new TextEncoder();
    const strings = ["/", ".", "tmpfs", this.#stubDir];
    const at: number[] = [];
    const bytes: number[] = [];
    for (const str of strings) {
      at.push(STUB_DATA + bytes.length);
      bytes.push(...enc.encode(str), 0);
    }
    if (bytes.length > 2048) return false;
    if (ffi.vmWrite(pid, STUB_DATA, new Uint8Array(bytes)) !== bytes.length) throw new Error("Cannot write a new stub's data page");
    const [slash, dot, tmpfs, dir] = at as [number, number, number, number];
    const steps: [number, number[]][] = [
      [SYS_mount, [0, slash, 0, MS_REC | MS_PRIVATE, 0]],
      [SYS_mount, [tmpfs, dir, tmpfs, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0]],
      [SYS_chdir, [dir]],
      [SYS_pivot_root, [dot, dot]],
      [SYS_umount2, [dot, MNT_DETACH]],
      [SYS_chdir, [slash]],
    ];
    let ok = true;
    for (const [nr, args] of steps) {
      if (as.inject(ctx, nr, args) !== 0) {
        ok = false;
        break;
      }
    }
    if (ffi.vmWrite(pid, STUB_DATA, new Uint8Array(bytes.length)) !== bytes.length) throw new Error("Cannot write a new stub's data page");
    return ok;
  }

  #seize(pid: number): PtraceContext {
    // The stub stops itself with SIGSTOP; collect that stop, then seize it stopped.
    for (;;) {
      const w = ffi.waitpid(pid, ffi.WUNTRACED | ffi.__WALL);
      if (w === "eintr" || w === null) continue;
      if ((w.status & 0xff) === 0x7f && ((w.status >> 8) & 0xff) === SIGSTOP) break;
      throw new Error(`The stub did not start (wait status ${w.status})`);
    }
    ffi.ptrace(
      ffi.PTRACE_SEIZE,
      pid,
      0,
      // The sentry makes every clone in a stub itself, with CLONE_PTRACE; the fork and clone
      // events give it the child's host pid (see StubAddressSpace.#clone). Forks and threads
      // inherit these options.
      ffi.PTRACE_O_EXITKILL | ffi.PTRACE_O_TRACESYSGOOD | ffi.PTRACE_O_TRACEFORK | ffi.PTRACE_O_TRACECLONE,
    );
    ffi.ptrace(ffi.PTRACE_INTERRUPT, pid, 0, 0);
    for (;;) {
      const w = ffi.waitpid(pid, ffi.__WALL);
      if (w === "eintr" || w === null) continue;
      if ((w.status & 0xff) === 0x7f) break;
      throw new Error(`The stub died while being seized (wait status ${w.status})`);
    }
    // Threads and forks of the stub inherit this binding (the host copies it at clone).
    if (this.#cpu !== null) ffi.setAffinity(pid, [this.#cpu]);
    this.#letOut.delete(pid);
    const as = new StubAddressSpace(this, pid);
    return this.adopt(pid, as) as PtraceContext;
  }

  /** Removes what the host put in the stub (its stack, vDSO, vvar): only the stub's pages stay. */
  #unmapHostMappings(ctx: PtraceContext, pid: number): void {
    const maps = Deno.readTextFileSync(`/proc/${pid}/maps`);
    for (const line of maps.split("\n")) {
      const m = /^([0-9a-f]+)-([0-9a-f]+)/.exec(line);
      if (!m) continue;
      const start = parseInt(m[1]!, 16), end = parseInt(m[2]!, 16);
      if ((start >= STUB_BASE && end <= STUB_BASE + STUB_SIZE) || start >= TASK_SIZE) continue; // the stub; [vsyscall]
      const r = ctx.addressSpace.unmap(ctx, start, end - start);
      if (r < 0) throw new Error(`munmap in a new stub failed: errno ${-r}`);
    }
  }

  /** The /proc files of a context's host thread, opened on first use. */
  clockOf(ctx: PtraceContext): ThreadClock {
    let c = this.#clocks.get(ctx.tid);
    if (c === undefined || c.pid !== ctx.addressSpace.pid) {
      c?.close();
      c = new ThreadClock(ctx.addressSpace.pid, ctx.tid);
      this.#clocks.set(ctx.tid, c);
    }
    return c;
  }

  /** A host thread is gone (its exit was collected): its /proc files are closed. */
  #threadGone(tid: number): void {
    this.#letOut.delete(tid);
    const c = this.#clocks.get(tid);
    if (c === undefined) return;
    c.close();
    this.#clocks.delete(tid);
  }

  /**
   * Registers a host thread (stopped) as a context of `as`; cpuStart is the thread's time so
   * far when it is a parked thread reused.
   */
  adopt(tid: number, as: StubAddressSpace, cpuStart: ThreadCpuReading = ZERO_READING): Context {
    const ctx = new PtraceContext(tid, as);
    ctx.cpuStart = cpuStart;
    this.#contexts.set(tid, ctx);
    as.threads.add(ctx);
    if (!this.#stubs.has(as.pid)) this.#stubs.set(as.pid, as);
    return ctx;
  }

  /**
   * A parked host thread is taken out of its stub's parking (to be reused, or because it died).
   * Returns its time so far.
   */
  unpark(tid: number): ThreadCpuReading {
    const p = this.#parkedIn.get(tid);
    if (p === undefined) return ZERO_READING;
    this.#parkedIn.delete(tid);
    const i = p.as.parked.indexOf(tid);
    if (i >= 0) p.as.parked.splice(i, 1);
    return p.cpu;
  }

  /** Drops a context whose host thread is gone (its exit, if any, is ignored when it comes). */
  forget(ctx: PtraceContext): void {
    this.#dropReady(ctx);
    this.#threadGone(ctx.tid);
    this.#contexts.delete(ctx.tid);
    ctx.addressSpace.threads.delete(ctx);
  }

  /** Ends one thread; the last thread of a stub takes the stub with it. */
  releaseContext(ctx: PtraceContext): void {
    if (!this.#contexts.has(ctx.tid)) return;
    const as = ctx.addressSpace;
    if (as.threads.size === 1) {
      as.release();
      return;
    }
    this.#dropReady(ctx);
    this.#contexts.delete(ctx.tid);
    as.threads.delete(ctx);
    if (ctx.running) {
      ffi.ptrace(ffi.PTRACE_INTERRUPT, ctx.tid, 0, 0);
      for (;;) {
        const w = ffi.waitpid(ctx.tid, ffi.__WALL);
        if (w === "eintr" || w === null) continue;
        if ((w.status & 0xff) !== 0x7f) return;
        break;
      }
      ctx.running = false;
      ctx.invalidate();
    }
    // The next user of a parked thread must not inherit breakpoints (Linux's new thread has none).
    if (ctx.debugArmed) ctx.setDebugRegs([], 0n);
    if (as.parked.length < MAX_PARKED_THREADS) {
      // Its next user's time starts where the last reading left it (the kernel read it just
      // before releasing it: exit, execve); read now if it never was.
      const cpu = ctx.lastCpu ?? this.clockOf(ctx).read() ?? ZERO_READING;
      as.parked.push(ctx.tid);
      this.#parkedIn.set(ctx.tid, { as, cpu });
      return;
    }
    as.exitThread(ctx);
    this.#threadGone(ctx.tid);
    this.#dying.set(ctx.tid, as.pid);
  }

  /**
   * Kills a stub. Its threads' exits are collected later, with the other stops (or by shutdown):
   * waiting here would cost a switch to the dying stub and its teardown on every exit.
   */
  releaseStub(as: StubAddressSpace): void {
    ffi.kill(as.pid, SIGKILL);
    // The leader last: the host reports a thread group leader's exit only once every other
    // thread of the group is reaped, so shutdown must wait for them first.
    for (const ctx of as.threads) {
      this.#dropReady(ctx);
      this.#contexts.delete(ctx.tid);
      this.#threadGone(ctx.tid);
      if (ctx.tid !== as.pid) this.#dying.set(ctx.tid, as.pid);
    }
    for (const tid of as.parked) {
      this.#dying.set(tid, as.pid);
      this.#parkedIn.delete(tid);
      this.#threadGone(tid);
    }
    this.#dying.set(as.pid, as.pid);
    as.threads.clear();
    as.parked.length = 0;
    this.#stubs.delete(as.pid);
  }

  /**
   * Kills a stub and collects the exit of every thread of it now (the leader last, as the host
   * reports it last). Returns wait4's usage of the leader: the CPU time and peak RSS of the
   * whole host process over its life. Exact and cheap (no /proc reads); costs the switch to
   * the dying stub that lazy reaping (releaseStub) avoids, which /proc reads cost more than.
   */
  reapStub(as: StubAddressSpace): ffi.ReapedUsage {
    if (!as.released) as.release();
    for (const [tid, pid] of this.#dying) {
      if (pid !== as.pid || tid === as.pid) continue;
      this.#reap(tid);
      this.#dying.delete(tid);
    }
    let u: ffi.ReapedUsage | null = null;
    if (this.#dying.has(as.pid)) {
      this.#dying.delete(as.pid);
      for (;;) {
        try {
          u = ffi.wait4(as.pid, ffi.__WALL);
        } catch {
          break; // ECHILD: collected already (killed from outside and reported as gone)
        }
        if (u !== null) break;
        // A stop reported before the exit (a host signal, an event): let it go on dying.
        try {
          ffi.ptrace(ffi.PTRACE_CONT, as.pid, 0, 0);
        } catch { /* killed meanwhile */ }
      }
    }
    return u ?? { status: 0, userNs: 0, sysNs: 0, maxRssKb: 0 };
  }

  /**
   * Waits until the killed init of a PID namespace has exited, collecting meanwhile the exits
   * of stubs of its namespace that it waits for (traced by the sentry, they are the sentry's to
   * reap first).
   */
  #reapInit(pid: number): void {
    const nap = new Int32Array(new SharedArrayBuffer(4));
    for (;;) {
      let w;
      try {
        w = ffi.waitpid(pid, ffi.__WALL | ffi.WNOHANG);
      } catch {
        return; // ECHILD: already collected
      }
      if (w === "eintr") continue;
      if (w !== null && (w.status & 0xff) !== 0x7f) return;
      if (w !== null) {
        try {
          ffi.ptrace(ffi.PTRACE_CONT, pid, 0, 0);
        } catch { /* killed meanwhile */ }
        continue;
      }
      let other = null;
      try {
        other = ffi.waitpid(-1, ffi.__WALL | ffi.WNOHANG);
      } catch { /* ECHILD */ }
      if (other === null || other === "eintr") Atomics.wait(nap, 0, 0, 1);
      else if ((other.status & 0xff) === 0x7f) {
        try {
          ffi.ptrace(ffi.PTRACE_CONT, other.pid, 0, 0); // a stop on its way out: let it go on
        } catch { /* killed meanwhile */ }
      }
    }
  }

  /** Waits until host thread `tid` has exited (it was killed or told to exit). */
  #reap(tid: number): void {
    for (;;) {
      let w;
      try {
        w = ffi.waitpid(tid, ffi.__WALL);
      } catch {
        return; // ECHILD: already collected
      }
      if (w === "eintr" || w === null) continue;
      if ((w.status & 0xff) === 0x7f) {
        // A stop reported before the exit (a host signal, an event): let it go on dying.
        try {
          ffi.ptrace(ffi.PTRACE_CONT, tid, 0, 0);
        } catch { /* killed meanwhile */ }
        continue;
      }
      return;
    }
  }

  resume(ctx: Context, step = false): void {
    const c = ctx as PtraceContext;
    c.flushRegs();
    c.running = true;
    ffi.ptrace(step ? ffi.PTRACE_SYSEMU_SINGLESTEP : ffi.PTRACE_SYSEMU, c.tid, 0, 0);
  }

  #decode(pid: number, status: number): Stop | null {
    const ctx = this.#contexts.get(pid);
    if (!ctx) {
      // A parked thread killed from outside: never hand its tid out again (the host may reuse it).
      if ((status & 0xff) !== 0x7f) this.unpark(pid);
      if (this.#dying.has(pid)) {
        if ((status & 0xff) !== 0x7f) this.#dying.delete(pid);
        else {
          // Stopped on its way out (a host signal before its exit ran): let it go on.
          try {
            ffi.ptrace(ffi.PTRACE_CONT, pid, 0, 0);
          } catch { /* killed meanwhile */ }
        }
      }
      return null; // a thread we already forgot (killed stub, exited thread)
    }
    ctx.running = false;
    ctx.stops++;
    if ((status & 0xff) !== 0x7f) {
      this.#contexts.delete(pid);
      ctx.addressSpace.threads.delete(ctx);
      this.#threadGone(pid);
      return { ctx, reason: { kind: "gone", status } };
    }
    const sig = (status >> 8) & 0xff;
    const event = status >>> 16;
    let reason: StopReason;
    ctx.invalidate();
    if (sig === SYSCALL_TRAP) {
      ctx.fetchSyscallInfo();
      reason = { kind: "syscall" };
    } else if (event !== 0) {
      reason = { kind: "interrupt" };
    } else {
      const info = new Uint8Array(128);
      ffi.ptraceBuf(ffi.PTRACE_GETSIGINFO, pid, 0, info);
      const v = new DataView(info.buffer);
      const code = v.getInt32(8, true);
      const signo = v.getInt32(0, true);
      // si_code > 0: raised by the CPU (a fault); <= 0: sent by someone on the host, which
      // the application must not see.
      if (code > 0 && [4, 5, 7, 8, 11].includes(signo)) {
        reason = { kind: "fault", signo, code, addr: Number(v.getBigUint64(16, true)) };
      } else if (signo === SIGSYS && code === SYS_SECCOMP && isVsyscallEntry(v.getBigUint64(16, true))) {
        // The stub's filter trapped the host's vsyscall emulation (stub_seccomp.ts): the kernel
        // emulates the entry itself. The host has done the `ret` already.
        const r = ctx.regs;
        const args = ARG_REGS.map((n) => r.get64(n));
        ctx.syscall.setFrom(v.getInt32(24, true), args, v.getBigUint64(16, true), r.get("rsp"));
        reason = { kind: "vsyscall" };
      } else {
        reason = { kind: "interrupt" };
      }
    }
    return { ctx, reason };
  }

  /**
   * Blocks in waitpid for the next stop, at most about timeoutNs (one more alarm period when
   * the host preempted this thread just before waitpid: see ffi.armWakeAlarm). The wake-up
   * alarm is armed lazily: it stays armed across stops and is re-armed only when the wanted
   * deadline is earlier than the armed one (or it already fired), so most stops cost no timer
   * syscall. {@linkcode idle} disarms it.
   */
  waitStop(timeoutNs: number, contended = false): Stop | null {
    const now = performance.now() * 1e6;
    if (this.#allCpus !== null && now - this.#lastLook >= PLACEMENT_INTERVAL_NS) this.#placeThreads(now);
    const want = now + timeoutNs;
    if (this.#alarmAt === null || this.#alarmAt > want + 50_000 || this.#alarmAt <= now) {
      ffi.armWakeAlarm(Math.max(1000, timeoutNs));
      this.#alarmAt = want;
    }
    const queued = this.#nextReady();
    if (queued !== null) {
      this.#lastServed = queued.ctx;
      return queued;
    }
    for (;;) {
      const w = ffi.waitpid(-1, ffi.__WALL);
      if (w === "eintr") {
        this.#alarmAt = null;
        return null;
      }
      if (w === null) return null;
      const s = this.#decode(w.pid, w.status);
      if (s) {
        if (this.#stops < FAST_CALLS_AFTER_STOPS && ++this.#stops === FAST_CALLS_AFTER_STOPS) ffi.bindFastCalls();
        return this.#fair(s, contended);
      }
    }
  }

  /**
   * Fairness among many stopped threads. waitpid(-1) reports the most recently traced thread
   * first whenever several have stopped, so with many busy threads (a fork bomb: 63 processes
   * forking for ever) the oldest ones, init among them, were starved for minutes. Every
   * DRAIN_EVERY stops, every stop already waiting is collected (decoded: the thread is known
   * stopped) and they are served in the order collected before waitpid is asked again: each
   * thread waits at most one round. A queued stop of a thread released meanwhile is dropped.
   */
  #fair(s: Stop, contended: boolean): Stop {
    // The same thread again while others run (contended: the kernel has more than one task in
    // user mode): it may have stopped again before a stop already waiting was asked for. Each
    // stop wakes the tracer on its thread's CPU, so a thread whose stops cost little (a loop of
    // mprotect) was served several times for each stop of a thread that computes between its
    // stops (LTP's signal06: ~4 mprotects per signal delivered): so the waiting ones come first.
    // A look that found nothing waiting (another thread computes in user mode without stops)
    // is not repeated for the next AGAIN_BACKOFF stops: one WNOHANG waitpid less per stop.
    let again = contended && s.ctx === this.#lastServed;
    if (again && this.#againQuiet > 0) {
      this.#againQuiet--;
      again = false;
    }
    if (++this.#sinceDrain < DRAIN_EVERY && !again) {
      this.#lastServed = s.ctx;
      return s;
    }
    this.#sinceDrain = 0;
    for (let i = 0; i < DRAIN_MAX; i++) {
      const w = ffi.waitpid(-1, ffi.__WALL | ffi.WNOHANG);
      if (w === null || w === "eintr") break;
      const q = this.#decode(w.pid, w.status);
      if (q) this.#ready.push(q);
    }
    if (again && this.#ready.length > 0) {
      this.#ready.push(s);
      s = this.#nextReady() ?? s;
    } else if (again) {
      this.#againQuiet = AGAIN_BACKOFF;
    }
    this.#lastServed = s.ctx;
    return s;
  }

  #nextReady(): Stop | null {
    while (this.#ready.length > 0) {
      const s = this.#ready.shift()!;
      if (s.reason.kind === "gone" || this.#contexts.get((s.ctx as PtraceContext).tid) === s.ctx) return s;
    }
    return null;
  }

  /** Forgets a queued stop of ctx (released: its host thread may be parked and reused). */
  #dropReady(ctx: PtraceContext): void {
    if (this.#ready.length > 0) this.#ready = this.#ready.filter((s) => s.ctx !== ctx);
  }

  /**
   * Adaptive placement, looked at from waitStop (which the loop calls whenever a thread runs)
   * at most once an interval: a thread that computed through a whole interval is let out to
   * every CPU, so that parallel computation uses them; a let-out thread that stops often is
   * pinned to the tracer's CPU again, where its stops are same-CPU switches. A thread's
   * stops are only counted (no clock read per stop).
   */
  #placeThreads(now: number): void {
    const elapsed = now - this.#lastLook;
    this.#lastLook = now;
    const maxStops = REPIN_STOPS_PER_SEC * elapsed / 1e9;
    for (const ctx of this.#contexts.values()) {
      const stopped = ctx.stops - ctx.stopsAtLook;
      if (!this.#letOut.has(ctx.tid)) {
        if (ctx.running && ctx.runningAtLook && stopped === 0 && ffi.setAffinity(ctx.tid, this.#allCpus!) === 0) {
          this.#letOut.add(ctx.tid);
        }
      } else if (stopped > maxStops && ffi.setAffinity(ctx.tid, [this.#cpu!]) === 0) {
        this.#letOut.delete(ctx.tid);
      }
      ctx.stopsAtLook = ctx.stops;
      ctx.runningAtLook = ctx.running;
    }
  }

  /**
   * A host thread was cloned by `via`'s host thread: it has via's affinity (the host copies
   * the caller's at clone).
   */
  inheritPlacement(via: Context, tid: number): void {
    if (this.#letOut.has((via as PtraceContext).tid)) this.#letOut.add(tid);
    else this.#letOut.delete(tid); // a reused tid whose exit went unseen
  }

  idle(): void {
    if (this.#alarmAt === null) return;
    ffi.armWakeAlarm(0);
    this.#alarmAt = null;
  }

  pollStop(): Stop | null {
    const queued = this.#nextReady();
    if (queued !== null) return queued;
    for (;;) {
      const w = ffi.waitpid(-1, ffi.__WALL | ffi.WNOHANG);
      if (w === null || w === "eintr") return null;
      const s = this.#decode(w.pid, w.status);
      if (s) return s;
    }
  }

  waitStopAsync(): Promise<void> {
    return ffi.waitAnyAsync();
  }

  newCowMemory(length: number): CowMemory | null {
    const mf = this.memoryFile;
    if (mf === null || length <= 0 || length % PAGE !== 0) return null;
    const off = mf.ranges.allocate(length);
    return off < 0 ? null : new FileCowMemory(mf, off, length);
  }

  /**
   * The host's MEMBARRIER_CMD_GLOBAL: application threads are host threads of the stubs, on any
   * CPU, and the host's global barrier (an RCU grace period: every CPU passes a context switch
   * or a barrier) reaches them all, as gVisor's ptrace platform does. EINVAL with nohz_full.
   */
  memoryBarrier(): boolean {
    return ffi.rawSyscall(SYS_membarrier, 1n /* MEMBARRIER_CMD_GLOBAL */) === 0;
  }

  memoryFileBytes(): number {
    const blocks = this.memoryFile?.blocks() ?? 0;
    return blocks > 0 ? blocks * 512 : 0;
  }

  shutdown(): void {
    const init = this.#zygote?.addressSpace.pid ?? -1;
    for (const as of [...this.#stubs.values()]) as.release();
    this.#ready = [];
    this.#zygote = null;
    // The zygote last: as init of the stubs' PID namespace its exit waits until every other
    // process of it is gone, and those the sentry traces go only when the sentry reaps them.
    for (const tid of [...this.#dying.keys()]) if (tid !== init) this.#reap(tid);
    if (this.#dying.has(init)) this.#reapInit(init);
    for (const c of this.#clocks.values()) c.close();
    this.#clocks.clear();
    this.#dying.clear();
    this.memoryFile?.close();
    this.memoryFile = null;
    for (const fd of this.#listeners) ffi.hostClose(fd);
    this.#listeners.clear();
    this.#memoryFileTried = false;
    this.#letOut.clear();
    // The thread goes on running JavaScript (another platform, a test): as it was before.
    if (this.#tracerCpus !== null) ffi.setAffinity(ffi.hostTid(), this.#tracerCpus);
    if (this.#early !== null) {
      discardEarlyStub(this.#early); // its directory too: #stubDir never named it
      this.#early = null;
    }
    // Stubs whose host parent was another stub come back as zombies of the sentry (a subreaper)
    // once that parent died: reap them, so that no host process outlives the sandbox.
    for (;;) {
      let w;
      try {
        w = ffi.waitpid(-1, ffi.__WALL | ffi.WNOHANG);
      } catch {
        break; // ECHILD: nothing left
      }
      if (w === null) break;
    }
    if (this.#stubDir !== "") {
      try {
        if (this.#stubDirTemporary) Deno.removeSync(this.#stubDir, { recursive: true });
      } catch { /* already gone */ }
      this.#stubDir = "";
      this.#stubPath = "";
    }
  }
}

/** Sorted, overlapping or touching ranges joined. */
/** What the host maps of a region: its protection, or the lagging one, less what is withheld. */
function hostProtOf(r: Region): number {
  return (r.hostProt ?? r.prot) & ~((r.withheld ?? 0) & 7);
}

function mergeRanges(rs: Array<[number, number]>): Array<[number, number]> {
  const sorted = rs.filter(([s, e]) => e > s).sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}
