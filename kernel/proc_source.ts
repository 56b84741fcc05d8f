/**
 * The kernel seen through procfs's {@linkcode ProcSource} interface: views of thread groups,
 * tasks, address spaces and descriptor tables, computed when a /proc file is opened.
 *
 * @module
 */

import type { BlockDeviceTable } from "../vfs/block/table.ts";
import type { TimeNamespace } from "./time_namespace.ts";
import { hostVsyscallProt, VSYSCALL_END, VSYSCALL_START } from "./mm/vsyscall.ts";
import { CGROUP_NS_INIT_INO } from "../vfs/cgroupfs/cgroupfs.ts";
import type { WaitQueue } from "../waiter/mod.ts";
import { EACCES, EINVAL, ENOTTY, EPERM, ERANGE } from "./errno.ts";
import { UCOUNT_FANOTIFY_GROUPS, UCOUNT_FANOTIFY_MARKS, UCOUNT_INOTIFY_INSTANCES, UCOUNT_INOTIFY_WATCHES, UCOUNT_NAMES } from "./ucounts.ts";
import { nsfsIoctl, nsfsTarget } from "./nsfs.ts";
import { CAP_CHECKPOINT_RESTORE, CAP_SYS_ADMIN, CAP_SYS_RESOURCE } from "../abi/linux/capability.ts";
import { groupCpu } from "./cpu_time.ts";
import type { Kernel } from "./kernel.ts";
import type { KeyLimits } from "./keys.ts";
import type { ThreadGroup } from "./thread_group.ts";
import type { Task } from "./task.ts";
import { Credentials } from "./creds.ts";
import { PID_MAX_LIMIT, type PidNamespace, ROOT_PID_NS } from "./pid_namespace.ts";
import { monotonicNs, uptimeNs as uptimeNs_ } from "./time.ts";
import { sandboxCpus } from "./cpus.ts";
import { SIG_IGN } from "../abi/linux/signal.ts";
import type { Location, Mount, MountNamespace } from "../vfs/mod.ts";
import type { FileDescription } from "../vfs/file_description.ts";
import { MARK_GUARD, MARK_UFFD_WP, type MemoryManager, SharedAnon, type Vma } from "./mm/mm.ts";
import { PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE } from "../abi/linux/mm.ts";
import { O_ACCMODE, O_RDONLY } from "../abi/linux/file.ts";
import type {
  NetFileKind, ProcCaller, ProcMemAccess, ProcFd, ProcMemory, ProcProcess, ProcSource, ProcSystem, ProcThread, ProcVma, SysvipcKind,
} from "../vfs/procfs/source.ts";
import { NET_CORE } from "./socket/sockopt.ts";
import type { Net } from "./net.ts";
import { netModules } from "./net_load.ts";
import { renderSysvipc } from "./ipc_proc.ts";
import { LazyModule } from "./lazy_module.ts";
import { INIT_USER_NS } from "./user_namespace.ts";
import { type IpcNamespace, IPCMNI } from "./ipc.ts";
import { pipeSysctl, roundPipeSize } from "../vfs/pipe.ts";
import { uffdSysctl } from "./userfaultfd_hooks.ts";

/** /proc/keys and /proc/key-users are rendered by the keys family, loaded at its first use. */
const procKeys = new LazyModule<{ renderProcKeys(t: Task): string; renderProcKeyUsers(t: Task): string }>(
  "sys_keys.ts",
  () => import("./syscalls/linux/sys_keys.ts"),
);

/** The host's pid_max (Linux's default 32768 if unreadable), read once. */
const HOST_PID_MAX = readHostPidMax();

function readHostPidMax(): number {
  try {
    const n = Number(Deno.readTextFileSync("/proc/sys/kernel/pid_max").trim());
    return Number.isSafeInteger(n) && n > 0 ? n : 32768;
  } catch {
    return 32768;
  }
}

/** Signals 1..64 whose disposition is SIG_IGN, and those with a handler, as sigsets. */
function dispositionSets(tg: ThreadGroup): { ignored: bigint; caught: bigint } {
  let ignored = 0n, caught = 0n;
  for (let s = 1; s <= 64; s++) {
    const h = tg.handlers.get(s).handler;
    const bit = 1n << BigInt(s - 1);
    if (h === BigInt(SIG_IGN)) ignored |= bit;
    else if (h > 1n) caught |= bit;
  }
  return { ignored, caught };
}

/** The letter /proc shows for a thread: Linux's task_state_array (T for a job-control stop). */
function threadState(t: Task): string {
  switch (t.state) {
    case "blocked":
      return "S";
    case "stopped":
      return "T";
    case "dead":
      return "Z";
    default:
      return "R";
  }
}

/**
 * The path column of /proc/PID/maps for v, as Linux's get_vma_name: a file's path or a special
 * name ([heap], [stack], [vdso]) first; then shared anonymous memory as the deleted /dev/zero
 * that backs it ([anon_shmem:NAME] once named), private anonymous memory as [anon:NAME] once
 * named.
 */
function mapsName(v: Vma): string {
  if (v.name !== "") return v.name;
  if (v.shared && v.file === null && v.object instanceof SharedAnon) {
    return v.anonName === undefined ? "/dev/zero (deleted)" : `[anon_shmem:${v.anonName}]`;
  }
  return v.anonName === undefined ? "" : `[anon:${v.anonName}]`;
}

/**
 * /proc/PID/smaps's VmFlags of v, as Linux's show_smap_vma_flags in bit order: the protection
 * (rd wr ex), VM_SHARED (sh: a shared mapping that may be written: anonymous, or of a file
 * open for writing), VM_MAYREAD/MAYWRITE/MAYEXEC (mr mw me), VM_MAYSHARE (ms), growsdown (gd),
 * locked (lo), dontcopy (dc), dontexpand (de), accounted private writable memory (ac). The
 * vvar and vdso pages carry the flags Linux gives its special mappings.
 */
function vmFlags(v: Vma): string {
  if (v.name === "[vvar]") return "rd mr pf io de dd";
  const fileWrite = v.file !== null && (v.file.flags & O_ACCMODE) !== O_RDONLY;
  const sharedWrite = v.shared && v.mayWrite !== false && (v.file === null || fileWrite);
  const f: string[] = [];
  if (v.prot & PROT_READ) f.push("rd");
  if (v.prot & PROT_WRITE) f.push("wr");
  if (v.prot & PROT_EXEC) f.push("ex");
  if (sharedWrite) f.push("sh");
  f.push("mr");
  if (!v.shared || sharedWrite) f.push("mw");
  if (v.mayExec !== false) f.push("me");
  if (v.shared) f.push("ms");
  if (v.growsDown) f.push("gd");
  if (v.locked) f.push("lo");
  if (v.dontCopy) f.push("dc");
  if (v.dontExpand || v.name === "[vdso]") f.push("de");
  if (!v.shared && (v.prot & PROT_WRITE)) f.push("ac");
  if (v.wipeOnFork) f.push("wf");
  if (v.sealed) f.push("sl");
  return f.join(" ");
}

const PM_MMAP_EXCLUSIVE = 1n << 56n, PM_UFFD_WP = 1n << 57n, PM_GUARD_REGION = 1n << 58n;
const PM_FILE = 1n << 61n, PM_PRESENT = 1n << 63n;

/** @savable See ProcMemAccess: one address space, copied through VMA by VMA. */
class MemAccess implements ProcMemAccess {
  readonly #mm: MemoryManager;

  constructor(mm: MemoryManager) {
    this.#mm = mm;
  }

  get live(): boolean {
    return this.#mm.users > 0;
  }

  read(addr: number, dst: Uint8Array): number {
    return this.#copy(addr, dst, false);
  }

  write(addr: number, src: Uint8Array): number {
    return this.#copy(addr, src, true);
  }

  /**
   * Linux's pagemap_pmd_range as an unprivileged reader sees it (no frame numbers: the host's
   * would mean nothing here), of a kernel without CONFIG_MEM_SOFT_DIRTY (no clear_refs here):
   * a resident page (MemoryManager.residency) is present, a file's page or shared memory's
   * PM_FILE, private anonymous memory's exclusive; guard pages and userfaultfd write
   * protection have their bits. Holes and untouched pages are zeros.
   */
  pagemap(addr: number, count: number): BigUint64Array {
    const out = new BigUint64Array(count);
    if (!this.live || count === 0) return out;
    const mm = this.#mm;
    const end = addr + count * PAGE_SIZE;
    const resident = mm.residency(addr, end);
    for (const v of mm.vmas) {
      if (v.end <= addr || v.start >= end) continue;
      for (let p = Math.max(v.start, addr); p < Math.min(v.end, end); p += PAGE_SIZE) {
        const i = (p - addr) / PAGE_SIZE;
        const marks = mm.pageMarks?.get(p) ?? 0;
        let e = 0n;
        if (marks & MARK_GUARD) e |= PM_GUARD_REGION;
        else if (resident[i]) e |= PM_PRESENT | (v.file !== null || v.shared ? PM_FILE : PM_MMAP_EXCLUSIVE);
        if (marks & MARK_UFFD_WP) e |= PM_UFFD_WP;
        out[i] = e;
      }
    }
    return out;
  }

  #copy(addr: number, buf: Uint8Array, write: boolean): number {
    if (!this.live || !Number.isSafeInteger(addr) || addr < 0) return 0;
    const mm = this.#mm;
    let done = 0;
    while (done < buf.length) {
      const a = addr + done;
      const v = mm.findVma(a);
      if (v === undefined) break;
      const part = buf.subarray(done, Math.min(buf.length, done + (v.end - a)));
      let n: number;
      if (!write) n = mm.read(a, part);
      else if (v.prot & PROT_WRITE) n = mm.write(a, part);
      else if (!v.shared) n = mm.as.forceWrite(a, part);
      else break;
      done += Math.max(n, 0);
      if (n < part.length) break;
    }
    return done;
  }
}

/**
 * @savable One thread group as /proc/PID shows it: its ids as the /proc's PID namespace numbers
 * them (0 for one outside it), and thread ids taken in that numbering.
 */
class ProcessView implements ProcProcess {
  readonly #k: Kernel;
  readonly #tg: ThreadGroup;
  readonly #ns: PidNamespace;

  constructor(k: Kernel, tg: ThreadGroup, ns: PidNamespace) {
    this.#k = k;
    this.#tg = tg;
    this.#ns = ns;
  }

  get #leader(): Task | undefined {
    return this.#tg.leader;
  }

  /** The thread of the process this /proc numbers tid. */
  #thread(tid: number): Task | undefined {
    const id = this.#ns.global(tid);
    for (const t of this.#tg.tasks) if (t.tid === id) return t;
    return undefined;
  }

  get pid(): number {
    return this.#ns.local(this.#tg.tgid);
  }

  get ppid(): number {
    const p = this.#tg.parent;
    return p === null ? 0 : this.#ns.local(p.tgid);
  }

  get pgid(): number {
    return this.#ns.local(this.#tg.pgid);
  }

  get sid(): number {
    return this.#ns.local(this.#tg.sid);
  }

  nsIds(kind: "tgid" | "pid" | "pgid" | "sid", tid?: number): number[] {
    const tg = this.#tg;
    const id = kind === "tgid" ? tg.tgid : kind === "pgid" ? tg.pgid : kind === "sid" ? tg.sid : this.#ns.global(tid ?? 0) ?? tg.tgid;
    return this.#ns.chain(id, tg.pidNs);
  }

  get state(): string {
    if (this.#tg.zombie) return "Z";
    const states = [...this.#tg.tasks].map(threadState);
    return states.includes("R") ? "R" : (states[0] ?? "Z");
  }

  get comm(): string {
    return this.#leader?.name ?? this.#tg.leaderComm;
  }

  get threads(): ProcThread[] {
    // A zombie keeps its leader in /proc/PID/task until it is reaped, as on Linux.
    if (this.#tg.zombie && this.#tg.tasks.size === 0) {
      return [{ tid: this.pid, comm: this.comm, state: "Z", sigPending: 0n, sigBlocked: 0n }];
    }
    return [...this.#tg.tasks].map((t) => ({
      tid: this.#ns.local(t.tid),
      comm: t.name,
      state: threadState(t),
      sigPending: t.pendingSignals.mask,
      sigBlocked: t.sigmask,
      nice: t.nice,
      timerSlackNs: t.timerSlackNs,
    }));
  }

  get creds(): Credentials {
    return this.#leader?.creds ?? Credentials.root();
  }

  get umask(): number {
    return this.#leader?.fs.umask ?? 0o022;
  }

  get startNs(): number {
    return this.#tg.startNs;
  }

  /** The process's CPU time so far: its exited threads' and its live threads' (groupCpu). */
  get userNs(): number {
    return groupCpu(this.#tg).userNs;
  }

  get sysNs(): number {
    return groupCpu(this.#tg).sysNs;
  }

  get childUserNs(): number {
    return this.#tg.childUserNs;
  }

  get childSysNs(): number {
    return this.#tg.childSysNs;
  }

  get exitSignal(): number {
    return this.#tg.exitSignal;
  }

  get sigIgnored(): bigint {
    return dispositionSets(this.#tg).ignored;
  }

  get sigCaught(): bigint {
    return dispositionSets(this.#tg).caught;
  }

  get sigSharedPending(): bigint {
    return this.#tg.sharedPending.mask;
  }

  get noNewPrivs(): boolean {
    return this.#leader?.noNewPrivs ?? false;
  }

  get seccompMode(): number {
    return this.#leader?.seccomp?.mode ?? 0;
  }

  get seccompFilters(): number {
    return this.#leader?.seccomp?.filters.length ?? 0;
  }

  /** A pty's device number (major 136, minor its index, in the new_encode_dev layout). */
  get ttyNr(): number {
    const tty = this.#tg.tty;
    if (tty === null) return 0;
    const i = tty.index;
    return (136 << 8) | (i & 0xff) | ((i & ~0xff) << 12);
  }

  get tpgid(): number {
    const tty = this.#tg.tty;
    return tty === null || tty.foregroundPgrp === 0 ? -1 : this.#ns.local(tty.foregroundPgrp);
  }

  get tracerPid(): number {
    const l = this.#leader?.ptrace;
    return l && !l.exited ? this.#ns.local(l.tracer.tid) : 0;
  }

  get cgroupLine(): string {
    const k = this.#k;
    return k.cgroups.procLine(this.#tg, k.current?.cgroupNs ?? null);
  }

  get mntNs(): MountNamespace | null {
    return (this.#tg.leader ?? [...this.#tg.tasks][0])?.fs.mntns ?? null;
  }

  get cgroupNsIno(): number {
    return this.#tg.leader?.cgroupNs?.ino ?? [...this.#tg.tasks][0]?.cgroupNs?.ino ?? CGROUP_NS_INIT_INO;
  }

  get timeNsForChildren(): TimeNamespace | null {
    return (this.#tg.leader ?? [...this.#tg.tasks][0])?.timeNsForChildren ?? null;
  }

  nsOf(type: string): { ino: number; ns: object; absent?: boolean } | null {
    const t = this.#tg.leader ?? [...this.#tg.tasks][0];
    if (t === undefined) return null;
    if (type === "user") return { ino: t.creds.userNs.ino, ns: t.creds.userNs };
    if (type === "uts") return { ino: t.uts.ino, ns: t.uts };
    if (type === "ipc") return { ino: t.ipc.ino, ns: t.ipc };
    if (type === "net") return { ino: t.net.ino, ns: t.net };
    if (type === "pid") return { ino: this.#tg.pidNs.ino, ns: this.#tg.pidNs };
    if (type === "time") return { ino: t.timeNs.ino, ns: t.timeNs };
    if (type === "time_for_children") return { ino: t.timeNsForChildren.ino, ns: t.timeNsForChildren };
    if (type === "pid_for_children") {
      const ns = t.pidNsForChildren;
      return { ino: ns.ino, ns, absent: ns !== this.#tg.pidNs && ns.init === null };
    }
    return null;
  }

  get oomScoreAdj(): number {
    return this.#tg.oomScoreAdj;
  }

  set oomScoreAdj(v: number) {
    this.#tg.oomScoreAdj = v;
  }

  memory(): ProcMemory | null {
    if (this.#tg.zombie || this.#tg.tasks.size === 0) return null;
    const mm = this.#tg.mm;
    const vmas: ProcVma[] = mm.vmas.map((v) => {
      let dev = 0, ino = 0;
      if (v.file !== null) {
        try {
          const st = v.file.stat();
          dev = st.dev;
          ino = st.ino;
        } catch { /* shown as anonymous */ }
      }
      return {
        start: v.start, end: v.end, prot: v.prot, shared: v.shared, offset: v.offset, dev, ino, name: mapsName(v),
        vmFlags: vmFlags(v), locked: v.locked === true,
      };
    });
    // The vsyscall page is in every address space (outside mm's VMAs), listed last as Linux's gate VMA.
    const vsyscall = hostVsyscallProt();
    if (vsyscall !== null) {
      vmas.push({
        start: VSYSCALL_START, end: VSYSCALL_END, prot: vsyscall, shared: false, offset: 0, dev: 0, ino: 0, name: "[vsyscall]",
        vmFlags: (vsyscall & PROT_READ ? "rd " : "") + (vsyscall & PROT_EXEC ? "ex" : "").trim(),
      });
    }
    return {
      vmas, brkStart: mm.brkStart, brk: mm.brk, stackStart: mm.stackBottom, argStart: mm.argStart,
      argEnd: mm.argEnd, envStart: mm.envStart, envEnd: mm.envEnd, auxv: mm.auxv,
    };
  }

  readMemory(start: number, end: number): Uint8Array {
    if (end <= start || this.#tg.tasks.size === 0) return new Uint8Array(0);
    const buf = new Uint8Array(Math.min(end - start, 1 << 20));
    const n = this.#tg.mm.read(start, buf);
    return buf.subarray(0, Math.max(n, 0));
  }

  memoryAccess(): ProcMemAccess | null {
    if (this.#tg.zombie || this.#tg.tasks.size === 0) return null;
    return new MemAccess(this.#tg.mm);
  }

  io(tid: number | null): { rchar: number; wchar: number; syscr: number; syscw: number } | null {
    if (tid !== null) {
      const t = this.#thread(tid);
      return t === undefined ? null : { ...t.io };
    }
    const sum = { ...this.#tg.deadIo };
    for (const t of this.#tg.tasks) {
      sum.rchar += t.io.rchar;
      sum.wchar += t.io.wchar;
      sum.syscr += t.io.syscr;
      sum.syscw += t.io.syscw;
    }
    return sum;
  }

  childrenOf(tid: number): number[] {
    const id = this.#ns.global(tid);
    // parentThread 0 (after a restore) counts as the leader's.
    return [...this.#tg.children]
      .filter((c) => c.parentThread === id || (c.parentThread === 0 && id === this.#tg.tgid))
      .map((c) => this.#ns.local(c.tgid))
      .sort((a, b) => a - b);
  }

  get coredumpFilter(): number | null {
    return this.#tg.zombie || this.#tg.tasks.size === 0 ? null : this.#tg.coredumpFilter;
  }

  set coredumpFilter(v: number | null) {
    if (v !== null) this.#tg.coredumpFilter = v;
  }

  setComm(tid: number | null, comm: string): boolean {
    const t = tid === null ? this.#leader : this.#thread(tid);
    if (t === undefined) return false;
    t.name = comm;
    return true;
  }

  exe(): Location | null {
    return this.#tg.tasks.size === 0 ? null : this.#tg.mm.exe;
  }

  exeFile(): FileDescription | null {
    return this.#tg.tasks.size === 0 ? null : this.#tg.mm.exeFile;
  }

  cwd(): Location | null {
    return this.#leader?.fs.cwd ?? null;
  }

  root(): Location | null {
    return this.#leader?.fs.root ?? null;
  }

  fds(): number[] {
    return this.#leader?.fdTable.fds() ?? [];
  }

  fdArraySize(): number {
    return this.#leader?.fdTable.arraySize ?? 0;
  }

  fd(n: number): ProcFd | null {
    const table = this.#leader?.fdTable;
    if (table === undefined || !table.has(n)) return null;
    return { file: table.get(n), cloexec: table.getCloexec(n) };
  }

  limits(): Array<{ cur: bigint; max: bigint }> {
    const out: Array<{ cur: bigint; max: bigint }> = [];
    for (let r = 0; r < 16; r++) out.push(this.#tg.limits.get(r));
    return out;
  }
}

/** @savable */
/** The writable network sysctls kept in Net.sysctl, by /proc/sys path. */
/** Linux's GID_T_MAX, the highest gid net.ipv4.ping_group_range takes ((gid_t)~0 - 1). */
const GID_T_MAX = 4294967294;

const NET_SYSCTLS: Record<string, keyof Net["sysctl"]> = {
  "net/ipv4/ip_forward": "ipForward",
  "net/ipv4/tcp_sack": "tcpSack",
  "net/ipv4/tcp_recovery": "tcpRecovery",
  "net/ipv4/conf/lo/accept_local": "loAcceptLocal",
  "net/ipv4/conf/lo/route_localnet": "loRouteLocalnet",
  "net/ipv4/conf/lo/tag": "loTag",
  "net/ipv4/conf/default/tag": "defaultTag",
};

export class KernelProcSource implements ProcSource {
  readonly #k: Kernel;
  /** The PID namespace whose numbers this /proc shows: its mounter's (proc_fill_super). */
  readonly #ns: PidNamespace;
  /** @nosave The host's /proc/cpuinfo, read once. */
  #cpuinfo: string | null = null;

  constructor(k: Kernel, ns: PidNamespace = ROOT_PID_NS) {
    this.#k = k;
    this.#ns = ns;
  }

  utsChanges(which: "hostname" | "domainname"): { count: number; queue: WaitQueue } {
    const uts = this.#k.current?.uts ?? this.#k.rootUts;
    return { count: uts.changes[which], queue: uts.queue };
  }

  setUtsName(which: "hostname" | "domainname", name: string): void {
    (this.#k.current?.uts ?? this.#k.rootUts).set(which, name);
  }

  nsIoctl(loc: Location, cmd: number, arg: number): number {
    const t = this.#k.current;
    const n = t === null ? null : nsfsTarget(this.#k, loc);
    if (n === null) throw ENOTTY;
    return nsfsIoctl(t!, loc, n, cmd, arg);
  }

  caller(): ProcCaller | null {
    const t = this.#k.current;
    if (t === null) return null;
    return { pid: this.#ns.local(t.tg.tgid), tid: this.#ns.local(t.tid), root: t.fs.root, creds: t.creds };
  }

  pids(): number[] {
    const ns = this.#ns, groups = this.#k.threadGroups;
    const ids = ns.parent === null ? [...groups.keys()] : [...ns.ids()].filter((id) => groups.has(id)).map((id) => ns.local(id));
    return ids.sort((a, b) => a - b);
  }

  process(pid: number): ProcProcess | null {
    const id = this.#ns.global(pid);
    const tg = id === undefined ? undefined : this.#k.threadGroups.get(id);
    return tg === undefined ? null : new ProcessView(this.#k, tg, this.#ns);
  }

  globalId(pid: number): number | null {
    return this.#ns.global(pid) ?? null;
  }

  tgidOf(tid: number): number | null {
    const id = this.#ns.global(tid);
    const t = id === undefined ? undefined : this.#k.tasks.get(id);
    return t === undefined ? null : this.#ns.local(t.tg.tgid);
  }

  /** /proc/sys/kernel/ns_last_pid: the last pid the namespace handed out. */
  get lastPid(): number {
    return this.#ns.parent === null ? this.#k.lastTid : this.#ns.lastPid;
  }

  system(): ProcSystem {
    const k = this.#k;
    // CLOCK_BOOTTIME, as Linux's uptime is.
    const uptimeNs = monotonicNs();
    let memTotal = 8 << 30;
    try {
      memTotal = Deno.systemMemoryInfo().total;
    } catch { /* keep the default */ }
    return {
      uptimeNs,
      readerUptimeNs: uptimeNs_(k.current?.timeNs),
      bootTimeSec: Math.floor((Date.now() - uptimeNs / 1e6) / 1000),
      hostname: (k.current?.uts ?? k.rootUts).hostname,
      domainname: (k.current?.uts ?? k.rootUts).domainname,
      release: k.uts.release,
      version: k.uts.version,
      lastPid: this.lastPid,
      forks: k.lastTid,
      ncpus: sandboxCpus(),
      // A nested PID namespace starts at PID_MAX_LIMIT (Linux 6.14's per-namespace pid_max).
      pidMax: this.#ns.parent === null ? HOST_PID_MAX : PID_MAX_LIMIT,
      memTotal,
      memUsed: this.#memUsed(),
      cpuinfo: this.#hostCpuinfo(),
    };
  }

  /** Anonymous memory mapped by the sandbox, each address space counted once. */
  #memUsed(): number {
    const seen = new Set<unknown>();
    let used = 0;
    for (const tg of this.#k.threadGroups.values()) {
      if (tg.zombie || seen.has(tg.mm)) continue;
      seen.add(tg.mm);
      for (const v of tg.mm.vmas) if (v.file === null && v.prot !== 0) used += v.end - v.start;
    }
    return used;
  }

  #hostCpuinfo(): string {
    if (this.#cpuinfo === null) {
      try {
        // The sandbox's CPUs lack CPUID faulting (arch_prctl ARCH_SET_CPUID is ENODEV, sys_thread.ts).
        this.#cpuinfo = Deno.readTextFileSync("/proc/cpuinfo").replace(/^(flags\s*:.*?) cpuid_fault\b/gm, "$1");
      } catch {
        this.#cpuinfo = "processor\t: 0\nvendor_id\t: unknown\n\n";
      }
    }
    return this.#cpuinfo;
  }

  mounts(ns: MountNamespace | null): Mount[] {
    return ns?.mounts() ?? [];
  }

  setSysctl(key: string, text: string): void {
    if (/^kernel\/(shm|msg|sem)_next_id$/.test(key)) {
      this.#setNextId(key.slice(7, 10) as "shm" | "msg" | "sem", text);
      return;
    }
    if (/^kernel\/(shmmax|shmall|shmmni|msgmax|msgmnb|msgmni|sem)$/.test(key)) {
      this.#setIpcSysctl(key.slice(7), text);
      return;
    }
    if (key.startsWith("kernel/keys/")) {
      // proc_dointvec_minmax: an int from 1 (the quota limits) or 0 (gc_delay, the persistent
      // keyrings' expiry) to INT_MAX.
      const name = key.slice(12) as keyof KeyLimits;
      const t = text.trim();
      if (!/^[+-]?[0-9]+$/.test(t)) throw EINVAL;
      const n = Number(t);
      const min = name === "gc_delay" || name === "persistent_keyring_expiry" ? 0 : 1;
      if (n < min || n > 0x7fffffff) throw EINVAL;
      this.#k.keys.limits[name] = n;
      return;
    }
    if (key === "net/ipv4/ip_local_port_range") {
      // As Linux's ipv4_local_port_range: two ints, 1 <= low <= high <= 65535, and low not
      // below ip_unprivileged_port_start (1024).
      const m = /^\s*([0-9]+)\s+([0-9]+)\s*$/.exec(text);
      if (m === null) throw EINVAL;
      const low = Number(m[1]), high = Number(m[2]);
      if (low < 1024 || high > 65535 || high < low) throw EINVAL;
      this.#net().stack.ephemeralRange = [low, high];
      return;
    }
    if (key === "net/ipv4/ping_group_range") {
      // As Linux's ipv4_ping_group_range: up to two gids (0..GID_T_MAX, 4294967294; numbers
      // after the second are left unread; one number leaves the high as it was), and a range
      // whose high is below its low becomes the empty "1 0".
      const words = text.trim().split(/\s+/);
      if (words.some((w) => !/^[0-9]+$/.test(w))) throw EINVAL;
      const s = this.#net().sysctl;
      let low = Number(words[0]), high = words.length > 1 ? Number(words[1]) : s.pingGroupHigh;
      if (low > GID_T_MAX || high > GID_T_MAX) throw EINVAL;
      if (high < low) [low, high] = [1, 0];
      s.pingGroupLow = low;
      s.pingGroupHigh = high;
      return;
    }
    const netKey = NET_SYSCTLS[key];
    if (netKey !== undefined) {
      // proc_dointvec: one integer (ip_forward only 0 or 1 in effect; the value is kept as given).
      const t = text.trim();
      if (!/^-?[0-9]+$/.test(t)) throw EINVAL;
      const n = Number(t);
      if (n < -2147483648 || n > 2147483647) throw EINVAL;
      this.#net().sysctl[netKey] = n;
      return;
    }
    if (key === "kernel/ns_last_pid") return this.#setLastPid(text);
    if (key === "fs/lease-break-time" || key === "fs/leases-enable") {
      // proc_dointvec: one int, kept as given (a break time of 0 or less never forces a break).
      const t = text.trim();
      if (!/^-?[0-9]+$/.test(t)) throw EINVAL;
      const n = Number(t);
      if (n < -2147483648 || n > 2147483647) throw EINVAL;
      if (key === "fs/leases-enable") this.#k.leases.enabled = n;
      else this.#k.leases.breakTimeSec = n;
      return;
    }
    if (key === "fs/fanotify/max_user_groups" || key === "fs/fanotify/max_user_marks") {
      // The initial user namespace's ucounts limits, proc_dointvec_minmax from 0.
      const t = text.trim();
      if (!/^[0-9]+$/.test(t)) throw EINVAL;
      const n = Number(t);
      if (n > 2147483647) throw EINVAL;
      this.#k.ucounts.setLimit(INIT_USER_NS, key === "fs/fanotify/max_user_groups" ? UCOUNT_FANOTIFY_GROUPS : UCOUNT_FANOTIFY_MARKS, n);
      return;
    }
    if (key === "fs/inotify/max_user_instances" || key === "fs/inotify/max_user_watches") {
      // The initial user namespace's ucounts limits. proc_dointvec_minmax from 0 (instances, an
      // int) and proc_doulongvec_minmax from 0 (watches, a long since ucount_max went long): a
      // negative or non-number is EINVAL.
      const t = text.trim();
      if (!/^[0-9]+$/.test(t)) throw EINVAL;
      const n = Number(t);
      const instances = key === "fs/inotify/max_user_instances";
      if (instances ? n > 2147483647 : !Number.isSafeInteger(n)) throw EINVAL;
      this.#k.ucounts.setLimit(INIT_USER_NS, instances ? UCOUNT_INOTIFY_INSTANCES : UCOUNT_INOTIFY_WATCHES, n);
      return;
    }
    const user = this.#userLimit(key);
    if (user !== null) {
      // kernel/ucount.c's user_table: the caller's user namespace's limits, writable with
      // CAP_SYS_RESOURCE there (set_permissions), proc_doulongvec_minmax from 0 to INT_MAX.
      const c = this.#k.current;
      const ns = c?.creds.userNs ?? INIT_USER_NS;
      if (c !== null && !c.creds.capableIn(ns, CAP_SYS_RESOURCE)) throw EACCES;
      const t = text.trim();
      if (!/^[0-9]+$/.test(t)) throw EINVAL;
      const n = Number(t);
      if (n > 2147483647) throw EINVAL;
      this.#k.ucounts.setLimit(ns, user, n);
      return;
    }
    if (key === "vm/unprivileged_userfaultfd") {
      // proc_dointvec_minmax from 0 to 1.
      const t = text.trim();
      if (!/^-?[0-9]+$/.test(t)) throw EINVAL;
      const n = Number(t);
      if (n < 0 || n > 1) throw EINVAL;
      uffdSysctl.unprivileged = n;
      return;
    }
    if (key === "fs/pipe-max-size") {
      // proc_dopipe_max_size: an unsigned int, rounded up by round_pipe_size (0 is EINVAL).
      const t = text.trim();
      if (!/^[0-9]+$/.test(t)) throw EINVAL;
      const n = Number(t);
      if (n > 0xffffffff) throw EINVAL;
      const size = roundPipeSize(n);
      if (size === 0) throw EINVAL;
      pipeSysctl.maxSize = size;
      return;
    }
    if (key !== "fs/nr_open") throw EINVAL;
    // proc_dointvec_minmax between sysctl_nr_open_min and sysctl_nr_open_max (64-bit).
    const t = text.trim();
    if (!/^[0-9]+$/.test(t)) throw EINVAL;
    const n = Number(t);
    if (n < 64 || n > 2147483584) throw EINVAL;
    this.#k.nrOpen = n;
  }

  /**
   * A write of /proc/sys/kernel/ns_last_pid (pid_ns_ctl_handler): an integer from 0 to pid_max
   * by a holder of CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE over the namespace's owner (EPERM).
   * The sandbox's first namespace only moves forward (its ids are the kernel's, never reused):
   * a lower value is EINVAL there.
   */
  #setLastPid(text: string): void {
    const c = this.#k.current?.creds;
    const ns = this.#ns;
    if (c !== undefined && !c.capableIn(ns.owner, CAP_SYS_ADMIN) && !c.capableIn(ns.owner, CAP_CHECKPOINT_RESTORE)) throw EPERM;
    const t = text.trim();
    if (!/^[0-9]+$/.test(t)) throw EINVAL;
    const n = Number(t);
    if (n > PID_MAX_LIMIT) throw EINVAL;
    if (ns.parent !== null) ns.lastPid = n;
    else if (n < this.#k.lastTid) throw EINVAL;
    else this.#k.skipTids(n);
  }

  /** The ucounts kind of /proc/sys/user/KEY, or null for another sysctl. */
  #userLimit(key: string): number | null {
    if (!key.startsWith("user/")) return null;
    const kind = UCOUNT_NAMES.indexOf(key.slice(5));
    return kind < 0 ? null : kind;
  }

  blockDevices(): BlockDeviceTable {
    return this.#k.vfs.blockDevices;
  }

  sysctl(key: string): string {
    if (key.startsWith("kernel/keys/")) {
      const v = this.#k.keys.limits[key.slice(12) as keyof KeyLimits];
      return v === undefined ? "" : `${v}\n`;
    }
    const user = this.#userLimit(key);
    if (user !== null) return `${this.#k.ucounts.limits(this.#k.current?.creds.userNs ?? INIT_USER_NS)[user]}\n`;
    switch (key) {
      case "keys":
      case "key-users": {
        const t = this.#k.current;
        if (t === null || t === undefined) return "";
        // The keys family loads at its first use (table_amd64.ts): reading these before any key
        // call sleeps until it is there and then runs again, as the family's own syscalls do.
        const m = procKeys.get();
        return key === "keys" ? m.renderProcKeys(t) : m.renderProcKeyUsers(t);
      }
      case "kernel/ns_last_pid":
        return `${this.lastPid}\n`;
      case "fs/nr_open":
        return `${this.#k.nrOpen}\n`;
      case "fs/pipe-max-size":
        return `${pipeSysctl.maxSize}\n`;
      case "vm/unprivileged_userfaultfd":
        return `${uffdSysctl.unprivileged}\n`;
      case "fs/fanotify/max_user_groups":
        return `${this.#k.ucounts.limits(INIT_USER_NS)[UCOUNT_FANOTIFY_GROUPS]}\n`;
      case "fs/fanotify/max_user_marks":
        return `${this.#k.ucounts.limits(INIT_USER_NS)[UCOUNT_FANOTIFY_MARKS]}\n`;
      case "fs/inotify/max_user_instances":
        return `${this.#k.ucounts.limits(INIT_USER_NS)[UCOUNT_INOTIFY_INSTANCES]}\n`;
      case "fs/inotify/max_user_watches":
        return `${this.#k.ucounts.limits(INIT_USER_NS)[UCOUNT_INOTIFY_WATCHES]}\n`;
      case "fs/lease-break-time":
        return `${this.#k.leases.breakTimeSec}\n`;
      case "fs/leases-enable":
        return `${this.#k.leases.enabled}\n`;
      case "kernel/shmmax":
      case "kernel/shmall":
      case "kernel/shmmni":
      case "kernel/msgmax":
      case "kernel/msgmnb":
      case "kernel/msgmni":
        return `${this.#ipc().sysctls[key.slice(7) as "shmmax"]}\n`;
      case "kernel/sem":
        return `${this.#ipc().sysctls.sem.join("\t")}\n`;
      case "kernel/shm_next_id":
      case "kernel/msg_next_id":
      case "kernel/sem_next_id":
        return `${this.#ipc()[key.slice(7, 10) as "shm" | "msg" | "sem"].nextId}\n`;
      case "net/core/rmem_default":
        return `${NET_CORE.rmemDefault}\n`;
      case "net/core/rmem_max":
        return `${NET_CORE.rmemMax}\n`;
      case "net/core/wmem_default":
        return `${NET_CORE.wmemDefault}\n`;
      case "net/core/wmem_max":
        return `${NET_CORE.wmemMax}\n`;
      case "net/ipv4/ip_local_port_range":
        // The range the netstack draws ephemeral ports from (netstack/iface/ports.ts).
        return `${this.#net().stack.ephemeralRange.join("\t")}\n`;
      case "net/ipv4/ping_group_range":
        return `${this.#net().sysctl.pingGroupLow}\t${this.#net().sysctl.pingGroupHigh}\n`;
      case "net/ipv4/ip_forward":
      case "net/ipv4/tcp_sack":
      case "net/ipv4/tcp_recovery":
      case "net/ipv4/conf/lo/accept_local":
      case "net/ipv4/conf/lo/route_localnet":
      case "net/ipv4/conf/lo/tag":
      case "net/ipv4/conf/default/tag":
        return `${this.#net().sysctl[NET_SYSCTLS[key]!]}\n`;
      case "net/ipv4/tcp_rmem":
        return `4096\t${netModules().TCP_RCVBUF}\t${netModules().TCP_RMEM_MAX}\n`;
      case "net/ipv4/tcp_wmem":
        return `4096\t${netModules().TCP_SNDBUF}\t4194304\n`;
    }
    return "";
  }

  /** The IPC namespace /proc/sys/kernel's System V limits are: the calling task's. */
  #ipc(): IpcNamespace {
    return this.#k.current?.ipc ?? this.#k.ipc;
  }

  /**
   * A write of a System V limit (ipc_sysctl.c): shmmax and shmall unsigned longs
   * (proc_doulongvec_minmax), shmmni and msgmni ints from 0 to IPCMNI, msgmax and msgmnb from 0
   * to INT_MAX (proc_dointvec_minmax); sem up to four ints (proc_dointvec), semmni then checked
   * from 0 to IPCMNI (EINVAL, with semmni put back and the others kept, as Linux).
   */
  #setIpcSysctl(name: string, text: string): void {
    const ns = this.#ipc(), c = ns.sysctls;
    const t = text.trim();
    if (name === "shmmax" || name === "shmall") {
      if (!/^\+?[0-9]+$/.test(t)) throw EINVAL;
      const n = BigInt(t);
      if (n >= 1n << 64n) throw EINVAL;
      c[name] = n;
      return;
    }
    if (name === "sem") {
      const parts = t.split(/\s+/).filter((x) => x !== "");
      if (parts.length === 0 || parts.length > 4 || parts.some((x) => !/^[+-]?[0-9]+$/.test(x))) throw EINVAL;
      const vals = parts.map(Number);
      if (vals.some((n) => n < -2147483648 || n > 2147483647)) throw EINVAL;
      const semmni = c.sem[3];
      vals.forEach((n, i) => (c.sem[i] = n));
      if (c.sem[3] < 0 || c.sem[3] > IPCMNI) {
        c.sem[3] = semmni;
        throw ERANGE;
      }
      ns.sem.max = c.sem[3];
      return;
    }
    if (!/^[+-]?[0-9]+$/.test(t)) throw EINVAL;
    const n = Number(t);
    const max = name === "shmmni" || name === "msgmni" ? IPCMNI : 2147483647;
    if (n < 0 || n > max) throw EINVAL;
    if (name === "shmmni") ns.shm.max = c.shmmni = n;
    else if (name === "msgmni") ns.msg.max = c.msgmni = n;
    else if (name === "msgmax") c.msgmax = n;
    else c.msgmnb = n;
  }

  /**
   * A write of /proc/sys/kernel/{shm,msg,sem}_next_id (ipc_sysctl.c): writable by a holder of
   * CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN over the IPC namespace's owner (EPERM: the file is
   * 0444 to others, checkpoint_restore_ns_capable), an int from 0 to INT_MAX
   * (proc_dointvec_minmax: EINVAL).
   */
  #setNextId(kind: "shm" | "msg" | "sem", text: string): void {
    const ns = this.#ipc(), c = this.#k.current?.creds;
    if (c !== undefined && !c.capableIn(ns.shm.owner, CAP_SYS_ADMIN) && !c.capableIn(ns.shm.owner, CAP_CHECKPOINT_RESTORE)) {
      throw EPERM;
    }
    const t = text.trim();
    if (!/^[+-]?[0-9]+$/.test(t)) throw EINVAL;
    const n = Number(t);
    if (n < 0 || n > 2147483647) throw EINVAL;
    ns[kind].nextId = n;
  }

  /** The network namespace /proc/sys/net shows: the calling task's (Linux's current->nsproxy). */
  #net(): Net {
    return this.#k.current?.net ?? this.#k.net;
  }

  /** May wait for the network's modules (kernel/net_load.ts): nothing is read before. */
  sysvipc(kind: SysvipcKind): string {
    const t = this.#k.current;
    return renderSysvipc(this.#k, kind, t?.ipc ?? this.#k.ipc, t?.creds.userNs ?? INIT_USER_NS, (id) => this.#ns.local(id));
  }

  netFile(name: NetFileKind, tid: number): string {
    const id = this.#ns.global(tid);
    const net = (id === undefined ? undefined : this.#k.tasks.get(id))?.net ?? this.#k.net;
    const m = netModules();
    switch (name) {
      case "tcp":
      case "tcp6":
        return m.renderProcNetTcp(net, name === "tcp6");
      case "udp":
      case "udp6":
        return m.renderProcNetUdp(net, name === "udp6");
      case "udplite":
      case "udplite6":
        return m.renderProcNetUdp(net, name === "udplite6", true);
      case "unix":
        return m.renderProcNetUnix(net.unix);
      case "dev":
        return m.renderProcNetDev(net);
      case "snmp":
        return m.renderProcNetSnmp(net);
      case "netstat":
        return m.renderProcNetNetstat();
      case "if_inet6":
        return m.renderProcNetIfInet6(net);
    }
  }
}
