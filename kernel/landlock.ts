/**
 * Landlock, as Linux's security/landlock, up to ABI 6: filesystem rights (execute, read and
 * write files, read directories, remove and make each kind of file, refer, truncate, ioctl on
 * devices), TCP port rights (bind, connect) and scopes (abstract unix sockets, signals). A
 * process builds a ruleset (which rights it handles, rules granting some of them beneath
 * directories or on ports, and what it scopes) and restricts itself with it, adding a layer to
 * its domain. A layer allows an access it handles when a rule on the file or one of its
 * ancestors (up through mount points to the root), or on the port, grants it; a domain allows
 * what every layer allows. A layer that scopes abstract unix sockets or signals keeps its tasks
 * from connecting to sockets made, or signalling processes, outside it (see
 * {@linkcode landlockScoped}). The domain belongs to the thread that restricted itself (Linux
 * keeps it in the credentials) and to every task it creates afterwards, and can only grow.
 *
 * The syscalls are kernel/syscalls/linux/sys_landlock.ts; the VFS asks {@linkcode checkLandlock}
 * (its PathContext carries the caller's domain), the socket and signal syscalls ask
 * {@linkcode checkLandlockNet} and {@linkcode landlockScoped}.
 *
 * @module
 */

import { EACCES, EXDEV } from "./errno.ts";
import type { Dentry } from "../vfs/dentry.ts";
import type { Location, Mount } from "../vfs/mount.ts";
import { AnonInodeFile } from "../vfs/anon_file.ts";
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFSOCK } from "../abi/linux/file.ts";

export const LANDLOCK_ABI_VERSION = 6;
export const FS_EXECUTE = 1 << 0;
export const FS_WRITE_FILE = 1 << 1;
export const FS_READ_FILE = 1 << 2;
export const FS_READ_DIR = 1 << 3;
export const FS_REMOVE_DIR = 1 << 4;
export const FS_REMOVE_FILE = 1 << 5;
export const FS_MAKE_CHAR = 1 << 6;
export const FS_MAKE_DIR = 1 << 7;
export const FS_MAKE_REG = 1 << 8;
export const FS_MAKE_SOCK = 1 << 9;
export const FS_MAKE_FIFO = 1 << 10;
export const FS_MAKE_BLOCK = 1 << 11;
export const FS_MAKE_SYM = 1 << 12;
export const FS_REFER = 1 << 13;
export const FS_TRUNCATE = 1 << 14;
export const FS_IOCTL_DEV = 1 << 15;
/** Every filesystem right. */
export const FS_ALL = (1 << 16) - 1;
/** The rights a rule may grant on a file that is not a directory (Linux's ACCESS_FILE). */
export const FS_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV;
/** The rights a file keeps from its open (Linux's optional accesses): truncate, and ioctl on a device. */
export const FS_OPEN_TIME_RIGHTS = FS_TRUNCATE | FS_IOCTL_DEV;
export const NET_BIND_TCP = 1 << 0;
export const NET_CONNECT_TCP = 1 << 1;
export const NET_ALL = NET_BIND_TCP | NET_CONNECT_TCP;
export const SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0;
export const SCOPE_SIGNAL = 1 << 1;
export const SCOPE_ALL = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL;

/**
 * One layer: the filesystem rights it handles and what its rules grant, by the dentry they are
 * on; the TCP rights it handles and what its rules grant, by port; what it scopes. A layer is
 * shared by every domain that has it (its identity is Linux's landlock_hierarchy node).
 */
export interface LandlockLayer {
  readonly handled: number;
  readonly rules: ReadonlyMap<Dentry, number>;
  readonly handledNet: number;
  readonly netRules: ReadonlyMap<number, number>;
  readonly scoped: number;
}

/** @savable (refused: a checkpoint refuses a Landlock-restricted task) A task's layers, oldest first. */
export type LandlockDomain = readonly LandlockLayer[];

/**
 * @savable (refused) A ruleset being built (landlock_create_ruleset's descriptor): its handled
 * rights and its rules, merged per dentry.
 */
export class LandlockRuleset extends AnonInodeFile {
  /** Immutable. */
  readonly handled: number;
  /** Immutable. */
  readonly handledNet: number;
  /** Immutable. */
  readonly scoped: number;
  readonly rules = new Map<Dentry, number>();
  /** TCP port rules: the rights granted, by port. */
  readonly netRules = new Map<number, number>();

  constructor(handled: number, handledNet: number, scoped: number, flags: number) {
    super("anon_inode:landlock-ruleset", flags);
    this.handled = handled;
    this.handledNet = handledNet;
    this.scoped = scoped;
  }

  /** The layer restrict_self adds: a copy, so later rules change no domain. */
  layer(): LandlockLayer {
    return {
      handled: this.handled, rules: new Map(this.rules), handledNet: this.handledNet, netRules: new Map(this.netRules),
      scoped: this.scoped,
    };
  }
}

/** The right to make a file of the given type (mode's S_IFMT). */
export function makeRight(mode: number): number {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return FS_MAKE_DIR;
    case S_IFCHR:
      return FS_MAKE_CHAR;
    case S_IFBLK:
      return FS_MAKE_BLOCK;
    case S_IFIFO:
      return FS_MAKE_FIFO;
    case S_IFSOCK:
      return FS_MAKE_SOCK;
    case S_IFLNK:
      return FS_MAKE_SYM;
    default:
      return FS_MAKE_REG;
  }
}

/** The right to remove a file of the given type. */
export function removeRight(mode: number): number {
  return (mode & S_IFMT) === S_IFDIR ? FS_REMOVE_DIR : FS_REMOVE_FILE;
}

/**
 * The rights each layer of domain grants on loc that it handles among `access`: for each layer,
 * the union of its rules on loc and its ancestors (Linux's is_access_to_paths_allowed walk).
 */
function grantedPerLayer(domain: LandlockDomain, loc: Location, access: number): number[] {
  const granted = domain.map((l) => ~l.handled & access);
  let m: Mount = loc.mount;
  let d: Dentry = loc.dentry;
  for (;;) {
    let done = true;
    domain.forEach((l, i) => {
      if ((granted[i]! & access) !== access) {
        const r = l.rules.get(d);
        if (r !== undefined) granted[i]! |= r & access;
        if ((granted[i]! & access) !== access) done = false;
      }
    });
    if (done) break;
    if (d === m.root) {
      if (m.parent === null || m.mountpoint === null) break;
      d = m.mountpoint;
      m = m.parent;
      continue;
    }
    if (d.parent === null) break;
    d = d.parent;
  }
  return granted;
}

/** Whether domain allows `access` (rights) on loc. */
export function landlockAllows(domain: LandlockDomain, loc: Location, access: number): boolean {
  return grantedPerLayer(domain, loc, access).every((g) => (g & access) === access);
}

/** EACCES unless the domain (none: no restriction) allows `access` on loc. */
export function checkLandlock(domain: LandlockDomain | null | undefined, loc: Location, access: number): void {
  if (domain && domain.length > 0 && access !== 0 && !landlockAllows(domain, loc, access)) throw EACCES;
}

/**
 * A link or rename of `mode` from the directory `from` to the directory `to` (Linux's
 * current_check_refer_path): within one directory, the right to make it there (and, for a
 * rename, to remove it); across directories, also REFER on both sides, EXDEV without it (and
 * always EXDEV when no layer handles REFER, ABI 1's rule), and what the file may do beneath
 * `to` must not exceed what it may do beneath `from`.
 */
export function checkLandlockRefer(
  domain: LandlockDomain | null | undefined,
  from: Location,
  to: Location,
  mode: number,
  removing: boolean,
): void {
  if (!domain || domain.length === 0) return;
  const make = makeRight(mode), remove = removing ? removeRight(mode) : 0;
  if (from.equals(to)) {
    checkLandlock(domain, to, make | remove);
    return;
  }
  if (!landlockAllows(domain, to, make) || (remove !== 0 && !landlockAllows(domain, from, remove))) throw EACCES;
  if (!domain.some((l) => l.handled & FS_REFER)) throw EXDEV;
  if (!landlockAllows(domain, from, FS_REFER) || !landlockAllows(domain, to, FS_REFER)) throw EXDEV;
  // No right gained by the move: per layer, what `to` grants the file includes what `from` did not.
  const rights = (mode & S_IFMT) === S_IFDIR ? FS_ALL : FS_FILE_RIGHTS;
  const src = grantedPerLayer(domain, from, rights), dst = grantedPerLayer(domain, to, rights);
  if (dst.some((g, i) => (g & ~src[i]!) !== 0)) throw EXDEV;
}

/**
 * EACCES unless the domain allows the TCP `access` (NET_BIND_TCP or NET_CONNECT_TCP) on `port`:
 * every layer that handles it has a rule on the port that grants it (Linux's
 * current_check_access_socket, after its address checks).
 */
export function checkLandlockNet(domain: LandlockDomain | null | undefined, access: number, port: number): void {
  if (!domain) return;
  for (const l of domain) {
    if ((l.handledNet & access) !== 0 && ((l.netRules.get(port) ?? 0) & access) !== access) throw EACCES;
  }
}

/** Whether some layer of the domain handles one of the TCP rights in `access`. */
export function landlockHandlesNet(domain: LandlockDomain | null | undefined, access: number): boolean {
  return domain != null && domain.some((l) => (l.handledNet & access) !== 0);
}

/**
 * Linux's domain_is_scoped: whether `scope` keeps a task of the client domain from reaching
 * something (a process, an abstract socket's maker) in the server domain. Each layer of the
 * client that scopes it must also be a layer of the server (the server is in it, or beneath
 * it); layers are compared by identity, level by level, as Linux walks its hierarchy.
 */
export function landlockScoped(client: LandlockDomain | null | undefined, server: LandlockDomain | null | undefined, scope: number): boolean {
  if (!client || client.length === 0) return false;
  const serverLen = server?.length ?? 0;
  for (let i = client.length - 1; i >= 0; i--) {
    if ((client[i]!.scoped & scope) === 0) continue;
    // The youngest scoping layer decides: the server must have this very layer at this level.
    return i >= serverLen || server![i] !== client[i];
  }
  return false;
}

/**
 * The ioctls a device file opened without FS_IOCTL_DEV still takes (Linux's
 * is_masked_device_ioctl): the descriptor's own flags (also fcntl's), and commands about the
 * filesystem or regular files, not the device.
 */
const IOCTLS_WITHOUT_IOCTL_DEV = new Set([
  0x5451 /* FIOCLEX */, 0x5450 /* FIONCLEX */, 0x5421 /* FIONBIO */, 0x5452 /* FIOASYNC */,
  0x5460 /* FIOQSIZE */, 0xc0045877 /* FIFREEZE */, 0xc0045878 /* FITHAW */, 0xc020660b /* FS_IOC_FIEMAP */,
  2 /* FIGETBSZ */, 0x40049409 /* FICLONE */, 0x4020940d /* FICLONERANGE */, 0xc0189436 /* FIDEDUPERANGE */,
  0x80111500 /* FS_IOC_GETFSUUID */, 0x80811501 /* FS_IOC_GETFSSYSFSPATH */,
]);

/** EACCES for an ioctl a device file may not take: it was opened without FS_IOCTL_DEV. */
export function checkLandlockIoctl(deniedAtOpen: number, cmd: number): void {
  if ((deniedAtOpen & FS_IOCTL_DEV) && !IOCTLS_WITHOUT_IOCTL_DEV.has(cmd >>> 0)) throw EACCES;
}
