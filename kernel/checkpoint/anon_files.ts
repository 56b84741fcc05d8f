/**
 * Checkpoint of the anonymous-inode files every event loop holds (issue #13; docs/checkpoint.md):
 * eventfd (its counter), timerfd (its deadline on the monotonic clock, which continues across a
 * restore, so the remaining time is kept; its interval and unread expirations), signalfd (its
 * mask and the process it reads for), epoll (its interest list, each registration's events
 * and data, and its ready list in order) and inotify (its watches by the path of the file each
 * watches, with their wd and mask, the next wd, and the events queued and not read).
 *
 * Restore is in passes, because an epoll set names files made after it: make each file
 * ({@linkcode makeAnonFile}, once the processes exist: a signalfd names one), then, once every
 * file exists, an epoll set's registrations ({@linkcode linkAnonFile}), and last the timers
 * ({@linkcode armAnonFile}, after the monotonic clock was continued).
 *
 * @module
 */

import { intIn, lazyKind, z } from "./zod_tree.ts";
import type { Kernel } from "../kernel.ts";
import { ThreadGroup } from "../thread_group.ts";
import { Limits } from "../limits.ts";
import { SignalHandlers } from "../signals.ts";
import type { EventFd } from "../../vfs/eventfd.ts";
import type { TimerFd } from "../timerfd.ts";
import type { SignalFd } from "../signalfd.ts";
import type { EpollInstance } from "../../vfs/epoll.ts";
import { InotifyEvent, InotifyFile, MAX_QUEUED_EVENTS } from "../../vfs/inotify.ts";
import { IN_Q_OVERFLOW } from "../../vfs/fsnotify.ts";
import type { Dentry } from "../../vfs/dentry.ts";
import { Location } from "../../vfs/mount.ts";
import { Credentials } from "../creds.ts";
import type { FileDescription } from "../../vfs/file_description.ts";
import { LinuxError } from "../errno.ts";
import { ImageError } from "./image.ts";

const u32 = intIn(0, 0xffff_ffff);
const SI_KERNEL = 0x80;
/** A 64-bit value as hex digits (CBOR's integers round-trip as doubles). */
const hex64 = z.string().regex(/^[0-9a-f]{1,16}$/);
/** A time on the monotonic clock, ns. */
const ns = intIn(0, 2 ** 62);
/** The clocks timerfd_create accepts: REALTIME, MONOTONIC, BOOTTIME, REALTIME_ALARM, BOOTTIME_ALARM. */
const timerClock = z.union([z.literal(0), z.literal(1), z.literal(7), z.literal(8), z.literal(9)]);

// Each built at the first file of its kind an image holds (zod_tree.ts lazyKind).
export const anonFileSchemas = [
  lazyKind("eventfd", () => z.object({ kind: z.literal("eventfd"), flags: u32, counter: hex64, semaphore: z.boolean() }).strict()),
  lazyKind("timerfd", () => z.object({
    kind: z.literal("timerfd"),
    flags: u32,
    clock: timerClock,
    deadlineNs: ns.nullable(),
    intervalNs: ns,
    ticks: hex64,
  }).strict()),
  /**
   * tgid: the process the file reads pending signals of when no thread of it is current.
   * `exited`: that process has exited: it is a zombie of the image (`zombie`), or was reaped
   * and is kept by the file alone, with the signals left pending in it (`pending`, a mask: only
   * the file's readiness outside a syscall looks at them).
   */
  lazyKind("signalfd", () => z.object({
    kind: z.literal("signalfd"),
    flags: u32,
    mask: hex64,
    tgid: intIn(1, 1 << 22),
    exited: z.object({ zombie: z.boolean(), pending: hex64 }).strict().optional(),
  }).strict()),
  lazyKind("epoll", () => z.object({
    kind: z.literal("epoll"),
    flags: u32,
    /** Registrations: the watched description (an index of the image's files) and the fd it was added with. */
    items: z.array(z.object({ file: u32, fd: intIn(0, 1 << 30), events: u32, data: hex64 }).strict())
      .max(1 << 20),
    /** The ready list: indices of items, in order. */
    ready: z.array(u32).max(1 << 20),
  }).strict()),
  lazyKind("inotify", () => z.object({
    kind: z.literal("inotify"),
    flags: u32,
    nextWd: intIn(1, 0x7fff_ffff),
    /** Each watch: its wd, its mask (events, IN_ONESHOT, IN_EXCL_UNLINK) and the file's path. */
    watches: z.array(z.object({
      wd: intIn(1, 0x7fff_ffff),
      mask: u32,
      path: z.string().max(4096).refine((p) => p.startsWith("/"), "must be absolute"),
    }).strict()).max(1 << 20),
    /** Queued events in order (wd -1: the overflow event). */
    events: z.array(z.object({
      wd: intIn(-1, 0x7fff_ffff),
      mask: u32,
      cookie: u32,
      name: z.string().max(255).refine((n) => !n.includes("/") && !n.includes("\0"), "not a file name"),
    }).strict()).max(MAX_QUEUED_EVENTS + 1),
  }).strict()),
] as const;

type AnonSchema = (typeof anonFileSchemas)[number];
export type SavedAnonFile = z.infer<AnonSchema>;

/** Why a file is not saved, in one line. */
export type Refuse = (what: string) => Error;

function hex(v: bigint): string {
  return BigInt.asUintN(64, v).toString(16);
}

/**
 * The path by which the sandbox's root reaches dentry d (the mount that shows it, and its path
 * from there), checked by resolving it again; null when no path leads to it (removed, renamed
 * away, or a dentry a filesystem makes anew at each lookup).
 */
function pathOf(k: Kernel, d: Dentry): string | null {
  const root = k.vfs.root();
  for (const m of k.vfs.mounts()) {
    let up: Dentry | null = d;
    while (up !== null && up !== m.root) up = up.parent;
    if (up === null) continue;
    const path = new Location(m, d).path();
    try {
      if (k.vfs.resolve({ root, creds: Credentials.root() }, root, path, { follow: false }).dentry === d) return path;
    } catch { /* not reached from here */ }
  }
  return null;
}

/** The classes of the files this module saves and makes, but inotify's. */
export interface AnonFileClasses {
  EventFd: typeof EventFd;
  TimerFd: typeof TimerFd;
  SignalFd: typeof SignalFd;
  EpollInstance: typeof EpollInstance;
}

/**
 * Their modules are the lazily loaded syscall families' (eventfd2, timerfd_create, signalfd4,
 * epoll_create1 load them at their first call), each a chunk of its own in the launcher's
 * bundle: imported here, they were four more modules for every restore to load (one for each
 * file, ~0.5 ms of CPU each), an idle shell's that has none of these files too. A checkpoint
 * has them (save.ts imports them and hands them over: setAnonFileClasses); a restore loads them
 * for an image that holds such a file (loadAnonFileClasses, before restoreSandbox).
 */
let known: AnonFileClasses | null = null;

/** Hands over the classes (save.ts, which imports their modules). */
export function setAnonFileClasses(c: AnonFileClasses): void {
  known = c;
}

/** Loads the classes' modules (once), for restoring an image that holds one of their files. */
export async function loadAnonFileClasses(): Promise<void> {
  if (known !== null) return;
  const [e, t, s, p] = await Promise.all([
    import("../../vfs/eventfd.ts"), import("../timerfd.ts"), import("../signalfd.ts"), import("../../vfs/epoll.ts"),
  ]);
  known = { EventFd: e.EventFd, TimerFd: t.TimerFd, SignalFd: s.SignalFd, EpollInstance: p.EpollInstance };
}

/** The kinds of saved file whose classes loadAnonFileClasses loads. */
export const ANON_CLASS_KINDS: ReadonlySet<string> = new Set(["eventfd", "timerfd", "signalfd", "epoll"]);

function classes(): AnonFileClasses {
  if (known === null) throw new Error("checkpoint: the eventfd, timerfd, signalfd and epoll modules are not loaded (loadAnonFileClasses)");
  return known;
}

/**
 * The saved form of f if it is one of these files, else null. `fileRef` saves (or finds) another
 * description and returns its index; `live` says whether a process is in the image.
 */
export function saveAnonFile(
  k: Kernel, f: FileDescription, fileRef: (f: FileDescription) => number, live: (tg: ThreadGroup) => boolean, refuse: Refuse,
): SavedAnonFile | null {
  const { EventFd, TimerFd, SignalFd, EpollInstance } = classes();
  if (f instanceof InotifyFile) {
    const watches = [...f.watches.values()].map((w) => {
      const path = pathOf(k, w.dentry);
      if (path === null) throw refuse(`an inotify watch on a file that is no longer at a path (${w.dentry.name})`);
      return { wd: w.wd, mask: w.mask >>> 0, path };
    });
    return {
      kind: "inotify", flags: f.flags, nextWd: f.nextWd, watches,
      events: f.events.map((e) => ({ wd: e.wd, mask: e.mask >>> 0, cookie: e.cookie >>> 0, name: e.name })),
    };
  }
  if (f instanceof EventFd) return { kind: "eventfd", flags: f.flags, counter: hex(f.counter), semaphore: f.semaphore };
  if (f instanceof TimerFd) {
    return {
      kind: "timerfd", flags: f.flags, clock: f.clock as 0 | 1 | 7 | 8 | 9, deadlineNs: f.deadlineNs === null ? null : Math.ceil(f.deadlineNs),
      intervalNs: f.intervalNs, ticks: hex(f.ticks),
    };
  }
  if (f instanceof SignalFd) {
    const saved = { kind: "signalfd" as const, flags: f.flags, mask: hex(f.mask), tgid: f.tg.tgid };
    if (live(f.tg)) return saved;
    // Its creator exited: a zombie of the sandbox (saved with it), or reaped and kept by the file.
    const zombie = k.threadGroups.get(f.tg.tgid) === f.tg;
    let pending = f.tg.sharedPending.mask;
    for (const t of f.tg.tasks) pending |= t.pendingSignals.mask;
    return { ...saved, exited: { zombie, pending: hex(pending) } };
  }
  if (f instanceof EpollInstance) {
    const { items, ready } = f.registrations();
    const index = new Map(items.map((it, i) => [it, i]));
    return {
      kind: "epoll",
      flags: f.flags,
      items: items.map((it) => ({ file: fileRef(it.file), fd: it.fd, events: it.events >>> 0, data: hex(it.data) })),
      ready: ready.map((it) => index.get(it)!),
    };
  }
  return null;
}

/**
 * A process reaped before the checkpoint that a signalfd still names (Linux keeps its
 * signal_struct for the file): exited, with no thread, signals `pending` left in it; known to
 * no kernel. Its memory is another process's (never used: it has no thread).
 */
function reapedProcess(tgid: number, pending: bigint, groups: ReadonlyMap<number, ThreadGroup>): ThreadGroup | undefined {
  const any = groups.values().next().value;
  if (any === undefined) return undefined;
  const tg = new ThreadGroup({ tgid, mm: any.mm, parent: null, limits: new Limits(), handlers: new SignalHandlers(), pgid: 0, sid: 0 });
  tg.zombie = true;
  for (let sig = 1; sig <= 64; sig++) if ((pending >> BigInt(sig - 1)) & 1n) tg.sharedPending.add({ signo: sig, code: SI_KERNEL });
  return tg;
}

/** Makes the file (first pass, once every process exists): an epoll set without its registrations. */
export function makeAnonFile(k: Kernel, s: SavedAnonFile, groups: ReadonlyMap<number, ThreadGroup>): FileDescription {
  const { EventFd, TimerFd, SignalFd, EpollInstance } = s.kind === "inotify" ? {} as AnonFileClasses : classes();
  switch (s.kind) {
    case "eventfd": {
      const counter = BigInt(`0x${s.counter}`);
      // ULLONG_MAX is the one value a counter never holds (eventfd.ts).
      if (counter === 0xffff_ffff_ffff_ffffn) throw new ImageError("restore: an eventfd's counter is 2^64-1");
      const f = new EventFd(0, s.semaphore, 0);
      f.counter = counter;
      f.flags = s.flags;
      return f;
    }
    case "timerfd": {
      const f = new TimerFd(k, s.clock, 0);
      f.flags = s.flags;
      f.deadlineNs = s.deadlineNs;
      f.intervalNs = s.intervalNs;
      f.ticks = BigInt(`0x${s.ticks}`);
      return f;
    }
    case "signalfd": {
      const tg = s.exited?.zombie === false ? reapedProcess(s.tgid, BigInt(`0x${s.exited.pending}`), groups) : groups.get(s.tgid);
      if (tg === undefined || tg.zombie !== (s.exited !== undefined)) {
        throw new ImageError(`restore: a signalfd names process ${s.tgid}, which the image does not ${s.exited !== undefined ? "hold as a zombie" : "run"}`);
      }
      // SIGKILL and SIGSTOP are never read through a signalfd (signalfd.ts).
      const f = new SignalFd(k, tg, BigInt(`0x${s.mask}`) & ~((1n << 8n) | (1n << 18n)), 0);
      f.flags = s.flags;
      return f;
    }
    case "epoll": {
      const f = new EpollInstance(0);
      f.flags = s.flags;
      return f;
    }
    case "inotify": {
      const f = new InotifyFile(0);
      f.flags = s.flags;
      f.nextWd = s.nextWd;
      const root = k.vfs.root();
      for (const w of s.watches) {
        if (w.wd >= s.nextWd) throw new ImageError(`restore: an inotify watch has wd ${w.wd}, past the next ${s.nextWd}`);
        let d: Dentry;
        try {
          d = k.vfs.resolve({ root, creds: Credentials.root() }, root, w.path, { follow: false }).dentry;
        } catch {
          throw new ImageError(`restore: the file ${w.path} an inotify watch watches is gone`);
        }
        try {
          f.restoreWatch(d, w.wd, w.mask);
        } catch {
          throw new ImageError(`restore: an inotify instance watches ${w.path} or wd ${w.wd} twice`);
        }
      }
      for (const e of s.events) {
        if ((e.wd === -1) !== (e.mask === IN_Q_OVERFLOW) || e.wd >= s.nextWd) {
          throw new ImageError(`restore: an inotify event names wd ${e.wd}`);
        }
        f.restoreEvent(new InotifyEvent(e.wd, e.mask, e.cookie, e.name));
      }
      return f;
    }
  }
}

/** Second pass, once every file exists: an epoll set's registrations. */
export function linkAnonFile(f: FileDescription, s: SavedAnonFile, files: readonly FileDescription[]): void {
  if (s.kind !== "epoll") return;
  const items = s.items.map((it) => {
    const file = files[it.file];
    if (file === undefined || file === f) throw new ImageError(`restore: an epoll set watches file ${it.file}`);
    return { file, fd: it.fd, events: it.events, data: BigInt(`0x${it.data}`) };
  });
  try {
    (f as EpollInstance).restoreRegistrations(items, s.ready);
  } catch (err) {
    if (!(err instanceof LinuxError)) throw err;
    throw new ImageError(`restore: an epoll set's registrations are refused (${err.message})`);
  }
}

/** Third pass, after the monotonic clock continues: a timerfd's deadline goes back on the loop. */
export function armAnonFile(k: Kernel, f: FileDescription): void {
  // (No TimerFd exists before its module is loaded: an idle shell's files are not looked at.)
  if (known !== null && f instanceof known.TimerFd && f.deadlineNs !== null) k.addDeadline(f);
}

