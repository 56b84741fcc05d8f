/**
 * cgroupfs: the cgroup v2 hierarchy (Linux's kernel/cgroup/cgroup.c over kernfs, gVisor's
 * fsimpl/cgroupfs). One hierarchy per sandbox, as Linux's cgrp_dfl_root: every
 * `mount -t cgroup2` shows it (rooted at the caller's cgroup namespace root), and every process
 * is in exactly one of its cgroups (`ThreadGroup.cgroup`, null for the root cgroup).
 *
 * What is implemented: the core interface files (cgroup.procs, cgroup.threads,
 * cgroup.controllers, cgroup.subtree_control, cgroup.type, cgroup.events, cgroup.max.depth,
 * cgroup.max.descendants, cgroup.stat, cgroup.freeze, cgroup.kill, cpu.stat), mkdir and rmdir of
 * cgroups with Linux's limits and errors (EAGAIN past cgroup.max.*, EBUSY for a populated cgroup
 * or one with children), migration by writing a PID to cgroup.procs with Linux's permission rule
 * (write access, with the opener's credentials, to cgroup.procs of the common ancestor of the
 * source and destination), cgroup.events' poll (POLLPRI|POLLERR per open file until it reads, as
 * kernfs_generic_poll) and IN_MODIFY when "populated" changes, cgroup.kill, chmod/chown of
 * files and directories, xattrs (trusted.*, security.*, user.*), ENODEV on the files of a removed
 * cgroup. The cpu, memory and pids controllers (docs/vfs.md): pids.max is enforced at fork;
 * memory.* and cpu.* limits are parsed and shown but not enforced; usage figures come from the
 * members' CPU clocks and resident memory.
 *
 * The filesystem does not import the kernel: processes are reached through
 * {@linkcode CgroupHost}, which the kernel implements.
 *
 * @module
 */

import {
  EACCES, EAGAIN, EBADF, EBUSY, EEXIST, EINVAL, ENODATA, ENODEV, ENOENT, EOPNOTSUPP, EPERM, ERANGE, ESRCH,
} from "../../kernel/errno.ts";
import { S_IFDIR, S_IFREG, SEEK_CUR, SEEK_END, SEEK_SET } from "../../abi/linux/file.ts";
import type { FileDescription, Stat } from "../file_description.ts";
import { readContents } from "../file_description.ts";
import type { DirEntry } from "../file_description.ts";
import type { NewFile, SetAttr } from "../dentry.ts";
import { dirEntry, KDentry, KernFilesystem } from "../kernfs/kernfs.ts";
import { LocatedFile } from "../located_file.ts";
import type { Location } from "../mount.ts";
import type { Credentials } from "../../kernel/creds.ts";
import { MAY_WRITE } from "../permissions.ts";
import { EVENT_ERR, EVENT_IN, EVENT_OUT, EVENT_PRI, EVENT_RDNORM, EVENT_WRNORM, WaitQueue } from "../../waiter/mod.ts";
import { fsnotifyChange } from "../fsnotify.ts";
import { IN_MODIFY } from "../fsnotify.ts";
import { NsInodes } from "../../kernel/user_namespace.ts";

/** statfs(2)'s f_type of cgroup2 (include/uapi/linux/magic.h). */
export const CGROUP2_SUPER_MAGIC = 0x63677270;

/** A process as the hierarchy sees it (the kernel's ThreadGroup). */
export interface CgroupMember {
  readonly tgid: number;
  readonly zombie: boolean;
  /** Its cgroup; null: the root cgroup. */
  cgroup: CgroupDir | null;
  /** Its CPU time when it entered its cgroup (null: at birth, zero): what cpu.stat charges. */
  cgroupCpuBase: { userNs: number; sysNs: number } | null;
  /** Its resident memory when it entered its cgroup, in bytes: memory.current charges what it faults after. */
  cgroupMemBase: number;
}

/** What the hierarchy needs of the kernel. */
export interface CgroupHost {
  /** The process of the calling task. */
  callerProcess(): CgroupMember;
  /** Thread ids of the live threads of a process, as the caller's PID namespace numbers them. */
  threadIds(m: CgroupMember): number[];
  /** A process's id as the caller's PID namespace numbers it (0: not there); absent: tgid. */
  pidOf?(m: CgroupMember): number;
  /** The process a PID (or a TID of one of its threads) names, as the caller sees it; null: none. */
  process(pid: number): CgroupMember | null;
  /** Every process, live or zombie. */
  processes(): Iterable<CgroupMember>;
  /** The cgroup namespace of the calling task (null: the first one, or no caller). */
  callerNs(): CgroupNamespace | null;
  /** Sends SIGKILL to a process. */
  kill(m: CgroupMember): void;
  /** CPU time of a process (its live and exited threads), in ns. */
  cpuNs(m: CgroupMember): { userNs: number; sysNs: number };
  /** Tasks of a process as the pids controller counts them: live threads, or 1 for a zombie. */
  taskCount(m: CgroupMember): number;
  /** Resident memory of a process's address space, in bytes (0 for a zombie). */
  memoryBytes(m: CgroupMember): number;
}

/**
 * The sandbox's own limits (kernel/resources.ts), which a container's cgroup shows: the
 * sandbox is the container, and these are the limits its runtime put on its cgroup.
 */
export interface CgroupContainerLimits {
  memoryBytes: number | null;
  pids: number | null;
  /** CPUs per wall second, and the period it is measured over (ns). */
  cpus: number | null;
  cpuPeriodNs: number;
}

/**
 * The programs attached to a cgroup for one attach type (Linux's cgroup_bpf: progs[atype],
 * flags[atype], revisions[atype]). bpf(2) (kernel/bpf) keeps them; the hierarchy only holds them
 * and lets go of them when the cgroup is removed.
 */
export interface CgroupBpfSlot {
  /** BPF_F_ALLOW_OVERRIDE or BPF_F_ALLOW_MULTI as attached; 0 when empty. */
  flags: number;
  /** Bumped by every attach and detach; starts at 1. */
  revision: number;
  /** In attach order. */
  progs: object[];
}

/** The controllers offered, in Linux's order, and each one's interface files (not on the root). */
export const CONTROLLERS: ReadonlyArray<readonly [string, ReadonlyArray<readonly [string, number]>]> = [
  ["cpu", [["cpu.weight", 0o644], ["cpu.weight.nice", 0o644], ["cpu.max", 0o644], ["cpu.max.burst", 0o644], ["cpu.idle", 0o644]]],
  ["memory", [
    ["memory.current", 0o444], ["memory.min", 0o644], ["memory.low", 0o644], ["memory.high", 0o644],
    ["memory.max", 0o644], ["memory.peak", 0o444], ["memory.events", 0o444], ["memory.events.local", 0o444],
    ["memory.stat", 0o444], ["memory.oom.group", 0o644], ["memory.swap.current", 0o444], ["memory.swap.max", 0o644],
  ]],
  ["pids", [["pids.max", 0o644], ["pids.current", 0o444], ["pids.peak", 0o444], ["pids.events", 0o444], ["pids.events.local", 0o444]]],
];
const CONTROLLER_NAMES = CONTROLLERS.map(([n]) => n);

/** The interface files of every cgroup: name, mode, whether the root has it. */
const FILES: ReadonlyArray<readonly [string, number, boolean]> = [
  ["cgroup.type", 0o644, false],
  ["cgroup.procs", 0o644, true],
  ["cgroup.threads", 0o644, true],
  ["cgroup.controllers", 0o444, true],
  ["cgroup.subtree_control", 0o644, true],
  ["cgroup.events", 0o444, false],
  ["cgroup.max.descendants", 0o644, true],
  ["cgroup.max.depth", 0o644, true],
  ["cgroup.stat", 0o444, true],
  ["cgroup.freeze", 0o644, false],
  ["cgroup.kill", 0o200, false],
  ["cpu.stat", 0o444, true],
];

/** @savable (refused: a checkpoint refuses a changed hierarchy) The one cgroup2 hierarchy. */
export class CgroupFilesystem extends KernFilesystem {
  declare root: CgroupDir;
  /** Set by the kernel once it exists. */
  host: CgroupHost | null = null;
  /** Set by bpf(2): lets go of a removed cgroup's attached programs. */
  releaseBpf: ((c: CgroupDir) => void) | null = null;
  /** The nsdelegate mount option: system-wide, as Linux's CGRP_ROOT_NS_DELEGATE. */
  nsdelegate = false;
  /** Cgroups made so far (for unique inode keys). */
  serial = 0;
  /** True once anything was changed (a checkpoint refuses). */
  changed = false;
  /**
   * @nosave (set again by boot from the bundle at restore) Set when the bundle mounts cgroup at
   * /sys/fs/cgroup (a container engine's spec): the root cgroup is then the container's own
   * cgroup as runc/crun show it through a cgroup namespace (see {@linkcode becomeContainer}).
   */
  container: (() => CgroupContainerLimits) | null = null;
  /** @nosave (made again by boot at restore) The mounts boot made from the bundle: a checkpoint keeps them. */
  readonly bootMounts = new Set<object>();
  /** The cgroup namespaces made so far, by inode number (setns through /proc/PID/ns/cgroup). */
  readonly namespaces = new Map<number, CgroupNamespace>();
  /** Where new namespaces take their inode numbers (shared by every kind, as Linux's proc_inum). */
  readonly #nsInodes: NsInodes;

  constructor(nsInodes = new NsInodes()) {
    super("cgroup2", CGROUP2_SUPER_MAGIC);
    this.#nsInodes = nsInodes;
    this.createError = EACCES;
    this.root = new CgroupDir(this, null, "", { mode: S_IFDIR | 0o755, uid: 0, gid: 0 });
  }

  /**
   * The root cgroup becomes the container's cgroup, as a process of a container run by runc or
   * crun with a cgroup namespace sees it at /sys/fs/cgroup: /proc/self/cgroup is "0::/" (it
   * already is: every process starts in the root), and the root carries what a non-root cgroup
   * carries (cgroup.type, cgroup.events, cgroup.freeze, cgroup.kill, and the cpu, memory and pids
   * files), memory.max, cpu.max and pids.max showing the sandbox's limits (linux.resources,
   * --memory/--cpus/--pids, changed by `sentry update`), which are what the sentry enforces.
   * Linux's root has none of these files, so this is only for a bundle that asks for the mount
   * (`do` and bundles without one keep Linux's root, which tests/c/cgroup2.c compares natively).
   * Writes to the limits from inside are EPERM, as at a delegated (nsdelegate) namespace root:
   * the application must never raise the limits that hold it.
   */
  becomeContainer(limits: () => CgroupContainerLimits): void {
    if (this.container !== null) return;
    this.container = limits;
    const r = this.root;
    for (const [file, mode, onRoot] of FILES) {
      if (!onRoot) r.entries.set(file, new CgroupFile(this, r, file, { mode: S_IFREG | mode, uid: r.uid, gid: r.gid }));
    }
    for (const n of CONTROLLER_NAMES) r.addControllerFiles(n, r.uid, r.gid);
  }

  showOptions(): string {
    return this.nsdelegate ? "nsdelegate" : "";
  }

  /** A new cgroup namespace rooted at c (unshare or clone with CLONE_NEWCGROUP). */
  newNamespace(c: CgroupDir): CgroupNamespace {
    const ns = new CgroupNamespace(c, this.#nsInodes.next());
    this.namespaces.set(ns.ino, ns);
    this.changed = true;
    return ns;
  }

  /**
   * The mount root's path as /proc/PID/mountinfo shows it (Linux's cgroup_show_path): relative
   * to the reader's cgroup namespace root.
   */
  showPath(root: unknown): string {
    if (!(root instanceof CgroupDir)) return "/";
    return cgroupPathFrom(root, this.host?.callerNs()?.root ?? this.root);
  }

  /** The root of a task's cgroup namespace. */
  nsRootOf(t: { cgroupNs: CgroupNamespace | null }): CgroupDir {
    return t.cgroupNs?.root ?? this.root;
  }

  /** /proc/PID/cgroup of process m read by a task of namespace ns: "0::PATH\n". */
  procLine(m: CgroupMember, ns: CgroupNamespace | null): string {
    const c = this.cgroupOf(m);
    return `0::${cgroupPathFrom(c, ns?.root ?? this.root)}${c.deleted ? " (deleted)" : ""}\n`;
  }

  /** The cgroup of a process. */
  cgroupOf(m: CgroupMember): CgroupDir {
    return m.cgroup ?? this.root;
  }

  /**
   * Recomputes "populated" for every cgroup after processes moved, were born or died, and
   * raises cgroup.events' notifications where it changed (Linux's cgroup_update_populated).
   */
  refreshPopulated(): void {
    const host = this.host;
    if (host === null || this.root.kids.size === 0) return;
    const live = new Set<CgroupDir>();
    for (const m of host.processes()) {
      if (m.zombie) continue;
      for (let c: CgroupDir | null = m.cgroup; c !== null && !live.has(c); c = c.parentCgroup) live.add(c);
    }
    const visit = (c: CgroupDir): void => {
      const now = live.has(c);
      if (now !== c.populated) {
        c.populated = now;
        c.eventChanged();
      }
      for (const k of c.kids.values()) visit(k);
    };
    for (const k of this.root.kids.values()) visit(k);
  }

  /** The live processes in cgroup c (not its descendants). */
  members(c: CgroupDir): CgroupMember[] {
    const out: CgroupMember[] = [];
    if (this.host === null) return out;
    for (const m of this.host.processes()) if (!m.zombie && this.cgroupOf(m) === c) out.push(m);
    return out;
  }

  /**
   * Moves process m into dst, as a write to dst's cgroup.procs by a task whose process is
   * `caller` with creds (the opener's) does (Linux's __cgroup_procs_write): the common ancestor
   * rule, then the no-internal-process rule. A zombie is not moved, without error.
   */
  migrate(m: CgroupMember, dst: CgroupDir, creds: Credentials, nsRoot: CgroupDir | null): void {
    const src = this.cgroupOf(m);
    this.checkAttach(src, dst, creds, nsRoot);
    if (m.zombie || src === dst) return;
    this.#chargeCpu(m, src);
    const rss = this.host?.memoryBytes(m) ?? 0;
    const faulted = Math.max(0, rss - m.cgroupMemBase);
    if (faulted > 0 && src !== this.root) src.memoryLeft.set(m, (src.memoryLeft.get(m) ?? 0) + faulted);
    m.cgroupMemBase = rss;
    m.cgroup = dst === this.root ? null : dst;
    this.changed = true;
    this.#updatePeaks(dst);
    this.refreshPopulated();
  }

  /** Charges m's CPU time since it entered its cgroup to `to`, and starts counting anew. */
  #chargeCpu(m: CgroupMember, to: CgroupDir): void {
    const now = this.host?.cpuNs(m) ?? { userNs: 0, sysNs: 0 };
    const base = m.cgroupCpuBase ?? { userNs: 0, sysNs: 0 };
    to.cpuCharged.userNs += now.userNs - base.userNs;
    to.cpuCharged.sysNs += now.sysNs - base.sysNs;
    m.cgroupCpuBase = { ...now };
  }

  /** A process is reaped: its CPU time stays with its cgroup (cpu.stat). */
  reaped(m: CgroupMember): void {
    if (m.cgroup !== null) this.#chargeCpu(m, m.cgroup);
    if (this.root.kids.size === 0) return;
    const drop = (c: CgroupDir): void => {
      c.memoryLeft.delete(m);
      for (const k of c.kids.values()) drop(k);
    };
    drop(this.root);
  }

  /** CPU time of cgroup c and its descendants, in ns. */
  cpuIn(c: CgroupDir): { userNs: number; sysNs: number } {
    const t = { userNs: 0, sysNs: 0 };
    const add = (x: CgroupDir): void => {
      t.userNs += x.cpuCharged.userNs;
      t.sysNs += x.cpuCharged.sysNs;
      for (const k of x.kids.values()) add(k);
    };
    add(c);
    if (this.host !== null) {
      for (const m of this.host.processes()) {
        if (!this.cgroupOf(m).isDescendantOf(c)) continue;
        const now = this.host.cpuNs(m), base = m.cgroupCpuBase ?? { userNs: 0, sysNs: 0 };
        t.userNs += now.userNs - base.userNs;
        t.sysNs += now.sysNs - base.sysNs;
      }
    }
    return t;
  }

  /** Tasks in cgroup c and below, as the pids controller counts them (pids.current). */
  tasksIn(c: CgroupDir): number {
    let n = 0;
    if (this.host === null) return n;
    for (const m of this.host.processes()) if (this.cgroupOf(m).isDescendantOf(c)) n += this.host.taskCount(m);
    return n;
  }

  /** Memory resident for the processes of cgroup c and below, in bytes (memory.current). */
  memoryIn(c: CgroupDir): number {
    let n = 0;
    if (this.host === null) return n;
    const add = (x: CgroupDir): void => {
      for (const b of x.memoryLeft.values()) n += b;
      for (const k of x.kids.values()) add(k);
    };
    add(c);
    for (const m of this.host.processes()) {
      if (!m.zombie && this.cgroupOf(m).isDescendantOf(c)) n += Math.max(0, this.host.memoryBytes(m) - m.cgroupMemBase);
    }
    if (n > c.memoryPeak) c.memoryPeak = n;
    return n;
  }

  /** pids.peak after tasks arrived in c (a migration charges without a limit: pids_charge). */
  #updatePeaks(c: CgroupDir): void {
    for (let x: CgroupDir | null = c; x !== null && x !== this.root; x = x.parentCgroup) {
      if (x.active("pids")) x.pidsPeak = Math.max(x.pidsPeak, this.tasksIn(x));
    }
  }

  /**
   * A task is about to be created in cgroup c (pids_can_fork's pids_try_charge): from c up,
   * each cgroup the pids controller governs must stay within pids.max, or the fork fails with
   * EAGAIN and the cgroup that refused counts a "max" event (pids.events.local; pids.events
   * of it and its ancestors); pids.peak follows the charge up to there.
   */
  chargeFork(c: CgroupDir): void {
    if (this.root.kids.size === 0) return;
    for (let x: CgroupDir | null = c; x !== null && x !== this.root; x = x.parentCgroup) {
      if (!x.active("pids")) continue;
      const n = this.tasksIn(x) + 1;
      if (n > x.pidsMax) {
        x.pidsEventsLocal++;
        x.notifyFile("pids.events.local");
        for (let y: CgroupDir | null = x; y !== null && y !== this.root; y = y.parentCgroup) {
          if (!y.active("pids")) continue;
          y.pidsEvents++;
          y.notifyFile("pids.events");
        }
        throw EAGAIN;
      }
      x.pidsPeak = Math.max(x.pidsPeak, n);
    }
  }

  /**
   * clone3's CLONE_INTO_CGROUP (cgroup_css_set_fork): the target is the cgroup directory
   * `target` names (EBADF for anything else, ENOENT once removed); the caller needs write
   * access to its cgroup.procs and passes the migration rules from the parent's cgroup.
   */
  cloneTarget(target: unknown, parent: CgroupMember, creds: Credentials, ns: CgroupNamespace | null, thread: boolean): CgroupDir {
    if (!(target instanceof CgroupDir) || target.kfs !== this) throw EBADF;
    if (target.deleted) throw ENOENT;
    target.entries.get("cgroup.procs")!.checkAccess(creds, MAY_WRITE);
    const src = this.cgroupOf(parent);
    this.checkAttach(src, target, creds, ns?.root ?? null);
    if (thread && src !== target) throw EOPNOTSUPP;
    return target;
  }

  /** A process born into c (CLONE_INTO_CGROUP). */
  bornInto(m: CgroupMember, c: CgroupDir): void {
    m.cgroup = c === this.root ? null : c;
    m.cgroupCpuBase = null;
    m.cgroupMemBase = 0;
    this.changed = true;
    this.refreshPopulated();
  }

  /**
   * cgroup_attach_permissions: write access to cgroup.procs of the common ancestor of src and
   * dst (EACCES), with nsdelegate both inside the caller's namespace (ENOENT), then the
   * destination must take processes (EBUSY: no internal processes where controllers are
   * enabled for the children, except at the root).
   */
  checkAttach(src: CgroupDir, dst: CgroupDir, creds: Credentials, nsRoot: CgroupDir | null): void {
    let com = src;
    while (!dst.isDescendantOf(com)) com = com.parentCgroup!;
    const procs = com.entries.get("cgroup.procs")!;
    procs.checkAccess(creds, MAY_WRITE);
    if (this.nsdelegate && nsRoot !== null && (!src.isDescendantOf(nsRoot) || !dst.isDescendantOf(nsRoot))) {
      throw ENOENT;
    }
    if (dst !== this.root && dst.subtreeControl.size > 0) throw EBUSY;
  }
}

/** @savable (refused) A cgroup namespace (unshare or clone with CLONE_NEWCGROUP): its root cgroup. */
export class CgroupNamespace {
  constructor(readonly root: CgroupDir, readonly ino: number) {}
}

/** The inode number of the sandbox's first cgroup namespace (Linux's PROC_CGROUP_INIT_INO). */
export const CGROUP_NS_INIT_INO = 4026531835;

/** The text of a cgroup's path relative to a namespace root, as /proc/PID/cgroup shows it. */
export function cgroupPathFrom(c: CgroupDir, nsRoot: CgroupDir): string {
  // Linux's kernfs_path_from_node: up from nsRoot to the common ancestor ("/.."), then down.
  const chain = (x: CgroupDir): CgroupDir[] => {
    const out: CgroupDir[] = [];
    for (let y: CgroupDir | null = x; y !== null; y = y.parentCgroup) out.unshift(y);
    return out;
  };
  const a = chain(c), b = chain(nsRoot);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  let path = "";
  for (let j = i; j < b.length; j++) path += "/..";
  for (let j = i; j < a.length; j++) path += "/" + a[j]!.name;
  return path === "" ? "/" : path;
}

/** @savable A cgroup: a directory of the hierarchy. */
export class CgroupDir extends KDentry {
  declare readonly kfs: CgroupFilesystem;
  #mode: number;
  #uid: number;
  #gid: number;
  /** Interface files and child cgroups, by name. */
  readonly entries = new Map<string, KDentry>();
  /** Child cgroups, by name. */
  readonly kids = new Map<string, CgroupDir>();
  /** cgroup.max.depth and cgroup.max.descendants; Infinity: "max". */
  maxDepth = Infinity;
  maxDescendants = Infinity;
  /** Controllers enabled for the children (none can be, today). */
  readonly subtreeControl = new Set<string>();
  /** Set by rmdir: the files answer ENODEV, lookups ENOENT. */
  deleted = false;
  /** eBPF programs attached, by attach type (kernel/bpf/cgroup_progs.ts). */
  readonly bpf = new Map<number, CgroupBpfSlot>();
  /** Whether a live process is in this cgroup or below (cgroup.events' "populated"). */
  populated = false;
  /** pids: pids.max (Infinity: "max"), pids.peak, pids.events' and pids.events.local's "max". */
  pidsMax = Infinity;
  pidsPeak = 0;
  pidsEvents = 0;
  pidsEventsLocal = 0;
  /** memory: the limits as written (bytes, page-rounded; Infinity: "max"); not enforced. */
  memoryMax = Infinity;
  memoryHigh = Infinity;
  memoryLow = 0;
  memoryMin = 0;
  memorySwapMax = Infinity;
  memoryOomGroup = 0;
  memoryPeak = 0;
  /** cpu: cpu.max's quota (Infinity: "max") and period in µs, cpu.max.burst, cpu.weight, cpu.idle; not enforced. */
  cpuQuotaUs = Infinity;
  cpuPeriodUs = 100000;
  cpuBurstUs = 0;
  cpuWeight = 100;
  cpuIdle = 0;
  /**
   * Memory charged here by processes that moved away (and by removed children): what they
   * faulted while here stays charged here (memcg does not move charges), until they are reaped.
   */
  readonly memoryLeft = new Map<CgroupMember, number>();
  /** CPU time charged here by processes that left (moved away or reaped) and removed children. */
  readonly cpuCharged = { userNs: 0, sysNs: 0 };
  readonly #xattrs = new Map<string, Uint8Array>();

  constructor(kfs: CgroupFilesystem, parent: CgroupDir | null, name: string, a: { mode: number; uid: number; gid: number }) {
    super(kfs, parent, name, { mode: a.mode, key: parent === null ? "" : `${parent.key}/${name}#${++kfs.serial}` });
    this.#mode = a.mode;
    this.#uid = a.uid;
    this.#gid = a.gid;
    for (const [file, mode, onRoot] of FILES) {
      if (parent === null && !onRoot) continue;
      this.entries.set(file, new CgroupFile(kfs, this, file, { mode: S_IFREG | mode, uid: a.uid, gid: a.gid }));
    }
    if (parent !== null) for (const c of parent.subtreeControl) this.addControllerFiles(c, a.uid, a.gid);
  }

  get parentCgroup(): CgroupDir | null {
    return this.parent as CgroupDir | null;
  }

  override get mode(): number {
    return this.#mode;
  }

  override get uid(): number {
    return this.#uid;
  }

  override get gid(): number {
    return this.#gid;
  }

  override stat(): Stat {
    return { ...super.stat(), nlink: 2 + this.kids.size };
  }

  /** True if this is c or below it. */
  isDescendantOf(c: CgroupDir): boolean {
    if (this === c) return true;
    for (let x = this.parentCgroup; x !== null; x = x.parentCgroup) if (x === c) return true;
    return false;
  }

  /** Live descendants (cgroup.stat's nr_descendants). */
  descendants(): number {
    let n = 0;
    for (const k of this.kids.values()) n += 1 + k.descendants();
    return n;
  }

  /** cgroup.events changed: pollers see POLLPRI|POLLERR, inotify watchers IN_MODIFY. */
  eventChanged(): void {
    this.notifyFile("cgroup.events");
  }

  /** A file's contents changed (Linux's cgroup_file_notify). */
  notifyFile(name: string): void {
    const f = this.entries.get(name);
    if (!(f instanceof CgroupFile)) return;
    f.notifySeq++;
    f.queue.notify(EVENT_PRI | EVENT_ERR | EVENT_IN);
    fsnotifyChange(f, IN_MODIFY);
  }

  /** The controllers this cgroup may enable for its children (cgroup.controllers). */
  controllers(): string[] {
    const p = this.parentCgroup;
    return p === null ? CONTROLLER_NAMES : CONTROLLER_NAMES.filter((n) => p.subtreeControl.has(n));
  }

  /** Whether a controller governs this cgroup (enabled in its parent's subtree_control). */
  active(ctrl: string): boolean {
    return this.parentCgroup?.subtreeControl.has(ctrl) ?? false;
  }

  /** Adds a controller's interface files (owned by uid:gid, the enabler's, as Linux's). */
  addControllerFiles(ctrl: string, uid: number, gid: number): void {
    for (const [c, files] of CONTROLLERS) {
      if (c !== ctrl) continue;
      for (const [name, mode] of files) {
        if (!this.entries.has(name)) {
          this.entries.set(name, new CgroupFile(this.kfs, this, name, { mode: S_IFREG | mode, uid, gid }));
        }
      }
    }
  }

  /** Removes a controller's files: descriptions still open answer ENODEV. */
  removeControllerFiles(ctrl: string): void {
    for (const [c, files] of CONTROLLERS) {
      if (c !== ctrl) continue;
      for (const [name] of files) {
        const f = this.entries.get(name);
        if (f instanceof CgroupFile) f.removed = true;
        this.entries.delete(name);
      }
    }
  }

  override lookup(name: string): KDentry | null {
    if (this.deleted) return null;
    return this.entries.get(name) ?? null;
  }

  override children(): DirEntry[] {
    if (this.deleted) return [];
    return [...this.entries.values()].map(dirEntry);
  }

  /** Linux's cgroup_mkdir: the hierarchy limits of every ancestor (EAGAIN), then the new cgroup. */
  override mkdir(name: string, attrs: NewFile): KDentry {
    if (this.deleted) throw ENOENT;
    if (this.entries.has(name)) throw EEXIST;
    const chain: CgroupDir[] = [this];
    for (let x = this.parentCgroup; x !== null; x = x.parentCgroup) chain.push(x);
    chain.forEach((c, i) => {
      if (c.descendants() >= c.maxDescendants || i + 1 > c.maxDepth) throw EAGAIN;
    });
    const child = new CgroupDir(this.kfs, this, name, { mode: S_IFDIR | (attrs.mode & 0o7777), uid: attrs.uid, gid: attrs.gid });
    this.entries.set(name, child);
    this.kids.set(name, child);
    this.kfs.changed = true;
    return child;
  }

  /** Linux's cgroup_destroy_locked: EBUSY while populated or with children. */
  override rmdir(name: string, child: KDentry): void {
    if (!(child instanceof CgroupDir)) throw EPERM;
    if (child.populated || this.kfs.members(child).length > 0 || child.kids.size > 0) throw EBUSY;
    child.deleted = true;
    if (child.bpf.size > 0) this.kfs.releaseBpf?.(child);
    this.entries.delete(name);
    this.kids.delete(name);
    // Its CPU usage stays counted in its parent's (the hierarchical totals of cpu.stat).
    this.cpuCharged.userNs += child.cpuCharged.userNs;
    this.cpuCharged.sysNs += child.cpuCharged.sysNs;
    // Its memory charges go to the parent (memcg's reparenting).
    for (const [m, b] of child.memoryLeft) this.memoryLeft.set(m, (this.memoryLeft.get(m) ?? 0) + b);
  }

  /** cgroup2 has no rename (cgroup_kf_syscall_ops lacks one): EPERM. */
  override rename(): void {
    throw EPERM;
  }

  override setattr(attr: SetAttr): void {
    if (attr.mode !== undefined) this.#mode = (this.#mode & ~0o7777) | (attr.mode & 0o7777);
    if (attr.uid !== undefined) this.#uid = attr.uid;
    if (attr.gid !== undefined) this.#gid = attr.gid;
    this.kfs.changed = true;
  }

  override getxattr(name: string): Uint8Array {
    const v = this.#xattrs.get(name);
    if (v === undefined) throw ENODATA;
    return v;
  }

  override setxattr(name: string, value: Uint8Array, flags: number): void {
    if ((flags & 1) && this.#xattrs.has(name)) throw EEXIST; // XATTR_CREATE
    if ((flags & 2) && !this.#xattrs.has(name)) throw ENODATA; // XATTR_REPLACE
    this.#xattrs.set(name, value.slice());
    this.kfs.changed = true;
  }

  override listxattr(): string[] {
    return [...this.#xattrs.keys()];
  }

  override removexattr(name: string): void {
    if (!this.#xattrs.delete(name)) throw ENODATA;
  }
}

/** Parses a decimal integer as Linux's kstrtoint (surrounding whitespace allowed): EINVAL. */
function parseInt32(text: string): number {
  const s = text.trim();
  if (!/^[+-]?\d+$/.test(s)) throw EINVAL;
  const v = Number(s);
  if (!Number.isSafeInteger(v) || v > 0x7fff_ffff || v < -0x8000_0000) throw ERANGE;
  return v;
}

/** "max" or an integer (cgroup.max.*: cgroup_max_depth_write): EINVAL, ERANGE if negative. */
function parseMax(text: string): number {
  if (text.trim() === "max") return Infinity;
  const v = parseInt32(text);
  if (v < 0) throw ERANGE;
  return v;
}

/** pids.max: "max" or a non-negative integer (pids_max_write: EINVAL). */
function parseMaxU64(text: string): number {
  const s = text.trim();
  if (s === "max") return Infinity;
  if (!/^\d+$/.test(s)) throw EINVAL;
  const v = Number(s);
  if (v > 0x7fff_ffff) throw EINVAL;
  return v;
}

/**
 * A memory size as page_counter_memparse takes it: "max" (where allowed) or a number with an
 * optional k/m/g/t/p/e suffix, rounded down to pages; anything else EINVAL.
 */
function parseMemory(text: string, maxAllowed: boolean): number {
  const s = text.trim();
  if (s === "max" && maxAllowed) return Infinity;
  const m = /^(\d+)([kKmMgGtTpPeE]?)$/.exec(s);
  if (m === null) throw EINVAL;
  const shift = { "": 0, k: 10, m: 20, g: 30, t: 40, p: 50, e: 60 }[m[2]!.toLowerCase()]!;
  const bytes = Number(m[1]) * 2 ** shift;
  if (!Number.isFinite(bytes) || bytes >= 2 ** 63) return Infinity;
  return Math.floor(bytes / 4096) * 4096;
}

/** Linux's sched_prio_to_weight, by nice value + 20 (cpu.weight.nice). */
const PRIO_TO_WEIGHT = [
  88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916, 9548, 7620, 6100, 4904, 3906, 3121, 2501,
  1991, 1586, 1277, 1024, 820, 655, 526, 423, 335, 272, 215, 172, 137, 110, 87, 70, 56, 45, 36, 29, 23, 18, 15,
];

/** cpu_weight_nice_write: the weight of a nice value, in cgroup units (1..10000). */
function niceToWeight(nice: number): number {
  const w = PRIO_TO_WEIGHT[nice + 20]!;
  return Math.max(1, Math.min(10000, Math.round((w * 100) / 1024)));
}

/** cpu_weight_nice_read: the nice value whose weight is closest. */
function weightToNice(weight: number): number {
  const w = Math.round((weight * 1024) / 100);
  let best = 0, bestDiff = Infinity;
  for (let i = 0; i < PRIO_TO_WEIGHT.length; i++) {
    const d = Math.abs(PRIO_TO_WEIGHT[i]! - w);
    if (d < bestDiff) {
      bestDiff = d;
      best = i - 20;
    }
  }
  return best;
}

const fmtMax = (v: number): string => (v === Infinity ? "max\n" : `${v}\n`);

/** Files without a write operation (cgroup_file_write's EINVAL). */
const READ_ONLY = new Set([
  "cgroup.controllers", "cgroup.events", "cgroup.stat", "cpu.stat", "pids.current", "pids.peak", "pids.events",
  "pids.events.local", "memory.current", "memory.peak", "memory.events", "memory.events.local", "memory.stat",
  "memory.swap.current",
]);

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** @savable An interface file of a cgroup. */
export class CgroupFile extends KDentry {
  declare readonly kfs: CgroupFilesystem;
  /** Set when its controller was disabled: descriptions still open answer ENODEV. */
  removed = false;
  /** Bumped at each notification (Linux's kernfs_open_node.event). */
  notifySeq = 0;
  /** Woken at each notification. */
  readonly queue = new WaitQueue();
  #mode: number;
  #uid: number;
  #gid: number;

  constructor(kfs: CgroupFilesystem, parent: CgroupDir, name: string, a: { mode: number; uid: number; gid: number }) {
    super(kfs, parent, name, a);
    this.#mode = a.mode;
    this.#uid = a.uid;
    this.#gid = a.gid;
  }

  get cgroup(): CgroupDir {
    return this.parent as CgroupDir;
  }

  override get mode(): number {
    return this.#mode;
  }

  override get uid(): number {
    return this.#uid;
  }

  override get gid(): number {
    return this.#gid;
  }

  override setattr(attr: SetAttr): void {
    if (attr.mode !== undefined) this.#mode = (this.#mode & ~0o7777) | (attr.mode & 0o7777);
    if (attr.uid !== undefined) this.#uid = attr.uid;
    if (attr.gid !== undefined) this.#gid = attr.gid;
    if (attr.mode !== undefined || attr.uid !== undefined || attr.gid !== undefined) this.kfs.changed = true;
  }

  override rename(): void {
    throw EPERM;
  }

  override open(loc: Location, flags: number): FileDescription {
    if (this.cgroup.deleted || this.removed) throw ENODEV;
    return new CgroupOpenFile(loc, flags, this, this.kfs.host?.callerNs() ?? null);
  }

  /**
   * cgroup_subtree_control_write: "+name" and "-name" tokens (EINVAL for anything else or an
   * unknown controller); enabling needs the controller in cgroup.controllers (ENOENT) and, below
   * the root, no process in this cgroup (EBUSY); disabling one a child enabled is EBUSY. The
   * children's files come and go with the controllers.
   */
  #subtreeControl(text: string, creds: Credentials): void {
    const c = this.cgroup;
    const enable = new Set<string>(), disable = new Set<string>();
    for (const tok of text.split(/\s+/)) {
      if (tok === "") continue;
      const name = tok.slice(1);
      if ((tok[0] !== "+" && tok[0] !== "-") || !CONTROLLER_NAMES.includes(name)) throw EINVAL;
      if (tok[0] === "+") {
        enable.add(name);
        disable.delete(name);
      } else {
        disable.add(name);
        enable.delete(name);
      }
    }
    const available = c.controllers();
    for (const n of enable) {
      if (!available.includes(n)) throw ENOENT;
    }
    for (const n of [...enable]) if (c.subtreeControl.has(n)) enable.delete(n);
    for (const n of [...disable]) if (!c.subtreeControl.has(n)) disable.delete(n);
    for (const n of disable) {
      for (const k of c.kids.values()) if (k.subtreeControl.has(n)) throw EBUSY;
    }
    if (enable.size > 0 && c !== this.kfs.root && this.kfs.members(c).length > 0) throw EBUSY;
    for (const n of enable) {
      c.subtreeControl.add(n);
      for (const k of c.kids.values()) k.addControllerFiles(n, creds.fsuid, creds.fsgid);
    }
    for (const n of disable) {
      c.subtreeControl.delete(n);
      for (const k of c.kids.values()) k.removeControllerFiles(n);
    }
    if (enable.size > 0 || disable.size > 0) this.kfs.changed = true;
  }

  /** The file's text now. */
  render(): string {
    const c = this.cgroup;
    const fs = this.kfs;
    const host = fs.host;
    switch (this.name) {
      case "cgroup.type":
        return "domain\n";
      case "cgroup.procs":
        return fs.members(c).map((m) => `${host?.pidOf?.(m) ?? m.tgid}\n`).join("");
      case "cgroup.threads":
        return fs.members(c).flatMap((m) => host?.threadIds(m) ?? []).map((t) => `${t}\n`).join("");
      case "cgroup.controllers":
      case "cgroup.subtree_control": {
        const list = this.name === "cgroup.controllers" ? c.controllers() : CONTROLLER_NAMES.filter((n) => c.subtreeControl.has(n));
        return list.length === 0 ? "" : list.join(" ") + "\n";
      }
      case "pids.max":
        if (c === fs.root && fs.container !== null) return fmtMax(fs.container().pids ?? Infinity);
        return fmtMax(c.pidsMax);
      case "pids.current":
        return `${fs.tasksIn(c)}\n`;
      case "pids.peak":
        return `${c.pidsPeak}\n`;
      case "pids.events":
        return `max ${c.pidsEvents}\n`;
      case "pids.events.local":
        return `max ${c.pidsEventsLocal}\n`;
      case "memory.current":
        return `${fs.memoryIn(c)}\n`;
      case "memory.peak":
        fs.memoryIn(c);
        return `${c.memoryPeak}\n`;
      case "memory.max":
        if (c === fs.root && fs.container !== null) {
          // memory.max is page-rounded (page_counter_memparse), as runc's limit shows there.
          const b = fs.container().memoryBytes;
          return fmtMax(b === null ? Infinity : Math.floor(b / 4096) * 4096);
        }
        return fmtMax(c.memoryMax);
      case "memory.high":
        return fmtMax(c.memoryHigh);
      case "memory.low":
        return `${c.memoryLow}\n`;
      case "memory.min":
        return `${c.memoryMin}\n`;
      case "memory.swap.max":
        return fmtMax(c.memorySwapMax);
      case "memory.swap.current":
        return "0\n";
      case "memory.oom.group":
        return `${c.memoryOomGroup}\n`;
      case "memory.events":
      case "memory.events.local":
        return "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n";
      case "memory.stat": {
        const anon = fs.memoryIn(c);
        return `anon ${anon}\nfile 0\nkernel 0\nshmem 0\nsock 0\n`;
      }
      case "cpu.max": {
        if (c === fs.root && fs.container !== null) {
          const l = fs.container();
          const periodUs = Math.round(l.cpuPeriodNs / 1000);
          return `${l.cpus === null ? "max" : Math.round(l.cpus * periodUs)} ${periodUs}\n`;
        }
        return `${c.cpuQuotaUs === Infinity ? "max" : c.cpuQuotaUs} ${c.cpuPeriodUs}\n`;
      }
      case "cpu.max.burst":
        return `${c.cpuBurstUs}\n`;
      case "cpu.weight":
        return `${c.cpuWeight}\n`;
      case "cpu.weight.nice":
        return `${weightToNice(c.cpuWeight)}\n`;
      case "cpu.idle":
        return `${c.cpuIdle}\n`;
      case "cgroup.events":
        return `populated ${c.populated ? 1 : 0}\nfrozen 0\n`;
      case "cgroup.max.descendants":
        return fmtMax(c.maxDescendants);
      case "cgroup.max.depth":
        return fmtMax(c.maxDepth);
      case "cgroup.stat":
        return `nr_descendants ${c.descendants()}\nnr_dying_descendants 0\n`;
      case "cgroup.freeze":
        return "0\n";
      case "cpu.stat": {
        const { userNs: user, sysNs: sys } = fs.cpuIn(c);
        const us = (ns: number) => Math.floor(ns / 1000);
        return `usage_usec ${us(user + sys)}\nuser_usec ${us(user)}\nsystem_usec ${us(sys)}\n` +
          "nr_periods 0\nnr_throttled 0\nthrottled_usec 0\nnr_bursts 0\nburst_usec 0\n";
      }
      default:
        throw EINVAL;
    }
  }

  /**
   * One write(2) of text through a file opened with `creds` in cgroup namespace ns. With
   * nsdelegate, a namespace's root cgroup takes writes from inside the namespace only to the
   * delegatable files (cgroup_file_write's EPERM).
   */
  write(text: string, creds: Credentials, ns: CgroupNamespace | null): void {
    const c = this.cgroup;
    const fs = this.kfs;
    const host = fs.host;
    const delegatable = ["cgroup.procs", "cgroup.threads", "cgroup.subtree_control"].includes(this.name);
    if (fs.nsdelegate && !delegatable && ns !== null && ns.root === c) throw EPERM;
    // A container's own cgroup (becomeContainer) is its delegated namespace root.
    if (fs.container !== null && c === fs.root && !delegatable) throw EPERM;
    const nsRoot = ns?.root ?? null;
    switch (this.name) {
      case "cgroup.procs":
      case "cgroup.threads": {
        const pid = parseInt32(text);
        if (pid < 0) throw EINVAL;
        if (host === null) throw ESRCH;
        const m = pid === 0 ? host.callerProcess() : host.process(pid);
        if (m === null) throw ESRCH;
        if (this.name === "cgroup.threads" && fs.cgroupOf(m) !== c) {
          // A thread moves only within its domain: every cgroup here is a domain of its own.
          fs.checkAttach(fs.cgroupOf(m), c, creds, nsRoot);
          throw EOPNOTSUPP;
        }
        fs.migrate(m, c, creds, nsRoot);
        return;
      }
      case "cgroup.subtree_control":
        this.#subtreeControl(text, creds);
        return;
      case "pids.max":
        c.pidsMax = parseMaxU64(text);
        fs.changed = true;
        return;
      case "memory.max":
      case "memory.high":
      case "memory.low":
      case "memory.min":
      case "memory.swap.max": {
        const v = parseMemory(text, this.name !== "memory.low" && this.name !== "memory.min");
        if (this.name === "memory.max") c.memoryMax = v;
        else if (this.name === "memory.high") c.memoryHigh = v;
        else if (this.name === "memory.low") c.memoryLow = v;
        else if (this.name === "memory.min") c.memoryMin = v;
        else c.memorySwapMax = v;
        fs.changed = true;
        return;
      }
      case "memory.oom.group": {
        const v = parseInt32(text);
        if (v !== 0 && v !== 1) throw EINVAL;
        c.memoryOomGroup = v;
        fs.changed = true;
        return;
      }
      case "cpu.max": {
        // cpu_period_quota_parse, then tg_set_cfs_bandwidth's bounds.
        const parts = text.trim().split(/\s+/);
        if (parts.length === 0 || parts[0] === "" || parts.length > 2) throw EINVAL;
        let quota: number;
        if (parts[0] === "max") quota = Infinity;
        else if (/^\d+$/.test(parts[0]!)) quota = Number(parts[0]);
        else throw EINVAL;
        let period = c.cpuPeriodUs;
        if (parts.length === 2) {
          if (!/^\d+$/.test(parts[1]!)) throw EINVAL;
          period = Number(parts[1]);
        }
        if (period < 1000 || period > 1_000_000) throw EINVAL;
        if (quota !== Infinity && (quota < 1000 || quota > 17_592_186_044_415)) throw EINVAL;
        c.cpuQuotaUs = quota;
        c.cpuPeriodUs = period;
        fs.changed = true;
        return;
      }
      case "cpu.max.burst": {
        const s = text.trim();
        if (!/^\d+$/.test(s)) throw EINVAL;
        const v = Number(s);
        if (c.cpuQuotaUs !== Infinity ? v > c.cpuQuotaUs : v > 0) throw EINVAL;
        c.cpuBurstUs = v;
        fs.changed = true;
        return;
      }
      case "cpu.weight": {
        const s = text.trim();
        if (!/^\d+$/.test(s)) throw EINVAL;
        const v = Number(s);
        if (v < 1 || v > 10000) throw ERANGE;
        c.cpuWeight = v;
        fs.changed = true;
        return;
      }
      case "cpu.weight.nice": {
        const v = parseInt32(text);
        if (v < -20 || v > 19) throw ERANGE;
        c.cpuWeight = niceToWeight(v);
        fs.changed = true;
        return;
      }
      case "cpu.idle": {
        const v = parseInt32(text);
        if (v !== 0 && v !== 1) throw EINVAL;
        c.cpuIdle = v;
        fs.changed = true;
        return;
      }
      case "cgroup.max.descendants":
        c.maxDescendants = parseMax(text);
        fs.changed = true;
        return;
      case "cgroup.max.depth":
        c.maxDepth = parseMax(text);
        fs.changed = true;
        return;
      case "cgroup.type":
        // Threaded cgroups are not supported; "domain" is what every cgroup already is.
        if (text.trim() === "threaded") throw EOPNOTSUPP;
        if (text.trim() !== "domain") throw EINVAL;
        throw EOPNOTSUPP;
      case "cgroup.freeze": {
        const v = parseInt32(text);
        if (v < 0 || v > 1) throw ERANGE;
        if (v === 1) throw EOPNOTSUPP; // freezing is not implemented
        return;
      }
      case "cgroup.kill": {
        const v = parseInt32(text);
        if (v !== 1) throw ERANGE;
        if (host === null) return;
        for (const m of [...host.processes()]) {
          if (!m.zombie && fs.cgroupOf(m).isDescendantOf(c)) host.kill(m);
        }
        return;
      }
      default:
        throw EINVAL;
    }
  }
}

/** @savable An open interface file: rendered at each read from offset 0 (seq_file). */
export class CgroupOpenFile extends LocatedFile {
  readonly #file: CgroupFile;
  #data: Uint8Array | null = null;
  /** cgroup.events' count last read through this file (-1: never: the file is born ready). */
  #seen = -1;
  /** The opener's cgroup namespace (Linux's cgroup_file_ctx.ns): writes are judged by it. */
  readonly #ns: CgroupNamespace | null;

  constructor(loc: Location, flags: number, file: CgroupFile, ns: CgroupNamespace | null) {
    super(loc, flags, file.queue);
    this.#file = file;
    this.#ns = ns;
  }

  override get epollable(): boolean {
    return true;
  }

  override read(dst: Uint8Array, offset: number | null): number {
    const f = this.#file;
    if (f.cgroup.deleted || f.removed) throw ENODEV;
    if (f.name === "cgroup.kill") throw EINVAL; // no show operation (cgroup_seqfile_show)
    const off = offset ?? this.offset;
    if (off < 0) throw EINVAL;
    if (off === 0 || this.#data === null) {
      this.#seen = f.notifySeq;
      this.#data = encoder.encode(f.render());
    }
    const data = this.#data;
    return readContents(this, dst, offset, data);
  }

  override write(src: Uint8Array, offset: number | null): number {
    const f = this.#file;
    if (f.cgroup.deleted || f.removed) throw ENODEV;
    if (READ_ONLY.has(f.name)) throw EINVAL;
    const creds = this.openerCreds;
    if (creds === null) throw EACCES;
    f.write(decoder.decode(src), creds, this.#ns);
    if (offset === null) this.offset += src.length;
    return src.length;
  }

  override seek(offset: number, whence: number): number {
    let pos: number;
    if (whence === SEEK_SET) pos = offset;
    else if (whence === SEEK_CUR) pos = this.offset + offset;
    else if (whence === SEEK_END) pos = (this.#data?.length ?? 0) + offset;
    else throw EINVAL;
    if (pos < 0) throw EINVAL;
    this.offset = pos;
    return pos;
  }

  override readiness(mask: number): number {
    const f = this.#file;
    const base = mask & (EVENT_IN | EVENT_RDNORM | EVENT_OUT | EVENT_WRNORM);
    if (this.#seen !== f.notifySeq) {
      return base | ((EVENT_ERR | EVENT_PRI) & (mask | EVENT_ERR));
    }
    return base;
  }
}

