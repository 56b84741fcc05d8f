/**
 * Checkpoint of keyrings (issue #13; docs/checkpoint.md; kernel/keys.ts): every keyring of the
 * sandbox with its serial number, description, owner, group and permissions, in creation
 * order, whether it is named (KEYCTL_JOIN_SESSION_KEYRING finds it by name) and the user
 * keyring name it is kept under; each thread's session and thread keyrings and each process's
 * process keyring by serial. Serial numbers are kept, so ids a program holds name the same
 * keyrings. On restore: serials unique and in range, user keyring names of the form Linux
 * gives (_uid.UID, _uid_ses.UID) for their owner and unique, and every serial a task or
 * process names is one of the image's.
 *
 * @module
 */

import { intIn, z } from "./zod_tree.ts";
import { Keyring, type KeyRegistry } from "../keys.ts";

const u32 = intIn(0, 0xffff_ffff);
/** A keyring's serial number: positive, 3 and up (1 and 2 are never given). */
export const serial = intIn(3, 0x7fff_ffff);

export const keyringsSchema = z.array(z.object({
  serial,
  description: z.string().max(4096),
  uid: u32,
  gid: u32,
  perm: u32,
  named: z.boolean(),
  /** The user keyring name it is kept under ("_uid.UID" or "_uid_ses.UID"), or null. */
  user: z.string().regex(/^_uid(_ses)?\.\d{1,10}$/).nullable(),
}).strict()).max(1 << 16);

export type SavedKeyrings = z.infer<typeof keyringsSchema>;

/** The sandbox's keyrings, or undefined when it has none. */
export function saveKeyrings(r: KeyRegistry): SavedKeyrings | undefined {
  if (r.size === 0) return undefined;
  return r.all().map(({ keyring: k, named, user }) => ({ serial: k.serial, description: k.description, uid: k.uid, gid: k.gid, perm: k.perm, named, user }));
}

/** What the schema cannot check; `named` are the serials tasks and processes name. */
export function checkKeyringsShape(s: SavedKeyrings, named: readonly number[], bad: (why: string) => Error): void {
  const serials = new Set<number>(), users = new Set<string>();
  for (const k of s) {
    if (serials.has(k.serial)) throw bad(`keyring ${k.serial} twice`);
    serials.add(k.serial);
    if (k.user !== null) {
      if (users.has(k.user) || k.user !== k.description || k.user.slice(k.user.indexOf(".") + 1) !== String(k.uid)) {
        throw bad(`user keyring ${k.user} twice, or not its owner's`);
      }
      users.add(k.user);
    }
  }
  for (const n of named) if (!serials.has(n)) throw bad(`a task names keyring ${n}, which the image lacks`);
}

/** Fills the (empty) registry; returns the keyrings by serial. */
export function restoreKeyrings(r: KeyRegistry, s: SavedKeyrings | undefined): Map<number, Keyring> {
  const out = new Map<number, Keyring>();
  for (const k of s ?? []) {
    const kr = new Keyring(k.serial, k.description, k.uid, k.gid, k.perm);
    r.restore(kr, k.named, k.user);
    out.set(k.serial, kr);
  }
  return out;
}
