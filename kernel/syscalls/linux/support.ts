/**
 * The syscall table's vocabulary: typed argument decoders, results, and table entries.
 *
 * A handler decodes its arguments with {@linkcode SyscallArgs}, makes one kernel or VFS call
 * and returns a value, or throws a LinuxError singleton (the dispatcher returns -errno). A
 * handler that must wait returns {@linkcode block}; the task sleeps on the queues and the
 * handler runs again from the start when woken (so it must be safe to re-run: keep progress
 * in `t.syscallState`, which is plain data and cleared when the syscall completes).
 *
 * @module
 */

import type { Task } from "../../task.ts";
import type { SyscallInfo } from "../../../platform/mod.ts";
import type { WaitQueue } from "../../../waiter/mod.ts";

/** Typed access to the six syscall arguments. */
export class SyscallArgs {
  constructor(readonly info: SyscallInfo) {}

  /** A C int (low 32 bits, signed). */
  int(i: number): number {
    return this.info.argInt(i);
  }

  /** A C unsigned int. */
  uint(i: number): number {
    return this.info.argUint(i);
  }

  /** A file descriptor (a C int). */
  fd(i: number): number {
    return this.info.argInt(i);
  }

  /** A user pointer. Values beyond 2^53 come back as Infinity and fail every copy (EFAULT). */
  pointer(i: number): number {
    const v = this.info.arg(i);
    return v > Number.MAX_SAFE_INTEGER ? Infinity : v;
  }

  /** A size_t, clamped to Number.MAX_SAFE_INTEGER. */
  sizeT(i: number): number {
    const v = this.info.arg(i);
    return v > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : v;
  }

  /** A signed 64-bit value (off_t, long) as a number; exact within ±2^53. */
  long(i: number): number {
    return Number(BigInt.asIntN(64, this.info.arg64(i)));
  }

  /** The raw 64 bits. */
  u64(i: number): bigint {
    return this.info.arg64(i);
  }
}

/** Asks the task loop to do something other than return a value. */
export type SyscallControl =
  /** Sleep until one of the queues reports an event in `mask`, the deadline passes, or a signal. */
  | { ctl: "block"; queues: WaitQueue[]; mask: number; deadlineNs: number | null; restart: BlockRestart }
  /** The task exits (exit(2)); the thread does not return to user mode. */
  | { ctl: "exit"; status: number; group: boolean }
  /** The handler set up registers itself (execve, rt_sigreturn): return nothing. */
  | { ctl: "noreturn" };

export type SyscallResult = number | SyscallControl;

export type SyscallFn = (t: Task, a: SyscallArgs) => SyscallResult;

export type SupportLevel = "supported" | "partial" | "unimplemented";

/** One row of the syscall table, as gVisor's kernel.Syscall. */
export interface SyscallEntry {
  /** Linux's exact name. */
  name: string;
  fn: SyscallFn;
  support: SupportLevel;
  note?: string;
}

export function supported(name: string, fn: SyscallFn): SyscallEntry {
  return { name, fn, support: "supported" };
}

export function partial(name: string, fn: SyscallFn, note: string): SyscallEntry {
  return { name, fn, support: "partial", note };
}

/**
 * Waits on queues; see {@linkcode SyscallControl}. deadlineNs is on the kernel's monotonic
 * clock. restart: "sys" (Linux's ERESTARTSYS: a handler with SA_RESTART makes the syscall run
 * again) or "never" (EINTR whenever a handler runs: sleeps, pause, poll).
 */
/**
 * How a signal treats a sleep: "sys" and "never" as above; "killable" (Linux's TASK_KILLABLE,
 * vfork's wait for its child) is not interrupted at all by a signal that does not kill: the
 * signal stays pending until the sleep ends and the syscall returns.
 */
export type BlockRestart = "sys" | "never" | "killable";

export function block(
  queues: WaitQueue[],
  mask: number,
  deadlineNs: number | null = null,
  restart: BlockRestart = "sys",
): SyscallControl {
  return { ctl: "block", queues, mask, deadlineNs, restart };
}

export const NORETURN: SyscallControl = { ctl: "noreturn" };
