/**
 * procfs: /proc, computed from the kernel through {@linkcode ProcSource}. Analogous to Linux's
 * fs/proc and gVisor's fsimpl/proc.
 *
 * The tree:
 * ```
 * /proc/self -> PID, thread-self -> PID/task/TID        (the caller's, at readlink time)
 * /proc/PID/{stat,status,statm,cmdline,environ,auxv,maps,limits,mounts,mountinfo,comm,...}
 * /proc/PID/{exe,cwd,root}                              magic links
 * /proc/PID/fd/N                                        magic links to open descriptions
 * /proc/PID/fdinfo/N, /proc/PID/task/TID/...            (TID directories as PID ones)
 * /proc/{meminfo,cpuinfo,stat,uptime,loadavg,version,filesystems,swaps,vmstat}, mounts -> self/mounts
 * /proc/{diskstats,partitions}                         (the loop devices)
 * /proc/sys/kernel/{hostname,domainname,pid_max,ngroups_max,osrelease,ostype,version}
 * /proc/sys/vm/overcommit_memory, /proc/sys/fs/{file-max,nr_open,lease-break-time,leases-enable,pipe-max-size,mount-max}
 * /proc/sys/kernel/{shm*,msg*,sem}, /proc/sys/net/{core,ipv4}/..., /proc/net/{tcp,udp,dev,unix}
 * (read-only but fs/nr_open: /proc/sys refuses writes beyond a file's mode, root included, as
 * Linux's sysctl_perm)
 * ```
 *
 * PID directories are built afresh on every lookup, so a directory of a process that exited
 * fails as Linux's does (ENOENT), and an fd link of a closed descriptor is ENOENT.
 *
 * Magic links ({@linkcode Dentry.magicLink}): following /proc/PID/fd/N, cwd, root or exe jumps
 * to the Location itself rather than walking the text readlink shows, so a file that was
 * renamed, or lies outside the reader's root, is still the one reached; and nothing is reached
 * that is not in the sandbox's tree. A descriptor that is not in the tree (a pipe, a socket,
 * the sentry's stdio) is reached through a private mount that is not in the tree either:
 * opening it re-opens the pipe (with the new access mode), fails with ENXIO for a socket, or
 * shares the description (and O_TRUNC truncates nothing).
 *
 * Access: a process's magic links, environ, auxv, maps, mem, io and ns links need "ptrace
 * access" to it: the same real uid as the reader's fsuid, or CAP_SYS_PTRACE (Linux's
 * PTRACE_MODE_READ_FSCREDS, simplified).
 *
 * @module
 */

import { EACCES, ENOENT } from "../../kernel/errno.ts";
import { S_IFDIR } from "../../abi/linux/file.ts";
import type { Dentry } from "../dentry.ts";
import type { DirEntry, FileDescription, MemoryIO } from "../file_description.ts";
import { Location, Mount } from "../mount.ts";
import {
  ANON_INODE_FS_MAGIC, dirEntry, FixedFile, KDentry, KernFilesystem, PROC_SUPER_MAGIC, SnapshotFile, StaticDir,
} from "../kernfs/kernfs.ts";
import { dtFromMode } from "../hostfs/hostfs.ts";
import type { ProcCaller, ProcProcess, ProcSource } from "./source.ts";
import { CAP_SYS_PTRACE } from "../../abi/linux/capability.ts";
import { LazyModule } from "../../kernel/lazy_module.ts";

/** @savable The proc filesystem of one kernel. */
export class ProcFilesystem extends KernFilesystem {
  readonly source: ProcSource;
  /** Immutable. A mount outside the tree for descriptions that have no place in it (pipes). */
  readonly anonMount: Mount;
  readonly anonRoot: StaticDir;
  /** Immutable. The namespaces' inodes (nsfs), reached through /proc/PID/ns. */
  readonly nsfs: Nsfs;
  /** Immutable. /proc/sys/kernel/random/boot_id. */
  readonly bootId: string = crypto.randomUUID();

  constructor(source: ProcSource) {
    super("proc", PROC_SUPER_MAGIC);
    this.createError = ENOENT;
    this.source = source;
    this.nsfs = makeNsfs(source);
    this.root = new ProcRoot(this);
    const anon = new KernFilesystem("anon_inodefs", ANON_INODE_FS_MAGIC);
    this.anonRoot = new StaticDir(anon, null, "", 0o500);
    anon.root = this.anonRoot;
    this.anonMount = new Mount({ id: 0, fs: anon, root: this.anonRoot, parent: null, mountpoint: null, readonly: false });
  }

  /** The path of loc as the caller sees it: from its root, else from the tree's root. */
  displayPath(loc: Location): string {
    const root = this.source.caller()?.root ?? null;
    return (root === null ? null : loc.pathFrom(root)) ?? loc.path();
  }

  /** Throws EACCES unless the caller may inspect p (ptrace read access). */
  checkAccess(p: ProcProcess): void {
    const c = this.source.caller();
    if (c === null) return;
    if (!mayInspect(c, p)) throw EACCES;
  }
}

/**
 * ptrace_may_access(PTRACE_MODE_READ_FSCREDS): the caller's fsuid is all of the process's uids,
 * or it holds CAP_SYS_PTRACE over the process's user namespace; then cap_ptrace_access_check:
 * in the same user namespace the process's permitted set is within the caller's effective
 * set, else that capability.
 */
export function mayInspect(c: ProcCaller, p: ProcProcess): boolean {
  if (c.pid === p.pid) return true;
  const cap = c.creds.capableIn(p.creds.userNs, CAP_SYS_PTRACE);
  const sameIds = c.creds.fsuid === p.creds.uid && c.creds.fsuid === p.creds.euid && c.creds.fsuid === p.creds.suid;
  if (!sameIds && !cap) return false;
  return (c.creds.userNs === p.creds.userNs && (p.creds.caps.permitted & ~c.creds.caps.effective) === 0n) || cap;
}

/**
 * @savable /proc itself: fixed entries plus a directory per process. The classes of its entries
 * and the fixed tree load at the first lookup or listing (proc_tree.ts, through procTree): a
 * start that never reads /proc loads none of them (issue #16), and a syscall that reaches /proc
 * first sleeps while they load, then runs again (kernel/lazy_module.ts).
 */
class ProcRoot extends KDentry {
  /** The fixed entries (everything but the PID directories), made with the tree. */
  #fixed: StaticDir | null = null;

  constructor(readonly pfs: ProcFilesystem) {
    super(pfs, null, "", { mode: S_IFDIR | 0o555 });
  }

  /** The tree's module, its fixed entries made once; throws ModuleNotLoaded until it is loaded. */
  #tree(): ProcTree {
    const t = procTree.get();
    this.#fixed ??= t.fixedEntries(this.pfs, this);
    return t;
  }

  override lookup(name: string): Dentry | null {
    const t = this.#tree();
    return this.#fixed!.entries.get(name) ?? t.pidEntry(this.pfs, this, name);
  }

  override children(): DirEntry[] {
    this.#tree();
    const out = [...this.#fixed!.entries.values()].map(dirEntry);
    for (const pid of this.pfs.source.pids()) {
      out.push({ name: String(pid), ino: this.pfs.inoFor(`/${pid}`), type: dtFromMode(S_IFDIR) });
    }
    return out;
  }
}

type ProcTree = typeof import("./proc_tree.ts");

/**
 * The classes of /proc's entries (proc_tree.ts), loaded at the first lookup or listing of /proc
 * (ProcRoot), or beforehand by whatever walks /proc outside a syscall (boot/mod.ts,
 * boot/control_server.ts).
 */
export const procTree: LazyModule<ProcTree> = new LazyModule("procfs", () => import("./proc_tree.ts"));

/**
 * The sandbox's namespaces, one of each, with the inode numbers of Linux's initial ones
 * (PROC_*_INIT_INO; net and mnt as a fresh boot numbers them): what /proc/PID/ns links show
 * as "type:[inode]".
 */
export const NAMESPACES: ReadonlyArray<[string, string, number]> = [
  ["cgroup", "cgroup", 4026531835], ["ipc", "ipc", 4026531839], ["mnt", "mnt", 4026531841],
  ["net", "net", 4026531840], ["pid", "pid", 4026531836], ["pid_for_children", "pid", 4026531836],
  ["time", "time", 4026531834], ["time_for_children", "time", 4026531834], ["user", "user", 4026531837],
  ["uts", "uts", 4026531838],
];
const NSFS_MAGIC = 0x6e736673;

/**
 * @savable A namespace's inode, where a /proc/PID/ns link leads (nsfs's). `ns` is the namespace
 * itself for one setns(2) joins by it (a user, UTS, IPC or mount namespace made after the
 * first); null for the sandbox's first of each type.
 */
class NsNode extends FixedFile {
  constructor(
    kfs: KernFilesystem,
    parent: KDentry,
    name: string,
    readonly nsIno: number,
    /** The namespace itself, where the kernel needs it back (setns(2)). */
    readonly ns: object | null = null,
  ) {
    super(kfs, parent, name, "", 0o444);
  }

  override get ino(): number {
    return this.nsIno;
  }

  override open(loc: Location, flags: number): FileDescription {
    return new NsFile(loc, flags, this);
  }
}

/**
 * @savable An open namespace inode: its NS_GET_* ioctls are the kernel's (ProcSource.nsIoctl,
 * Linux's ns_ioctl), as other files' ioctls are their own class's.
 */
class NsFile extends SnapshotFile {
  override ioctl(cmd: number, arg: number, io: MemoryIO): number {
    const loc = this.location();
    const source = NSFS_OF.get(loc.mount.fs as KernFilesystem)!.source;
    if (source.nsIoctl === undefined) return super.ioctl(cmd, arg, io);
    return source.nsIoctl(loc, cmd, arg);
  }
}

/**
 * The nsfs filesystem: one inode per namespace type, reached only through /proc/PID/ns; the
 * inodes of namespaces other than the first of their type are kept by namespace (mntNodes), not listed.
 */
interface Nsfs {
  mount: Mount;
  /** The kernel of the procfs it belongs to: its NS_GET_* ioctls. */
  source: ProcSource;
  nodes: Map<string, KDentry>;
  mntNodes: WeakMap<object, NsNode>;
}

/** Each nsfs filesystem's bookkeeping, by filesystem: for {@linkcode nsfsLocation}. */
const NSFS_OF = new WeakMap<KernFilesystem, Nsfs>();

/**
 * The nsfs inode of namespace `type:[ino]` beside `of` (a location on the same nsfs), for the
 * NS_GET_* ioctls that open a related namespace (kernel/nsfs.ts). `ns` is the namespace itself
 * for one made after the sandbox's first of its type, null for a first one.
 */
export function nsfsLocation(of: Location, type: string, ino: number, ns: object | null): Location {
  const nsfs = NSFS_OF.get(of.mount.fs as KernFilesystem)!;
  return new Location(nsfs.mount, nsfsNode(nsfs, type, ino, ns));
}

/** The nsfs filesystem: one inode per namespace type, reached only through /proc/PID/ns. */
function makeNsfs(source: ProcSource): Nsfs {
  const fs = new KernFilesystem("nsfs", NSFS_MAGIC);
  const root = new StaticDir(fs, null, "", 0o500);
  fs.root = root;
  const nodes = new Map<string, NsNode>();
  for (const [, type, ino] of NAMESPACES) {
    if (!nodes.has(type)) nodes.set(type, root.add(new NsNode(fs, root, `${type}:[${ino}]`, ino)));
  }
  const mount = new Mount({ id: 0, fs, root, parent: null, mountpoint: null, readonly: false });
  const nsfs: Nsfs = { mount, source, nodes, mntNodes: new WeakMap<object, NsNode>() };
  NSFS_OF.set(fs, nsfs);
  return nsfs;
}

/**
 * The process a /proc/PID directory (or /proc/TID, which is one too) names, by the global id of
 * its PID namespace's numbering, or null for any other dentry or a process that is gone. Linux's
 * pidfd_send_signal takes such a directory's descriptor as a pidfd (tgid_pidfd_to_pid).
 */
export function procProcessDirPid(d: Dentry): number | null {
  // No such directory exists before the tree is loaded.
  return procTree.ifLoaded?.procProcessDirPid(d) ?? null;
}

/**
 * The namespace an nsfs inode stands for, when it keeps it (user, UTS, IPC and mount namespaces other than the
 * first); null for the rest.
 */
export function nsfsNamespace(d: Dentry): object | null {
  return d instanceof NsNode ? d.ns : null;
}

/** The nsfs inode of namespace `type:[ino]`: the first one of its type, or one made now. */
export function nsfsNode(nsfs: Nsfs, type: string, ino: number, ns: object | null): KDentry {
  const first = nsfs.nodes.get(type)!;
  if (first.ino === ino) return first;
  if (ns !== null) {
    // Not listed in nsfs's root: the node lives as long as the namespace or a descriptor of it.
    let node = nsfs.mntNodes.get(ns);
    if (node === undefined) {
      const root = nsfs.mount.root as StaticDir;
      node = new NsNode(root.kfs, root, `${type}:[${ino}]`, ino, ns);
      nsfs.mntNodes.set(ns, node);
    }
    return node;
  }
  const root = nsfs.mount.root as StaticDir;
  const name = `${type}:[${ino}]`;
  return (root.entries.get(name) as NsNode | undefined) ?? root.add(new NsNode(root.kfs, root, name, ino));
}
