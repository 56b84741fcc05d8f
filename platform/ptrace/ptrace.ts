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
import { Registers } from "./regs_amd64.ts";
import { SYSCALL_INFO_SIZE, SyscallInfo } from "../syscall_info.ts";
import {
  BATCH_ARG0_SAVED, BATCH_ARG4_SAVED, BATCH_ENTRY_SIZE, BATCH_MAX_ENTRIES, BATCH_SAVE_RESULT, buildStubElf,
  STUB_BASE, STUB_BATCH_ADDR, STUB_BATCH_TRAP_ADDR, STUB_DATA, STUB_INJECT_ADDR, STUB_INJECT_TRAP_ADDR, STUB_SIZE,
} from "./stub_elf.ts";
import type { AddressSpace, Context, CpuTime, Platform, Prot, Stop, StopReason } from "../mod.ts";

const SIGKILL = 9;
const SIGTRAP = 5;
const SIGSTOP = 19;
const SIGCHLD = 17;
const SYSCALL_TRAP = SIGTRAP | 0x80;

const SYS_mmap = 9;
const SYS_mprotect = 10;
const SYS_munmap = 11;
const SYS_close = 3;
const SYS_clone = 56;
const CLONE_VM = 0x100, CLONE_FS = 0x200, CLONE_FILES = 0x400, CLONE_SIGHAND = 0x800;
const CLONE_THREAD = 0x10000, CLONE_SYSVSEM = 0x40000;
const SYS_mremap = 25;
const SYS_pidfd_getfd = 438;
const SYS_pidfd_open = 434;
const SYS_exit = 60;
const SYS_madvise = 28;
const MADV_DONTNEED = 4;

const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;

/** The highest user address on x86-64 with 4-level paging, exclusive. */
const TASK_SIZE = 0x7fff_ffff_f000;

/** How stubs are placed on CPUs. */
export type CpuPlacement = "tracer" | "free";

/** Options of the ptrace platform. */
export interface PtraceOptions {
  /**
   * "tracer" (default): the tracer thread and every stub share one CPU, so that a stop is a
   * same-CPU switch (~2 µs here) rather than a cross-CPU wakeup (~30 µs).
   */
  placement?: CpuPlacement;
}

const RAX_OFFSET = 80;
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
   * From /proc/PID/task/TID: schedstat's run time (ns) split by stat's utime:stime ticks, as
   * Linux's cputime_adjust does for getrusage: ns precision for the total.
   */
  cpuTime(): CpuTime {
    const dir = `/proc/${this.addressSpace.pid}/task/${this.tid}`;
    try {
      const totalNs = Number(Deno.readTextFileSync(`${dir}/schedstat`).split(" ")[0]);
      const stat = Deno.readTextFileSync(`${dir}/stat`);
      // Fields after the parenthesised comm: state is field 3, utime 14, stime 15.
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const utime = Number(f[11]), stime = Number(f[12]);
      if (!Number.isFinite(totalNs)) return { userNs: 0, sysNs: 0 };
      const userNs = utime + stime === 0 ? totalNs : Math.round(totalNs * utime / (utime + stime));
      return { userNs, sysNs: totalNs - userNs };
    } catch {
      return { userNs: 0, sysNs: 0 };
    }
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
    const buf = new Uint8Array(8192);
    const n = ffi.ptraceRegset(ffi.PTRACE_GETREGSET, this.tid, NT_X86_XSTATE, buf);
    return buf.slice(0, n);
  }

  setFpState(fp: Uint8Array): void {
    ffi.ptraceRegset(ffi.PTRACE_SETREGSET, this.tid, NT_X86_XSTATE, fp);
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
}

/** A batch of mapping syscalls held back by {@linkcode StubAddressSpace.deferMappings}. */
interface Deferred {
  via: PtraceContext;
  entries: BatchEntry[];
  /** The first error of a flush that already ran (0 if none). */
  error: number;
}

class StubAddressSpace implements AddressSpace {
  readonly minAddr = 0x10000;
  readonly maxAddr = TASK_SIZE;
  readonly reserved = [{ start: STUB_BASE, end: STUB_BASE + STUB_SIZE }];
  /** A pidfd of the sentry, open inside the stub, for pidfd_getfd. -1 until first needed. */
  sentryPidfdInStub = -1;
  released = false;
  /** @nosave The live host threads of this stub. */
  readonly threads = new Set<PtraceContext>();
  /** @nosave Mapping syscalls waiting for {@linkcode flushMappings}, or null when not deferring. */
  #deferred: Deferred | null = null;

  constructor(readonly platform: PtracePlatform, readonly pid: number) {}

  /**
   * Runs one syscall on the host inside the stub, on thread `via`, which must be stopped.
   * Preconditions:
   * - `via` is stopped and belongs to this address space.
   * The thread's application registers are kept in via.regs and written back on resume.
   */
  inject(via: Context, nr: number, args: number[]): number {
    this.#flush();
    return this.#inject(via as PtraceContext, nr, args).result;
  }

  /**
   * Runs code of the stub on a stopped thread until it traps at `trapAddr`: `setup` points the
   * registers at it. Collects the tid of a host thread or process a clone made on the way
   * (auto-attached by PTRACE_O_TRACECLONE/FORK). The application registers are restored in
   * ctx.regs (written back on resume).
   */
  #runStub(ctx: PtraceContext, setup: (r: Registers) => void, trapAddr: number, what: string): { rax: number; newTid: number } {
    if (ctx.running) throw new Error("Cannot run stub code: the thread is running");
    const saved = ctx.regs.clone(); // reads the registers if not read yet
    const r = ctx.regs;
    r.set("orig_rax", -1);
    setup(r);
    ffi.ptraceBuf(ffi.PTRACE_SETREGS, ctx.tid, 0, r.bytes);
    ffi.ptrace(ffi.PTRACE_CONT, ctx.tid, 0, 0);
    let rax: number;
    let newTid = 0;
    for (;;) {
      const w = ffi.waitpid(ctx.tid, ffi.__WALL);
      if (w === "eintr" || w === null) continue;
      const st = w.status;
      if ((st & 0xff) !== 0x7f) {
        throw new Error(`Stub ${ctx.tid} died during ${what} (status ${st})`);
      }
      const sig = (st >> 8) & 0xff, event = st >>> 16;
      if (sig === SIGTRAP && event === 0) {
        ffi.ptraceBuf(ffi.PTRACE_GETREGS, ctx.tid, 0, r.bytes);
        if (r.get("rip") !== trapAddr) throw new Error(`${what} trapped at an unexpected address`);
        rax = Number(BigInt.asIntN(64, r.get64("rax")));
        break;
      }
      if (sig === SIGTRAP && (event === ffi.PTRACE_EVENT_CLONE || event === ffi.PTRACE_EVENT_FORK ||
          event === ffi.PTRACE_EVENT_VFORK)) {
        const msg = new BigUint64Array(1);
        ffi.ptraceBuf(ffi.PTRACE_GETEVENTMSG, ctx.tid, 0, new Uint8Array(msg.buffer));
        newTid = Number(msg[0]);
      }
      // An event stop, or a stray host signal: suppress it and keep going.
      ffi.ptrace(ffi.PTRACE_CONT, ctx.tid, 0, 0);
    }
    r.copyFrom(saved);
    ctx.dirty = true;
    return { rax, newTid };
  }

  /** Runs one syscall; returns its result and the tid a clone made. */
  #inject(ctx: PtraceContext, nr: number, args: number[]): { result: number; newTid: number } {
    const { rax, newTid } = this.#runStub(ctx, (r) => {
      r.set("rax", nr);
      for (let i = 0; i < 6; i++) r.set(ARG_REGS[i]!, args[i] ?? 0);
      r.set("rip", STUB_INJECT_ADDR);
    }, STUB_INJECT_TRAP_ADDR, `injected syscall ${nr}`);
    return { result: rax, newTid };
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
   * written into the stub's data page and the stub's batch runner executes it. Returns each
   * entry's result. Precondition: {@linkcode #allStopped} (checked): a running application
   * thread could otherwise rewrite the table between our write and the runner's reads.
   */
  #runBatch(ctx: PtraceContext, entries: BatchEntry[]): number[] {
    if (!this.#allStopped()) throw new Error("A batch needs every thread of the stub stopped");
    const results: number[] = [];
    for (let base = 0; base < entries.length; base += BATCH_MAX_ENTRIES) {
      const chunk = entries.slice(base, base + BATCH_MAX_ENTRIES);
      const table = new BigInt64Array(chunk.length * (BATCH_ENTRY_SIZE / 8));
      chunk.forEach((e, i) => {
        const o = i * 8;
        table[o] = BigInt(e.nr);
        for (let a = 0; a < 6; a++) table[o + 1 + a] = BigInt(e.args[a] ?? 0);
        table[o + 7] = BigInt(e.flags);
      });
      const bytes = new Uint8Array(table.buffer);
      if (ffi.vmWrite(this.pid, STUB_DATA, bytes) !== bytes.length) throw new Error("Cannot write the batch table");
      this.#runStub(ctx, (r) => {
        r.set("rdi", STUB_DATA);
        r.set("rsi", chunk.length);
        r.set("rip", STUB_BATCH_ADDR);
      }, STUB_BATCH_TRAP_ADDR, "a syscall batch");
      if (ffi.vmRead(this.pid, STUB_DATA, bytes) !== bytes.length) throw new Error("Cannot read the batch results");
      for (let i = 0; i < chunk.length; i++) results.push(Number(table[i * 8]!));
    }
    return results;
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
    const flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
    const { result, newTid } = this.#inject(via as PtraceContext, SYS_clone, [flags, 0, 0, 0, 0]);
    if (result < 0) throw new Error(`clone in the stub failed: errno ${-result}`);
    if (newTid === 0) throw new Error("clone in the stub reported no new thread");
    this.#adoptNew(newTid);
    return this.platform.adopt(newTid, this);
  }

  fork(via: Context): Context {
    this.#flush();
    // A copy of the whole stub: the host copies the pages on write, the kernel copies the VMAs.
    // Exit signal SIGCHLD, which every stub ignores: the host reaps the child as soon as the
    // sentry has collected its exit, however long its parent stub lives.
    const { result, newTid } = this.#inject(via as PtraceContext, SYS_clone, [SIGCHLD, 0, 0, 0, 0]);
    if (result < 0) throw new Error(`clone in the stub failed: errno ${-result}`);
    if (newTid === 0) throw new Error("clone in the stub reported no new process");
    this.#adoptNew(newTid);
    const as = new StubAddressSpace(this.platform, newTid);
    as.sentryPidfdInStub = this.sentryPidfdInStub; // descriptors are copied by fork
    return this.platform.adopt(newTid, as);
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
    this.#deferred = { via: via as PtraceContext, entries: [], error: 0 };
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
    let results: number[];
    if (this.#allStopped()) {
      results = this.#runBatch(d.via, entries);
    } else {
      results = [];
      let saved = 0;
      for (const e of entries) {
        const args = [...e.args];
        if (e.flags & BATCH_ARG0_SAVED) args[0] = saved;
        if (e.flags & BATCH_ARG4_SAVED) args[4] = saved;
        const r = this.#inject(d.via, e.nr, args).result;
        if (e.flags & BATCH_SAVE_RESULT) saved = r;
        results.push(r);
      }
    }
    for (let i = 0; i < entries.length; i++) {
      const r = results[i]!;
      // close of a descriptor whose pidfd_getfd failed reports EBADF too: the getfd error counts.
      if (r < 0 && d.error === 0) d.error = r;
    }
  }

  /** Queues (when deferring) or runs entries as one operation; returns 0 or the first -errno. */
  #mapOp(via: Context, entries: BatchEntry[]): number {
    if (this.#deferred !== null) {
      this.#deferred.entries.push(...entries);
      return 0;
    }
    let results: number[];
    if (entries.length === 1) {
      const e = entries[0]!;
      results = [this.#inject(via as PtraceContext, e.nr, e.args).result];
    } else if (this.#allStopped()) {
      results = this.#runBatch(via as PtraceContext, entries);
    } else {
      // Another thread runs application code: no batch; one injection each.
      results = [];
      let saved = 0;
      for (const e of entries) {
        const args = [...e.args];
        if (e.flags & BATCH_ARG0_SAVED) args[0] = saved;
        if (e.flags & BATCH_ARG4_SAVED) args[4] = saved;
        const r = this.#inject(via as PtraceContext, e.nr, args).result;
        if (e.flags & BATCH_SAVE_RESULT) saved = r;
        results.push(r);
      }
    }
    for (const r of results) if (r < 0) return r;
    return 0;
  }

  mapAnonymous(via: Context, addr: number, len: number, prot: Prot, shared: boolean): number {
    const flags = MAP_FIXED | MAP_ANONYMOUS | (shared ? MAP_SHARED : MAP_PRIVATE);
    return this.#mapOp(via, [{ nr: SYS_mmap, args: [addr, len, prot, flags, -1, 0], flags: 0 }]);
  }

  mapHostFile(
    via: Context,
    o: { addr: number; len: number; prot: Prot; shared: boolean; hostFd: number; offset: number },
  ): number {
    // Bring the sentry's descriptor into the stub just for the mmap, then close it there: the
    // application never holds a host file descriptor between syscalls. The three syscalls run
    // as one batch (one round trip) when they can; the fd is passed along inside the stub.
    const pidfd = this.#sentryPidfd(via);
    if (pidfd < 0) return pidfd;
    const flags = MAP_FIXED | (o.shared ? MAP_SHARED : MAP_PRIVATE);
    return this.#mapOp(via, [
      { nr: SYS_pidfd_getfd, args: [pidfd, o.hostFd, 0], flags: BATCH_SAVE_RESULT },
      { nr: SYS_mmap, args: [o.addr, o.len, o.prot, flags, -1, o.offset], flags: BATCH_ARG4_SAVED },
      { nr: SYS_close, args: [-1], flags: BATCH_ARG0_SAVED },
    ]);
  }

  /** The stub's pidfd of the sentry (opened on first use; inherited by forks). */
  #sentryPidfd(via: Context): number {
    if (this.sentryPidfdInStub < 0) {
      this.#flush();
      const r = this.#inject(via as PtraceContext, SYS_pidfd_open, [ffi.hostPid(), 0]).result;
      if (r < 0) return r;
      this.sentryPidfdInStub = r;
    }
    return this.sentryPidfdInStub;
  }

  unmap(via: Context, addr: number, len: number): number {
    return this.#mapOp(via, [{ nr: SYS_munmap, args: [addr, len], flags: 0 }]);
  }

  protect(via: Context, addr: number, len: number, prot: Prot): number {
    return this.#mapOp(via, [{ nr: SYS_mprotect, args: [addr, len, prot], flags: 0 }]);
  }

  discard(via: Context, addr: number, len: number): number {
    return this.inject(via, SYS_madvise, [addr, len, MADV_DONTNEED]);
  }

  remap(via: Context, o: { addr: number; oldLen: number; newLen: number; flags: number; newAddr: number }): number {
    return this.inject(via, SYS_mremap, [o.addr, o.oldLen, o.newLen, o.flags, o.newAddr]);
  }

  peakRssKb(): number {
    try {
      const m = /^VmHWM:\s+(\d+) kB/m.exec(Deno.readTextFileSync(`/proc/${this.pid}/status`));
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  }

  read(addr: number, dst: Uint8Array): number {
    this.#flush();
    if (addr < 0 || addr + dst.length > TASK_SIZE) return 0;
    const r = ffi.vmRead(this.pid, addr, dst);
    return r < 0 ? 0 : r;
  }

  write(addr: number, src: Uint8Array): number {
    this.#flush();
    if (addr < 0 || addr + src.length > TASK_SIZE) return 0;
    const r = ffi.vmWrite(this.pid, addr, src);
    return r < 0 ? 0 : r;
  }

  forceWrite(addr: number, src: Uint8Array): number {
    const r = this.write(addr, src);
    if (r === src.length) return r;
    // /proc/PID/mem writes with FOLL_FORCE, like ptrace's POKEDATA.
    using f = Deno.openSync(`/proc/${this.pid}/mem`, { write: true });
    f.seekSync(addr, Deno.SeekMode.Start);
    return f.writeSync(src);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.#deferred = null;
    this.platform.releaseStub(this);
  }
}

const ARG_REGS = ["rdi", "rsi", "rdx", "r10", "r8", "r9"] as const;

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
  readonly #dying = new Set<number>();
  /**
   * @nosave The zygote: an empty stub (host mappings removed, the sentry's pidfd open in it),
   * never run, that every new address space is forked from. Forking it is several times cheaper
   * than starting and seizing a new stub process. Null until first needed.
   */
  #zygote: PtraceContext | null = null;
  #stubPath = "";
  #stubDir = "";
  readonly #cpu: number | null;
  /** When the wake-up alarm fires (performance.now() in ns), or null if it is not armed. */
  #alarmAt: number | null = null;

  constructor(opts: PtraceOptions = {}) {
    const placement = opts.placement ?? "tracer";
    if (placement === "tracer") {
      // Pin only the tracer (JavaScript) thread, not the whole sentry, and put every stub on
      // the same CPU: a ptrace stop then costs two same-CPU switches.
      const cpu = ffi.currentCpu();
      this.#cpu = ffi.setAffinity(ffi.hostTid(), [cpu]) === 0 ? cpu : null;
    } else {
      this.#cpu = null;
    }
    // A stub forked from another (fork, the zygote's children) has that stub as its host parent;
    // when both die at shutdown its zombie would go to the host's init. As a subreaper the
    // sentry gets it back and reaps it (shutdown).
    ffi.becomeSubreaper();
  }

  #ensureStubBinary(): string {
    if (this.#stubPath === "") {
      this.#stubDir = Deno.makeTempDirSync({ prefix: "sentry-stub-" });
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
    const fresh = this.#zygote = this.#spawnStub(true);
    return fresh.addressSpace.fork(fresh);
  }

  /**
   * Starts a stub process with posix_spawn and seizes it: an empty address space (only the stub's
   * pages) with one stopped thread. With `zygote`, the sentry's pidfd is opened in it for its
   * forks to inherit.
   */
  #spawnStub(zygote: boolean): PtraceContext {
    const pid = ffi.spawnClean(this.#ensureStubBinary(), ["sentry-stub"]);
    try {
      const ctx = this.#seize(pid);
      this.#unmapHostMappings(ctx, pid);
      if (zygote) {
        const r = ctx.addressSpace.inject(ctx, SYS_pidfd_open, [ffi.hostPid(), 0]);
        if (r < 0) throw new Error(`pidfd_open in the stub failed: errno ${-r}`);
        ctx.addressSpace.sentryPidfdInStub = r;
      }
      return ctx;
    } catch (e) {
      ffi.kill(pid, SIGKILL);
      this.#reap(pid);
      this.#contexts.delete(pid);
      this.#stubs.delete(pid);
      throw e;
    }
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
      ffi.PTRACE_O_EXITKILL | ffi.PTRACE_O_TRACESYSGOOD | ffi.PTRACE_O_TRACECLONE |
        ffi.PTRACE_O_TRACEFORK | ffi.PTRACE_O_TRACEVFORK,
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

  /** Registers a host thread (stopped) as a context of `as`. */
  adopt(tid: number, as: StubAddressSpace): Context {
    const ctx = new PtraceContext(tid, as);
    this.#contexts.set(tid, ctx);
    as.threads.add(ctx);
    if (!this.#stubs.has(as.pid)) this.#stubs.set(as.pid, as);
    return ctx;
  }

  /** Ends one thread; the last thread of a stub takes the stub with it. */
  releaseContext(ctx: PtraceContext): void {
    if (!this.#contexts.has(ctx.tid)) return;
    const as = ctx.addressSpace;
    if (as.threads.size === 1) {
      as.release();
      return;
    }
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
    as.exitThread(ctx);
    this.#dying.add(ctx.tid);
  }

  /**
   * Kills a stub. Its threads' exits are collected later, with the other stops (or by shutdown):
   * waiting here would cost a switch to the dying stub and its teardown on every exit.
   */
  releaseStub(as: StubAddressSpace): void {
    ffi.kill(as.pid, SIGKILL);
    for (const ctx of as.threads) {
      this.#contexts.delete(ctx.tid);
      this.#dying.add(ctx.tid);
    }
    as.threads.clear();
    this.#stubs.delete(as.pid);
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

  resume(ctx: Context): void {
    const c = ctx as PtraceContext;
    c.flushRegs();
    c.running = true;
    ffi.ptrace(ffi.PTRACE_SYSEMU, c.tid, 0, 0);
  }

  #decode(pid: number, status: number): Stop | null {
    const ctx = this.#contexts.get(pid);
    if (!ctx) {
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
    if ((status & 0xff) !== 0x7f) {
      this.#contexts.delete(pid);
      ctx.addressSpace.threads.delete(ctx);
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
      } else {
        reason = { kind: "interrupt" };
      }
    }
    return { ctx, reason };
  }

  /**
   * Blocks in waitpid for the next stop, at most about timeoutNs. The wake-up alarm is armed
   * lazily: it stays armed across stops and is re-armed only when the wanted deadline is earlier
   * than the armed one (or it already fired), so most stops cost no timer syscall.
   */
  waitStop(timeoutNs: number): Stop | null {
    const now = performance.now() * 1e6;
    const want = now + timeoutNs;
    if (this.#alarmAt === null || this.#alarmAt > want + 50_000 || this.#alarmAt <= now) {
      ffi.armWakeAlarm(Math.max(1000, timeoutNs));
      this.#alarmAt = want;
    }
    for (;;) {
      const w = ffi.waitpid(-1, ffi.__WALL);
      if (w === "eintr") {
        this.#alarmAt = null;
        return null;
      }
      if (w === null) return null;
      const s = this.#decode(w.pid, w.status);
      if (s) return s;
    }
  }

  pollStop(): Stop | null {
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

  shutdown(): void {
    for (const as of [...this.#stubs.values()]) as.release();
    this.#zygote = null;
    // Collect the dying threads in whatever order they end: waiting for one tid would hang on a
    // thread-group leader whose other threads are not reaped yet (its exit is reported last).
    while (this.#dying.size > 0) {
      let w;
      try {
        w = ffi.waitpid(-1, ffi.__WALL);
      } catch {
        break; // ECHILD: nothing left
      }
      if (w === "eintr" || w === null) continue;
      if ((w.status & 0xff) === 0x7f) {
        // A stop reported before the exit: let it go on dying.
        try {
          ffi.ptrace(ffi.PTRACE_CONT, w.pid, 0, 0);
        } catch { /* killed meanwhile */ }
        continue;
      }
      this.#dying.delete(w.pid);
    }
    this.#dying.clear();
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
        Deno.removeSync(this.#stubDir, { recursive: true });
      } catch { /* already gone */ }
      this.#stubDir = "";
      this.#stubPath = "";
    }
  }
}
