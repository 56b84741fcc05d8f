/**
 * The text of procfs files, as pure functions of the kernel's views (source.ts), byte for byte
 * in Linux's formats (fs/proc/array.c, task_mmu.c, meminfo.c, stat.c, base.c), so that procps
 * (ps, top, free), glibc and language runtimes parse them.
 *
 * Units: Linux reports times in clock ticks (USER_HZ = 100) and memory in kB or pages (4096).
 *
 * @module
 */

import { INIT_USER_NS, type UserNamespace } from "../../kernel/user_namespace.ts";
import type { Mount } from "../mount.ts";
import { MS_NOATIME, MS_NODEV, MS_NODIRATIME, MS_NOEXEC, MS_NOSUID, MS_NOSYMFOLLOW, MS_STRICTATIME } from "../../abi/linux/mount.ts";
import { Location } from "../mount.ts";
import type { ProcMemory, ProcProcess, ProcSystem, ProcThread, ProcVma } from "./source.ts";
import { FILESYSTEM_TYPES, NODEV_FILESYSTEM_TYPES } from "../fs_types.ts";

/** USER_HZ: the unit of every time in /proc. */
export const CLK_TCK = 100;
const PAGE = 4096;
const PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
/** A capability set as /proc/PID/status prints it: 16 hex digits. */
const capHex = (set: bigint) => set.toString(16).padStart(16, "0");

function ticks(ns: number): number {
  return Math.floor(ns / (1e9 / CLK_TCK));
}

function hex16(v: bigint): string {
  return BigInt.asUintN(64, v).toString(16).padStart(16, "0");
}

const STATE_NAMES: Record<string, string> = {
  R: "R (running)", S: "S (sleeping)", D: "D (disk sleep)", T: "T (stopped)", Z: "Z (zombie)",
};

/** Memory totals of a process, in bytes, derived from its mappings. */
export interface MemoryTotals {
  size: number;
  /** The sentry does not track residency: mapped and accessible bytes stand for it. */
  rss: number;
  rssFile: number;
  rssAnon: number;
  data: number;
  stack: number;
  exe: number;
  lib: number;
  shared: number;
  /** Bytes in locked VMAs (Linux's locked_vm: mlock, mlock2 with or without MLOCK_ONFAULT, mlockall). */
  locked: number;
}

/** Sums a process's mappings the way status and statm need them. */
export function memoryTotals(mem: ProcMemory | null, exePath: string | null): MemoryTotals {
  const t: MemoryTotals = { size: 0, rss: 0, rssFile: 0, rssAnon: 0, data: 0, stack: 0, exe: 0, lib: 0, shared: 0, locked: 0 };
  if (mem === null) return t;
  for (const v of mem.vmas) {
    if (v.name === "[vsyscall]") continue; // the gate VMA is no part of the process's mm
    const len = v.end - v.start;
    t.size += len;
    if (v.locked === true) t.locked += len;
    if (v.prot === 0) continue; // guard pages and reservations are never resident
    t.rss += len;
    const isFile = v.ino !== 0;
    if (isFile) t.rssFile += len;
    else t.rssAnon += len;
    if (v.shared) t.shared += len;
    if (v.name === "[stack]") t.stack += len;
    else if (!v.shared && (v.prot & PROT_WRITE) && !isFile) t.data += len;
    if ((v.prot & PROT_EXEC) && isFile) {
      if (exePath !== null && v.name === exePath) t.exe += len;
      else t.lib += len;
    }
  }
  return t;
}

/** /proc/PID/stat (or task/TID/stat when thread is given): one line of 52 fields. */
export function renderStat(p: ProcProcess, thread: ProcThread | null, exePath: string | null): string {
  const mem = p.memory();
  const tot = memoryTotals(mem, exePath);
  const leader = p.threads[0];
  const id = thread?.tid ?? p.pid;
  const comm = thread?.comm ?? p.comm;
  const state = thread?.state ?? p.state;
  const blocked = thread?.sigBlocked ?? leader?.sigBlocked ?? 0n;
  const pending = (thread?.sigPending ?? leader?.sigPending ?? 0n) | p.sigSharedPending;
  const nice = thread?.nice ?? leader?.nice ?? 0;
  const m = mem ?? { brkStart: 0, brk: 0, stackStart: 0, argStart: 0, argEnd: 0, envStart: 0, envEnd: 0, vmas: [] };
  const code = exeRange(mem?.vmas ?? [], exePath);
  const fields: (number | string | bigint)[] = [
    id, `(${comm})`, state, p.ppid, p.pgid, p.sid,
    p.ttyNr, p.tpgid, // the controlling terminal and its foreground group
    0x400000, // flags: PF_RANDOMIZE as a normal task shows
    0, 0, 0, 0, // minflt, cminflt, majflt, cmajflt
    ticks(p.userNs), ticks(p.sysNs), ticks(p.childUserNs), ticks(p.childSysNs),
    20 + nice, nice, // priority (a fair task's: 20 + nice), nice
    Math.max(p.threads.length, 1),
    0, // itrealvalue
    ticks(p.startNs),
    tot.size, Math.floor(tot.rss / PAGE),
    "18446744073709551615", // rsslim
    code.start, code.end, m.stackStart,
    0, 0, // kstkesp, kstkeip (hidden, as for unprivileged readers)
    pending & 0x7fffffffn, blocked & 0x7fffffffn, p.sigIgnored & 0x7fffffffn, p.sigCaught & 0x7fffffffn,
    0, 0, 0, // wchan, nswap, cnswap
    p.exitSignal, 0, 0, 0, // exit_signal, processor, rt_priority, policy
    0, 0, 0, // delayacct_blkio_ticks, guest_time, cguest_time
    0, 0, // start_data, end_data
    m.brkStart, m.argStart, m.argEnd, m.envStart, m.envEnd,
    0, // exit_code
  ];
  return fields.join(" ") + "\n";
}

function exeRange(vmas: ProcVma[], exePath: string | null): { start: number; end: number } {
  let start = 0, end = 0;
  for (const v of vmas) {
    if (exePath === null || v.name !== exePath || !(v.prot & PROT_EXEC)) continue;
    if (start === 0) start = v.start;
    end = v.end;
  }
  return { start, end };
}

/** /proc/PID/statm: size resident shared text lib data dt, in pages. */
export function renderStatm(p: ProcProcess, exePath: string | null): string {
  const t = memoryTotals(p.memory(), exePath);
  const pg = (b: number) => Math.floor(b / PAGE);
  return `${pg(t.size)} ${pg(t.rss)} ${pg(t.rssFile)} ${pg(t.exe)} 0 ${pg(t.data + t.stack)} 0\n`;
}

/** /proc/PID/status (or task/TID/status). */
export function renderStatus(
  p: ProcProcess,
  thread: ProcThread | null,
  exePath: string | null,
  fdSize: number,
  ncpus: number,
  /** The reader's user namespace: the ids are shown as it maps them (65534 for one it does not). */
  viewer: UserNamespace = INIT_USER_NS,
): string {
  const c = p.creds, u = (id: number) => viewer.uidOf(id), g = (id: number) => viewer.gidOf(id);
  const leader = p.threads[0];
  const th = thread ?? leader ?? null;
  const state = thread?.state ?? p.state;
  const kb = (b: number) => `${String(Math.floor(b / 1024)).padStart(8)} kB`;
  const lines: string[] = [
    `Name:\t${thread?.comm ?? p.comm}`,
    `Umask:\t${p.umask.toString(8).padStart(4, "0")}`,
    `State:\t${STATE_NAMES[state] ?? state}`,
    `Tgid:\t${p.pid}`,
    `Ngid:\t0`,
    `Pid:\t${thread?.tid ?? p.pid}`,
    `PPid:\t${p.ppid}`,
    `TracerPid:\t${p.tracerPid}`,
    `Uid:\t${u(c.uid)}\t${u(c.euid)}\t${u(c.suid)}\t${u(c.fsuid)}`,
    `Gid:\t${g(c.gid)}\t${g(c.egid)}\t${g(c.sgid)}\t${g(c.fsgid)}`,
    `FDSize:\t${fdSize}`,
    `Groups:\t${c.groups.map(g).join(" ")} `,
    // Each id in the PID namespace of this /proc and in every one nested below it down to the
    // process's own (proc_pid_status), tab-separated.
    `NStgid:\t${(p.nsIds?.("tgid") ?? [p.pid]).join("\t")}`,
    `NSpid:\t${(p.nsIds?.("pid", thread?.tid ?? p.pid) ?? [thread?.tid ?? p.pid]).join("\t")}`,
    `NSpgid:\t${(p.nsIds?.("pgid") ?? [p.pgid]).join("\t")}`,
    `NSsid:\t${(p.nsIds?.("sid") ?? [p.sid]).join("\t")}`,
    `Kthread:\t0`,
  ];
  const mem = p.memory();
  if (mem !== null) {
    const t = memoryTotals(mem, exePath);
    lines.push(
      `VmPeak:\t${kb(t.size)}`, `VmSize:\t${kb(t.size)}`, `VmLck:\t${kb(t.locked)}`, `VmPin:\t${kb(0)}`,
      `VmHWM:\t${kb(t.rss)}`, `VmRSS:\t${kb(t.rss)}`, `RssAnon:\t${kb(t.rssAnon)}`,
      `RssFile:\t${kb(t.rssFile)}`, `RssShmem:\t${kb(0)}`, `VmData:\t${kb(t.data)}`,
      `VmStk:\t${kb(t.stack)}`, `VmExe:\t${kb(t.exe)}`, `VmLib:\t${kb(t.lib)}`, `VmPTE:\t${kb(0)}`,
      `VmSwap:\t${kb(0)}`, `HugetlbPages:\t${kb(0)}`,
    );
  }
  lines.push(
    `CoreDumping:\t0`,
    `THP_enabled:\t0`,
    `Threads:\t${Math.max(p.threads.length, 1)}`,
    `SigQ:\t0/${0x3fff * 8}`,
    `SigPnd:\t${hex16(th?.sigPending ?? 0n)}`,
    `ShdPnd:\t${hex16(p.sigSharedPending)}`,
    `SigBlk:\t${hex16(th?.sigBlocked ?? 0n)}`,
    `SigIgn:\t${hex16(p.sigIgnored)}`,
    `SigCgt:\t${hex16(p.sigCaught)}`,
    `CapInh:\t${capHex(c.caps.inheritable)}`,
    `CapPrm:\t${capHex(c.caps.permitted)}`,
    `CapEff:\t${capHex(c.caps.effective)}`,
    `CapBnd:\t${capHex(c.caps.bounding)}`,
    `CapAmb:\t${capHex(c.caps.ambient)}`,
    `NoNewPrivs:\t${p.noNewPrivs ? 1 : 0}`,
    `Seccomp:\t${p.seccompMode}`,
    `Seccomp_filters:\t${p.seccompFilters}`,
    `Speculation_Store_Bypass:\tthread vulnerable`,
    `Cpus_allowed:\t${cpuMask(ncpus)}`,
    `Cpus_allowed_list:\t${ncpus > 1 ? `0-${ncpus - 1}` : "0"}`,
    `Mems_allowed:\t1`,
    `Mems_allowed_list:\t0`,
    `voluntary_ctxt_switches:\t0`,
    `nonvoluntary_ctxt_switches:\t0`,
  );
  return lines.join("\n") + "\n";
}

function cpuMask(n: number): string {
  return ((1n << BigInt(n)) - 1n).toString(16);
}

/** One line of /proc/PID/maps. */
export function mapsLine(v: ProcVma): string {
  const perms = (v.prot & PROT_READ ? "r" : "-") + (v.prot & PROT_WRITE ? "w" : "-") +
    (v.prot & PROT_EXEC ? "x" : "-") + (v.shared ? "s" : "p");
  const major = Math.floor(v.dev / 256) & 0xfff, minor = v.dev & 0xff;
  const hex2 = (n: number) => n.toString(16).padStart(2, "0");
  const prefix = `${hex8(v.start)}-${hex8(v.end)} ${perms} ${hex8(v.offset)} ${hex2(major)}:${hex2(minor)} ${v.ino} `;
  return v.name === "" ? prefix : prefix.padEnd(72) + " " + v.name;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

/** /proc/PID/maps. */
export function renderMaps(mem: ProcMemory | null): string {
  if (mem === null) return "";
  return mem.vmas.map((v) => mapsLine(v) + "\n").join("");
}

/**
 * /proc/PID/smaps: each mapping's maps line and its memory counts in Linux 6.x's layout. The
 * sentry does not track residency (see MemoryTotals): an accessible mapping counts as resident
 * and private to the process, dirty if anonymous, clean if a file's.
 */
export function renderSmaps(mem: ProcMemory | null): string {
  if (mem === null) return "";
  let out = "";
  for (const v of mem.vmas) {
    const size = (v.end - v.start) / 1024;
    const rss = v.prot === 0 || v.name === "[vsyscall]" || v.name === "[vvar]" ? 0 : size;
    const anon = v.ino === 0 && !v.name.startsWith("[v");
    const dirty = anon ? rss : 0;
    const row = (k: string, n: number) => `${(k + ":").padEnd(16)}${String(n).padStart(8)} kB\n`;
    out += mapsLine(v) + "\n" + row("Size", size) + row("KernelPageSize", 4) + row("MMUPageSize", 4) + row("Rss", rss) +
      row("Pss", rss) + row("Pss_Dirty", dirty) + row("Shared_Clean", 0) + row("Shared_Dirty", 0) +
      row("Private_Clean", rss - dirty) + row("Private_Dirty", dirty) + row("Referenced", rss) +
      row("Anonymous", anon && !v.shared ? rss : 0) + row("KSM", 0) + row("LazyFree", 0) + row("AnonHugePages", 0) +
      row("ShmemPmdMapped", 0) + row("FilePmdMapped", 0) + row("Shared_Hugetlb", 0) + row("Private_Hugetlb", 0) +
      row("Swap", 0) + row("SwapPss", 0) + row("Locked", v.locked === true ? rss : 0) + `${"THPeligible:".padEnd(16)}${"0".padStart(8)}\n` +
      `VmFlags: ${v.vmFlags ?? defaultVmFlags(v)} \n`;
  }
  return out;
}

/** VmFlags from protection and sharing alone (a source that knows no more). */
function defaultVmFlags(v: ProcVma): string {
  const f = [];
  if (v.prot & PROT_READ) f.push("rd");
  if (v.prot & PROT_WRITE) f.push("wr");
  if (v.prot & PROT_EXEC) f.push("ex");
  if (v.shared) f.push("sh");
  f.push("mr", "mw", "me");
  if (v.shared) f.push("ms");
  return f.join(" ");
}

const LIMIT_ROWS: [string, string][] = [
  ["Max cpu time", "seconds"], ["Max file size", "bytes"], ["Max data size", "bytes"],
  ["Max stack size", "bytes"], ["Max core file size", "bytes"], ["Max resident set", "bytes"],
  ["Max processes", "processes"], ["Max open files", "files"], ["Max locked memory", "bytes"],
  ["Max address space", "bytes"], ["Max file locks", "locks"], ["Max pending signals", "signals"],
  ["Max msgqueue size", "bytes"], ["Max nice priority", ""], ["Max realtime priority", ""],
  ["Max realtime timeout", "us"],
];
const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

/** /proc/PID/limits, in the order of RLIMIT_* numbers. */
export function renderLimits(limits: Array<{ cur: bigint; max: bigint }>): string {
  const v = (x: bigint) => (x >= RLIM_INFINITY ? "unlimited" : x.toString());
  let out = `${"Limit".padEnd(26)}${"Soft Limit".padEnd(21)}${"Hard Limit".padEnd(21)}${"Units".padEnd(10)}\n`;
  LIMIT_ROWS.forEach(([name, unit], i) => {
    const l = limits[i] ?? { cur: RLIM_INFINITY, max: RLIM_INFINITY };
    out += `${name.padEnd(26)}${v(l.cur).padEnd(21)}${v(l.max).padEnd(21)}${unit.padEnd(10)}\n`;
  });
  return out;
}

/** /proc/meminfo, in the layout of Linux 6.x (the fields free, top and vmstat read first). */
export function renderMeminfo(sys: ProcSystem): string {
  const kb = (b: number) => Math.floor(b / 1024);
  const total = kb(sys.memTotal);
  const free = Math.max(total - kb(sys.memUsed), 0);
  const rows: [string, number][] = [
    ["MemTotal", total], ["MemFree", free], ["MemAvailable", free], ["Buffers", 0], ["Cached", 0],
    ["SwapCached", 0], ["Active", kb(sys.memUsed)], ["Inactive", 0], ["Active(anon)", kb(sys.memUsed)],
    ["Inactive(anon)", 0], ["Active(file)", 0], ["Inactive(file)", 0], ["Unevictable", 0],
    ["Mlocked", 0], ["SwapTotal", 0], ["SwapFree", 0], ["Dirty", 0], ["Writeback", 0],
    ["AnonPages", kb(sys.memUsed)], ["Mapped", 0], ["Shmem", 0], ["KReclaimable", 0], ["Slab", 0],
    ["SReclaimable", 0], ["SUnreclaim", 0], ["KernelStack", 0], ["PageTables", 0],
    ["NFS_Unstable", 0], ["Bounce", 0], ["WritebackTmp", 0], ["CommitLimit", total],
    ["Committed_AS", kb(sys.memUsed)], ["VmallocTotal", 34359738367], ["VmallocUsed", 0],
    ["VmallocChunk", 0], ["Percpu", 0], ["HugePages_Total", -1], ["HugePages_Free", -1],
    ["HugePages_Rsvd", -1], ["HugePages_Surp", -1], ["Hugepagesize", 2048],
  ];
  return rows.map(([k, v]) => {
    if (v === -1) return `${(k + ":").padEnd(16)}${"0".padStart(8)}\n`;
    return `${(k + ":").padEnd(16)}${String(v).padStart(8)} kB\n`;
  }).join("");
}

/**
 * /proc/vmstat: Linux's counters by name, one per line (vmstat, sar and free -s read it; vmstat
 * refuses to start without it). Page counts come from the memory figures of meminfo; the event
 * counters (paging, swapping, faults) are not kept and stay 0.
 */
export function renderVmstat(sys: ProcSystem): string {
  const pages = (b: number) => Math.floor(b / 4096);
  const total = pages(sys.memTotal), used = Math.min(pages(sys.memUsed), total);
  const rows: [string, number][] = [
    ["nr_free_pages", total - used], ["nr_zone_inactive_anon", 0], ["nr_zone_active_anon", used],
    ["nr_zone_inactive_file", 0], ["nr_zone_active_file", 0], ["nr_zone_unevictable", 0],
    ["nr_zone_write_pending", 0], ["nr_mlock", 0], ["nr_bounce", 0], ["nr_free_cma", 0],
    ["nr_inactive_anon", 0], ["nr_active_anon", used], ["nr_inactive_file", 0], ["nr_active_file", 0],
    ["nr_unevictable", 0], ["nr_slab_reclaimable", 0], ["nr_slab_unreclaimable", 0],
    ["nr_isolated_anon", 0], ["nr_isolated_file", 0], ["nr_anon_pages", used], ["nr_mapped", 0],
    ["nr_file_pages", 0], ["nr_dirty", 0], ["nr_writeback", 0], ["nr_shmem", 0],
    ["nr_kernel_stack", 0], ["nr_page_table_pages", 0], ["nr_dirty_threshold", 0],
    ["nr_dirty_background_threshold", 0], ["pgpgin", 0], ["pgpgout", 0], ["pswpin", 0],
    ["pswpout", 0], ["pgalloc_normal", 0], ["pgfree", 0], ["pgactivate", 0], ["pgdeactivate", 0],
    ["pgfault", 0], ["pgmajfault", 0], ["pgrefill", 0], ["pgsteal_kswapd", 0],
    ["pgsteal_direct", 0], ["pgscan_kswapd", 0], ["pgscan_direct", 0], ["oom_kill", 0],
  ];
  return rows.map(([k, v]) => `${k} ${v}\n`).join("");
}

/**
 * /proc/stat: CPU time lines (the sentry does not account per-CPU time: the sandbox's CPU time
 * goes to user, the rest of the uptime is idle), boot time and process counts.
 */
export function renderProcStat(sys: ProcSystem, cpuNs: number, running: number, blocked: number): string {
  const up = ticks(sys.uptimeNs);
  const user = Math.min(ticks(cpuNs), up * sys.ncpus);
  const idleAll = up * sys.ncpus - user;
  const line = (name: string, u: number, idle: number) => `${name} ${u} 0 0 ${idle} 0 0 0 0 0 0\n`;
  let out = line("cpu ", user, idleAll);
  for (let i = 0; i < sys.ncpus; i++) {
    const u = Math.floor(user / sys.ncpus);
    out += line(`cpu${i}`, u, up - u);
  }
  out += `intr 0\nctxt 0\nbtime ${sys.bootTimeSec}\nprocesses ${sys.forks}\n`;
  out += `procs_running ${running}\nprocs_blocked ${blocked}\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n`;
  return out;
}

/** /proc/uptime: seconds up, and idle CPU-seconds summed over CPUs. */
export function renderUptime(sys: ProcSystem, cpuNs: number): string {
  const up = sys.uptimeNs / 1e9;
  const idle = Math.max(up * sys.ncpus - cpuNs / 1e9, 0);
  return `${((sys.readerUptimeNs ?? sys.uptimeNs) / 1e9).toFixed(2)} ${idle.toFixed(2)}\n`;
}

/** /proc/loadavg: the averages are not computed (0.00); runnable/total threads; last PID. */
export function renderLoadavg(sys: ProcSystem, running: number, total: number): string {
  return `0.00 0.00 0.00 ${running}/${total} ${sys.lastPid}\n`;
}

/** /proc/version. */
export function renderVersion(sys: ProcSystem): string {
  return `Linux version ${sys.release} (sentry@sentry) (gcc) ${sys.version}\n`;
}

/** /proc/filesystems: the filesystem types mount(2) knows. */
export function renderFilesystems(): string {
  return FILESYSTEM_TYPES.map((name) => `${NODEV_FILESYSTEM_TYPES.includes(name) ? "nodev" : ""}\t${name}\n`).join("");
}

/** The mount options column: rw/ro first, then nosuid, nodev, noexec and the atime mode. */
export function mountOptions(m: Mount): string {
  const o = [m.isReadonly ? "ro" : "rw"];
  if (m.flags & MS_NOSUID) o.push("nosuid");
  if (m.flags & MS_NODEV) o.push("nodev");
  if (m.flags & MS_NOEXEC) o.push("noexec");
  if (m.flags & MS_NOATIME) o.push("noatime");
  if (m.flags & MS_NODIRATIME) o.push("nodiratime");
  if (!(m.flags & (MS_NOATIME | MS_STRICTATIME))) o.push("relatime");
  if (m.flags & MS_NOSYMFOLLOW) o.push("nosymfollow");
  return o.join(",");
}

/** The filesystem's own options after rw/ro (tmpfs's size=, mode=...), Linux's show_options. */
function superOptions(m: Mount): string {
  const extra = m.fs.showOptions?.() ?? "";
  return extra === "" ? "" : "," + extra;
}

/** The path of m's mount point as seen from root, or null when it is outside root. */
export function mountPath(m: Mount, root: Location | null): string | null {
  const at = new Location(m, m.root);
  return root === null ? at.path() : at.pathFrom(root);
}

/** /proc/PID/mounts (and /proc/mounts): `source target type options 0 0` per mount. */
export function renderMounts(mounts: Mount[], root: Location | null): string {
  let out = "";
  for (const m of mounts) {
    const p = mountPath(m, root);
    if (p === null) continue;
    out += `${escapeMountField(m.source)} ${escapeMountField(p)} ${m.fs.name} ${mountOptions(m)}${superOptions(m)} 0 0\n`;
  }
  return out;
}

/** /proc/PID/mountinfo (proc(5)): id, parent id, major:minor, root, mount point, options... */
export function renderMountinfo(mounts: Mount[], root: Location | null, devOf: (m: Mount) => number): string {
  let out = "";
  for (const m of mounts) {
    const p = mountPath(m, root);
    if (p === null) continue;
    const dev = devOf(m);
    const major = Math.floor(dev / 256) & 0xfff, minor = dev & 0xff;
    const fsRoot = subtreePath(m);
    // A namespace's root mount shows a parent that is not in the table, as a container's root
    // does on Linux (its parent is outside the container's namespace), not its own id: that
    // would claim Linux's rootfs, where pivot_root is EINVAL, while the sandbox's root, like a
    // container's, may be pivoted (gVisor's PivotRootTest.OnRootFS reads it so).
    const parent = m.parent?.id ?? 0;
    const superOpts = (m.fs.readonly || m.fs.superReadonly ? "ro" : "rw") + superOptions(m);
    out += `${m.id} ${parent} ${major}:${minor} ${escapeMountField(fsRoot)} ${escapeMountField(p)} ` +
      `${mountOptions(m)}${propagationFields(m)} - ${m.fs.name} ${escapeMountField(m.source)} ${superOpts}\n`;
  }
  return out;
}

/** mountinfo's optional fields (Linux's show_mountinfo): " shared:N", " master:N", " unbindable". */
function propagationFields(m: Mount): string {
  let out = m.peerGroup !== 0 ? ` shared:${m.peerGroup}` : "";
  if (m.master !== null) out += ` master:${m.master.peerGroup}`;
  if (m.unbindable) out += " unbindable";
  return out;
}

/** The path of a mount's root within its filesystem ("/" unless a bind mount of a subtree). */
export function subtreePath(m: Mount): string {
  if (m.fs.showPath !== undefined) return m.fs.showPath(m.root);
  const names: string[] = [];
  for (let d = m.root; d.parent !== null; d = d.parent) names.push(d.name);
  return "/" + names.reverse().join("/");
}

/** Escapes space, tab, newline and backslash as Linux's mangle() does (octal). */
export function escapeMountField(s: string): string {
  return s.replace(/[ \t\n\\]/g, (c) => "\\" + c.charCodeAt(0).toString(8).padStart(3, "0"));
}

/** /proc/PID/fdinfo/N. */
export function renderFdinfo(pos: number, flags: number, cloexec: boolean, mntId: number, ino: number): string {
  const f = (flags | (cloexec ? 0o2000000 : 0)) >>> 0;
  return `pos:\t${pos}\nflags:\t0${f.toString(8)}\nmnt_id:\t${mntId}\nino:\t${ino}\n`;
}
