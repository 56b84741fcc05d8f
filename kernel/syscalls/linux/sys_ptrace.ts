/**
 * ptrace(2): the requests, over the trace model of kernel/ptrace.ts. The raw syscall's
 * conventions: PEEK requests store the word at `data` (glibc's wrapper returns it), a tracee
 * must be in a ptrace-stop for every request but PTRACE_KILL and PTRACE_INTERRUPT (ESRCH
 * otherwise, as for a task the caller does not trace).
 *
 * Registers a tracer writes reach the host stub only after the sentry vetted them: segment
 * selectors stay the host's, the trap flag and the privileged flags are not taken, and a base
 * outside the address space is EIO (Linux's putreg). PTRACE_SINGLESTEP uses the host's own
 * single-step of the stub (kernel/ptrace.ts).
 *
 * @module
 */

import { EINVAL, EIO, EPERM, ESRCH, errnoFromNumber, LinuxError } from "../../errno.ts";
import { armDebugRegs, type DebugRegs, DR6_RESERVED, encodeDr7, newDebugRegs, X86_BREAKPOINT_EXECUTE, X86_BREAKPOINT_LEN_X } from "../../debug_regs.ts";
import type { Task } from "../../task.ts";
import { REG, type RegName } from "../../../platform/mod.ts";
import { decodeSigInfo, encodeSigInfo, frameXstateLength } from "../../signal_frame.ts";
import { enterStop, link, PTRACE_EVENT_STOP, PTRACE_O_MASK, resume, stopStatus, unlink } from "../../ptrace.ts";
import { mayAttach } from "./sys_process_vm.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import { SIGKILL, SIGSTOP, SIGTRAP } from "../../../abi/linux/signal.ts";

const PTRACE_TRACEME = 0;
const PTRACE_PEEKTEXT = 1;
const PTRACE_PEEKDATA = 2;
const PTRACE_PEEKUSER = 3;
const PTRACE_POKETEXT = 4;
const PTRACE_POKEDATA = 5;
const PTRACE_POKEUSER = 6;
const PTRACE_CONT = 7;
const PTRACE_KILL = 8;
const PTRACE_SINGLESTEP = 9;
const PTRACE_GETREGS = 12;
const PTRACE_SETREGS = 13;
const PTRACE_GETFPREGS = 14;
const PTRACE_SETFPREGS = 15;
const PTRACE_ATTACH = 16;
const PTRACE_DETACH = 17;
const PTRACE_SYSCALL = 24;
const PTRACE_SYSEMU = 31;
const PTRACE_SYSEMU_SINGLESTEP = 32;
const PTRACE_SETOPTIONS = 0x4200;
const PTRACE_GETEVENTMSG = 0x4201;
const PTRACE_GETSIGINFO = 0x4202;
const PTRACE_SETSIGINFO = 0x4203;
const PTRACE_GETREGSET = 0x4204;
const PTRACE_SETREGSET = 0x4205;
const PTRACE_SEIZE = 0x4206;
const PTRACE_INTERRUPT = 0x4207;
const PTRACE_LISTEN = 0x4208;
const PTRACE_GETSIGMASK = 0x420a;
const PTRACE_SETSIGMASK = 0x420b;

const NT_PRSTATUS = 1;
const NT_PRFPREG = 2;
const NT_X86_XSTATE = 0x202;

/** struct user: the registers, then (at 848) the debug registers. */
const USER_REGS_SIZE = 216;
const USER_DEBUGREG = 848;
const USER_SIZE = 912;
const FXSAVE_SIZE = 512;
/** Highest user address + 1 (Linux's TASK_SIZE_MAX): bases at or past it are EIO. */
const TASK_SIZE = 0x7ffffffff000;
/** The flags a tracer may set (Linux's FLAG_MASK less TF: no single-stepping here). */
const USER_FLAGS = 0x50dd5n & ~0x100n;
const SEGMENTS: readonly RegName[] = ["cs", "ss", "ds", "es", "fs", "gs"];

/** The task t traces with id pid, in a ptrace-stop unless `anyState`; ESRCH otherwise. */
function tracee(t: Task, pid: number, anyState = false): Task {
  const x = pid > 0 ? t.findTask(pid) : undefined;
  if (x === undefined || x.ptrace === null || x.ptrace.tracer !== t || x.state === "dead") throw ESRCH;
  if (!anyState && x.ptrace.stop === null) throw ESRCH;
  return x;
}

/** Checks a signal number a tracer passes on (0: none). */
function resumeSignal(data: number): number {
  if (data < 0 || data > 64) throw EIO;
  return data;
}

/** Writes regs (user_regs_struct bytes) into x's registers, vetted as Linux's putreg. */
function setRegs(x: Task, bytes: Uint8Array): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const b of ["fs_base", "gs_base"] as const) if (v.getBigUint64(REG[b], true) >= BigInt(TASK_SIZE)) throw EIO;
  const r = x.ctx.regs;
  const keep = new Map(SEGMENTS.map((s) => [s, r.get64(s)] as const));
  const oldFlags = r.get64("eflags");
  r.bytes.set(bytes.subarray(0, USER_REGS_SIZE));
  for (const [s, val] of keep) r.set64(s, val);
  r.set64("eflags", (oldFlags & ~USER_FLAGS) | (r.get64("eflags") & USER_FLAGS));
  x.ctx.markRegsDirty();
}

/** One 8-byte register of struct user at off (PEEKUSER/POKEUSER). */
function userWord(x: Task, off: number): bigint {
  if (off < 0 || off % 8 !== 0 || off >= USER_SIZE) throw EIO;
  if (off < USER_REGS_SIZE) return new DataView(x.ctx.regs.bytes.buffer, x.ctx.regs.bytes.byteOffset).getBigUint64(off, true);
  // Linux's ptrace_get_debugreg: a breakpoint's address, the virtual DR6 in the CPU's
  // polarity, DR7 as last written; DR4, DR5 and the rest of struct user read as zero.
  if (off >= USER_DEBUGREG && off < USER_DEBUGREG + 64) {
    const n = (off - USER_DEBUGREG) / 8, d = x.debugRegs;
    if (n < 4) return d?.bps[n]?.addr ?? 0n;
    if (n === 6) return (d?.dr6 ?? 0n) ^ DR6_RESERVED;
    if (n === 7) return d?.dr7 ?? 0n;
  }
  return 0n;
}

/** Linux's TASK_SIZE_MAX on x86-64 (47-bit user space less a guard page). */
const TASK_SIZE_MAX = 0x7ffffffff000n;
const X86_BREAKPOINT_LEN_1 = 0x40, X86_BREAKPOINT_LEN_2 = 0x44, X86_BREAKPOINT_LEN_4 = 0x4c, X86_BREAKPOINT_LEN_8 = 0x48;
const X86_BREAKPOINT_WRITE = 0x81, X86_BREAKPOINT_RW = 0x83;
const DR_CONTROL_RESERVED = 0xffffffff0000fc00n;

/**
 * Whether a breakpoint of this x86 length and type at addr is one ptrace may register: Linux's
 * arch_bp_generic_fields (an execute breakpoint has no length; an I/O one does not exist), then
 * hw_breakpoint_parse (the address aligned to the length, and the whole range in user space:
 * ptrace's breakpoints exclude the kernel). EINVAL otherwise.
 */
function checkBreakpoint(addr: bigint, len: number, type: number): void {
  if (type === X86_BREAKPOINT_EXECUTE) {
    if (len !== X86_BREAKPOINT_LEN_X) throw EINVAL;
  } else if (type !== X86_BREAKPOINT_WRITE && type !== X86_BREAKPOINT_RW) {
    throw EINVAL;
  }
  const bytes = type === X86_BREAKPOINT_EXECUTE ? 1n
    : ({ [X86_BREAKPOINT_LEN_1]: 1n, [X86_BREAKPOINT_LEN_2]: 2n, [X86_BREAKPOINT_LEN_4]: 4n, [X86_BREAKPOINT_LEN_8]: 8n } as Record<number, bigint>)[len];
  if (bytes === undefined) throw EINVAL;
  if (addr & (bytes - 1n)) throw EINVAL;
  if (addr >= TASK_SIZE_MAX || addr + bytes - 1n >= TASK_SIZE_MAX) throw EINVAL;
}

/**
 * Linux's ptrace_write_dr7: each slot's enable, length and type from DR7 (reserved bits
 * ignored); a disabled slot without a breakpoint is skipped, an enabled one registers a
 * breakpoint at address 0, a registered one is modified (checked even when disabled). The first
 * refusal ends the pass, and DR7 as the breakpoints stood is applied again.
 */
function writeDr7(d: DebugRegs, value: bigint): void {
  const old = encodeDr7(d);
  let data = value & ~DR_CONTROL_RESERVED, err: LinuxError | null = null;
  for (let pass = 0; pass < 2; pass++) {
    let rc: LinuxError | null = null;
    for (let i = 0; i < 4; i++) {
      const info = Number((data >> BigInt(16 + 4 * i)) & 0xfn);
      const len = (info & 0xc) | 0x40, type = (info & 0x3) | 0x80;
      const disabled = ((data >> BigInt(2 * i)) & 3n) === 0n;
      const bp = d.bps[i];
      try {
        if (bp === null || bp === undefined) {
          if (disabled) continue;
          checkBreakpoint(0n, len, type);
          d.bps[i] = { addr: 0n, len, type, disabled };
        } else {
          checkBreakpoint(bp.addr, len, type);
          d.bps[i] = { addr: bp.addr, len, type, disabled };
        }
      } catch (e) {
        if (!(e instanceof LinuxError)) throw e;
        rc = e;
        break;
      }
    }
    if (rc === null || pass === 1) break;
    err = rc;
    data = old;
  }
  if (err !== null) throw err;
}

/**
 * POKEUSER of a debug register, as Linux's ptrace_set_debugreg: DR0-DR3 set a breakpoint's
 * address (the first write registers it disabled, as a 1-byte write watchpoint), DR4 and DR5 are
 * EIO, DR6 is the virtual DR6 (stored in positive polarity), DR7 enables and shapes the
 * breakpoints (writeDr7). What is accepted is armed on the host thread at once, so the
 * breakpoints fire as SIGTRAP with TRAP_HWBKPT when the tracee runs.
 */
function setDebugReg(x: Task, n: number, value: bigint): void {
  if (n === 4 || n === 5) throw EIO;
  const d = x.debugRegs ?? newDebugRegs();
  const before = { bps: d.bps.map((b) => b === null ? null : { ...b }), dr6: d.dr6, dr7: d.dr7 };
  if (n < 4) {
    const bp = d.bps[n];
    if (bp === null || bp === undefined) {
      checkBreakpoint(value, X86_BREAKPOINT_LEN_1, X86_BREAKPOINT_WRITE);
      d.bps[n] = { addr: value, len: X86_BREAKPOINT_LEN_1, type: X86_BREAKPOINT_WRITE, disabled: true };
    } else {
      checkBreakpoint(value, bp.len, bp.type);
      bp.addr = value;
    }
  } else if (n === 6) {
    d.dr6 = value ^ DR6_RESERVED;
  } else {
    writeDr7(d, value); // throws after putting the old enables back
    d.dr7 = value;
  }
  x.debugRegs = d;
  if (n === 6) return; // nothing of DR6 reaches the host thread
  const r = armDebugRegs(x);
  if (r < 0) {
    // The host refused what Linux's checks accepted (its debug registers are taken): as Linux
    // when no slot is free.
    x.debugRegs = before;
    armDebugRegs(x);
    throw errnoFromNumber(-r);
  }
}

function setUserWord(x: Task, off: number, value: bigint): void {
  if (off < 0 || off % 8 !== 0 || off >= USER_SIZE) throw EIO;
  if (off >= USER_REGS_SIZE) {
    if (off >= USER_DEBUGREG && off < USER_DEBUGREG + 64) return setDebugReg(x, (off - USER_DEBUGREG) / 8, value);
    throw EIO;
  }
  const bytes = x.ctx.regs.bytes.slice();
  new DataView(bytes.buffer).setBigUint64(off, value, true);
  setRegs(x, bytes);
}

/**
 * Checks that the word at addr lies in the application's own mappings: never in what the
 * platform keeps in the address space (the stub's code and stacks, which a forced write could
 * otherwise reach), nor, for a write, in the vDSO's shared parameters page. EIO otherwise, as
 * Linux's access_process_vm for an unmapped address.
 */
function checkWord(x: Task, addr: number, write: boolean): void {
  for (const a of [addr, addr + 7]) {
    const v = x.mm.findVma(a);
    if (v === undefined || (write && v.file === null && v.name === "[vvar]")) throw EIO;
    if (v.file?.secretMemory) throw EIO; // secret memory: GUP finds no page (access_process_vm)
  }
}

/** Reads an 8-byte word of x's memory (FOLL_FORCE: PROT_NONE pages too), EIO if unmapped. */
function peek(x: Task, addr: number): Uint8Array {
  checkWord(x, addr, false);
  const b = new Uint8Array(8);
  if (x.mm.read(addr, b) !== 8) throw EIO;
  return b;
}

/** Writes an 8-byte word (FOLL_FORCE: read-only code too, as a debugger's breakpoint). */
function poke(x: Task, addr: number, word: bigint): void {
  checkWord(x, addr, true);
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, word, true);
  if (x.mm.as.forceWrite(addr, b) !== 8) throw EIO;
}

/** The iovec at addr: base and length. */
function readIovec(t: Task, addr: number): { base: number; len: number } {
  const b = t.copyIn(addr, 16);
  const v = new DataView(b.buffer, b.byteOffset);
  return { base: Number(v.getBigUint64(0, true)), len: Number(v.getBigUint64(8, true)) };
}

/** The bytes of regset `type` of x. */
function regset(x: Task, type: number): Uint8Array {
  switch (type) {
    case NT_PRSTATUS:
      return x.ctx.regs.bytes.slice(0, USER_REGS_SIZE);
    case NT_PRFPREG:
      return x.ctx.getFpState().slice(0, FXSAVE_SIZE);
    case NT_X86_XSTATE: {
      const fp = x.ctx.getFpState();
      return fp.slice(0, frameXstateLength(fp));
    }
    default:
      throw EINVAL;
  }
}

function setRegset(x: Task, type: number, bytes: Uint8Array): void {
  switch (type) {
    case NT_PRSTATUS:
      setRegs(x, bytes);
      return;
    case NT_PRFPREG: {
      const fp = x.ctx.getFpState();
      fp.set(bytes.subarray(0, FXSAVE_SIZE));
      x.ctx.setFpState(fp);
      return;
    }
    default:
      throw EINVAL;
  }
}

const REGSET_SIZES: Record<number, number> = { [NT_PRSTATUS]: USER_REGS_SIZE, [NT_PRFPREG]: FXSAVE_SIZE };

/** Implements ptrace(2). */
const sysPtrace: SyscallFn = (t, a) => {
  const req = a.long(0), pid = a.int(1), addr = a.pointer(2), data = a.pointer(3);
  switch (req) {
    case PTRACE_TRACEME: {
      const parent = t.tg.parent;
      if (t.ptrace !== null || parent === null || parent.zombie) throw EPERM;
      const tracer = (t.tg.parentThread !== 0 ? t.kernel.tasks.get(t.tg.parentThread) : undefined) ?? parent.leader;
      if (!tracer || tracer.tg !== parent) throw EPERM;
      // ptrace_traceme links with the caller's (the tracee's) credentials.
      link(t, tracer, false, 0, t.creds);
      return 0;
    }
    case PTRACE_ATTACH:
    case PTRACE_SEIZE: {
      const x = pid > 0 ? t.findTask(pid) : undefined;
      if (x === undefined || x.tg.zombie || x.state === "dead") throw ESRCH;
      if (req === PTRACE_SEIZE && addr !== 0) throw EIO;
      if (req === PTRACE_SEIZE && (data & ~PTRACE_O_MASK) !== 0) throw EINVAL;
      // Not one's own process, not one traced already, and only with the rights to (ptrace_attach).
      if (x.tg === t.tg || x.ptrace !== null || !mayAttach(t, x)) throw EPERM;
      link(x, t, req === PTRACE_SEIZE, req === PTRACE_SEIZE ? data : 0);
      if (req === PTRACE_ATTACH) t.kernel.sendSignal(x.tg, SIGSTOP, { code: 0, pid: t.tg.tgid, uid: t.creds.uid }, x);
      // Already in a group stop: that becomes a ptrace-stop the tracer's wait reports.
      if (x.state === "stopped" && x.tg.groupStop !== null) enterStop(x, { kind: "group", signo: x.tg.groupStop.signo });
      return 0;
    }
    case PTRACE_INTERRUPT: {
      const x = tracee(t, pid, true);
      if (!x.ptrace!.seized) throw EIO;
      if (x.ptrace!.stop === null) {
        x.ptrace!.interrupt = true;
        t.kernel.interruptTask(x);
      }
      return 0;
    }
    case PTRACE_KILL: {
      const x = tracee(t, pid, true);
      t.kernel.sendSignal(x.tg, SIGKILL);
      return 0;
    }
  }
  const x = tracee(t, pid);
  const l = x.ptrace!;
  switch (req) {
    case PTRACE_PEEKTEXT:
    case PTRACE_PEEKDATA:
      t.copyOut(data, peek(x, addr));
      return 0;
    case PTRACE_PEEKUSER:
      t.copyOutU64(data, userWord(x, addr));
      return 0;
    case PTRACE_POKETEXT:
    case PTRACE_POKEDATA:
      poke(x, addr, BigInt.asUintN(64, BigInt(a.long(3))));
      return 0;
    case PTRACE_POKEUSER:
      setUserWord(x, addr, BigInt.asUintN(64, BigInt(a.long(3))));
      return 0;
    case PTRACE_GETREGS:
      t.copyOut(data, x.ctx.regs.bytes.slice(0, USER_REGS_SIZE));
      return 0;
    case PTRACE_SETREGS:
      setRegs(x, t.copyIn(data, USER_REGS_SIZE));
      return 0;
    case PTRACE_GETFPREGS:
      t.copyOut(data, regset(x, NT_PRFPREG));
      return 0;
    case PTRACE_SETFPREGS:
      setRegset(x, NT_PRFPREG, t.copyIn(data, FXSAVE_SIZE));
      return 0;
    case PTRACE_GETREGSET: {
      const iov = readIovec(t, data);
      const b = regset(x, addr);
      const n = Math.min(iov.len, b.length);
      t.copyOut(iov.base, b.subarray(0, n));
      t.copyOutU64(data + 8, n);
      return 0;
    }
    case PTRACE_SETREGSET: {
      const iov = readIovec(t, data);
      const size = REGSET_SIZES[addr];
      if (size === undefined) throw EINVAL;
      if (iov.len < size) throw EINVAL;
      setRegset(x, addr, t.copyIn(iov.base, size));
      return 0;
    }
    case PTRACE_GETSIGINFO: {
      const stop = l.stop!;
      if (stop.kind === "group") throw EINVAL;
      // Syscall and event stops are SIGTRAPs whose si_code is the stop's (Linux's ptrace_notify).
      const info = stop.kind === "signal"
        ? stop.info
        : { signo: SIGTRAP, code: (stopStatus(l, stop) >> 8) & 0xffff, pid: x.tid, uid: x.creds.uid };
      t.copyOut(data, encodeSigInfo(info));
      return 0;
    }
    case PTRACE_SETSIGINFO: {
      if (l.stop?.kind !== "signal") throw EINVAL;
      const info = decodeSigInfo(t.copyIn(data, 128));
      l.stop.info = { ...info, signo: l.stop.signo };
      return 0;
    }
    case PTRACE_GETSIGMASK:
      if (addr !== 8) throw EINVAL;
      t.copyOutU64(data, x.sigmask);
      return 0;
    case PTRACE_SETSIGMASK:
      if (addr !== 8) throw EINVAL;
      x.sigmask = t.copyInU64(data) & ~((1n << 8n) | (1n << 18n)); // never SIGKILL or SIGSTOP
      return 0;
    case PTRACE_SETOPTIONS:
      if (data & ~PTRACE_O_MASK) throw EINVAL;
      l.options = data;
      return 0;
    case PTRACE_GETEVENTMSG:
      t.copyOutU64(data, l.eventMessage);
      return 0;
    case PTRACE_CONT:
    case PTRACE_SYSCALL:
    case PTRACE_SYSEMU:
    case PTRACE_SINGLESTEP:
    case PTRACE_SYSEMU_SINGLESTEP: {
      const sig = resumeSignal(data);
      l.syscallStops = req === PTRACE_SYSCALL || req === PTRACE_SYSEMU || req === PTRACE_SYSEMU_SINGLESTEP;
      l.sysemu = req === PTRACE_SYSEMU || req === PTRACE_SYSEMU_SINGLESTEP;
      l.singleStep = req === PTRACE_SINGLESTEP || req === PTRACE_SYSEMU_SINGLESTEP;
      resume(x, sig);
      return 0;
    }
    case PTRACE_DETACH:
      unlink(x, resumeSignal(data));
      return 0;
    case PTRACE_LISTEN: {
      // A seized tracee in a PTRACE_EVENT_STOP (its group stop, or PTRACE_INTERRUPT's).
      const st = l.stop!;
      const eventStop = st.kind === "group" || (st.kind === "event" && st.event === PTRACE_EVENT_STOP);
      if (!l.seized || !eventStop) throw EIO;
      l.stop = null;
      l.report = false;
      l.listening = true;
      return 0;
    }
    default:
      throw EIO;
  }
};

export const table: Record<number, SyscallEntry> = {
  101: supported("ptrace", sysPtrace),
};
