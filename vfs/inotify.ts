/**
 * inotify instances: Linux's fs/notify/inotify. Watches and the hooks that produce events are
 * in vfs/fsnotify.ts; this is the queue an application reads.
 *
 * - Events are struct inotify_event { s32 wd; u32 mask, cookie, len; char name[len]; }, the
 *   name NUL-padded to a multiple of 16 bytes (len 0 without a name).
 * - An event identical to the last one still queued (wd, mask and name) is dropped
 *   (inotify_merge); IN_IGNORED never merges.
 * - At most MAX_QUEUED_EVENTS (/proc/sys/fs/inotify/max_queued_events) are queued; the next
 *   one becomes a single IN_Q_OVERFLOW with wd -1.
 * - read(2) returns whole events; a buffer too small for the first is EINVAL; an empty queue
 *   would block (EAGAIN). Readable while events are queued; FIONREAD gives their bytes.
 * - Watch descriptors count up from 1 per instance and are not reused.
 *
 * @module
 */

import { encodePath } from "../abi/path_bytes.ts";
import { AnonInodeFile } from "./anon_file.ts";
import { EAGAIN, EEXIST, EINVAL, ENOTTY } from "../kernel/errno.ts";
import { FIONREAD, O_RDONLY } from "../abi/linux/file.ts";
import { EVENT_IN, EVENT_RDNORM } from "../waiter/mod.ts";
import type { Dentry } from "./dentry.ts";
import type { MemoryIO } from "./file_description.ts";
import {
  attachWatch, detachWatch, IN_ALL_EVENTS, IN_EXCL_UNLINK, IN_IGNORED, IN_MASK_ADD, IN_MASK_CREATE,
  IN_ONESHOT, IN_Q_OVERFLOW, InotifyWatch, watchesOf, type WatchOwner,
} from "./fsnotify.ts";

/** /proc/sys/fs/inotify/max_queued_events. */
export const MAX_QUEUED_EVENTS = 16384;
const EVENT_HEADER = 16;

/** @savable One queued event; `size` is its length in a read buffer. */
export class InotifyEvent {
  readonly nameBytes: Uint8Array;
  readonly size: number;

  constructor(readonly wd: number, readonly mask: number, readonly cookie: number, readonly name: string) {
    this.nameBytes = name === "" ? new Uint8Array(0) : encodePath(name);
    this.size = EVENT_HEADER + (name === "" ? 0 : roundUp16(this.nameBytes.length + 1));
  }
}

function roundUp16(n: number): number {
  return (n + 15) & ~15;
}

/**
 * Whom an instance and its watches count against: its creator's effective uid in its user
 * namespace, in the kernel's per-user counts (kernel/ucounts.ts, Linux's ucounts
 * UCOUNT_INOTIFY_INSTANCES and UCOUNT_INOTIFY_WATCHES, max_user_instances and max_user_watches).
 */
export interface InotifyCharge {
  /** One more watch: ENOSPC at a limit (inotify_new_watch). */
  takeWatch(): void;
  /** Gives back the instance itself (when `instance`) and `watches` watches. */
  give(instance: boolean, watches: number): void;
}

/** @savable An inotify instance (inotify_init1). */
export class InotifyFile extends AnonInodeFile implements WatchOwner {
  readonly events: InotifyEvent[] = [];
  /** Bytes of the queued events (FIONREAD). */
  queuedBytes = 0;
  readonly watches = new Map<number, InotifyWatch>();
  nextWd = 1;
  /** The IN_Q_OVERFLOW event is in the queue (there is at most one). */
  overflowQueued = false;

  /**
   * Whom the instance and its watches count against (taken already for the instance; null:
   * uncounted, as an instance a checkpoint restores).
   */
  readonly charge: InotifyCharge | null;

  constructor(flags: number, charge: InotifyCharge | null = null) {
    super("anon_inode:inotify", O_RDONLY | flags);
    this.charge = charge;
  }

  /**
   * inotify_add_watch on a resolved dentry: a new watch, or the existing one's mask replaced
   * (or extended with IN_MASK_ADD; EEXIST with IN_MASK_CREATE). Returns the wd.
   */
  addWatch(d: Dentry, mask: number): number {
    const kept = mask & (IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK);
    const existing = watchesOf(d)?.find((w) => w.owner === this);
    if (existing !== undefined) {
      if (mask & IN_MASK_CREATE) throw EEXIST;
      existing.mask = (mask & IN_MASK_ADD) ? existing.mask | kept : kept;
      return existing.wd;
    }
    this.charge?.takeWatch();
    const w = new InotifyWatch(this, this.nextWd++, kept, d);
    this.watches.set(w.wd, w);
    attachWatch(w);
    return w.wd;
  }

  /** inotify_rm_watch: EINVAL for an unknown wd; the watch ends with IN_IGNORED. */
  removeWatch(wd: number): void {
    const w = this.watches.get(wd);
    if (w === undefined) throw EINVAL;
    detachWatch(w, true);
  }

  /**
   * A watch as a checkpoint restores it, with its own wd (EEXIST for a wd or a dentry this
   * instance already watches).
   */
  restoreWatch(d: Dentry, wd: number, mask: number): void {
    if (this.watches.has(wd) || watchesOf(d)?.some((w) => w.owner === this)) throw EEXIST;
    const w = new InotifyWatch(this, wd, mask & (IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK), d);
    this.watches.set(wd, w);
    attachWatch(w);
  }

  /** A queued event as a checkpoint restores it: appended as it was, never merged. */
  restoreEvent(e: InotifyEvent): void {
    if (e.mask === IN_Q_OVERFLOW) this.overflowQueued = true;
    this.#push(e);
  }

  watchGone(w: InotifyWatch): void {
    if (this.watches.delete(w.wd)) this.charge?.give(false, 1);
  }

  queueEvent(wd: number, mask: number, cookie: number, name: string): void {
    const q = this.events;
    const last = q[q.length - 1];
    if (q.length >= MAX_QUEUED_EVENTS) {
      if (this.overflowQueued) return;
      this.overflowQueued = true;
      this.#push(new InotifyEvent(-1, IN_Q_OVERFLOW, 0, ""));
      return;
    }
    if (last !== undefined && (last.mask & IN_IGNORED) === 0 && last.mask === mask && last.wd === wd && last.name === name) {
      return;
    }
    this.#push(new InotifyEvent(wd, mask, cookie, name));
  }

  #push(e: InotifyEvent): void {
    this.events.push(e);
    this.queuedBytes += e.size;
    this.waitQueue.notify(EVENT_IN | EVENT_RDNORM);
  }

  override read(dst: Uint8Array, _offset: number | null): number {
    const q = this.events;
    if (q.length === 0) throw EAGAIN;
    let o = 0, n = 0;
    const v = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
    while (n < q.length) {
      const e = q[n]!;
      if (o + e.size > dst.length) break;
      v.setInt32(o, e.wd, true);
      v.setUint32(o + 4, e.mask, true);
      v.setUint32(o + 8, e.cookie, true);
      v.setUint32(o + 12, e.size - EVENT_HEADER, true);
      dst.fill(0, o + EVENT_HEADER, o + e.size);
      dst.set(e.nameBytes, o + EVENT_HEADER);
      o += e.size;
      n++;
      if (e.mask === IN_Q_OVERFLOW) this.overflowQueued = false;
    }
    if (n === 0) throw EINVAL;
    q.splice(0, n);
    this.queuedBytes -= o;
    return o;
  }

  override readiness(mask: number): number {
    return this.events.length > 0 ? mask & (EVENT_IN | EVENT_RDNORM) : 0;
  }

  /** FIONREAD: the bytes of every queued event. */
  override ioctl(cmd: number, arg: number, io: MemoryIO): number {
    if (cmd !== FIONREAD) throw ENOTTY;
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, this.queuedBytes, true);
    io.copyOut(arg, b);
    return 0;
  }

  /** Closing the instance drops its watches silently. */
  protected override release(): void {
    for (const w of this.watches.values()) detachWatch(w, false);
    this.charge?.give(true, this.watches.size);
    this.watches.clear();
  }
}
