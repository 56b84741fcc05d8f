/**
 * add_key(2), request_key(2) and keyctl(2) (kernel/keys.ts), as Linux's security/keys/keyctl.c
 * with its checks in its order. The special ids name the caller's thread, process and session
 * keyrings and its user's user and user session keyrings; a serial names any key, which the
 * caller possesses when its own keyrings reach it through keyrings it may search. request_key has
 * no upcall: a key no keyring holds is, with callout information, made negative and linked, and
 * the call fails with ENOENT, as on a Linux without /sbin/request-key; without, ENOKEY. Not
 * supported: the instantiation operations of a request-key helper (EPERM: no authority can be
 * assumed), persistent keyrings, Diffie-Hellman and public-key operations, keyring restrictions
 * and notifications (EOPNOTSUPP).
 *
 * @module
 */

import {
  EACCES, EAGAIN, EDEADLK, EEXIST, EINVAL, EKEYEXPIRED, EKEYREVOKED, ELOOP, ENAMETOOLONG, ENODEV, ENOENT, ENOKEY, ENOTDIR,
  EOPNOTSUPP, EPERM, type LinuxError as Errno,
} from "../../errno.ts";
import type { Task } from "../../task.ts";
import { CAP_SYS_ADMIN } from "../../../abi/linux/capability.ts";
import {
  Key, KEY_MAX_PAYLOAD, KEY_NEED_LINK, KEY_NEED_READ, KEY_NEED_SEARCH, KEY_NEED_SETATTR, KEY_NEED_VIEW, KEY_NEED_WRITE,
  KEY_NEGATIVE_TIMEOUT, KEY_POS_ALL, KEY_POS_LINK, KEY_POS_READ, KEY_POS_SEARCH, KEY_POS_SETATTR, KEY_POS_VIEW,
  KEY_POS_WRITE, KEY_TYPES, KEY_USR_LINK, KEY_USR_READ, KEY_USR_VIEW, type KeyType, KEYRING_SEARCH_MAX_DEPTH, nowSeconds,
} from "../../keys.ts";
import { partial, type SyscallArgs, type SyscallEntry, type SyscallFn } from "./support.ts";

const KEYCTL_GET_KEYRING_ID = 0, KEYCTL_JOIN_SESSION_KEYRING = 1, KEYCTL_UPDATE = 2, KEYCTL_REVOKE = 3;
const KEYCTL_CHOWN = 4, KEYCTL_SETPERM = 5, KEYCTL_DESCRIBE = 6, KEYCTL_CLEAR = 7, KEYCTL_LINK = 8;
const KEYCTL_UNLINK = 9, KEYCTL_SEARCH = 10, KEYCTL_READ = 11, KEYCTL_INSTANTIATE = 12, KEYCTL_NEGATE = 13;
const KEYCTL_SET_REQKEY_KEYRING = 14, KEYCTL_SET_TIMEOUT = 15, KEYCTL_ASSUME_AUTHORITY = 16;
const KEYCTL_GET_SECURITY = 17, KEYCTL_REJECT = 19, KEYCTL_INSTANTIATE_IOV = 20, KEYCTL_INVALIDATE = 21;
const KEYCTL_GET_PERSISTENT = 22, KEYCTL_MOVE = 30, KEYCTL_CAPABILITIES = 31;
const KEY_SPEC_THREAD_KEYRING = -1, KEY_SPEC_PROCESS_KEYRING = -2, KEY_SPEC_SESSION_KEYRING = -3;
const KEY_SPEC_USER_KEYRING = -4, KEY_SPEC_USER_SESSION_KEYRING = -5, KEY_SPEC_GROUP_KEYRING = -6;
const KEY_REQKEY_DEFL_NO_CHANGE = -1, KEY_REQKEY_DEFL_DEFAULT = 0, KEY_REQKEY_DEFL_THREAD_KEYRING = 1;
const KEY_REQKEY_DEFL_PROCESS_KEYRING = 2, KEY_REQKEY_DEFL_SESSION_KEYRING = 3, KEY_REQKEY_DEFL_USER_KEYRING = 4;
const KEY_REQKEY_DEFL_USER_SESSION_KEYRING = 5, KEY_REQKEY_DEFL_REQUESTOR_KEYRING = 7;
const KEYCTL_MOVE_EXCL = 1;
/** Every permission bit (possessor, user, group, other: six each). */
const KEY_PERM_ALL = 0x3f3f3f3f;
/** KEY_MAX_DESC_SIZE: a description of this many bytes or more is EINVAL. */
const KEY_MAX_DESC_SIZE = 4096;

/** lookup_user_key's flags. */
const LOOKUP_CREATE = 1, LOOKUP_PARTIAL = 2;
/** Permission "needs" that check nothing (KEY_DEFER_PERM_CHECK, KEY_NEED_UNLINK). */
const DEFER = 0x100, NEED_UNLINK = 0x200;

interface KeyRef {
  key: Key;
  possessed: boolean;
}

/** Runs the collector with every task's and process's keyrings as roots. */
function collect(t: Task): void {
  const k = t.kernel;
  k.keys.collect((function* () {
    for (const task of k.tasks.values()) {
      yield task.sessionKeyring;
      yield task.threadKeyring;
      yield task.tg.processKeyring;
    }
  })());
}

/** A new keyring for t's credentials to hold. */
function newKeyring(t: Task, description: string, perm: number, overrun: boolean): Key {
  const c = t.creds;
  const k = t.kernel.keys.create("keyring", description, c.fsuid, c.fsgid, perm, overrun);
  k.credHeld = true;
  return k;
}

/** A new anonymous or named session keyring for t (Linux's join_session_keyring's allocation). */
function newSessionKeyring(t: Task, name: string | null): Key {
  const perm = KEY_POS_ALL | KEY_USR_VIEW | KEY_USR_READ | (name !== null ? KEY_USR_LINK : 0);
  return newKeyring(t, name ?? "_ses", perm, false);
}

function threadKeyring(t: Task): Key {
  t.threadKeyring ??= newKeyring(t, "_tid", KEY_POS_ALL | KEY_USR_VIEW, true);
  return t.threadKeyring;
}

function processKeyring(t: Task): Key {
  t.tg.processKeyring ??= newKeyring(t, "_pid", KEY_POS_ALL | KEY_USR_VIEW, true);
  return t.tg.processKeyring;
}

/** The keyrings a search of the caller's keyrings starts at (search_cred_keyrings_rcu). */
function searchRoots(t: Task): Key[] {
  const out: Key[] = [];
  if (t.threadKeyring !== null) out.push(t.threadKeyring);
  if (t.tg.processKeyring !== null) out.push(t.tg.processKeyring);
  if (t.sessionKeyring !== null) out.push(t.sessionKeyring);
  else out.push(t.kernel.keys.userKeyring(t.creds.uid, true));
  return out;
}

/** What a search looks for: a type and description, or one key (possession). */
interface SearchCtx {
  type: KeyType;
  description: string;
  /** Only this key matches (lookup_user_key_possessed). */
  only?: Key;
  stateCheck: boolean;
  now: number;
  /** The last reason a matching key was passed over; EAGAIN when none matched. */
  result: Errno | Key;
}

/** keyring_search_iterator: 1 found, else 0 with ctx.result saying why it was passed over. */
function iterate(t: Task, k: Key, possessed: boolean, ctx: SearchCtx): boolean {
  if (ctx.stateCheck) {
    if (k.invalidated || k.revoked) {
      ctx.result = EKEYREVOKED;
      return false;
    }
    if (k.expiry !== 0 && ctx.now >= k.expiry) {
      ctx.result = EKEYEXPIRED;
      return false;
    }
  }
  if (ctx.only !== undefined && k !== ctx.only) return false;
  if (!k.permits(t.creds, KEY_NEED_SEARCH, possessed)) {
    ctx.result = EACCES;
    return false;
  }
  if (ctx.stateCheck && k.rejectErrno !== 0) {
    ctx.result = errnoOf(k.rejectErrno);
    return false;
  }
  ctx.result = k;
  return true;
}

/**
 * keyring_search_rcu with search_nested_keyrings: the keyring itself when it is what is looked
 * for, then its own key of that type and description, then its keyrings the caller may search,
 * depth first, KEYRING_SEARCH_MAX_DEPTH deep. Returns the key, or the error of the last key
 * passed over (EAGAIN when nothing matched).
 */
function searchKeyring(t: Task, top: Key, possessed: boolean, ctx: SearchCtx): Key | Errno {
  if (!top.isKeyring) return ENOTDIR;
  if (!top.permits(t.creds, KEY_NEED_SEARCH, possessed)) return EACCES;
  ctx.now = nowSeconds();
  ctx.result = EAGAIN;
  if (top.type === ctx.type && top.description === ctx.description) {
    if (iterate(t, top, possessed, ctx)) return top;
    if (ctx.result !== EAGAIN) return ctx.result;
  }
  const seen = new Set<Key>([top]);
  const walk = (kr: Key, depth: number): boolean => {
    const m = kr.links.find((l) => l.type === ctx.type && l.description === ctx.description);
    if (m !== undefined && iterate(t, m, possessed, ctx)) return true;
    if (depth >= KEYRING_SEARCH_MAX_DEPTH) return false;
    for (const l of kr.links) {
      if (!l.isKeyring || seen.has(l)) continue;
      if (!l.permits(t.creds, KEY_NEED_SEARCH, possessed)) continue;
      seen.add(l);
      if (walk(l, depth + 1)) return true;
    }
    return false;
  };
  walk(top, 0);
  return ctx.result;
}

/** search_cred_keyrings_rcu: the thread, process and session keyrings in turn, errors ranked as Linux ranks them. */
function searchProcessKeyrings(t: Task, ctx: SearchCtx): Key | Errno {
  let ret: Errno | null = null, err: Errno = EAGAIN;
  for (const root of searchRoots(t)) {
    const r = searchKeyring(t, root, true, ctx);
    if (r instanceof Key) return r;
    if (r === EAGAIN) {
      if (ret === null) ret = r;
    } else if (r === ENOKEY) ret = r;
    else err = r;
  }
  return ret ?? err;
}

/** Whether t possesses k: its own keyrings reach it through searchable keyrings. */
function possesses(t: Task, k: Key): boolean {
  const ctx: SearchCtx = { type: k.type, description: k.description, only: k, stateCheck: false, now: 0, result: EAGAIN };
  return searchProcessKeyrings(t, ctx) instanceof Key;
}

/**
 * The key an id names (Linux's lookup_user_key): the special ids name the caller's own keyrings
 * (made when LOOKUP_CREATE, or, for the session keyring, the user's session keyring installed at
 * the first look); a serial names any key. Then, unless `need` defers them, the key's state
 * (key_validate) and the caller's permission.
 */
function lookup(t: Task, id: number, flags: number, need: number): KeyRef {
  const reg = t.kernel.keys;
  let ref: KeyRef;
  switch (id) {
    case KEY_SPEC_THREAD_KEYRING:
      if (t.threadKeyring === null && !(flags & LOOKUP_CREATE)) throw ENOKEY;
      ref = { key: threadKeyring(t), possessed: true };
      break;
    case KEY_SPEC_PROCESS_KEYRING:
      if (t.tg.processKeyring === null && !(flags & LOOKUP_CREATE)) throw ENOKEY;
      ref = { key: processKeyring(t), possessed: true };
      break;
    case KEY_SPEC_SESSION_KEYRING:
      if (t.sessionKeyring === null) {
        const userSession = reg.userKeyring(t.creds.uid, true);
        t.sessionKeyring = (flags & LOOKUP_CREATE) ? newSessionKeyring(t, null) : userSession;
      }
      ref = { key: t.sessionKeyring, possessed: true };
      break;
    case KEY_SPEC_USER_KEYRING:
      ref = { key: reg.userKeyring(t.creds.uid, false), possessed: true };
      break;
    case KEY_SPEC_USER_SESSION_KEYRING:
      ref = { key: reg.userKeyring(t.creds.uid, true), possessed: true };
      break;
    case KEY_SPEC_GROUP_KEYRING:
      throw EINVAL;
    default: {
      if (id < 1) {
        // The request-key authorisation key and requestor keyring (-7, -8): no request-key
        // helper runs here, so neither exists.
        if (id === -7 || id === -8) throw ENOKEY;
        throw EINVAL;
      }
      const key = reg.get(id);
      if (key === undefined) throw ENOKEY;
      ref = { key, possessed: possesses(t, key) };
    }
  }
  if (need !== NEED_UNLINK && need !== DEFER) {
    ref.key.validate();
  }
  if (need !== NEED_UNLINK && need !== DEFER) ref.key.check(t.creds, need, ref.possessed);
  return ref;
}

/** A negative key's errno, as a search reports it (only ENOKEY is ever stored). */
function errnoOf(n: number): Errno {
  return n === EKEYREVOKED.errno ? EKEYREVOKED : n === EKEYEXPIRED.errno ? EKEYEXPIRED : ENOKEY;
}

/** key_get_type_from_user: a type name of 1 to 31 bytes, EPERM when it starts with '.'. */
function copyType(t: Task, addr: number): string {
  let s: string;
  try {
    s = t.copyInString(addr, 31);
  } catch (e) {
    if (e === ENAMETOOLONG) throw EINVAL;
    throw e;
  }
  if (s === "") throw EINVAL;
  if (s[0] === ".") throw EPERM;
  return s;
}

/** strndup_user(addr, max): EFAULT, or EINVAL when no NUL comes within max bytes. */
function copyString(t: Task, addr: number, max: number): string {
  try {
    return t.copyInString(addr, max - 1);
  } catch (e) {
    if (e === ENAMETOOLONG) throw EINVAL;
    throw e;
  }
}

/** A payload type's preparse (user_preparse; logon_vet_description; keyring_preparse). */
function preparse(type: KeyType, description: string | null, payload: Uint8Array | null): void {
  if (type === "keyring") {
    if (payload !== null && payload.length !== 0) throw EINVAL;
    return;
  }
  if (payload === null || payload.length === 0 || payload.length > KEY_MAX_PAYLOAD[type]!) throw EINVAL;
  if (type === "logon" && description !== null) {
    const colon = description.indexOf(":");
    if (colon <= 0) throw EINVAL;
  }
}

/** The permissions a new key gets (key_create_or_update's KEY_PERM_UNDEF). */
function defaultPerm(type: KeyType): number {
  let perm = KEY_POS_VIEW | KEY_POS_SEARCH | KEY_POS_LINK | KEY_POS_SETATTR | KEY_USR_VIEW;
  if (type !== "logon") perm |= KEY_POS_READ; // every type here but logon has a read method
  perm |= KEY_POS_WRITE; // keyrings, and the payload types have an update method
  return perm;
}

/** The type's update (user_update): the payload replaced, the expiry cleared, a negative key made positive. */
function updateKey(t: Task, key: Key, payload: Uint8Array<ArrayBuffer>): void {
  t.kernel.keys.reserve(key, payload.length);
  key.payload = payload;
  key.expiry = 0;
  key.rejectErrno = 0;
}

/** Implements add_key(2). */
const sysAddKey: SyscallFn = (t, a) => {
  collect(t);
  try {
    return addKey(t, a);
  } finally {
    collect(t);
  }
};

function addKey(t: Task, a: SyscallArgs): number {
  const plen = a.sizeT(3);
  if (plen > (1 << 20) - 1) throw EINVAL;
  const type = copyType(t, a.pointer(0));
  let description: string | null = null;
  const descAddr = a.pointer(1);
  if (descAddr !== 0) {
    description = copyString(t, descAddr, KEY_MAX_DESC_SIZE);
    if (description === "") description = null;
    else if (description[0] === "." && type.startsWith("keyring")) throw EPERM;
  }
  let payload: Uint8Array<ArrayBuffer> | null = null;
  if (plen > 0) payload = new Uint8Array(t.copyIn(a.pointer(2), plen));
  const ring = lookup(t, a.int(4), LOOKUP_CREATE, KEY_NEED_WRITE);
  if (!KEY_TYPES.has(type)) throw ENODEV;
  const ktype = type as KeyType;
  if (description === null) throw EINVAL; // none of these types makes up a description
  if (!ring.key.isKeyring) throw ENOTDIR;
  preparse(ktype, description, payload);
  ring.key.check(t.creds, KEY_NEED_WRITE, ring.possessed);
  const reg = t.kernel.keys;
  if (ktype !== "keyring") {
    // find_key_to_update: the keyring's own key of that type and description, unless revoked
    // or invalidated, is updated in place.
    const old = ring.key.links.find((l) => l.type === ktype && l.description === description);
    if (old !== undefined && !old.revoked && !old.invalidated) {
      old.check(t.creds, KEY_NEED_WRITE, ring.possessed);
      updateKey(t, old, payload!);
      return old.serial;
    }
  }
  const c = t.creds;
  const key = reg.create(ktype, description, c.fsuid, c.fsgid, defaultPerm(ktype));
  // An EDQUOT from either leaves the new key to the collector, as Linux's key_put does.
  if (payload !== null && ktype !== "keyring") {
    reg.reserve(key, payload.length);
    key.payload = payload;
  }
  reg.link(ring.key, key);
  return key.serial;
}

/** The keyring request_key's new key goes into without a destination (construct_get_dest_keyring). */
function defaultDestination(t: Task): Key {
  const reg = t.kernel.keys;
  let dest: Key | null = null;
  switch (t.reqkeyDefault) {
    case KEY_REQKEY_DEFL_DEFAULT:
    case KEY_REQKEY_DEFL_REQUESTOR_KEYRING:
    case KEY_REQKEY_DEFL_THREAD_KEYRING:
      dest = t.threadKeyring;
      if (dest !== null) break;
    // falls through
    case KEY_REQKEY_DEFL_PROCESS_KEYRING:
      dest = t.tg.processKeyring;
      if (dest !== null) break;
    // falls through
    case KEY_REQKEY_DEFL_SESSION_KEYRING:
      dest = t.sessionKeyring;
      if (dest !== null) break;
    // falls through
    case KEY_REQKEY_DEFL_USER_SESSION_KEYRING:
      dest = reg.userKeyring(t.creds.uid, true);
      break;
    case KEY_REQKEY_DEFL_USER_KEYRING:
      dest = reg.userKeyring(t.creds.uid, false);
      break;
  }
  dest!.check(t.creds, KEY_NEED_WRITE, true);
  return dest!;
}

/** Implements request_key(2). */
const sysRequestKey: SyscallFn = (t, a) => {
  collect(t);
  try {
    return requestKey(t, a);
  } finally {
    collect(t);
  }
};

function requestKey(t: Task, a: SyscallArgs): number {
  const type = copyType(t, a.pointer(0));
  const description = copyString(t, a.pointer(1), KEY_MAX_DESC_SIZE);
  const calloutAddr = a.pointer(2);
  const callout = calloutAddr !== 0 ? copyString(t, calloutAddr, 4096) : null;
  const destId = a.int(3);
  const dest = destId !== 0 ? lookup(t, destId, LOOKUP_CREATE, KEY_NEED_WRITE) : null;
  if (!KEY_TYPES.has(type)) throw ENOKEY;
  const ktype = type as KeyType;
  const ctx: SearchCtx = { type: ktype, description, stateCheck: true, now: 0, result: EAGAIN };
  const found = searchProcessKeyrings(t, ctx);
  if (found instanceof Key) {
    if (dest !== null) linkChecked(t, dest.key, found);
    return found.serial;
  }
  if (found !== EAGAIN) throw found;
  if (callout === null) throw ENOKEY;
  // construct_key_and_link, with the upcall failing as when /sbin/request-key is absent: the
  // new key is linked, negated for key_negative_timeout, and the call fails with ENOENT.
  if (ktype === "keyring") throw EPERM;
  const ring = dest !== null ? dest.key : defaultDestination(t);
  const c = t.creds;
  const key = t.kernel.keys.create(ktype, description, c.fsuid, c.fsgid, defaultPerm(ktype));
  t.kernel.keys.link(ring, key); // (EDQUOT leaves the key to the collector)
  key.rejectErrno = ENOKEY.errno;
  key.expiry = nowSeconds() + KEY_NEGATIVE_TIMEOUT;
  throw ENOENT;
}

/** key_link with its checks: into a keyring, and no keyring inside itself (EDEADLK) or too deep (ELOOP). */
function linkChecked(t: Task, ring: Key, key: Key): void {
  if (!ring.isKeyring) throw ENOTDIR;
  if (key.isKeyring) {
    // keyring_detect_cycle: would ring be reachable from key? (Each keyring is walked once, at
    // the depth it is first met: a wide lattice of keyrings costs its size, not its paths.)
    const seen = new Set<Key>();
    const walk = (k: Key, depth: number): void => {
      if (k === ring) throw EDEADLK;
      if (depth >= KEYRING_SEARCH_MAX_DEPTH) throw ELOOP;
      if (seen.has(k)) return;
      seen.add(k);
      for (const l of k.links) if (l.isKeyring) walk(l, depth + 1);
    };
    walk(key, 1);
  }
  t.kernel.keys.link(ring, key);
}

/** Copies a reply out when it fits whole (Linux's keyctl read and describe), returning its length. */
function replyIfFits(t: Task, buf: number, len: number, data: Uint8Array): number {
  if (buf !== 0 && len >= data.length && data.length > 0) t.copyOut(buf, data);
  return data.length;
}

/** A key's payload as KEYCTL_READ gives it: a keyring's serials, a user key's bytes. */
function readPayload(k: Key): Uint8Array {
  if (k.isKeyring) {
    const out = new Uint8Array(k.links.length * 4);
    const dv = new DataView(out.buffer);
    k.links.forEach((l, i) => dv.setInt32(i * 4, l.serial, true));
    return out;
  }
  return k.payload ?? new Uint8Array(0);
}

function keyctl(t: Task, a: SyscallArgs): number {
  const op = a.int(0);
  const reg = t.kernel.keys;
  switch (op) {
    case KEYCTL_GET_KEYRING_ID:
      return lookup(t, a.int(1), a.int(2) !== 0 ? LOOKUP_CREATE : 0, DEFER).key.serial;
    case KEYCTL_JOIN_SESSION_KEYRING: {
      const nameAddr = a.pointer(1);
      if (nameAddr === 0) {
        t.sessionKeyring = newSessionKeyring(t, null);
        return t.sessionKeyring.serial;
      }
      const name = copyString(t, nameAddr, KEY_MAX_DESC_SIZE);
      if (name[0] === ".") throw EPERM; // system keyrings are never joined (CVE-2016-9604)
      if (name === "") throw EINVAL;
      const found = reg.findByName(name, t.creds);
      // Already this task's session keyring: 0 (Linux's join_session_keyring).
      if (found !== null && found === t.sessionKeyring) return 0;
      t.sessionKeyring = found ?? newSessionKeyring(t, name);
      t.sessionKeyring.credHeld = true;
      return t.sessionKeyring.serial;
    }
    case KEYCTL_UPDATE: {
      const plen = a.sizeT(3);
      if (plen > 4096) throw EINVAL;
      const payload = plen > 0 ? new Uint8Array(t.copyIn(a.pointer(2), plen)) : null;
      const { key } = lookup(t, a.int(1), 0, KEY_NEED_WRITE);
      if (key.isKeyring) throw EOPNOTSUPP;
      preparse(key.type, null, payload);
      updateKey(t, key, payload!);
      return 0;
    }
    case KEYCTL_REVOKE: {
      let ref: KeyRef;
      try {
        ref = lookup(t, a.int(1), 0, KEY_NEED_WRITE);
      } catch (e) {
        if (e !== EACCES) throw e;
        ref = lookup(t, a.int(1), 0, KEY_NEED_SETATTR);
      }
      const k = ref.key;
      if (!k.revoked) {
        k.revoked = true;
        k.revokedAt = nowSeconds();
        if (k.isKeyring) reg.clear(k);
        else {
          reg.reserve(k, 0);
          k.payload = null;
        }
      }
      return 0;
    }
    case KEYCTL_CHOWN: {
      const uid = a.uint(2), gid = a.uint(3);
      if (uid === 0xffffffff && gid === 0xffffffff) return 0;
      const { key } = lookup(t, a.int(1), LOOKUP_CREATE | LOOKUP_PARTIAL, KEY_NEED_SETATTR);
      const privileged = (uid !== 0xffffffff && key.uid !== uid) ||
        (gid !== 0xffffffff && gid !== key.gid && !t.creds.inGroup(gid));
      if (privileged && !t.creds.hasCap(CAP_SYS_ADMIN)) throw EACCES;
      if (uid !== 0xffffffff && uid !== key.uid) reg.chown(key, uid);
      if (gid !== 0xffffffff) key.gid = gid;
      return 0;
    }
    case KEYCTL_SETPERM: {
      const perm = a.uint(2);
      if (perm & ~KEY_PERM_ALL) throw EINVAL;
      const { key } = lookup(t, a.int(1), LOOKUP_CREATE | LOOKUP_PARTIAL, KEY_NEED_SETATTR);
      if (key.uid !== t.creds.fsuid && !t.creds.hasCap(CAP_SYS_ADMIN)) throw EACCES;
      key.perm = perm;
      return 0;
    }
    case KEYCTL_DESCRIBE: {
      const { key } = lookup(t, a.int(1), LOOKUP_PARTIAL, KEY_NEED_VIEW);
      const text = new TextEncoder().encode(key.describe() + "\0");
      return replyIfFits(t, a.pointer(2), a.sizeT(3), text);
    }
    case KEYCTL_CLEAR: {
      let ref: KeyRef;
      try {
        ref = lookup(t, a.int(1), LOOKUP_CREATE, KEY_NEED_WRITE);
      } catch (e) {
        // Root may clear only the kernel's own special keyrings, which the sandbox has none of.
        if (e === EACCES && t.creds.hasCap(CAP_SYS_ADMIN)) lookup(t, a.int(1), 0, DEFER);
        throw e;
      }
      if (!ref.key.isKeyring) throw ENOTDIR;
      reg.clear(ref.key);
      collect(t);
      return 0;
    }
    case KEYCTL_LINK: {
      const ring = lookup(t, a.int(2), LOOKUP_CREATE, KEY_NEED_WRITE);
      const key = lookup(t, a.int(1), LOOKUP_CREATE, KEY_NEED_LINK);
      linkChecked(t, ring.key, key.key);
      collect(t);
      return 0;
    }
    case KEYCTL_UNLINK: {
      const ring = lookup(t, a.int(2), 0, KEY_NEED_WRITE);
      const key = lookup(t, a.int(1), LOOKUP_PARTIAL, NEED_UNLINK);
      if (!ring.key.isKeyring) throw ENOTDIR;
      if (!reg.unlink(ring.key, key.key)) throw ENOENT;
      collect(t);
      return 0;
    }
    case KEYCTL_SEARCH: {
      const type = copyType(t, a.pointer(2));
      const description = copyString(t, a.pointer(3), KEY_MAX_DESC_SIZE);
      const ring = lookup(t, a.int(1), 0, KEY_NEED_SEARCH);
      const destId = a.int(4);
      const dest = destId !== 0 ? lookup(t, destId, LOOKUP_CREATE, KEY_NEED_WRITE) : null;
      if (!KEY_TYPES.has(type)) throw ENOKEY;
      const ctx: SearchCtx = { type: type as KeyType, description, stateCheck: true, now: 0, result: EAGAIN };
      const found = searchKeyring(t, ring.key, ring.possessed, ctx);
      if (!(found instanceof Key)) throw found === EAGAIN ? ENOKEY : found;
      if (dest !== null) {
        found.check(t.creds, KEY_NEED_LINK, ring.possessed);
        linkChecked(t, dest.key, found);
        collect(t);
      }
      return found.serial;
    }
    case KEYCTL_READ: {
      let ref: KeyRef;
      try {
        ref = lookup(t, a.int(1), 0, DEFER);
      } catch {
        throw ENOKEY;
      }
      const k = ref.key;
      if (k.rejectErrno !== 0) throw errnoOf(k.rejectErrno);
      if (!k.permits(t.creds, KEY_NEED_READ, ref.possessed) && !ref.possessed) throw EACCES;
      if (k.type === "logon") throw EOPNOTSUPP;
      // Revoked or expired: the read method sees the key's state (key_validate in __keyctl_read_key).
      k.validate();
      const data = readPayload(k);
      const buf = a.pointer(2), len = a.sizeT(3);
      if (buf === 0 || len === 0) return data.length;
      return replyIfFits(t, buf, len, data);
    }
    case KEYCTL_INSTANTIATE:
      if (a.sizeT(3) > (1 << 20) - 1) throw EINVAL;
      throw EPERM;
    case KEYCTL_NEGATE:
    case KEYCTL_REJECT:
    case KEYCTL_INSTANTIATE_IOV:
      throw EPERM;
    case KEYCTL_SET_REQKEY_KEYRING: {
      const defl = a.int(1);
      const old = t.reqkeyDefault;
      switch (defl) {
        case KEY_REQKEY_DEFL_NO_CHANGE:
          return old;
        case KEY_REQKEY_DEFL_THREAD_KEYRING:
          threadKeyring(t);
          break;
        case KEY_REQKEY_DEFL_PROCESS_KEYRING:
          processKeyring(t);
          break;
        case KEY_REQKEY_DEFL_DEFAULT:
        case KEY_REQKEY_DEFL_SESSION_KEYRING:
        case KEY_REQKEY_DEFL_USER_KEYRING:
        case KEY_REQKEY_DEFL_USER_SESSION_KEYRING:
        case KEY_REQKEY_DEFL_REQUESTOR_KEYRING:
          break;
        default:
          throw EINVAL;
      }
      t.reqkeyDefault = defl;
      return old;
    }
    case KEYCTL_SET_TIMEOUT: {
      const { key } = lookup(t, a.int(1), LOOKUP_CREATE | LOOKUP_PARTIAL, KEY_NEED_SETATTR);
      const timeout = a.uint(2);
      key.expiry = timeout === 0 ? 0 : nowSeconds() + timeout;
      return 0;
    }
    case KEYCTL_ASSUME_AUTHORITY: {
      const id = a.int(1);
      if (id < 0) throw EINVAL;
      if (id === 0) return 0;
      throw ENOKEY;
    }
    case KEYCTL_GET_SECURITY: {
      // No LSM labels keys: the context is the empty string.
      lookup(t, a.int(1), LOOKUP_PARTIAL, KEY_NEED_VIEW);
      const buf = a.pointer(2), len = a.sizeT(3);
      if (buf !== 0 && len > 0) t.copyOut(buf, new Uint8Array(1));
      return 1;
    }
    case KEYCTL_INVALIDATE: {
      const { key } = lookup(t, a.int(1), 0, KEY_NEED_SEARCH);
      key.invalidated = true;
      collect(t);
      return 0;
    }
    case KEYCTL_MOVE: {
      const flags = a.uint(4);
      if (flags & ~KEYCTL_MOVE_EXCL) throw EINVAL;
      const key = lookup(t, a.int(1), LOOKUP_CREATE, KEY_NEED_LINK);
      const from = lookup(t, a.int(2), 0, KEY_NEED_WRITE);
      const to = lookup(t, a.int(3), LOOKUP_CREATE, KEY_NEED_WRITE);
      if (!from.key.isKeyring || !to.key.isKeyring) throw ENOTDIR;
      if (from.key === to.key) return 0;
      if (!from.key.links.includes(key.key)) throw ENOENT;
      if ((flags & KEYCTL_MOVE_EXCL) && to.key.links.some((l) => l.type === key.key.type && l.description === key.key.description)) {
        throw EEXIST;
      }
      linkChecked(t, to.key, key.key);
      reg.unlink(from.key, key.key);
      collect(t);
      return 0;
    }
    case KEYCTL_CAPABILITIES: {
      // KEYCTL_CAPS0_CAPABILITIES | BIG_KEY | INVALIDATE | RESTRICT_KEYRING (no) | MOVE;
      // KEYCTL_CAPS1_NS_KEYRING_NAME | NS_KEY_TAG.
      const caps = new Uint8Array([0x01 | 0x10 | 0x20 | 0x80, 0x01 | 0x02]);
      const buf = a.pointer(1), len = a.sizeT(2);
      if (buf !== 0 && len > 0) t.copyOut(buf, caps.subarray(0, Math.min(len, caps.length)));
      return caps.length;
    }
    case KEYCTL_GET_PERSISTENT:
    default:
      t.kernel.log.once(`keyctl-${op}`, `keyctl operation ${op} is not supported`);
      throw EOPNOTSUPP;
  }
}

/** Implements keyctl(2). Collects before (what went meanwhile) and after (what it dropped). */
const sysKeyctl: SyscallFn = (t, a) => {
  collect(t);
  try {
    return keyctl(t, a);
  } finally {
    collect(t);
  }
};

export const table: Record<number, SyscallEntry> = {
  248: partial("add_key", sysAddKey, "types keyring, user, logon, big_key"),
  249: partial("request_key", sysRequestKey, "no upcall: a key not found is made negative (ENOENT, as without /sbin/request-key)"),
  250: partial("keyctl", sysKeyctl, "no request-key authority, persistent keyrings, DH, public keys, restrictions or watches"),
};

/** /proc/keys' timeout column (proc_keys_show): perm, expd, or the time left in its largest unit. */
function procTimeout(k: Key, now: number): string {
  if (k.expiry === 0) return "perm";
  if (now >= k.expiry) return "expd";
  const left = k.expiry - now;
  if (left < 60) return `${left}s`;
  if (left < 3600) return `${Math.floor(left / 60)}m`;
  if (left < 86400) return `${Math.floor(left / 3600)}h`;
  if (left < 604800) return `${Math.floor(left / 86400)}d`;
  return `${Math.floor(left / 604800)}w`;
}

/** A key type's describe method, as /proc/keys ends a line with it. */
function procDescribe(k: Key): string {
  const positive = k.rejectErrno === 0 && !k.revoked;
  switch (k.type) {
    case "keyring":
      return k.description + (positive ? (k.links.length > 0 ? `: ${k.links.length}` : ": empty") : "");
    case "big_key":
      return k.description + (positive ? `: ${k.datalen} [buff]` : "");
    default:
      return k.description + (positive ? `: ${k.datalen}` : "");
  }
}

/** /proc/keys for t: the keys it may view (as possessor where its keyrings reach them), by serial. */
export function renderProcKeys(t: Task): string {
  collect(t);
  const now = nowSeconds();
  const keys = [...t.kernel.keys.keys()].sort((a, b) => a.serial - b.serial);
  let out = "";
  for (const k of keys) {
    const possessed = (k.perm & KEY_POS_VIEW) !== 0 && possesses(t, k);
    if (!k.permits(t.creds, KEY_NEED_VIEW, possessed)) continue;
    const dead = k.dead(now, t.kernel.keys.limits.gc_delay);
    const flags = "I" + (k.revoked ? "R" : "-") + (dead ? "D" : "-") + "Q" + "-" + (k.rejectErrno !== 0 ? "N" : "-") +
      (k.invalidated ? "i" : "-");
    out += `${k.serial.toString(16).padStart(8, "0")} ${flags} ${String(1).padStart(5)} ${procTimeout(k, now).padStart(4)} ` +
      `${(k.perm >>> 0).toString(16).padStart(8, "0")} ${String(k.uid).padStart(5)} ${String(k.gid).padStart(5)} ` +
      `${k.type.padEnd(9).slice(0, 9)} ${procDescribe(k)}\n`;
  }
  return out;
}

/** /proc/key-users: each user's keys and charge against the limits, by uid. */
export function renderProcKeyUsers(t: Task): string {
  collect(t);
  const reg = t.kernel.keys;
  return [...reg.users()].sort((a, b) => a[0] - b[0]).map(([uid, u]) =>
    `${String(uid).padStart(5)}: ${String(u.nkeys).padStart(5)} ${u.nkeys}/${u.nikeys} ${u.qnkeys}/${reg.maxKeys(uid)} ` +
    `${u.qnbytes}/${reg.maxBytes(uid)}\n`
  ).join("");
}
