/**
 * Keyrings, as Linux's security/keys: the part that session keyrings need. A keyring has a
 * serial number (random, positive), an owner, a group, a description and a 32-bit permission
 * mask: one byte each for a possessor, the owner, the group and others (view, read, write,
 * search, link, setattr). A task's session keyring (Linux keeps it in the credentials, so each
 * thread has its own and a new thread or process starts with its creator's) is joined with
 * keyctl(KEYCTL_JOIN_SESSION_KEYRING): a new anonymous "_ses" keyring, or one of a name,
 * joined when a keyring of that name exists that the caller may search, made otherwise. Without
 * one, a task's session keyring is its user's session keyring ("_uid_ses.UID"), installed at
 * the first look. The syscall is kernel/syscalls/linux/sys_keys.ts.
 *
 * @module
 */

import { EACCES } from "./errno.ts";
import type { Credentials } from "./creds.ts";

export const KEY_POS_ALL = 0x3f000000;
export const KEY_USR_VIEW = 0x00010000, KEY_USR_READ = 0x00020000, KEY_USR_LINK = 0x00100000;
export const KEY_USR_ALL = 0x003f0000;
/** A user keyring's permissions (Linux's user_keyring_perm): the possessor all but setattr, the owner all. */
export const USER_KEYRING_PERM = 0x1f000000 | KEY_USR_ALL;
export const KEY_NEED_VIEW = 0x01, KEY_NEED_READ = 0x02, KEY_NEED_WRITE = 0x04, KEY_NEED_SEARCH = 0x08;
export const KEY_NEED_LINK = 0x10, KEY_NEED_SETATTR = 0x20;
/** The group a user keyring shows (INVALID_GID, which Linux prints as the overflow gid). */
const OVERFLOW_GID = 65534;

/** @savable (kernel/checkpoint/keys.ts) One keyring. */
export class Keyring {
  constructor(
    readonly serial: number,
    readonly description: string,
    public uid: number,
    public gid: number,
    public perm: number,
  ) {}

  /** KEYCTL_DESCRIBE's text: type;uid;gid;perm;description. */
  describe(): string {
    return `keyring;${this.uid};${this.gid};${(this.perm >>> 0).toString(16).padStart(8, "0")};${this.description}`;
  }

  /**
   * EACCES unless creds may do `need` (KEY_NEED_* bits) to this keyring, as Linux's
   * key_task_permission: the owner's byte for its owner, the group's for a member, else the
   * others'; a possessor adds the possessor's byte.
   */
  check(creds: Credentials, need: number, possessed: boolean): void {
    let kperm: number;
    if (this.uid === creds.fsuid) kperm = this.perm >>> 16;
    else if (this.gid !== OVERFLOW_GID && (this.perm & 0x3f00) && creds.inGroup(this.gid)) kperm = this.perm >>> 8;
    else kperm = this.perm;
    if (possessed) kperm |= this.perm >>> 24;
    if ((kperm & need & 0x3f) !== need) throw EACCES;
  }
}

/** @savable (kernel/checkpoint/keys.ts) Every keyring of the sandbox, by serial number and by name. */
export class KeyRegistry {
  readonly #bySerial = new Map<number, Keyring>();
  /** Named keyrings in creation order (find_keyring_by_name looks through them). */
  readonly #named: Keyring[] = [];
  /** The users' keyrings: "_uid.UID" and "_uid_ses.UID". */
  readonly #userKeyrings = new Map<string, Keyring>();

  get size(): number {
    return this.#bySerial.size;
  }

  get(serial: number): Keyring | undefined {
    return this.#bySerial.get(serial);
  }

  /** A new keyring with a fresh random serial (positive, unused). */
  create(description: string, uid: number, gid: number, perm: number, named: boolean): Keyring {
    let serial: number;
    do {
      serial = crypto.getRandomValues(new Uint32Array(1))[0]! & 0x7fffffff;
    } while (serial < 3 || this.#bySerial.has(serial));
    const k = new Keyring(serial, description, uid, gid, perm);
    this.#bySerial.set(serial, k);
    if (named) this.#named.push(k);
    return k;
  }

  /**
   * Every keyring in creation order, each with whether it is named (found by name) and the user
   * keyring name it is kept under, as a checkpoint saves them (kernel/checkpoint/keys.ts).
   */
  all(): { keyring: Keyring; named: boolean; user: string | null }[] {
    const users = new Map([...this.#userKeyrings].map(([name, k]) => [k, name]));
    const named = new Set(this.#named);
    return [...this.#bySerial.values()].map((k) => ({ keyring: k, named: named.has(k), user: users.get(k) ?? null }));
  }

  /** Adds a checkpoint's keyring, in its creation order (the checkpoint checked serials and names unique). */
  restore(k: Keyring, named: boolean, user: string | null): void {
    this.#bySerial.set(k.serial, k);
    if (named) this.#named.push(k);
    if (user !== null) this.#userKeyrings.set(user, k);
  }

  /** The user keyring or user session keyring of uid, made at the first use. */
  userKeyring(uid: number, session: boolean): Keyring {
    const name = `${session ? "_uid_ses" : "_uid"}.${uid}`;
    let k = this.#userKeyrings.get(name);
    if (k === undefined) {
      k = this.create(name, uid, OVERFLOW_GID, USER_KEYRING_PERM, false);
      this.#userKeyrings.set(name, k);
    }
    return k;
  }

  /** A keyring of that name the caller may search (not as possessor), or null (find_keyring_by_name). */
  findByName(name: string, creds: Credentials): Keyring | null {
    for (const k of this.#named) {
      if (k.description !== name) continue;
      try {
        k.check(creds, KEY_NEED_SEARCH, false);
        return k;
      } catch {
        continue;
      }
    }
    return null;
  }
}
