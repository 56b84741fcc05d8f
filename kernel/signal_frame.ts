/**
 * Signal frames on the application stack (x86-64 `struct rt_sigframe`), built when a handler
 * is entered and read back by rt_sigreturn(2). Analogous to Linux's arch/x86/kernel/signal.c
 * and gVisor's arch/signal_amd64.go.
 *
 * Layout, from the frame's start (rsp when the handler starts, 16-byte aligned minus 8):
 *
 *   0    pretcode   return address: sa_restorer (calls rt_sigreturn)
 *   8    ucontext   uc_flags, uc_link, uc_stack (24), uc_mcontext (sigcontext, 256), uc_sigmask
 *   312  siginfo    128 bytes
 *   ...  the XSAVE image of the FP/SSE/AVX state, 64-byte aligned, above the frame
 *
 * @module
 */

import { EFAULT } from "./errno.ts";
import type { Registers } from "../platform/mod.ts";

export const UC_OFFSET = 8;
export const UCONTEXT_SIZE = 304;
export const SIGINFO_OFFSET = UC_OFFSET + UCONTEXT_SIZE;
export const SIGINFO_SIZE = 128;
export const FRAME_SIZE = SIGINFO_OFFSET + SIGINFO_SIZE;

/** Offsets inside struct ucontext. */
const UC = { flags: 0, link: 8, stack: 16, mcontext: 40, sigmask: 296 } as const;

/** struct sigcontext field order (8 bytes each), then cs/gs/fs/ss as u16s. */
const SC_REGS = [
  "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rdi", "rsi", "rbp", "rbx", "rdx", "rax",
  "rcx", "rsp", "rip", "eflags",
] as const;
const SC = { cs: 144, gs: 146, fs: 148, ss: 150, err: 152, trapno: 160, oldmask: 168, cr2: 176, fpstate: 184 } as const;

const UC_FP_XSTATE = 0x1;
const UC_SIGCONTEXT_SS = 0x2;
const UC_STRICT_RESTORE_SS = 0x4;
const FP_XSTATE_MAGIC1 = 0x46505853;
const FP_XSTATE_MAGIC2 = 0x46505845;

/** @savable The parts of siginfo_t the sentry fills. */
export interface SigInfo {
  signo: number;
  code: number;
  errno?: number;
  /** Sender (kill), or child (SIGCHLD). */
  pid?: number;
  uid?: number;
  /** SIGCHLD: exit status or signal. */
  status?: number;
  /**
   * Faults: the address. A bigint where a number cannot hold it exactly (a vsyscall entry's
   * SIGSYS: 0xffffffffff600400 is past 2^53).
   */
  addr?: number | bigint;
  /** sigqueue: the value. */
  value?: bigint;
  /** Timers: the timer id and overrun. */
  timerId?: number;
  /** For a POSIX timer's signal: the timer's seq when it was queued (timers.ts). */
  timerSeq?: number;
  overrun?: number;
  /** SIGIO from O_ASYNC (the SIGPOLL layout): the poll band and the descriptor. */
  band?: number;
  fd?: number;
  /** SIGSYS from a seccomp filter (SYS_SECCOMP): the syscall and its audit arch; addr: after the instruction. */
  syscall?: number;
  arch?: number;
  /**
   * Queued without a siginfo: its user was at RLIMIT_SIGPENDING, so only the signal is pending,
   * as Linux's bit without a sigqueue (delivered as SI_USER from pid 0), and it holds no place
   * (kernel/task_signals.ts).
   */
  lost?: true;
}

const SIGCHLD = 17;
const FAULT_SIGNALS = new Set([4, 5, 7, 8, 11]);

/** Encodes a siginfo_t (128 bytes). */
export function encodeSigInfo(i: SigInfo): Uint8Array {
  const b = new Uint8Array(SIGINFO_SIZE);
  const v = new DataView(b.buffer);
  v.setInt32(0, i.signo, true);
  v.setInt32(4, i.errno ?? 0, true);
  v.setInt32(8, i.code, true);
  if (FAULT_SIGNALS.has(i.signo) && i.code > 0) {
    v.setBigUint64(16, BigInt(i.addr ?? 0), true);
  } else if (i.syscall !== undefined) {
    v.setBigUint64(16, BigInt(i.addr ?? 0), true);
    v.setInt32(24, i.syscall, true);
    v.setUint32(28, i.arch ?? 0, true);
  } else if (i.band !== undefined) {
    v.setBigInt64(16, BigInt(i.band), true);
    v.setInt32(24, i.fd ?? 0, true);
  } else if (i.timerId !== undefined) {
    v.setInt32(16, i.timerId, true);
    v.setInt32(20, i.overrun ?? 0, true);
    v.setBigUint64(24, i.value ?? 0n, true);
  } else {
    v.setInt32(16, i.pid ?? 0, true);
    v.setUint32(20, i.uid ?? 0, true);
    if (i.signo === SIGCHLD) v.setInt32(24, i.status ?? 0, true);
    else v.setBigUint64(24, i.value ?? 0n, true);
  }
  return b;
}

/** Decodes a siginfo_t from the application (rt_sigqueueinfo). */
export function decodeSigInfo(b: Uint8Array): SigInfo {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    signo: v.getInt32(0, true), errno: v.getInt32(4, true), code: v.getInt32(8, true),
    pid: v.getInt32(16, true), uid: v.getUint32(20, true), value: v.getBigUint64(24, true),
  };
}

/** An alternate signal stack (sigaltstack(2)). @savable */
export interface AltStack {
  sp: number;
  size: number;
  flags: number;
}

/** What the frame needs that is not in the registers. */
export interface FrameInput {
  regs: Registers;
  xstate: Uint8Array;
  info: SigInfo;
  /** The mask to restore at sigreturn (the mask before the handler). */
  oldMask: bigint;
  altStack: AltStack;
  handler: bigint;
  restorer: bigint;
  /** True to switch to the alternate stack (SA_ONSTACK and not already on it). */
  onAltStack: boolean;
}

/** The bytes to write and where, and the handler's starting rsp. */
export interface BuiltFrame {
  addr: number;
  bytes: Uint8Array;
  frameAddr: number;
  infoAddr: number;
  ucAddr: number;
}

/** Lays out an rt_sigframe below the current stack (or on the alternate stack). */
export function buildFrame(f: FrameInput): BuiltFrame {
  const r = f.regs;
  let sp = f.onAltStack ? f.altStack.sp + f.altStack.size : r.get("rsp") - 128; // red zone
  const xlen = frameXstateLength(f.xstate);
  const xsize = xlen + 4; // FP_XSTATE_MAGIC2 after the image
  sp -= xsize;
  sp -= sp % 64;
  const fpAddr = sp;
  let frame = sp - FRAME_SIZE;
  frame -= frame % 16;
  frame -= 8;
  const top = fpAddr + xsize;
  const bytes = new Uint8Array(top - frame);
  const v = new DataView(bytes.buffer);
  v.setBigUint64(0, f.restorer, true);
  const uc = UC_OFFSET;
  v.setBigUint64(uc + UC.flags, BigInt(UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS), true);
  v.setBigUint64(uc + UC.stack, BigInt(f.altStack.sp), true);
  v.setInt32(uc + UC.stack + 8, f.altStack.flags, true);
  v.setBigUint64(uc + UC.stack + 16, BigInt(f.altStack.size), true);
  const mc = uc + UC.mcontext;
  SC_REGS.forEach((name, i) => v.setBigUint64(mc + 8 * i, r.get64(name), true));
  v.setUint16(mc + SC.cs, Number(r.get64("cs")), true);
  v.setUint16(mc + SC.ss, Number(r.get64("ss")), true);
  v.setBigUint64(mc + SC.trapno, BigInt(FAULT_SIGNALS.has(f.info.signo) ? 14 : 0), true);
  v.setBigUint64(mc + SC.oldmask, f.oldMask & 0xffffffffn, true);
  v.setBigUint64(mc + SC.cr2, BigInt(f.info.addr ?? 0), true);
  v.setBigUint64(mc + SC.fpstate, BigInt(fpAddr), true);
  v.setBigUint64(uc + UC.sigmask, f.oldMask, true);
  bytes.set(encodeSigInfo(f.info), SIGINFO_OFFSET);
  // The FP state, with the software-reserved bytes that mark it as an XSAVE image.
  const fp = f.xstate.slice(0, xlen);
  const fv = new DataView(fp.buffer);
  // The features the frame may hold (Linux's user_xfeatures): the host's XCR0 (which ptrace
  // puts at 464) less the tile data a frame leaves out.
  const xcr0 = fp.length > 576 ? fv.getBigUint64(464, true) : 0n;
  const xfeatures = xcr0 === 0n ? (fp.length > 576 ? fv.getBigUint64(512, true) : 3n) : xlen < f.xstate.length ? xcr0 & ~(1n << XTILEDATA_BIT) : xcr0;
  if (fp.length > 576) fv.setBigUint64(512, fv.getBigUint64(512, true) & xfeatures, true);
  fv.setUint32(464, FP_XSTATE_MAGIC1, true);
  fv.setUint32(468, xsize, true);
  fv.setBigUint64(472, xfeatures, true);
  fv.setUint32(480, fp.length, true);
  bytes.set(fp, fpAddr - frame);
  v.setUint32(fpAddr - frame + fp.length, FP_XSTATE_MAGIC2, true);
  return { addr: frame, bytes, frameAddr: frame, infoAddr: frame + SIGINFO_OFFSET, ucAddr: frame + UC_OFFSET };
}

/** AMX tile data (XSAVE component 18): 8 KiB at the end of the standard-format image. */
const XTILEDATA_BIT = 18n, XTILEDATA_SIZE = 8192;

/**
 * How much of an XSAVE image (as PTRACE_GETREGSET NT_X86_XSTATE gives it, with the host's XCR0
 * at byte 464 as gdb reads it) goes into a signal frame. Linux leaves out the dynamically
 * enabled AMX tile data unless the process asked for it (arch_prctl ARCH_REQ_XCOMP_PERM, which
 * the sentry does not grant, so the tiles stay in their initial state): a frame 8 KiB smaller,
 * which a handler on a small alternate stack depends on. Only where the tile data is the last
 * component (no enabled component numbered above it), else the whole image.
 */
/**
 * The host's XSAVE layout as rt_sigreturn needs it: the regset's length and the part a frame
 * holds. The same for every stub (none asks for more state components, arch_prctl's
 * ARCH_REQ_XCOMP_PERM): taken from the first image read (a signal delivery), so that
 * rt_sigreturn does not read the thread's whole FP state only to learn its size.
 */
let xstateShape: { full: number; frame: number } | null = null;

/** Notes the layout of an XSAVE image read from a stub (see xstateShape). */
export function noteXstateShape(regset: Uint8Array): void {
  if (xstateShape === null) xstateShape = { full: regset.length, frame: frameXstateLength(regset) };
}

/** The host's XSAVE layout if an image was read already, else null (read one). */
export function knownXstateShape(): { full: number; frame: number } | null {
  return xstateShape;
}

export function frameXstateLength(regset: Uint8Array): number {
  if (regset.length < 512 + 64 + XTILEDATA_SIZE) return regset.length;
  const xcr0 = new DataView(regset.buffer, regset.byteOffset, regset.byteLength).getBigUint64(464, true);
  return xcr0 >> XTILEDATA_BIT === 1n ? regset.length - XTILEDATA_SIZE : regset.length;
}

/**
 * The XSAVE image rt_sigreturn gives back to the host: the frame's `n` bytes, the rest (the
 * tile data a frame leaves out) in its initial state, `full` bytes long.
 */
export function xstateFromFrame(frame: Uint8Array, full: number): Uint8Array {
  if (frame.length === full) return frame;
  const fp = new Uint8Array(full);
  fp.set(frame);
  const v = new DataView(fp.buffer);
  v.setBigUint64(512, v.getBigUint64(512, true) & ~(1n << XTILEDATA_BIT), true);
  return fp;
}

/**
 * The FP state a signal handler starts with, in the layout of `like` (an XSAVE image as
 * PTRACE_GETREGSET NT_X86_XSTATE gives it): Linux's fpu__clear_user_states, the registers in
 * their initial state (x87 control word 0x37f, MXCSR 0x1f80, every x87, XMM and extended
 * register zero), so that a handler never sees the interrupted code's values; sigreturn
 * restores those from the frame. MXCSR_MASK is the CPU's and is kept; the XSAVE header marks
 * only x87 and SSE as written (every other component in its initial state).
 */
export function initialFpState(like: Uint8Array): Uint8Array {
  const fp = new Uint8Array(like.length);
  const v = new DataView(fp.buffer);
  v.setUint16(0, 0x37f, true); // FCW
  v.setUint32(24, 0x1f80, true); // MXCSR
  if (like.length >= 32) fp.set(like.subarray(28, 32), 28); // MXCSR_MASK
  if (like.length >= 520) v.setBigUint64(512, 3n, true); // XSTATE_BV: x87 | SSE
  return fp;
}

/** What rt_sigreturn restores, read from the ucontext at ucAddr. */
export interface RestoredContext {
  mask: bigint;
  fpAddr: number;
  altStack: AltStack;
}

/**
 * Restores the general registers from a ucontext (the bytes at uc), keeping cs and ss as the
 * host set them. Returns the mask and where the FP state is.
 */
export function restoreFromUcontext(uc: Uint8Array, r: Registers): RestoredContext {
  if (uc.length < UCONTEXT_SIZE) throw EFAULT;
  const v = new DataView(uc.buffer, uc.byteOffset, uc.byteLength);
  const mc = UC.mcontext;
  SC_REGS.forEach((name, i) => {
    if (name === "eflags") {
      // Only the flags user code may change (AC, OF, DF, TF, SF, ZF, AF, PF, CF, RF, NT).
      const USER = 0x50dd5n;
      const old = r.get64("eflags");
      r.set64("eflags", (old & ~USER) | (v.getBigUint64(mc + 8 * i, true) & USER));
    } else {
      r.set64(name, v.getBigUint64(mc + 8 * i, true));
    }
  });
  r.set("orig_rax", -1); // no syscall restart after sigreturn
  return {
    mask: v.getBigUint64(UC.sigmask, true),
    fpAddr: Number(v.getBigUint64(mc + SC.fpstate, true)),
    altStack: {
      sp: Number(v.getBigUint64(UC.stack, true)),
      flags: v.getInt32(UC.stack + 8, true),
      size: Number(v.getBigUint64(UC.stack + 16, true)),
    },
  };
}
