/**
 * What the open, read, exec and exit paths ask of fanotify, without loading it: kernel/fanotify.ts
 * (~40 KB, with vfs/fhandle.ts) loads with fanotify_init's syscall family (LAZY_FAMILIES), and
 * installs its answers here as it loads. Until then no group, and so no mark, exists: no
 * permission mark is there, nothing is held, and an exit names no cause.
 *
 * @module
 */

import type { Dentry } from "../vfs/dentry.ts";
import type { FileDescription } from "../vfs/file_description.ts";
import type { HeldOpen, PermRequest } from "./fanotify.ts";
import type { Task } from "./task.ts";

/** fanotify.ts's side of the functions below. */
export interface FanotifyHooks {
  permActive(): boolean;
  armOpenPerm(t: Task | null, execAllowed: ReadonlySet<Dentry> | null): void;
  heldOpen(f: FileDescription): HeldOpen | undefined;
  accessPerm(t: Task, f: FileDescription): PermRequest | null;
  cause(t: Task | null): void;
}

let hooks: FanotifyHooks | null = null;

/** Called once by fanotify.ts as it loads. */
export function setFanotifyHooks(h: FanotifyHooks): void {
  hooks = h;
}

/** Whether any permission mark exists (the cheap check the syscalls make). */
export function fanPermActive(): boolean {
  return hooks !== null && hooks.permActive();
}

/**
 * Lets the next opens (until disarmed with null) wait for permission events: sys_file.ts's
 * openAt, and execve (task_exec.ts) with the executables its earlier runs were allowed.
 */
export function armOpenPerm(t: Task | null, execAllowed: ReadonlySet<Dentry> | null = null): void {
  hooks?.armOpenPerm(t, execAllowed);
}

/** The open of f held back by permission events, if it is. */
export function heldOpen(f: FileDescription): HeldOpen | undefined {
  return hooks?.heldOpen(f);
}

/**
 * FAN_ACCESS_PERM before a read of f by t (rw_verify_area): null to go on, or the request the
 * caller keeps in t.syscallState and waits for.
 */
export function accessPerm(t: Task, f: FileDescription): PermRequest | null {
  return hooks === null ? null : hooks.accessPerm(t, f);
}

/** Names the task whose exit closes files (null when done); kernel.ts's exit. */
export function fanotifyCause(t: Task | null): void {
  hooks?.cause(t);
}

/**
 * Thrown by the loader when an executable's open is held by permission events: execve drops
 * what it built and waits, then runs again (nothing is changed before its point of no return).
 */
export class ExecPermHold {
  constructor(readonly req: PermRequest, readonly dentry: Dentry) {}
}
