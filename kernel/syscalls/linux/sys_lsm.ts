/**
 * The LSM syscalls (security/lsm_syscalls.c, Linux 6.8): lsm_list_modules(2) names the
 * security modules the sandbox has — capabilities and Landlock (kernel/landlock.ts) — in
 * Linux's order; none of them keeps per-process attributes, so lsm_get_self_attr(2) and
 * lsm_set_self_attr(2) validate their arguments as Linux does and then answer EOPNOTSUPP.
 *
 * @module
 */

import { E2BIG, EFAULT, EINVAL, EOPNOTSUPP } from "../../errno.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const LSM_ID_CAPABILITY = 100, LSM_ID_LANDLOCK = 110;
/** The active modules, as lsm_idlist (capability is always first). */
const LSM_IDS = [LSM_ID_CAPABILITY, LSM_ID_LANDLOCK];
const LSM_ATTR_UNDEF = 0, LSM_ID_UNDEF = 0;
const LSM_FLAG_SINGLE = 1;
/** sizeof(struct lsm_ctx): id, flags, len, ctx_len (u64 each), then ctx[]. */
const LSM_CTX_SIZE = 32;
const PAGE_SIZE = 4096;

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

/** Implements lsm_list_modules(2): the total size is stored before E2BIG is decided. */
const sysListModules: SyscallFn = (t, a) => {
  const ids = a.pointer(0), size = a.pointer(1);
  if (a.uint(2) !== 0) throw EINVAL;
  const total = LSM_IDS.length * 8;
  const usize = new DataView(t.copyIn(size, 4).buffer).getUint32(0, true);
  t.copyOut(size, u32(total));
  if (usize < total) throw E2BIG;
  const b = new Uint8Array(total);
  const v = new DataView(b.buffer);
  LSM_IDS.forEach((id, i) => v.setBigUint64(i * 8, BigInt(id), true));
  t.copyOut(ids, b);
  return LSM_IDS.length;
};

/** Implements lsm_get_self_attr(2) (security_getselfattr) with no module that has attributes. */
const sysGetSelfAttr: SyscallFn = (t, a) => {
  const attr = a.uint(0), ctx = a.pointer(1), size = a.pointer(2), flags = a.uint(3);
  if (attr === LSM_ATTR_UNDEF) throw EINVAL;
  if (size === 0) throw EINVAL;
  t.copyIn(size, 4);
  if (flags !== 0) {
    if (flags !== LSM_FLAG_SINGLE || ctx === 0) throw EINVAL;
    const id = new DataView(t.copyIn(ctx, LSM_CTX_SIZE).buffer).getBigUint64(0, true);
    if (id === BigInt(LSM_ID_UNDEF)) throw EINVAL;
  }
  t.copyOut(size, u32(0));
  throw EOPNOTSUPP;
};

/** Implements lsm_set_self_attr(2) (security_setselfattr) with no module that has attributes. */
const sysSetSelfAttr: SyscallFn = (t, a) => {
  const ctx = a.pointer(1), size = a.uint(2), flags = a.uint(3);
  if (flags !== 0) throw EINVAL;
  if (size < LSM_CTX_SIZE) throw EINVAL;
  if (size > PAGE_SIZE) throw E2BIG;
  const v = new DataView(t.copyIn(ctx, size).buffer);
  const len = v.getBigUint64(16, true), ctxLen = v.getBigUint64(24, true);
  const n = BigInt(size), need = ctxLen + BigInt(LSM_CTX_SIZE); // an overflow is EINVAL too
  if (n < len || n < need || len < need) throw EINVAL;
  throw EOPNOTSUPP;
};

export const table: Record<number, SyscallEntry> = {
  459: supported("lsm_get_self_attr", sysGetSelfAttr),
  460: supported("lsm_set_self_attr", sysSetSelfAttr),
  461: supported("lsm_list_modules", sysListModules),
};
