/**
 * Saving a paused sandbox as data and rebuilding it in a new kernel (issue #13; design in
 * docs/checkpoint.md).
 *
 * What is covered: every process (thread groups with their parent links, process groups and
 * sessions; zombies with their exit status) and every thread; per thread its registers
 * (general and the XSAVE area: x87, SSE, MXCSR, AVX), signal mask, pending signals, alternate
 * stack, credentials and scheduling attributes; per process its handlers, pending signals,
 * limits and ITIMER_REAL with its remaining time; every address space once however many
 * processes share it (every private mapping with its contents: anonymous memory as it is,
 * private file mappings as anonymous copies of their current contents); every fd table, fs
 * context (cwd, umask) and file description once however many share it: the sentry's stdio
 * (restored as the restoring caller's) and pipes with their buffered data. A thread in a
 * syscall (asleep, or stopped at its syscall and not yet served) is saved with its registers
 * wound back onto the `syscall` instruction, so that the restored thread issues it again
 * (blocked syscalls are restartable by design); a futex wait already woken is saved as
 * returned 0, and a syscall with partial progress as returning that count. CLOCK_MONOTONIC
 * continues from the checkpoint's value. Anything else the sandbox holds is refused at
 * checkpoint time with a one-line CheckpointError, never silently dropped.
 *
 * This module holds the restore; the image's schemas are sandbox_schema.ts's, loaded only for a
 * state the hand checks do not take; the save is save.ts's, which only a checkpoint loads (what
 * `sentry restore` loads before its first instruction is its own code).
 *
 * @module
 */

import { INIT_TIME_NS, TimeNamespace } from "../time_namespace.ts";
import { VVAR_LEN } from "../vdso/vdso.ts";
import { onZodLoad, zodLoaded } from "./zod_tree.ts";
import { plainSandbox } from "./plain_state.ts";
import type {
  SavedFile, SavedMemory, SavedPipe, SavedProcess, SavedSandbox, SavedSigInfo, SavedTask,
} from "./sandbox_schema.ts";
export type { SavedFile, SavedMemory, SavedPipe, SavedProcess, SavedSandbox, SavedSigInfo, SavedTask } from "./sandbox_schema.ts";
import type { Kernel } from "../kernel.ts";
import { Task } from "../task.ts";
import { ThreadGroup } from "../thread_group.ts";
import { MemoryManager, SharedAnon, sharedObject } from "../mm/mm.ts";
import { FdTable } from "../fd_table.ts";
import { FsContext } from "../fs_context.ts";
import { Credentials } from "../creds.ts";
import { INIT_USER_NS } from "../user_namespace.ts";
import { Limits } from "../limits.ts";
import { SignalHandlers } from "../signals.ts";
import type { SigInfo } from "../signal_frame.ts";
import { continueMonotonicFrom } from "../time.ts";
import { Pipe, PipeEnd } from "../../vfs/pipe.ts";
import { FifoEnd } from "../../vfs/fifo.ts";
import { O_ACCMODE, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY } from "../../abi/linux/file.ts";
import type { FileDescription } from "../../vfs/file_description.ts";
import type { Location } from "../../vfs/mount.ts";
import type { Context } from "../../platform/mod.ts";
import { PAGE_SIZE } from "../../abi/linux/mm.ts";
import { CAP_FULL_SET, SECURE_ALL_BITS, SECURE_ALL_LOCKS } from "../../abi/linux/capability.ts";
import { bindSocketFiles, hostBacked, restoreOpenDir, restoreOpenFile, restoreTrees } from "./files.ts";
import type { OrphanMaker } from "./orphans.ts";
import { netModules, netModulesIfLoaded } from "../net_load.ts";
import { SOCK_STREAM } from "../../abi/linux/socket.ts";
import { restoreProcessTimers } from "./timers.ts";
import type { MemFd } from "../../vfs/memfd.ts";
import { IPC_LIMITS } from "../ipc.ts";
import type { SavedAnonFile } from "./anon_files.ts";
import type { SavedPidFd } from "./proc_files.ts";
import type { Terminal } from "../../vfs/tty/mod.ts";
import { restoreTaskPolicies } from "./task_policies.ts";
import type * as Kinds from "./kinds.ts";
import {
  checkCowObjects, checkCowPieces, CowMemories, RUN_BYTES, type SavedCowPiece, SharedPlacement,
} from "./cow.ts";
import { checkRoot, type Image, type ImageBlob, ImageError, readImageFast } from "./image.ts";
import { armDebugRegs } from "../debug_regs.ts";
export { ImageError, loadCodecs, loadEncoders } from "./image.ts";

/**
 * The modules of the kinds of object an idle shell's image lacks (kinds.ts), once loaded: for
 * an image that holds one of them (prepareRestore), and before zod parses any state (the
 * schemas of sandbox_schema.ts reach theirs through it). A restore of a state without any (kindFree) runs
 * without them: each of their steps has nothing to do there.
 */
let kinds: typeof Kinds | null = null;

/** Loads kinds.ts (once). */
export async function loadKinds(): Promise<typeof Kinds> {
  return kinds ??= await import("./kinds.ts");
}
// zod parses a state only after loadZod, which waits for this: every schema below is built then.
onZodLoad(loadKinds);

/** kinds.ts, which must be loaded: a schema of it is being built, or the state holds its kinds. */
export function loadedKinds(): typeof Kinds {
  if (kinds === null) throw new Error("kernel/checkpoint/sandbox.ts: kinds.ts is not loaded (loadKinds, prepareRestore)");
  return kinds;
}

/** Loads the eventfd, timerfd, signalfd and epoll classes, for an image that holds such a file. */
export async function loadAnonFileClasses(): Promise<void> {
  await (await loadKinds()).loadAnonFileClasses();
}

const PROT_READ = 1, PROT_WRITE = 2;
const SIGALRM = 14, SI_KERNEL = 0x80;
/** Bounds on the image's tables: far above any sandbox this sentry runs, far below a DoS. */


// ---- Restore -------------------------------------------------------------------------------

/** What the restoring caller gives the sandbox. */
export interface RestoreOptions {
  /** Descriptors 0, 1 and 2 of the restoring caller; the restore takes these references. */
  stdio: readonly [FileDescription, FileDescription, FileDescription];
  /**
   * The caller gives the console's master a terminal (`restore -t`, or a console socket): the
   * image must have a console, and an image with one needs this. Default false.
   */
  console?: boolean;
}

/**
 * Rebuilds the saved sandbox in `k`, a new kernel with its filesystem mounted and no init: every
 * process and thread, their memory, registers and files, queued to run from where they were.
 * Checks what the schema cannot (references between parts, ids, the parent tree, addresses
 * against the platform's own ranges) before any task can run; throws {@linkcode ImageError}
 * when the image does not hold together, and then leaves nothing behind.
 */
/** Kinds of file a restore makes with the network's classes (a `gone` read-write end is a socket pair). */
const NET_FILE_KINDS: ReadonlySet<string> = new Set(["unix", "tcp", "udp", "ping", "gone", "netlink"]);

/**
 * Whether restoring this state needs the network's modules (kernel/net_load.ts), which the
 * caller loads first; an image without sockets or network settings (an idle shell's) restores
 * without them, as `do` starts without them (~30% of the kernel's code, ~15 ms of CPU).
 */
export function imageNeedsNetwork(s: SavedSandbox): boolean {
  return s.unixSockets.length > 0 || s.tcpSockets.length > 0 || s.udpSockets.length > 0 || s.netSysctl !== undefined ||
    s.portRange !== undefined || s.files.some((f) => NET_FILE_KINDS.has(f.kind));
}

/**
 * Whether restoring this state needs the eventfd, timerfd, signalfd and epoll modules, which the
 * caller loads first (loadAnonFileClasses): an idle shell's image holds none of these files.
 */
export function imageNeedsAnonFileClasses(s: SavedSandbox): boolean {
  return s.files.some((f) => ANON_CLASS_KINDS.has(f.kind));
}
const ANON_CLASS_KINDS: ReadonlySet<string> = new Set(["eventfd", "timerfd", "signalfd", "epoll"]);

/**
 * Whether the state holds nothing of the kinds kinds.ts restores, so that its restore needs none
 * of their code: a state of the common shapes (plain_state.ts: stdio files only, no sockets,
 * terminals, locks, unlinked files, seccomp, IPC or keys) that names no terminal, keyring,
 * seccomp state or removed working directory either (the members plainSandbox takes that refer
 * to those kinds). Every check and step of kinds.ts then has nothing to do: restoreSandbox skips
 * them. A member plain_state.ts learns to take that refers to such objects belongs here too.
 */
export function kindFree(s: SavedSandbox): boolean {
  return plainSandbox(s) && s.console === null && (s.execTerminals ?? []).length === 0 &&
    s.fsContexts.every((f) => f.removed === undefined) &&
    s.processes.every((p) =>
      p.tty === null && p.processKeyring === undefined &&
      p.tasks.every((t) => t.seccomp === undefined && t.sessionKeyring === undefined && t.threadKeyring === undefined)
    );
}

/**
 * Whether restoring this state may reach /proc's entries or the kernel's side of /proc, which
 * load at their first use (vfs/procfs/procfs.ts procTree, kernel/proc_source_load.ts) and which
 * the caller then loads first: a restore cannot wait for a module and run again as a syscall
 * does. What is reopened or looked up by path (files of /proc and /sys, directories, FIFOs,
 * inotify watches, removed directories) is of kinds a kindFree state lacks; what is left of
 * such a state is its working and root directories (saved as the paths /proc shows them).
 */
export function imageNeedsProc(s: SavedSandbox): boolean {
  const proc = (p: string | undefined) =>
    p !== undefined && ["/proc", "/sys"].some((top) => p === top || p.startsWith(`${top}/`));
  return !kindFree(s) || s.fsContexts.some((f) => proc(f.cwd) || proc(f.root));
}

/**
 * Loads the checkpoint's modules restoring this state needs beyond the restore's own: kinds.ts
 * unless the state is kindFree, and the event files' classes (the caller loads the network's,
 * imageNeedsNetwork).
 */
export async function prepareRestore(s: SavedSandbox): Promise<void> {
  if (!kindFree(s)) await loadKinds();
  if (imageNeedsAnonFileClasses(s)) await loadAnonFileClasses();
}

export function restoreSandbox(k: Kernel, image: Image<SavedSandbox>, o: RestoreOptions): void {
  if (netModulesIfLoaded() === null && imageNeedsNetwork(image.state)) throw new Error("restore: the network's modules are not loaded");
  // Without kinds.ts (a kindFree state) each of its steps below is skipped: there is nothing for it.
  const X = kinds;
  if (X === null && !kindFree(image.state)) throw new Error("restore: kinds.ts is not loaded (prepareRestore)");
  const stdio = [...o.stdio];
  const contexts: Context[] = [];
  const made: FileDescription[] = [];
  let cows: CowMemories | null = null;
  let orphans: OrphanMaker | null = null;
  try {
    const s = image.state;
    checkShape(s, image.blobs, X);
    if (s.console !== null && o.console !== true) {
      throw new ImageError("restore: the image was taken with a terminal (-t): restore it with -t, or -d with --console-socket");
    }
    if (s.console === null && o.console === true) throw new ImageError("restore: the image has no terminal: restore it without -t");
    const root = k.vfs.root();

    // The filesystems first; the files after the processes (a signalfd names one): each
    // description once, each taking one reference per descriptor below.
    const socketFiles = restoreTrees(k, s.trees, image.blobs);
    // memfds before the memory that maps them (sealed once mapped, below).
    const memfds = new Map<number, MemFd>();
    for (const [i, f] of s.files.entries()) {
      if (f.kind !== "memfd") continue;
      const d = X!.makeMemfd(f, image.blobs);
      made.push(d);
      memfds.set(i, d);
    }
    // Written files a shared mapping maps, before the memory (their pages are the file's).
    orphans = X === null ? null : new X.OrphanMaker(k, s.orphans ?? [], image.blobs);
    const orphanMaker = orphans;
    const written = new Map<number, FileDescription>();
    for (const m of s.mms) {
      for (const v of m.vmas) {
        if (v.written === undefined || written.has(v.written.file)) continue;
        const f = s.files[v.written.file] as Extract<SavedFile, { kind: "file" }>;
        const d = restoreOpenFile(k, f, (o, flags) => orphanMaker!.open(o, flags));
        made.push(d);
        if (X!.tmpfsInodeOf(d) === null) throw new ImageError(`restore: ${f.path}, mapped shared, is not a file of a tmpfs or of the overlay's upper layer`);
        written.set(v.written.file, d);
      }
    }
    // Address spaces: a new stub each, with every mapping and its contents.
    const mms: MemoryManager[] = [];
    const firstCtx: Context[] = [];
    const cow = new CowMemories(k.platform, s.cowObjects, image.blobs, copyBlob);
    cows = cow;
    const shared = {
      placement: new SharedPlacement(), objects: new Map<number, SharedAnon>(), firstCtx, memfds, written, cow, hostFiles: new MappedHostFiles(k, made),
    };
    const timeNamespaces = (s.timeNamespaces ?? []).map((n) => {
      const ns = new TimeNamespace(INIT_USER_NS, k.nsInodes.next());
      ns.monotonicNs = BigInt(n.monotonicNs);
      ns.boottimeNs = BigInt(n.boottimeNs);
      ns.frozen = n.frozen;
      return ns;
    });
    const timeNsAt = (i: number | undefined): TimeNamespace => {
      if (i === undefined) return INIT_TIME_NS;
      const n = timeNamespaces[i];
      if (n === undefined) throw new ImageError(`restore: the image does not hold together: time namespace ${i} is not in it`);
      return n;
    };
    for (const [i, m] of s.mms.entries()) {
      const ctx = k.platform.newAddressSpace();
      contexts.push(ctx);
      firstCtx.push(ctx);
      const mm = restoreMemory(k, ctx, m, image.blobs, i, shared, timeNsAt(m.timeNs));
      mm.users = 0;
      mms.push(mm);
    }

    const seccompStates = X === null ? [] : X.makeSeccompStates(s.seccompFilters ?? [], s.seccompStates ?? []);
    const keyrings = X === null ? new Map<number, never>() : X.restoreKeyrings(k.keys, s.keyrings);
    const groups = new Map<number, ThreadGroup>();
    const usedCtx = new Set<number>();
    const tasks: Task[] = [];
    for (const p of s.processes) {
      const limits = new Limits();
      for (const [r, cur, max] of p.limits) limits.set(r, { cur: BigInt(`0x${cur}`), max: BigInt(`0x${max}`) });
      const handlers = new SignalHandlers(
        p.handlers.map(([h, flags, r, m]) => ({ handler: BigInt(`0x${h}`), flags, restorer: BigInt(`0x${r}`), mask: BigInt(`0x${m}`) })),
      );
      // A zombie has no address space of its own: it is never used again, never released.
      const mm = p.mm === null ? new MemoryManager(firstCtx[0]!.addressSpace) : mms[p.mm]!;
      if (p.mm !== null) mm.users++;
      const tg = new ThreadGroup({ tgid: p.tgid, mm, parent: null, limits, handlers, pgid: p.pgid, sid: p.sid });
      tg.exitSignal = p.exitSignal;
      tg.leaderComm = p.leaderComm;
      if (p.zombie !== null) {
        tg.zombie = true;
        tg.exitStatus = p.zombie.status;
        tg.exitUid = p.zombie.uid;
        tg.exitEuid = p.zombie.euid ?? p.zombie.uid;
        tg.exitNice = p.zombie.nice ?? 0;
        tg.exitSched = p.zombie.sched ?? { policy: 0, priority: 0 };
        tg.exitIds = p.zombie.ids ?? null;
      }
      for (const i of p.pending) tg.sharedPending.add(loadSigInfo(i));
      tg.dumpable = p.dumpable;
      tg.subreaper = p.subreaper;
      tg.execed = p.execed;
      tg.oomScoreAdj = p.oomScoreAdj;
      tg.coredumpFilter = p.coredumpFilter ?? 0x33;
      tg.thpDisable = p.thpDisable ?? 0;
      tg.timerSeq = p.timerSeq;
      tg.userNs = p.cpu.userNs;
      tg.sysNs = p.cpu.sysNs;
      tg.childUserNs = p.cpu.childUserNs;
      tg.childSysNs = p.cpu.childSysNs;
      tg.maxRssKb = p.cpu.maxRssKb;
      tg.childMaxRssKb = p.cpu.childMaxRssKb;
      // The threads are queued as runnable: each stops at its first step while groupStop is set,
      // and the group, already stopped, does not notify its parent again (job_control.ts).
      tg.groupStop = p.jobStop.groupStop === null ? null : { signo: p.jobStop.groupStop };
      tg.stopped = p.jobStop.stopped;
      tg.stopReport = p.jobStop.stopReport;
      tg.continuedReport = p.jobStop.continuedReport;
      if (p.itimerReal !== null) {
        tg.itimerReal = { deadlineNs: p.itimerReal.deadlineNs, intervalNs: p.itimerReal.intervalNs, tg, signo: SIGALRM, code: SI_KERNEL };
      }
      groups.set(p.tgid, tg);
    }

    // A FIFO's pipe is its inode's: filled when its first end is reopened (fifoPipe).
    const fifoPipes = new Set(s.files.flatMap((f) => f.kind === "fifo" ? [f.pipe] : []));
    const pipes: (Pipe | null)[] = s.pipes.map((p, i) => fifoPipes.has(i) ? null : Pipe.load(p));
    const fifoProbes: FileDescription[] = [];
    const heldSockets = new Set(s.files.flatMap((f) => f.kind === "unix" ? [f.socket] : []));
    k.unixNames.nextAutobind = s.unixAutobind;
    const sockets = X === null ? [] : X.makeUnixSockets(k, s.unixSockets, heldSockets);
    bindSocketFiles(k, socketFiles, sockets);
    // Each live socket's own reference goes with the others' below (an embryo's is its
    // listener's, a closed one's stays: it was released already).
    for (const [i, so] of sockets.entries()) if (!s.unixSockets[i]!.dead && !s.unixSockets[i]!.embryo) made.push(so);
    const terminals: Terminal[] = X === null ? [] : X.makeTerminals(k, s.terminals, s.console, s.execTerminals ?? []);
    // The netstack's sockets, with their timers relative to the monotonic time the restored
    // sandbox continues from.
    const inet = X === null ? null : X.makeInetSockets(k, s.tcpSockets, s.udpSockets, s.files, s.monotonicNs / 1e6);
    const mqueues = X === null ? [] : X.makeMqueues(k, s.mqueues);
    const files = s.files.map((f, i): FileDescription => {
      if (f.kind === "tty") {
        const d = X!.makeTtyFile(k, f, terminals);
        made.push(d);
        return d;
      }
      if (f.kind === "tcp" || f.kind === "udp" || f.kind === "ping") {
        const d = X!.makeInetFile(k, f, inet!);
        made.push(d);
        return d;
      }
      if (f.kind === "memfd") {
        const d = memfds.get(i)!;
        X!.sealMemfd(d, f);
        return d;
      }
      if (f.kind === "io_uring") {
        const d = X!.makeIoUring(k, f, memfds.get(f.mem));
        made.push(d);
        return d;
      }
      if (f.kind === "mqueue") {
        const d = X!.openMqueue(k, f, mqueues);
        made.push(d);
        return d;
      }
      if (f.kind === "netlink") {
        const d = X!.makeNetlinkFile(k, f);
        made.push(d);
        return d;
      }
      if (f.kind === "pidfd") {
        const d = X!.makeProcFile(k, f as SavedPidFd, groups);
        made.push(d);
        return d;
      }
      if (f.kind === "kernfile") {
        // A placeholder until the processes are the kernel's (reopenKernFiles, below).
        const d = new PipeEnd(new Pipe(), true, 0);
        made.push(d);
        return d;
      }
      if (f.kind === "unix") {
        const d = sockets[f.socket]!.incRef();
        made.push(d);
        return d;
      }
      if (isAnonFile(f)) {
        const d = X!.makeAnonFile(k, f, groups);
        made.push(d);
        return d;
      }
      if (f.kind === "fifo") {
        const d = reopenFifo(k, f, s.pipes, pipes, fifoProbes);
        made.push(d);
        return d;
      }
      if (f.kind === "dir") {
        const d = restoreOpenDir(k, f);
        made.push(d);
        return d;
      }
      if (f.kind === "file") {
        const early = written.get(i);
        if (early !== undefined) return early;
        const d = restoreOpenFile(k, f, (o, flags) => orphanMaker!.open(o, flags));
        made.push(d);
        return d;
      }
      if (f.kind === "gone") {
        const d = goneDescription(k, f.flags);
        made.push(d);
        return d;
      }
      const d = f.kind === "stdio" ? stdio[f.index]!.incRef() : new PipeEnd(pipes[f.pipe]!, f.reader, 0);
      // (checkShape: a plain pipe's ends never name a FIFO's pipe.)
      d.flags = f.flags;
      made.push(d);
      return d;
    });
    // The probes that found each FIFO's pipe go once the FIFO's own ends are counted, and the
    // holders of unlinked files once their descriptions exist.
    for (const d of fifoProbes.splice(0)) d.decRef();
    orphans?.release();
    const fdTables = s.fdTables.map((t) => FdTable.load(t, (i) => files[i]!.incRef()));
    X?.restoreLocks(k.fileLocks, s.locks ?? [], files, fdTables);
    for (const t of fdTables) t.users = 0;
    const fsContexts = s.fsContexts.map((f, i) => {
      let cwd, own = root;
      if (f.removed === true) {
        cwd = X!.removedDir(k, f.cwd, i);
      } else {
        try {
          cwd = k.vfs.lookupDir({ root, creds: Credentials.root() }, root, f.cwd);
        } catch {
          throw new ImageError(`restore: the working directory ${f.cwd} is gone from the root filesystem`);
        }
      }
      if (f.root !== undefined) {
        try {
          own = k.vfs.lookupDir({ root, creds: Credentials.root() }, root, f.root);
        } catch {
          throw new ImageError(`restore: the root directory ${f.root} of a chrooted task is gone from the root filesystem`);
        }
      }
      return new FsContext(own, cwd, f.umask);
    });

    for (const [i, f] of s.files.entries()) {
      if (isAnonFile(f)) X!.linkAnonFile(files[i]!, f, files);
    }
    X?.attachRights(s.unixSockets, sockets, files);
    if (s.sysvIpc !== undefined) X!.restoreSysvIpc(k.ipc, s.sysvIpc, memfds);

    for (const p of s.processes) {
      const tg = groups.get(p.tgid)!;
      const mm = tg.mm;
      for (const st of p.tasks) {
        // The address space's first thread is the stub's own; the others are new host threads.
        // (A failed restore releases each address space, which ends its threads with it.)
        const ctx = usedCtx.has(p.mm!) ? mm.as.newThread(firstCtx[p.mm!]!) : firstCtx[p.mm!]!;
        usedCtx.add(p.mm!);
        const creds = new Credentials(
          st.creds.uid, st.creds.gid, st.creds.euid, st.creds.egid, st.creds.suid, st.creds.sgid, st.creds.fsuid, st.creds.fsgid, st.creds.groups,
          st.creds.caps === undefined ? undefined : {
            inheritable: BigInt(`0x${st.creds.caps.inheritable}`) & CAP_FULL_SET,
            permitted: BigInt(`0x${st.creds.caps.permitted}`) & CAP_FULL_SET,
            effective: BigInt(`0x${st.creds.caps.effective}`) & CAP_FULL_SET,
            bounding: BigInt(`0x${st.creds.caps.bounding}`) & CAP_FULL_SET,
            ambient: BigInt(`0x${st.creds.caps.ambient}`) & CAP_FULL_SET,
            securebits: st.creds.caps.securebits & (SECURE_ALL_BITS | SECURE_ALL_LOCKS),
          },
        );
        const fdTable = fdTables[st.fdTable]!;
        fdTable.users++;
        const t = new Task({ kernel: k, tid: st.tid, tg, ctx, fdTable, fs: fsContexts[st.fs]!, creds, name: st.name });
        restoreTask(t, st);
        if (st.seccomp !== undefined) t.seccomp = seccompStates[st.seccomp]!;
        restoreTaskPolicies(t, st);
        if (st.sessionKeyring !== undefined) (t.sessionKeyring = keyrings.get(st.sessionKeyring)!).credHeld = true;
        if (st.threadKeyring !== undefined) (t.threadKeyring = keyrings.get(st.threadKeyring)!).credHeld = true;
        t.reqkeyDefault = st.reqkeyDefault ?? 0;
        t.timeNs = timeNsAt(st.timeNs);
        t.timeNsForChildren = timeNsAt(st.timeNsForChildren);
        tg.tasks.add(t);
        tasks.push(t);
      }
    }
    for (const p of s.processes) groups.get(p.tgid)!.tty = p.tty === null ? null : terminals[p.tty]!;
    for (const p of s.processes) {
      if (p.processKeyring !== undefined) (groups.get(p.tgid)!.processKeyring = keyrings.get(p.processKeyring)!).credHeld = true;
    }
    // (checkShape: each names a live process that shares its own table with nobody earlier.)
    for (const p of s.processes) if (p.handlersOf !== undefined) groups.get(p.tgid)!.handlers = groups.get(p.handlersOf)!.handlers;
    for (const p of s.processes) {
      if (p.parent === null) continue;
      const tg = groups.get(p.tgid)!, parent = groups.get(p.parent)!;
      tg.parent = parent;
      parent.children.add(tg);
    }
    // What the tables hold beyond the descriptors (a table no task uses) goes now.
    for (const t of fdTables) if (t.users === 0) t.removeAll();
    for (const f of made) f.decRef();
    made.length = 0;

    continueMonotonicFrom(s.monotonicNs);
    k.rootUts.hostname = s.hostname;
    if (s.nrOpen !== undefined) k.nrOpen = s.nrOpen;
    s.ucountMax?.forEach((v, kind) => k.ucounts.setLimit(INIT_USER_NS, kind, v));
    if (s.leaseSysctl !== undefined) Object.assign(k.leases, s.leaseSysctl);
    if (s.netSysctl !== undefined) Object.assign(k.net.sysctl, s.netSysctl);
    if (s.portRange !== undefined && s.portRange[0] <= s.portRange[1]) k.net.stack.ephemeralRange = s.portRange;
    k.adoptRestored(groups.get(s.init)!, [...groups.values()], s.nextTid);
    X?.reopenKernFiles(k, s.files, s.fdTables, fdTables, groups);
    // The exec clients are gone: their terminals hang up (SIGHUP to their sessions' leaders).
    for (const i of s.execTerminals ?? []) X!.hangUpExecTerminal(k, terminals[i]!);
    k.initStdio = [...o.stdio];
    for (const tg of groups.values()) if (tg.itimerReal !== null) k.addTimer(tg.itimerReal);
    for (const p of s.processes) if (p.zombie === null) restoreProcessTimers(k, groups.get(p.tgid)!, p.timers);
    if (X !== null) for (const f of files) X.armAnonFile(k, f);
    // The restored connections wait in the stack's active set: its first poll runs their
    // timers and sends what they owe.
    if (s.tcpSockets.length > 0) k.net.armDeadline();
    contexts.length = 0;
  } finally {
    // Copy-on-write memory lives on in the address spaces that map it.
    cows?.release();
    orphans?.release();
    for (const f of made) f.decRef();
    for (const ctx of contexts.reverse()) ctx.addressSpace.release();
    for (const f of stdio) f.decRef();
  }
}

/**
 * What an `exec` client's descriptor becomes once the client is gone, as its going away leaves
 * it: a read end is a pipe's with no writer (end of file), a write end a pipe's with no reader
 * (EPIPE and SIGPIPE), a descriptor open for both a stream socket whose peer closed (both).
 */
function goneDescription(k: Kernel, flags: number): FileDescription {
  const status = flags & ~O_ACCMODE;
  const acc = flags & O_ACCMODE;
  if (acc === O_RDONLY || acc === O_WRONLY) {
    const end = new PipeEnd(new Pipe(), acc === O_RDONLY, 0);
    end.flags = flags;
    return end;
  }
  const owner = { pid: 0, uid: 0, gid: 0 };
  const { UnixSocket } = netModules(); // loaded for such a file (imageNeedsNetwork)
  const a = new UnixSocket({ ns: k.unixNames, type: SOCK_STREAM, protocol: 0, flags: 0, owner });
  const b = new UnixSocket({ ns: k.unixNames, type: SOCK_STREAM, protocol: 0, flags: 0, owner });
  a.state = b.state = "connected";
  a.peer = b;
  b.peer = a;
  b.decRef(); // the client's end closes
  a.flags = O_RDWR | status;
  return a;
}

/**
 * Reopens an end of a saved FIFO: the first end of a pipe finds the FIFO's own pipe (through a
 * probe end, O_RDWR|O_NONBLOCK, kept until every end is made so that the pipe never looks
 * abandoned) and fills it with the saved data.
 */
function reopenFifo(
  k: Kernel, f: Extract<SavedFile, { kind: "fifo" }>, saved: readonly SavedPipe[], pipes: (Pipe | null)[], probes: FileDescription[],
): FileDescription {
  const ctx = { root: k.vfs.root(), creds: Credentials.root() };
  let probe: FileDescription;
  try {
    probe = k.vfs.openAt(ctx, ctx.root, f.path, O_RDWR | O_NONBLOCK | O_NOFOLLOW, 0);
  } catch (err) {
    throw new ImageError(`restore: cannot reopen the FIFO ${f.path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  probes.push(probe);
  if (!(probe instanceof FifoEnd)) throw new ImageError(`restore: ${f.path} is no longer a FIFO`);
  if (pipes[f.pipe] === null) {
    try {
      probe.pipe.fill(saved[f.pipe]!);
    } catch {
      throw new ImageError(`restore: the FIFO ${f.path} holds data already`);
    }
    pipes[f.pipe] = probe.pipe;
  } else if (pipes[f.pipe] !== probe.pipe) {
    throw new ImageError(`restore: the image does not hold together: pipe ${f.pipe} is two FIFOs`);
  }
  return new FifoEnd(probe.pipe, probe.location()!, f.flags);
}

function isAnonFile(f: SavedFile): f is SavedAnonFile {
  return f.kind === "eventfd" || f.kind === "timerfd" || f.kind === "signalfd" || f.kind === "epoll" || f.kind === "inotify";
}

function loadSigInfo(s: SavedSigInfo): SigInfo {
  const i: SigInfo = { signo: s.signo, code: s.code };
  if (s.errno !== undefined) i.errno = s.errno;
  if (s.pid !== undefined) i.pid = s.pid;
  if (s.uid !== undefined) i.uid = s.uid;
  if (s.status !== undefined) i.status = s.status;
  if (s.addr !== undefined) i.addr = s.addr;
  if (s.value !== undefined) i.value = BigInt(`0x${s.value}`);
  if (s.overrun !== undefined) i.overrun = s.overrun;
  if (s.timerId !== undefined) i.timerId = s.timerId;
  if (s.timerSeq !== undefined) i.timerSeq = s.timerSeq;
  if (s.band !== undefined) i.band = s.band;
  if (s.fd !== undefined) i.fd = s.fd;
  if (s.syscall !== undefined) i.syscall = s.syscall;
  if (s.arch !== undefined) i.arch = s.arch;
  if (s.lost !== undefined) i.lost = s.lost;
  return i;
}

/** What the schema cannot check: the parts refer to each other consistently. */
function checkShape(s: SavedSandbox, blobs: readonly ImageBlob[], X: typeof Kinds | null): void {
  const bad = (why: string) => new ImageError(`restore: the image does not hold together: ${why}`);
  const tgids = new Map<number, SavedProcess>();
  const tids = new Set<number>();
  const mmUsed = new Set<number>(), tablesUsed = new Set<number>(), fsUsed = new Set<number>();
  for (const p of s.processes) {
    if (tgids.has(p.tgid)) throw bad(`process ${p.tgid} twice`);
    tgids.set(p.tgid, p);
    if ((p.zombie === null) !== (p.tasks.length > 0) || (p.zombie === null) !== (p.mm !== null)) {
      throw bad(`process ${p.tgid}: a zombie has no threads and no memory, a live process both`);
    }
    if (p.mm !== null) {
      if (p.mm >= s.mms.length) throw bad(`process ${p.tgid} names address space ${p.mm}`);
      mmUsed.add(p.mm);
    }
    if (p.tasks.length > 0 && p.tasks[0]!.tid !== p.tgid) throw bad(`process ${p.tgid}'s first thread is not its leader`);
    for (const t of p.tasks) {
      if (tids.has(t.tid) || t.tid >= s.nextTid) throw bad(`thread ${t.tid} twice or past the next id`);
      tids.add(t.tid);
      if (t.fdTable >= s.fdTables.length || t.fs >= s.fsContexts.length) throw bad(`thread ${t.tid} names a missing table`);
      tablesUsed.add(t.fdTable);
      fsUsed.add(t.fs);
    }
    if (p.tgid >= s.nextTid) throw bad(`process ${p.tgid} is past the next id`);
  }
  for (const p of s.processes) {
    if (p.handlersOf === undefined) continue;
    const q = tgids.get(p.handlersOf);
    if (
      q === undefined || q === p || p.zombie !== null || q.zombie !== null || q.handlersOf !== undefined || q.tgid > p.tgid ||
      JSON.stringify(q.handlers) !== JSON.stringify(p.handlers)
    ) {
      throw bad(`process ${p.tgid} shares the signal handlers of ${p.handlersOf}, which is not an earlier live process with the same ones`);
    }
  }
  for (const p of s.processes) {
    if (!tids.has(p.tgid) && p.zombie === null) throw bad(`process ${p.tgid} has no leader`);
    if (p.zombie !== null && tids.has(p.tgid)) throw bad(`zombie ${p.tgid} has a thread`);
  }
  const init = tgids.get(s.init);
  if (init === undefined || init.parent !== null || init.zombie !== null) throw bad("init is missing, has a parent or is a zombie");
  for (const p of s.processes) {
    // Every parent chain ends at a process without a parent, within as many steps as there are processes.
    let q: SavedProcess | undefined = p;
    for (let steps = 0; q !== undefined && q.parent !== null; steps++) {
      if (steps > s.processes.length) throw bad(`process ${p.tgid}'s parents form a cycle`);
      const next = tgids.get(q.parent);
      if (next === undefined || next.zombie !== null) throw bad(`process ${q.tgid}'s parent ${q.parent} is missing or a zombie`);
      q = next;
    }
  }
  if (mmUsed.size !== s.mms.length || tablesUsed.size !== s.fdTables.length || fsUsed.size !== s.fsContexts.length) {
    throw bad("a table entry no process uses");
  }
  const filesUsed = new Set<number>();
  for (const t of s.fdTables) {
    const seen = new Set<number>();
    for (const slot of t.slots) {
      if (slot.file >= s.files.length) throw bad(`fd ${slot.fd} names file ${slot.file} of ${s.files.length}`);
      if (slot.fd >= t.limit || seen.has(slot.fd)) throw bad(`fd ${slot.fd} is out of the table or twice in it`);
      seen.add(slot.fd);
      filesUsed.add(slot.file);
    }
  }
  for (const m of s.mms) {
    for (const v of m.vmas) {
      if (v.memfd === undefined) continue;
      const f = s.files[v.memfd.file];
      if (f?.kind !== "memfd" || v.shared !== undefined || v.memfd.offset % PAGE_SIZE !== 0) {
        throw bad(`the shared mapping at 0x${v.start.toString(16)} names file ${v.memfd.file}, not a memfd at a page`);
      }
      filesUsed.add(v.memfd.file);
    }
    for (const v of m.vmas) {
      if (v.written === undefined) continue;
      const f = s.files[v.written.file];
      if (f?.kind !== "file" || f.host !== null || v.written.offset % PAGE_SIZE !== 0) {
        throw bad(`the shared mapping at 0x${v.start.toString(16)} names file ${v.written.file}, not a written file at a page`);
      }
      filesUsed.add(v.written.file);
    }
  }
  for (const so of s.unixSockets) {
    for (const m of so.queue) {
      for (const f of m.rights ?? []) {
        if (f >= s.files.length) throw bad(`a message in flight names file ${f} of ${s.files.length}`);
        filesUsed.add(f);
      }
    }
  }
  const fdFiles = new Set(s.fdTables.flatMap((t) => t.slots.map((x) => x.file)));
  X?.checkIpcShape(
    s.sysvIpc, s.mqueues, s.files, fdFiles, new Set(s.processes.flatMap((p) => p.zombie === null ? [p.tgid] : [])), filesUsed, bad,
    { shm: IPC_LIMITS.shmmni, sem: IPC_LIMITS.semmni, msg: IPC_LIMITS.msgmni },
  );
  if (filesUsed.size !== s.files.length) throw bad("a file no descriptor, mapping or message holds");
  for (const f of s.files) if (f.kind === "pipe" && f.pipe >= s.pipes.length) throw bad(`a pipe end names pipe ${f.pipe}`);
  const fifoPipes = new Map<number, string>();
  for (const f of s.files) {
    if (f.kind !== "fifo") continue;
    if (f.pipe >= s.pipes.length || (fifoPipes.get(f.pipe) ?? f.path) !== f.path) throw bad(`a FIFO end names pipe ${f.pipe}`);
    if ((f.flags & O_ACCMODE) === 3) throw bad(`a FIFO end of ${f.path} has no access mode`);
    fifoPipes.set(f.pipe, f.path);
  }
  for (const f of s.files) if (f.kind === "pipe" && fifoPipes.has(f.pipe)) throw bad(`a pipe end names a FIFO's pipe ${f.pipe}`);
  const socketsHeld = new Set<number>();
  for (const f of s.files) {
    if (f.kind !== "unix") continue;
    if (f.socket >= s.unixSockets.length || socketsHeld.has(f.socket)) throw bad(`a file names Unix socket ${f.socket}`);
    socketsHeld.add(f.socket);
  }
  for (const p of s.pipes) {
    let used = 0;
    for (const b of p.bufs) used += Math.ceil((b.offset + b.data.length) / PAGE_SIZE);
    if (used > p.slots) throw bad("a pipe holds more than its capacity");
  }
  X?.checkSeccompShape(
    s.seccompFilters ?? [], s.seccompStates ?? [],
    new Set(s.processes.flatMap((p) => p.tasks.flatMap((t) => t.seccomp === undefined ? [] : [t.seccomp]))), bad,
  );
  X?.checkTtyShape(s.files, s.terminals, s.console, s.processes.map((p) => p.tty), bad, s.execTerminals ?? []);
  const used = new Set<number>();
  for (const m of s.mms) checkMemoryShape(m, blobs, used, bad);
  checkCowObjects(s.cowObjects, blobs, used, bad);
  const cowUsed = new Set<number>();
  for (const m of s.mms) checkCowPieces(m.cow ?? [], m.vmas, s.cowObjects, cowUsed, bad);
  if (cowUsed.size !== s.cowObjects.length) throw bad("a copy-on-write object no address space maps");
  for (const f of s.files) if (f.kind === "memfd") X!.checkMemfdShape(f, blobs, used, bad);
  for (const f of s.files) if (f.kind === "io_uring") X!.checkIoUringShape(f, s.files, bad);
  const orphans = s.orphans ?? [];
  X?.checkOrphansShape(orphans, blobs, used, bad);
  const orphansHeld = new Set<number>();
  for (const f of s.files) {
    if (f.kind !== "file" || f.orphan === undefined) continue;
    if (f.orphan >= orphans.length || f.host !== null) throw bad(`a file names unlinked file ${f.orphan} of ${orphans.length}`);
    orphansHeld.add(f.orphan);
  }
  if (orphansHeld.size !== orphans.length) throw bad("an unlinked file no description holds");
  X?.checkLocksShape(s.locks ?? [], s.files.length, s.fdTables.length, bad);
  X?.procFileHolders(s, bad);
  X?.checkKeyringsShape(s.keyrings, [
    ...s.processes.flatMap((p) => p.processKeyring === undefined ? [] : [p.processKeyring]),
    ...s.processes.flatMap((p) => p.tasks.flatMap((t) => [t.sessionKeyring, t.threadKeyring].filter((x) => x !== undefined))),
  ], bad);
  X?.checkNetlinkShape(s.files as { kind: string; portId?: number }[], bad);
  for (const t of s.trees) {
    for (const [i, e] of t.entries.entries()) {
      if ((i === 0) !== (e.path === "") || (i === 0 && e.kind !== "dir")) throw bad(`the tree at ${t.at} does not start at its top directory`);
      if (e.linkTo !== null && (e.linkTo >= i || t.entries[e.linkTo]!.kind !== "file" || t.entries[e.linkTo]!.linkTo !== null)) {
        throw bad(`${e.path} links to entry ${e.linkTo}`);
      }
      for (const r of e.runs) {
        const b = blobs[r.blob];
        if (b === undefined || used.has(r.blob) || r.off + b.length > e.size) throw bad(`data of ${e.path} names blob ${r.blob}`);
        used.add(r.blob);
      }
      if ((e.socket !== undefined) !== (e.kind === "socket") || (e.rdev !== undefined) !== (e.kind === "chr" || e.kind === "blk")) {
        throw bad(`${e.path}: a socket's or device's fields on another kind of file`);
      }
      const so = e.socket === undefined || e.socket === null ? null : s.unixSockets[e.socket];
      if (so === undefined || (so !== null && (so.dead || so.embryo || so.address === null))) {
        throw bad(`the socket file ${e.path} names Unix socket ${e.socket}, which is not bound and open`);
      }
    }
  }
}

function checkMemoryShape(m: SavedMemory, blobs: readonly ImageBlob[], used: Set<number>, bad: (why: string) => ImageError): void {
  let prevEnd = 0;
  for (const v of m.vmas) {
    if (
      v.start % PAGE_SIZE !== 0 || v.end % PAGE_SIZE !== 0 || v.start >= v.end || v.start < prevEnd ||
      (v.shared !== undefined && v.shared.offset % PAGE_SIZE !== 0) || (v.file !== undefined && v.file.offset % PAGE_SIZE !== 0)
    ) {
      throw bad(`mapping 0x${v.start.toString(16)}-0x${v.end.toString(16)} is unaligned, empty or overlaps`);
    }
    prevEnd = v.end;
  }
  for (const r of m.runs) {
    const b = blobs[r.blob];
    if (b === undefined || used.has(r.blob)) throw bad(`memory run at 0x${r.addr.toString(16)} names blob ${r.blob}`);
    used.add(r.blob);
    const v = m.vmas.find((v) => v.start <= r.addr && r.addr + b.length <= v.end);
    if (v === undefined || v.memfd !== undefined || v.written !== undefined) throw bad(`memory run at 0x${r.addr.toString(16)} is outside every mapping of its own memory`);
  }
}

function restoreMemory(
  k: Kernel, ctx: Context, m: SavedMemory, blobs: readonly ImageBlob[], mmIndex: number,
  shared: {
    placement: SharedPlacement; objects: Map<number, SharedAnon>; firstCtx: readonly Context[]; memfds: ReadonlyMap<number, MemFd>;
    written: ReadonlyMap<number, FileDescription>;
    cow: CowMemories;
    hostFiles: MappedHostFiles;
  },
  /** The time namespace of its tasks: the [vvar] page of offsets it maps. */
  timeNs: TimeNamespace,
): MemoryManager {
  const bad = (why: string) => new ImageError(`restore: the image does not hold together: ${why}`);
  const as = ctx.addressSpace;
  for (const v of m.vmas) {
    if (v.start < as.minAddr || v.end > as.maxAddr || as.reserved.some((r) => v.start < r.end && r.start < v.end)) {
      throw bad(`mapping 0x${v.start.toString(16)}-0x${v.end.toString(16)} is outside the application's address range`);
    }
  }
  const mm = new MemoryManager(as);
  const copies: SavedCowPiece[] = [];
  // The mappings go to the stub in one round trip (flushed by the first write below).
  as.deferMappings(ctx);
  const vdso = vdsoOf(m);
  const kv = vdso === null ? null : k.vdso();
  const ownVdso = vdso !== null && kv !== null && kv.imageLen === vdso.image.end - vdso.image.start &&
    vdso.vvar.end - vdso.vvar.start === VVAR_LEN;
  for (const v of m.vmas) {
    const special = v.name === "[vvar]" || v.name === "[vdso]";
    if (special && ownVdso) continue;
    const len = v.end - v.start, prot = v.prot | PROT_READ | PROT_WRITE;
    if (v.memfd !== undefined) {
      // (checkShape: the file is a memfd, the offset page-aligned, no memory run inside.)
      const f = shared.memfds.get(v.memfd.file)!;
      const e = as.mapHostFile(ctx, { addr: v.start, len, prot: v.prot, shared: true, hostFd: f.hostFdForMmap(), offset: v.memfd.offset });
      if (e !== 0) throw new ImageError(`restore: cannot map the memfd ${f.name} at 0x${v.start.toString(16)} (errno ${-e})`);
      mm.vmas.push({
        start: v.start, end: v.end, prot: v.prot, shared: true, object: sharedObject(f), file: f.incRef(), offset: v.memfd.offset,
        name: v.name, growsDown: v.growsDown, locked: v.locked === true, ...(v.dontCopy ? { dontCopy: true } : {}), ...(v.wipeOnFork ? { wipeOnFork: true } : {}), ...(v.sealed ? { sealed: true } : {}),
      });
      continue;
    }
    if (v.written !== undefined) {
      // (checkShape: a file by path or unlinked, at a page, no memory run inside; the restore: of a written filesystem.)
      const f = shared.written.get(v.written.file)!;
      const e = as.mapHostFile(ctx, { addr: v.start, len, prot: v.prot, shared: true, hostFd: f.hostFdForMmap()!, offset: v.written.offset });
      if (e !== 0) throw new ImageError(`restore: cannot map ${f.path()} at 0x${v.start.toString(16)} (errno ${-e})`);
      mm.vmas.push({
        start: v.start, end: v.end, prot: v.prot, shared: true, object: sharedObject(f), file: f.incRef(), offset: v.written.offset,
        name: v.name, growsDown: v.growsDown, locked: v.locked === true, ...(v.dontCopy ? { dontCopy: true } : {}), ...(v.wipeOnFork ? { wipeOnFork: true } : {}), ...(v.sealed ? { sealed: true } : {}),
      });
      continue;
    }
    let err: number;
    let object: SharedAnon | null = null;
    let file: FileDescription | null = null;
    if (v.shared !== undefined) {
      object = shared.objects.get(v.shared.object) ?? new SharedAnon();
      shared.objects.set(v.shared.object, object);
      const from = shared.placement.place(v.shared.object, mmIndex, v.start, v.shared.offset, len);
      if (from === "partial") throw bad(`shared memory at 0x${v.start.toString(16)} overlaps its other mappings in part`);
      err = from === null
        ? as.mapAnonymous(ctx, v.start, len, prot, true)
        : as.shareAnonymous(ctx, v.start, len, prot, shared.firstCtx[from.mm]!.addressSpace, from.addr);
    } else if (v.file !== undefined) {
      file = shared.hostFiles.open(v.file);
      // Held by the mapping from here (released with the address space if the restore fails).
      mm.vmas.push({
        start: v.start, end: v.end, prot: v.prot, shared: false, object: null, file, offset: v.file.offset,
        name: v.name, growsDown: v.growsDown, locked: v.locked === true, ...(v.dontCopy ? { dontCopy: true } : {}), ...(v.wipeOnFork ? { wipeOnFork: true } : {}), ...(v.sealed ? { sealed: true } : {}),
        // A file on a noexec mount never becomes executable (mm.ts's mmap rule).
        ...(file.location()?.mount.noexec ? { mayExec: false } : {}),
      });
      err = as.mapHostFile(ctx, { addr: v.start, len, prot, shared: false, hostFd: file.hostFdForMmap()!, offset: v.file.offset });
    } else {
      err = mapPrivate(ctx, v.start, v.end, prot, m.cow ?? [], shared.cow, copies);
    }
    if (err !== 0) throw new ImageError(`restore: cannot map 0x${v.start.toString(16)}-0x${v.end.toString(16)} (errno ${-err})`);
    if (file !== null) continue;
    mm.vmas.push({
      start: v.start, end: v.end, prot: v.prot, shared: object !== null, object, file: null, offset: v.shared?.offset ?? 0,
      name: v.name, growsDown: v.growsDown, locked: v.locked === true, ...(v.dontCopy ? { dontCopy: true } : {}), ...(v.wipeOnFork ? { wipeOnFork: true } : {}), ...(v.sealed ? { sealed: true } : {}),
      ...(v.anonName !== undefined ? { anonName: v.anonName } : {}),
    });
  }
  const flushed = as.flushMappings();
  if (flushed !== 0) throw new ImageError(`restore: cannot map the image's memory (errno ${-flushed})`);
  // Pieces of copy-on-write objects the platform could not share: copies, before the runs over them.
  for (const p of copies) {
    shared.cow.copyInto(p.object, p.offset, p.len, (off, bytes) => {
      if (as.write(p.addr + off, bytes) !== bytes.length) throw new ImageError(`restore: cannot write memory at 0x${(p.addr + off).toString(16)}`);
    });
  }
  for (const r of m.runs) {
    const b = blobs[r.blob]!;
    if (b instanceof Uint8Array) {
      if (as.write(r.addr, b) !== b.length) throw new ImageError(`restore: cannot write memory at 0x${r.addr.toString(16)}`);
      continue;
    }
    // A raw run still in the image file: read and written a piece at a time.
    const piece = restoreBuffer();
    for (let off = 0; off < b.length; off += piece.length) {
      const chunk = piece.subarray(0, Math.min(piece.length, b.length - off));
      b.readInto(chunk, off);
      if (as.write(r.addr + off, chunk) !== chunk.length) throw new ImageError(`restore: cannot write memory at 0x${(r.addr + off).toString(16)}`);
    }
  }
  as.deferMappings(ctx);
  for (const v of m.vmas) {
    if ((v.name === "[vvar]" || v.name === "[vdso]") && ownVdso) continue;
    if (v.memfd !== undefined || v.written !== undefined) continue; // mapped with its own protection
    if ((v.prot & (PROT_READ | PROT_WRITE)) !== (PROT_READ | PROT_WRITE)) as.protect(ctx, v.start, v.end - v.start, v.prot);
  }
  if (as.flushMappings() !== 0) throw new ImageError("restore: cannot protect the image's memory");
  if (vdso !== null) {
    if (ownVdso) {
      // This kernel's vDSO at the same addresses: its clock parameters are this sentry's.
      try {
        kv!.mapAt(mm, ctx, vdso.vvar.start, timeNs);
      } catch {
        throw new ImageError(`restore: cannot map the vDSO at 0x${vdso.vvar.start.toString(16)}`);
      }
    } else {
      // No vDSO of the same size here: the program keeps an anonymous copy of the old one's
      // code, and its parameters page stays zero, which sends every clock read to the kernel.
      k.log.debug("restore: the image's vDSO differs from this kernel's: its clock reads take the syscall path");
    }
  }
  mm.vmas.sort((a, b) => a.start - b.start);
  mm.brkStart = m.brkStart;
  mm.brk = m.brk;
  mm.stackBottom = m.stackBottom;
  mm.argStart = m.argStart;
  mm.argEnd = m.argEnd;
  mm.envStart = m.envStart;
  mm.envEnd = m.envEnd;
  mm.executable = m.executable;
  if (m.auxv !== undefined) mm.auxv = Uint8Array.from(m.auxv.match(/../g) ?? [], (h) => parseInt(h, 16));
  mm.lockFuture = m.lockFuture === true;
  mm.membarrierRegistered = m.membarrierRegistered ?? 0;
  if (m.exe !== null) {
    // The executable is nearly always one of the files this address space maps by reference,
    // opened and checked above: its location, without a second path walk and host open
    // (an idle shell's restore did both for each process).
    const mapped = shared.hostFiles.location(m.exe);
    if (mapped !== null && mapped.dentry.isRegular && !mapped.mount.noexec) {
      mm.exe = mapped;
    } else {
      try {
        const root = k.vfs.root();
        const e = k.vfs.openExecutable({ root, creds: Credentials.root() }, root, m.exe);
        mm.exe = e.location;
        e.file.decRef();
      } catch {
        mm.exe = null; // /proc/PID/exe reads as gone, as for a deleted executable
      }
    }
  }
  return mm;
}

/**
 * Maps the private anonymous mapping [start, end): the pieces of copy-on-write objects inside
 * it from their objects (or, where the platform cannot share pages, as new memory listed in
 * `copies` for their contents to be written), the rest as new memory. Returns 0 or -errno.
 */
function mapPrivate(
  ctx: Context, start: number, end: number, prot: number, pieces: readonly SavedCowPiece[], cow: CowMemories, copies: SavedCowPiece[],
): number {
  // MAP_NORESERVE on the host: the program's own mmap was granted already (a 64 GiB
  // MAP_NORESERVE reservation must not meet the host's overcommit check on the way back).
  const as = ctx.addressSpace;
  let at = start;
  for (const p of pieces) {
    if (p.addr + p.len <= start || p.addr >= end) continue; // (checkShape: inside one mapping)
    if (p.addr > at) {
      const e = as.mapAnonymous(ctx, at, p.addr - at, prot, false, true);
      if (e !== 0) return e;
    }
    const mem = cow.get(p.object);
    const e = mem === null ? as.mapAnonymous(ctx, p.addr, p.len, prot, false, true) : as.mapCopyOnWrite(ctx, p.addr, p.len, prot, mem, p.offset);
    if (e !== 0) return e;
    if (mem === null) copies.push(p);
    at = p.addr + p.len;
  }
  return at < end ? as.mapAnonymous(ctx, at, end - at, prot, false, true) : 0;
}

/** Copies a memory blob to `write(offset, bytes)`: at once, or a raw run a piece at a time. */
function copyBlob(b: ImageBlob, write: (off: number, bytes: Uint8Array) => void): void {
  if (b instanceof Uint8Array) {
    write(0, b);
    return;
  }
  const piece = restoreBuffer();
  for (let off = 0; off < b.length; off += piece.length) {
    const chunk = piece.subarray(0, Math.min(piece.length, b.length - off));
    b.readInto(chunk, off);
    write(off, chunk);
  }
}

/** The one buffer raw memory runs pass through from the image file to an address space. */
let restorePiece: Uint8Array | null = null;
function restoreBuffer(): Uint8Array {
  return restorePiece ??= new Uint8Array(RUN_BYTES >>> 2);
}

/**
 * Opens again, read-only, a host file a private mapping was saved by reference to, refused
 * (ImageError) when it is gone, changed since the checkpoint (size, mtime), or cannot be mapped.
 */
/**
 * The host files of the lower layer that private mappings map by reference, each opened and
 * checked once per restore: an idle shell's two processes map 32 pieces of four files (dash,
 * sleep, libc, ld.so), each of which had its own path walk, stat and description. One description per file serves every mapping of it, in every address
 * space, as after a fork; the restore's own reference is one of `made`'s.
 */
class MappedHostFiles {
  readonly #open = new Map<string, { f: FileDescription; size: number; mtimeNs: string }>();
  constructor(private readonly k: Kernel, private readonly made: FileDescription[]) {}

  /** The file a mapping names, with a reference for the mapping; ImageError when it is gone or changed. */
  open(s: NonNullable<SavedMemory["vmas"][number]["file"]>): FileDescription {
    let o = this.#open.get(s.path);
    if (o === undefined) {
      const f = reopenMapped(this.k, s.path);
      this.made.push(f);
      const st = f.stat();
      o = { f, size: Number(st.size), mtimeNs: String(st.mtimeNs) };
      this.#open.set(s.path, o);
    }
    if (o.size !== s.size || o.mtimeNs !== s.mtimeNs) {
      throw new ImageError(`restore: the host file ${s.path} the program maps changed since the checkpoint`);
    }
    return o.f.incRef();
  }

  /** Where the file at path is, if a mapping opened it in this restore; else null. */
  location(path: string): Location | null {
    return this.#open.get(path)?.f.location() ?? null;
  }
}

/** The host file at path, opened for mapping (ImageError when it is gone or no longer a host file). */
function reopenMapped(k: Kernel, path: string): FileDescription {
  const ctx = { root: k.vfs.root(), creds: Credentials.root() };
  let f: FileDescription;
  try {
    f = k.vfs.openAt(ctx, ctx.root, path, O_RDONLY | O_NOFOLLOW, 0);
  } catch {
    throw new ImageError(`restore: the host file ${path} the program maps is gone`);
  }
  if (!hostBacked(f) || f.hostFdForMmap() === null) {
    f.decRef();
    throw new ImageError(`restore: the host file ${path} the program maps changed since the checkpoint`);
  }
  return f;
}

/** The [vvar] page and the [vdso] image of a saved address space, when it has them side by side. */
function vdsoOf(m: SavedMemory): { vvar: { start: number; end: number }; image: { start: number; end: number } } | null {
  const vvar = m.vmas.find((v) => v.name === "[vvar]");
  const image = m.vmas.find((v) => v.name === "[vdso]");
  if (vvar === undefined || image === undefined || vvar.end !== image.start) return null;
  return { vvar, image };
}

function restoreTask(t: Task, s: SavedTask): void {
  t.ctx.regs.bytes.set(s.regs);
  t.ctx.markRegsDirty();
  // The XSAVE layout is the host CPU's: an image from a CPU with other features cannot be used.
  if (t.ctx.getFpState().length !== s.fp.length) {
    throw new ImageError(`restore: the image's FP state is ${s.fp.length} bytes, this CPU's ${t.ctx.getFpState().length}: taken on another CPU`);
  }
  t.ctx.setFpState(s.fp);
  t.sigmask = BigInt(`0x${s.sigmask}`) & ~((1n << 8n) | (1n << 18n)); // SIGKILL, SIGSTOP never blocked
  for (const i of s.pending) t.pendingSignals.add(loadSigInfo(i));
  t.altStack = { ...s.altStack };
  t.clearChildTid = s.clearChildTid;
  t.robustList = s.robustList;
  if (s.rseq !== undefined) {
    // As a thread migrated: its CPU fields are written again, and a critical section it was
    // in aborted, at its first return to user mode.
    t.rseq = { addr: s.rseq.addr, len: s.rseq.len, sig: s.rseq.sig, cpu: -1 };
    t.rseqResume = true;
  }
  t.pdeathSignal = s.pdeathSignal;
  if (s.timerSlack !== undefined) {
    t.timerSlackNs = s.timerSlack.ns;
    t.defaultTimerSlackNs = s.timerSlack.defaultNs;
  }
  t.noNewPrivs = s.noNewPrivs;
  t.nice = s.nice;
  t.ioprio = s.ioprio ?? 0;
  t.schedPolicy = s.sched.policy;
  t.schedPriority = s.sched.priority;
  t.schedResetOnFork = s.sched.resetOnFork;
  t.schedSliceNs = s.sched.sliceNs;
  t.schedDl = s.sched.dl ?? null;
  t.cpuBase = { ...s.cpu };
  if (s.debugRegs !== undefined) {
    const d = s.debugRegs;
    t.debugRegs = {
      bps: d.bps.map((b) => b === null ? null : { addr: BigInt(`0x${b.addr}`), len: b.len, type: b.type, disabled: b.disabled }),
      dr6: BigInt(`0x${d.dr6}`),
      dr7: BigInt(`0x${d.dr7}`),
    };
    // The host checks them as Linux does: an image's breakpoint it refuses is a bad image.
    if (armDebugRegs(t) < 0) throw new ImageError(`restore: task ${s.tid}'s hardware breakpoints are refused`);
  }
}

// ---- Files ---------------------------------------------------------------------------------

/**
 * sandbox_schema.ts's readSandboxImage for the restore: image.ts's readImageFast, which loads no
 * codec it can do without, nor the state's schemas where the hand checks take the state.
 */
export async function readSandboxImageFast(path: string, rootHostPath: string): Promise<Image<SavedSandbox>> {
  // zod loaded before this module (onZodLoad) would parse without kinds.ts.
  if (zodLoaded()) await loadKinds();
  const image = await readImageFast(path, async () => (await import("./sandbox_schema.ts")).savedSandboxSchema, plainSandbox);
  try {
    checkRoot(image.header, rootHostPath);
  } catch (err) {
    image.close?.();
    throw err;
  }
  return image;
}
