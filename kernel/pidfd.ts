/**
 * pidfd: a process as a file, Linux's kernel/pid.c pidfd_fops. Readable (POLLIN) once the
 * process has exited, with POLLHUP as well once it has been reaped; woken through the thread
 * group's exitQueue. Reading it is EINVAL.
 *
 * A PIDFD_THREAD pidfd names one thread by its id: a non-leader's is readable (with POLLHUP)
 * as soon as no thread has that id any more (it exited, or an exec by it took the leader's
 * id), woken through the group's threadExitQueue; the leader's, as a process's, only once the
 * whole group exited (Linux 6.15).
 *
 * @module
 */

import { PIDFS_MAGIC } from "../abi/linux/file.ts";
import { AnonInodeFile } from "../vfs/anon_file.ts";
import { EINVAL, ENOTTY, EREMOTE, ESPIPE, ESRCH } from "./errno.ts";
import { O_ACCMODE, O_EXCL, O_RDWR } from "../abi/linux/file.ts";
import type { MemoryIO } from "../vfs/file_description.ts";
import type { Task } from "./task.ts";

/** pidfd_open's PIDFD_THREAD (O_EXCL): a thread, not a process; kept in the file's flags. */
export const PIDFD_THREAD = O_EXCL;
const FIOSETOWN = 0x8901, SIOCSPGRP = 0x8902;
/** PIDFD_GET_INFO's number and type (_IOWR(0xFF, 11, struct pidfd_info)); its size may grow. */
const PIDFS_IOCTL_MAGIC = 0xff, PIDFD_GET_INFO_NR = 11, PIDFD_INFO_SIZE_VER0 = 64;
/** The struct pidfd_info this kernel fills (Linux 6.18's, with coredump_mask and a spare word). */
const PIDFD_INFO_SIZE = 72;
const PIDFD_INFO_PID = 1, PIDFD_INFO_CREDS = 2, PIDFD_INFO_CGROUPID = 4, PIDFD_INFO_EXIT = 8;
import { EVENT_HUP, EVENT_IN, EVENT_RDNORM } from "../waiter/mod.ts";
import type { Kernel } from "./kernel.ts";
import type { ThreadGroup } from "./thread_group.ts";

/** @savable */
export class PidFd extends AnonInodeFile {
  /** pidfs (Linux 6.9 on), not anon_inodefs. */
  override get pseudoFsType(): number {
    return PIDFS_MAGIC;
  }

  /** Immutable. */
  readonly kernel: Kernel;
  /** Immutable. The process; kept (as Linux keeps its struct pid) after it is reaped. */
  readonly tg: ThreadGroup;
  /** Immutable. PIDFD_THREAD's thread id; 0 for a process pidfd. */
  readonly tid: number;

  constructor(kernel: Kernel, tg: ThreadGroup, flags: number, tid = 0) {
    super("anon_inode:[pidfd]", O_RDWR | flags | (tid !== 0 ? PIDFD_THREAD : 0), tid !== 0 && tid !== tg.tgid ? tg.threadExitQueue : tg.exitQueue);
    this.kernel = kernel;
    this.tg = tg;
    this.tid = tid;
  }

  /** A PIDFD_THREAD pidfd of a thread other than the leader. */
  get nonLeaderThread(): boolean {
    return this.tid !== 0 && this.tid !== this.tg.tgid;
  }

  /** The thread a PIDFD_THREAD pidfd names, while it lives. */
  get thread(): Task | null {
    const t = this.kernel.tasks.get(this.tid);
    return t !== undefined && t.tg === this.tg && t.state !== "dead" ? t : null;
  }

  /**
   * Since Linux 6.9 a pidfd is a pidfs inode, which opens: a new description of the same
   * process with the access mode asked for.
   */
  override reopen(flags: number): PidFd {
    const f = new PidFd(this.kernel, this.tg, 0, this.tid);
    f.flags = (f.flags & ~O_ACCMODE) | (flags & O_ACCMODE);
    return f;
  }

  /**
   * /proc/PID/fdinfo's Pid and NSpid (pidfd_show_fdinfo): the process as the reader sees it,
   * 0 when it is not in the reader's PID namespace, -1 once it is reaped.
   */
  override fdinfoExtra(): string {
    const id = this.tid !== 0 ? this.tid : this.tg.tgid;
    const live = this.tid !== 0 ? this.kernel.tasks.get(this.tid)?.tg === this.tg : this.kernel.threadGroups.get(this.tg.tgid) === this.tg;
    const nr = !live ? -1 : this.kernel.current?.vnr(id) ?? id;
    return `Pid:\t${nr}\nNSpid:\t${nr}\n`;
  }

  /** FIOSETOWN: no async notification on a pidfd (EINVAL, Linux 6.9 and later). PIDFD_GET_INFO. */
  override ioctl(cmd: number, arg: number, io: MemoryIO): number {
    if (cmd === FIOSETOWN || cmd === SIOCSPGRP) throw EINVAL;
    if ((cmd & 0xff) === PIDFD_GET_INFO_NR && ((cmd >>> 8) & 0xff) === PIDFS_IOCTL_MAGIC) return this.#info(cmd, arg, io);
    return super.ioctl(cmd, arg, io);
  }

  /**
   * PIDFD_GET_INFO (Linux's pidfd_info): the ioctl must be read-write with at least the first
   * version's size (pidfs_ioctl_valid: ENOTTY); no buffer is EINVAL. A process outside the
   * caller's PID namespace is EREMOTE. PIDFD_INFO_EXIT gives the wait status and cgroup once
   * the process was reaped; the ids, always given, need it unreaped (ESRCH without EXIT):
   * pid, tgid and ppid as the caller's namespace numbers them, the credentials as its user
   * namespace maps them, and the cgroup's id.
   */
  #info(cmd: number, arg: number, io: MemoryIO): number {
    const size = (cmd >>> 16) & 0x3fff;
    if ((cmd >>> 30) !== 3 || size < PIDFD_INFO_SIZE_VER0) throw ENOTTY;
    if (arg === 0) throw EINVAL;
    const mask = new DataView(io.copyIn(arg, 8).buffer).getBigUint64(0, true);
    const caller = this.kernel.current;
    const tg = this.tg;
    if (caller !== null && !caller.pidNs.contains(tg.pidNs)) throw EREMOTE;
    const out = new Uint8Array(PIDFD_INFO_SIZE);
    const v = new DataView(out.buffer);
    let got = 0;
    const cgroupId = tg.cgroup?.ino ?? 1;
    const reaped = this.reaped;
    if ((mask & BigInt(PIDFD_INFO_EXIT)) && reaped && !this.nonLeaderThread) {
      got |= PIDFD_INFO_EXIT | PIDFD_INFO_CGROUPID;
      v.setBigUint64(8, BigInt(cgroupId), true);
      v.setInt32(60, tg.exitStatus ?? 0, true);
    }
    const thread = this.nonLeaderThread ? this.thread : null;
    const gone = this.nonLeaderThread ? thread === null : reaped;
    if (gone) {
      if (!(mask & BigInt(PIDFD_INFO_EXIT))) throw ESRCH;
    } else {
      const task = thread ?? tg.leader;
      const c = task?.creds;
      const ids = c !== undefined ? [c.uid, c.gid, c.euid, c.egid, c.suid, c.sgid, c.fsuid, c.fsgid] : tg.exitIds ?? [];
      const ns = caller?.creds.userNs;
      ids.forEach((id, i) => v.setUint32(28 + 4 * i, ns === undefined ? id : i % 2 === 0 ? ns.uidOf(id) : ns.gidOf(id), true));
      got |= PIDFD_INFO_CREDS;
      if (!(got & PIDFD_INFO_CGROUPID)) {
        v.setBigUint64(8, BigInt(cgroupId), true);
        got |= PIDFD_INFO_CGROUPID;
      }
      const vnr = (id: number) => caller?.vnr(id) ?? id;
      const pid = vnr(thread?.tid ?? tg.tgid), tgid = vnr(tg.tgid);
      v.setUint32(24, tg.parent !== null ? vnr(tg.parent.tgid) : 0, true);
      v.setUint32(20, tgid, true);
      v.setUint32(16, pid, true);
      got |= PIDFD_INFO_PID;
      if (pid === 0 || tgid === 0) throw ESRCH;
    }
    v.setBigUint64(0, BigInt(got), true);
    // copy_struct_to_user: what the caller's size holds, zeros past the kernel's own.
    const reply = new Uint8Array(size);
    reply.set(out.subarray(0, Math.min(size, PIDFD_INFO_SIZE)));
    io.copyOut(arg, reply);
    return 0;
  }

  /** No llseek in Linux's pidfd file operations: ESPIPE (the other anonymous files have noop_llseek). */
  override seek(): number {
    throw ESPIPE;
  }

  /** True once the process has been reaped. */
  get reaped(): boolean {
    return this.kernel.threadGroups.get(this.tg.tgid) !== this.tg;
  }

  override readiness(mask: number): number {
    if (this.nonLeaderThread) {
      if (this.thread !== null) return 0;
      return (EVENT_IN | EVENT_RDNORM | EVENT_HUP) & (mask | EVENT_HUP);
    }
    if (!this.tg.zombie) return 0;
    const r = EVENT_IN | EVENT_RDNORM | (this.reaped ? EVENT_HUP : 0);
    return r & (mask | EVENT_HUP);
  }
}
