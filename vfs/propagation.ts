/**
 * Shared subtrees (Linux's Documentation/filesystems/sharedsubtree.rst, fs/pnode.c): peer
 * groups, masters and slaves, and which mounts receive a mount or unmount event.
 *
 * - A shared mount is in a {@linkcode PeerGroup}: a mount or unmount under one member happens
 *   under every member that shows the place (its root covers the mount point's dentry).
 * - A slave has a master (a mount of a peer group, or a lone mount that was one): events of the
 *   master's group reach the slave, never the other way. A slave may also be shared: the copies
 *   it receives then go to its own peers too.
 * - A private mount neither sends nor receives; an unbindable one is private and cannot be bound.
 *
 * This module keeps those relations. Making mounts and attaching them is vfs.ts's; it asks
 * {@linkcode propagationTargets} where copies go and {@linkcode setClonePropagation} how a copy
 * relates to its original.
 *
 * @module
 */

import type { Dentry } from "./dentry.ts";
import { type Mount, PeerGroup } from "./mount.ts";

/** @savable Peer group ids: the lowest free one, from 1, as Linux's mnt_alloc_group_id. */
export class GroupIds {
  readonly #used = new Set<number>();
  /** No id below this is free: the search starts here (a tree of thousands of groups allocates in O(1)). */
  #lowestFree = 1;

  alloc(): PeerGroup {
    let id = this.#lowestFree;
    while (this.#used.has(id)) id++;
    this.#used.add(id);
    this.#lowestFree = id + 1;
    return new PeerGroup(id);
  }

  free(id: number): void {
    this.#used.delete(id);
    if (id < this.#lowestFree) this.#lowestFree = id;
  }

  /** True when no group exists (every mount private or a slave of nothing). */
  get empty(): boolean {
    return this.#used.size === 0;
  }
}

/** How a copy relates to its original (Linux's CL_* flags of clone_mnt). */
/** The copy is a slave of the original. */
export const CL_SLAVE = 0x1;
/** The copy is private. */
export const CL_PRIVATE = 0x2;
/** The copy is shared: a peer of a shared original, else in a group of its own. */
export const CL_MAKE_SHARED = 0x4;
/** A shared original gives a slave copy (a namespace copied for a less privileged owner). */
export const CL_SHARED_TO_SLAVE = 0x8;

function join(m: Mount, g: PeerGroup): void {
  m.group = g;
  g.members.add(m);
}

function setMaster(m: Mount, master: Mount | null): void {
  m.master?.slaves.delete(m);
  m.master = master;
  master?.slaves.add(m);
}

/** Makes m shared: a peer group of its own unless it is in one. */
export function makeShared(m: Mount, ids: GroupIds): void {
  if (m.group === null) join(m, ids.alloc());
}

/** Takes m out of its peer group (the group's id is freed with its last member). */
function leaveGroup(m: Mount, ids: GroupIds): void {
  const g = m.group;
  if (g === null) return;
  g.members.delete(m);
  m.group = null;
  if (g.members.size === 0) ids.free(g.id);
}

/**
 * Linux's do_make_slave: m leaves its peer group and becomes a slave of a former peer (one
 * showing the same dentry if there is one), or of its own master when it had no peers; its
 * slaves go with it to that master (or become private when there is none). A private mount
 * stays private.
 */
function makeSlave(m: Mount, ids: GroupIds): void {
  let master: Mount | null = null;
  if (m.group !== null && m.group.members.size > 1) {
    // The first peer showing the same dentry, else the first peer (no copy of the group: a
    // group of thousands is left one member at a time by an unmount of all of them).
    for (const p of m.group.members) {
      if (p === m) continue;
      if (p.root === m.root) {
        master = p;
        break;
      }
      master ??= p;
    }
    leaveGroup(m, ids);
  } else {
    leaveGroup(m, ids);
    master = m.master;
  }
  for (const s of [...m.slaves]) setMaster(s, master);
  if (master !== null) setMaster(m, master);
}

/**
 * Changes m's propagation type (MS_SHARED, MS_SLAVE, MS_PRIVATE or MS_UNBINDABLE as "shared",
 * "slave", "private", "unbindable"), as Linux's change_mnt_propagation.
 */
export function changePropagation(m: Mount, type: "shared" | "slave" | "private" | "unbindable", ids: GroupIds): void {
  if (type === "shared") {
    makeShared(m, ids);
    return;
  }
  makeSlave(m, ids);
  if (type !== "slave") {
    setMaster(m, null);
    m.unbindable = type === "unbindable";
  }
}

/**
 * Relates the copy `mnt` to its original `old` (Linux's clone_mnt): a slave of it (CL_SLAVE,
 * or CL_SHARED_TO_SLAVE of a shared one), private (CL_PRIVATE), or like it: a peer of a shared
 * original, a slave of the same master. CL_MAKE_SHARED then makes the copy shared (a peer of
 * the original when the two are peers, else a group of its own).
 */
export function setClonePropagation(mnt: Mount, old: Mount, flag: number, ids: GroupIds): void {
  if ((flag & CL_SLAVE) || ((flag & CL_SHARED_TO_SLAVE) && old.shared)) {
    setMaster(mnt, old);
  } else if (!(flag & CL_PRIVATE)) {
    if (old.group !== null) join(mnt, old.group);
    if (old.master !== null) setMaster(mnt, old.master);
  }
  if (flag & CL_MAKE_SHARED) makeShared(mnt, ids);
}

/** Drops every propagation relation of m (an unmounted mount, a discarded copy), as umount_tree's MS_PRIVATE. */
export function dropPropagation(m: Mount, ids: GroupIds): void {
  changePropagation(m, "private", ids);
  m.unbindable = false;
}

/** Whether m shows dentry d: d is m's root or under it (Linux's is_subdir). */
export function covers(m: Mount, d: Dentry): boolean {
  for (let x: Dentry | null = d; x !== null; x = x.parent) if (x === m.root) return true;
  return false;
}

/** One copy a mount event makes: `from` is copied (with `flag`) and mounted on `on`. */
export interface PropagationStep {
  /** The mount to copy: the source tree, or a copy an earlier step made. */
  from: Mount;
  flag: number;
  /** The mount the copy goes on, at the event's dentry. */
  on: Mount;
}

/**
 * Where a mount of tree `source` on (dest, d) propagates (Linux's propagate_mnt), in order: every
 * peer of dest gets a shared copy (a peer of the source), then each slave group below, depth
 * first: its first member that shows d gets a slave copy of the nearest copy above it (shared
 * when the member is), its other members copies that are peers of that one. Mounts that do not
 * show d are passed over (their slaves then take the copy from further up), as are mounts not
 * in a tree yet (`ns` null: copies made by this event, detached mounts).
 *
 * `copy` makes each copy when asked (so later steps can name it); the caller attaches them.
 */
export function propagationTargets(
  dest: Mount,
  d: Dentry,
  source: Mount,
  copy: (step: PropagationStep) => Mount,
): Array<{ copy: Mount; on: Mount }> {
  const out: Array<{ copy: Mount; on: Mount }> = [];
  if (dest.group === null) return out;
  const seen = new Set<Mount>([dest]);
  // Depth first with a stack of its own (a chain of slaves may be thousands deep): each item is a
  // group to visit (by one of its members), the copy already made in it, the nearest copy above.
  const groupOf = (s: Mount): Mount[] => (s.group !== null ? [s, ...[...s.group.members].filter((p) => p !== s)] : [s]);
  const stack: Array<{ first: Mount; rep: Mount | null; masterRep: Mount }> = [{ first: dest, rep: source, masterRep: source }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (item.first !== dest && seen.has(item.first)) continue;
    const members = groupOf(item.first);
    let rep = item.rep;
    for (const m of members) {
      if (seen.has(m)) continue;
      seen.add(m);
      if (m.ns === null || !covers(m, d)) continue;
      const c = rep !== null
        ? copy({ from: rep, flag: CL_MAKE_SHARED, on: m })
        : copy({ from: item.masterRep, flag: CL_SLAVE | (m.shared ? CL_MAKE_SHARED : 0), on: m });
      rep ??= c;
      out.push({ copy: c, on: m });
    }
    const next = rep ?? item.masterRep;
    // Pushed in reverse: the first slave group is visited next, as a recursion would.
    const slaves: Mount[] = [];
    for (const m of members) for (const s of m.slaves) slaves.push(s);
    for (let i = slaves.length - 1; i >= 0; i--) {
      if (!seen.has(slaves[i]!)) stack.push({ first: slaves[i]!, rep: null, masterRep: next });
    }
  }
  return out;
}

/**
 * The mounts that receive events of m (its peers, its slaves and theirs, recursively), not m
 * itself: an unmount at a dentry of m unmounts what is mounted there in each (propagate_umount).
 */
export function receivers(m: Mount): Mount[] {
  const out: Mount[] = [];
  const seen = new Set<Mount>([m]);
  const stack: Mount[] = [m];
  while (stack.length > 0) {
    const x = stack.pop()!;
    const group = x.group !== null ? [...x.group.members] : [x];
    for (const p of group) {
      if (!seen.has(p)) {
        seen.add(p);
        out.push(p);
      }
    }
    for (const p of group) for (const s of p.slaves) if (!seen.has(s)) stack.push(s);
  }
  return out;
}
