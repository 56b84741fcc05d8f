/**
 * keyctl(2) for keyrings (kernel/keys.ts): KEYCTL_GET_KEYRING_ID, KEYCTL_JOIN_SESSION_KEYRING,
 * KEYCTL_SETPERM, KEYCTL_DESCRIBE, with the special ids of the thread, process, session, user and
 * user session keyrings. The other operations, add_key(2) and request_key(2) (keys with
 * payloads) are not supported: EOPNOTSUPP and ENOSYS.
 *
 * @module
 */

import { EACCES, EFAULT, EINVAL, ENOKEY, EOPNOTSUPP } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { CAP_SYS_ADMIN } from "../../../abi/linux/capability.ts";
import {
  KEY_NEED_SETATTR, KEY_NEED_VIEW, KEY_POS_ALL, KEY_USR_LINK, KEY_USR_READ, KEY_USR_VIEW, type Keyring,
} from "../../keys.ts";
import { partial, type SyscallEntry, type SyscallFn } from "./support.ts";

const KEYCTL_GET_KEYRING_ID = 0, KEYCTL_JOIN_SESSION_KEYRING = 1, KEYCTL_SETPERM = 5, KEYCTL_DESCRIBE = 6;
const KEY_SPEC_THREAD_KEYRING = -1, KEY_SPEC_PROCESS_KEYRING = -2, KEY_SPEC_SESSION_KEYRING = -3;
const KEY_SPEC_USER_KEYRING = -4, KEY_SPEC_USER_SESSION_KEYRING = -5;
/**
 * keyctl operations whose second argument is a key: UPDATE, REVOKE, CHOWN, CLEAR, LINK, UNLINK,
 * SEARCH, READ, INSTANTIATE, NEGATE, SET_TIMEOUT, ASSUME_AUTHORITY, GET_SECURITY, REJECT,
 * INSTANTIATE_IOV, INVALIDATE.
 */
const KEY_ID_OPS: ReadonlySet<number> = new Set([2, 3, 4, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 19, 20, 21]);
/** Every permission bit (possessor, user, group, other: six each). */
const KEY_PERM_ALL = 0x3f3f3f3f;

/** A new anonymous or named session keyring for t (Linux's join_session_keyring's allocation). */
function newSessionKeyring(t: Task, name: string | null): Keyring {
  const c = t.creds;
  const perm = KEY_POS_ALL | KEY_USR_VIEW | KEY_USR_READ | (name !== null ? KEY_USR_LINK : 0);
  return t.kernel.keys.create(name ?? "_ses", c.uid, c.gid, perm, name !== null);
}

/**
 * The keyring an id names (Linux's lookup_user_key) and whether the caller possesses it: the
 * special ids name the caller's own (made when `create`, or, for the session keyring, the
 * user's session keyring installed at the first look); a serial number names any keyring, which
 * the caller possesses when it is one of its own that it may search.
 */
function lookupKeyring(t: Task, id: number, create: boolean): { key: Keyring; possessed: boolean } {
  const reg = t.kernel.keys;
  switch (id) {
    case KEY_SPEC_THREAD_KEYRING:
      if (t.threadKeyring === null) {
        if (!create) throw ENOKEY;
        t.threadKeyring = reg.create("_tid", t.creds.uid, t.creds.gid, KEY_POS_ALL | KEY_USR_VIEW, false);
      }
      return { key: t.threadKeyring, possessed: true };
    case KEY_SPEC_PROCESS_KEYRING:
      if (t.tg.processKeyring === null) {
        if (!create) throw ENOKEY;
        t.tg.processKeyring = reg.create("_pid", t.creds.uid, t.creds.gid, KEY_POS_ALL | KEY_USR_VIEW, false);
      }
      return { key: t.tg.processKeyring, possessed: true };
    case KEY_SPEC_SESSION_KEYRING:
      t.sessionKeyring ??= create ? newSessionKeyring(t, null) : reg.userKeyring(t.creds.uid, true);
      return { key: t.sessionKeyring, possessed: true };
    case KEY_SPEC_USER_KEYRING:
      return { key: reg.userKeyring(t.creds.uid, false), possessed: true };
    case KEY_SPEC_USER_SESSION_KEYRING:
      return { key: reg.userKeyring(t.creds.uid, true), possessed: true };
  }
  if (id <= 0) throw EINVAL;
  const key = reg.get(id);
  if (key === undefined) throw ENOKEY;
  let possessed = false;
  if (key === t.sessionKeyring || key === t.threadKeyring || key === t.tg.processKeyring) {
    try {
      key.check(t.creds, 0x08 /* KEY_NEED_SEARCH */, true);
      possessed = true;
    } catch { /* not searchable: not possessed */ }
  }
  return { key, possessed };
}

/** Implements keyctl(2). */
const sysKeyctl: SyscallFn = (t, a) => {
  const op = a.int(0);
  switch (op) {
    case KEYCTL_GET_KEYRING_ID: {
      const { key } = lookupKeyring(t, a.int(1), a.int(2) !== 0);
      return key.serial;
    }
    case KEYCTL_JOIN_SESSION_KEYRING: {
      const nameAddr = a.pointer(1);
      if (nameAddr === 0) {
        t.sessionKeyring = newSessionKeyring(t, null);
        return t.sessionKeyring.serial;
      }
      const name = t.copyInString(nameAddr, 4095);
      if (name === "") throw EINVAL;
      const found = t.kernel.keys.findByName(name, t.creds);
      // Already this task's session keyring: 0 (Linux's join_session_keyring).
      if (found !== null && found === t.sessionKeyring) return 0;
      t.sessionKeyring = found ?? newSessionKeyring(t, name);
      return t.sessionKeyring.serial;
    }
    case KEYCTL_SETPERM: {
      const perm = a.uint(2);
      if (perm & ~KEY_PERM_ALL) throw EINVAL;
      const { key, possessed } = lookupKeyring(t, a.int(1), true);
      key.check(t.creds, KEY_NEED_SETATTR, possessed);
      if (key.uid !== t.creds.fsuid && !t.creds.hasCap(CAP_SYS_ADMIN)) throw EACCES;
      key.perm = perm;
      return 0;
    }
    case KEYCTL_DESCRIBE: {
      const { key, possessed } = lookupKeyring(t, a.int(1), false);
      key.check(t.creds, KEY_NEED_VIEW, possessed);
      const text = new TextEncoder().encode(key.describe() + "\0");
      const buf = a.pointer(2), len = a.sizeT(3);
      if (buf !== 0 && len > 0) {
        try {
          t.copyOut(buf, text.subarray(0, Math.min(len, text.length)));
        } catch {
          throw EFAULT;
        }
      }
      return text.length;
    }
    default:
      // Operations on a key name it first: a key that does not exist is ENOKEY, as Linux's
      // lookup_user_key says before the operation runs (programs probe for free serials so).
      if (KEY_ID_OPS.has(op)) lookupKeyring(t, a.int(1), false);
      t.kernel.log.once(`keyctl-${op}`, `keyctl operation ${op} is not supported`);
      throw EOPNOTSUPP;
  }
};

export const table: Record<number, SyscallEntry> = {
  250: partial("keyctl", sysKeyctl, "keyrings: GET_KEYRING_ID, JOIN_SESSION_KEYRING, SETPERM, DESCRIBE"),
};
