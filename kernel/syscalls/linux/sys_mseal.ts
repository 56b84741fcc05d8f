/**
 * mseal(2) (mm/mseal.c, Linux 6.10): seals the mappings of a range against change; what a
 * seal refuses is kernel/mm/mm.ts's (Vma.sealed). Checked in Linux's order: flags, alignment,
 * a length that wraps, an empty range (0), then ENOMEM for an unmapped page.
 *
 * @module
 */

import { EINVAL } from "../../errno.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const U64 = 1n << 64n;

const sysMseal: SyscallFn = (t, a) => {
  const start = a.u64(0), lenIn = a.u64(1), flags = a.u64(2);
  if (flags !== 0n) throw EINVAL;
  if (start % 4096n !== 0n) throw EINVAL;
  const len = ((lenIn + 0xfffn) % U64) & ~0xfffn;
  if (lenIn !== 0n && len === 0n) throw EINVAL;
  const end = start + len;
  if (end >= U64) throw EINVAL;
  if (end === start) return 0;
  // Beyond the address space nothing is mapped: ENOMEM, as range_contains_unmapped.
  const s = start > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(start);
  const e = end > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(end);
  t.mm.mseal(s, Math.max(e, s + 1));
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  462: supported("mseal", sysMseal),
};
