/**
 * Saving a paused sandbox as data (issue #13; design in docs/checkpoint.md): what the restore
 * (sandbox.ts) rebuilds. Only a checkpoint loads this module (Loader.checkpoint, and a held
 * container's prefetch): a restore never saves, and its modules are its start-up's code
 * (~670 lines less for `sentry restore` to load and compile before its first instruction).
 *
 * A sandbox this slice cannot save is refused with a one-line {@linkcode CheckpointError},
 * never silently dropped.
 *
 * @module
 */

import { uffdSysctl } from "../userfaultfd_hooks.ts";
import { INIT_TIME_NS, type TimeNamespace } from "../time_namespace.ts";
import type { Kernel } from "../kernel.ts";
import { futexWokenResult } from "../futex.ts";
import type { Task } from "../task.ts";
import type { ThreadGroup } from "../thread_group.ts";
import { MARK_GUARD, MARK_POISON, type MemoryManager, SharedAnon, type Vma } from "../mm/mm.ts";
import type { FdTable, SavedFdTable } from "../fd_table.ts";
import type { FsContext } from "../fs_context.ts";
import { Credentials } from "../creds.ts";
import { INIT_USER_NS } from "../user_namespace.ts";
import { ROOT_PID_NS } from "../pid_namespace.ts";
import type { SignalHandlers } from "../signals.ts";
import type { PendingSignals } from "../task_signals.ts";
import { monotonicNs } from "../time.ts";
import { type Pipe, PIPE_MAX_SIZE, PipeEnd, pipeSysctl } from "../../vfs/pipe.ts";
import { FifoEnd } from "../../vfs/fifo.ts";
import { O_ACCMODE, O_RDONLY, O_RDWR, O_WRONLY } from "../../abi/linux/file.ts";
import type { FileDescription } from "../../vfs/file_description.ts";
import { type Context } from "../../platform/mod.ts";
import { PAGE_SIZE } from "../../abi/linux/mm.ts";
import { OverlayDentry } from "../../vfs/overlay/overlay.ts";
import { OverlayRegularFile } from "../../vfs/overlay/overlay_file.ts";
import { HostRegularFile } from "../../vfs/hostfs/hostfs.ts";
import { HostFile } from "../../vfs/host_file.ts";
import { hostBacked, saveOpenFile, saveTrees } from "./files.ts";
import { OrphanSaver, saveCwd, tmpfsInodeOf } from "./orphans.ts";
import { saveLocks } from "./locks.ts";
import { isUnixSocket, saveUnixSocket, type SavedUnixSocket } from "./unix_sockets.ts";
import type { UnixSocket } from "../socket/unix/unix_socket.ts";
import { netModules } from "../net_load.ts";
import { LOOPBACK_INDEX, Net } from "../net.ts";
import { nsfsNamespace } from "../../vfs/procfs/procfs.ts";
import { SocketFile } from "../socket/socket.ts";
import { InetSaver } from "./inet_sockets.ts";
import { saveProcessTimers } from "./timers.ts";
import { saveMemfd } from "./memfd.ts";
import type { SavedIoUring } from "./io_uring.ts";
import type { IoUring } from "../io_uring.ts";
import { MemFd } from "../../vfs/memfd.ts";
import { taskCpu } from "../cpu_time.ts";
import { type SavedTerminal, saveTerminal, saveTtyFile } from "./ttys.ts";
import type { Terminal } from "../../vfs/tty/mod.ts";
import { saveAnonFile, setAnonFileClasses } from "./anon_files.ts";
import { EventFd } from "../../vfs/eventfd.ts";
import { TimerFd } from "../timerfd.ts";
import { SignalFd } from "../signalfd.ts";
import { EpollInstance } from "../../vfs/epoll.ts";
import { MqueueSaver, saveSysvIpc, wokenByRemoval } from "./ipc.ts";
import { procFileHolders, saveProcFile } from "./proc_files.ts";
import { saveNetlinkFile } from "./netlink.ts";
import { saveTaskPolicies } from "./task_policies.ts";
import { saveKeyrings } from "./keys.ts";
import { dnotifyEntries } from "../dnotify.ts";
import { fanotifyGroups } from "../fanotify.ts";
import { SeccompSaver } from "./seccomp.ts";
import { CowSaver, joinPieces, RUN_BYTES, type SavedCowPiece, SharedPlacement } from "./cow.ts";
import { IMAGE_FORMAT_VERSION, IMAGE_MAGIC, rootIdentity, writeImage } from "./image.ts";
import type { SavedFile, SavedMemory, SavedPipe, SavedProcess, SavedSandbox, SavedSigInfo, SavedTask } from "./sandbox.ts";
export { loadEncoders } from "./image.ts";

const PROT_READ = 1;

// A checkpoint saves whatever files the sandbox holds: the classes anon_files.ts knows them by.
setAnonFileClasses({ EventFd, TimerFd, SignalFd, EpollInstance });

/** Why a sandbox cannot be checkpointed (yet), in one line. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(`checkpoint: ${message}`);
    this.name = "CheckpointError";
  }
}

/** Objects shared between owners, each saved once and referred to by its index. */
class Table<K, V> {
  readonly items: V[] = [];
  readonly #index = new Map<K, number>();
  ref(key: K, save: () => V): number {
    let i = this.#index.get(key);
    if (i === undefined) {
      // Reserve the index before saving, so that what the save refers to comes after.
      i = this.items.length;
      this.#index.set(key, i);
      this.items.push(undefined as V);
      this.items[i] = save();
    }
    return i;
  }
  /** key's index, if it was saved. */
  indexOf(key: K): number | null {
    return this.#index.get(key) ?? null;
  }
}

interface SaveContext {
  kernel: Kernel;
  blobs: Uint8Array[];
  files: Table<FileDescription, SavedFile>;
  orphans: OrphanSaver;
  pipes: Table<Pipe, SavedPipe>;
  sockets: Table<UnixSocket, SavedUnixSocket>;
  terminals: Table<Terminal, SavedTerminal>;
  inet: InetSaver;
  mms: Table<MemoryManager, SavedMemory>;
  cow: CowSaver;
  sharedAnons: Table<SharedAnon, true>;
  /** Where each piece of shared memory will be restored from (checked as the restore will do it). */
  placement: SharedPlacement;
  fdTables: Table<FdTable, SavedFdTable>;
  fsContexts: Table<FsContext, { cwd: string; umask: number; root?: string; removed?: true }>;
  seccomp: SeccompSaver;
  mqueues: MqueueSaver;
  timeNamespaces: Table<TimeNamespace, { monotonicNs: string; boottimeNs: string; frozen: boolean }>;
  parked: ReadonlyMap<Task, { kind: string }>;
  /** The descriptions the sentry gave init as its stdio (Kernel.initStdio). */
  stdio: readonly FileDescription[];
}

/**
 * The state of a paused, quiescent sandbox (Kernel.pause, then Kernel.quiescent) and its
 * memory as blobs. Reads the sandbox without changing it (it may go on after). Throws
 * {@linkcode CheckpointError} for what is not saved.
 */
export function saveSandbox(k: Kernel): { state: SavedSandbox; blobs: Uint8Array[] } {
  if (!k.quiescent) throw new CheckpointError("the sandbox is not paused at its safe point");
  const init = k.init;
  if (init === null || init.zombie) throw new CheckpointError("the sandbox's init has exited");
  const c: SaveContext = {
    kernel: k,
    blobs: [],
    files: new Table(),
    orphans: null as unknown as OrphanSaver,
    pipes: new Table(),
    sockets: new Table(),
    terminals: new Table(),
    inet: new InetSaver(k, (what) => new CheckpointError(`${what}: not saved yet`)),
    mms: new Table(),
    cow: new CowSaver(),
    sharedAnons: new Table(),
    placement: new SharedPlacement(),
    fdTables: new Table(),
    fsContexts: new Table(),
    seccomp: new SeccompSaver(),
    mqueues: new MqueueSaver(k.ipc.mqueue, (what) => new CheckpointError(`${what}: not saved yet`)),
    timeNamespaces: new Table(),
    parked: k.parkedStops(),
    stdio: k.initStdio,
  };
  c.orphans = new OrphanSaver(k, c.blobs);
  const groups = [...k.threadGroups.values()].sort((a, b) => a.tgid - b.tgid);
  // Handler tables that live processes share (CLONE_SIGHAND without CLONE_THREAD): the first
  // process (by tgid) to hold each saves it, the others name that process.
  const handlersFirst = new Map<SignalHandlers, number>();
  for (const tg of groups) if (!tg.zombie && !handlersFirst.has(tg.handlers)) handlersFirst.set(tg.handlers, tg.tgid);
  if (k.bpf.progs.size > 0) throw new CheckpointError("eBPF programs are loaded or attached (bpf): not saved yet");
  if (k.net.tuns.size > 0) throw new CheckpointError("a TUN/TAP device (/dev/net/tun) exists: not saved yet");
  if (k.net.virtualLinks.size > 0) throw new CheckpointError("a veth or bridge device (RTM_NEWLINK) exists: not saved yet");
  if (k.net.stack.interfaces.some((i) => i.removed)) {
    throw new CheckpointError("a TUN/TAP device was deleted (the restored stack would number interfaces anew): not saved yet");
  }
  if (k.net.configChanged) throw new CheckpointError("the network's addresses or routes were changed (rtnetlink): not saved yet");
  if (!k.net.nftables.empty) throw new CheckpointError("nf_tables holds tables (NETLINK_NETFILTER): not saved yet");
  if (k.ipc.sysctls.changed) throw new CheckpointError("the System V IPC limits (/proc/sys/kernel/shm*, msg*, sem) were changed: not saved yet");
  if (k.net.xtablesChanged) throw new CheckpointError("the iptables tables were replaced or counted (IPT_SO_SET_REPLACE): not saved yet");
  if (!k.net.linkUp(LOOPBACK_INDEX)) throw new CheckpointError("the loopback interface was brought down: not saved yet");

  // Mount namespaces and propagation are not in the image (the tree is rebuilt from the bundle).
  if ([...k.tasks.values()].some((t) => t.fs.mntns !== k.vfs.initNs)) {
    throw new CheckpointError("a task is in a mount namespace of its own (unshare or clone with CLONE_NEWNS): not saved yet");
  }
  if (k.tty.otherInstances) throw new CheckpointError("a devpts instance was mounted (mount -t devpts): not saved yet");
  // Loop devices are not in the image (an open one is refused with the open files).
  const blocks = k.vfs.blockDevices;
  if (blocks.supers.size > 0) throw new CheckpointError("a filesystem is mounted from a block device (a loop device): not saved yet");
  if (blocks.anyBound) throw new CheckpointError("a loop device is bound to a file (LOOP_SET_FD, LOOP_CONFIGURE): not saved yet");
  if (!blocks.atBootState) throw new CheckpointError("loop devices were added or removed (/dev/loop-control): not saved yet");
  if ([...blocks.loops.values()].some((l) => l.readOnly)) throw new CheckpointError("a loop device was made read-only (BLKROSET, a read-only binding): not saved yet");
  // The image rebuilds the first namespace's tree from the bundle, on its boot root.
  if (k.vfs.initNs.root !== k.vfs.bootRoot) {
    throw new CheckpointError("the sandbox's root was changed by pivot_root: not saved yet");
  }
  if (!k.vfs.groupIds.empty || k.vfs.mounts().some((m) => m.master !== null || m.unbindable)) {
    throw new CheckpointError("a mount is shared, a slave or unbindable (mount propagation): not saved yet");
  }
  if (k.nestedPidNamespaces) throw new CheckpointError("a second PID namespace exists (CLONE_NEWPID): not saved yet");
  // The cgroup2 hierarchy is not in the image: refused once it is mounted or changed. The
  // bundle's own cgroup mount (a container engine's /sys/fs/cgroup) is made again by the
  // restoring boot, from the bundle, with the restoring command's limits.
  if (k.vfs.mounts().some((m) => m.fs === k.cgroups && !k.cgroups.bootMounts.has(m))) {
    throw new CheckpointError("a cgroup2 filesystem is mounted: not saved yet");
  }
  if (k.cgroups.changed || k.cgroups.nsdelegate || groups.some((tg) => tg.cgroup !== null)) {
    throw new CheckpointError("the cgroup2 hierarchy was changed (cgroups made, processes moved): not saved yet");
  }
  if ([...k.tasks.values()].some((t) => t.cgroupNs !== null)) {
    throw new CheckpointError("a task is in a cgroup namespace of its own: not saved yet");
  }
  if (groups.some((tg) => !tg.zombie && (tg.mm.aio?.size ?? 0) > 0)) throw new CheckpointError("asynchronous I/O contexts (io_setup) exist: not saved yet");
  if (groups.some((tg) => !tg.zombie && tg.mm.exeFile !== null)) {
    throw new CheckpointError("a process runs an executable in no directory (a memfd run by execveat): not saved yet");
  }
  if (groups.some((tg) => tg.exitLandlock !== null)) throw new CheckpointError("a zombie was restricted by Landlock: not saved yet");
  if (groups.some((tg) => tg.zombie && tg.exitUserNs !== INIT_USER_NS)) {
    throw new CheckpointError("a zombie's last task was in a user namespace of its own: not saved yet");
  }
  if (k.leases.held > 0) throw new CheckpointError("a file lease is held (F_SETLEASE): not saved yet");
  if (pipeSysctl.maxSize !== PIPE_MAX_SIZE) throw new CheckpointError("/proc/sys/fs/pipe-max-size was changed: not saved yet");
  if (uffdSysctl.unprivileged !== 0) throw new CheckpointError("/proc/sys/vm/unprivileged_userfaultfd was changed: not saved yet");
  // Uncharged pages of size-limited tmpfs mappings are not refused: a restored mapping is
  // simply open to them (their first touch is then not charged).
  if (groups.some((tg) => !tg.zombie && [...tg.mm.pageMarks?.values() ?? []].some((b) => (b & (MARK_GUARD | MARK_POISON)) !== 0))) {
    throw new CheckpointError("a guard page (MADV_GUARD_INSTALL) or poisoned page (UFFDIO_POISON) exists: not saved yet");
  }
  if (dnotifyEntries() > 0) throw new CheckpointError("a directory is watched with F_NOTIFY (dnotify): not saved yet");
  if (fanotifyGroups() > 0) throw new CheckpointError("a fanotify group is open (fanotify_init): not saved yet");
  const processes = groups.map((tg) => {
    const p = saveProcess(tg, c);
    const first = tg.zombie ? undefined : handlersFirst.get(tg.handlers);
    if (first !== undefined && first !== tg.tgid) p.handlersOf = first;
    return p;
  });
  // Once every description and descriptor table has its index.
  const locks = saveLocks(
    k.fileLocks, (f) => c.files.indexOf(f), (t) => c.fdTables.indexOf(t as FdTable), (what) => new CheckpointError(`${what}: not saved yet`),
  );
  // After the descriptors: a segment's memfd is a file of the image, held by the segment alone.
  const sysvIpc = saveSysvIpc(k.ipc, (f) => saveFile(f, c), (what) => new CheckpointError(`${what}: not saved yet`));
  const mqueues = c.mqueues.finish();
  const keyrings = saveKeyrings(k.keys);
  // After the tasks (each refused in its own namespace): what else keeps one alive.
  if (otherNetNamespace(k)) {
    throw new CheckpointError("a descriptor holds a network namespace other than the sandbox's first (a socket, TUN device or /proc/PID/ns/net): not saved yet");
  }
  const consoleTerm = k.tty.console;
  const console = consoleTerm === null || consoleTerm.hungUp ? null : c.terminals.ref(consoleTerm, () => saveTerminal(consoleTerm));
  // A pty whose master is neither a description in the sandbox nor the console is an `exec -t`
  // session's, bridged by this sentry to a client that will not follow the restore.
  const execTerminals: number[] = [];
  for (const [i, t] of c.terminals.items.entries()) {
    if (i === console || t.hungUp) continue;
    if (!c.files.items.some((f) => f.kind === "tty" && f.master && f.terminal === i)) execTerminals.push(i);
  }
  c.inet.finish(k);
  for (const m of c.mms.items) {
    if (m.cow === undefined) continue;
    if (m.cow.length === 0) delete m.cow;
    else m.cow = joinPieces(m.cow);
  }
  // After every socket a descriptor or message holds: a socket file's socket is one of them, or closed.
  const trees = saveTrees(
    k, c.blobs, (what) => new CheckpointError(`${what}: not saved yet`), (ep) => isUnixSocket(ep) ? c.sockets.indexOf(ep) : null,
  );
  const state: SavedSandbox = {
    hostname: k.rootUts.hostname,
    ...(k.nrOpen !== 1048576 ? { nrOpen: k.nrOpen } : {}),
    ...(k.ucounts.initChanged ? { ucountMax: [...k.ucounts.initMax] } : {}),
    ...(k.leases.breakTimeSec !== 45 || k.leases.enabled !== 1 ? { leaseSysctl: { breakTimeSec: k.leases.breakTimeSec, enabled: k.leases.enabled } } : {}),
    ...(portRangeChanged(k) ? { portRange: k.net.stack.ephemeralRange } : {}),
    ...(k.net.sysctl.ipForward !== 0 || k.net.sysctl.tcpSack !== 1 || k.net.sysctl.tcpRecovery !== 1 || k.net.sysctl.loAcceptLocal !== 0 || k.net.sysctl.loRouteLocalnet !== 0 || k.net.sysctl.loTag !== 0 || k.net.sysctl.defaultTag !== 0 ||
      k.net.sysctl.pingGroupLow !== 0 || k.net.sysctl.pingGroupHigh !== 2147483647 ? { netSysctl: { ...k.net.sysctl } } : {}),
    nextTid: k.lastTid + 1,
    monotonicNs: Math.ceil(monotonicNs()),
    init: init.tgid,
    trees,
    files: c.files.items,
    pipes: c.pipes.items,
    unixSockets: c.sockets.items,
    unixAutobind: k.unixNames.nextAutobind,
    terminals: c.terminals.items,
    console,
    ...(execTerminals.length > 0 ? { execTerminals } : {}),
    tcpSockets: c.inet.tcp,
    udpSockets: c.inet.udp,
    mms: c.mms.items,
    ...(c.orphans.items.length > 0 ? { orphans: c.orphans.items } : {}),
    ...(locks.length > 0 ? { locks } : {}),
    cowObjects: c.cow.objects,
    fdTables: c.fdTables.items,
    fsContexts: c.fsContexts.items,
    processes,
    ...(c.seccomp.states.length > 0 ? { seccompFilters: c.seccomp.filters, seccompStates: c.seccomp.states } : {}),
    ...(sysvIpc !== undefined ? { sysvIpc } : {}),
    ...(keyrings !== undefined ? { keyrings } : {}),
    ...(mqueues !== undefined ? { mqueues } : {}),
    ...(c.timeNamespaces.items.length > 0 ? { timeNamespaces: c.timeNamespaces.items } : {}),
  };
  // (Checked here too: the restore could not put it back.)
  procFileHolders(state, (why) => new CheckpointError(`${why}: not saved yet`));
  return { state, blobs: c.blobs };
}

function saveProcess(tg: ThreadGroup, c: SaveContext): SavedProcess {
  const refuse = (what: string) => new CheckpointError(`process ${tg.tgid} ${what}: not saved yet`);
  if (tg.vforkPending) throw refuse("is a vfork child that has not exec'd yet");
  if (tg.pidNs !== ROOT_PID_NS) throw refuse("is in a PID namespace of its own (CLONE_NEWPID)");
  if (!tg.zombie && tg.exitStatus !== null) throw refuse("is exiting");
  if (tg.oomKilled) throw refuse("was killed by the OOM killer");
  const handlers = tg.handlers.actions.map((a) => [hex(a.handler), a.flags, hex(a.restorer), hex(a.mask)] as [string, number, string, string]);
  const limits: [number, string, string][] = [];
  for (let r = 0; r < 16; r++) {
    const l = tg.limits.get(r);
    limits.push([r, hex(l.cur), hex(l.max)]);
  }
  const leader = tg.leader;
  const tasks = [...tg.tasks].sort((a, b) => (a === leader ? -1 : b === leader ? 1 : a.tid - b.tid));
  const itr = tg.itimerReal;
  return {
    tgid: tg.tgid,
    parent: tg.parent?.tgid ?? null,
    pgid: tg.pgid,
    sid: tg.sid,
    exitSignal: tg.exitSignal,
    leaderComm: tg.leaderComm.slice(0, 15),
    zombie: tg.zombie
      ? {
        status: tg.exitStatus ?? 0, uid: tg.exitUid, euid: tg.exitEuid, nice: tg.exitNice, sched: tg.exitSched,
        ...(tg.exitIds !== null ? { ids: [...tg.exitIds] } : {}),
      }
      : null,
    limits,
    handlers,
    mm: tg.zombie ? null : c.mms.ref(tg.mm, () => {
      const m = saveMemory(tg.mm, tasks[0]!.ctx, c);
      const timeNs = timeNsRef(tasks[0]!.timeNs, c);
      return timeNs === undefined ? m : { ...m, timeNs };
    }),
    tty: tg.tty === null ? null : saveTerminalRef(tg.tty, c),
    jobStop: { groupStop: tg.groupStop?.signo ?? null, stopped: tg.stopped, stopReport: tg.stopReport, continuedReport: tg.continuedReport },
    itimerReal: itr === null ? null : { deadlineNs: Math.max(0, itr.deadlineNs), intervalNs: itr.intervalNs },
    pending: savePending(tg.sharedPending),
    dumpable: tg.dumpable,
    subreaper: tg.subreaper,
    execed: tg.execed,
    oomScoreAdj: tg.oomScoreAdj,
    coredumpFilter: tg.coredumpFilter,
    thpDisable: tg.thpDisable,
    timerSeq: tg.timerSeq,
    ...(tg.processKeyring !== null ? { processKeyring: tg.processKeyring.serial } : {}),
    timers: saveProcessTimers(tg, (what) => new CheckpointError(`${what}: not saved yet`)),
    cpu: {
      userNs: tg.userNs, sysNs: tg.sysNs, childUserNs: tg.childUserNs, childSysNs: tg.childSysNs,
      maxRssKb: tg.maxRssKb, childMaxRssKb: tg.childMaxRssKb,
    },
    tasks: tasks.map((t) => saveTask(t, c)),
  };
}

function savePending(p: PendingSignals): SavedSigInfo[] {
  return p.queue.map((i) => {
    const s: SavedSigInfo = { signo: i.signo, code: i.code };
    if (i.errno !== undefined) s.errno = i.errno;
    if (i.pid !== undefined) s.pid = i.pid;
    if (i.uid !== undefined) s.uid = i.uid;
    if (i.status !== undefined) s.status = i.status;
    if (i.addr !== undefined) s.addr = Number(i.addr);
    if (i.value !== undefined) s.value = hex(i.value);
    if (i.overrun !== undefined) s.overrun = i.overrun;
    if (i.timerId !== undefined) s.timerId = i.timerId;
    if (i.timerSeq !== undefined) s.timerSeq = i.timerSeq;
    if (i.band !== undefined) s.band = i.band;
    if (i.fd !== undefined) s.fd = i.fd;
    if (i.syscall !== undefined) s.syscall = i.syscall;
    if (i.arch !== undefined) s.arch = i.arch;
    if (i.lost !== undefined) s.lost = i.lost;
    return s;
  });
}

function saveFile(f: FileDescription, c: SaveContext): number {
  return c.files.ref(f, (): SavedFile => {
    const index = c.stdio.indexOf(f);
    if (index >= 0) return { kind: "stdio", index: index as 0 | 1 | 2, flags: f.flags };
    if (f instanceof FifoEnd) {
      const path = f.path();
      let here = false;
      try {
        here = c.kernel.vfs.resolve({ root: c.kernel.vfs.root(), creds: Credentials.root() }, c.kernel.vfs.root(), path, { follow: false })
          .equals(f.location());
      } catch { /* gone */ }
      if (!here) throw new CheckpointError(`the open FIFO ${path} was removed or renamed: not saved yet`);
      const acc = f.isReader ? ((f.flags & O_ACCMODE) === O_RDWR ? O_RDWR : O_RDONLY) : O_WRONLY;
      return { kind: "fifo", path, pipe: c.pipes.ref(f.pipe, () => f.pipe.save() as SavedPipe), flags: (f.flags & ~O_ACCMODE) | acc };
    }
    if (f instanceof PipeEnd && f.constructor === PipeEnd) {
      return { kind: "pipe", pipe: c.pipes.ref(f.pipe, () => f.pipe.save() as SavedPipe), reader: f.isReader, flags: f.flags };
    }
    if (f instanceof SocketFile && (f.sockFilter !== null || f.filterLocked)) {
      throw new CheckpointError("a socket with a filter (SO_ATTACH_FILTER or SO_LOCK_FILTER): not saved yet");
    }
    if (f instanceof SocketFile && f.inodeAttrs !== null) {
      throw new CheckpointError(`a socket whose mode or owner fchmod or fchown changed: not saved yet`);
    }
    if (isUnixSocket(f)) return { kind: "unix", socket: saveSocket(f, c) };
    const inet = c.inet.saveFile(f, (what) => new CheckpointError(`${what}: not saved yet`));
    if (inet !== null) return inet;
    const mq = c.mqueues.saveFile(f, (what) => new CheckpointError(`${what}: not saved yet`));
    if (mq !== null) return mq;
    const proc = saveProcFile(c.kernel, f, (what) => new CheckpointError(`${what}: not saved yet`));
    if (proc !== null) return proc;
    const netlink = saveNetlinkFile(c.kernel, f, (what) => new CheckpointError(`${what}: not saved yet`));
    if (netlink !== null) return netlink;
    if (f instanceof MemFd) {
      if (f.reopened) throw new CheckpointError(`the memfd ${f.name} opened again through /proc: not saved yet`);
      return saveMemfd(f, c.blobs);
    }
    const ring = saveIoUringFile(f, (g) => saveFile(g, c), (what) => new CheckpointError(`${what}: not saved yet`));
    if (ring !== null) return ring;
    const anon = saveAnonFile(
      c.kernel, f, (g) => saveFile(g, c), (tg) => c.kernel.threadGroups.get(tg.tgid) === tg && !tg.zombie,
      (what) => new CheckpointError(`${what}: not saved yet`),
    );
    if (anon !== null) return anon;
    const tty = saveTtyFile(f, (t) => saveTerminalRef(t, c));
    if (tty !== null) return tty;
    // A host descriptor other than the sentry's stdio is one an `exec` client passed as its
    // process's stdio: it belongs to a client that does not follow a restore.
    if (f instanceof HostFile) return { kind: "gone", flags: f.flags };
    const file = saveOpenFile(c.kernel, f, (what) => new CheckpointError(`${what}: not saved yet`), (g, refuse) => c.orphans.moved(g, refuse));
    if (file !== null) return file;
    throw new CheckpointError(`an open file ${f.path()} (${f.constructor.name}): not saved yet`);
  });
}

function saveTerminalRef(t: Terminal, c: SaveContext): number {
  return c.terminals.ref(t, () => saveTerminal(t));
}

function saveSocket(so: UnixSocket, c: SaveContext): number {
  if (so.landlock !== null) throw new CheckpointError("a unix socket made under a Landlock domain: not saved yet");
  return c.sockets.ref(so, () => saveUnixSocket(so, (o) => saveSocket(o, c), (f) => saveFile(f, c)));
}

function saveTask(t: Task, c: SaveContext): SavedTask {
  // A thread stopped by job control is saved as any other: its group's stop stops it again.
  if (t.state === "dead" || t.state === "user") {
    throw new CheckpointError(`task ${t.tid} is ${t.state}: not saved`);
  }
  if (t.ptrace !== null || t.tracees.size > 0) {
    throw new CheckpointError(`task ${t.tid} is traced or traces another with ptrace(2): not saved yet`);
  }
  if (t.tscSigsegv) throw new CheckpointError(`task ${t.tid} made rdtsc fault (PR_SET_TSC): not saved yet`);
  if (t.personality !== 0) {
    throw new CheckpointError(`task ${t.tid} has a personality set: not saved yet`);
  }
  if (t.uts !== t.kernel.rootUts) {
    throw new CheckpointError(`task ${t.tid} is in a UTS namespace of its own: not saved yet`);
  }
  if (t.landlock !== null) throw new CheckpointError(`task ${t.tid} is restricted by Landlock: not saved yet`);
  if (t.pidNsForChildren !== t.tg.pidNs) {
    throw new CheckpointError(`task ${t.tid} made a PID namespace for its children (unshare CLONE_NEWPID): not saved yet`);
  }
  // The image's credentials are ids and capabilities of the initial user namespace.
  if (t.creds.userNs !== INIT_USER_NS) {
    throw new CheckpointError(`task ${t.tid} is in a user namespace of its own: not saved yet`);
  }
  if (t.nprocExceeded) {
    throw new CheckpointError(`task ${t.tid} became a user over RLIMIT_NPROC (set*uid before execve): not saved yet`);
  }
  if (t.ipc !== t.kernel.ipc) {
    throw new CheckpointError(`task ${t.tid} is in an IPC namespace of its own: not saved yet`);
  }
  if (t.net !== t.kernel.net) {
    throw new CheckpointError(`task ${t.tid} is in a network namespace of its own: not saved yet`);
  }
  if (wokenByRemoval(t)) throw new CheckpointError(`task ${t.tid} is waking from a System V IPC object removed since: not saved yet`);
  const regs = t.ctx.regs.clone();
  const parkedStop = c.parked.get(t);
  // The mask the thread runs with once its syscall is done: a pselect, ppoll, epoll_pwait or
  // sigsuspend that runs again sets its temporary mask again (readline waits in pselect).
  let sigmask = t.sigmask;
  let rerun = false;
  if (t.inSyscall || parkedStop?.kind === "syscall") {
    const st = t.syscallState as { partial?: number } | null;
    const woken = futexWokenResult(st);
    if (woken !== null) {
      regs.set("rax", woken); // a futex wait already woken: it returned 0 (futex_waitv: the index)
    } else if ((st?.partial ?? 0) > 0) {
      regs.set("rax", st!.partial!); // progress made: the count, as a signal would end it
    } else {
      // Not yet served, or asleep: wind back onto the 2-byte `syscall` instruction so that the
      // restored thread issues it again (blocked syscalls are restartable by design).
      regs.set("rip", regs.get("rip") - 2);
      regs.set64("rax", regs.get64("orig_rax"));
      rerun = true;
    }
  }
  if (parkedStop?.kind === "vsyscall") {
    // A vsyscall entry not yet answered: undo the host's emulated `ret`, so that the restored
    // thread calls the entry again.
    regs.set64("rip", t.ctx.syscall.ip64);
    regs.set("rsp", regs.get("rsp") - 8);
  }
  if (rerun && t.savedMask !== null) sigmask = t.savedMask;
  else if (t.savedMask !== null || t.sigWaitSet !== null) {
    // Between a sigsuspend's wake and its handler: the temporary mask is still in force.
    throw new CheckpointError(`task ${t.tid} is leaving sigsuspend or sigtimedwait: not saved yet`);
  }
  regs.set("orig_rax", -1);
  const cr = t.creds;
  return {
    tid: t.tid,
    name: t.name,
    regs: regs.bytes.slice(),
    fp: t.ctx.getFpState().slice(),
    sigmask: hex(sigmask),
    pending: savePending(t.pendingSignals),
    altStack: { ...t.altStack },
    clearChildTid: t.clearChildTid,
    robustList: t.robustList,
    ...(t.rseq !== null ? { rseq: { addr: t.rseq.addr, len: t.rseq.len, sig: t.rseq.sig } } : {}),
    pdeathSignal: t.pdeathSignal,
    timerSlack: { ns: t.timerSlackNs, defaultNs: t.defaultTimerSlackNs },
    noNewPrivs: t.noNewPrivs,
    nice: t.nice,
    ioprio: t.ioprio,
    sched: {
      policy: t.schedPolicy, priority: t.schedPriority, resetOnFork: t.schedResetOnFork, sliceNs: t.schedSliceNs,
      dl: t.schedDl,
    },
    creds: {
      uid: cr.uid, gid: cr.gid, euid: cr.euid, egid: cr.egid, suid: cr.suid, sgid: cr.sgid, fsuid: cr.fsuid, fsgid: cr.fsgid,
      groups: [...cr.groups],
      caps: {
        inheritable: hex(cr.caps.inheritable), permitted: hex(cr.caps.permitted), effective: hex(cr.caps.effective),
        bounding: hex(cr.caps.bounding), ambient: hex(cr.caps.ambient), securebits: cr.caps.securebits,
      },
    },
    fdTable: c.fdTables.ref(t.fdTable, () => t.fdTable.save((f) => saveFile(f, c))),
    fs: c.fsContexts.ref(t.fs, () => ({
      ...saveCwd(c.kernel, t.fs.cwd, (what) => new CheckpointError(`${what}: not saved yet`)), umask: t.fs.umask, ...saveChroot(c.kernel, t),
    })),
    ...(t.seccomp !== null ? { seccomp: c.seccomp.ref(t.seccomp) } : {}),
    ...saveTaskPolicies(t),
    ...(t.sessionKeyring !== null ? { sessionKeyring: t.sessionKeyring.serial } : {}),
    ...(t.threadKeyring !== null ? { threadKeyring: t.threadKeyring.serial } : {}),
    ...(t.reqkeyDefault !== 0 ? { reqkeyDefault: t.reqkeyDefault } : {}),
    ...(t.timeNs !== INIT_TIME_NS ? { timeNs: timeNsRef(t.timeNs, c) } : {}),
    ...(t.timeNsForChildren !== INIT_TIME_NS ? { timeNsForChildren: timeNsRef(t.timeNsForChildren, c) } : {}),
    ...(t.debugRegs !== null ? {
      debugRegs: {
        bps: t.debugRegs.bps.map((b) => b === null ? null : { addr: hex(b.addr), len: b.len, type: b.type, disabled: b.disabled }),
        dr6: hex(t.debugRegs.dr6),
        dr7: hex(t.debugRegs.dr7),
      },
    } : {}),
    cpu: { ...taskCpu(t) },
  };
}

/** A time namespace's index in the image; undefined for the sandbox's first. */
function timeNsRef(n: TimeNamespace, c: SaveContext): number | undefined {
  if (n === INIT_TIME_NS) return undefined;
  // The image's namespaces belong to the initial user namespace (tasks in another are refused).
  if (n.owner !== INIT_USER_NS) throw new CheckpointError("a time namespace owned by a user namespace of its own: not saved yet");
  return c.timeNamespaces.ref(n, () => ({ monotonicNs: String(n.monotonicNs), boottimeNs: String(n.boottimeNs), frozen: n.frozen }));
}

/**
 * A chrooted task's root, by the path the sandbox's root reaches it by (its cwd is saved the
 * same way, inside the new root or not); nothing for an unchanged root. Refused when that path
 * no longer leads to it (removed or renamed since the chroot).
 */
function saveChroot(k: Kernel, t: Task): { root?: string } {
  const r = t.fs.root;
  const path = r.path();
  if (path === "/" && r.equals(k.vfs.root())) return {};
  let here = false;
  try {
    here = k.vfs.resolve({ root: k.vfs.root(), creds: Credentials.root() }, k.vfs.root(), path, { follow: false }).equals(r);
  } catch { /* gone */ }
  if (!here) throw new CheckpointError(`task ${t.tid}'s root directory ${path} (chroot) was removed or renamed: not saved yet`);
  return { root: path };
}

function saveMemory(mm: MemoryManager, ctx: Context, c: SaveContext): SavedMemory {
  const blobs = c.blobs;
  const runs: { addr: number; blob: number }[] = [];
  const pieces: SavedCowPiece[] = [];
  // This address space's index: the table reserved it before calling this save.
  const mmIndex = c.mms.items.length - 1;
  // Mappings of shared anonymous memory whose pages an earlier mapping saves.
  const sharedFromEarlier = new Set<Vma>();
  const vmas = mm.vmas.map((v: Vma): SavedMemory["vmas"][number] => {
    if (v.policy !== undefined) {
      throw new CheckpointError(`the mapping at 0x${v.start.toString(16)} has an mbind NUMA policy: not saved yet`);
    }
    const saved = {
      start: v.start, end: v.end, prot: v.prot, name: v.name, growsDown: v.growsDown, locked: v.locked === true,
      ...(v.anonName !== undefined ? { anonName: v.anonName } : {}),
      ...(v.dontCopy ? { dontCopy: true as const } : {}),
      ...(v.wipeOnFork ? { wipeOnFork: true as const } : {}),
      ...(v.sealed ? { sealed: true as const } : {}),
    };
    if (v.shared && v.file === null && v.object instanceof SharedAnon) {
      const object = c.sharedAnons.ref(v.object, () => true);
      const from = c.placement.place(object, mmIndex, v.start, v.offset, v.end - v.start);
      if (from === "partial") {
        throw new CheckpointError(`shared anonymous memory at 0x${v.start.toString(16)} overlaps its other mappings in part: not saved yet`);
      }
      if (from !== null) sharedFromEarlier.add(v);
      return { ...saved, shared: { object, offset: v.offset } };
    }
    // A memfd's pages are its own: saved with it (memfd.ts), not as this mapping's contents.
    if (v.shared && v.file instanceof MemFd) return { ...saved, memfd: { file: saveFile(v.file, c), offset: v.offset } };
    // So are a written file's (sqlite's -shm file, LMDB): saved with its tree or as unlinked.
    if (v.shared && v.file !== null && tmpfsInodeOf(v.file) !== null) return { ...saved, written: { file: saveFile(v.file, c), offset: v.offset } };
    if (v.shared && !hostFileMapping(v)) throw new CheckpointError(`shared mapping at 0x${v.start.toString(16)} (${v.name}): not saved yet`);
    const byRef = byReference(c.kernel, v);
    return byRef === null ? saved : { ...saved, file: byRef };
  });
  for (const [i, v] of mm.vmas.entries()) {
    // The vDSO's pages are the restoring kernel's own (restoreMemory maps them anew).
    if (v.file === null && (v.name === "[vvar]" || v.name === "[vdso]")) continue;
    // A mapping saved by reference keeps only the pages that differ from its file.
    const fromFile = vmas[i]!.file === undefined ? null : v.file!;
    if (v.shared && v.file instanceof MemFd) continue;
    if (vmas[i]!.written !== undefined) continue;
    if (sharedFromEarlier.has(v)) continue;
    // Private memory (not by reference) may share pages with an earlier address space's (cow.ts).
    const cowable = fromFile === null && vmas[i]!.shared === undefined;
    const content: { addr: number; bytes: Uint8Array }[] = [];
    let shares = false;
    const unreadable = (v.prot & PROT_READ) === 0;
    if (unreadable && mm.as.protect(ctx, v.start, v.end - v.start, v.prot | PROT_READ) !== 0) {
      throw new CheckpointError(`cannot read the mapping at 0x${v.start.toString(16)}`);
    }
    // Chunks with no populated page are not read at all: a 64 GiB reservation with a few pages
    // touched (a JVM's heap, a sanitizer's shadow) took minutes to read whole. Unpopulated
    // pages read as zeros, or as the mapped file's bytes, which is what the restore gives.
    // Of a mapping saved by reference, only the pages the process has its own copies of can
    // differ from the file (the rest are the file's pages): an idle shell's libraries were read
    // and compared whole (~2 MB, most of a checkpoint's time) for a few pages of relocations.
    const copies = fromFile !== null ? mm.as.fileCopies?.(v.start, v.end) ?? null : null;
    // Unpopulated pages of a private mapping of another file (a memfd, a tmpfs or written
    // file) read as that file's bytes, which the restore does not map again: read whole.
    const populated = copies ?? (v.file === null || fromFile !== null ? mm.as.populated?.(v.start, v.end) ?? null : null);
    // Only the populated ranges are read (in pieces of at most RUN_BYTES), not the chunks that
    // hold them: a stack's one populated page cost reading and scanning its whole 8 MiB, most
    // of an idle shell's checkpoint.
    const ranges: Array<[number, number]> = populated ?? [[v.start, v.end]];
    try {
      ranges: for (const [from, to] of ranges) {
        const start = Math.max(v.start, from - from % PAGE_SIZE);
        const stop = Math.min(v.end, to + (PAGE_SIZE - to % PAGE_SIZE) % PAGE_SIZE);
        for (let a = start; a < stop; a += RUN_BYTES) {
          const buf = new Uint8Array(Math.min(RUN_BYTES, stop - a));
          const n = mm.read(a, buf);
          // A file mapping, shared or private, may reach past the file's end (pages that fault
          // with SIGBUS): ld.so maps a library's whole span from its file before it maps the bss
          // over the tail, so a checkpoint can find one. Those pages are left out, and read as
          // zeros after a restore; every page after them is past the end too.
          const pastEof = n !== buf.length && v.file !== null && n % PAGE_SIZE === 0;
          if (n !== buf.length && !pastEof) {
            throw new CheckpointError(`cannot read the mapping at 0x${(a + n).toString(16)}`);
          }
          // Only runs of pages holding something: untouched memory reads as zeros on restore, and
          // a page the same as its file's is mapped from the file again.
          // A page the same as the earlier address space's it shares is not stored again.
          const match = cowable ? c.cow.match(mmIndex, a, buf) : null;
          const runsHere = fromFile === null ? c.cow.runsToStore(a, buf, match) : changedRuns(buf, fromFile, v.offset + (a - v.start));
          if (match !== null) {
            pieces.push(c.cow.piece(match));
            shares = true;
          }
          for (const [off, end] of runsHere) {
            runs.push({ addr: a + off, blob: blobs.length });
            // buf is this chunk's own: a run of most of it is kept as a view, not copied again;
            // a small run is copied, so that a sparse mapping does not keep whole chunks alive.
            const bytes = end - off >= buf.length >>> 1 ? buf.subarray(off, end) : buf.slice(off, end);
            blobs.push(bytes);
            if (cowable) content.push({ addr: a + off, bytes });
          }
          if (pastEof) break ranges;
        }
      }
    } finally {
      if (unreadable) mm.as.protect(ctx, v.start, v.end - v.start, v.prot);
    }
    // A mapping that shares nothing with an earlier one: later ones may share its pages.
    if (cowable && !shares) c.cow.addOrigin(mmIndex, v.start, v.end, content, runs, pieces);
  }
  return {
    vmas,
    runs,
    cow: pieces,
    brkStart: mm.brkStart,
    brk: mm.brk,
    stackBottom: mm.stackBottom,
    argStart: mm.argStart,
    argEnd: mm.argEnd,
    envStart: mm.envStart,
    envEnd: mm.envEnd,
    executable: mm.executable,
    exe: mm.exe?.path() ?? null,
    auxv: [...mm.auxv].map((b) => b.toString(16).padStart(2, "0")).join(""),
    lockFuture: mm.lockFuture,
    membarrierRegistered: mm.membarrierRegistered,
  };
}

/**
 * A shared mapping of a host file of the overlay's lower layer, or of a host directory mounted
 * read-only (a bundle's `root.readonly`) (glibc maps gconv-modules.cache and locale files so):
 * nothing in the sandbox can write that file (a writer's open copies an overlay's up first, and
 * the mapping keeps the lower file's pages, as overlayfs does; a read-only filesystem refuses
 * it), so its contents are saved and restored as a private copy.
 */
function hostFileMapping(v: Vma): boolean {
  if (v.file instanceof HostRegularFile) return v.file.location()?.mount.fs.readonly === true;
  if (!(v.file instanceof OverlayRegularFile)) return false;
  const d = v.file.location()?.dentry;
  return d instanceof OverlayDentry && d.upper === null;
}

/**
 * How a private mapping of a host file (of the overlay's lower layer, or of a host directory
 * mounted as it is, such as a read-only root) is saved by reference (its path, offset, size and
 * mtime), or null when it is saved as a copy: a shared one, another kind of file (tmpfs, memfd,
 * an overlay file copied up), one renamed since (its path no longer leads to it), or one the
 * sentry could not map from the host.
 */
function byReference(k: Kernel, v: Vma): { path: string; offset: number; size: number; mtimeNs: string } | null {
  if (v.shared || v.file === null || !hostBacked(v.file) || v.file.hostFdForMmap() === null) return null;
  const loc = v.file.location();
  if (loc === null) return null;
  const path = v.file.path();
  try {
    if (!k.vfs.resolve({ root: k.vfs.root(), creds: Credentials.root() }, k.vfs.root(), path, { follow: false }).equals(loc)) return null;
  } catch {
    return null;
  }
  const st = v.file.stat();
  return { path, offset: v.offset, size: Number(st.size), mtimeNs: String(st.mtimeNs) };
}

/**
 * [start, end) byte offsets of the maximal runs of pages of buf (memory mapped from `file` at
 * `offset`) that differ from the file's contents (past its end, zeros).
 */
function changedRuns(buf: Uint8Array, file: FileDescription, offset: number): [number, number][] {
  const want = new Uint8Array(buf.length);
  for (let done = 0; done < want.length;) {
    const n = file.read(want.subarray(done), offset + done);
    if (n <= 0) break;
    done += n;
  }
  const a = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
  const b = new Uint32Array(want.buffer, 0, want.length >>> 2);
  const perPage = PAGE_SIZE >>> 2;
  const out: [number, number][] = [];
  let runStart = -1;
  for (let p = 0; p * PAGE_SIZE < buf.length; p++) {
    let same = true;
    for (let i = p * perPage; i < (p + 1) * perPage && i < a.length; i++) {
      if (a[i] !== b[i]) {
        same = false;
        break;
      }
    }
    if (!same && runStart < 0) runStart = p * PAGE_SIZE;
    if (same && runStart >= 0) {
      out.push([runStart, p * PAGE_SIZE]);
      runStart = -1;
    }
  }
  if (runStart >= 0) out.push([runStart, buf.length]);
  return out;
}

function hex(v: bigint): string {
  return BigInt.asUintN(64, v).toString(16);
}

/**
 * Checkpoints a paused, quiescent sandbox into the image file `path` (written atomically);
 * `rootHostPath` is the host directory serving as its root filesystem.
 */
export function checkpointToFile(k: Kernel, path: string, o: { rootHostPath: string; sentryVersion: string }): void {
  // (loadEncoders first: writeImage needs cbor-x and node:zlib.)
  const { state, blobs } = saveSandbox(k);
  let root;
  try {
    root = rootIdentity(o.rootHostPath);
  } catch (e) {
    throw new CheckpointError(`cannot stat the root filesystem ${o.rootHostPath}: ${(e as Error).message}`);
  }
  writeImage(path, {
    header: { magic: IMAGE_MAGIC, formatVersion: IMAGE_FORMAT_VERSION, sentryVersion: o.sentryVersion, createdMs: Date.now(), root },
    state,
    blobs,
  });
}

/** Whether the sandbox changed /proc/sys/net/ipv4/ip_local_port_range. */
function portRangeChanged(k: Kernel): boolean {
  const [low, high] = k.net.stack.ephemeralRange;
  const { EPHEMERAL_LOW, EPHEMERAL_HIGH } = netModules();
  return low !== EPHEMERAL_LOW || high !== EPHEMERAL_HIGH;
}

/**
 * Whether a descriptor holds a network namespace other than the kernel's first: a socket, TUN
 * device or nsfs inode of one (what keeps a namespace alive besides its tasks).
 */
function otherNetNamespace(k: Kernel): boolean {
  for (const t of k.tasks.values()) {
    for (const fd of t.fdTable.fds()) {
      const f = t.fdTable.get(fd);
      const net = (f as { net?: unknown }).net;
      if (net instanceof Net && net !== k.net) return true;
      if (isUnixSocket(f) && f.ns !== k.unixNames) return true;
      const loc = f.location();
      if (loc !== null && nsfsNamespace(loc.dentry) instanceof Net) return true;
    }
  }
  return false;
}

/**
 * The saved form of f if it is an io_uring (else null): `saveFile` saves its memfd. Refuses a
 * ring that is not idle.
 */
export function saveIoUringFile(
  f: FileDescription, saveFile: (g: FileDescription) => number, refuse: (what: string) => Error,
): SavedIoUring | null {
  // Duck-typed: this module must not load kernel/io_uring.ts (a sandbox without a ring never does).
  const ring = f as unknown as Partial<IoUring>;
  if (typeof ring.checkpointState !== "function" || ring.mem === undefined) return null;
  const st = ring.checkpointState();
  if (typeof st === "string") throw refuse(st);
  return {
    kind: "io_uring", flags: f.flags, mem: saveFile(ring.mem), sqEntries: st.sqEntries, cqEntries: st.cqEntries,
    setupFlags: st.setupFlags, sqHead: st.sqHead, cqTail: st.cqTail, completions: st.completions,
    overflow: st.overflow.map(([u, r, fl]) => [u.toString(16), r, fl]), buffers: st.buffers,
  };
}
