/**
 * fanotify groups: Linux's fs/notify/fanotify (fanotify_init(2), fanotify_mark(2),
 * fanotify(7)). The syscalls are kernel/syscalls/linux/sys_fanotify.ts; the events come from
 * the hooks of vfs/fsnotify.ts, which call {@linkcode backend} while any mark exists (the one
 * cheap check a file nobody watches pays).
 *
 * Marks are per group on an inode (by filesystem and inode number, so hard links share them,
 * as inotify's), a mount, or a filesystem. An event is matched as Linux's
 * fanotify_group_event_mask: per group, the union of the masks of its marks the event reaches
 * (a parent's mark only with FAN_EVENT_ON_CHILD, any mark for a directory only with
 * FAN_ONDIR), less the union of their ignore masks (legacy FAN_MARK_IGNORED_MASK: directories
 * always ignored, children as the mark's FAN_EVENT_ON_CHILD; FAN_MARK_IGNORE: the ignore
 * mask's own flags), an ignore mask without FAN_MARK_IGNORED_SURV_MODIFY being cleared by
 * FAN_MODIFY first.
 *
 * Groups without FID reporting hear only events made through an open description on a
 * regular file or a directory (Linux's FSNOTIFY_EVENT_PATH), and get a new descriptor of the
 * file with each event (opened FMODE_NONOTIFY: its own reads and close are not events). FID
 * groups hear every event (attributes, names, self events) and get file handles instead, the
 * same handles name_to_handle_at gives (vfs/fhandle.ts), so open_by_handle_at takes them.
 *
 * Queued events merge with an earlier queued one of the same object, process and kind
 * (fanotify_merge); past the queue limit one FAN_Q_OVERFLOW stands for everything lost.
 *
 * Permission events (FAN_OPEN_PERM, FAN_ACCESS_PERM, FAN_OPEN_EXEC_PERM; groups of
 * FAN_CLASS_CONTENT or PRE_CONTENT) hold the opening, reading or executing task: the syscall
 * keeps a {@linkcode PermRequest} in t.syscallState and sleeps, killable only, on its queue. The
 * groups are asked in turn, pre-content ones first, each once the one before allowed (a write
 * of struct fanotify_response, or the group's close, which allows); FAN_DENY ends it with EPERM.
 * An exec asks FAN_OPEN_EXEC_PERM, then FAN_OPEN_PERM. A file opened while no permission mark
 * existed never asks (Linux 6.14's FMODE_NONOTIFY_PERM). An open that is denied was done
 * already (O_CREAT created, O_TRUNC truncated: Linux asks before truncating), but counts and
 * reports nothing, and goes.
 *
 * Not saved by a checkpoint: a sandbox with a group is refused (kernel/checkpoint/sandbox.ts).
 *
 * @module
 */

import { encodePath, encodedPathLength } from "../abi/path_bytes.ts";
import { AnonInodeFile } from "../vfs/anon_file.ts";
import { EAGAIN, EINVAL, ENOENT, ENOTTY, EPERM } from "./errno.ts";
import { FIONREAD, O_CLOEXEC, O_LARGEFILE, O_PATH, O_RDWR } from "../abi/linux/file.ts";
import { EVENT_IN, EVENT_RDNORM, WaitQueue } from "../waiter/mod.ts";
import type { Dentry, Filesystem } from "../vfs/dentry.ts";
import type { FileDescription, MemoryIO } from "../vfs/file_description.ts";
import { Location, type Mount } from "../vfs/mount.ts";
import { FANOTIFY_MAX_QUEUED_EVENTS, type FanotifyBackend, type FanotifyKind, setFanotify } from "../vfs/fsnotify.ts";
import { encodeHandle, fsidOf, type Handle } from "../vfs/fhandle.ts";
import type { Kernel } from "./kernel.ts";
import type { Task } from "./task.ts";
import type { ThreadGroup } from "./thread_group.ts";
import { PidFd } from "./pidfd.ts";
import { setFanotifyHooks } from "./fanotify_hooks.ts";

export const FAN_ACCESS = 0x1;
export const FAN_MODIFY = 0x2;
export const FAN_ATTRIB = 0x4;
export const FAN_CLOSE_WRITE = 0x8;
export const FAN_CLOSE_NOWRITE = 0x10;
export const FAN_OPEN = 0x20;
export const FAN_MOVED_FROM = 0x40;
export const FAN_MOVED_TO = 0x80;
export const FAN_CREATE = 0x100;
export const FAN_DELETE = 0x200;
export const FAN_DELETE_SELF = 0x400;
export const FAN_MOVE_SELF = 0x800;
export const FAN_OPEN_EXEC = 0x1000;
export const FAN_Q_OVERFLOW = 0x4000;
export const FAN_FS_ERROR = 0x8000;
export const FAN_OPEN_PERM = 0x10000;
export const FAN_ACCESS_PERM = 0x20000;
export const FAN_OPEN_EXEC_PERM = 0x40000;
export const FAN_EVENT_ON_CHILD = 0x08000000;
export const FAN_RENAME = 0x10000000;
export const FAN_ONDIR = 0x40000000;

export const FAN_PATH_EVENTS = FAN_ACCESS | FAN_MODIFY | FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE | FAN_OPEN | FAN_OPEN_EXEC;
export const FAN_DIRENT_EVENTS = FAN_MOVED_FROM | FAN_MOVED_TO | FAN_CREATE | FAN_DELETE | FAN_RENAME;
export const FAN_INODE_EVENTS = FAN_DIRENT_EVENTS | FAN_ATTRIB | FAN_MOVE_SELF | FAN_DELETE_SELF;
export const FAN_PERM_EVENTS = FAN_OPEN_PERM | FAN_ACCESS_PERM | FAN_OPEN_EXEC_PERM;
export const FAN_EVENT_FLAGS = FAN_EVENT_ON_CHILD | FAN_ONDIR;
/** Every event bit a mark may hold (FS_ERROR included). */
export const FAN_ALL_EVENTS = FAN_PATH_EVENTS | FAN_INODE_EVENTS | FAN_FS_ERROR | FAN_PERM_EVENTS;
/** What a reader sees of an event's mask (FANOTIFY_OUTGOING_EVENTS). */
const OUTGOING = FAN_ALL_EVENTS | FAN_Q_OVERFLOW | FAN_ONDIR;

// fanotify_init flags.
export const FAN_CLOEXEC = 0x1;
export const FAN_NONBLOCK = 0x2;
export const FAN_CLASS_NOTIF = 0x0;
export const FAN_CLASS_CONTENT = 0x4;
export const FAN_CLASS_PRE_CONTENT = 0x8;
export const FAN_UNLIMITED_QUEUE = 0x10;
export const FAN_UNLIMITED_MARKS = 0x20;
export const FAN_ENABLE_AUDIT = 0x40;
export const FAN_REPORT_PIDFD = 0x80;
export const FAN_REPORT_TID = 0x100;
export const FAN_REPORT_FID = 0x200;
export const FAN_REPORT_DIR_FID = 0x400;
export const FAN_REPORT_NAME = 0x800;
export const FAN_REPORT_TARGET_FID = 0x1000;
export const FAN_REPORT_FD_ERROR = 0x2000;
export const FAN_FID_BITS = FAN_REPORT_FID | FAN_REPORT_DIR_FID | FAN_REPORT_NAME | FAN_REPORT_TARGET_FID;

// fanotify_mark flags.
export const FAN_MARK_ADD = 0x1;
export const FAN_MARK_REMOVE = 0x2;
export const FAN_MARK_DONT_FOLLOW = 0x4;
export const FAN_MARK_ONLYDIR = 0x8;
export const FAN_MARK_MOUNT = 0x10;
export const FAN_MARK_IGNORED_MASK = 0x20;
export const FAN_MARK_IGNORED_SURV_MODIFY = 0x40;
export const FAN_MARK_FLUSH = 0x80;
export const FAN_MARK_FILESYSTEM = 0x100;
export const FAN_MARK_EVICTABLE = 0x200;
export const FAN_MARK_IGNORE = 0x400;

/** Responses (struct fanotify_response's response). */
const FAN_ALLOW = 0x1, FAN_DENY = 0x2, FAN_AUDIT = 0x10, FAN_INFO = 0x20;
const FAN_NOFD = -1;
const FAN_NOPIDFD = -1;

const FAN_EVENT_INFO_TYPE_FID = 1, FAN_EVENT_INFO_TYPE_DFID_NAME = 2, FAN_EVENT_INFO_TYPE_DFID = 3;
const FAN_EVENT_INFO_TYPE_PIDFD = 4;
const FAN_EVENT_INFO_TYPE_OLD_DFID_NAME = 10, FAN_EVENT_INFO_TYPE_NEW_DFID_NAME = 12;

/** sizeof(struct fanotify_event_metadata); FANOTIFY_METADATA_VERSION. */
const METADATA_LEN = 24;
const METADATA_VERSION = 3;

/** Where marks hang: the iterator types whose matches FAN_RENAME's records depend on. */
const T_INODE = 0, T_MOUNT = 1, T_SB = 2, T_PARENT = 3, T_INODE2 = 4;

/** One mark of one group on one object. */
export class FanMark {
  mask = 0;
  ignore = 0;
  /** FAN_MARK_IGNORED_SURV_MODIFY was given: FAN_MODIFY leaves the ignore mask. */
  survModify = false;
  /** FAN_MARK_IGNORE was used: the ignore mask's FAN_ONDIR/FAN_EVENT_ON_CHILD count (FSNOTIFY_MARK_FLAG_HAS_IGNORE_FLAGS). */
  ignoreFlags = false;
  /** FAN_MARK_EVICTABLE (never evicted here: the sandbox keeps its inodes). */
  evictable = false;

  constructor(
    readonly group: FanotifyFile,
    readonly type: "inode" | "mount" | "sb",
    readonly fs: Filesystem,
    /** The marked inode (one of its dentries), for inode marks. */
    readonly dentry: Dentry | null,
    readonly mount: Mount | null,
  ) {}

  /** The ignore mask in effect (fsnotify_ignore_mask). */
  ignoreMask(): number {
    if (this.ignoreFlags) return this.ignore;
    // Legacy: directories always ignored; children as the mark watches them.
    return (this.ignore | FAN_ONDIR) & ~FAN_EVENT_ON_CHILD | (this.mask & FAN_EVENT_ON_CHILD);
  }

  /** What the object shows interest in for this mark (fsnotify_calc_mask). */
  calcMask(): number {
    if (this.ignore === 0) return this.mask;
    return this.mask | (this.survModify ? 0 : FAN_MODIFY) | this.ignoreMask();
  }
}

// ---- Mark registry --------------------------------------------------------------------------

const inodeMarks = new Map<Filesystem, Map<number, FanMark[]>>();
const mountMarks = new Map<Mount, FanMark[]>();
const sbMarks = new Map<Filesystem, FanMark[]>();
let markCount = 0;
/** Marks of groups that may get permission events (FAN_CLASS_CONTENT and PRE_CONTENT). */
let permMarkCount = 0;
/** Live groups (a checkpoint refuses any). */
let liveGroups = 0;

/** How many fanotify groups are open (a checkpoint refuses any). */
export function fanotifyGroups(): number {
  return liveGroups;
}

function marksOfInode(d: Dentry): FanMark[] | undefined {
  return inodeMarks.get(d.fs)?.get(d.ino);
}

function listFor(m: FanMark, create: boolean): FanMark[] | undefined {
  if (m.type === "inode") {
    let byIno = inodeMarks.get(m.fs);
    if (byIno === undefined) {
      if (!create) return undefined;
      inodeMarks.set(m.fs, byIno = new Map());
    }
    let l = byIno.get(m.dentry!.ino);
    if (l === undefined && create) byIno.set(m.dentry!.ino, l = []);
    return l;
  }
  if (m.type === "mount") {
    let l = mountMarks.get(m.mount!);
    if (l === undefined && create) mountMarks.set(m.mount!, l = []);
    return l;
  }
  let l = sbMarks.get(m.fs);
  if (l === undefined && create) sbMarks.set(m.fs, l = []);
  return l;
}

function attachMark(m: FanMark): void {
  listFor(m, true)!.push(m);
  markCount++;
  if (m.group.permClass) permMarkCount++;
  setFanotify(backend);
}

function detachMark(m: FanMark): void {
  const l = listFor(m, false);
  if (l === undefined) return;
  const i = l.indexOf(m);
  if (i < 0) return;
  l.splice(i, 1);
  if (l.length === 0) {
    if (m.type === "inode") {
      const byIno = inodeMarks.get(m.fs)!;
      byIno.delete(m.dentry!.ino);
      if (byIno.size === 0) inodeMarks.delete(m.fs);
    } else if (m.type === "mount") {
      mountMarks.delete(m.mount!);
    } else {
      sbMarks.delete(m.fs);
    }
  }
  markCount--;
  if (m.group.permClass) permMarkCount--;
  m.group.marks.delete(m);
  if (markCount === 0) setFanotify(null);
}

/** The group's mark of that kind on that object, if any. */
export function findMark(g: FanotifyFile, type: FanMark["type"], d: Dentry, mount: Mount): FanMark | undefined {
  const l = type === "inode" ? marksOfInode(d) : type === "mount" ? mountMarks.get(mount) : sbMarks.get(d.fs);
  return l?.find((m) => m.group === g);
}

export function addMark(m: FanMark): void {
  m.group.marks.add(m);
  attachMark(m);
}

export function removeMark(m: FanMark): void {
  detachMark(m);
}

// ---- Events ---------------------------------------------------------------------------------

/** A small number per dentry and mount, for merge keys. */
const ids = new WeakMap<object, number>();
let nextId = 1;
function idOf(o: object): number {
  let n = ids.get(o);
  if (n === undefined) ids.set(o, n = nextId++);
  return n;
}

/** A handle as a string, for merge keys. */
function handleKey(h: Handle | null): string {
  if (h === null) return "-";
  return `${h.type}:${Array.from(h.bytes).join(",")}`;
}

/** The handle fanotify reports for d: decodable where the filesystem decodes (exportfs_encode_fid). */
function fidOf(d: Dentry): Handle | null {
  return encodeHandle(d, false) ?? encodeHandle(d, true);
}

/** A request of a task held by permission events, in its t.syscallState until answered. */
export class PermRequest {
  readonly queue = new WaitQueue();
  /** Events not answered yet. */
  readonly events = new Set<FanEvent>();
  denied = false;
  done = false;
  /**
   * The groups still to ask, as fsnotify() visits them: highest class first (pre-content, then
   * content), each asked once the one before allowed.
   */
  readonly pending: FanEvent[] = [];
  /** The next permission event to ask once these are allowed (FAN_OPEN_PERM after FAN_OPEN_EXEC_PERM). */
  next: (() => void) | null = null;

  /** Asks the next group (after a dispatch filled `pending`); false when there was none. */
  askNext(): boolean {
    if (this.done || this.pending.length === 0) return false;
    let best = 0;
    for (let i = 1; i < this.pending.length; i++) {
      if (this.pending[i]!.group.priority > this.pending[best]!.group.priority) best = i;
    }
    const [e] = this.pending.splice(best, 1);
    this.events.add(e!);
    e!.group.enqueue(e!);
    return true;
  }

  answer(e: FanEvent, response: number): void {
    if (!this.events.delete(e)) return;
    if ((response & 3) === FAN_DENY) this.denied = true;
    if (this.events.size > 0 && !this.denied) return;
    if (!this.denied) {
      if (this.askNext()) return;
      if (this.next !== null) {
        const next = this.next;
        this.next = null;
        next();
        if (this.events.size > 0) return;
      }
    }
    this.finish();
  }

  finish(): void {
    this.done = true;
    this.pending.length = 0;
    for (const e of this.events) e.group.withdraw(e);
    this.events.clear();
    this.queue.notify(EVENT_IN);
  }

  /** The task was killed while it waited: its events go (reported ones stay answerable). */
  cancel(): void {
    if (!this.done) {
      for (const e of this.events) e.group.withdraw(e);
      this.events.clear();
      this.done = true;
    }
  }
}

/** One queued event (never saved: a checkpoint refuses a sandbox with a group). */
export class FanEvent {
  /** The descriptor a read reported it with (permission events wait under it). */
  fd = FAN_NOFD;

  constructor(
    readonly group: FanotifyFile,
    public mask: number,
    /** Global thread or process id of the cause; 0 for none. */
    readonly pid: number,
    readonly tg: ThreadGroup | null,
    /** The file to open for the reader (groups without FID). */
    readonly loc: Location | null,
    readonly fsid: [number, number],
    /** The directory's handle and the name (null: none), for DFID records. */
    readonly dirFh: Handle | null,
    readonly name: string | null,
    /** The object's handle (FID records). */
    readonly objFh: Handle | null,
    /** FAN_RENAME's new directory and name. */
    readonly newDirFh: Handle | null,
    readonly newName: string | null,
    readonly perm: PermRequest | null,
    /** What must be equal to merge (fanotify_should_merge); "" never merges. */
    readonly key: string,
  ) {}

  /** Bytes of the event's records after the metadata (fanotify_event_len less the metadata). */
  infoLen(g: FanotifyFile): number {
    let n = 0;
    if (this.dirFh !== null) n += fidInfoLen(this.dirFh, this.name);
    if (this.newDirFh !== null) n += fidInfoLen(this.newDirFh, this.newName);
    if (this.objFh !== null) n += fidInfoLen(this.objFh, g.dotName(this) ? "." : null);
    if (g.initFlags & FAN_REPORT_PIDFD && this.mask !== FAN_Q_OVERFLOW) n += 8;
    return n;
  }
}

/** A FID record's length: header, fsid, file_handle, the handle, the name and its NUL, to 4 bytes. */
function fidInfoLen(h: Handle, name: string | null): number {
  const n = 4 + 8 + 8 + h.bytes.length + (name === null ? 0 : encodedPathLength(name) + 1);
  return (n + 3) & ~3;
}

/** What the hooks report, evaluated per group. */
interface Occurrence {
  mask: number;
  kind: FanotifyKind;
  obj: Dentry;
  isDir: boolean;
  mount: Mount | null;
  file: FileDescription | null;
  dir: Dentry | null;
  name: string;
  newDir: Dentry | null;
  newName: string;
}

/** The kernel whose tasks cause events (for the current task and its id). */
let theKernel: Kernel | null = null;
/** A task whose exit is closing its files (the cause of their events, not the task running now). */
let exiting: Task | null = null;

/** Names the task whose exit closes files (null when done); kernel.ts's exit. */
export function fanotifyCause(t: Task | null): void {
  exiting = t;
}

/** An open(2) that may wait for permission events: the task whose open it is (set by sys_file.ts). */
let armedOpen: Task | null = null;
/** Opens held back by permission events, with what their report needs once allowed. */
const heldOpens = new WeakMap<FileDescription, HeldOpen>();
/** Files opened while permission marks existed (only they ask FAN_ACCESS_PERM). */
const permEligible = new WeakSet<FileDescription>();

/** An open held back: its request and how to finish it. */
export interface HeldOpen {
  req: PermRequest;
  truncated: boolean;
  exec: boolean;
}

/** Executables an execve being run again was allowed to open (asked no more). */
let armedExecAllowed: ReadonlySet<Dentry> | null = null;

/**
 * Lets the next opens (until disarmed with null) wait for permission events: sys_file.ts's
 * openAt, and execve (task_exec.ts) with the executables its earlier runs were allowed.
 */
export function armOpenPerm(t: Task | null, execAllowed: ReadonlySet<Dentry> | null = null): void {
  armedOpen = t;
  armedExecAllowed = execAllowed;
}

// The class lives with the hooks, which the loader and execve import without this module.
export { ExecPermHold } from "./fanotify_hooks.ts";

/** Whether any permission mark exists (the cheap check the syscalls make). */
export function fanPermActive(): boolean {
  return permMarkCount > 0;
}

/** The open of f held back by permission events, if it is. */
export function heldOpen(f: FileDescription): HeldOpen | undefined {
  const h = heldOpens.get(f);
  if (h !== undefined) heldOpens.delete(f);
  return h;
}

/**
 * FAN_ACCESS_PERM before a read of f by t (rw_verify_area): null to go on, or the request the
 * caller keeps in t.syscallState and waits for.
 */
export function accessPerm(t: Task, f: FileDescription): PermRequest | null {
  if (!permEligible.has(f)) return null;
  const loc = f.location();
  if (loc === null) return null;
  const d = loc.dentry;
  const req = new PermRequest();
  dispatch({
    mask: FAN_ACCESS_PERM, kind: "file", obj: d, isDir: d.isDir, mount: loc.mount, file: f, dir: d.parent, name: d.name,
    newDir: null, newName: "",
  }, t, req);
  req.askNext();
  return req.events.size === 0 ? null : req;
}

/** The hooks' entry (vfs/fsnotify.ts), installed while any mark exists. */
const backend: FanotifyBackend = {
  event(mask, kind, obj, mount, file, dir, name, newDir = null, newName = "") {
    // FMODE_NONOTIFY: a listener's own descriptors (and anything not opened by open(2)).
    if (file !== null && !file.notifies) return;
    const t = exiting ?? theKernel?.current ?? null;
    dispatch({ mask, kind, obj, isDir: obj.isDir, mount, file, dir, name, newDir, newName }, t, null);
    // The inode is gone (its DELETE_SELF comes as Linux evicts it): its marks go, silently.
    if (mask === FAN_DELETE_SELF) {
      for (const m of marksOfInode(obj)?.slice() ?? []) {
        detachMark(m);
        m.group.giveMark();
      }
    }
  },
  openPerm(f, truncated, exec) {
    const t = armedOpen;
    if (permMarkCount > 0) permEligible.add(f);
    if (t === null || permMarkCount === 0) return false;
    const loc = f.location();
    // O_PATH opens nothing (do_dentry_open returns before fsnotify_open_perm).
    if (loc === null || (f.flags & O_PATH)) return false;
    const d = loc.dentry;
    // Asked already by an earlier run of this execve, and allowed.
    if (exec && armedExecAllowed?.has(d)) return false;
    const req = new PermRequest();
    const base = { kind: "file" as const, obj: d, isDir: d.isDir, mount: loc.mount, file: f, dir: d.parent, name: d.name, newDir: null, newName: "" };
    // fsnotify_open_perm: FAN_OPEN_EXEC_PERM for an exec, then, once that is allowed, FAN_OPEN_PERM.
    const steps = exec ? [FAN_OPEN_EXEC_PERM, FAN_OPEN_PERM] : [FAN_OPEN_PERM];
    let i = 0;
    const run = () => {
      while (i < steps.length && req.events.size === 0 && !req.done) {
        dispatch({ ...base, mask: steps[i++]! }, t, req);
        req.askNext();
      }
      req.next = i < steps.length ? run : null;
    };
    run();
    if (req.events.size === 0) return false;
    heldOpens.set(f, { req, truncated, exec });
    return true;
  },
};

/** Groups' marks on one object kind for an occurrence, by iterator type. */
type Reached = [FanMark, number][];

/**
 * Delivers an occurrence to every group whose marks it reaches (fsnotify() and
 * fanotify_handle_event). `perm`: a permission event, collected into the request.
 */
function dispatch(o: Occurrence, t: Task | null, perm: PermRequest | null): void {
  const reached: Reached = [];
  const add = (l: FanMark[] | undefined, type: number) => {
    if (l !== undefined) for (const m of l) reached.push([m, type]);
  };
  const ondir = o.isDir ? FAN_ONDIR : 0;
  let mask = o.mask | ondir;
  let dirKnown = false;
  if (o.kind === "dirent" || o.kind === "rename") {
    const dir = o.dir!;
    add(sbMarks.get(dir.fs), T_SB);
    add(marksOfInode(dir), T_INODE);
    if (o.kind === "rename") add(marksOfInode(o.newDir!), T_INODE2);
    dirKnown = true;
  } else {
    add(sbMarks.get(o.obj.fs), T_SB);
    if (o.mount !== null) add(mountMarks.get(o.mount), T_MOUNT);
    add(marksOfInode(o.obj), T_INODE);
    if (o.kind === "file" && o.dir !== null) {
      // fsnotify_parent: the parent hears it when a mark on it watches children for it.
      const pm = marksOfInode(o.dir);
      if (pm !== undefined && pm.some((m) => (m.calcMask() & FAN_EVENT_ON_CHILD) && (m.calcMask() & o.mask))) {
        add(pm, T_PARENT);
        mask |= FAN_EVENT_ON_CHILD;
        dirKnown = true;
      } else if (!o.isDir) {
        // Parent and name still come with events on non-directories (for DIR_FID groups).
        dirKnown = true;
      }
    }
  }
  if (reached.length === 0) return;
  // Per group, in the order groups first appear.
  const byGroup = new Map<FanotifyFile, [FanMark, number][]>();
  for (const r of reached) {
    const l = byGroup.get(r[0].group);
    if (l === undefined) byGroup.set(r[0].group, [r]);
    else l.push(r);
  }
  for (const [g, marks] of byGroup) {
    if (perm === null && (o.mask & FAN_PERM_EVENTS)) continue;
    // send_to_group: FAN_MODIFY clears the ignore masks that do not survive it.
    if (mask & FAN_MODIFY) {
      for (const [m] of marks) if (!m.survModify) m.ignore = 0;
    }
    const fid = g.initFlags & FAN_FID_BITS;
    if (fid === 0) {
      // Only events through an open description (a path) on a file or directory.
      if (o.mount === null) continue;
      if (!o.obj.isRegular && !o.isDir) continue;
    } else if (!(fid & FAN_REPORT_FID)) {
      if (!dirKnown && !o.isDir) continue;
    }
    let marksMask = 0, ignore = 0, matched = 0;
    for (const [m, type] of marks) {
      ignore |= effectiveIgnore(m, o.isDir, type);
      if (!applicable(m.mask, o.isDir, type)) continue;
      marksMask |= m.mask;
      matched |= 1 << type;
    }
    let test = mask & marksMask & ~ignore;
    if (fid !== 0) {
      if ((test & ~FAN_EVENT_FLAGS) === 0) continue;
    } else {
      test &= ~FAN_EVENT_FLAGS;
      if (test === 0) continue;
    }
    const e = makeEvent(g, o, test, matched, dirKnown, t, perm);
    if (perm !== null) perm.pending.push(e);
    else g.enqueue(e);
  }
}

/** fsnotify_mask_applicable. */
function applicable(mask: number, isDir: boolean, type: number): boolean {
  if (type === T_PARENT && !(mask & FAN_EVENT_ON_CHILD)) return false;
  if (isDir && !(mask & FAN_ONDIR)) return false;
  return true;
}

/** fsnotify_effective_ignore_mask. */
function effectiveIgnore(m: FanMark, isDir: boolean, type: number): number {
  if (m.ignore === 0) return 0;
  if (!isDir && type !== T_PARENT) return m.ignore;
  const im = m.ignoreMask();
  if (!applicable(im, isDir, type)) return 0;
  return im & FAN_ALL_EVENTS;
}

/** fanotify_alloc_event: what one group records of an occurrence. */
function makeEvent(g: FanotifyFile, o: Occurrence, mask: number, matched: number, dirKnown: boolean, t: Task | null, perm: PermRequest | null): FanEvent {
  const pid = t === null ? 0 : (g.initFlags & FAN_REPORT_TID) ? t.tid : t.tg.tgid;
  const fid = g.initFlags & FAN_FID_BITS;
  const dirent = (mask & FAN_DIRENT_EVENTS) !== 0;
  const ondir = (mask & FAN_ONDIR) !== 0;
  let loc: Location | null = null;
  let dirFh: Handle | null = null, objFh: Handle | null = null, newDirFh: Handle | null = null;
  let name: string | null = null, newName: string | null = null;
  let fsid: [number, number] = [0, 0];
  let key: string;
  const pidKey = `${pid}|${mask & FAN_ONDIR}|${mask & FAN_RENAME}`;
  if (fid === 0) {
    loc = new Location(o.mount!, o.obj);
    key = `p|${pidKey}|${idOf(o.mount!)}|${idOf(o.obj)}`;
  } else {
    const dirOf = dirent || o.kind === "rename" ? o.dir : null;
    // fanotify_fid_inode and fanotify_dfid_inode.
    let id: Dentry | null = dirent && !(fid & FAN_REPORT_TARGET_FID) ? dirOf : o.obj;
    const dirid: Dentry | null = dirent || o.kind === "rename" ? dirOf : o.isDir ? o.obj : (dirKnown ? o.dir : null);
    let child: Dentry | null = null;
    let fileName: string | null = dirent || o.kind === "rename" ? o.name : o.isDir ? null : (dirKnown ? o.name : null);
    let nameEvent = false;
    let moved = false;
    if ((fid & FAN_REPORT_DIR_FID) && dirid !== null) {
      const reportChild = dirent ? (fid & FAN_REPORT_TARGET_FID) !== 0 : (fid & FAN_REPORT_FID) !== 0 && !ondir;
      if (reportChild && id !== dirid) child = id;
      id = dirid;
      if (!(fid & FAN_REPORT_NAME)) {
        nameEvent = child !== null;
        fileName = null;
      } else if (dirent || !ondir) {
        nameEvent = true;
      }
      if (mask & FAN_RENAME) {
        const reportOld = (matched & (1 << T_SB | 1 << T_INODE)) !== 0;
        const reportNew = (matched & (1 << T_SB | 1 << T_INODE2)) !== 0;
        if (!reportOld) {
          fileName = null;
        }
        moved = reportNew;
        if (!reportOld) id = null;
      }
    }
    fsid = fsidOf(o.obj.fs);
    if (nameEvent && (fileName !== null || moved || child !== null)) {
      if (id !== null && (fileName !== null || !(mask & FAN_RENAME))) dirFh = fidOf(id);
      name = fileName;
      if (mask & FAN_RENAME && dirFh === null) name = null;
      if (child !== null) objFh = fidOf(child);
      if (moved) {
        newDirFh = fidOf(o.newDir!);
        newName = o.newName;
      }
    } else {
      objFh = id === null ? null : fidOf(id);
    }
    key = `f|${pidKey}|${handleKey(dirFh)}|${name ?? ""}|${handleKey(objFh)}|${handleKey(newDirFh)}|${newName ?? ""}`;
  }
  if (perm !== null) key = "";
  const e = new FanEvent(g, mask, pid, t?.tg ?? null, loc, fsid, dirFh, name, objFh, newDirFh, newName, perm, key);
  return e;
}

// ---- The group ------------------------------------------------------------------------------

/**
 * Whom a group and its marks count against (kernel/ucounts.ts's UCOUNT_FANOTIFY_GROUPS and
 * _MARKS, max_user_groups and max_user_marks): its creator's euid in its user namespace.
 */
export interface FanotifyCharge {
  /** One more mark: false at the limit. */
  takeMark(): boolean;
  /** Gives back the group itself (when `group`) and `marks` marks. */
  give(group: boolean, marks: number): void;
}

/** A fanotify group (fanotify_init). */
export class FanotifyFile extends AnonInodeFile {
  readonly events: FanEvent[] = [];
  readonly marks = new Set<FanMark>();
  /** Permission events read and not answered yet, by the descriptor they were reported with. */
  readonly #awaiting = new Map<number, FanEvent>();
  /** The latest queued mergeable event of each merge key. */
  readonly #mergeable = new Map<string, FanEvent>();
  #overflowQueued = false;
  #closed = false;
  /** Marks this group holds against its charge (FAN_UNLIMITED_MARKS: not counted). */
  #charged = 0;

  constructor(
    readonly kernel: Kernel,
    /** fanotify_init's flags. */
    readonly initFlags: number,
    /** event_f_flags: how event descriptors are opened. */
    readonly eventFlags: number,
    /** Made without CAP_SYS_ADMIN (FANOTIFY_UNPRIV): no pids of others, no mount or filesystem marks. */
    readonly unprivileged: boolean,
    readonly charge: FanotifyCharge | null,
  ) {
    super("anon_inode:[fanotify]", O_RDWR | (initFlags & FAN_NONBLOCK ? 0o4000 : 0));
    theKernel = kernel;
    liveGroups++;
  }

  /** The class's place in fsnotify's order (FSNOTIFY_PRIO_*): pre-content groups are asked first. */
  get priority(): number {
    return this.initFlags & FAN_CLASS_PRE_CONTENT ? 2 : this.initFlags & FAN_CLASS_CONTENT ? 1 : 0;
  }

  /** FAN_CLASS_CONTENT or PRE_CONTENT: may hold permission marks. */
  get permClass(): boolean {
    return (this.initFlags & (FAN_CLASS_CONTENT | FAN_CLASS_PRE_CONTENT)) !== 0;
  }

  get maxEvents(): number {
    return this.initFlags & FAN_UNLIMITED_QUEUE ? Infinity : FANOTIFY_MAX_QUEUED_EVENTS;
  }

  /** A new mark counted against the charge: false at the limit (ENOSPC). */
  takeMark(): boolean {
    if (this.initFlags & FAN_UNLIMITED_MARKS || this.charge === null) return true;
    if (!this.charge.takeMark()) return false;
    this.#charged++;
    return true;
  }

  giveMark(): void {
    if (this.#charged > 0) {
      this.#charged--;
      this.charge?.give(false, 1);
    }
  }

  /** With FAN_REPORT_NAME, an event on a directory with no name recorded reports ".". */
  dotName(e: FanEvent): boolean {
    const fid = this.initFlags & FAN_FID_BITS;
    return e.dirFh === null && (fid & FAN_REPORT_NAME) !== 0 && (e.mask & FAN_ONDIR) !== 0 && fid !== FAN_REPORT_FID;
  }

  /** fsnotify_insert_event: overflow, then merge, then queue. */
  enqueue(e: FanEvent): void {
    if (this.#closed) {
      if (e.perm !== null) e.perm.answer(e, FAN_ALLOW);
      return;
    }
    const q = this.events;
    if (q.length >= this.maxEvents) {
      // A permission event lost to overflow is allowed.
      if (e.perm !== null) e.perm.answer(e, FAN_ALLOW);
      if (this.#overflowQueued) return;
      this.#overflowQueued = true;
      this.#push(new FanEvent(this, FAN_Q_OVERFLOW, 0, null, null, [0, 0], null, null, null, null, null, null, ""));
      return;
    }
    if (e.key !== "" && q.length > 0) {
      const old = this.#mergeable.get(e.key);
      if (old !== undefined) {
        old.mask |= e.mask;
        return;
      }
    }
    if (e.key !== "") this.#mergeable.set(e.key, e);
    this.#push(e);
  }

  #push(e: FanEvent): void {
    this.events.push(e);
    this.waitQueue.notify(EVENT_IN | EVENT_RDNORM);
  }

  /** A permission event whose task no longer waits: out of the queue if not read yet. */
  withdraw(e: FanEvent): void {
    const i = this.events.indexOf(e);
    if (i >= 0) this.events.splice(i, 1);
  }

  /** The length a reader gets for e (fanotify_event_len). */
  eventLen(e: FanEvent): number {
    return METADATA_LEN + e.infoLen(this);
  }

  override read(dst: Uint8Array, _offset: number | null): number {
    const q = this.events;
    if (q.length === 0) throw EAGAIN;
    const reader = this.kernel.current;
    let o = 0;
    let err: unknown = null;
    while (q.length > 0) {
      const e = q[0]!;
      const len = this.eventLen(e);
      if (o + len > dst.length) {
        if (o === 0) throw EINVAL;
        break;
      }
      q.shift();
      if (this.#mergeable.get(e.key) === e) this.#mergeable.delete(e.key);
      if (e.mask === FAN_Q_OVERFLOW) this.#overflowQueued = false;
      // copy_event_to_user starts from fd = -EBADF: a FAN_REPORT_FD_ERROR group sees that for an
      // event with no file (overflow, fid-only), the others FAN_NOFD.
      let fd = this.initFlags & FAN_REPORT_FD_ERROR ? -9 : FAN_NOFD;
      if (e.loc !== null && !this.unprivileged && reader !== null) {
        try {
          fd = this.#openFor(reader, e.loc);
        } catch (x) {
          if (!(this.initFlags & FAN_REPORT_FD_ERROR)) {
            if (e.perm !== null) e.perm.answer(e, FAN_DENY);
            err = x;
            break;
          }
          fd = -((x as { errno?: number }).errno ?? 5);
        }
      }
      this.#write(dst, o, e, len, fd, reader);
      o += len;
      if (e.perm !== null) {
        e.fd = fd;
        this.#awaiting.set(fd, e);
      }
    }
    if (o === 0 && err !== null) throw err;
    return o;
  }

  /** A new descriptor of the event's file in the reader's table (create_fd): FMODE_NONOTIFY. */
  #openFor(reader: Task, loc: Location): number {
    const f = loc.dentry.open(loc, (this.eventFlags & ~O_CLOEXEC) | O_LARGEFILE);
    return reader.fdTable.install(f, (this.eventFlags & O_CLOEXEC) !== 0);
  }

  #write(dst: Uint8Array, o: number, e: FanEvent, len: number, fd: number, reader: Task | null): void {
    const v = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
    v.setUint32(o, len, true);
    v.setUint8(o + 4, METADATA_VERSION);
    v.setUint8(o + 5, 0);
    v.setUint16(o + 6, METADATA_LEN, true);
    v.setBigUint64(o + 8, BigInt((e.mask & OUTGOING) >>> 0), true);
    v.setInt32(o + 16, fd, true);
    let pid = e.pid === 0 || reader === null ? 0 : reader.vnr(e.pid);
    // An unprivileged listener sees only its own process's id.
    if (this.unprivileged && reader !== null && e.tg !== reader.tg) pid = 0;
    v.setInt32(o + 20, pid, true);
    let p = o + METADATA_LEN;
    let first = 0;
    if (e.dirFh !== null) {
      const type = e.mask & FAN_RENAME ? FAN_EVENT_INFO_TYPE_OLD_DFID_NAME : e.name !== null ? FAN_EVENT_INFO_TYPE_DFID_NAME : FAN_EVENT_INFO_TYPE_DFID;
      p += this.#fidRecord(dst, p, type, e.fsid, e.dirFh, e.name);
      first = type;
    }
    if (e.newDirFh !== null) {
      p += this.#fidRecord(dst, p, FAN_EVENT_INFO_TYPE_NEW_DFID_NAME, e.fsid, e.newDirFh, e.newName);
      first = first || FAN_EVENT_INFO_TYPE_NEW_DFID_NAME;
    }
    if (e.objFh !== null) {
      const fid = this.initFlags & FAN_FID_BITS;
      let type: number, name: string | null = null;
      if (fid === FAN_REPORT_FID || first !== 0) {
        type = FAN_EVENT_INFO_TYPE_FID;
      } else if ((fid & FAN_REPORT_NAME) && (e.mask & FAN_ONDIR)) {
        type = FAN_EVENT_INFO_TYPE_DFID_NAME;
        name = ".";
      } else if ((e.mask & FAN_DIRENT_EVENTS) || (e.mask & FAN_ONDIR)) {
        type = FAN_EVENT_INFO_TYPE_DFID;
      } else {
        type = FAN_EVENT_INFO_TYPE_FID;
      }
      p += this.#fidRecord(dst, p, type, e.fsid, e.objFh, name);
    }
    if (this.initFlags & FAN_REPORT_PIDFD && e.mask !== FAN_Q_OVERFLOW) {
      let pidfd = FAN_NOPIDFD;
      // FAN_NOPIDFD once the process is reaped (a zombie still has its pid's task).
      if (e.tg !== null && reader !== null && this.kernel.threadGroups.get(e.tg.tgid) === e.tg) {
        pidfd = reader.fdTable.install(new PidFd(this.kernel, e.tg, 0), true);
      }
      v.setUint8(p, FAN_EVENT_INFO_TYPE_PIDFD);
      v.setUint8(p + 1, 0);
      v.setUint16(p + 2, 8, true);
      v.setInt32(p + 4, pidfd, true);
      p += 8;
    }
  }

  /** struct fanotify_event_info_fid with its file_handle and name; returns its length. */
  #fidRecord(dst: Uint8Array, o: number, type: number, fsid: [number, number], h: Handle, name: string | null): number {
    const nb = name === null ? null : encodePath(name);
    const len = fidInfoLen(h, name);
    dst.fill(0, o, o + len);
    const v = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
    v.setUint8(o, type);
    v.setUint16(o + 2, len, true);
    v.setUint32(o + 4, fsid[0], true);
    v.setUint32(o + 8, fsid[1], true);
    v.setUint32(o + 12, h.bytes.length, true);
    v.setInt32(o + 16, h.type, true);
    dst.set(h.bytes, o + 20);
    if (nb !== null) dst.set(nb, o + 20 + h.bytes.length);
    return len;
  }

  /** A response to a permission event (struct fanotify_response { s32 fd; u32 response; }). */
  override write(src: Uint8Array, _offset: number | null): number {
    if (src.length < 8) throw EINVAL;
    const v = new DataView(src.buffer, src.byteOffset, src.byteLength);
    const fd = v.getInt32(0, true);
    const response = v.getUint32(4, true);
    // FANOTIFY_RESPONSE_VALID_MASK: the access bits, FAN_AUDIT, FAN_INFO, an errno in the top byte.
    if (response & ~(3 | FAN_AUDIT | FAN_INFO | 0xff000000)) throw EINVAL;
    const errno = response >>> 24;
    switch (response & 3) {
      case FAN_ALLOW:
        if (errno) throw EINVAL;
        break;
      case FAN_DENY:
        // A custom errno is for pre-content groups only.
        if (errno && !(this.initFlags & FAN_CLASS_PRE_CONTENT)) throw EINVAL;
        if (![0, 5, 1, 16, 26, 11, 28, 122].includes(errno)) throw EINVAL;
        break;
      default:
        throw EINVAL;
    }
    if ((response & FAN_AUDIT) && !(this.initFlags & FAN_ENABLE_AUDIT)) throw EINVAL;
    let ret = 0;
    if (response & FAN_INFO) {
      // struct fanotify_response_info_audit_rule: a header (type 1, pad, len 16) and two u32.
      const info = src.subarray(8);
      if (info.length < 4) throw EINVAL;
      const iv = new DataView(info.buffer, info.byteOffset, info.byteLength);
      if (iv.getUint8(0) !== 1 || iv.getUint16(2, true) !== 16 || info.length < 16) throw EINVAL;
      ret = info.length;
      if (fd === FAN_NOFD) return 8 + ret;
    }
    if (fd < 0) throw EINVAL;
    const e = this.#awaiting.get(fd);
    if (e === undefined) throw ENOENT;
    this.#awaiting.delete(fd);
    e.perm!.answer(e, response);
    return 8 + ret;
  }

  override readiness(mask: number): number {
    return this.events.length > 0 ? mask & (EVENT_IN | EVENT_RDNORM) : 0;
  }

  /** FIONREAD: the bytes of every queued event. */
  override ioctl(cmd: number, arg: number, io: MemoryIO): number {
    if (cmd !== FIONREAD) throw ENOTTY;
    let n = 0;
    for (const e of this.events) n += this.eventLen(e);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, n, true);
    io.copyOut(arg, b);
    return 0;
  }

  /** /proc/PID/fdinfo: the group's flags and one line per mark (fanotify_show_fdinfo). */
  override fdinfoExtra(): string {
    let s = `fanotify flags:${this.initFlags.toString(16)} event-flags:${this.eventFlags.toString(16)}\n`;
    // Newest first: Linux adds each mark at the head of the group's list.
    for (const m of [...this.marks].reverse()) {
      const mflags = (m.ignore !== 0 && m.survModify ? FAN_MARK_IGNORED_SURV_MODIFY : 0) | (m.evictable ? FAN_MARK_EVICTABLE : 0) |
        (m.ignoreFlags ? FAN_MARK_IGNORE : 0);
      const masks = `mflags:${mflags.toString(16)} mask:${(m.mask >>> 0).toString(16)} ignored_mask:${(m.ignore >>> 0).toString(16)}`;
      if (m.type === "inode") {
        const h = fidOf(m.dentry!);
        const hex = h === null ? "" : Array.from(h.bytes, (b) => b.toString(16).padStart(2, "0")).join("");
        s += `fanotify ino:${m.dentry!.ino.toString(16)} sdev:${fsidOf(m.fs)[0].toString(16)} ${masks} fhandle-bytes:${
          (h?.bytes.length ?? 0).toString(16)
        } fhandle-type:${(h?.type ?? 0).toString(16)} f_handle:${hex}\n`;
      } else if (m.type === "mount") {
        s += `fanotify mnt_id:${m.mount!.id.toString(16)} ${masks}\n`;
      } else {
        s += `fanotify sdev:${fsidOf(m.fs)[0].toString(16)} ${masks}\n`;
      }
    }
    return s;
  }

  /** fanotify_release: marks go, and every permission event pending or read is allowed. */
  protected override release(): void {
    this.#closed = true;
    liveGroups--;
    for (const m of [...this.marks]) detachMark(m);
    this.charge?.give(true, this.#charged);
    this.#charged = 0;
    for (const e of this.#awaiting.values()) e.perm!.answer(e, FAN_ALLOW);
    this.#awaiting.clear();
    for (const e of this.events.splice(0)) if (e.perm !== null) e.perm.answer(e, FAN_ALLOW);
    this.#mergeable.clear();
  }
}

/** Whether response denies (the errno the held syscall returns). */
export function permError(req: PermRequest): typeof EPERM | null {
  return req.denied ? EPERM : null;
}

setFanotifyHooks({ permActive: fanPermActive, armOpenPerm, heldOpen, accessPerm, cause: fanotifyCause });
