/**
 * File descriptors: open(2), openat(2), close(2), dup(2), dup2(2), dup3(2), fcntl(2),
 * ioctl(2).
 *
 * @module
 */

import { EBADF, EINVAL, EISDIR, EOPNOTSUPP, EPERM, EXDEV } from "../../errno.ts";
import type { Task } from "../../task.ts";
import {
  AT_FDCWD, F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL, F_GETPIPE_SZ, F_SETFD, F_SETFL, F_SETPIPE_SZ,
  FD_CLOEXEC, FIOCLEX, FIONBIO, FIONCLEX, O_APPEND, O_ASYNC, O_CLOEXEC, O_CREAT, O_DIRECT, O_NOATIME, O_NONBLOCK, O_PATH,
  O_ACCMODE, O_NOFOLLOW, O_RDONLY, O_TRUNC, O_WRONLY, RESOLVE_BENEATH, RESOLVE_IN_ROOT, S_IFDIR, S_IFMT, S_IFREG, F_GETOWN, F_GETOWN_EX, F_GETSIG, F_SETOWN, F_SETOWN_EX, F_SETSIG, FIOASYNC,
  FIOGETOWN, FIOSETOWN, FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, SIOCGPGRP, SIOCSPGRP,
} from "../../../abi/linux/file.ts";
import { ownerId, setAsync, setOwner, setOwnerEx } from "../../file_async.ts";
import type { FileOwner } from "../../../vfs/file_description.ts";
import type { Location, PathContext } from "../../../vfs/mod.ts";
import { SocketFile } from "../../socket/socket.ts";
import { checkLandlockIoctl } from "../../landlock.ts";
import { FifoEnd } from "../../../vfs/mod.ts";
import { PipeEnd } from "../../../vfs/pipe.ts";
import { EVENT_IN, EVENT_OUT } from "../../../waiter/mod.ts";
import { copyInPath, pathCtx, startDir } from "./_path.ts";
import { block, partial, supported, type SyscallEntry, type SyscallFn, type SyscallResult } from "./support.ts";
import { F_ADD_SEALS, F_GET_SEALS, fcntlSeals } from "./sys_memfd.ts";
import { fcntlLock, LOCK_COMMANDS } from "./sys_lock.ts";
import { endLeaseWait, F_GETLEASE, F_SETLEASE, fcntlGetLease, fcntlSetLease, LeaseWait, leaseBreaker } from "./sys_lease.ts";
import { TtyFile } from "../../../vfs/tty/mod.ts";
import { resolveTtyOpen, ttyIoctl } from "./_tty.ts";
import { netModules, netModulesIfLoaded } from "../../net_load.ts";
import { LoopDeviceFileBase, LoopNodeFile, MemoryDeviceFile, TunNodeFile, UserfaultfdNodeFile } from "../../../vfs/devices.ts";
import { loopModule } from "../../loop_load.ts";
import { userfaultfdModule } from "../../userfaultfd_hooks.ts";
import { CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_SYS_RESOURCE } from "../../../abi/linux/capability.ts";
import { Net } from "../../net.ts";
import { F_NOTIFY, fcntlNotify } from "../../dnotify.ts";
import { armOpenPerm, fanPermActive, heldOpen } from "../../fanotify_hooks.ts";
import type { HeldOpen, PermRequest } from "../../fanotify.ts";
import { fsnotifyOpenAllowed } from "../../../vfs/fsnotify.ts";
import type { FileDescription } from "../../../vfs/file_description.ts";

/** fcntl commands of Linux 6.10 and 6.12 (F_LINUX_SPECIFIC_BASE + 3, + 4), allowed on O_PATH too. */
const F_DUPFD_QUERY = 1027;
const F_CREATED_QUERY = 1028;

/** Status flags F_SETFL may change; the access mode and creation flags stay. */
const SETFL_MASK = O_APPEND | O_ASYNC | O_DIRECT | O_NOATIME | O_NONBLOCK;
/** linux/fs.h: _IOW(0x94, 9, int) and _IOW(0x94, 13, struct file_clone_range). */
const FICLONE = 0x40049409, FICLONERANGE = 0x4020940d;

/**
 * What a blocked FIFO open keeps between runs: the counted end (released by the kernel if the
 * sleep is abandoned, see Kernel's cancelSleep).
 */
interface FifoOpenState {
  pendingFile: FifoEnd;
}

/**
 * What an open held by fanotify permission events keeps between runs: the opened file (nothing
 * of it counted or reported yet: released by the kernel if the sleep is abandoned) and the
 * request it waits for (withdrawn then too).
 */
interface PermOpenState {
  pendingFile: FileDescription;
  fanPerm: PermRequest;
  held: HeldOpen;
  /** For the run report once allowed: the open writes, and whether it created the file. */
  written: { created: boolean } | null;
}

/**
 * The common part of open(2), openat(2), creat(2) and openat2(2) (whose RESOLVE_* flags come as
 * `resolve`; sys_openat2.ts checks its arguments first). A FIFO opened without O_NONBLOCK waits
 * for the other side (vfs/fifo.ts) on the pipe's queue, keeping its end in t.syscallState.
 */
export function openAt(t: Task, dirfd: number, pathAddr: number, flags: number, mode: number, resolve = 0): SyscallResult {
  const st = t.syscallState as FifoOpenState | PermOpenState | null;
  let file;
  if (st !== null && "fanPerm" in st) {
    // Woken: every group asked has answered (or the group went, which allows).
    if (!st.fanPerm.done) return block([st.fanPerm.queue], EVENT_IN, null, "killable");
    t.syscallState = null;
    if (st.fanPerm.denied) {
      st.pendingFile.decRef();
      throw EPERM;
    }
    fsnotifyOpenAllowed(st.pendingFile, st.held.truncated, st.held.exec);
    const loc = st.pendingFile.location();
    if (st.written !== null && loc !== null && t.kernel.resources.activity !== null && loc.dentry.isRegular) {
      t.kernel.resources.activity.fileWritten(loc.path(), t.tg.tgid, st.written.created);
    }
    return t.fdTable.install(st.pendingFile, (flags & O_CLOEXEC) !== 0);
  }
  if (st !== null && st.pendingFile instanceof FifoEnd) {
    file = st.pendingFile;
  } else {
    const path = copyInPath(t, pathAddr);
    // A scoped walk (RESOLVE_BENEATH, RESOLVE_IN_ROOT) starts at dirfd even for an absolute path.
    const dir = resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT) ? startDir(t, dirfd, path.charCodeAt(0) === 0x2f ? "." : path) : startDir(t, dirfd, path);
    const ctx = resolve === 0 ? pathCtx(t) : { ...pathCtx(t), resolve };
    const log = t.kernel.resources.activity;
    const writes = (flags & O_ACCMODE) !== O_RDONLY || (flags & (O_CREAT | O_TRUNC)) !== 0;
    // The run report tells a created file from a changed one: look first (only with a report).
    const existed = log !== null && writes && (flags & O_CREAT) !== 0 ? exists(t, ctx, dir, path, flags) : true;
    ctx.breakLease = leaseBreaker(t, flags);
    let opened;
    // Permission events may hold the open (kernel/fanotify.ts): only while permission marks exist.
    const perm = fanPermActive();
    if (perm) armOpenPerm(t);
    try {
      opened = t.kernel.vfs.openAt(ctx, dir, path, flags, mode & 0o7777);
    } catch (e) {
      if (e instanceof LeaseWait) return e.control;
      endLeaseWait(t);
      throw e;
    } finally {
      if (perm) armOpenPerm(null);
    }
    endLeaseWait(t);
    const held = perm ? heldOpen(opened) : undefined;
    if (held !== undefined) {
      t.syscallState = {
        pendingFile: opened, fanPerm: held.req, held, written: log !== null && writes ? { created: !existed } : null,
      } satisfies PermOpenState;
      return block([held.req.queue], EVENT_IN, null, "killable");
    }
    if (log !== null && writes) {
      // Regular files only: not /dev/null, a terminal or a FIFO.
      const loc = opened.location();
      if (loc !== null && (opened.stat().mode & S_IFMT) === S_IFREG) log.fileWritten(loc.path(), t.tg.tgid, !existed);
    }
    file = resolveTtyOpen(t, opened, flags);
    if (file instanceof UserfaultfdNodeFile) {
      const f = file;
      let uffd;
      try {
        uffd = userfaultfdModule.get(); // may wait for kernel/userfaultfd.ts: then the open runs again
      } catch (err) {
        f.decRef();
        throw err;
      }
      file = new uffd.UserfaultfdDevice(f.nodeLocation, f.flags);
      f.decRef();
    } else if (file instanceof LoopNodeFile) {
      const f = file;
      try {
        // May wait for kernel/loop.ts (the open runs again), or fail (ENXIO, EBUSY).
        file = loopModule.get().openLoopNode(t.kernel, f, flags);
      } finally {
        f.decRef();
      }
    } else if (file instanceof TunNodeFile) {
      const f = file;
      let net;
      try {
        net = netModules(); // may wait for the network's modules: then the open runs again
      } catch (err) {
        f.decRef();
        throw err;
      }
      file = new net.TunFile(t.net, f.nodeLocation, f.flags);
      f.decRef();
    }
  }
  if (file instanceof FifoEnd && file.waitingForPartner()) {
    t.syscallState = { pendingFile: file } satisfies FifoOpenState;
    return block([file.waitQueue], EVENT_IN | EVENT_OUT);
  }
  t.syscallState = null;
  return t.fdTable.install(file, (flags & O_CLOEXEC) !== 0);
}

/**
 * Whether path names something already (for the run report), walked by the open's own rules
 * (`ctx`: openat2's RESOLVE_* flags); any error counts as no.
 */
function exists(t: Task, ctx: PathContext, dir: Location, path: string, flags: number): boolean {
  try {
    t.kernel.vfs.resolve(ctx, dir, path, { follow: (flags & O_NOFOLLOW) === 0 });
    return true;
  } catch {
    return false;
  }
}

/** Implements open(2). */
const sysOpen: SyscallFn = (t, a) => openAt(t, AT_FDCWD, a.pointer(0), a.int(1), a.uint(2));

/** Implements creat(2): open(path, O_CREAT|O_WRONLY|O_TRUNC, mode). */
const sysCreat: SyscallFn = (t, a) => openAt(t, AT_FDCWD, a.pointer(0), O_CREAT | O_WRONLY | O_TRUNC, a.uint(1));

/** Implements openat(2). */
const sysOpenat: SyscallFn = (t, a) => openAt(t, a.fd(0), a.pointer(1), a.int(2), a.uint(3));

/** Implements close(2). */
const sysClose: SyscallFn = (t, a) => {
  t.fdTable.remove(a.fd(0));
  return 0;
};

/** Implements dup(2). */
const sysDup: SyscallFn = (t, a) => {
  const file = t.fdTable.get(a.fd(0));
  return t.fdTable.install(file.incRef(), false);
};

/** The common part of dup2(2) and dup3(2). Preconditions: oldfd !== newfd. */
function dupTo(t: Task, oldfd: number, newfd: number, cloexec: boolean): number {
  if (newfd < 0 || newfd >= t.fdTable.limit) throw EBADF;
  const file = t.fdTable.get(oldfd);
  t.fdTable.installAt(newfd, file.incRef(), cloexec);
  return newfd;
}

/** Implements dup2(2): the same descriptor twice is a validity check. */
const sysDup2: SyscallFn = (t, a) => {
  const oldfd = a.fd(0), newfd = a.fd(1);
  if (oldfd === newfd) {
    t.fdTable.get(oldfd);
    return newfd;
  }
  return dupTo(t, oldfd, newfd, false);
};

/** Implements dup3(2). */
const sysDup3: SyscallFn = (t, a) => {
  const oldfd = a.fd(0), newfd = a.fd(1), flags = a.int(2);
  if (flags & ~O_CLOEXEC) throw EINVAL;
  if (oldfd === newfd) throw EINVAL;
  return dupTo(t, oldfd, newfd, (flags & O_CLOEXEC) !== 0);
};

/** struct f_owner_ex's types by number (F_OWNER_TID, F_OWNER_PID, F_OWNER_PGRP). */
const OWNER_TYPES: FileOwner["type"][] = ["tid", "pid", "pgrp"];

/** Implements fcntl(2): descriptor duplication, FD_CLOEXEC, the status flags and O_ASYNC's owner and signal. */
const sysFcntl: SyscallFn = (t, a) => {
  const fd = a.fd(0), cmd = a.int(1);
  const file = t.fdTable.get(fd);
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      const min = a.int(2);
      if (min < 0) throw EINVAL;
      return t.fdTable.install(file.incRef(), cmd === F_DUPFD_CLOEXEC, min);
    }
    case F_GETFD:
      return t.fdTable.getCloexec(fd) ? FD_CLOEXEC : 0;
    case F_SETFD:
      t.fdTable.setCloexec(fd, (a.int(2) & FD_CLOEXEC) !== 0);
      return 0;
    case F_GETFL:
      return file.flags;
    case F_DUPFD_QUERY:
      // Whether the other descriptor refers to this description (f_dupfd_query).
      return t.fdTable.get(a.int(2)) === file ? 1 : 0;
    case F_CREATED_QUERY:
      return file.created ? 1 : 0;
  }
  // Everything else is refused on O_PATH descriptors, as Linux's check_fcntl_cmd().
  if (file.flags & O_PATH) throw EBADF;
  switch (cmd) {
    case F_SETFL: {
      const next = a.int(2);
      setAsync(t.kernel, file, fd, (next & O_ASYNC) !== 0, false);
      file.flags = (file.flags & ~SETFL_MASK) | (next & SETFL_MASK);
      return 0;
    }
    case F_SETOWN:
      setOwner(t, file, a.int(2));
      return 0;
    case F_GETOWN: {
      const id = t.vnr(ownerId(t.kernel, file));
      return file.owner?.type === "pgrp" ? -id : id;
    }
    case F_SETOWN_EX: {
      const b = new DataView(t.copyIn(a.pointer(2), 8).buffer);
      const type = OWNER_TYPES[b.getInt32(0, true)];
      if (type === undefined) throw EINVAL;
      setOwnerEx(t, file, type, b.getInt32(4, true));
      return 0;
    }
    case F_GETOWN_EX: {
      const b = new Uint8Array(8), v = new DataView(b.buffer);
      v.setInt32(0, OWNER_TYPES.indexOf(file.owner?.type ?? "tid"), true);
      v.setInt32(4, t.vnr(ownerId(t.kernel, file)), true);
      t.copyOut(a.pointer(2), b);
      return 0;
    }
    case F_SETSIG: {
      const sig = a.u64(2);
      if (sig > 64n) throw EINVAL;
      file.sigioSignal = Number(sig);
      return 0;
    }
    case F_GETSIG:
      return file.sigioSignal;
    case F_ADD_SEALS:
    case F_GET_SEALS:
      return fcntlSeals(file, cmd, a.int(2));
    case F_SETLEASE:
      return fcntlSetLease(t, file, fd, a.int(2));
    case F_GETLEASE:
      return fcntlGetLease(t, file);
    case F_NOTIFY:
      return fcntlNotify(t, file, fd, a.int(2));
    case F_GETPIPE_SZ:
    case F_SETPIPE_SZ:
      // Linux's pipe_fcntl: EBADF for anything but a pipe or FIFO.
      if (!(file instanceof PipeEnd)) throw EBADF;
      return cmd === F_GETPIPE_SZ ? file.pipe.capacity : file.pipe.setSize(a.uint(2), t.creds.hasCap(CAP_SYS_RESOURCE));
    default:
      if (LOCK_COMMANDS.has(cmd)) return fcntlLock(t, file, cmd, a.pointer(2));
      throw EINVAL;
  }
};

/** Implements ioctl(2): the generic descriptor requests here, the rest by the file. */
const sysIoctl: SyscallFn = (t, a) => {
  const fd = a.fd(0), cmd = a.uint(1), arg = a.pointer(2);
  const file = t.fdTable.get(fd);
  if (file.flags & O_PATH) throw EBADF;
  checkLandlockIoctl(file.landlockDenied, cmd); // Linux's security_file_ioctl, before any command
  switch (cmd) {
    case FIOCLEX:
      t.fdTable.setCloexec(fd, true);
      return 0;
    case FIONCLEX:
      t.fdTable.setCloexec(fd, false);
      return 0;
    case FIONBIO:
      if (t.copyInU32(arg) !== 0) file.flags |= O_NONBLOCK;
      else file.flags &= ~O_NONBLOCK;
      return 0;
    case FIOASYNC:
      setAsync(t.kernel, file, fd, t.copyInU32(arg) !== 0, true);
      return 0;
    case FIOSETOWN:
    case SIOCSPGRP:
      if (!(file instanceof SocketFile)) return file.ioctl(cmd, arg, t);
      setOwner(t, file, t.copyInU32(arg) | 0);
      return 0;
    case FIOGETOWN:
    case SIOCGPGRP: {
      if (!(file instanceof SocketFile)) return file.ioctl(cmd, arg, t);
      const id = ownerId(t.kernel, file);
      t.copyOutU32(arg, file.owner?.type === "pgrp" ? -id : id);
      return 0;
    }
    case FICLONE:
    case FICLONERANGE: {
      // ioctl_file_clone and vfs_clone_file_range: no filesystem here shares blocks between
      // files (Linux's remap_file_range: btrfs, xfs), so once the descriptors check out it is
      // EOPNOTSUPP, as on ext2 and tmpfs.
      let srcFd = arg;
      if (cmd === FICLONERANGE) srcFd = Number(BigInt.asIntN(64, new DataView(t.copyIn(arg, 32).buffer).getBigInt64(0, true)));
      const src = t.fdTable.get(srcFd | 0);
      const from = src.location(), to = file.location();
      if (from === null || to === null || from.mount !== to.mount) throw EXDEV;
      if (from.dentry.isDir || to.dentry.isDir) throw EISDIR;
      if (!from.dentry.isRegular || !to.dentry.isRegular) throw EINVAL;
      if (!src.readable || !file.writable || (file.flags & O_APPEND)) throw EBADF;
      throw EOPNOTSUPP;
    }
    case FS_IOC_GETFLAGS:
    case FS_IOC_SETFLAGS: {
      // do_vfs_ioctl's fileattr requests, for files whose filesystem keeps inode flags; the
      // rest go to the file (ENOIOCTLCMD: a device's driver, else ENOTTY).
      const loc = file.location();
      const flags = loc?.dentry.inodeFlags ?? null;
      if (loc === undefined || loc === null || flags === null) return file.ioctl(cmd, arg, t);
      if (cmd === FS_IOC_GETFLAGS) {
        t.copyOutU32(arg, flags);
        return 0;
      }
      t.kernel.vfs.setInodeFlags(pathCtx(t), loc, t.copyInU32(arg) | 0);
      return 0;
    }
    default: {
      if (file instanceof TtyFile) return ttyIoctl(t, file, cmd, arg);
      if (file instanceof MemoryDeviceFile) return file.deviceIoctl(cmd, arg, t, t.creds.hasCap(CAP_SYS_ADMIN));
      // A loop device's description exists only once its driver is loaded.
      if (file instanceof LoopDeviceFileBase) return loopModule.get().loopIoctl(t, file, cmd, arg);
      // A TUN file or a socket exists only once the network's modules are loaded.
      const m = netModulesIfLoaded();
      if (m !== null && file instanceof m.TunFile) return m.tunIoctl(t, file, cmd, arg);
      // sock_ioctl: what no family handles goes to the network devices (netdevice(7)).
      // The socket's namespace (sock_net: the one it was made in), or, for an AF_UNIX socket,
      // which keeps none here, the caller's.
      if (m !== null && file instanceof SocketFile && m.isNetdeviceIoctl(cmd)) {
        const own = (file as { net?: unknown }).net;
        const net = own instanceof Net ? own : t.net;
        return m.netdeviceIoctl(net, file.family, cmd, arg, t, t.creds.capableIn(net.owner, CAP_NET_ADMIN));
      }
      return file.ioctl(cmd, arg, t);
    }
  }
};

export const table: Record<number, SyscallEntry> = {
  2: partial("open", sysOpen, "O_TMPFILE unsupported"),
  3: supported("close", sysClose),
  16: partial("ioctl", sysIoctl, "FIOCLEX, FIONCLEX, FIONBIO, FIOASYNC, sockets' FIOSETOWN/FIOGETOWN and netdevice requests (read-only); terminals (vfs/tty, _tty.ts); TCGETS, TIOCGWINSZ, FIONREAD of host stdio"),
  32: supported("dup", sysDup),
  33: supported("dup2", sysDup2),
  72: partial("fcntl", sysFcntl, "F_DUPFD(_CLOEXEC), F_GETFD, F_SETFD, F_GETFL, F_SETFL, record and OFD locks, seals, F_GETPIPE_SZ/F_SETPIPE_SZ, F_SETOWN(_EX)/F_GETOWN(_EX)/F_SETSIG/F_GETSIG with O_ASYNC signals, F_SETLEASE/F_GETLEASE"),
  85: supported("creat", sysCreat),
  257: partial("openat", sysOpenat, "O_TMPFILE unsupported"),
  292: supported("dup3", sysDup3),
};
