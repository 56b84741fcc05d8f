/**
 * Landlock's syscalls (kernel/landlock.ts): landlock_create_ruleset(2), landlock_add_rule(2),
 * landlock_restrict_self(2), in the order of Linux's checks (security/landlock/syscalls.c).
 *
 * @module
 */

import { E2BIG, EBADF, EBADFD, EINVAL, ENOMSG, EPERM } from "../../errno.ts";
import { O_PATH, O_RDWR } from "../../../abi/linux/file.ts";
import { CAP_SYS_ADMIN } from "../../../abi/linux/capability.ts";
import { FS_ALL, FS_FILE_RIGHTS, LANDLOCK_ABI_VERSION, LandlockRuleset, NET_ALL, SCOPE_ALL } from "../../landlock.ts";
import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import type { Task } from "../../task.ts";

const LANDLOCK_CREATE_RULESET_VERSION = 1;
const LANDLOCK_RULE_PATH_BENEATH = 1;
const LANDLOCK_RULE_NET_PORT = 2;
/** struct landlock_ruleset_attr of ABI 1 (handled_access_fs) and of the newest one known. */
const ATTR_SIZE_V1 = 8, ATTR_SIZE = 24;

/** Implements landlock_create_ruleset(2): a ruleset descriptor, or the ABI version. */
const sysCreateRuleset: SyscallFn = (t, a) => {
  const attrAddr = a.pointer(0), size = a.sizeT(1), flags = a.uint(2);
  if (flags !== 0) {
    if (flags === LANDLOCK_CREATE_RULESET_VERSION && attrAddr === 0 && size === 0) return LANDLOCK_ABI_VERSION;
    throw EINVAL;
  }
  if (size < ATTR_SIZE_V1) throw EINVAL;
  if (size > 4096) throw E2BIG;
  const raw = t.copyIn(attrAddr, size);
  // Bytes past what this kernel knows must be zero (copy_struct_from_user).
  if (raw.subarray(ATTR_SIZE).some((b) => b !== 0)) throw E2BIG;
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const fs = v.getBigUint64(0, true);
  const net = size >= 16 ? v.getBigUint64(8, true) : 0n;
  const scoped = size >= 24 ? v.getBigUint64(16, true) : 0n;
  if ((fs & ~BigInt(FS_ALL)) !== 0n) throw EINVAL;
  if ((net & ~BigInt(NET_ALL)) !== 0n) throw EINVAL;
  if ((scoped & ~BigInt(SCOPE_ALL)) !== 0n) throw EINVAL;
  if (fs === 0n && net === 0n && scoped === 0n) throw ENOMSG;
  return t.fdTable.install(new LandlockRuleset(Number(fs), Number(net), Number(scoped), O_RDWR), true);
};

/** The ruleset of a descriptor: EBADF for none or an O_PATH one (fdget), EBADFD for another file. */
function rulesetOf(t: Task, fd: number): LandlockRuleset {
  const f = t.fdTable.get(fd);
  if (f.flags & O_PATH) throw EBADF;
  if (!(f instanceof LandlockRuleset)) throw EBADFD;
  return f;
}

/** Implements landlock_add_rule(2): a path-beneath or a TCP port rule. */
const sysAddRule: SyscallFn = (t, a) => {
  const type = a.uint(1), attrAddr = a.pointer(2), flags = a.uint(3);
  if (flags !== 0) throw EINVAL;
  const rs = rulesetOf(t, a.int(0));
  if (type === LANDLOCK_RULE_NET_PORT) return addPortRule(t, rs, attrAddr);
  if (type !== LANDLOCK_RULE_PATH_BENEATH) throw EINVAL;
  const raw = t.copyIn(attrAddr, 12);
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const allowed = v.getBigUint64(0, true);
  const parentFd = v.getInt32(8, true);
  if (allowed === 0n) throw ENOMSG;
  if ((allowed | BigInt(rs.handled)) !== BigInt(rs.handled)) throw EINVAL;
  // The parent: any descriptor in the tree (O_PATH ones included), not an anonymous file.
  const f = t.fdTable.get(parentFd);
  const loc = f.location();
  if (loc === null) throw EBADFD;
  const access = Number(allowed);
  // A file that is not a directory takes only the rights that apply to files.
  if (!loc.isDir && (access & ~FS_FILE_RIGHTS)) throw EINVAL;
  rs.rules.set(loc.dentry, (rs.rules.get(loc.dentry) ?? 0) | access);
  return 0;
};

/**
 * A port rule (struct landlock_net_port_attr: allowed_access, port, both u64): ENOMSG for no
 * rights, EINVAL for rights the ruleset does not handle (all, when it handles no TCP right) or a
 * port past 65535.
 */
function addPortRule(t: Task, rs: LandlockRuleset, attrAddr: number): number {
  const raw = t.copyIn(attrAddr, 16);
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const allowed = v.getBigUint64(0, true), port = v.getBigUint64(8, true);
  if (allowed === 0n) throw ENOMSG;
  if ((allowed | BigInt(rs.handledNet)) !== BigInt(rs.handledNet)) throw EINVAL;
  if (port > 0xffffn) throw EINVAL;
  const p = Number(port);
  rs.netRules.set(p, (rs.netRules.get(p) ?? 0) | Number(allowed));
  return 0;
}

/** Linux's LANDLOCK_MAX_NUM_LAYERS. */
const LANDLOCK_MAX_NUM_LAYERS = 16;

/** Implements landlock_restrict_self(2): the ruleset becomes a layer of the caller's domain. */
const sysRestrictSelf: SyscallFn = (t, a) => {
  const flags = a.uint(1);
  if (flags !== 0) throw EINVAL;
  if (!t.noNewPrivs && !t.creds.hasOwnCap(CAP_SYS_ADMIN)) throw EPERM;
  const fd = a.int(0);
  if (fd < 0) throw EBADF;
  const rs = rulesetOf(t, fd);
  // landlock_merge_ruleset: at most LANDLOCK_MAX_NUM_LAYERS stacked layers.
  if ((t.landlock?.length ?? 0) >= LANDLOCK_MAX_NUM_LAYERS) throw E2BIG;
  t.landlock = [...(t.landlock ?? []), rs.layer()];
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  444: supported("landlock_create_ruleset", sysCreateRuleset),
  445: supported("landlock_add_rule", sysAddRule),
  446: supported("landlock_restrict_self", sysRestrictSelf),
};
