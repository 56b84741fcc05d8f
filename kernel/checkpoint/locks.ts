/**
 * Checkpoint of held file locks (issue #13; docs/checkpoint.md): flock(2) locks, POSIX record
 * locks (fcntl F_SETLK) and OFD record locks (F_OFD_SETLK), vfs/lock.ts's table.
 *
 * Locks are keyed by a file's identity (dev, inode), which a restore does not keep (files of the
 * written filesystems get new inode numbers), so each locked file is saved through one of its
 * descriptions in the image's file table, and the restore keys its locks by the restored
 * description's identity. A lock's owner is a description (flock, OFD) or a descriptor table
 * (POSIX), saved as its index in the image's file or fd-table table; the locking process's pid
 * (F_GETLK's l_pid) is kept, as pids are. Each file's records keep their order (F_GETLK reports
 * the first that conflicts).
 *
 * Waiters need nothing here: a task asleep in flock(LOCK_EX) or F_SETLKW is saved, as any
 * blocked syscall, wound back onto its syscall, and runs it again after the restore: it finds
 * the lock still held and sleeps again on the file's queue (or takes it, if it was released in
 * the meantime), and a POSIX waiter is noted again for deadlock detection.
 *
 * The restore checks that the saved locks could have been held together (no two owners'
 * conflicting locks, no overlapping records of one owner, owners that are descriptions of the
 * same file) before any process runs.
 *
 * @module
 */

import { intIn, z } from "./zod_tree.ts";
import type { FileDescription } from "../../vfs/file_description.ts";
import { F_RDLCK, F_WRLCK, type LockOwnerTable, type LockTable, OFFSET_MAX, type RecordLock } from "../../vfs/lock.ts";
import { type Refuse, u32 } from "./files.ts";
import { ImageError } from "./image.ts";

/** An offset of a lock, 0 to OFFSET_MAX (2^63 - 1), in decimal digits. */
const offset = z.lazy(() => z.string().regex(/^[0-9]{1,19}$/).refine((v) => BigInt(v) <= OFFSET_MAX, "past OFFSET_MAX"));

/** Built at the first locked file an image holds (z.lazy). */
export const fileLocksSchema = z.lazy(() => z.object({
  /** A description of the locked file (an index of the image's files). */
  file: u32,
  records: z.array(z.object({
    type: z.union([z.literal(F_RDLCK), z.literal(F_WRLCK)]),
    start: offset,
    end: offset,
    /** The owner: a descriptor table (POSIX, with the locking process's pid) or a description (OFD). */
    fdTable: u32.optional(),
    ofd: u32.optional(),
    pid: intIn(1, 0x3fffffff).optional(),
  }).strict()).max(1 << 16),
  flocks: z.array(z.object({ file: u32, exclusive: z.boolean() }).strict()).max(1 << 16),
}).strict());

export type SavedFileLocks = z.infer<typeof fileLocksSchema>;

/**
 * Every held lock, by file. fileIndex and tableIndex give a description's or a descriptor
 * table's index in the image, or null when the image does not hold it (then refused).
 */
export function saveLocks(
  table: LockTable,
  fileIndex: (f: FileDescription) => number | null,
  tableIndex: (t: LockOwnerTable) => number | null,
  refuse: Refuse,
): SavedFileLocks[] {
  const out: SavedFileLocks[] = [];
  for (const held of table.held()) {
    const file = held.files.map(fileIndex).find((i) => i !== null);
    if (file === undefined || file === null) throw refuse("a file lock on a file no saved description holds open");
    const records = held.records.map((l: RecordLock): SavedFileLocks["records"][number] => {
      const range = { type: l.type as 0 | 1, start: String(l.start), end: String(l.end) };
      if (l.ofd) {
        const i = fileIndex(l.owner as FileDescription);
        if (i === null) throw refuse("an OFD lock of a description only a mapping holds");
        return { ...range, ofd: i };
      }
      const i = tableIndex(l.owner as LockOwnerTable);
      if (i === null) throw refuse("a POSIX lock of a descriptor table no thread uses");
      return { ...range, fdTable: i, pid: l.pid };
    });
    const flocks = held.flocks.map((l) => {
      const i = fileIndex(l.owner);
      if (i === null) throw refuse("a flock lock of a description only a mapping holds");
      return { file: i, exclusive: l.exclusive };
    });
    out.push({ file, records, flocks });
  }
  return out;
}

/** Checks the indices the saved locks name (before anything is made). */
export function checkLocksShape(locks: readonly SavedFileLocks[], files: number, fdTables: number, bad: (why: string) => ImageError): void {
  for (const l of locks) {
    if (l.file >= files) throw bad(`a file lock names file ${l.file} of ${files}`);
    for (const r of l.records) {
      if ((r.fdTable === undefined) === (r.ofd === undefined) || (r.fdTable !== undefined) !== (r.pid !== undefined)) {
        throw bad("a record lock has no owner, or two");
      }
      if (r.ofd !== undefined && r.ofd >= files) throw bad(`an OFD lock names file ${r.ofd} of ${files}`);
      if (r.fdTable !== undefined && r.fdTable >= fdTables) throw bad(`a POSIX lock names descriptor table ${r.fdTable} of ${fdTables}`);
    }
    for (const f of l.flocks) if (f.file >= files) throw bad(`a flock lock names file ${f.file} of ${files}`);
  }
}

/** Installs the saved locks on the restored descriptions and descriptor tables. */
export function restoreLocks(
  table: LockTable, locks: readonly SavedFileLocks[], files: readonly FileDescription[], fdTables: readonly LockOwnerTable[],
): void {
  for (const l of locks) {
    const records: RecordLock[] = l.records.map((r) => ({
      type: r.type, start: BigInt(r.start), end: BigInt(r.end),
      owner: r.ofd !== undefined ? files[r.ofd]! : fdTables[r.fdTable!]!, ofd: r.ofd !== undefined, pid: r.pid ?? -1,
    }));
    const why = table.restore(files[l.file]!, records, l.flocks.map((f) => ({ owner: files[f.file]!, exclusive: f.exclusive })));
    if (why !== null) throw new ImageError(`restore: the image does not hold together: ${why}`);
  }
}
