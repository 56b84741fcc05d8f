/**
 * The memory formats of the socket syscalls: socket addresses with their length rules,
 * struct msghdr, and control messages (struct cmsghdr) in both directions. Analogous to Linux's
 * net/socket.c (move_addr_to_kernel/user, copy_msghdr_from_user) and net/core/scm.c
 * (__scm_send, put_cmsg, scm_detach_fds).
 *
 * @module
 */

import { EBADF, EFAULT, EINVAL, EMSGSIZE, ENOBUFS, EPERM, ESRCH } from "../../errno.ts";
import type { Task } from "../../task.ts";
import {
  CMSGHDR_SIZE, cmsgAlign, MSG_CMSG_CLOEXEC, MSG_CTRUNC, MSGHDR, MSGHDR_SIZE, SCM_CREDENTIALS, SCM_MAX_FD,
  SCM_RIGHTS, SOCKADDR_STORAGE_SIZE, SOL_SOCKET, UCRED_SIZE, UIO_MAXIOV,
} from "../../../abi/linux/socket.ts";
import type { FileDescription } from "../../../vfs/file_description.ts";
import type { ControlMessages, UCred } from "../../socket/socket.ts";
import { copyInIovecs, type IoSegment } from "./_file_io.ts";
import { CAP_SETGID, CAP_SETUID, CAP_SYS_ADMIN } from "../../../abi/linux/capability.ts";

/** The most control bytes one sendmsg may pass (Linux: net.core.optmem_max). */
const MAX_CONTROL = 131072;

/** Reads a socket address: EINVAL for a length outside [0, sizeof(sockaddr_storage)]. */
export function copyInSockaddr(t: Task, addr: number, len: number): Uint8Array {
  if (len < 0 || len > SOCKADDR_STORAGE_SIZE) throw EINVAL;
  if (len === 0) return new Uint8Array(0);
  return t.copyIn(addr, len);
}

/**
 * Writes a socket address as move_addr_to_user: reads the caller's buffer length at lenAddr
 * (EINVAL if negative), copies at most that many bytes, and stores the address's full length.
 */
export function copyOutSockaddr(t: Task, addr: number, lenAddr: number, bytes: Uint8Array): void {
  const room = t.copyInU32(lenAddr) | 0;
  if (room < 0) throw EINVAL;
  const n = Math.min(room, bytes.length);
  if (n > 0) t.copyOut(addr, bytes.subarray(0, n));
  t.copyOutU32(lenAddr, bytes.length);
}

/** A struct msghdr as read from the application. */
export interface MsgHeader {
  /** Where the header itself is (recvmsg writes msg_namelen, msg_controllen, msg_flags back). */
  addr: number;
  name: number;
  nameLen: number;
  segs: IoSegment[];
  control: number;
  controlLen: number;
}

/** Reads a struct msghdr and its iovec array: EMSGSIZE for more than UIO_MAXIOV iovecs. */
export function copyInMsgHeader(t: Task, addr: number): MsgHeader {
  const b = t.copyIn(addr, MSGHDR_SIZE);
  const v = new DataView(b.buffer);
  const name = ptr(v.getBigUint64(MSGHDR.name, true));
  const nameLen = v.getInt32(MSGHDR.namelen, true);
  const iov = ptr(v.getBigUint64(MSGHDR.iov, true));
  const iovLen = v.getBigUint64(MSGHDR.iovlen, true);
  const control = ptr(v.getBigUint64(MSGHDR.control, true));
  const controlLen = v.getBigUint64(MSGHDR.controllen, true);
  if (iovLen > BigInt(UIO_MAXIOV)) throw EMSGSIZE;
  if (nameLen < 0) throw EINVAL;
  return {
    addr,
    name,
    nameLen: name === 0 ? 0 : Math.min(nameLen, SOCKADDR_STORAGE_SIZE),
    segs: copyInIovecs(t, iov, Number(iovLen)),
    control,
    controlLen: controlLen > 0x7fffffffn ? Infinity : Number(controlLen),
  };
}

function ptr(v: bigint): number {
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(v);
}

/**
 * Decodes the control messages of a send, as __scm_send: EINVAL for a malformed header or an
 * unknown SOL_SOCKET type, EBADF for a bad descriptor, EINVAL beyond SCM_MAX_FD descriptors,
 * EPERM for credentials the sender may not claim. Messages at other levels are left to the
 * protocol (ignored here). Each description in `rights` carries a new reference: the caller
 * must drop them (see ControlMessages).
 */
export function copyInControl(t: Task, h: MsgHeader): ControlMessages {
  const out: ControlMessages = {};
  if (h.controlLen === 0 || h.control === 0) return out;
  if (h.controlLen > MAX_CONTROL) throw ENOBUFS;
  const b = t.copyIn(h.control, h.controlLen);
  const v = new DataView(b.buffer);
  const rights: FileDescription[] = [];
  try {
    for (let off = 0; off + CMSGHDR_SIZE <= b.length;) {
      const len = v.getBigUint64(off, true);
      if (len < BigInt(CMSGHDR_SIZE) || len > BigInt(b.length - off)) throw EINVAL;
      const cmsgLen = Number(len);
      const level = v.getInt32(off + 8, true);
      const type = v.getInt32(off + 12, true);
      const data = off + CMSGHDR_SIZE;
      const dataLen = cmsgLen - CMSGHDR_SIZE;
      if (level === SOL_SOCKET) {
        if (type === SCM_RIGHTS) {
          const n = Math.floor(dataLen / 4);
          if (rights.length + n > SCM_MAX_FD) throw EINVAL;
          for (let i = 0; i < n; i++) {
            const fd = v.getInt32(data + 4 * i, true);
            if (!t.fdTable.has(fd)) throw EBADF;
            rights.push(t.fdTable.get(fd).incRef());
          }
        } else if (type === SCM_CREDENTIALS) {
          if (dataLen !== UCRED_SIZE) throw EINVAL;
          out.creds = checkCreds(t, {
            pid: v.getInt32(data, true),
            uid: v.getInt32(data + 4, true),
            gid: v.getInt32(data + 8, true),
          });
        } else {
          throw EINVAL;
        }
      } else {
        // The protocol's (IP_TOS, IPV6_HOPLIMIT...): its sendmsg reads what it knows.
        (out.other ??= []).push({ level, type, data: b.slice(data, data + dataLen) });
      }
      off += cmsgAlign(cmsgLen);
    }
  } catch (e) {
    for (const f of rights) f.decRef();
    throw e;
  }
  if (rights.length > 0) out.rights = rights;
  return out;
}

/**
 * scm_check_creds: a process may claim its own pid, and one of its real, effective or saved
 * ids; CAP_SYS_ADMIN over the owner of its PID namespace allows any pid,
 * CAP_SETUID/CAP_SETGID in the caller's user namespace any uid or gid that exist. The ids are
 * the caller's namespaces': a uid or gid it does not map is EINVAL, a pid its PID namespace
 * gives nobody ESRCH. Kept as kernel (global) ids.
 */
function checkCreds(t: Task, c: UCred): UCred {
  const cr = t.creds, ns = cr.userNs;
  const uid = c.uid >>> 0 === 0xffffffff ? -1 : ns.kuid(c.uid), gid = c.gid >>> 0 === 0xffffffff ? -1 : ns.kgid(c.gid);
  if ((c.uid >>> 0 !== 0xffffffff && uid < 0) || (c.gid >>> 0 !== 0xffffffff && gid < 0)) throw EINVAL;
  const uidOk = uid === cr.uid || uid === cr.euid || uid === cr.suid || cr.hasOwnCap(CAP_SETUID);
  const gidOk = gid === cr.gid || gid === cr.egid || gid === cr.sgid || cr.hasOwnCap(CAP_SETGID);
  const pidNs = t.pidNs;
  if (!((c.pid === t.vnr(t.tg.tgid) || cr.capableIn(pidNs.owner, CAP_SYS_ADMIN)) && uidOk && gidOk)) throw EPERM;
  const pid = pidNs.global(c.pid);
  if (pid === undefined || !t.kernel.threadGroups.has(pid)) throw ESRCH;
  return { pid, uid, gid };
}

/**
 * Writes received control messages into the caller's control buffer, as put_cmsg and
 * scm_detach_fds: credentials first, then descriptors (installed in the receiver's table, with
 * close-on-exec under MSG_CMSG_CLOEXEC). Whatever does not fit is dropped and sets MSG_CTRUNC.
 * Takes over the references in control.rights. Returns the bytes used and the flags to add.
 */
export function copyOutControl(
  t: Task,
  buf: { addr: number; len: number },
  control: ControlMessages,
  flags: number,
): { used: number; msgFlags: number } {
  let pos = buf.addr;
  let room = buf.addr === 0 ? 0 : buf.len;
  let msgFlags = 0;
  const put = (level: number, type: number, data: Uint8Array): void => {
    if (room < CMSGHDR_SIZE) {
      msgFlags |= MSG_CTRUNC;
      return;
    }
    let cmlen = CMSGHDR_SIZE + data.length;
    if (room < cmlen) {
      msgFlags |= MSG_CTRUNC;
      cmlen = room;
    }
    const b = new Uint8Array(cmlen);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, BigInt(cmlen), true);
    v.setInt32(8, level, true);
    v.setInt32(12, type, true);
    b.set(data.subarray(0, cmlen - CMSGHDR_SIZE), CMSGHDR_SIZE);
    t.copyOut(pos, b);
    const step = Math.min(cmsgAlign(CMSGHDR_SIZE + data.length), room);
    pos += step;
    room -= step;
  };
  if (control.creds) {
    const b = new Uint8Array(UCRED_SIZE);
    const v = new DataView(b.buffer);
    v.setInt32(0, t.vnr(control.creds.pid), true); // as the receiver's PID namespace numbers it
    // As the receiver's user namespace shows the sender's ids (scm_recv's from_kuid_munged).
    const ns = t.creds.userNs, c = control.creds;
    v.setInt32(4, c.uid === -1 ? -1 : ns.uidOf(c.uid), true);
    v.setInt32(8, c.gid === -1 ? -1 : ns.gidOf(c.gid), true);
    put(SOL_SOCKET, SCM_CREDENTIALS, b);
  }
  for (const m of control.other ?? []) put(m.level, m.type, m.data);
  const rights = control.rights ?? [];
  if (rights.length > 0) {
    const fdMax = room > CMSGHDR_SIZE ? Math.floor((room - CMSGHDR_SIZE) / 4) : 0;
    const fds: number[] = [];
    const cloexec = (flags & MSG_CMSG_CLOEXEC) !== 0;
    let i = 0;
    try {
      for (; i < rights.length && i < fdMax; i++) fds.push(t.fdTable.install(rights[i]!, cloexec));
    } catch {
      i++; // install() dropped that reference itself
    }
    for (let j = i; j < rights.length; j++) rights[j]!.decRef();
    if (fds.length > 0) {
      const b = new Uint8Array(4 * fds.length);
      const v = new DataView(b.buffer);
      fds.forEach((fd, k) => v.setInt32(4 * k, fd, true));
      try {
        put(SOL_SOCKET, SCM_RIGHTS, b);
      } catch (e) {
        if (e !== EFAULT) throw e;
        for (const fd of fds) t.fdTable.remove(fd);
        throw e;
      }
    }
    if (fds.length < rights.length) msgFlags |= MSG_CTRUNC;
  }
  return { used: buf.addr === 0 ? 0 : buf.len - room, msgFlags };
}

/** Drops the references of received descriptors nobody will install. */
export function dropRights(control: ControlMessages): void {
  for (const f of control.rights ?? []) f.decRef();
}
