/**
 * Checkpoint of keys (issue #13; docs/checkpoint.md; kernel/keys.ts): every key and keyring of
 * the sandbox with its serial number, type, description, owner, group, permissions, payload (a
 * keyring's links, by serial, in order), state (negative, revoked, invalidated, expiry) and
 * what its owner is charged, in creation order, and the user keyring name it is kept under;
 * each thread's session and thread keyrings, request_key default and each process's process
 * keyring by serial; /proc/sys/kernel/keys' limits. Serial numbers are kept, so ids a program
 * holds name the same keys. Each user's charge is the sum of their keys' (recomputed). On
 * restore: serials unique and in range, every link names a key of the image and is made from a
 * keyring, user keyring names of the form Linux gives (_uid.UID, _uid_ses.UID) for their owner
 * and unique, and every serial a task or process names is a keyring of the image.
 *
 * @module
 */

import { intIn, z } from "./zod_tree.ts";
import { Key, KEY_MAX_PAYLOAD, type KeyLimits, type KeyRegistry, type KeyUser } from "../keys.ts";

const u32 = intIn(0, 0xffff_ffff);
const int = intIn(0, 0x7fff_ffff);
/** A key's serial number: positive, 3 and up (1 and 2 are never given). */
export const serial = intIn(3, 0x7fff_ffff);

const keySchema = z.object({
  serial,
  type: z.enum(["keyring", "user", "logon", "big_key"]),
  description: z.string().max(4096),
  uid: u32,
  gid: u32,
  perm: u32,
  /** The user keyring name it is kept under ("_uid.UID" or "_uid_ses.UID"), or null. */
  user: z.string().regex(/^_uid(_ses)?\.\d{1,10}$/).nullable(),
  /** A keyring's links, by serial. */
  links: z.array(serial).max(1 << 16).optional(),
  payload: z.instanceof(Uint8Array).optional(),
  rejectErrno: intIn(0, 4095).optional(),
  revokedAt: intIn(0, Number.MAX_SAFE_INTEGER).optional(),
  invalidated: z.literal(true).optional(),
  expiry: intIn(0, Number.MAX_SAFE_INTEGER).optional(),
  quotaLen: int,
  datalen: int,
}).strict();

export const keyringsSchema = z.object({
  keys: z.array(keySchema).max(1 << 20),
  limits: z.object({
    maxkeys: int,
    maxbytes: int,
    root_maxkeys: int,
    root_maxbytes: int,
    gc_delay: int,
    persistent_keyring_expiry: int,
  }).strict(),
}).strict();

export type SavedKeyrings = z.infer<typeof keyringsSchema>;

/** The sandbox's keys, or undefined when it has none. */
export function saveKeyrings(r: KeyRegistry): SavedKeyrings | undefined {
  if (r.size === 0) return undefined;
  const keys = [...r.keys()].map((k) => ({
    serial: k.serial,
    type: k.type,
    description: k.description,
    uid: k.uid,
    gid: k.gid,
    perm: k.perm,
    user: r.userKeyringName(k),
    ...(k.isKeyring ? { links: k.links.map((l) => l.serial) } : {}),
    ...(k.payload !== null ? { payload: k.payload } : {}),
    ...(k.rejectErrno !== 0 ? { rejectErrno: k.rejectErrno } : {}),
    ...(k.revoked ? { revokedAt: k.revokedAt } : {}),
    ...(k.invalidated ? { invalidated: true as const } : {}),
    ...(k.expiry !== 0 ? { expiry: k.expiry } : {}),
    quotaLen: k.quotaLen,
    datalen: k.datalen,
  }));
  return { keys, limits: { ...r.limits } };
}

/** What the schema cannot check; `named` are the serials tasks and processes name as keyrings. */
export function checkKeyringsShape(s: SavedKeyrings | undefined, named: readonly number[], bad: (why: string) => Error): void {
  const types = new Map<number, string>(), users = new Set<string>();
  for (const k of s?.keys ?? []) {
    if (types.has(k.serial)) throw bad(`keyring ${k.serial} twice`);
    types.set(k.serial, k.type);
    if ((k.links !== undefined) !== (k.type === "keyring")) throw bad(`key ${k.serial}: links on a key that is no keyring, or a keyring without`);
    if (k.payload !== undefined && (k.type === "keyring" || k.payload.length > KEY_MAX_PAYLOAD[k.type]!)) {
      throw bad(`key ${k.serial}: a payload its type cannot hold`);
    }
    if (k.user !== null) {
      if (users.has(k.user) || k.user !== k.description || k.type !== "keyring" || k.user.slice(k.user.indexOf(".") + 1) !== String(k.uid)) {
        throw bad(`user keyring ${k.user} twice, or not its owner's`);
      }
      users.add(k.user);
    }
  }
  for (const k of s?.keys ?? []) {
    for (const l of k.links ?? []) if (!types.has(l)) throw bad(`keyring ${k.serial} links key ${l}, which the image lacks`);
  }
  for (const n of named) {
    if (!types.has(n)) throw bad(`a task names keyring ${n}, which the image lacks`);
    if (types.get(n) !== "keyring") throw bad(`a task names key ${n} as a keyring`);
  }
}

/** Fills the (empty) registry; returns the keys by serial. */
export function restoreKeyrings(r: KeyRegistry, s: SavedKeyrings | undefined): Map<number, Key> {
  const out = new Map<number, Key>();
  if (s === undefined) return out;
  Object.assign(r.limits, s.limits satisfies KeyLimits);
  const users = new Map<number, KeyUser>();
  for (const k of s.keys) {
    const key = new Key(k.serial, k.type, k.description, k.uid, k.gid, k.perm);
    key.payload = k.payload ?? null;
    key.rejectErrno = k.rejectErrno ?? 0;
    key.revoked = k.revokedAt !== undefined;
    key.revokedAt = k.revokedAt ?? 0;
    key.invalidated = k.invalidated === true;
    key.expiry = k.expiry ?? 0;
    key.quotaLen = k.quotaLen;
    key.datalen = k.datalen;
    r.restore(key, k.user);
    out.set(k.serial, key);
    let u = users.get(k.uid);
    if (u === undefined) users.set(k.uid, u = { nkeys: 0, nikeys: 0, qnkeys: 0, qnbytes: 0 });
    u.nkeys++;
    u.nikeys++;
    u.qnkeys++;
    u.qnbytes += k.quotaLen;
  }
  for (const k of s.keys) for (const l of k.links ?? []) out.get(k.serial)!.links.push(out.get(l)!);
  for (const [uid, u] of users) r.restoreUser(uid, u);
  return out;
}
