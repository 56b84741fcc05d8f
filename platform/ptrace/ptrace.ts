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
import { buildStubElf, STUB_BASE, STUB_INJECT_ADDR, STUB_INJECT_TRAP_ADDR, STUB_SIZE } from "./stub_elf.ts";
import type { AddressSpace, Context, CpuTime, Platform, Prot, Stop, StopReason } from "../mod.ts";

const SIGKILL = 9;
const SIGTRAP = 5;
const SIGSTOP = 19;
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

class StubAddressSpace implements AddressSpace {
  readonly minAddr = 0x10000;
  readonly maxAddr = TASK_SIZE;
  readonly reserved = [{ start: STUB_BASE, end: STUB_BASE + STUB_SIZE }];
  /** A pidfd of the sentry, open inside the stub, for pidfd_getfd. -1 until first needed. */
  #sentryPidfdInStub = -1;
  released = false;

  constructor(readonly platform: PtracePlatform, readonly pid: number) {}

  /**
   * Runs one syscall on the host inside the stub, on thread `via`, which must be stopped.
   * Preconditions:
   * - `via` is stopped and belongs to this address space.
   * The thread's application registers are kept in via.regs and written back on resume.
   */
  inject(via: Context, nr: number, args: number[]): number {
    return this.#inject(via as PtraceContext, nr, args).result;
  }

  /**
   * Runs the syscall and collects what it did: its result and, for clone, the tid of the new
   * host thread or process (auto-attached by PTRACE_O_TRACECLONE/FORK).
   */
  #inject(ctx: PtraceContext, nr: number, args: number[]): { result: number; newTid: number } {
    if (ctx.running) throw new Error("Cannot inject a syscall: the thread is running");
    const saved = ctx.regs.clone(); // reads the registers if not read yet
    const r = ctx.regs;
    r.set("rax", nr);
    r.set("orig_rax", -1);
    const names = ["rdi", "rsi", "rdx", "r10", "r8", "r9"] as const;
    for (let i = 0; i < 6; i++) r.set(names[i]!, args[i] ?? 0);
    r.set("rip", STUB_INJECT_ADDR);
    ffi.ptraceBuf(ffi.PTRACE_SETREGS, ctx.tid, 0, r.bytes);
    ffi.ptrace(ffi.PTRACE_CONT, ctx.tid, 0, 0);
    let result: number;
    let newTid = 0;
    for (;;) {
      const w = ffi.waitpid(ctx.tid, ffi.__WALL);
      if (w === "eintr" || w === null) continue;
      const st = w.status;
      if ((st & 0xff) !== 0x7f) {
        throw new Error(`Stub ${ctx.tid} died during an injected syscall (status ${st})`);
      }
      const sig = (st >> 8) & 0xff, event = st >>> 16;
      if (sig === SIGTRAP && event === 0) {
        ffi.ptraceBuf(ffi.PTRACE_GETREGS, ctx.tid, 0, r.bytes);
        if (r.get("rip") !== STUB_INJECT_TRAP_ADDR) {
          throw new Error(`Injected syscall ${nr} trapped at an unexpected address`);
        }
        result = Number(BigInt.asIntN(64, r.get64("rax")));
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
    return { result, newTid };
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
    const flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
    const { result, newTid } = this.#inject(via as PtraceContext, SYS_clone, [flags, 0, 0, 0, 0]);
    if (result < 0) throw new Error(`clone in the stub failed: errno ${-result}`);
    if (newTid === 0) throw new Error("clone in the stub reported no new thread");
    this.#adoptNew(newTid);
    return this.platform.adopt(newTid, this);
  }

  fork(via: Context): Context {
    // A copy of the whole stub: the host copies the pages on write, the kernel copies the VMAs.
    const { result, newTid } = this.#inject(via as PtraceContext, SYS_clone, [0, 0, 0, 0, 0]);
    if (result < 0) throw new Error(`clone in the stub failed: errno ${-result}`);
    if (newTid === 0) throw new Error("clone in the stub reported no new process");
    this.#adoptNew(newTid);
    const as = new StubAddressSpace(this.platform, newTid);
    as.#sentryPidfdInStub = this.#sentryPidfdInStub; // descriptors are copied by fork
    return this.platform.adopt(newTid, as);
  }

  /** Ends one host thread of this stub (not the whole stub), by making it call exit. */
  exitThread(ctx: PtraceContext): void {
    const r = ctx.regs;
    r.set("rax", 60);
    r.set("orig_rax", -1);
    r.set("rdi", 0);
    r.set("rip", STUB_INJECT_ADDR);
    ffi.ptraceBuf(ffi.PTRACE_SETREGS, ctx.tid, 0, r.bytes);
    ffi.ptrace(ffi.PTRACE_CONT, ctx.tid, 0, 0);
    for (;;) {
      const w = ffi.waitpid(ctx.tid, ffi.__WALL);
      if (w === "eintr" || w === null) continue;
      if ((w.status & 0xff) !== 0x7f) return;
      ffi.ptrace(ffi.PTRACE_CONT, ctx.tid, 0, 0);
    }
  }

  mapAnonymous(via: Context, addr: number, len: number, prot: Prot, shared: boolean): number {
    const flags = MAP_FIXED | MAP_ANONYMOUS | (shared ? MAP_SHARED : MAP_PRIVATE);
    const r = this.inject(via, SYS_mmap, [addr, len, prot, flags, -1, 0]);
    return r < 0 ? r : 0;
  }

  mapHostFile(
    via: Context,
    o: { addr: number; len: number; prot: Prot; shared: boolean; hostFd: number; offset: number },
  ): number {
    // Bring the sentry's descriptor into the stub just for the mmap, then close it there: the
    // application never holds a host file descriptor between syscalls.
    const fd = this.#fetchFd(via, o.hostFd);
    if (fd < 0) return fd;
    const flags = MAP_FIXED | (o.shared ? MAP_SHARED : MAP_PRIVATE);
    const r = this.inject(via, SYS_mmap, [o.addr, o.len, o.prot, flags, fd, o.offset]);
    this.inject(via, SYS_close, [fd]);
    return r < 0 ? r : 0;
  }

  /** Duplicates a sentry descriptor into the stub with pidfd_getfd; returns the stub's fd. */
  #fetchFd(via: Context, hostFd: number): number {
    if (this.#sentryPidfdInStub < 0) {
      // pidfd_open(sentry pid) run inside the stub.
      const r = this.inject(via, 434, [ffi.hostPid(), 0]);
      if (r < 0) return r;
      this.#sentryPidfdInStub = r;
    }
    return this.inject(via, SYS_pidfd_getfd, [this.#sentryPidfdInStub, hostFd, 0]);
  }

  unmap(via: Context, addr: number, len: number): number {
    return this.inject(via, SYS_munmap, [addr, len]);
  }

  protect(via: Context, addr: number, len: number, prot: Prot): number {
    return this.inject(via, SYS_mprotect, [addr, len, prot]);
  }

  discard(via: Context, addr: number, len: number): number {
    return this.inject(via, 28 /* madvise */, [addr, len, 4 /* MADV_DONTNEED */]);
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
    if (addr < 0 || addr + dst.length > TASK_SIZE) return 0;
    const r = ffi.vmRead(this.pid, addr, dst);
    return r < 0 ? 0 : r;
  }

  write(addr: number, src: Uint8Array): number {
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
    this.platform.releaseStub(this);
  }
}

/** The ptrace platform. One per sentry process. */
export class PtracePlatform implements Platform {
  readonly name = "ptrace";
  /** @nosave Every live thread of every stub, by host tid. */
  readonly #contexts = new Map<number, PtraceContext>();
  /** @nosave Stubs by host pid. */
  readonly #stubs = new Map<number, StubAddressSpace>();
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

  newAddressSpace(): Context {
    const pid = ffi.spawnClean(this.#ensureStubBinary(), ["sentry-stub"]);
    try {
      return this.#seize(pid);
    } catch (e) {
      ffi.kill(pid, SIGKILL);
      ffi.waitpid(pid, ffi.__WALL);
      throw e;
    }
  }

  #seize(pid: number): Context {
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
    if (this.#cpu !== null) ffi.setAffinity(pid, [this.#cpu]);
    const as = new StubAddressSpace(this, pid);
    const ctx = new PtraceContext(pid, as);
    this.#stubs.set(pid, as);
    this.#contexts.set(pid, ctx);
    this.#unmapHostMappings(ctx, pid);
    return ctx;
  }

  /** Removes what the host put in the stub (its stack, vDSO, vvar): only the stub page stays. */
  #unmapHostMappings(ctx: PtraceContext, pid: number): void {
    const maps = Deno.readTextFileSync(`/proc/${pid}/maps`);
    for (const line of maps.split("\n")) {
      const m = /^([0-9a-f]+)-([0-9a-f]+)/.exec(line);
      if (!m) continue;
      const start = parseInt(m[1]!, 16), end = parseInt(m[2]!, 16);
      if (start === STUB_BASE || start >= TASK_SIZE) continue; // the stub; [vsyscall]
      ctx.addressSpace.unmap(ctx, start, end - start);
    }
  }

  /** Registers a host thread that clone created (already stopped) as a context. */
  adopt(tid: number, as: StubAddressSpace): Context {
    if (this.#cpu !== null) ffi.setAffinity(tid, [this.#cpu]);
    const ctx = new PtraceContext(tid, as);
    this.#contexts.set(tid, ctx);
    if (!this.#stubs.has(as.pid)) this.#stubs.set(as.pid, as);
    return ctx;
  }

  /** Ends one thread; the last thread of a stub takes the stub with it. */
  releaseContext(ctx: PtraceContext): void {
    if (!this.#contexts.has(ctx.tid)) return;
    const as = ctx.addressSpace;
    const others = [...this.#contexts.values()].some((c) => c !== ctx && c.addressSpace === as);
    if (!others) {
      as.release();
      return;
    }
    this.#contexts.delete(ctx.tid);
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
  }

  releaseStub(as: StubAddressSpace): void {
    ffi.kill(as.pid, SIGKILL);
    // Reap every thread of the stub now, so that no host process outlives the address space.
    for (const [tid, ctx] of this.#contexts) {
      if (ctx.addressSpace === as) {
        this.#contexts.delete(tid);
        if (tid !== as.pid) ffi.waitpid(tid, ffi.__WALL);
      }
    }
    for (;;) {
      const w = ffi.waitpid(as.pid, ffi.__WALL);
      if (w === "eintr") continue;
      if (w === null) continue;
      if ((w.status & 0xff) === 0x7f) continue; // a last stop before the kill took effect
      break;
    }
    this.#stubs.delete(as.pid);
  }

  resume(ctx: Context): void {
    const c = ctx as PtraceContext;
    c.flushRegs();
    c.running = true;
    ffi.ptrace(ffi.PTRACE_SYSEMU, c.tid, 0, 0);
  }

  #decode(pid: number, status: number): Stop | null {
    const ctx = this.#contexts.get(pid);
    if (!ctx) return null; // a thread we already forgot (killed stub)
    ctx.running = false;
    if ((status & 0xff) !== 0x7f) {
      this.#contexts.delete(pid);
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
    if (this.#stubDir !== "") {
      try {
        Deno.removeSync(this.#stubDir, { recursive: true });
      } catch { /* already gone */ }
      this.#stubDir = "";
      this.#stubPath = "";
    }
  }
}
