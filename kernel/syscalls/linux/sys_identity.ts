/**
 * Credentials: the queries (getuid(2), getgroups(2), getresuid(2), ...) and the changes
 * (setuid(2), setreuid(2), setresuid(2), setfsuid(2), setgroups(2) and the gid forms), with
 * Linux's rules from kernel/sys.c. Root in the sandbox (euid 0) holds CAP_SETUID and
 * CAP_SETGID; everyone else may only move among the ids it already has. A change replaces
 * the task's Credentials object (they are shared and never mutated). No capability sets are
 * kept beyond that, so dropping root is always complete.
 *
 * @module
 */

import { EINVAL, EPERM } from "../../errno.ts";
import { Credentials } from "../../creds.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const sysGetuid: SyscallFn = (t) => t.creds.uid;
const sysGeteuid: SyscallFn = (t) => t.creds.euid;
const sysGetgid: SyscallFn = (t) => t.creds.gid;
const sysGetegid: SyscallFn = (t) => t.creds.egid;

/** Implements getgroups(2): size 0 asks for the count; a smaller buffer is EINVAL. */
const sysGetgroups: SyscallFn = (t, a) => {
  const size = a.int(0);
  const groups = t.creds.groups;
  if (size < 0) throw EINVAL;
  if (size === 0) return groups.length;
  if (size < groups.length) throw EINVAL;
  const b = new Uint8Array(4 * groups.length);
  const v = new DataView(b.buffer);
  groups.forEach((g, i) => v.setUint32(4 * i, g, true));
  t.copyOut(a.pointer(1), b);
  return groups.length;
};

function getres(t: Parameters<SyscallFn>[0], a: Parameters<SyscallFn>[1], ids: number[]): number {
  ids.forEach((id, i) => t.copyOutU32(a.pointer(i), id));
  return 0;
}

const sysGetresuid: SyscallFn = (t, a) => getres(t, a, [t.creds.uid, t.creds.euid, t.creds.suid]);
const sysGetresgid: SyscallFn = (t, a) => getres(t, a, [t.creds.gid, t.creds.egid, t.creds.sgid]);

/** (uid_t)-1: "leave this id". */
const KEEP = 0xffff_ffff;
/** NGROUPS_MAX. */
const NGROUPS_MAX = 65536;

type Task = Parameters<SyscallFn>[0];

/** The uid or gid triple of c, and a way to build credentials with a new triple and fs id. */
interface IdKind {
  get(c: Credentials): { r: number; e: number; s: number; fs: number };
  with(c: Credentials, r: number, e: number, s: number, fs: number): Credentials;
}

const UIDS: IdKind = {
  get: (c) => ({ r: c.uid, e: c.euid, s: c.suid, fs: c.fsuid }),
  with: (c, r, e, s, fs) => new Credentials(r, c.gid, e, c.egid, s, c.sgid, fs, c.fsgid, c.groups),
};

const GIDS: IdKind = {
  get: (c) => ({ r: c.gid, e: c.egid, s: c.sgid, fs: c.fsgid }),
  with: (c, r, e, s, fs) => new Credentials(c.uid, r, c.euid, e, c.suid, s, c.fsuid, fs, c.groups),
};

/** CAP_SETUID / CAP_SETGID: root in the sandbox. */
function privileged(t: Task): boolean {
  return t.creds.euid === 0;
}

/** Implements setresuid(2)/setresgid(2): unprivileged, each new id must be a current one. */
function setres(t: Task, k: IdKind, r: number, e: number, s: number): number {
  const cur = k.get(t.creds);
  if (!privileged(t)) {
    const ok = (id: number) => id === KEEP || id === cur.r || id === cur.e || id === cur.s;
    if (!ok(r) || !ok(e) || !ok(s)) throw EPERM;
  }
  const ne = e === KEEP ? cur.e : e;
  t.creds = k.with(t.creds, r === KEEP ? cur.r : r, ne, s === KEEP ? cur.s : s, ne);
  return 0;
}

/**
 * Implements setreuid(2)/setregid(2): unprivileged, the real id may become the effective one
 * and the effective id any of the three. The saved id follows the new effective id when the
 * real id is set, or the effective id changes away from the old real id.
 */
function setre(t: Task, k: IdKind, r: number, e: number): number {
  const cur = k.get(t.creds);
  if (!privileged(t)) {
    if (r !== KEEP && r !== cur.r && r !== cur.e) throw EPERM;
    if (e !== KEEP && e !== cur.r && e !== cur.e && e !== cur.s) throw EPERM;
  }
  const nr = r === KEEP ? cur.r : r;
  const ne = e === KEEP ? cur.e : e;
  const ns = r !== KEEP || (e !== KEEP && e !== cur.r) ? ne : cur.s;
  t.creds = k.with(t.creds, nr, ne, ns, ne);
  return 0;
}

/** Implements setuid(2)/setgid(2): privileged, all ids; otherwise the effective id, to the real or saved one. */
function set1(t: Task, k: IdKind, id: number): number {
  if (id === KEEP) throw EINVAL;
  const cur = k.get(t.creds);
  if (privileged(t)) t.creds = k.with(t.creds, id, id, id, id);
  else if (id === cur.r || id === cur.s) t.creds = k.with(t.creds, cur.r, id, cur.s, id);
  else throw EPERM;
  return 0;
}

/** Implements setfsuid(2)/setfsgid(2): always returns the old fs id; changes it when allowed. */
function setfs(t: Task, k: IdKind, id: number): number {
  const cur = k.get(t.creds);
  if (id !== KEEP && (privileged(t) || id === cur.r || id === cur.e || id === cur.s || id === cur.fs)) {
    t.creds = k.with(t.creds, cur.r, cur.e, cur.s, id);
  }
  return cur.fs;
}

/** Implements setgroups(2): root only; at most NGROUPS_MAX groups. */
const sysSetgroups: SyscallFn = (t, a) => {
  const size = a.int(0);
  if (size < 0 || size > NGROUPS_MAX) throw EINVAL;
  if (!privileged(t)) throw EPERM;
  const groups: number[] = [];
  if (size > 0) {
    const b = t.copyIn(a.pointer(1), 4 * size);
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < size; i++) groups.push(v.getUint32(4 * i, true));
  }
  const c = t.creds;
  t.creds = new Credentials(c.uid, c.gid, c.euid, c.egid, c.suid, c.sgid, c.fsuid, c.fsgid, groups);
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  105: supported("setuid", (t, a) => set1(t, UIDS, a.uint(0))),
  106: supported("setgid", (t, a) => set1(t, GIDS, a.uint(0))),
  113: supported("setreuid", (t, a) => setre(t, UIDS, a.uint(0), a.uint(1))),
  114: supported("setregid", (t, a) => setre(t, GIDS, a.uint(0), a.uint(1))),
  116: supported("setgroups", sysSetgroups),
  117: supported("setresuid", (t, a) => setres(t, UIDS, a.uint(0), a.uint(1), a.uint(2))),
  119: supported("setresgid", (t, a) => setres(t, GIDS, a.uint(0), a.uint(1), a.uint(2))),
  122: supported("setfsuid", (t, a) => setfs(t, UIDS, a.uint(0))),
  123: supported("setfsgid", (t, a) => setfs(t, GIDS, a.uint(0))),
  102: supported("getuid", sysGetuid),
  104: supported("getgid", sysGetgid),
  107: supported("geteuid", sysGeteuid),
  108: supported("getegid", sysGetegid),
  115: supported("getgroups", sysGetgroups),
  118: supported("getresuid", sysGetresuid),
  120: supported("getresgid", sysGetresgid),
};
