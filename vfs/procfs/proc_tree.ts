/**
 * /proc's entries below its root (procfs.ts's ProcRoot): the fixed files and /proc/sys, the PID
 * directories and everything in them. Loaded at the first lookup or listing of /proc
 * (procfs.ts's procTree), so that a start that never reads /proc does not load them (issue #16).
 *
 * @module
 */

import { renderDiskstats, renderPartitions } from "../sysfs/block.ts";
import { dropPageCaches } from "../page_cache.ts";
import { decodePath, encodePath } from "../../abi/path_bytes.ts";
import { EVENT_ERR, EVENT_IN, EVENT_OUT, EVENT_PRI, EVENT_RDNORM, EVENT_WRNORM } from "../../waiter/mod.ts";
import { E2BIG, EACCES, EINVAL, EIO, ENAMETOOLONG, ENOENT, ENOTTY, ENXIO, EPERM, ESRCH } from "../../kernel/errno.ts";
import { cString, kstrtoBase0, PROC_NUMBUF, strstrip } from "./number_write.ts";
import {
  O_ACCMODE, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, S_IFDIR, S_IFLNK, S_IFMT, S_IFSOCK, SEEK_CUR, SEEK_SET,
} from "../../abi/linux/file.ts";
import type { Dentry, SetAttr } from "../dentry.ts";
import type { DirEntry, FileDescription, MemoryIO, Stat } from "../file_description.ts";
import { Location, Mount, MOUNT_MAX, type MountNamespace } from "../mount.ts";
import { PipeEnd } from "../pipe.ts";
import { MAX_QUEUED_EVENTS } from "../inotify.ts";
import { FANOTIFY_MAX_QUEUED_EVENTS } from "../fsnotify.ts";
import {
  FixedFile, FixedSymlink, GeneratedFile, KDentry, KernFilesystem, KSymlink, SnapshotFile, StaticDir,
} from "../kernfs/kernfs.ts";
import { dtFromMode } from "../hostfs/hostfs.ts";
import type {
  NetFileKind, ProcMemAccess, ProcMemory, ProcProcess, ProcSource, ProcThread, ProcVma, SysvipcKind,
} from "./source.ts";
import { LocatedFile } from "../located_file.ts";
import { TimensOffsetsFile } from "./timens_offsets_file.ts";
import { PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE, TASK_SIZE } from "../../abi/linux/mm.ts";
import { IdMapFile } from "./id_map_file.ts";
import { AnonInodeFile } from "../anon_file.ts";
import { MemFd } from "../memfd.ts";
import * as r from "./render.ts";
import { gzipStored, kernelConfigText } from "./kconfig.ts";
import { CAP_CHECKPOINT_RESTORE, CAP_SYS_ADMIN } from "../../abi/linux/capability.ts";
import type { Credentials } from "../../kernel/creds.ts";
import { NAMESPACES, nsfsNode, type ProcFilesystem } from "./procfs.ts";

/** /proc's fixed entries, under `root` (ProcRoot, which makes them once at its first use). */
export function fixedEntries(pfs: ProcFilesystem, root: KDentry): StaticDir {
  // The fixed entries hang off a StaticDir whose parent is the root, so that their ".."
  // is /proc.
  const f = new StaticDir(pfs, root, "", 0o555);
  f.add(new SelfLink(pfs, root, "self", false));
  f.add(new SelfLink(pfs, root, "thread-self", true));
  f.add(new FixedSymlink(pfs, root, "mounts", "self/mounts"));
  for (const kind of ["meminfo", "cpuinfo", "stat", "uptime", "loadavg", "version", "filesystems", "swaps", "cmdline", "vmstat", "config.gz"] as const) {
    f.add(new SystemFile(pfs, root, kind, kind));
  }
  // The loop devices (vmstat -d, iostat, blkid read these).
  f.add(new BlockListFile(pfs, root, "diskstats"));
  f.add(new BlockListFile(pfs, root, "partitions"));
  // The devices the sandbox has (vfs/devices.ts, vfs/tty, vfs/block): mem (null, zero, full,
  // random, urandom), the terminal aux devices, misc (loop-control, tun, userfaultfd), the pty
  // slaves, and the loop block devices.
  f.add(new FixedFile(
    pfs, root, "devices",
    "Character devices:\n  1 mem\n  5 /dev/tty\n  5 /dev/console\n  5 /dev/ptmx\n 10 misc\n136 pts\n\nBlock devices:\n  7 loop\n",
  ));
  // The keys the reader may view and each user's charge (kernel/syscalls/linux/sys_keys.ts).
  f.add(new SysctlFile(pfs, root, "keys", "keys"));
  f.add(new SysctlFile(pfs, root, "key-users", "key-users"));
  const sysvipc = new StaticDir(pfs, root, "sysvipc");
  f.add(sysvipc);
  for (const kind of ["shm", "sem", "msg"] as const) sysvipc.add(new SysvipcFile(pfs, sysvipc, kind));
  const sys = new StaticDir(pfs, root, "sys");
  f.add(sys);
  // /proc/net: Linux's link to self/net (the sandbox has one network namespace).
  f.add(new FixedSymlink(pfs, root, "net", "self/net"));
  const kernel = sys.dir("kernel");
  kernel.add(new SystemFile(pfs, kernel, "hostname", "hostname"));
  kernel.add(new SystemFile(pfs, kernel, "domainname", "domainname"));
  kernel.add(new SystemFile(pfs, kernel, "osrelease", "osrelease"));
  kernel.add(new SystemFile(pfs, kernel, "version", "kversion"));
  kernel.add(new FixedFile(pfs, kernel, "ostype", "Linux\n"));
  kernel.add(new SystemFile(pfs, kernel, "pid_max", "pid_max"));
  // The last pid root /proc's PID namespace handed out; writable (CAP_SYS_ADMIN or
  // CAP_CHECKPOINT_RESTORE over the namespace's owner) so that the next fork gets the one after.
  kernel.add(new SysctlFile(pfs, kernel, "ns_last_pid", "kernel/ns_last_pid", 0o666));
  kernel.add(new FixedFile(pfs, kernel, "ngroups_max", "65536\n"));
  kernel.add(new FixedFile(pfs, kernel, "cap_last_cap", "40\n"));
  kernel.add(new FixedFile(pfs, kernel, "threads-max", `${0x3fff * 8}\n`));

  kernel.add(new FixedFile(pfs, kernel, "overflowuid", "65534\n"));
  kernel.add(new FixedFile(pfs, kernel, "overflowgid", "65534\n"));
  // The System V limits of the reader's IPC namespace (kernel/ipc.ts IpcSysctls).
  for (const name of ["shmmax", "shmall", "shmmni", "msgmax", "msgmnb", "msgmni", "sem"]) {
    kernel.add(new SysctlFile(pfs, kernel, name, `kernel/${name}`, 0o644));
  }
  // CONFIG_CHECKPOINT_RESTORE's: the id the reader's IPC namespace gives its next object.
  for (const kind of ["shm", "msg", "sem"]) {
    kernel.add(new SysctlFile(pfs, kernel, `${kind}_next_id`, `kernel/${kind}_next_id`, 0o444, true));
  }
  kernel.add(new FixedFile(pfs, kernel, "yama_ptrace_scope", "1\n")); // read by gdb, strace
  const keys = kernel.dir("keys");
  for (const name of ["maxkeys", "maxbytes", "root_maxkeys", "root_maxbytes", "gc_delay", "persistent_keyring_expiry"]) {
    keys.add(new SysctlFile(pfs, keys, name, `kernel/keys/${name}`, 0o644));
  }
  // Linux's defaults: no taint, a core named "core" (the sandbox writes none, but wait
  // statuses report a dump where Linux would write one: kernel.ts coreWouldBeDumped).
  kernel.add(new FixedFile(pfs, kernel, "tainted", "0\n"));
  kernel.add(new FixedFile(pfs, kernel, "core_pattern", "core\n"));
  kernel.add(new FixedFile(pfs, kernel, "core_uses_pid", "0\n"));
  // The sentry lays memory out at fixed places (kernel/mm/mm.ts): no randomization.
  kernel.add(new FixedFile(pfs, kernel, "randomize_va_space", "0\n"));
  const random = kernel.dir("random");
  random.add(new SystemFile(pfs, random, "boot_id", "boot_id"));
  random.add(new SystemFile(pfs, random, "uuid", "uuid"));
  // The host's pool is what getrandom(2) draws from: the values of Linux 5.18 and later.
  random.add(new FixedFile(pfs, random, "entropy_avail", "256\n"));
  random.add(new FixedFile(pfs, random, "poolsize", "256\n"));
  // The per-user limits of the reader's user namespace (Linux's ucounts, kernel/ucounts.ts),
  // written in it with CAP_SYS_RESOURCE there and enforced (EMFILE, ENOSPC), but for the time
  // namespace's (there is one).
  const user = sys.dir("user");
  for (const name of USER_LIMITS) user.add(new SysctlFile(pfs, user, name, `user/${name}`, 0o644));
  const vm = sys.dir("vm");
  vm.add(new FixedFile(pfs, vm, "overcommit_memory", "0\n"));
  vm.add(new FixedFile(pfs, vm, "max_map_count", "65530\n"));
  vm.add(new FixedFile(pfs, vm, "mmap_min_addr", "65536\n"));
  vm.add(new SysctlFile(pfs, vm, "unprivileged_userfaultfd", "vm/unprivileged_userfaultfd", 0o644));
  vm.add(new DropCachesFile(pfs, vm));
  const fs = sys.dir("fs");
  fs.add(new FixedFile(pfs, fs, "file-max", "9223372036854775807\n"));
  fs.add(new SysctlFile(pfs, fs, "nr_open", "fs/nr_open", 0o644));
  fs.add(new SysctlFile(pfs, fs, "lease-break-time", "fs/lease-break-time", 0o644));
  fs.add(new SysctlFile(pfs, fs, "leases-enable", "fs/leases-enable", 0o644));
  fs.add(new SysctlFile(pfs, fs, "pipe-max-size", "fs/pipe-max-size", 0o644));
  // Linux's defaults; pipes are not counted against them here (every pipe gets its full size).
  fs.add(new FixedFile(pfs, fs, "pipe-user-pages-soft", "16384\n"));
  fs.add(new FixedFile(pfs, fs, "pipe-user-pages-hard", "0\n"));
  fs.add(new FixedFile(pfs, fs, "mount-max", `${MOUNT_MAX}\n`));
  const inotify = fs.dir("inotify");
  inotify.add(new FixedFile(pfs, inotify, "max_queued_events", `${MAX_QUEUED_EVENTS}\n`));
  inotify.add(new SysctlFile(pfs, inotify, "max_user_instances", "fs/inotify/max_user_instances", 0o644));
  inotify.add(new SysctlFile(pfs, inotify, "max_user_watches", "fs/inotify/max_user_watches", 0o644));
  // fanotify's: the queue a group without FAN_UNLIMITED_QUEUE gets, and the initial user
  // namespace's ucounts limits (as /proc/sys/user/max_fanotify_*).
  const fanotify = fs.dir("fanotify");
  fanotify.add(new FixedFile(pfs, fanotify, "max_queued_events", `${FANOTIFY_MAX_QUEUED_EVENTS}\n`));
  fanotify.add(new SysctlFile(pfs, fanotify, "max_user_groups", "fs/fanotify/max_user_groups", 0o644));
  fanotify.add(new SysctlFile(pfs, fanotify, "max_user_marks", "fs/fanotify/max_user_marks", 0o644));
  // Linux 6.13's warning about slow permission answers: off by default, and never on here.
  fanotify.add(new FixedFile(pfs, fanotify, "watchdog_timeout", "0\n"));
  const net = sys.dir("net");
  const core = net.dir("core");
  core.add(new FixedFile(pfs, core, "somaxconn", "4096\n"));
  for (const name of ["rmem_default", "rmem_max", "wmem_default", "wmem_max"]) {
    core.add(new SysctlFile(pfs, core, name, `net/core/${name}`));
  }
  const ipv4 = net.dir("ipv4");
  ipv4.add(new SysctlFile(pfs, ipv4, "ip_local_port_range", "net/ipv4/ip_local_port_range", 0o644));
  ipv4.add(new SysctlFile(pfs, ipv4, "ping_group_range", "net/ipv4/ping_group_range", 0o644));
  for (const name of ["ip_forward", "tcp_sack", "tcp_recovery"]) {
    ipv4.add(new SysctlFile(pfs, ipv4, name, `net/ipv4/${name}`, 0o644));
  }
  const conf = ipv4.dir("conf");
  const confLo = conf.dir("lo");
  for (const name of ["accept_local", "route_localnet", "tag"]) {
    confLo.add(new SysctlFile(pfs, confLo, name, `net/ipv4/conf/lo/${name}`, 0o644));
  }
  const confDefault = conf.dir("default");
  confDefault.add(new SysctlFile(pfs, confDefault, "tag", "net/ipv4/conf/default/tag", 0o644));
  const ipv6 = net.dir("ipv6");
  ipv6.add(new FixedFile(pfs, ipv6, "auto_flowlabels", "1\n"));
  ipv6.add(new FixedFile(pfs, ipv6, "bindv6only", "0\n"));
  ipv6.add(new FixedFile(pfs, ipv6, "ip6frag_time", "60\n"));
  ipv6.add(new FixedFile(pfs, ipv6, "ip_nonlocal_bind", "0\n"));
  for (const name of ["tcp_rmem", "tcp_wmem"]) {
    ipv4.add(new SysctlFile(pfs, ipv4, name, `net/ipv4/${name}`));
  }
  markSysctl(sys);
  return f;
}

/** /proc/PID, or /proc/TID of a thread (not listed), for ProcRoot's lookup; null for any other name. */
export function pidEntry(pfs: ProcFilesystem, root: KDentry, name: string): Dentry | null {
  const n = parsePid(name);
  if (n === null) return null;
  const src = pfs.source;
  if (src.process(n) !== null) return new PidDir(pfs, root, name, n, null);
  // A thread's id works too, though it is not listed (as Linux's /proc/TID).
  const tgid = src.tgidOf(n);
  if (tgid === null) return null;
  // A thread's own /proc/TID (not listed) is a process directory, task/ included, as Linux's.
  return new PidDir(pfs, root, name, tgid, n, true);
}

/** procfs.ts's procProcessDirPid, once this module is loaded. */
export function procProcessDirPid(d: Dentry): number | null {
  if (!(d instanceof PidDir) || !d.hasTask) return null;
  return d.pfs.source.globalId?.(d.tid ?? d.pid) ?? null;
}

/** /proc/sys and everything below it follow Linux's sysctl permission rule (kernfs.ts). */
function markSysctl(d: KDentry): void {
  d.sysctl = true;
  if (d instanceof StaticDir) for (const c of d.entries.values()) if (c instanceof KDentry) markSysctl(c);
}

/** @savable A sysctl whose value the kernel gives (ProcSource.sysctl): IPC limits, network settings. */
class SysctlFile extends GeneratedFile {
  constructor(
    readonly pfs: ProcFilesystem,
    parent: KDentry,
    name: string,
    readonly sysctlKey: string,
    mode = 0o444,
    /** Writable whatever its mode: the kernel checks the writer (ipc_permissions' next_id files). */
    readonly writableAnyway = false,
  ) {
    super(pfs, parent, name, { mode });
  }

  render(): string {
    return this.pfs.source.sysctl?.(this.sysctlKey) ?? "";
  }

  /**
   * ipc_permissions: a next_id file is 0666 to a holder of CAP_CHECKPOINT_RESTORE or
   * CAP_SYS_ADMIN (in the IPC namespace's owner, approximated by the caller's own user
   * namespace), its 0444 to others.
   */
  override checkAccess(creds: Credentials, want: number): void {
    if (this.writableAnyway && !(want & 1) && (creds.hasOwnCap(CAP_CHECKPOINT_RESTORE) || creds.hasOwnCap(CAP_SYS_ADMIN))) return;
    super.checkAccess(creds, want);
  }

  /** A 0644 sysctl the kernel can change (ProcSource.setSysctl); root only, by the sysctl rule. */
  override get writable(): boolean {
    return ((this.mode & 0o200) !== 0 || this.writableAnyway) && this.pfs.source.setSysctl !== undefined;
  }

  override writeContents(data: Uint8Array): void {
    if (this.pfs.source.setSysctl === undefined) throw EINVAL;
    this.pfs.source.setSysctl(this.sysctlKey, new TextDecoder().decode(data));
  }
}

/**
 * @savable /proc/sys/vm/drop_caches (0200): the sentry's filesystems keep no clean cache to drop
 * (disk filesystems read through to the device); a write checks its value, as Linux's
 * proc_dointvec_minmax over 1..4 (EINVAL otherwise), and 1 or 3 count a drop of the page cache
 * (vfs/page_cache.ts: RWF_NOWAIT reads of ext2 files see it). LTP writes 3 before timing readahead.
 */
class DropCachesFile extends GeneratedFile {
  constructor(pfs: ProcFilesystem, parent: KDentry) {
    super(pfs, parent, "drop_caches", { mode: 0o200 });
  }

  render(): string {
    return "0\n";
  }

  override get writable(): boolean {
    return true;
  }

  override writeContents(data: Uint8Array): void {
    const text = new TextDecoder().decode(data).trim();
    if (!/^[+]?[0-9]+$/.test(text)) throw EINVAL;
    const n = Number(text);
    if (n < 1 || n > 4) throw EINVAL;
    if (n & 1) dropPageCaches();
  }
}

/** A decimal PID without sign or leading zeros, or null. */
function parsePid(name: string): number | null {
  if (!/^[1-9][0-9]{0,9}$/.test(name)) return null;
  const n = Number(name);
  return n <= 0x7fffffff ? n : null;
}

/** @savable /proc/self and /proc/thread-self. */
class SelfLink extends KSymlink {
  constructor(readonly pfs: ProcFilesystem, parent: KDentry, name: string, readonly thread: boolean) {
    super(pfs, parent, name);
  }

  target(): string {
    const c = this.pfs.source.caller();
    // A caller this /proc's PID namespace does not number has no self here (proc_self_get_link).
    if (c === null || c.pid === 0) throw ENOENT;
    return this.thread ? `${c.pid}/task/${c.tid}` : String(c.pid);
  }
}

type SystemKind =
  | "meminfo" | "cpuinfo" | "stat" | "uptime" | "loadavg" | "version" | "filesystems" | "swaps"
  | "cmdline" | "vmstat" | "config.gz" | "hostname" | "domainname" | "osrelease" | "kversion" | "boot_id" | "uuid" | "pid_max";

/** @savable A machine-wide file of /proc. */
/** The files of /proc/PID/net, each of the task's network namespace. */
const NET_FILES: readonly NetFileKind[] = ["dev", "if_inet6", "netstat", "snmp", "tcp", "tcp6", "udp", "udp6", "udplite", "udplite6", "unix"];

/** @savable /proc/PID/net (and /proc/net, a link to self/net). */
class NetDir extends KDentry {
  constructor(readonly pfs: ProcFilesystem, parent: KDentry, readonly tid: number) {
    super(pfs, parent, "net", { mode: S_IFDIR | 0o555, key: `${parent.key}/net` });
  }

  override lookup(name: string): Dentry | null {
    return (NET_FILES as readonly string[]).includes(name) ? new NetFile(this.pfs, this, name, name as NetFileKind, this.tid) : null;
  }

  override children(): DirEntry[] {
    return NET_FILES.map((n) => ({ name: n, ino: this.pfs.inoFor(`${this.key}/${n}`), type: dtFromMode(0o100000) }));
  }
}

/** A file of /proc/net, rendered by the network stack (kernel/socket/inet/proc_net.ts). */
class NetFile extends GeneratedFile {
  constructor(readonly pfs: ProcFilesystem, parent: KDentry, name: string, readonly kind: NetFileKind, readonly tid: number) {
    super(pfs, parent, name);
  }

  render(): string {
    return this.pfs.source.netFile?.(this.kind, this.tid) ?? "";
  }
}

/** /proc/sysvipc/{shm,sem,msg}: the reader's IPC namespace's objects. */
class SysvipcFile extends GeneratedFile {
  constructor(readonly pfs: ProcFilesystem, parent: KDentry, readonly kind: SysvipcKind) {
    super(pfs, parent, kind);
  }

  render(): string {
    return this.pfs.source.sysvipc?.(this.kind) ?? "";
  }
}

/** @savable /proc/partitions or /proc/diskstats, from the sandbox's block devices. */
class BlockListFile extends GeneratedFile {
  constructor(readonly pfs: ProcFilesystem, parent: KDentry, name: "partitions" | "diskstats") {
    super(pfs, parent, name);
  }

  render(): string {
    const t = this.pfs.source.blockDevices?.() ?? null;
    return this.name === "partitions" ? renderPartitions(t) : renderDiskstats(t);
  }
}

class SystemFile extends GeneratedFile {
  constructor(readonly pfs: ProcFilesystem, parent: KDentry, name: string, readonly kind: SystemKind) {
    super(pfs, parent, name, { mode: SystemFile.#isUts(kind) && pfs.source.setUtsName !== undefined ? 0o644 : 0o444 });
  }

  static #isUts(kind: SystemKind): kind is "hostname" | "domainname" {
    return kind === "hostname" || kind === "domainname";
  }

  override get writable(): boolean {
    return SystemFile.#isUts(this.kind) && this.pfs.source.setUtsName !== undefined;
  }

  /**
   * hostname and domainname (proc_do_uts_string, proc_dostring): the caller's UTS namespace takes
   * the bytes up to a newline or NUL, at most 64; /proc's own files have no write operation
   * (proc_reg_write's EIO).
   */
  override writeContents(data: Uint8Array): void {
    if (!this.writable) throw EIO;
    let end = data.findIndex((c) => c === 0 || c === 0x0a);
    if (end < 0) end = data.length;
    this.pfs.source.setUtsName!(this.kind as "hostname" | "domainname", new TextDecoder().decode(data.subarray(0, Math.min(end, 64))));
  }

  /** hostname and domainname are polled for changes (UtsFile); the rest as any generated file. */
  override open(loc: Location, flags: number): FileDescription {
    if (!SystemFile.#isUts(this.kind)) return super.open(loc, flags);
    if (((flags & O_ACCMODE) !== O_RDONLY || (flags & O_TRUNC)) && !this.writable) throw EACCES;
    return new UtsFile(loc, flags, this, this.pfs.source, this.kind);
  }

  render(): string | Uint8Array {
    const src = this.pfs.source;
    const sys = src.system();
    switch (this.kind) {
      case "meminfo":
        return r.renderMeminfo(sys);
      case "vmstat":
        return r.renderVmstat(sys);
      case "cpuinfo":
        return sys.cpuinfo;
      case "stat": {
        const c = countThreads(src);
        return r.renderProcStat(sys, c.cpuNs, c.running, c.blocked);
      }
      case "uptime":
        return r.renderUptime(sys, countThreads(src).cpuNs);
      case "loadavg": {
        const c = countThreads(src);
        return r.renderLoadavg(sys, c.running, c.total);
      }
      case "version":
        return r.renderVersion(sys);
      case "filesystems":
        return r.renderFilesystems();
      case "swaps":
        return "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
      case "cmdline":
        return "BOOT_IMAGE=/vmlinuz-sentry ro\n";
      case "config.gz":
        return gzipStored(new TextEncoder().encode(kernelConfigText(sys.release)));
      case "hostname":
        return sys.hostname + "\n";
      case "domainname":
        return sys.domainname + "\n";
      case "osrelease":
        return sys.release + "\n";
      case "kversion":
        return sys.version + "\n";
      case "boot_id":
        return this.pfs.bootId + "\n";
      case "uuid":
        return crypto.randomUUID() + "\n";
      case "pid_max":
        return `${sys.pidMax}\n`;
    }
  }
}

/** Threads by state and the CPU time of every process, for /proc/stat and loadavg. */
function countThreads(src: ProcSource): { running: number; blocked: number; total: number; cpuNs: number } {
  let running = 0, blocked = 0, total = 0, cpuNs = 0;
  for (const pid of src.pids()) {
    const p = src.process(pid);
    if (p === null) continue;
    // Every live process's time and that of its reaped descendants: each exited process's
    // time sits in exactly one live ancestor's children's time, so nothing counts twice.
    cpuNs += p.userNs + p.sysNs + p.childUserNs + p.childSysNs;
    for (const t of p.threads) {
      total++;
      if (t.state === "R") running++;
      else if (t.state === "D") blocked++;
    }
  }
  return { running: Math.max(running, 1), blocked, total, cpuNs };
}

/** What each entry of a PID (or TID) directory is. */
type PidEntryKind =
  | "stat" | "status" | "statm" | "cmdline" | "environ" | "maps" | "smaps" | "limits" | "mounts" | "mountinfo"
  | "comm" | "oom_score_adj" | "oom_score" | "cgroup" | "uid_map" | "gid_map" | "projid_map" | "setgroups" | "wchan" | "auxv"
  | "mem" | "pagemap" | "io" | "coredump_filter" | "timerslack_ns" | "children" | "exe" | "cwd" | "root" | "fd" | "fdinfo" | "task" | "ns" | "net"
  | "timens_offsets";

/** [name, kind, mode bits]; links and directories get their type from the kind. */
const PID_ENTRIES: ReadonlyArray<[PidEntryKind, number]> = [
  ["auxv", 0o400], ["cgroup", 0o444], ["children", 0o444], ["cmdline", 0o444], ["comm", 0o644], ["coredump_filter", 0o644],
  ["cwd", 0o777], ["environ", 0o400], ["io", 0o400],
  ["exe", 0o777], ["fd", 0o500], ["fdinfo", 0o555], ["gid_map", 0o644], ["limits", 0o444],
  ["maps", 0o444], ["mem", 0o600], ["mountinfo", 0o444], ["mounts", 0o444], ["net", 0o555], ["ns", 0o511], ["oom_score", 0o444],
  ["pagemap", 0o400],
  ["oom_score_adj", 0o644], ["projid_map", 0o644], ["root", 0o777], ["setgroups", 0o644], ["smaps", 0o444], ["stat", 0o444],
  ["statm", 0o444], ["status", 0o444], ["task", 0o555], ["timens_offsets", 0o644], ["timerslack_ns", 0o666], ["uid_map", 0o644],
  ["wchan", 0o444],
];
const PID_ENTRY_MODES: ReadonlyMap<string, number> = new Map(PID_ENTRIES);
const LINK_KINDS = new Set<string>(["exe", "cwd", "root"]);
/** The files of the process's user namespace (vfs/procfs/id_map_file.ts). */
const ID_MAP_KINDS = new Set<string>(["uid_map", "gid_map", "projid_map", "setgroups"]);
const DIR_KINDS = new Set<string>(["fd", "fdinfo", "task", "ns", "net"]);

/** @savable /proc/PID, or /proc/PID/task/TID when tid is set. */
class PidDir extends KDentry {
  constructor(
    readonly pfs: ProcFilesystem,
    parent: KDentry,
    name: string,
    readonly pid: number,
    readonly tid: number | null,
    /** Whether task/ is an entry: in /proc/PID and /proc/TID, not in task/TID. */
    readonly hasTask: boolean = tid === null,
  ) {
    const p = pfs.source.process(pid);
    super(pfs, parent, name, {
      mode: S_IFDIR | 0o555,
      uid: p?.creds.euid ?? 0,
      gid: p?.creds.egid ?? 0,
      key: tid === null ? `/${pid}` : `/${pid}/task/${tid}`,
    });
  }

  #kinds(): ReadonlyArray<[PidEntryKind, number]> {
    // task/ and timens_offsets in a process directory, children in a thread's (Linux's
    // tgid_base and tid_base).
    return PID_ENTRIES.filter(([k]) => this.hasTask ? k !== "children" : k !== "task" && k !== "timens_offsets");
  }

  override lookup(name: string): Dentry | null {
    const mode = PID_ENTRY_MODES.get(name);
    if (mode === undefined || !this.#kinds().some(([k]) => k === name)) return null;
    // Through a descriptor of the directory of a process that is gone: ESRCH, as Linux.
    if (this.pfs.source.process(this.pid) === null) throw ESRCH;
    const kind = name as PidEntryKind;
    const uid = this.uid, gid = this.gid;
    if (LINK_KINDS.has(kind)) return new ProcessLink(this.pfs, this, kind as "exe" | "cwd" | "root", this.pid, uid, gid);
    if (kind === "fd" || kind === "fdinfo") return new FdDir(this.pfs, this, kind, this.pid, kind === "fdinfo", uid, gid);
    if (kind === "task") return new TaskDir(this.pfs, this, this.pid, uid, gid);
    if (kind === "ns") return new NsDir(this.pfs, this, this.pid, uid, gid);
    if (kind === "net") return new NetDir(this.pfs, this, this.tid ?? this.pid);
    return new PidFile(this.pfs, this, kind, this.pid, this.tid, mode, uid, gid);
  }

  override children(): DirEntry[] {
    if (this.pfs.source.process(this.pid) === null) throw ENOENT; // as proc_pident_readdir
    return this.#kinds().map(([k]) => {
      const type = LINK_KINDS.has(k) ? S_IFLNK : DIR_KINDS.has(k) ? S_IFDIR : 0o100000;
      return { name: k, ino: this.pfs.inoFor(`${this.key}/${k}`), type: dtFromMode(type) };
    });
  }
}

/** @savable A file of a PID directory. */
class PidFile extends GeneratedFile {
  constructor(
    readonly pfs: ProcFilesystem,
    parent: KDentry,
    readonly kind: PidEntryKind,
    readonly pid: number,
    readonly tid: number | null,
    mode: number,
    uid: number,
    gid: number,
  ) {
    super(pfs, parent, kind, { mode, uid, gid });
  }

  /** The process, for a file already open: one that exited since is ESRCH, as Linux's get_pid_task. */
  #process(): ProcProcess {
    const p = this.pfs.source.process(this.pid);
    if (p === null) throw ESRCH;
    return p;
  }

  #thread(p: ProcProcess): ProcThread | null {
    if (this.tid === null) return null;
    return p.threads.find((t) => t.tid === this.tid) ?? null;
  }

  #exePath(p: ProcProcess): string | null {
    const e = p.exe();
    return e === null ? null : e.path();
  }

  override get writable(): boolean {
    return this.kind === "oom_score_adj" || this.kind === "comm" || this.kind === "mem" || this.kind === "coredump_filter" ||
      this.kind === "timens_offsets" || ID_MAP_KINDS.has(this.kind);
  }

  /**
   * /proc/PID/mem opens a view of the address space (ProcMemFile) once ptrace access is
   * granted (Linux's mem_open: PTRACE_MODE_ATTACH, EACCES); the others render as usual.
   */
  override open(loc: Location, flags: number): FileDescription {
    if (this.kind === "maps" || this.kind === "smaps" || this.kind === "environ" || this.kind === "auxv") {
      // proc_maps_open and __mem_open (environ, auxv) take the mm with PTRACE_MODE_READ:
      // another user's is EACCES at open, and a descriptor opened reads on.
      const p = this.pfs.source.process(this.pid);
      if (p === null) throw ESRCH;
      this.pfs.checkAccess(p);
      if (this.kind === "maps") {
        const src = this.pfs.source, pid = this.pid;
        return new MapsFile(loc, flags, this, () => src.process(pid)?.memory() ?? null);
      }
    }
    if (ID_MAP_KINDS.has(this.kind)) {
      // The process's user namespace as of now, and the opener's credentials (file->f_cred).
      const p = this.pfs.source.process(this.pid);
      if (p === null) throw ESRCH;
      const src = this.pfs.source;
      const opener = src.caller()?.creds ?? p.creds;
      const kind = this.kind === "setgroups" ? "setgroups" : this.kind.slice(0, -4) as "uid" | "gid" | "projid";
      return new IdMapFile(loc, flags, p.creds.userNs, kind, opener, () => src.caller()?.creds ?? opener);
    }
    if (this.kind === "timens_offsets") {
      const p = this.pfs.source.process(this.pid);
      if (p === null) throw ESRCH;
      const src = this.pfs.source, pid = this.pid;
      return new TimensOffsetsFile(loc, flags, () => src.process(pid)?.timeNsForChildren ?? null, src.caller()?.creds ?? p.creds);
    }
    if (this.kind === "mounts" || this.kind === "mountinfo") {
      const ns = this.pfs.source.process(this.pid)?.mntNs ?? null;
      if (ns !== null) return new MountsFile(loc, flags, this, ns);
    }
    if (this.kind !== "mem" && this.kind !== "pagemap") return super.open(loc, flags);
    const p = this.pfs.source.process(this.pid);
    if (p === null) throw ESRCH;
    this.pfs.checkAccess(p);
    if (this.kind === "pagemap") return new ProcPagemapFile(loc, flags, p.memoryAccess());
    return new ProcMemFile(loc, flags, p.memoryAccess());
  }

  override writeContents(data: Uint8Array): number | void {
    const p = this.#process();
    if (this.kind === "comm") {
      // Linux's comm_write: only a thread of the same process may rename, with the bytes as
      // written (a newline included) cut to TASK_COMM_LEN - 1; the write counts them all.
      const c = this.pfs.source.caller();
      if (c !== null && c.pid !== p.pid) throw EINVAL;
      const end = data.subarray(0, 15).indexOf(0);
      const name = decodePath(data.subarray(0, end < 0 ? 15 : end));
      if (!p.setComm(this.tid, name)) throw ESRCH;
      return;
    }
    if (this.kind === "coredump_filter") {
      // kstrtouint_from_user; bits beyond the 9 filter bits are dropped, as Linux's
      // proc_coredump_filter_write.
      const v = kstrtoBase0(cString(data, 34), "uint");
      if (p.coredumpFilter === null) throw ESRCH;
      p.coredumpFilter = v & 0x1ff;
      return;
    }
    if (this.kind === "oom_score_adj") {
      // oom_score_adj_write: kstrtoint of the stripped string, then the range check.
      // The count it returns is of the bytes it read.
      const v = kstrtoBase0(strstrip(cString(data, PROC_NUMBUF - 1)), "int");
      if (v < -1000 || v > 1000) throw EINVAL;
      p.oomScoreAdj = v;
      return Math.min(data.length, PROC_NUMBUF - 1);
    }
    throw EINVAL;
  }

  render(): string | Uint8Array {
    const p = this.#process();
    const src = this.pfs.source;
    switch (this.kind) {
      case "io": {
        // Linux's do_io_accounting (ptrace access); the storage-level counters stay 0.
        this.pfs.checkAccess(p);
        const io = p.io(this.tid);
        if (io === null) throw ESRCH;
        return `rchar: ${io.rchar}\nwchar: ${io.wchar}\nsyscr: ${io.syscr}\nsyscw: ${io.syscw}\n` +
          "read_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n";
      }
      case "children":
        // The children this thread created (Linux's get_children_pid), each with a space.
        return p.childrenOf(this.tid ?? p.pid).map((c) => `${c} `).join("");
      case "timerslack_ns": {
        // The thread's (the leader's in /proc/PID); read-only here (Linux lets it be written).
        const th = this.#thread(p) ?? p.threads.find((x) => x.tid === p.pid);
        return `${th?.timerSlackNs ?? 50_000}\n`;
      }
      case "coredump_filter": {
        const f = p.coredumpFilter;
        return f === null ? "" : f.toString(16).padStart(8, "0") + "\n";
      }
      case "stat":
        return r.renderStat(p, this.#thread(p), this.#exePath(p));
      case "status": {
        return r.renderStatus(p, this.#thread(p), this.#exePath(p), p.fdArraySize(), src.system().ncpus, src.caller()?.creds.userNs);
      }
      case "statm":
        return r.renderStatm(p, this.#exePath(p));
      case "cmdline": {
        const m = p.memory();
        return m === null ? new Uint8Array(0) : p.readMemory(m.argStart, m.argEnd);
      }
      case "environ": {
        const m = p.memory();
        return m === null ? new Uint8Array(0) : p.readMemory(m.envStart, m.envEnd);
      }
      case "auxv": {
        return p.memory()?.auxv ?? new Uint8Array(0);
      }
      case "maps":
        return r.renderMaps(p.memory());
      case "smaps":
        return r.renderSmaps(p.memory());
      case "limits":
        return r.renderLimits(p.limits());
      case "mounts":
        return r.renderMounts(src.mounts(p.mntNs), p.root());
      case "mountinfo":
        return r.renderMountinfo(src.mounts(p.mntNs), p.root(), mountDev);
      case "comm":
        return (this.#thread(p)?.comm ?? p.comm) + "\n";
      case "oom_score_adj":
        return `${p.oomScoreAdj}\n`;
      case "oom_score":
        return `${Math.max(0, 666 + Math.floor(p.oomScoreAdj * 2 / 3))}\n`;
      case "cgroup":
        return p.cgroupLine;
      case "wchan":
        return "0";
      default:
        throw ENOENT;
    }
  }
}

/** PROCMAP_QUERY: _IOWR('f', 17, struct procmap_query), 104 bytes. */
const PROCMAP_QUERY = 0xc0686611;
const PROCMAP_QUERY_SIZE = 104;
const Q_READABLE = 0x1, Q_WRITABLE = 0x2, Q_EXECUTABLE = 0x4, Q_SHARED = 0x8, Q_COVERING_OR_NEXT = 0x10,
  Q_FILE_BACKED = 0x20;

/**
 * @savable An open /proc/PID/maps: its text, and the PROCMAP_QUERY ioctl (Linux 6.11's
 * do_procmap_query): the mapping covering an address (or, with COVERING_OR_NEXT_VMA, the next
 * one), filtered by permissions and file backing; its bounds, permissions, page size, offset,
 * device and inode, and its name into a buffer (ENAMETOOLONG when it does not fit). No build
 * ids: build_id_size comes back 0.
 */
class MapsFile extends SnapshotFile {
  constructor(loc: Location, flags: number, file: GeneratedFile, readonly memory: () => ProcMemory | null) {
    super(loc, flags, file);
  }

  override ioctl(cmd: number, arg: number, io: MemoryIO): number {
    if (cmd !== PROCMAP_QUERY) throw ENOTTY;
    const size = new DataView(io.copyIn(arg, 8).buffer).getBigUint64(0, true);
    if (size > 4096n) throw E2BIG;
    if (size < 24n) throw EINVAL;
    const raw = io.copyIn(arg, Number(size));
    if (raw.length > PROCMAP_QUERY_SIZE && raw.subarray(PROCMAP_QUERY_SIZE).some((b) => b !== 0)) throw E2BIG;
    const q = new Uint8Array(PROCMAP_QUERY_SIZE);
    q.set(raw.subarray(0, PROCMAP_QUERY_SIZE));
    const v = new DataView(q.buffer);
    const flags = v.getBigUint64(8, true), addr = v.getBigUint64(16, true);
    const nameSize = v.getUint32(80, true), buildIdSize = v.getUint32(84, true);
    const nameAddr = v.getBigUint64(88, true), buildIdAddr = v.getBigUint64(96, true);
    if (flags & ~0x3fn) throw EINVAL;
    if ((nameSize !== 0) !== (nameAddr !== 0n)) throw EINVAL;
    if ((buildIdSize !== 0) !== (buildIdAddr !== 0n)) throw EINVAL;
    const mem = this.memory();
    if (mem === null) throw ESRCH;
    const f = Number(flags);
    // query_matching_vma: the first mapping ending past the address, then the filters.
    const vmas = mem.vmas.filter((x) => x.name !== "[vsyscall]");
    let at = addr;
    let found: ProcVma | null = null;
    for (;;) {
      const x = vmas.find((m) => BigInt(m.end) > at);
      if (x === undefined) break;
      const ok = !((f & Q_FILE_BACKED) && x.ino === 0) && !((f & Q_READABLE) && !(x.prot & PROT_READ)) &&
        !((f & Q_WRITABLE) && !(x.prot & PROT_WRITE)) && !((f & Q_EXECUTABLE) && !(x.prot & PROT_EXEC)) &&
        !((f & Q_SHARED) && !x.shared);
      if (ok) {
        if (BigInt(x.start) <= addr || (f & Q_COVERING_OR_NEXT)) found = x;
        break;
      }
      if (!(f & Q_COVERING_OR_NEXT)) break;
      at = BigInt(x.end);
    }
    if (found === null) throw ENOENT;
    const set64 = (off: number, n: number | bigint) => v.setBigUint64(off, BigInt(n), true);
    set64(24, found.start);
    set64(32, found.end);
    set64(40, (found.prot & PROT_READ ? Q_READABLE : 0) | (found.prot & PROT_WRITE ? Q_WRITABLE : 0) |
      (found.prot & PROT_EXEC ? Q_EXECUTABLE : 0) | (found.shared ? Q_SHARED : 0));
    set64(48, 4096);
    const file = found.ino !== 0;
    set64(56, file ? found.offset : 0);
    set64(64, file ? found.ino : 0);
    v.setUint32(72, file ? Math.floor(found.dev / 256) & 0xfff : 0, true);
    v.setUint32(76, file ? found.dev & 0xff : 0, true);
    v.setUint32(84, 0, true);
    let name: Uint8Array | null = null;
    if (nameSize !== 0) {
      if (found.name !== "") {
        name = encodePath(found.name + "\0");
        if (name.length > Math.min(4096, nameSize)) throw ENAMETOOLONG;
      }
      v.setUint32(80, name?.length ?? 0, true);
    }
    if (name !== null) io.copyOut(Number(nameAddr), name);
    io.copyOut(arg, q.subarray(0, Math.min(PROCMAP_QUERY_SIZE, Number(size))));
    return 0;
  }
}

/**
 * @savable An open /proc/sys/kernel/hostname or domainname: poll reports POLLERR|POLLPRI once
 * after each change of either name since the last report (Linux's proc_sys_poll latches the
 * event count it saw), else readable and writable as any file.
 */
class UtsFile extends SnapshotFile {
  readonly #src: ProcSource;
  readonly #which: "hostname" | "domainname";
  #seen: number;

  /** /proc/sys files have a poll operation: epoll accepts them. */
  override get epollable(): boolean {
    return true;
  }

  constructor(loc: Location, flags: number, file: GeneratedFile, src: ProcSource, which: "hostname" | "domainname") {
    const u = src.utsChanges(which);
    super(loc, flags, file, u.queue);
    this.#src = src;
    this.#which = which;
    this.#seen = u.count;
  }

  override readiness(mask: number): number {
    const count = this.#src.utsChanges(this.#which).count;
    if (count !== this.#seen) {
      this.#seen = count;
      return (EVENT_IN | EVENT_RDNORM | EVENT_ERR | EVENT_PRI) & (mask | EVENT_ERR);
    }
    return mask & (EVENT_IN | EVENT_RDNORM | EVENT_OUT | EVENT_WRNORM);
  }
}

/**
 * @savable An open /proc/PID/mounts or mountinfo: poll reports POLLERR|POLLPRI once after each
 * change of the mount namespace (a mount, unmount, remount, move, propagation change) since the
 * last report, as Linux's mounts_poll.
 */
class MountsFile extends SnapshotFile {
  readonly #ns: MountNamespace;
  #seen: number;

  /** mounts_poll: epoll accepts these files. */
  override get epollable(): boolean {
    return true;
  }

  constructor(loc: Location, flags: number, file: GeneratedFile, ns: MountNamespace) {
    super(loc, flags, file, ns.queue);
    this.#ns = ns;
    this.#seen = ns.events;
  }

  override readiness(mask: number): number {
    let ready = EVENT_IN | EVENT_RDNORM;
    if (this.#ns.events !== this.#seen) {
      this.#seen = this.#ns.events;
      ready |= EVENT_ERR | EVENT_PRI;
    }
    return ready & (mask | EVENT_ERR);
  }
}

/**
 * @savable An open /proc/PID/mem: the file offset is an address of the process (Linux's
 * mem_lseek: SEEK_SET and SEEK_CUR only, any 64-bit position). Reads and writes copy what the
 * mappings allow and fail with EIO when not one byte could be copied; once the process's
 * memory is gone they return 0.
 */
class ProcMemFile extends LocatedFile {
  readonly #mem: ProcMemAccess | null;

  constructor(loc: Location, flags: number, mem: ProcMemAccess | null) {
    super(loc, flags);
    this.#mem = mem;
  }

  #rw(buf: Uint8Array, offset: number | null, write: boolean): number {
    const mem = this.#mem;
    if (mem === null || !mem.live || buf.length === 0) return 0;
    const addr = offset ?? this.offset;
    const n = write ? mem.write(addr, buf) : mem.read(addr, buf);
    if (n === 0) throw EIO;
    if (offset === null) this.offset = addr + n;
    return n;
  }

  override read(dst: Uint8Array, offset: number | null): number {
    return this.#rw(dst, offset, false);
  }

  override write(src: Uint8Array, offset: number | null): number {
    return this.#rw(src, offset, true);
  }

  override seek(offset: number, whence: number): number {
    if (whence === SEEK_SET) this.offset = offset;
    else if (whence === SEEK_CUR) this.offset += offset;
    else throw EINVAL;
    return this.offset;
  }
}

/**
 * @savable An open /proc/PID/pagemap (Linux's pagemap_read): 8 bytes per page of the address
 * space, the file offset the page's number times 8; both the offset and the count must be
 * multiples of 8 (EINVAL). Reads end at the top of the user address space; once the process's
 * memory is gone they return 0.
 */
class ProcPagemapFile extends LocatedFile {
  readonly #mem: ProcMemAccess | null;

  constructor(loc: Location, flags: number, mem: ProcMemAccess | null) {
    super(loc, flags);
    this.#mem = mem;
  }

  override read(dst: Uint8Array, offset: number | null): number {
    const pos = offset ?? this.offset;
    if (pos % 8 !== 0 || dst.length % 8 !== 0) throw EINVAL;
    const mem = this.#mem;
    if (mem === null || !mem.live || dst.length === 0 || mem.pagemap === undefined) return 0;
    const first = pos / 8;
    const last = Math.min(first + dst.length / 8, TASK_SIZE / PAGE_SIZE);
    if (last <= first) return 0;
    const entries = mem.pagemap(first * PAGE_SIZE, last - first);
    dst.set(new Uint8Array(entries.buffer, 0, entries.length * 8));
    if (offset === null) this.offset = pos + entries.length * 8;
    return entries.length * 8;
  }

  override seek(offset: number, whence: number): number {
    if (whence === SEEK_SET) this.offset = offset;
    else if (whence === SEEK_CUR) this.offset += offset;
    else throw EINVAL;
    return this.offset;
  }
}

/** st_dev of a mount's filesystem, for mountinfo's major:minor. */
function mountDev(m: Mount): number {
  try {
    return m.root.stat().dev;
  } catch {
    return 0;
  }
}

/** @savable /proc/PID/{exe,cwd,root}. */
class ProcessLink extends KSymlink {
  constructor(
    readonly pfs: ProcFilesystem,
    parent: KDentry,
    readonly kind: "exe" | "cwd" | "root",
    readonly pid: number,
    uid: number,
    gid: number,
  ) {
    super(pfs, parent, kind, { uid, gid });
  }

  /** Where the link leads, or the executable's description when it is in no directory. */
  #location(): Location | { file: FileDescription; p: ProcProcess } {
    const p = this.pfs.source.process(this.pid);
    if (p === null) throw ENOENT;
    this.pfs.checkAccess(p);
    const loc = this.kind === "exe" ? p.exe() : this.kind === "cwd" ? p.cwd() : p.root();
    if (loc !== null) return loc;
    const file = this.kind === "exe" ? p.exeFile?.() ?? null : null;
    if (file === null) throw ENOENT;
    return { file, p };
  }

  target(): string {
    const l = this.#location();
    return l instanceof Location ? this.pfs.displayPath(l) : l.file.path();
  }

  override magicLink(): Location {
    const l = this.#location();
    if (l instanceof Location) return l;
    return new Location(this.pfs.anonMount, new DescriptionDentry(this.pfs, l.file, l.p.creds.euid, l.p.creds.egid));
  }
}

/** @savable /proc/PID/fd and /proc/PID/fdinfo. */
class FdDir extends KDentry {
  constructor(
    readonly pfs: ProcFilesystem,
    parent: KDentry,
    name: string,
    readonly pid: number,
    readonly info: boolean,
    uid: number,
    gid: number,
  ) {
    super(pfs, parent, name, { mode: S_IFDIR | (info ? 0o555 : 0o500), uid, gid });
  }

  #process(): ProcProcess {
    const p = this.pfs.source.process(this.pid);
    if (p === null) throw ENOENT;
    this.pfs.checkAccess(p);
    return p;
  }

  override lookup(name: string): Dentry | null {
    if (!/^(0|[1-9][0-9]{0,9})$/.test(name)) return null;
    const fd = Number(name);
    const p = this.#process();
    const slot = p.fd(fd);
    if (slot === null) return null;
    if (this.info) return new FdInfoFile(this.pfs, this, name, this.pid, fd, this.uid, this.gid);
    return new FdLink(this.pfs, this, name, this.pid, fd, slot.file.flags, this.uid, this.gid);
  }

  override children(): DirEntry[] {
    const p = this.#process();
    const type = dtFromMode(this.info ? 0o100000 : S_IFLNK);
    return p.fds().map((fd) => ({ name: String(fd), ino: this.pfs.inoFor(`${this.key}/${fd}`), type }));
  }
}

/** @savable /proc/PID/fd/N: a magic link to an open description. */
class FdLink extends KSymlink {
  readonly #accessMode: number;

  constructor(
    readonly pfs: ProcFilesystem,
    parent: KDentry,
    name: string,
    readonly pid: number,
    readonly fd: number,
    flags: number,
    uid: number,
    gid: number,
  ) {
    super(pfs, parent, name, { uid, gid });
    this.#accessMode = flags & O_ACCMODE;
  }

  /** lr-x, l-wx or lrwx, as Linux shows the access mode on the link. */
  override get mode(): number {
    const a = this.#accessMode;
    const bits = a === O_RDONLY ? 0o500 : a === O_WRONLY ? 0o300 : a === O_RDWR ? 0o700 : 0o000;
    return S_IFLNK | bits;
  }

  #file(): FileDescription {
    const p = this.pfs.source.process(this.pid);
    if (p === null) throw ENOENT;
    this.pfs.checkAccess(p);
    const slot = p.fd(this.fd);
    if (slot === null) throw ENOENT;
    return slot.file;
  }

  target(): string {
    const f = this.#file();
    const loc = f.location();
    return loc === null ? f.path() : this.pfs.displayPath(loc);
  }

  override magicLink(): Location {
    const f = this.#file();
    const loc = f.location();
    if (loc !== null) return loc;
    const p = this.pfs.source.process(this.pid)!;
    return new Location(this.pfs.anonMount, new DescriptionDentry(this.pfs, f, p.creds.euid, p.creds.egid));
  }
}

/**
 * @savable An open description that is not in the tree (a pipe end, a socket, host stdio),
 * reached through /proc/PID/fd/N. Opening it gives a new end of the same pipe with the access
 * mode asked for (Linux re-opens the FIFO inode); ENXIO for sockets, and what an anonymous
 * inode's {@linkcode AnonInodeFile.reopen} says; the description itself for the others (host
 * stdio: `echo x > /dev/stdout`).
 */
class DescriptionDentry extends KDentry {
  constructor(pfs: ProcFilesystem, readonly file: FileDescription, uid: number, gid: number) {
    super(pfs.anonMount.fs as KernFilesystem, pfs.anonRoot, file.path(), {
      mode: safeMode(file), uid, gid, key: `anon:${file.path()}`,
    });
  }

  override stat() {
    return this.file.stat();
  }

  /**
   * O_TRUNC through the link (`echo x > /dev/stdout`) leaves a shared description's file as it
   * is; a memfd, a file of its own, is truncated (its seals may refuse: EPERM).
   */
  override setattr(attr: SetAttr): void {
    if (attr.mode !== undefined || attr.uid !== undefined || attr.gid !== undefined) throw EPERM;
    if (attr.size !== undefined && this.file instanceof MemFd) this.file.truncate(attr.size);
  }

  override open(_loc: Location, flags: number): FileDescription {
    const f = this.file;
    if ((this.mode & S_IFMT) === S_IFSOCK) throw ENXIO; // sockets cannot be opened, as Linux
    if (f instanceof AnonInodeFile || f instanceof MemFd) return f.reopen(flags);
    const acc = flags & O_ACCMODE;
    if (f instanceof PipeEnd && acc !== O_RDWR) {
      return new PipeEnd(f.pipe, acc === O_RDONLY, flags & ~O_ACCMODE);
    }
    return f.incRef();
  }
}

function safeMode(f: FileDescription): number {
  try {
    const m = f.stat().mode;
    return (m & S_IFMT) === 0 ? m | 0o100000 : m;
  } catch {
    return 0o100600;
  }
}

/** @savable /proc/PID/fdinfo/N. */
class FdInfoFile extends GeneratedFile {
  constructor(
    readonly pfs: ProcFilesystem,
    parent: KDentry,
    name: string,
    readonly pid: number,
    readonly fd: number,
    uid: number,
    gid: number,
  ) {
    super(pfs, parent, name, { mode: 0o444, uid, gid });
  }

  render(): string {
    const p = this.pfs.source.process(this.pid);
    const slot = p?.fd(this.fd) ?? null;
    if (slot === null) throw ENOENT;
    const f = slot.file;
    const loc = f.location();
    let ino = 0;
    try {
      ino = f.stat().ino;
    } catch { /* keep 0 */ }
    return r.renderFdinfo(f.offset, f.flags, slot.cloexec, loc?.mount.id ?? 0, ino) + f.fdinfoExtra();
  }
}

/** /proc/sys/user's files, sorted (kernel/ucounts.ts's UCOUNT_NAMES). */
const USER_LIMITS = [
  "max_cgroup_namespaces", "max_fanotify_groups", "max_fanotify_marks", "max_inotify_instances", "max_inotify_watches",
  "max_ipc_namespaces", "max_mnt_namespaces", "max_net_namespaces", "max_pid_namespaces", "max_time_namespaces",
  "max_user_namespaces", "max_uts_namespaces",
];

/** @savable /proc/PID/ns: a magic link per namespace (ptrace access to read or follow). */
class NsDir extends KDentry {
  constructor(readonly pfs: ProcFilesystem, parent: KDentry, readonly pid: number, uid: number, gid: number) {
    super(pfs, parent, "ns", { mode: S_IFDIR | 0o511, uid, gid });
  }

  override lookup(name: string): Dentry | null {
    const ns = NAMESPACES.find(([n]) => n === name);
    const p = this.pfs.source.process(this.pid);
    if (ns === undefined || p === null) return null;
    // The cgroup, mount, user, UTS, IPC and network namespaces may be one of the process's own
    // (unshare, clone, setns).
    const own = name === "mnt"
      ? (p.mntNs === null ? null : { ino: p.mntNs.ino, ns: p.mntNs })
      : p.nsOf(name === "pid_for_children" || name === "time_for_children" ? name : ns[1]);
    const ino = name === "cgroup" ? p.cgroupNsIno : own?.ino ?? ns[2];
    return new NsLink(this.pfs, this, name, ns[1], ino, this.pid, this.uid, this.gid, own?.ns ?? null);
  }

  override children(): DirEntry[] {
    return NAMESPACES.map(([n]) => ({ name: n, ino: this.pfs.inoFor(`${this.key}/${n}`), type: dtFromMode(S_IFLNK) }));
  }
}

/** @savable One /proc/PID/ns link: "type:[inode]", leading to the namespace's nsfs inode. */
class NsLink extends KSymlink {
  constructor(
    readonly pfs: ProcFilesystem,
    parent: KDentry,
    name: string,
    readonly nsType: string,
    readonly nsIno: number,
    readonly pid: number,
    uid: number,
    gid: number,
    readonly ns: object | null = null,
  ) {
    super(pfs, parent, name, { uid, gid });
  }

  #check(): void {
    const p = this.pfs.source.process(this.pid);
    // A zombie has left its namespaces (Linux drops its nsproxy at exit).
    if (p === null || p.state === "Z") throw ENOENT;
    this.pfs.checkAccess(p);
    // pid_for_children before the namespace's first process (pidns_for_children_get).
    if (this.name === "pid_for_children" && p.nsOf("pid_for_children")?.absent) throw ENOENT;
  }

  target(): string {
    this.#check();
    return `${this.nsType}:[${this.nsIno}]`;
  }

  override magicLink(): Location {
    this.#check();
    return new Location(this.pfs.nsfs.mount, nsfsNode(this.pfs.nsfs, this.nsType, this.nsIno, this.ns));
  }
}

/** @savable /proc/PID/task: one directory per thread. */
class TaskDir extends KDentry {
  constructor(readonly pfs: ProcFilesystem, parent: KDentry, readonly pid: number, uid: number, gid: number) {
    super(pfs, parent, "task", { mode: S_IFDIR | 0o555, uid, gid });
  }

  /** One link more per thread (each thread's ".."), as Linux's proc_task_getattr. */
  override stat(): Stat {
    const st = super.stat();
    return { ...st, nlink: 2 + (this.pfs.source.process(this.pid)?.threads.length ?? 0) };
  }

  override lookup(name: string): Dentry | null {
    const tid = parsePid(name);
    if (tid === null) return null;
    const p = this.pfs.source.process(this.pid);
    if (p === null || !p.threads.some((t) => t.tid === tid)) return null;
    return new PidDir(this.pfs, this, name, this.pid, tid);
  }

  override children(): DirEntry[] {
    const p = this.pfs.source.process(this.pid);
    // Listing an exited process's task/ through a descriptor opened before is ENOENT (proc_task_readdir).
    if (p === null) throw ENOENT;
    return p.threads.map((t) => ({
      name: String(t.tid), ino: this.pfs.inoFor(`/${this.pid}/task/${t.tid}`), type: dtFromMode(S_IFDIR),
    }));
  }
}

