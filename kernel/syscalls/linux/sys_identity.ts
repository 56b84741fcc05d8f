/** Credentials queries: getuid(2), getgid(2), getgroups(2), getresuid(2), ... */

import { EINVAL } from "../../errno.ts";
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

export const table: Record<number, SyscallEntry> = {
  102: supported("getuid", sysGetuid),
  104: supported("getgid", sysGetgid),
  107: supported("geteuid", sysGeteuid),
  108: supported("getegid", sysGetegid),
  115: supported("getgroups", sysGetgroups),
  118: supported("getresuid", sysGetresuid),
  120: supported("getresgid", sysGetresgid),
};
