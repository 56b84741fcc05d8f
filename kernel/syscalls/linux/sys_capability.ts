/**
 * capget(2) and capset(2): a thread's capability sets (kernel/creds.ts keeps them; exec and the
 * set*id calls change them as Linux does; prctl(2) reads and changes the bounding and ambient
 * sets and the securebits).
 *
 * @module
 */

import { EFAULT, EINVAL, EPERM, ESRCH } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import {
  CAP_FULL_SET,
  CAP_SETPCAP,
  LINUX_CAPABILITY_VERSION_1,
  LINUX_CAPABILITY_VERSION_2,
  LINUX_CAPABILITY_VERSION_3,
} from "../../../abi/linux/capability.ts";

/**
 * Linux's cap_validate_magic: how many 32-bit words each set takes for the header's version;
 * an unknown version is answered with the preferred one, written back, and EINVAL.
 */
function wordsFor(t: Task, hdr: number): number {
  const version = t.copyInU32(hdr);
  if (version === LINUX_CAPABILITY_VERSION_1) return 1;
  if (version === LINUX_CAPABILITY_VERSION_2 || version === LINUX_CAPABILITY_VERSION_3) return 2;
  t.copyOutU32(hdr, LINUX_CAPABILITY_VERSION_3);
  throw EINVAL;
}

/** Implements capget(2). A NULL data pointer only probes the version (0, even for a bad one). */
const sysCapget: SyscallFn = (t, a) => {
  const hdr = a.pointer(0), data = a.pointer(1);
  let words: number;
  try {
    words = wordsFor(t, hdr);
  } catch (e) {
    if (e === EINVAL && data === 0) return 0;
    throw e;
  }
  if (data === 0) return 0;
  const pid = t.copyInU32(hdr + 4) | 0;
  if (pid < 0) throw EINVAL;
  const target = pid === 0 ? t : t.findTask(pid);
  if (target === undefined) throw ESRCH;
  const { effective, permitted, inheritable } = target.creds.caps;
  const b = new Uint8Array(12 * words);
  const v = new DataView(b.buffer);
  for (let i = 0; i < words; i++) {
    const shift = BigInt(32 * i);
    v.setUint32(12 * i, Number((effective >> shift) & 0xffffffffn), true);
    v.setUint32(12 * i + 4, Number((permitted >> shift) & 0xffffffffn), true);
    v.setUint32(12 * i + 8, Number((inheritable >> shift) & 0xffffffffn), true);
  }
  t.copyOut(data, b);
  return 0;
};

const isSubset = (a: bigint, b: bigint) => (a & ~b) === 0n;

/**
 * Implements capset(2) with Linux's cap_capset rules: only the calling thread (pid 0 or its own
 * id); permitted may only shrink; effective must lie in the new permitted set; inheritable may
 * only gain bits from the bounding set, and from the permitted set unless CAP_SETPCAP is
 * effective. Ambient capabilities no longer both permitted and inheritable are dropped.
 */
const sysCapset: SyscallFn = (t, a) => {
  const hdr = a.pointer(0), data = a.pointer(1);
  const words = wordsFor(t, hdr);
  const pid = t.copyInU32(hdr + 4) | 0;
  if (pid !== 0 && pid !== t.vnr(t.tid)) throw EPERM;
  if (data === 0) throw EFAULT;
  const v = new DataView(t.copyIn(data, 12 * words).buffer);
  let effective = 0n, permitted = 0n, inheritable = 0n;
  for (let i = 0; i < words; i++) {
    const shift = BigInt(32 * i);
    effective |= BigInt(v.getUint32(12 * i, true)) << shift;
    permitted |= BigInt(v.getUint32(12 * i + 4, true)) << shift;
    inheritable |= BigInt(v.getUint32(12 * i + 8, true)) << shift;
  }
  // Bits past the last capability are ignored, as Linux masks them.
  effective &= CAP_FULL_SET;
  permitted &= CAP_FULL_SET;
  inheritable &= CAP_FULL_SET;
  const c = t.creds, old = c.caps;
  if (!c.hasOwnCap(CAP_SETPCAP) && !isSubset(inheritable, old.inheritable | old.permitted)) throw EPERM;
  if (!isSubset(inheritable, old.inheritable | old.bounding)) throw EPERM;
  if (!isSubset(permitted, old.permitted)) throw EPERM;
  if (!isSubset(effective, permitted)) throw EPERM;
  t.commitCreds(c.withCaps({ effective, permitted, inheritable, ambient: old.ambient & permitted & inheritable }));
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  125: supported("capget", sysCapget),
  126: supported("capset", sysCapset),
};
