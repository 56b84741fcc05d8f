/**
 * inotify_init(2), inotify_init1(2), inotify_add_watch(2), inotify_rm_watch(2). The instance
 * is vfs/inotify.ts; the events come from the hooks in vfs/fsnotify.ts; reading, poll and
 * FIONREAD go through the generic file paths.
 *
 * @module
 */

import { EINVAL, EMFILE, ENOSPC, ENOTDIR } from "../../errno.ts";
import { UCOUNT_INOTIFY_INSTANCES, UCOUNT_INOTIFY_WATCHES } from "../../ucounts.ts";
import type { Task } from "../../task.ts";
import { AT_FDCWD, O_CLOEXEC, O_NONBLOCK } from "../../../abi/linux/file.ts";
import { checkPermission, MAY_READ } from "../../../vfs/mod.ts";
import {
  IN_ALL_EVENTS, IN_DONT_FOLLOW, IN_EXCL_UNLINK, IN_IGNORED, IN_ISDIR, IN_MASK_ADD, IN_MASK_CREATE, IN_ONESHOT,
  IN_ONLYDIR, IN_Q_OVERFLOW, IN_UNMOUNT,
} from "../../../vfs/fsnotify.ts";
import { type InotifyCharge, InotifyFile } from "../../../vfs/inotify.ts";
import { copyInPath, pathCtx, startDir } from "./_path.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const IN_CLOEXEC = O_CLOEXEC;
const IN_NONBLOCK = O_NONBLOCK;
/** Every bit inotify_add_watch knows; a mask with none of them is EINVAL. */
const ALL_INOTIFY_BITS = IN_ALL_EVENTS | IN_UNMOUNT | IN_Q_OVERFLOW | IN_IGNORED | IN_ONLYDIR | IN_DONT_FOLLOW |
  IN_EXCL_UNLINK | IN_MASK_ADD | IN_MASK_CREATE | IN_ISDIR | IN_ONESHOT;

/**
 * A new instance, counted against its creator's effective uid in its user namespace
 * (max_user_instances: EMFILE before any descriptor is taken; a failed install releases it,
 * and the count, again).
 */
function newInotify(t: Task, flags: number): number {
  if (flags & ~(IN_CLOEXEC | IN_NONBLOCK)) throw EINVAL;
  const u = t.kernel.ucounts, ns = t.creds.userNs, uid = t.creds.euid;
  if (!u.take(ns, uid, UCOUNT_INOTIFY_INSTANCES)) throw EMFILE;
  const charge: InotifyCharge = {
    takeWatch() {
      if (!u.take(ns, uid, UCOUNT_INOTIFY_WATCHES)) throw ENOSPC;
    },
    give(instance, watches) {
      if (instance) u.give(ns, uid, UCOUNT_INOTIFY_INSTANCES);
      if (watches > 0) u.give(ns, uid, UCOUNT_INOTIFY_WATCHES, watches);
    },
  };
  return t.fdTable.install(new InotifyFile(flags & IN_NONBLOCK, charge), (flags & IN_CLOEXEC) !== 0);
}

/** The inotify instance behind fd: EBADF, or EINVAL for another kind of file. */
function instance(t: Task, fd: number): InotifyFile {
  const f = t.fdTable.get(fd);
  if (!(f instanceof InotifyFile)) throw EINVAL;
  return f;
}

/** Implements inotify_init(2). */
const sysInotifyInit: SyscallFn = (t) => newInotify(t, 0);

/** Implements inotify_init1(2). */
const sysInotifyInit1: SyscallFn = (t, a) => newInotify(t, a.int(0));

/**
 * Implements inotify_add_watch(2), in Linux's order: the mask, the descriptor, then the path
 * (IN_DONT_FOLLOW, IN_ONLYDIR), which the caller must be able to read.
 */
const sysInotifyAddWatch: SyscallFn = (t, a) => {
  const mask = a.uint(2);
  if ((mask & ALL_INOTIFY_BITS) === 0) throw EINVAL;
  if ((mask & IN_MASK_ADD) && (mask & IN_MASK_CREATE)) throw EINVAL;
  const ino = instance(t, a.fd(0));
  const path = copyInPath(t, a.pointer(1));
  const ctx = pathCtx(t);
  const loc = t.kernel.vfs.resolve(ctx, startDir(t, AT_FDCWD, path), path, { follow: (mask & IN_DONT_FOLLOW) === 0 });
  const d = loc.dentry;
  if ((mask & IN_ONLYDIR) && !d.isDir) throw ENOTDIR;
  checkPermission(ctx.creds, MAY_READ, d.mode, d.uid, d.gid, d.acl);
  return ino.addWatch(d, mask);
};

/** Implements inotify_rm_watch(2). */
const sysInotifyRmWatch: SyscallFn = (t, a) => {
  instance(t, a.fd(0)).removeWatch(a.int(1));
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  253: supported("inotify_init", sysInotifyInit),
  254: supported("inotify_add_watch", sysInotifyAddWatch),
  255: supported("inotify_rm_watch", sysInotifyRmWatch),
  294: supported("inotify_init1", sysInotifyInit1),
};
