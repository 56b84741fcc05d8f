/**
 * Credentials: getuid(2), getgid(2), getgroups(2), getresuid(2), ... and their setters
 * setuid(2), setreuid(2), setresuid(2), setfsuid(2), the gid ones and setgroups(2), with Linux's
 * rules: CAP_SETUID/CAP_SETGID allow any id; others may only move between the ids they hold.
 * Uid changes carry Linux's capability fix-ups (kernel/creds.ts). Credentials are per thread
 * (glibc's set*id applies them to every thread).
 *
 * Ids cross the boundary through the caller's user namespace (kernel/user_namespace.ts): the
 * getters show kernel ids as the namespace's (65534 for one it does not map), the setters take
 * the namespace's ids (EINVAL for one that maps nowhere) and need CAP_SETUID/CAP_SETGID in it.
 */

import { EINVAL, EPERM } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { flagNprocExceeded } from "../../task_clone.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import { CAP_SETGID, CAP_SETUID } from "../../../abi/linux/capability.ts";

const sysGetuid: SyscallFn = (t) => t.creds.userNs.uidOf(t.creds.uid);
const sysGeteuid: SyscallFn = (t) => t.creds.userNs.uidOf(t.creds.euid);
const sysGetgid: SyscallFn = (t) => t.creds.userNs.gidOf(t.creds.gid);
const sysGetegid: SyscallFn = (t) => t.creds.userNs.gidOf(t.creds.egid);

/** Implements getgroups(2): size 0 asks for the count; a smaller buffer is EINVAL. */
const sysGetgroups: SyscallFn = (t, a) => {
  const size = a.int(0);
  const groups = t.creds.groups;
  if (size < 0) throw EINVAL;
  if (size === 0) return groups.length;
  if (size < groups.length) throw EINVAL;
  const b = new Uint8Array(4 * groups.length);
  const v = new DataView(b.buffer);
  groups.forEach((g, i) => v.setUint32(4 * i, t.creds.userNs.gidOf(g), true));
  t.copyOut(a.pointer(1), b);
  return groups.length;
};

function getres(t: Parameters<SyscallFn>[0], a: Parameters<SyscallFn>[1], ids: number[]): number {
  ids.forEach((id, i) => t.copyOutU32(a.pointer(i), id));
  return 0;
}

const sysGetresuid: SyscallFn = (t, a) => {
  const c = t.creds, ns = c.userNs;
  return getres(t, a, [ns.uidOf(c.uid), ns.uidOf(c.euid), ns.uidOf(c.suid)]);
};
const sysGetresgid: SyscallFn = (t, a) => {
  const c = t.creds, ns = c.userNs;
  return getres(t, a, [ns.gidOf(c.gid), ns.gidOf(c.egid), ns.gidOf(c.sgid)]);
};

/** -1 (as an unsigned 32-bit id) leaves an id unchanged; no namespace maps it to a kernel id. */
const KEEP = 0xffffffff;

/** Argument `i` as a kernel uid: KEEP stays KEEP, an id the caller's namespace does not map is EINVAL. */
function kuidArg(t: Task, a: Parameters<SyscallFn>[1], i: number): number {
  const v = a.uint(i);
  if (v === KEEP) return KEEP;
  const k = t.creds.userNs.kuid(v);
  if (k < 0) throw EINVAL;
  return k;
}

function kgidArg(t: Task, a: Parameters<SyscallFn>[1], i: number): number {
  const v = a.uint(i);
  if (v === KEEP) return KEEP;
  const k = t.creds.userNs.kgid(v);
  if (k < 0) throw EINVAL;
  return k;
}

type Triple = [number, number, number];

/** Linux's rule for set{res}{u,g}id: each new id is KEEP, or (unprivileged) one the task holds. */
function setTriple(old: Triple, next: Triple, privileged: boolean): Triple {
  const out = [...old] as Triple;
  for (let i = 0; i < 3; i++) {
    const v = next[i]!;
    if (v === KEEP) continue;
    if (!privileged && !old.includes(v)) throw EPERM;
    out[i] = v;
  }
  return out;
}

/** The new uids, with set_user's RLIMIT_NPROC flag when the real uid changes (flag_nproc_exceeded). */
function withUids(t: Task, [uid, euid, suid]: Triple): void {
  const next = t.creds.withUids(uid, euid, suid, euid);
  flagNprocExceeded(t, next);
  t.commitCreds(next);
}

function withGids(t: Task, [gid, egid, sgid]: Triple): void {
  t.commitCreds(t.creds.withGids(gid, egid, sgid, egid));
}

/** Implements setuid(2): all three ids when privileged, else only the effective one. */
const sysSetuid: SyscallFn = (t, a) => {
  const uid = kuidArg(t, a, 0), c = t.creds;
  if (uid === KEEP) throw EINVAL;
  if (c.hasOwnCap(CAP_SETUID)) withUids(t, [uid, uid, uid]);
  else if (uid === c.uid || uid === c.suid) withUids(t, [c.uid, uid, c.suid]);
  else throw EPERM;
  return 0;
};

const sysSetgid: SyscallFn = (t, a) => {
  const gid = kgidArg(t, a, 0), c = t.creds;
  if (gid === KEEP) throw EINVAL;
  if (c.hasOwnCap(CAP_SETGID)) withGids(t, [gid, gid, gid]);
  else if (gid === c.gid || gid === c.sgid) withGids(t, [c.gid, gid, c.sgid]);
  else throw EPERM;
  return 0;
};

/**
 * setreuid/setregid: the real id may become the real or effective one, the effective one any of
 * the three; the saved id follows the new effective id when the real id is set or the effective
 * id moves away from the old real id.
 */
function setRe(old: Triple, r: number, e: number, privileged: boolean): Triple {
  const [ro, eo, so] = old;
  if (!privileged) {
    if (r !== KEEP && r !== ro && r !== eo) throw EPERM;
    if (e !== KEEP && e !== ro && e !== eo && e !== so) throw EPERM;
  }
  const nr = r === KEEP ? ro : r, ne = e === KEEP ? eo : e;
  const ns = r !== KEEP || (e !== KEEP && e !== ro) ? ne : so;
  return [nr, ne, ns];
}

const sysSetreuid: SyscallFn = (t, a) => {
  const c = t.creds;
  withUids(t, setRe([c.uid, c.euid, c.suid], kuidArg(t, a, 0), kuidArg(t, a, 1), c.hasOwnCap(CAP_SETUID)));
  return 0;
};

const sysSetregid: SyscallFn = (t, a) => {
  const c = t.creds;
  withGids(t, setRe([c.gid, c.egid, c.sgid], kgidArg(t, a, 0), kgidArg(t, a, 1), c.hasOwnCap(CAP_SETGID)));
  return 0;
};

const sysSetresuid: SyscallFn = (t, a) => {
  const c = t.creds;
  const ids: Triple = [kuidArg(t, a, 0), kuidArg(t, a, 1), kuidArg(t, a, 2)];
  withUids(t, setTriple([c.uid, c.euid, c.suid], ids, c.hasOwnCap(CAP_SETUID)));
  return 0;
};

const sysSetresgid: SyscallFn = (t, a) => {
  const c = t.creds;
  const ids: Triple = [kgidArg(t, a, 0), kgidArg(t, a, 1), kgidArg(t, a, 2)];
  withGids(t, setTriple([c.gid, c.egid, c.sgid], ids, c.hasOwnCap(CAP_SETGID)));
  return 0;
};

/**
 * Implements setfsuid(2): returns the old fsuid (as the caller's namespace shows it); changes it
 * only when allowed (no errors, an unmapped id included).
 */
const sysSetfsuid: SyscallFn = (t, a) => {
  const c = t.creds, ns = c.userNs, v = ns.kuid(a.uint(0)), old = ns.uidOf(c.fsuid);
  if (v >= 0 && (c.hasOwnCap(CAP_SETUID) || [c.uid, c.euid, c.suid, c.fsuid].includes(v))) {
    t.commitCreds(c.withUids(c.uid, c.euid, c.suid, v, true));
  }
  return old;
};

const sysSetfsgid: SyscallFn = (t, a) => {
  const c = t.creds, ns = c.userNs, v = ns.kgid(a.uint(0)), old = ns.gidOf(c.fsgid);
  if (v >= 0 && (c.hasOwnCap(CAP_SETGID) || [c.gid, c.egid, c.sgid, c.fsgid].includes(v))) {
    t.commitCreds(c.withGids(c.gid, c.egid, c.sgid, v));
  }
  return old;
};

/**
 * Implements setgroups(2), in Linux's order: CAP_SETGID in the caller's namespace, and a
 * namespace whose gid map is written and whose /proc/PID/setgroups was not set to "deny"
 * (may_setgroups, EPERM); at most NGROUPS_MAX (65536) groups; each one mapped (EINVAL).
 */
const sysSetgroups: SyscallFn = (t, a) => {
  const size = a.int(0), ns = t.creds.userNs;
  if (!t.creds.hasOwnCap(CAP_SETGID) || ns.gidMap.empty || !ns.setgroupsAllowed) throw EPERM;
  if (size < 0 || size > 65536) throw EINVAL;
  const groups: number[] = [];
  if (size > 0) {
    const b = t.copyIn(a.pointer(1), 4 * size);
    const v = new DataView(b.buffer);
    for (let i = 0; i < size; i++) {
      const g = ns.kgid(v.getUint32(4 * i, true));
      if (g < 0) throw EINVAL;
      groups.push(g);
    }
  }
  t.commitCreds(t.creds.withGroups(groups));
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  105: supported("setuid", sysSetuid),
  106: supported("setgid", sysSetgid),
  113: supported("setreuid", sysSetreuid),
  114: supported("setregid", sysSetregid),
  116: supported("setgroups", sysSetgroups),
  117: supported("setresuid", sysSetresuid),
  119: supported("setresgid", sysSetresgid),
  122: supported("setfsuid", sysSetfsuid),
  123: supported("setfsgid", sysSetfsgid),
  102: supported("getuid", sysGetuid),
  104: supported("getgid", sysGetgid),
  107: supported("geteuid", sysGeteuid),
  108: supported("getegid", sysGetegid),
  115: supported("getgroups", sysGetgroups),
  118: supported("getresuid", sysGetresuid),
  120: supported("getresgid", sysGetresgid),
};
