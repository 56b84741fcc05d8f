/**
 * POSIX access control lists, as Linux's fs/posix_acl.c: the xattr form
 * (system.posix_acl_access, system.posix_acl_default), validation, the permission check, and
 * how an ACL and a file's mode follow each other (setting an ACL sets the mode, chmod rewrites
 * the ACL, a directory's default ACL shapes what is created in it).
 *
 * An ACL is a list of entries in the order the caller gave them (Linux does not sort; a valid
 * list is USER_OBJ, USER..., GROUP_OBJ, GROUP..., MASK, OTHER). Filesystems that keep ACLs
 * (tmpfs, the overlay through its upper layer) store them parsed (see Dentry.acl); the VFS
 * does the rest (vfs/vfs.ts).
 *
 * @module
 */

import { EACCES, EINVAL, EOPNOTSUPP } from "../kernel/errno.ts";
import type { Credentials } from "../kernel/creds.ts";

export const XATTR_POSIX_ACL_ACCESS = "system.posix_acl_access";
export const XATTR_POSIX_ACL_DEFAULT = "system.posix_acl_default";

export const ACL_USER_OBJ = 0x01;
export const ACL_USER = 0x02;
export const ACL_GROUP_OBJ = 0x04;
export const ACL_GROUP = 0x08;
export const ACL_MASK = 0x10;
export const ACL_OTHER = 0x20;
const ACL_UNDEFINED_ID = 0xffffffff;
const POSIX_ACL_XATTR_VERSION = 2;
const HEADER = 4, ENTRY = 8;

/** One entry: a tag, rwx bits, and a uid or gid for ACL_USER and ACL_GROUP. */
export interface AclEntry {
  readonly tag: number;
  readonly perm: number;
  /** The uid (ACL_USER) or gid (ACL_GROUP); ACL_UNDEFINED_ID for the others. */
  readonly id: number;
}

/** An ACL: immutable, replaced as a whole. */
export type Acl = readonly AclEntry[];

/** Which of the two ACLs of a file. */
export type AclType = "access" | "default";

/** The ACL type an xattr name names, or null when it names none. */
export function aclTypeOf(name: string): AclType | null {
  if (name === XATTR_POSIX_ACL_ACCESS) return "access";
  if (name === XATTR_POSIX_ACL_DEFAULT) return "default";
  return null;
}

/**
 * Parses the xattr form (posix_acl_from_xattr): a 4-byte version (2) and 8-byte entries. An
 * empty value or a header alone is null (remove the ACL). EINVAL for a short header, a size
 * that is not whole entries or an unknown tag; EOPNOTSUPP for another version.
 */
export function parseAclXattr(value: Uint8Array): Acl | null {
  if (value.length === 0) return null;
  if (value.length < HEADER) throw EINVAL;
  const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
  if (v.getUint32(0, true) !== POSIX_ACL_XATTR_VERSION) throw EOPNOTSUPP;
  if ((value.length - HEADER) % ENTRY !== 0) throw EINVAL;
  const n = (value.length - HEADER) / ENTRY;
  if (n === 0) return null;
  const out: AclEntry[] = [];
  for (let i = 0; i < n; i++) {
    const off = HEADER + i * ENTRY;
    const tag = v.getUint16(off, true), perm = v.getUint16(off + 2, true), id = v.getUint32(off + 4, true);
    switch (tag) {
      case ACL_USER_OBJ:
      case ACL_GROUP_OBJ:
      case ACL_MASK:
      case ACL_OTHER:
        out.push({ tag, perm, id: ACL_UNDEFINED_ID });
        break;
      case ACL_USER:
      case ACL_GROUP:
        // An id with no mapping (-1) is EINVAL, as make_kuid's invalid id.
        if (id === ACL_UNDEFINED_ID) throw EINVAL;
        out.push({ tag, perm, id });
        break;
      default:
        throw EINVAL;
    }
  }
  return out;
}

/** The xattr form of acl (posix_acl_to_xattr): ids of the unnamed entries are ACL_UNDEFINED_ID. */
export function aclToXattr(acl: Acl): Uint8Array {
  const b = new Uint8Array(HEADER + acl.length * ENTRY);
  const v = new DataView(b.buffer);
  v.setUint32(0, POSIX_ACL_XATTR_VERSION, true);
  acl.forEach((e, i) => {
    const off = HEADER + i * ENTRY;
    v.setUint16(off, e.tag, true);
    v.setUint16(off + 2, e.perm, true);
    v.setUint32(off + 4, e.tag === ACL_USER || e.tag === ACL_GROUP ? e.id : ACL_UNDEFINED_ID, true);
  });
  return b;
}

/**
 * EINVAL unless acl is well formed (posix_acl_valid): rwx bits only; one USER_OBJ, then USER
 * entries, one GROUP_OBJ, GROUP entries, a MASK (required when there are named entries), one
 * OTHER, in that order. Repeated ids are allowed, as Linux allows them.
 */
export function checkAclValid(acl: Acl): void {
  const USER = 1, GROUP = 2, OTHER = 3, DONE = 4;
  let state = 0;
  let needsMask = false;
  for (const e of acl) {
    if (e.perm & ~7) throw EINVAL;
    switch (e.tag) {
      case ACL_USER_OBJ:
        if (state !== 0) throw EINVAL;
        state = USER;
        break;
      case ACL_USER:
        if (state !== USER) throw EINVAL;
        needsMask = true;
        break;
      case ACL_GROUP_OBJ:
        if (state !== USER) throw EINVAL;
        state = GROUP;
        break;
      case ACL_GROUP:
        if (state !== GROUP) throw EINVAL;
        needsMask = true;
        break;
      case ACL_MASK:
        if (state !== GROUP) throw EINVAL;
        state = OTHER;
        break;
      case ACL_OTHER:
        if (state !== OTHER && !(state === GROUP && !needsMask)) throw EINVAL;
        state = DONE;
        break;
      default:
        throw EINVAL;
    }
  }
  if (state !== DONE) throw EINVAL;
}

/**
 * The permission bits acl stands for (posix_acl_equiv_mode): owner from USER_OBJ, group from
 * MASK (else GROUP_OBJ), other from OTHER; `equiv` says whether the mode says it all (no MASK,
 * no named entry), so that the ACL need not be kept.
 */
export function aclMode(acl: Acl): { bits: number; equiv: boolean } {
  let bits = 0;
  let equiv = true;
  for (const e of acl) {
    switch (e.tag) {
      case ACL_USER_OBJ:
        bits |= (e.perm & 7) << 6;
        break;
      case ACL_GROUP_OBJ:
        bits |= (e.perm & 7) << 3;
        break;
      case ACL_OTHER:
        bits |= e.perm & 7;
        break;
      case ACL_MASK:
        bits = (bits & ~0o070) | ((e.perm & 7) << 3);
        equiv = false;
        break;
      default:
        equiv = false;
    }
  }
  return { bits, equiv };
}

/**
 * Whether acl grants `want` (rwx bits) to creds on a file owned by uid:gid that creds do not
 * own (posix_acl_permission): a named user's entry, else the owning and named groups the
 * caller is in (any one granting all of want), each capped by the MASK, else OTHER. Linux's
 * owner check (USER_OBJ, the mode's owner bits) comes before and is the caller's.
 */
export function aclPermits(creds: Credentials, acl: Acl, want: number, uid: number, gid: number): boolean {
  let found = false;
  const masked = (i: number): boolean => {
    const perm = acl[i]!.perm;
    for (let j = i + 1; j < acl.length; j++) {
      if (acl[j]!.tag === ACL_MASK) return (perm & acl[j]!.perm & want) === want;
    }
    return (perm & want) === want;
  };
  for (let i = 0; i < acl.length; i++) {
    const e = acl[i]!;
    switch (e.tag) {
      case ACL_USER_OBJ:
        if (creds.fsuid === uid) return (e.perm & want) === want;
        break;
      case ACL_USER:
        if (creds.fsuid === e.id) return masked(i);
        break;
      case ACL_GROUP_OBJ:
      case ACL_GROUP:
        if (creds.inGroup(e.tag === ACL_GROUP_OBJ ? gid : e.id)) {
          found = true;
          if ((e.perm & want) === want) return masked(i);
        }
        break;
      case ACL_OTHER:
        return !found && (e.perm & want) === want;
    }
  }
  return false;
}

/**
 * acl after chmod to mode (posix_acl_chmod's __posix_acl_chmod): USER_OBJ, MASK (GROUP_OBJ
 * when there is no MASK) and OTHER take the mode's bits; named entries stay.
 */
export function aclChmod(acl: Acl, mode: number): Acl {
  const hasMask = acl.some((e) => e.tag === ACL_MASK);
  return acl.map((e) => {
    switch (e.tag) {
      case ACL_USER_OBJ:
        return { ...e, perm: (mode >> 6) & 7 };
      case ACL_MASK:
        return { ...e, perm: (mode >> 3) & 7 };
      case ACL_GROUP_OBJ:
        return hasMask ? e : { ...e, perm: (mode >> 3) & 7 };
      case ACL_OTHER:
        return { ...e, perm: mode & 7 };
      default:
        return e;
    }
  });
}

/**
 * What a new file gets from its directory's default ACL (posix_acl_create_masq): the ACL's
 * USER_OBJ, MASK (GROUP_OBJ without one) and OTHER entries are cut down to the requested
 * mode and the mode to them. Returns the new permission bits and the file's access ACL, null
 * when the mode says it all.
 */
export function aclCreate(dflt: Acl, mode: number): { bits: number; acl: Acl | null } {
  let m = mode & 0o777;
  let equiv = true;
  const out = dflt.map((e) => ({ ...e }));
  let group: { perm: number } | null = null, mask: { perm: number } | null = null;
  for (const e of out) {
    switch (e.tag) {
      case ACL_USER_OBJ:
        e.perm &= (m >> 6) & 7;
        m &= (e.perm << 6) | ~0o700;
        break;
      case ACL_USER:
      case ACL_GROUP:
        equiv = false;
        break;
      case ACL_GROUP_OBJ:
        group = e;
        break;
      case ACL_OTHER:
        e.perm &= m & 7;
        m &= e.perm | ~0o007;
        break;
      case ACL_MASK:
        mask = e;
        equiv = false;
        break;
    }
  }
  const g = mask ?? group;
  if (g !== null) {
    g.perm &= (m >> 3) & 7;
    m &= (g.perm << 3) | ~0o070;
  }
  return { bits: m & 0o777, acl: equiv ? null : out };
}

/** EACCES for a default ACL on a non-directory (set_posix_acl); removing one is a no-op there. */
export function checkDefaultAclTarget(isDir: boolean, acl: Acl | null): boolean {
  if (isDir) return true;
  if (acl !== null) throw EACCES;
  return false;
}
