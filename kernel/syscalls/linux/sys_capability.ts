/**
 * capget(2): the capability sets of a task, as capsh, getpcaps and setpriv --dump read them.
 *
 * The sentry keeps no capability sets of its own: they follow from the uids, as Linux's
 * defaults make them without securebits, file capabilities or PR_SET_KEEPCAPS. Root in the
 * sandbox holds every capability of its namespace (0..CAP_LAST_CAP); a task keeps its permitted
 * set while any of its real, effective or saved uids is 0, and its effective set while its
 * effective uid is 0 (setuid(2)'s rules, capabilities(7)); the inheritable set is empty.
 * /proc/PID/status shows the same sets (vfs/procfs/render.ts).
 *
 * capset(2) is not here: changing the sets needs them kept in the credentials.
 *
 * @module
 */

import { EINVAL, ESRCH } from "../../errno.ts";
import type { Credentials } from "../../creds.ts";
import type { Task } from "../../task.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const VERSION_1 = 0x19980330, VERSION_2 = 0x20071026, VERSION_3 = 0x20080522;
/** CAP_LAST_CAP (CAP_CHECKPOINT_RESTORE), as /proc/sys/kernel/cap_last_cap says. */
const CAP_LAST_CAP = 40;
const ALL_CAPS = (1n << BigInt(CAP_LAST_CAP + 1)) - 1n;

/** The permitted and effective sets that the uids of c give. */
export function capabilitySets(c: Credentials): { permitted: bigint; effective: bigint } {
  const permitted = c.uid === 0 || c.euid === 0 || c.suid === 0 ? ALL_CAPS : 0n;
  return { permitted, effective: c.euid === 0 ? permitted : 0n };
}

/**
 * Linux's cap_validate_magic: how many 32-bit words each set takes for the header's version;
 * an unknown version is answered with the preferred one, written back, and EINVAL.
 */
function wordsFor(t: Task, hdr: number): number {
  const version = t.copyInU32(hdr);
  if (version === VERSION_1) return 1;
  if (version === VERSION_2 || version === VERSION_3) return 2;
  t.copyOutU32(hdr, VERSION_3);
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
  const target = pid === 0 ? t : t.kernel.tasks.get(pid);
  if (target === undefined) throw ESRCH;
  const { permitted, effective } = capabilitySets(target.creds);
  const b = new Uint8Array(12 * words);
  const v = new DataView(b.buffer);
  for (let i = 0; i < words; i++) {
    const shift = BigInt(32 * i);
    v.setUint32(12 * i, Number((effective >> shift) & 0xffffffffn), true);
    v.setUint32(12 * i + 4, Number((permitted >> shift) & 0xffffffffn), true);
    v.setUint32(12 * i + 8, 0, true);
  }
  t.copyOut(data, b);
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  125: supported("capget", sysCapget),
};
