/**
 * PID namespaces (pid_namespaces(7), Linux's kernel/pid_namespace.c and kernel/pid.c).
 *
 * The kernel names every task by one number, its id in the sandbox's first namespace (the
 * root, level 0): Task.tid, ThreadGroup.tgid, pgid and sid are such "global" ids, and the
 * kernel's maps are keyed by them. A task made in a nested namespace also gets a number in that
 * namespace and in each of its ancestors up to the root (Linux's struct pid with one upid per
 * level). A process sees ids through its own namespace (the one its pid lives in, Linux's
 * task_active_pid_ns): an id the namespace has no number for shows as 0, and a number the
 * namespace never handed out names nothing (ESRCH). Every system call that takes or returns a
 * pid translates at that border with {@linkcode PidNamespace.local} and
 * {@linkcode PidNamespace.global}; in the root they are the identity, so a sandbox without
 * nested namespaces pays a comparison.
 *
 * A namespace's first process is its init (pid 1): orphans of the namespace are reparented to
 * it, signals from inside the namespace that it has no handler for never reach it, and when it
 * exits every other process of the namespace is killed and no process may enter any more
 * (fork fails with ENOMEM, as Linux's alloc_pid without PIDNS_ADDING).
 *
 * A leaf module: it imports the user namespaces' and types only.
 *
 * @module
 */

import { INIT_USER_NS, type UserNamespace } from "./user_namespace.ts";
import type { ThreadGroup } from "./thread_group.ts";

/** How deep PID namespaces nest: a namespace at this level makes no child (ENOSPC), MAX_PID_NS_LEVEL. */
export const MAX_PID_NS_LEVEL = 32;

/** The highest pid a nested namespace gives, exclusive (PID_MAX_LIMIT on 64-bit Linux). */
export const PID_MAX_LIMIT = 4194304;

/** The nsfs inode number of the sandbox's first PID namespace (PROC_PID_INIT_INO). */
export const PID_NS_INIT_INO = 4026531836;

/**
 * @savable (refused: a checkpoint refuses a sandbox with a second PID namespace) One PID
 * namespace: the numbers it gave, both ways, and its init.
 */
export class PidNamespace {
  /** Immutable. The namespace the creator's pid lives in; null for the root. */
  readonly parent: PidNamespace | null;
  /** Immutable. 0 for the root, the parent's plus one below it. */
  readonly level: number;
  /** Immutable. The user namespace of its creator, whose CAP_SYS_ADMIN governs setns into it. */
  readonly owner: UserNamespace;
  /** Immutable. The nsfs inode number (/proc/PID/ns/pid). */
  readonly ino: number;
  /** The namespace's init (its pid 1) once its first process exists; stays once it exited. */
  init: ThreadGroup | null = null;
  /** False once init exited: no task may enter any more (Linux's PIDNS_ADDING). */
  adding = true;
  /** The last number handed out (/proc/sys/kernel/ns_last_pid); not kept for the root. */
  lastPid = 0;
  /** Global id to this namespace's number, and back (nested namespaces only). */
  readonly #toLocal = new Map<number, number>();
  readonly #toGlobal = new Map<number, number>();

  constructor(parent: PidNamespace | null, owner: UserNamespace, ino: number) {
    this.parent = parent;
    this.level = parent === null ? 0 : parent.level + 1;
    this.owner = owner;
    this.ino = ino;
  }

  /** The number this namespace gives global id `id`, or 0 when it has none (Linux's pid_nr_ns). */
  local(id: number): number {
    if (this.parent === null) return id;
    return this.#toLocal.get(id) ?? 0;
  }

  /** The global id of this namespace's number `n`, or undefined when it names nothing. */
  global(n: number): number | undefined {
    if (this.parent === null) return n;
    return this.#toGlobal.get(n);
  }

  /** Whether this namespace has a number for global id `id` (the process is visible). */
  sees(id: number): boolean {
    return this.parent === null || this.#toLocal.has(id);
  }

  /** Whether a task may get a number here: no init of this namespace or an ancestor has exited. */
  mayAdd(): boolean {
    if (!this.adding) return false;
    return this.parent === null || this.parent.mayAdd();
  }

  /** Whether `ns` is this namespace or one nested in it. */
  contains(ns: PidNamespace): boolean {
    for (let n: PidNamespace | null = ns; n !== null; n = n.parent) if (n === this) return true;
    return false;
  }

  /**
   * Gives global id `id` the next free number of this nested namespace, after lastPid (as
   * Linux's alloc_pid, from ns_last_pid + 1, wrapping below pidMax to 2: 1 is init's alone).
   */
  assign(id: number, pidMax: number): number {
    let n = this.lastPid + 1;
    for (let tries = 0; this.#toGlobal.has(n) || n >= pidMax; tries++) {
      if (tries > pidMax) throw new RangeError("PID namespace is full");
      n = n >= pidMax ? 2 : n + 1;
    }
    this.#toLocal.set(id, n);
    this.#toGlobal.set(n, id);
    this.lastPid = n;
    return n;
  }

  /** Forgets global id `id` (its task and process are gone): the number may be given again. */
  release(id: number): void {
    const n = this.#toLocal.get(id);
    if (n === undefined) return;
    this.#toLocal.delete(id);
    this.#toGlobal.delete(n);
  }

  /** Every global id this nested namespace has a number for. */
  ids(): IterableIterator<number> {
    return this.#toLocal.keys();
  }

  /** The numbers of global id `id` from this namespace down to `deepest` (a namespace nested in it), as /proc/PID/status's NSpid lists them. */
  chain(id: number, deepest: PidNamespace): number[] {
    const out: number[] = [];
    for (let n: PidNamespace | null = deepest; n !== null; n = n.parent) {
      out.unshift(n.local(id));
      if (n === this) return out;
    }
    return [this.local(id)];
  }
}

/**
 * The sandbox's first PID namespace. It holds no state (its ids are the global ones, its init is
 * the kernel's), so one object serves every kernel.
 */
export const ROOT_PID_NS = new PidNamespace(null, INIT_USER_NS, PID_NS_INIT_INO);
