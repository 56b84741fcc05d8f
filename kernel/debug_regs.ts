/**
 * A thread's x86 debug registers as Linux keeps them for ptrace (arch/x86/kernel/ptrace.c,
 * hw_breakpoint.c): up to four breakpoints, each registered at the first write of its address
 * register or its enable in DR7 and held (disabled or not) until exec or exit; the virtual DR6
 * (positive polarity) that a debug trap sets; and DR7 as last written. PTRACE_POKEUSER's checks
 * live with ptrace (syscalls/linux/sys_ptrace.ts); here is what the kernel needs without it:
 * arming the breakpoints on the thread's host thread, where they fire for real (the host's
 * SIGTRAP with TRAP_HWBKPT comes back as a fault), and DR6 after a debug trap.
 *
 * @module
 */

import type { Task } from "./task.ts";

/** Linux's X86_BREAKPOINT_* codes: the length (0x40 | DR7's LEN bits) and type (0x80 | R/W bits). */
export const X86_BREAKPOINT_LEN_X = 0x40;
export const X86_BREAKPOINT_EXECUTE = 0x80;

/** One registered breakpoint (Linux's ptrace_bps[i], a perf event). @savable */
export interface HwBreakpoint {
  addr: bigint;
  /** X86_BREAKPOINT_LEN_1/2/4/8 (LEN_X for an execute breakpoint). */
  len: number;
  /** X86_BREAKPOINT_EXECUTE, _WRITE or _RW. */
  type: number;
  disabled: boolean;
}

/** @savable (Task.debugRegs) */
export interface DebugRegs {
  bps: (HwBreakpoint | null)[];
  /** thread.virtual_dr6: positive polarity (PEEKUSER shows it XOR DR6_RESERVED). */
  dr6: bigint;
  /** thread.ptrace_dr7: the value last written successfully, reserved bits and all. */
  dr7: bigint;
}

export const DR6_RESERVED = 0xffff0ff0n;
const DR_STEP = 0x4000n;
const DR_TRAP_BITS = 0xfn;

export function newDebugRegs(): DebugRegs {
  return { bps: [null, null, null, null], dr6: 0n, dr7: 0n };
}

/** Linux's ptrace_get_dr7: the enabled breakpoints encoded (global enable and slowdown bits). */
export function encodeDr7(d: DebugRegs): bigint {
  let dr7 = 0n;
  d.bps.forEach((bp, i) => {
    if (bp === null || bp.disabled) return;
    dr7 |= BigInt((bp.len | bp.type) & 0xf) << BigInt(16 + 4 * i);
    dr7 |= 2n << BigInt(2 * i);
    dr7 |= 0x200n; // DR_GLOBAL_SLOWDOWN
  });
  return dr7;
}

/**
 * Puts t's breakpoints on its host thread (addresses, then the enables). The kernel checked
 * them as Linux does, so the host takes them; one the platform cannot arm (its own pages) stays
 * disabled there. Returns 0 or the host's -errno.
 */
export function armDebugRegs(t: Task): number {
  const d = t.debugRegs;
  if (t.ctx.setDebugRegs === undefined) return 0;
  if (d === null) return t.ctx.setDebugRegs([null, null, null, null], 0n);
  return t.ctx.setDebugRegs(d.bps.map((bp) => bp === null ? null : { addr: bp.addr, len: bp.len, type: bp.type, enabled: !bp.disabled }), encodeDr7(d));
}

/**
 * A debug trap (SIGTRAP with TRAP_TRACE or TRAP_HWBKPT) stopped t: its virtual DR6 becomes what
 * Linux's exc_debug_user makes it, the single-step bit of the real DR6 and the breakpoints that
 * fired, as the host thread's own virtual DR6 says (its slots are t's).
 */
export function noteDebugTrap(t: Task): void {
  const host = t.ctx.debugStatus?.();
  if (host === undefined) return;
  const v = (host ^ DR6_RESERVED) & (DR_STEP | DR_TRAP_BITS);
  if (v === 0n && t.debugRegs === null) return;
  (t.debugRegs ??= newDebugRegs()).dr6 = v;
}
