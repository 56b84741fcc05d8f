/** Reading time arguments from application memory. */

import { EINVAL } from "../../errno.ts";
import type { Task } from "../../task.ts";

/**
 * Reads a struct timespec as nanoseconds. EINVAL when tv_nsec is outside [0, 1e9) or tv_sec is
 * negative; EFAULT from the copy.
 */
export function readTimespecNs(t: Task, addr: number): number {
  const b = t.copyIn(addr, 16);
  const v = new DataView(b.buffer);
  const sec = v.getBigInt64(0, true), nsec = v.getBigInt64(8, true);
  if (sec < 0n || nsec < 0n || nsec >= 1_000_000_000n) throw EINVAL;
  return Number(sec) * 1e9 + Number(nsec);
}
