/**
 * Directory listings: getdents64(2) and the older getdents(2).
 *
 * struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
 * struct linux_dirent   { unsigned long d_ino; unsigned long d_off; u16 d_reclen;
 *                         char d_name[]; char pad; char d_type; }
 * Both records are padded to 8 bytes. d_off is the position to continue from (the next
 * cookie), which the description's offset also holds between calls.
 *
 * @module
 */

import { encodePath } from "../../../abi/path_bytes.ts";
import { EFAULT, EINVAL } from "../../errno.ts";
import type { Task } from "../../task.ts";
import type { DirEntry } from "../../../vfs/mod.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import { fsnotifyAccess } from "../../../vfs/fsnotify.ts";
import { O_NOATIME } from "../../../abi/linux/file.ts";

/** The most bytes one call fills, whatever count says. */
const MAX_BUFFER = 1 << 20;

type Layout = "dirent64" | "dirent";

/** Size of a record for a name of n bytes. */
function recordLength(layout: Layout, n: number): number {
  // dirent64: 19 bytes of header + name + NUL. dirent: 18 + name + NUL + d_type.
  const raw = layout === "dirent64" ? 19 + n + 1 : 18 + n + 2;
  return (raw + 7) & ~7;
}

function putRecord(v: DataView, b: Uint8Array, o: number, layout: Layout, e: DirEntry, name: Uint8Array, next: number, len: number): void {
  v.setUint32(o, e.ino >>> 0, true);
  v.setUint32(o + 4, Math.floor(e.ino / 0x1_0000_0000) >>> 0, true);
  v.setUint32(o + 8, next >>> 0, true);
  v.setUint32(o + 12, Math.floor(next / 0x1_0000_0000) >>> 0, true);
  v.setUint16(o + 16, len, true);
  if (layout === "dirent64") {
    v.setUint8(o + 18, e.type);
    b.set(name, o + 19);
  } else {
    b.set(name, o + 18);
    v.setUint8(o + len - 1, e.type);
  }
}

/**
 * The common part: fills at most count bytes of records from the description's position.
 * Linux keeps count in an int, so a count beyond INT_MAX fits no record (EINVAL). Records are
 * copied out one by one as in Linux's filldir: when the buffer ends in unmapped memory, the
 * records that were written are returned and the position stays after the last of them; a
 * fault on the first record is EFAULT.
 */
function getdents(t: Task, fd: number, addr: number, count: number, layout: Layout): number {
  const file = t.fdTable.get(fd);
  const buf = new Uint8Array(count > 0x7fff_ffff ? 0 : Math.min(count, MAX_BUFFER));
  const v = new DataView(buf.buffer);
  let used = 0;
  let full = false;
  /** The end of each record in buf and the cookie that follows it. */
  const ends: { end: number; cookie: number }[] = [];
  const next = file.readdir(file.offset, (e, nextCookie) => {
    const name = encodePath(e.name);
    const len = recordLength(layout, name.length);
    if (used + len > buf.length) {
      full = true;
      return false;
    }
    putRecord(v, buf, used, layout, e, name, nextCookie, len);
    used += len;
    ends.push({ end: used, cookie: nextCookie });
    return true;
  });
  fsnotifyAccess(file);
  // file_accessed: not for O_NOATIME, nor on a read-only mount (mnt_get_write_access fails).
  const loc = file.location();
  if (loc !== null && !(file.flags & O_NOATIME) && !loc.mount.readonly && !loc.dentry.fs.readonly) loc.dentry.dirListed(loc.mount.flags);
  if (used === 0 && full) throw EINVAL;
  // No access_ok over the whole count (Linux checks each record as it writes it).
  const written = used === 0 ? 0 : Number.isSafeInteger(addr) ? t.writeUser(addr, buf.subarray(0, used)) : 0;
  if (written === used) {
    file.offset = next;
    return used;
  }
  let last: { end: number; cookie: number } | undefined;
  for (const r of ends) {
    if (r.end > written) break;
    last = r;
  }
  if (last === undefined) throw EFAULT;
  file.offset = last.cookie;
  return last.end;
}

/** Implements getdents64(2). */
const sysGetdents64: SyscallFn = (t, a) => getdents(t, a.fd(0), a.pointer(1), a.uint(2), "dirent64");

/** Implements getdents(2). */
const sysGetdents: SyscallFn = (t, a) => getdents(t, a.fd(0), a.pointer(1), a.uint(2), "dirent");

export const table: Record<number, SyscallEntry> = {
  78: supported("getdents", sysGetdents),
  217: supported("getdents64", sysGetdents64),
};
