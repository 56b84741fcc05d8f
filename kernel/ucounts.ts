/**
 * Per-user counts of what a user holds, and the limits on them, per user namespace: Linux's
 * ucounts (kernel/ucount.c). Each user namespace has its own limits, /proc/sys/user/max_*
 * (read and written in the caller's user namespace; the initial namespace's inotify ones are
 * /proc/sys/fs/inotify/max_user_* too). A charge to (namespace, uid) is a charge to the
 * namespace's owner in its parent as well, and so on up to the initial namespace, each level
 * held to its own namespace's limit (inc_ucount): a namespace's owner answers for everything
 * made inside it. Namespaces are counted as tasks hold them rather than charged and released
 * (nothing here knows when the last reference to one goes): one held only by an open nsfs file
 * or a bind mount does not count.
 *
 * @module
 */

import { INIT_USER_NS, type UserNamespace } from "./user_namespace.ts";
import { hostSysctl } from "./host_sysctl.ts";

/** Linux's enum ucount_type, in its order: the index of each limit and count. */
export const UCOUNT_USER_NAMESPACES = 0;
export const UCOUNT_PID_NAMESPACES = 1;
export const UCOUNT_UTS_NAMESPACES = 2;
export const UCOUNT_IPC_NAMESPACES = 3;
export const UCOUNT_NET_NAMESPACES = 4;
export const UCOUNT_MNT_NAMESPACES = 5;
export const UCOUNT_CGROUP_NAMESPACES = 6;
export const UCOUNT_TIME_NAMESPACES = 7;
export const UCOUNT_INOTIFY_INSTANCES = 8;
export const UCOUNT_INOTIFY_WATCHES = 9;
export const UCOUNT_FANOTIFY_GROUPS = 10;
export const UCOUNT_FANOTIFY_MARKS = 11;

/** Each limit's file in /proc/sys/user, by kind (kernel/ucount.c's user_table). */
export const UCOUNT_NAMES: readonly string[] = [
  "max_user_namespaces", "max_pid_namespaces", "max_uts_namespaces", "max_ipc_namespaces", "max_net_namespaces",
  "max_mnt_namespaces", "max_cgroup_namespaces", "max_time_namespaces", "max_inotify_instances", "max_inotify_watches",
  "max_fanotify_groups", "max_fanotify_marks",
];

const INT_MAX = 0x7fff_ffff;

/**
 * Linux's enum rlimit_type: what a user holds that an rlimit bounds, counted per (user
 * namespace, uid) and again for each namespace's owner above (is_rlimit_overlimit).
 */
export const UCOUNT_RLIMIT_NPROC = 0;
export const UCOUNT_RLIMIT_MSGQUEUE = 1;
export const UCOUNT_RLIMIT_SIGPENDING = 2;
export const UCOUNT_RLIMIT_MEMLOCK = 3;

/** What one living object holds for a user: `amount` of a kind, charged to (namespace, kernel uid). */
export type RlimitCharge = readonly [ns: UserNamespace, uid: number, amount: number];

/**
 * Whether a user over the limit of rlimit kind `kind` at some level, once (ns, uid) holds
 * `amount` more beside `charges` (what every living object holds, each counted at its own
 * level and each one above): over `rlimit` (the caller's soft limit, Infinity for none) at
 * (ns, uid), over the rlimit_max of the namespace below at each level above (Linux's
 * inc_rlimit_ucounts, then is_rlimit_overlimit; a new user namespace's rlimit_max is its
 * creator's limit: a user's namespaces cannot give it more than it had).
 *
 * The kinds are counted as they live rather than charged and released: the caller names what
 * holds each (tasks, queued signals, queues, locked segments), so that a checkpoint needs no
 * counts and none can leak.
 */
export function rlimitOverlimit(
  charges: Iterable<RlimitCharge>,
  ns: UserNamespace,
  uid: number,
  amount: number,
  rlimit: number,
  kind: number,
): boolean {
  const levels: [UserNamespace, number][] = [];
  for (let n: UserNamespace | null = ns, u = uid; n !== null; u = n.owner, n = n.parent) levels.push([n, u]);
  const held = levels.map(() => amount);
  for (const [cn, cu, a] of charges) {
    for (let n: UserNamespace | null = cn, u = cu; n !== null; u = n.owner, n = n.parent) {
      const i = levels.findIndex(([ln, lu]) => ln === n && lu === u);
      if (i >= 0) {
        // Every level above is the same chain: add to the rest and stop.
        for (let j = i; j < levels.length; j++) held[j]! += a;
        break;
      }
    }
  }
  let max = rlimit;
  for (let i = 0; i < levels.length; i++) {
    if (held[i]! > max) return true;
    max = levels[i]![0].rlimitMax[kind]!;
  }
  return false;
}

/**
 * The initial namespace's limits as Linux sets them at boot: max_threads / 2 namespaces of each
 * kind (the sandbox's max_threads: 0x3fff * 8), 128 inotify instances and fanotify groups; the
 * watches and marks Linux sizes from memory are the host's.
 */
export const INIT_UCOUNT_MAX: readonly number[] = [
  ...Array<number>(8).fill((0x3fff * 8) / 2),
  128,
  hostSysctl("/proc/sys/fs/inotify/max_user_watches", 8192),
  128,
  hostSysctl("/proc/sys/user/max_fanotify_marks", 8192),
];

/** @savable The ucounts of the sandbox: every user namespace's limits and what each user holds. */
export class UCounts {
  /** The initial namespace's limits (a checkpoint saves them); the others' are kept by namespace. */
  readonly initMax: number[] = [...INIT_UCOUNT_MAX];
  /** Limits of namespaces other than the initial one, once written (a new one's are INT_MAX, as create_user_ns sets them). */
  readonly #max = new WeakMap<UserNamespace, number[]>();
  /** What each (namespace, uid) holds, by kind. */
  readonly #held = new WeakMap<UserNamespace, Map<number, number[]>>();
  /** Who made each namespace other than a user namespace (the user namespace it belongs to, the maker's kernel euid): what it counts against. */
  readonly #makers = new WeakMap<object, [UserNamespace, number]>();

  /** The limits of namespace `ns`, by kind. */
  limits(ns: UserNamespace): readonly number[] {
    return ns === INIT_USER_NS ? this.initMax : this.#max.get(ns) ?? Array<number>(UCOUNT_NAMES.length).fill(INT_MAX);
  }

  setLimit(ns: UserNamespace, kind: number, v: number): void {
    if (ns === INIT_USER_NS) {
      this.initMax[kind] = v;
      return;
    }
    let m = this.#max.get(ns);
    if (m === undefined) this.#max.set(ns, m = Array<number>(UCOUNT_NAMES.length).fill(INT_MAX));
    m[kind] = v;
  }

  /** Whether the initial namespace's limits differ from the boot values (what a checkpoint must save). */
  get initChanged(): boolean {
    return this.initMax.some((v, i) => v !== INIT_UCOUNT_MAX[i]);
  }

  /** (ns, uid) and each owner above it, the levels a charge counts at. */
  *#levels(ns: UserNamespace, uid: number): Generator<[UserNamespace, number]> {
    for (let n: UserNamespace | null = ns, u = uid; n !== null; u = n.owner, n = n.parent) yield [n, u];
  }

  #counts(ns: UserNamespace, uid: number): number[] {
    let users = this.#held.get(ns);
    if (users === undefined) this.#held.set(ns, users = new Map());
    let c = users.get(uid);
    if (c === undefined) users.set(uid, c = Array<number>(UCOUNT_NAMES.length).fill(0));
    return c;
  }

  /**
   * One more of `kind` for uid in ns (inc_ucount): false, and nothing taken, when some level is
   * at its namespace's limit. The caller says which errno that is (EMFILE, ENOSPC).
   */
  take(ns: UserNamespace, uid: number, kind: number): boolean {
    const levels = [...this.#levels(ns, uid)];
    for (const [n, u] of levels) if (this.#counts(n, u)[kind]! >= this.limits(n)[kind]!) return false;
    for (const [n, u] of levels) this.#counts(n, u)[kind]!++;
    return true;
  }

  /**
   * Whether one more user namespace, made in `parent` by kernel uid `owner`, stays within
   * max_user_namespaces at every level (inc_user_namespaces). User namespaces are counted as
   * they live rather than charged: `live` are those some task's credentials are in or below,
   * each counting for (its parent, its owner) and each level above, as it was charged when made.
   */
  userNamespaceFits(live: Iterable<UserNamespace>, parent: UserNamespace, owner: number): boolean {
    return this.#fits(UCOUNT_USER_NAMESPACES, [...live].map((n): [UserNamespace, number] => [n.parent!, n.owner]), parent, owner);
  }

  /** Records who made namespace `made` (not a user namespace): it counts against (ns, uid) while it lives. */
  made(made: object, ns: UserNamespace, uid: number): void {
    this.#makers.set(made, [ns, uid]);
  }

  /**
   * Whether one more namespace of `kind` (not a user namespace), made in user namespace `ns` by
   * kernel uid `uid`, stays within its limit at every level (inc_uts_namespaces and the like).
   * As user namespaces, they are counted as they live: `live` are those tasks hold, each
   * counting against whoever made it ({@linkcode made}; the sandbox's first ones count for no one).
   */
  namespaceFits(kind: number, live: Iterable<object>, ns: UserNamespace, uid: number): boolean {
    const charges: [UserNamespace, number][] = [];
    for (const n of live) {
      const m = this.#makers.get(n);
      if (m !== undefined) charges.push(m);
    }
    return this.#fits(kind, charges, ns, uid);
  }

  /** Whether a charge to (ns, uid) fits `kind`'s limits beside `charges`, one per living object. */
  #fits(kind: number, charges: Iterable<[UserNamespace, number]>, ns: UserNamespace, uid: number): boolean {
    const counts = new Map<UserNamespace, Map<number, number>>();
    const at = (n: UserNamespace, u: number) => counts.get(n)?.get(u) ?? 0;
    for (const [cn, cu] of charges) {
      for (const [n, u] of this.#levels(cn, cu)) {
        let users = counts.get(n);
        if (users === undefined) counts.set(n, users = new Map());
        users.set(u, at(n, u) + 1);
      }
    }
    for (const [n, u] of this.#levels(ns, uid)) if (at(n, u) >= this.limits(n)[kind]!) return false;
    return true;
  }

  /** Gives back `count` of `kind` taken for uid in ns (dec_ucount). */
  give(ns: UserNamespace, uid: number, kind: number, count = 1): void {
    for (const [n, u] of this.#levels(ns, uid)) {
      const c = this.#counts(n, u);
      c[kind] = Math.max(0, c[kind]! - count);
      if (c.every((x) => x === 0)) this.#held.get(n)!.delete(u);
    }
  }
}
