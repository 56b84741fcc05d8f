/**
 * Keys and keyrings, as Linux's security/keys. A key has a serial number (random, positive), a
 * type, a description, an owner, a group and a 32-bit permission mask: one byte each for a
 * possessor, the owner, the group and others (view, read, write, search, link, setattr). The
 * types are Linux's that need no hardware or crypto: "keyring" (its payload is a list of links
 * to other keys), "user" and "logon" (an opaque payload of up to 32767 bytes; a logon key
 * cannot be read back and its description is "service:name"), and "big_key" (up to 1 MiB, kept
 * as a user key is). A key is negative when request_key(2) could not construct it (there is no
 * /sbin/request-key upcall: the key is negated and linked as when that program is absent).
 *
 * A task's thread, process and session keyrings (Linux keeps them in the credentials: each
 * thread has its own thread and session keyring, the process keyring is the thread group's) and
 * each user's user and user session keyrings (made together at the first look, the session
 * keyring linked in the user keyring) are the roots; a key no root reaches is destroyed, as
 * Linux's garbage collector does once the last reference goes. The collection runs before each
 * key system call and after one that drops links (collect()). A keyring that credentials held
 * lives on for GC_GRACE_MS once unreachable: Linux releases an exited thread's credentials,
 * which hold its keyrings, a little later (after an RCU grace period), and programs see that
 * window (a session keyring a thread left is found again by name at once).
 * Each user is charged for their keys (Linux's key_user: the number of keys and the bytes of
 * descriptions, payloads and 4 bytes per keyring link) against /proc/sys/kernel/keys' limits.
 * The system calls are kernel/syscalls/linux/sys_keys.ts.
 *
 * @module
 */

import { EACCES, EDQUOT, EKEYEXPIRED, EKEYREVOKED, ENOKEY } from "./errno.ts";
import type { Credentials } from "./creds.ts";

export const KEY_POS_ALL = 0x3f000000;
export const KEY_POS_VIEW = 0x01000000, KEY_POS_READ = 0x02000000, KEY_POS_WRITE = 0x04000000;
export const KEY_POS_SEARCH = 0x08000000, KEY_POS_LINK = 0x10000000, KEY_POS_SETATTR = 0x20000000;
export const KEY_USR_VIEW = 0x00010000, KEY_USR_READ = 0x00020000, KEY_USR_LINK = 0x00100000;
export const KEY_USR_ALL = 0x003f0000;
/** A user keyring's permissions (Linux's user_keyring_perm): the possessor all but setattr, the owner all. */
export const USER_KEYRING_PERM = 0x1f000000 | KEY_USR_ALL;
export const KEY_NEED_VIEW = 0x01, KEY_NEED_READ = 0x02, KEY_NEED_WRITE = 0x04, KEY_NEED_SEARCH = 0x08;
export const KEY_NEED_LINK = 0x10, KEY_NEED_SETATTR = 0x20;
/** The group a user keyring shows (INVALID_GID, which Linux prints as the overflow gid). */
const OVERFLOW_GID = 65534;
/** What a keyring link costs its keyring's owner (KEYQUOTA_LINK_BYTES). */
export const KEYQUOTA_LINK_BYTES = 4;
/** How deep a search descends into nested keyrings (KEYRING_SEARCH_MAX_DEPTH). */
export const KEYRING_SEARCH_MAX_DEPTH = 6;
/** How long a key no root reaches lives on (see the module comment). */
const GC_GRACE_MS = 50;
/** Seconds a negative key lasts (key_negative_timeout). */
export const KEY_NEGATIVE_TIMEOUT = 60;

export type KeyType = "keyring" | "user" | "logon" | "big_key";
export const KEY_TYPES: ReadonlySet<string> = new Set(["keyring", "user", "logon", "big_key"]);
/** The largest payload of each payload type (user_preparse's 32767, big_key's 1 MiB - 1). */
export const KEY_MAX_PAYLOAD: Readonly<Record<string, number>> = { user: 32767, logon: 32767, big_key: (1 << 20) - 1 };

/** The realtime clock in seconds, as key expiry times count (ktime_get_real_seconds). */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** @savable (kernel/checkpoint/keys.ts) One key or keyring. */
export class Key {
  /** A keyring's links, in the order they were made. */
  readonly links: Key[] = [];
  /** A payload key's payload; null for a keyring, a negative or a revoked key. */
  payload: Uint8Array<ArrayBuffer> | null = null;
  /** Negative (request_key could not construct it): the errno a search gives, else 0. */
  rejectErrno = 0;
  revoked = false;
  /** When it was revoked (seconds), for the collector's delay; 0 when not. */
  revokedAt = 0;
  invalidated = false;
  /** When it expires (realtime seconds), or 0 for never. */
  expiry = 0;
  /** What its owner is charged (Linux's quotalen: description + 1, payload, links). */
  quotaLen = 0;
  /** The payload length (a keyring's: 4 bytes a link), as Linux's datalen. */
  datalen = 0;
  /** When (monotonic ms) a collection first found no root reaching it; 0 while one does. */
  unreachableSince = 0;
  /** It has been a task's thread, process or session keyring (held by credentials). */
  credHeld = false;

  constructor(
    readonly serial: number,
    readonly type: KeyType,
    readonly description: string,
    public uid: number,
    public gid: number,
    public perm: number,
  ) {}

  /** KEYCTL_DESCRIBE's text: type;uid;gid;perm;description. */
  describe(): string {
    return `${this.type};${this.uid};${this.gid};${(this.perm >>> 0).toString(16).padStart(8, "0")};${this.description}`;
  }

  /**
   * EACCES unless creds may do `need` (KEY_NEED_* bits) to this key, as Linux's
   * key_task_permission: the owner's byte for its owner, the group's for a member, else the
   * others'; a possessor adds the possessor's byte.
   */
  check(creds: Credentials, need: number, possessed: boolean): void {
    if (!this.permits(creds, need, possessed)) throw EACCES;
  }

  permits(creds: Credentials, need: number, possessed: boolean): boolean {
    let kperm: number;
    if (this.uid === creds.fsuid) kperm = this.perm >>> 16;
    else if (this.gid !== OVERFLOW_GID && (this.perm & 0x3f00) && creds.inGroup(this.gid)) kperm = this.perm >>> 8;
    else kperm = this.perm;
    if (possessed) kperm |= this.perm >>> 24;
    return (kperm & need & 0x3f) === need;
  }

  /** Linux's key_validate: an invalidated key is ENOKEY, a revoked one EKEYREVOKED, an expired one EKEYEXPIRED. */
  validate(now = nowSeconds()): void {
    if (this.invalidated) throw ENOKEY;
    if (this.revoked) throw EKEYREVOKED;
    if (this.expiry !== 0 && now >= this.expiry) throw EKEYEXPIRED;
  }

  get isKeyring(): boolean {
    return this.type === "keyring";
  }

  /** Whether the collector removes it now (key_is_dead, with gc_delay after expiry or revocation). */
  dead(now: number, gcDelay: number): boolean {
    if (this.invalidated) return true;
    if (this.expiry !== 0 && this.expiry + gcDelay <= now) return true;
    return this.revoked && this.revokedAt + gcDelay <= now;
  }
}

/** Compatibility name: the keyrings tasks hold are keys of type "keyring". */
export type Keyring = Key;

/** One user's key accounting (Linux's struct key_user). */
export interface KeyUser {
  /** Keys it owns, and of those the instantiated (positive or negative) ones. */
  nkeys: number;
  nikeys: number;
  /** What the quota counts: keys and bytes. */
  qnkeys: number;
  qnbytes: number;
}

/** /proc/sys/kernel/keys: Linux's defaults. */
export interface KeyLimits {
  maxkeys: number;
  maxbytes: number;
  root_maxkeys: number;
  root_maxbytes: number;
  gc_delay: number;
  persistent_keyring_expiry: number;
}

/** Whatever holds keyrings for the collector: the tasks' and processes' keyrings. */
export type KeyRoots = () => Iterable<Key | null>;

/** @savable (kernel/checkpoint/keys.ts) Every key of the sandbox, by serial number and by name. */
export class KeyRegistry {
  readonly #bySerial = new Map<number, Key>();
  /** The users' keyrings: "_uid.UID" and "_uid_ses.UID". */
  readonly #userKeyrings = new Map<string, Key>();
  /** Each user's accounting, by uid. */
  readonly #users = new Map<number, KeyUser>();
  readonly limits: KeyLimits = {
    maxkeys: 200,
    maxbytes: 20000,
    root_maxkeys: 1000000,
    root_maxbytes: 25000000,
    gc_delay: 300,
    persistent_keyring_expiry: 259200,
  };

  get size(): number {
    return this.#bySerial.size;
  }

  get(serial: number): Key | undefined {
    return this.#bySerial.get(serial);
  }

  /** Every key in creation order. */
  keys(): IterableIterator<Key> {
    return this.#bySerial.values();
  }

  /** The users with accounting, by uid. */
  users(): Map<number, KeyUser> {
    return this.#users;
  }

  user(uid: number): KeyUser {
    let u = this.#users.get(uid);
    if (u === undefined) {
      u = { nkeys: 0, nikeys: 0, qnkeys: 0, qnbytes: 0 };
      this.#users.set(uid, u);
    }
    return u;
  }

  maxKeys(uid: number): number {
    return uid === 0 ? this.limits.root_maxkeys : this.limits.maxkeys;
  }

  maxBytes(uid: number): number {
    return uid === 0 ? this.limits.root_maxbytes : this.limits.maxbytes;
  }

  /**
   * A new, instantiated key with a fresh random serial (key_alloc): its owner is charged a key
   * and its description's bytes, EDQUOT past the limits unless `overrun` (thread and process
   * keyrings may overrun, as KEY_ALLOC_QUOTA_OVERRUN).
   */
  create(type: KeyType, description: string, uid: number, gid: number, perm: number, overrun = false): Key {
    const quotaLen = new TextEncoder().encode(description).length + 1;
    const u = this.user(uid);
    if (!overrun && (u.qnkeys + 1 > this.maxKeys(uid) || u.qnbytes + quotaLen > this.maxBytes(uid))) throw EDQUOT;
    u.qnkeys++;
    u.qnbytes += quotaLen;
    u.nkeys++;
    u.nikeys++;
    let serial: number;
    do {
      serial = crypto.getRandomValues(new Uint32Array(1))[0]! & 0x7fffffff;
    } while (serial < 3 || this.#bySerial.has(serial));
    const k = new Key(serial, type, description, uid, gid, perm);
    k.quotaLen = quotaLen;
    this.#bySerial.set(serial, k);
    return k;
  }

  /** Changes a key's payload length, charging its owner the difference (key_payload_reserve). */
  reserve(k: Key, datalen: number): void {
    const delta = datalen - k.datalen;
    if (delta !== 0) {
      const u = this.user(k.uid);
      if (delta > 0 && u.qnbytes + delta > this.maxBytes(k.uid)) throw EDQUOT;
      u.qnbytes += delta;
      k.quotaLen += delta;
    }
    k.datalen = datalen;
  }

  /** Moves a key's charge to a new owner (keyctl_chown_key): EDQUOT when it does not fit. */
  chown(k: Key, uid: number): void {
    const to = this.user(uid), from = this.user(k.uid);
    if (to.qnkeys + 1 > this.maxKeys(uid) || to.qnbytes + k.quotaLen > this.maxBytes(uid)) throw EDQUOT;
    to.qnkeys++;
    to.qnbytes += k.quotaLen;
    from.qnkeys--;
    from.qnbytes -= k.quotaLen;
    from.nkeys--;
    to.nkeys++;
    from.nikeys--;
    to.nikeys++;
    k.uid = uid;
  }

  /**
   * Links key into keyring (__key_link): a link to a key of the same type and description
   * replaces it in place; a new link charges the keyring's owner KEYQUOTA_LINK_BYTES (EDQUOT).
   */
  link(keyring: Key, key: Key): void {
    const i = keyring.links.findIndex((l) => l.type === key.type && l.description === key.description);
    if (i >= 0) {
      keyring.links[i] = key;
      return;
    }
    this.reserve(keyring, keyring.datalen + KEYQUOTA_LINK_BYTES);
    keyring.links.push(key);
  }

  /** Removes the link; false when there is none (key_unlink's ENOENT). */
  unlink(keyring: Key, key: Key): boolean {
    const i = keyring.links.indexOf(key);
    if (i < 0) return false;
    keyring.links.splice(i, 1);
    this.reserve(keyring, keyring.datalen - KEYQUOTA_LINK_BYTES);
    return true;
  }

  /** Empties a keyring (keyring_clear, keyring_revoke). */
  clear(keyring: Key): void {
    keyring.links.length = 0;
    this.reserve(keyring, 0);
  }

  /** Adds a checkpoint's key, in its creation order (the checkpoint checked serials unique). */
  restore(k: Key, user: string | null): void {
    this.#bySerial.set(k.serial, k);
    if (user !== null) this.#userKeyrings.set(user, k);
  }

  /** Restores a user's accounting. */
  restoreUser(uid: number, u: KeyUser): void {
    this.#users.set(uid, { ...u });
  }

  /** The user keyring name a key is kept under, or null. */
  userKeyringName(k: Key): string | null {
    for (const [name, u] of this.#userKeyrings) if (u === k) return name;
    return null;
  }

  /**
   * The user keyring or user session keyring of uid (look_up_user_keyrings): both are made at
   * the first look, the session keyring linked in the user keyring. A keyring that someone else
   * made under such a name is not taken (CVE-2017-15299's fix: the names are the register's).
   */
  userKeyring(uid: number, session: boolean): Key {
    let user = this.#userKeyrings.get(`_uid.${uid}`);
    if (user === undefined) {
      user = this.create("keyring", `_uid.${uid}`, uid, OVERFLOW_GID, USER_KEYRING_PERM, true);
      this.#userKeyrings.set(`_uid.${uid}`, user);
      const ses = this.create("keyring", `_uid_ses.${uid}`, uid, OVERFLOW_GID, USER_KEYRING_PERM, true);
      this.#userKeyrings.set(`_uid_ses.${uid}`, ses);
      this.link(user, ses);
    }
    return session ? this.#userKeyrings.get(`_uid_ses.${uid}`)! : user;
  }

  /**
   * A keyring of that name the caller may search (not as possessor), or null
   * (find_keyring_by_name): every keyring with a name that does not start with '.' is published.
   */
  findByName(name: string, creds: Credentials): Key | null {
    const now = nowSeconds();
    for (const k of this.#bySerial.values()) {
      if (!k.isKeyring || k.description !== name || k.invalidated || k.revoked) continue;
      if (k.expiry !== 0 && now >= k.expiry) continue;
      if (k.permits(creds, KEY_NEED_SEARCH, false)) return k;
    }
    return null;
  }

  /**
   * The collector (key_garbage_collector): dead keys (invalidated, or expired or revoked longer
   * than gc_delay) lose their links, then every key no root reaches is destroyed and its owner's
   * charge given back.
   */
  collect(roots: Iterable<Key | null>): void {
    if (this.#bySerial.size === 0) return;
    const now = nowSeconds(), delay = this.limits.gc_delay;
    for (const k of this.#bySerial.values()) {
      if (!k.isKeyring || k.links.length === 0) continue;
      for (let i = k.links.length - 1; i >= 0; i--) {
        if (k.links[i]!.dead(now, delay)) k.links.splice(i, 1);
      }
    }
    const live = new Set<Key>();
    const stack: Key[] = [...this.#userKeyrings.values()];
    for (const r of roots) if (r !== null) stack.push(r);
    while (stack.length > 0) {
      const k = stack.pop()!;
      if (live.has(k)) continue;
      live.add(k);
      for (const l of k.links) stack.push(l);
    }
    const ms = performance.now();
    for (const [serial, k] of this.#bySerial) {
      if (live.has(k)) {
        k.unreachableSince = 0;
        continue;
      }
      if (k.credHeld) {
        if (k.unreachableSince === 0) k.unreachableSince = ms;
        if (ms - k.unreachableSince < GC_GRACE_MS) continue;
      }
      this.#bySerial.delete(serial);
      const u = this.user(k.uid);
      u.qnkeys--;
      u.qnbytes -= k.quotaLen;
      u.nkeys--;
      u.nikeys--;
      if (u.nkeys === 0) this.#users.delete(k.uid);
    }
  }
}
