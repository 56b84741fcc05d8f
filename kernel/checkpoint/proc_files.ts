/**
 * Checkpoint of descriptors of the kernel's own files (issue #13; docs/checkpoint.md): files of
 * /proc and /sys open as descriptors, and pidfds.
 *
 * A /proc or /sys file is rendered when it is first read (vfs/kernfs SnapshotFile), and reads
 * go on in that rendering: it is saved by path with its flags, offset and the rendering read
 * so far (none if it was never read), and on restore reopened by path in the restored sandbox
 * (whose /proc shows the same pids) and given the same rendering back, so a program half-way
 * through /proc/self/status or /proc/meminfo reads the rest of what it began, and a new open
 * or a pread at 0 of a file never read sees the restored sandbox. A file whose path no longer
 * leads to a file of its kind (a /proc/PID of a process reaped since) is refused at
 * checkpoint, as is one of the kinds that keep state of their own beyond their rendering
 * (/proc/PID/mem, uid_map, mounts and the poll state of /proc/sys/kernel/hostname).
 *
 * A pidfd names its process by tgid (a zombie too: it reads as exited) and a PIDFD_THREAD one
 * its thread by id; one of a process reaped since is refused.
 *
 * @module
 */

import { intIn, z } from "./zod_tree.ts";
import type { Kernel } from "../kernel.ts";
import type { ThreadGroup } from "../thread_group.ts";
import { Credentials } from "../creds.ts";
import type { FileDescription } from "../../vfs/file_description.ts";
import { KernFilesystem, SnapshotFile } from "../../vfs/kernfs/kernfs.ts";
import { O_ACCMODE, O_APPEND, O_NOFOLLOW, O_NONBLOCK } from "../../abi/linux/file.ts";
import { PIDFD_THREAD, PidFd } from "../pidfd.ts";
import { absPath, type Refuse, u32, u64 } from "./files.ts";
import { ImageError } from "./image.ts";
import type { SavedSandbox } from "./sandbox.ts";

/** The largest rendering of a kernel file kept (a /proc/PID/maps of a large program is ~1 MiB). */
const MAX_SNAPSHOT = 64 << 20;

export const procFileSchemas = [
  /** A file of /proc or /sys by path, with the rendering its reads go on in (null: never read). */
  z.object({
    kind: z.literal("kernfile"),
    path: absPath,
    flags: u32,
    offset: u64,
    snapshot: z.instanceof(Uint8Array).refine((b) => b.length <= MAX_SNAPSHOT, "a kernel file's rendering is too large").nullable(),
  }).strict(),
  /** A pidfd of process tgid (live or a zombie), or of its thread tid (PIDFD_THREAD). */
  z.object({ kind: z.literal("pidfd"), tgid: intIn(1, 1 << 22), tid: intIn(0, 1 << 22), flags: u32 }).strict(),
] as const;

export type SavedKernFile = z.infer<(typeof procFileSchemas)[0]>;
export type SavedPidFd = z.infer<(typeof procFileSchemas)[1]>;
export type SavedProcFile = SavedKernFile | SavedPidFd;

function rootCtx(k: Kernel) {
  return { root: k.vfs.root(), creds: Credentials.root() };
}

/** The saved form of a /proc or /sys file or a pidfd; null for any other file. */
export function saveProcFile(k: Kernel, f: FileDescription, refuse: Refuse): SavedProcFile | null {
  if (f instanceof PidFd) {
    if (k.threadGroups.get(f.tg.tgid) !== f.tg) throw refuse(`a pidfd of process ${f.tg.tgid}, reaped since`);
    return { kind: "pidfd", tgid: f.tg.tgid, tid: f.tid, flags: f.flags };
  }
  if (!(f instanceof SnapshotFile)) return null;
  const path = f.path();
  if (f.constructor !== SnapshotFile) throw refuse(`an open file ${path} (${f.constructor.name})`);
  const loc = f.location();
  if (!(loc.mount.fs instanceof KernFilesystem)) return null;
  // /proc's dentries are made anew at each lookup: the path must lead to a file of the same kind.
  let here = false;
  try {
    const d = k.vfs.resolve(rootCtx(k), k.vfs.root(), path, { follow: false }).dentry;
    here = d.constructor === f.generator.constructor && d.name === f.generator.name;
  } catch { /* gone */ }
  if (!here) throw refuse(`the open file ${path}, whose path leads elsewhere now`);
  const snap = f.snapshot;
  if (snap !== null && snap.length > MAX_SNAPSHOT) throw refuse(`the open file ${path}, read as more than 64 MiB`);
  return { kind: "kernfile", path, flags: f.flags, offset: f.offset, snapshot: snap === null ? null : snap.slice() };
}

/** Reopens a saved /proc or /sys file, or makes a pidfd of a restored process. */
export function makeProcFile(k: Kernel, s: SavedProcFile, groups: ReadonlyMap<number, ThreadGroup>): FileDescription {
  if (s.kind === "pidfd") {
    const tg = groups.get(s.tgid);
    if (tg === undefined) throw new ImageError(`restore: a pidfd names process ${s.tgid}, which the image does not hold`);
    if ((s.tid !== 0) !== ((s.flags & PIDFD_THREAD) !== 0)) throw new ImageError(`restore: a pidfd of process ${s.tgid} is PIDFD_THREAD without a thread, or the reverse`);
    const f = new PidFd(k, tg, 0, s.tid);
    f.flags = s.flags;
    return f;
  }
  let f: FileDescription;
  try {
    f = k.vfs.openAt(rootCtx(k), k.vfs.root(), s.path, (s.flags & (O_ACCMODE | O_APPEND | O_NONBLOCK)) | O_NOFOLLOW, 0);
  } catch (err) {
    throw new ImageError(`restore: cannot reopen ${s.path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!(f instanceof SnapshotFile) || f.constructor !== SnapshotFile || !(f.location().mount.fs instanceof KernFilesystem)) {
    f.decRef();
    throw new ImageError(`restore: ${s.path} is not a file of /proc or /sys that reopens as it was`);
  }
  f.flags = s.flags;
  f.offset = s.offset;
  f.restoreSnapshot(s.snapshot === null ? null : s.snapshot.slice());
  return f;
}

/**
 * What the schema cannot check: a /proc or /sys file is held by descriptors only (not by an
 * epoll set, a message in flight or a lock): it is reopened once the restored processes are
 * the kernel's (their /proc directories exist then), and put into the descriptors that held a
 * placeholder until then ({@linkcode reopenKernFiles}).
 */
export function checkProcFileHolders(
  files: readonly { kind: string; items?: readonly { file: number }[] }[],
  rights: readonly number[],
  locked: readonly number[],
  bad: (why: string) => Error,
): void {
  const kern = new Set(files.flatMap((f, i) => f.kind === "kernfile" ? [i] : []));
  if (kern.size === 0) return;
  const held = [...files.flatMap((f) => f.kind === "epoll" ? (f.items ?? []).map((it) => it.file) : []), ...rights, ...locked];
  for (const i of held) if (kern.has(i)) throw bad(`the /proc or /sys file ${i} is held other than by descriptors`);
}

/**
 * Opens the saved /proc and /sys files once the kernel has adopted the restored processes, and
 * puts each into every descriptor that held its placeholder (tables `fdTables`, saved as
 * `saved`; a table no task uses is left as it is, emptied).
 */
export function reopenKernFiles(
  k: Kernel, files: readonly { kind: string }[], saved: readonly { slots: readonly { fd: number; file: number; cloexec: boolean }[] }[],
  fdTables: readonly { users: number; installAt(fd: number, f: FileDescription, cloexec: boolean): void }[],
  groups: ReadonlyMap<number, ThreadGroup>,
): void {
  for (const [i, f] of files.entries()) {
    if (f.kind !== "kernfile") continue;
    const d = makeProcFile(k, f as SavedKernFile, groups);
    for (const [ti, t] of saved.entries()) {
      const table = fdTables[ti]!;
      if (table.users === 0) continue;
      for (const slot of t.slots) if (slot.file === i) table.installAt(slot.fd, d.incRef(), slot.cloexec);
    }
    d.decRef();
  }
}

/** A /proc or /sys file is held by descriptors only (checkProcFileHolders), in the whole state. */
export function procFileHolders(s: SavedSandbox, bad: (why: string) => Error): void {
  checkProcFileHolders(
    s.files as { kind: string; items?: { file: number }[] }[], s.unixSockets.flatMap((so) => so.queue.flatMap((m) => m.rights ?? [])),
    (s.locks ?? []).flatMap((l) => [l.file, ...l.flocks.map((x) => x.file), ...l.records.flatMap((r) => r.ofd === undefined ? [] : [r.ofd])]), bad,
  );
}
