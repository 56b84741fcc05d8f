/**
 * User namespaces (user_namespaces(7), Linux's kernel/user_namespace.c). Credentials hold
 * kernel ids: the ids of the sandbox's initial namespace, whose maps are the identity. A task
 * in a child namespace sees every id through its namespace's maps (getuid, stat, ...): an id
 * its namespace does not map appears as the overflow id 65534, and an id it names that maps
 * nowhere is EINVAL. unshare(2) or clone(2) with CLONE_NEWUSER make a child namespace owned
 * by the caller's effective ids, with empty maps that /proc/PID/uid_map and gid_map set once.
 *
 * Capabilities are held in one namespace (the task's own) and its descendants; a namespace's
 * owner also holds every capability in it from the parent namespace (Linux's cap_capable,
 * Credentials.capableIn).
 *
 * A leaf module: vfs/ (procfs's map files) imports it.
 *
 * @module
 */

import { EINVAL, EPERM } from "./errno.ts";
import type { Credentials } from "./creds.ts";
import { CAP_SETFCAP, CAP_SETGID, CAP_SETUID, CAP_SYS_ADMIN } from "../abi/linux/capability.ts";

/** The id shown for a kernel id the viewer's namespace does not map (overflowuid, overflowgid). */
export const OVERFLOW_ID = 65534;
/** (u32)-1: not an id; no map maps it. */
const NO_ID = 0xffffffff;
/** The most extents one map holds (UID_GID_MAP_MAX_EXTENTS). */
export const MAX_EXTENTS = 340;
/** How deep namespaces nest: a namespace at this level makes no child (create_user_ns, ENOSPC). */
export const MAX_LEVEL = 32;

/** One line of a map: ids [first, first+count) of the namespace are [lowerFirst, ...) of the kernel's. */
export interface IdExtent {
  readonly first: number;
  /** A kernel id (the parent namespace's id as written, mapped down). */
  readonly lowerFirst: number;
  readonly count: number;
}

/** A uid, gid or project id map: empty until written, then fixed. */
export class IdMap {
  constructor(readonly extents: readonly IdExtent[] = []) {}

  get empty(): boolean {
    return this.extents.length === 0;
  }

  /** The kernel id of [id, id+count) of the namespace, or -1 unless one extent holds it all (map_id_range_down). */
  downRange(id: number, count: number): number {
    if (id === NO_ID) return -1;
    const last = id + count - 1;
    for (const e of this.extents) {
      if (id >= e.first && last <= e.first + e.count - 1) return e.lowerFirst + (id - e.first);
    }
    return -1;
  }

  /** The kernel id of namespace id `id`, or -1 (map_id_down). */
  down(id: number): number {
    return this.downRange(id, 1);
  }

  /** The namespace's id of kernel id `kid`, or -1 (map_id_up). */
  up(kid: number): number {
    for (const e of this.extents) {
      if (kid >= e.lowerFirst && kid <= e.lowerFirst + e.count - 1) return e.first + (kid - e.lowerFirst);
    }
    return -1;
  }
}

/** The initial namespace's maps: every id but (u32)-1 is itself. */
const IDENTITY = new IdMap([{ first: 0, lowerFirst: 0, count: NO_ID }]);

/**
 * @savable (refused: a checkpoint refuses a task in a namespace of its own) One user namespace.
 * The maps and the setgroups flag change once each, through /proc/PID/{uid,gid}_map and
 * /proc/PID/setgroups; the rest is fixed at creation.
 */
export class UserNamespace {
  uidMap: IdMap;
  gidMap: IdMap;
  projidMap: IdMap;
  /** /proc/PID/setgroups: "allow" until "deny" is written (USERNS_SETGROUPS_ALLOWED); children inherit it. */
  setgroupsAllowed: boolean;
  readonly level: number;
  /**
   * What the tasks, signals, queue bytes and locked pages of this namespace's users may add up
   * to for its owner in the parent namespace, by kernel/ucounts.ts's UCOUNT_RLIMIT_* kind: the
   * creator's soft limits when it was made (create_user_ns's set_userns_rlimit_max). Unlimited
   * for the initial namespace, which has no parent to count in.
   */
  rlimitMax: readonly number[] = [Infinity, Infinity, Infinity, Infinity];

  constructor(
    readonly parent: UserNamespace | null,
    /** The creator's effective uid and gid (kernel ids). */
    readonly owner: number,
    readonly group: number,
    /** The nsfs inode number (/proc/PID/ns/user). */
    readonly ino: number,
    /** Whether the creator held CAP_SETFCAP: needed to map uid 0 from inside (verify_root_map). */
    readonly parentCouldSetfcap: boolean,
  ) {
    this.level = parent === null ? 0 : parent.level + 1;
    this.setgroupsAllowed = parent?.setgroupsAllowed ?? true;
    const maps = parent === null ? IDENTITY : new IdMap();
    this.uidMap = maps;
    this.gidMap = maps;
    this.projidMap = maps;
  }

  /** The kernel uid of this namespace's `uid`, or -1 when it maps nowhere (make_kuid). */
  kuid(uid: number): number {
    return this.uidMap.down(uid >>> 0);
  }

  kgid(gid: number): number {
    return this.gidMap.down(gid >>> 0);
  }

  /** This namespace's id for kernel uid `kuid`, or -1 (from_kuid). */
  fromKuid(kuid: number): number {
    return this.uidMap.up(kuid);
  }

  fromKgid(kgid: number): number {
    return this.gidMap.up(kgid);
  }

  /** As fromKuid, with the overflow id for an unmapped one (from_kuid_munged). */
  uidOf(kuid: number): number {
    const id = this.uidMap.up(kuid);
    return id < 0 ? OVERFLOW_ID : id;
  }

  gidOf(kgid: number): number {
    const id = this.gidMap.up(kgid);
    return id < 0 ? OVERFLOW_ID : id;
  }

  /** Whether `ns` is this namespace or one of its descendants. */
  contains(ns: UserNamespace): boolean {
    for (let n: UserNamespace | null = ns; n !== null; n = n.parent) if (n === this) return true;
    return false;
  }
}

/** The sandbox's initial user namespace (init_user_ns): identity maps, owned by root. */
export const INIT_USER_NS = new UserNamespace(null, 0, 0, 4026531837, true);

/**
 * The kernel id of a host file's owner or group that a bundle's linux.uidMappings/gidMappings
 * do not map (vfs/hostfs HostIdMap). Under runc such an owner is a host id the container's
 * user namespace does not map: the container sees 65534, and its root's CAP_DAC_OVERRIDE,
 * CAP_FOWNER, CAP_CHOWN... do not apply to the file (capable_wrt_inode_uidgid,
 * privileged_wrt_inode_uidgid). The sandbox's initial namespace stands for the container's, so
 * with a mapping it maps every id but this one ({@linkcode reserveUnmappedHostId}): stat shows
 * it as the overflow id, and every capability check over the file fails as Linux's, through
 * the same code as for a namespace made inside the sandbox. (u32)-2, as no range of a real
 * mapping reaches it: a container that calls setuid(4294967294) gets EINVAL, as in a user
 * namespace whose map stops short of it.
 */
export const UNMAPPED_HOST_ID = 0xfffffffe;

/** Makes the initial namespace leave {@linkcode UNMAPPED_HOST_ID} unmapped (a bundle with id mappings). */
export function reserveUnmappedHostId(): void {
  const m = new IdMap([{ first: 0, lowerFirst: 0, count: UNMAPPED_HOST_ID }]);
  INIT_USER_NS.uidMap = m;
  INIT_USER_NS.gidMap = m;
}

/** Where namespaces of every kind take their nsfs inode numbers after the initial ones. */
export class NsInodes {
  #next = 4026532300;

  next(): number {
    return this.#next++;
  }
}

/** Which map of a namespace a /proc/PID/*_map file shows. */
export type IdMapKind = "uid" | "gid" | "projid";

const PAGE_SIZE = 4096;
/** The extents of one map that Linux keeps unsorted, in the order written (UID_GID_MAP_MAX_BASE_EXTENTS). */
const MAX_BASE_EXTENTS = 5;

/**
 * /proc/PID/{uid,gid,projid}_map as read by a descriptor opened with `opener`'s credentials
 * (uid_m_show): "first lower count" per extent, the lower ids as the opener's namespace sees
 * them, or as its parent's when the opener reads its own namespace's map; an id it does not map
 * is 4294967295. More than 5 extents are listed by first id, as Linux sorts them.
 */
export function renderIdMap(ns: UserNamespace, kind: IdMapKind, opener: Credentials): string {
  const map = kind === "uid" ? ns.uidMap : kind === "gid" ? ns.gidMap : ns.projidMap;
  let lowerNs = opener.userNs;
  if (lowerNs === ns && lowerNs.parent !== null) lowerNs = lowerNs.parent;
  const extents = map.extents.length > MAX_BASE_EXTENTS ? [...map.extents].sort((a, b) => a.first - b.first) : map.extents;
  const lowerMap = kind === "uid" ? lowerNs.uidMap : kind === "gid" ? lowerNs.gidMap : lowerNs.projidMap;
  const col = (n: number) => String(n >>> 0).padStart(10);
  return extents.map((e) => `${col(e.first)} ${col(lowerMap.up(e.lowerFirst))} ${col(e.count)}\n`).join("");
}

/** isspace() of the kernel's ctype: space, \t, \n, \v, \f, \r. */
function isSpace(c: number | undefined): boolean {
  return c === 0x20 || (c !== undefined && c >= 0x09 && c <= 0x0d);
}

/**
 * Parses the text of a map write as Linux's map_write: lines of "first lower count" (ids as
 * unsigned decimal, wrapped to 32 bits as simple_strtoul's result stored in a u32), spaces
 * around the fields, a newline ending each line but the last (one final newline is allowed);
 * no id (u32)-1, no empty or wrapping range, no overlap with an earlier line in either column,
 * at most 340 lines. Anything else is EINVAL.
 */
function parseIdMap(text: Uint8Array): IdExtent[] {
  const extents: IdExtent[] = [];
  let i = 0;
  const skipSpaces = (end: number) => {
    while (i < end && isSpace(text[i])) i++;
  };
  const number = (end: number) => {
    let v = 0;
    while (i < end && text[i]! >= 0x30 && text[i]! <= 0x39) v = (v * 10 + (text[i++]! - 0x30)) % 0x1_0000_0000;
    return v;
  };
  for (let pos: number | null = 0; pos !== null;) {
    i = pos;
    let end = text.indexOf(0x0a, i);
    let next: number | null = null;
    if (end < 0) end = text.length;
    else if (end + 1 < text.length) next = end + 1;
    skipSpaces(end);
    const first = number(end);
    if (i >= end || !isSpace(text[i])) throw EINVAL;
    skipSpaces(end);
    const lowerFirst = number(end);
    if (i >= end || !isSpace(text[i])) throw EINVAL;
    skipSpaces(end);
    const count = number(end);
    if (i < end && !isSpace(text[i])) throw EINVAL;
    skipSpaces(end);
    if (i !== end) throw EINVAL;
    if (first === NO_ID || lowerFirst === NO_ID) throw EINVAL;
    if (count === 0 || first + count > NO_ID || lowerFirst + count > NO_ID) throw EINVAL;
    const overlaps = extents.some((e) =>
      (first <= e.first + e.count - 1 && e.first <= first + count - 1) ||
      (lowerFirst <= e.lowerFirst + e.count - 1 && e.lowerFirst <= lowerFirst + count - 1)
    );
    if (overlaps) throw EINVAL;
    if (extents.length + 1 === MAX_EXTENTS && next !== null) throw EINVAL;
    extents.push({ first, lowerFirst, count });
    pos = next;
  }
  return extents;
}

/**
 * A write of `data` at file offset `offset` to /proc/PID/{uid,gid,projid}_map of namespace `ns`,
 * through a descriptor opened with `opener`'s credentials, by a task with `writer`'s (Linux's
 * proc_*_map_write and map_write). Once per map; only into a child namespace, by its own tasks
 * or its parent's (EPERM). The text must be at offset 0 and shorter than a page (EINVAL), up to
 * its first NUL. Uid and gid maps need the opener to hold CAP_SYS_ADMIN in the namespace, and
 * then either one id of the opener's own (an unprivileged map: one line of count 1 whose parent
 * id is the opener's euid, or egid once setgroups is denied, in a namespace the opener owns), or
 * CAP_SETUID/CAP_SETGID over the parent namespace for both writer and opener; mapping the
 * parent's uid 0 needs CAP_SETFCAP (verify_root_map). The parent ids must be mapped by the
 * parent's own map (EPERM).
 */
export function writeIdMap(
  ns: UserNamespace,
  kind: IdMapKind,
  data: Uint8Array,
  offset: number,
  opener: Credentials,
  writer: Credentials,
): void {
  const parent = ns.parent;
  if (parent === null) throw EPERM;
  if (opener.userNs !== ns && opener.userNs !== parent) throw EPERM;
  if (offset !== 0 || data.length >= PAGE_SIZE) throw EINVAL;
  const nul = data.indexOf(0);
  const text = nul < 0 ? data : data.subarray(0, nul);
  const current = kind === "uid" ? ns.uidMap : kind === "gid" ? ns.gidMap : ns.projidMap;
  if (!current.empty) throw EPERM;
  const capSetid = kind === "uid" ? CAP_SETUID : kind === "gid" ? CAP_SETGID : -1;
  if (capSetid >= 0 && !opener.capableIn(ns, CAP_SYS_ADMIN)) throw EPERM;
  const extents = parseIdMap(text);
  if (extents.length === 0) throw EINVAL;
  if (!idMapPermitted(ns, kind, extents, opener, writer)) throw EPERM;
  const parentMap = kind === "uid" ? parent.uidMap : kind === "gid" ? parent.gidMap : parent.projidMap;
  const mapped = extents.map((e) => {
    const lower = parentMap.downRange(e.lowerFirst, e.count);
    if (lower < 0) throw EPERM;
    return { first: e.first, lowerFirst: lower, count: e.count };
  });
  const map = new IdMap(mapped);
  if (kind === "uid") ns.uidMap = map;
  else if (kind === "gid") ns.gidMap = map;
  else ns.projidMap = map;
}

/** Linux's new_idmap_permitted and verify_root_map, on the extents as written (parent ids). */
function idMapPermitted(ns: UserNamespace, kind: IdMapKind, extents: IdExtent[], opener: Credentials, writer: Credentials): boolean {
  const parent = ns.parent!;
  if (kind === "uid" && extents.some((e) => e.lowerFirst === 0)) {
    // Mapping the parent's root: the creator had CAP_SETFCAP (a task writing its own map), or
    // the opener has it over the parent.
    const ok = opener.userNs === ns ? ns.parentCouldSetfcap : opener.capableIn(parent, CAP_SETFCAP);
    if (!ok) return false;
  }
  if (extents.length === 1 && extents[0]!.count === 1 && ns.owner === opener.euid) {
    const id = extents[0]!.lowerFirst;
    if (kind === "uid" && parent.kuid(id) === opener.euid) return true;
    if (kind === "gid" && !ns.setgroupsAllowed && parent.kgid(id) === opener.egid) return true;
  }
  if (kind === "projid") return true;
  const cap = kind === "uid" ? CAP_SETUID : CAP_SETGID;
  return writer.capableIn(parent, cap) && opener.capableIn(parent, cap);
}

/** /proc/PID/setgroups's text. */
export function renderSetgroups(ns: UserNamespace): string {
  return ns.setgroupsAllowed ? "allow\n" : "deny\n";
}

/**
 * A write to /proc/PID/setgroups (proc_setgroups_write): at offset 0, under 8 bytes, "allow" or
 * "deny" and nothing but spaces after it up to a NUL or the end (EINVAL); "allow" once denied,
 * or "deny" once the gid map is written, is EPERM. Denying is for good, and for the namespaces
 * made in this one later.
 */
export function writeSetgroups(ns: UserNamespace, data: Uint8Array, offset: number): void {
  if (offset !== 0 || data.length >= 8) throw EINVAL;
  const nul = data.indexOf(0);
  const text = new TextDecoder().decode(nul < 0 ? data : data.subarray(0, nul));
  let allow: boolean, rest: string;
  if (text.startsWith("allow")) [allow, rest] = [true, text.slice(5)];
  else if (text.startsWith("deny")) [allow, rest] = [false, text.slice(4)];
  else throw EINVAL;
  if (![...rest].every((ch) => isSpace(ch.charCodeAt(0)))) throw EINVAL;
  if (allow) {
    if (!ns.setgroupsAllowed) throw EPERM;
  } else {
    if (!ns.gidMap.empty) throw EPERM;
    ns.setgroupsAllowed = false;
  }
}
