/**
 * bpf(2) for cgroup device programs (BPF_PROG_TYPE_CGROUP_DEVICE), as Linux 6.18's
 * kernel/bpf/syscall.c: BPF_PROG_LOAD (verified by kernel/bpf/verifier.ts, run by
 * kernel/bpf/interpreter.ts), BPF_PROG_ATTACH, BPF_PROG_DETACH and BPF_PROG_QUERY on cgroups
 * (kernel/bpf/cgroup_progs.ts), BPF_PROG_GET_NEXT_ID, BPF_PROG_GET_FD_BY_ID and
 * BPF_OBJ_GET_INFO_BY_FD on programs. Other program types, maps, links, BTF and pinning are
 * not implemented: those commands are EINVAL for a bpf_capable caller and EPERM for others.
 *
 * The attr argument is read as Linux's __sys_bpf does: more than a page is E2BIG, bytes past
 * the sentry's union bpf_attr must be zero (else E2BIG), and each command's bytes past its last
 * field must be zero (CHECK_ATTR: EINVAL). unprivileged_bpf_disabled is 2, as distributions
 * set it: only a bpf_capable task loads programs.
 *
 * @module
 */

import {
  BPF_ATTR_MAX, BPF_ATTR_SIZE, BPF_F_AFTER, BPF_F_BEFORE, BPF_F_ID, BPF_F_LINK, BPF_MAP_CREATE, BPF_MAP_TYPE_MAX, BPF_CGROUP_DEVICE, BPF_CMD_MAX, BPF_COMPLEXITY_LIMIT_INSNS, BPF_F_ALLOW_MULTI,
  BPF_F_QUERY_EFFECTIVE, BPF_F_REPLACE, BPF_LOG_FIXED, BPF_LOG_MASK, BPF_OBJ_GET_INFO_BY_FD,
  BPF_OBJ_NAME_LEN, BPF_PROG_ATTACH, BPF_PROG_DETACH, BPF_PROG_GET_FD_BY_ID, BPF_PROG_GET_NEXT_ID, BPF_PROG_LOAD,
  BPF_PROG_LOAD_FLAGS, BPF_PROG_QUERY, BPF_PROG_TYPE_CGROUP_DEVICE, CGROUP_ATTACH_FLAGS, CGROUP_ATTACH_TYPES,
  GET_ID, GET_NEXT_ID_END, INFO_BY_FD, MAX_BPF_ATTACH_TYPE, PROG_ATTACH, PROG_INFO, PROG_LOAD, PROG_QUERY,
} from "../../../abi/linux/bpf.ts";
import { CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN } from "../../../abi/linux/capability.ts";
import { E2BIG, EBADF, EINVAL, ENAMETOOLONG, ENOENT, ENOSPC, EPERM, type LinuxError } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { CgroupDir } from "../../../vfs/cgroupfs/cgroupfs.ts";
import { decodeInsns } from "../../bpf/insn.ts";
import { successLog, verify, VerifierReject } from "../../bpf/verifier.ts";
import { BpfProgFile, BpfProgram } from "../../bpf/program.ts";
import { cgroupAttach, cgroupDetach, cgroupQuery } from "../../bpf/cgroup_progs.ts";
import { monotonicNs } from "../../time.ts";
import { partial, type SyscallEntry, type SyscallFn } from "./support.ts";

/** bpf_capable(): CAP_BPF or CAP_SYS_ADMIN over the initial user namespace. */
function bpfCapable(t: Task): boolean {
  return t.creds.hasCap(CAP_BPF) || t.creds.hasCap(CAP_SYS_ADMIN);
}

/** bpf_net_capable(): CAP_NET_ADMIN or CAP_SYS_ADMIN. */
function netCapable(t: Task): boolean {
  return t.creds.hasCap(CAP_NET_ADMIN) || t.creds.hasCap(CAP_SYS_ADMIN);
}

/** union bpf_attr as copied in, with typed reads. */
class Attr {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u32(off: number): number {
    return this.view.getUint32(off, true);
  }
  s32(off: number): number {
    return this.view.getInt32(off, true);
  }
  u64(off: number): bigint {
    return this.view.getBigUint64(off, true);
  }
  /** A user pointer field (beyond 2^53: never mapped). */
  ptr(off: number): number {
    const v = this.u64(off);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(v);
  }
  /** CHECK_ATTR: every byte from `end` on is zero. */
  check(end: number): void {
    for (let i = end; i < this.bytes.length; i++) if (this.bytes[i] !== 0) throw EINVAL;
  }
}

/** Implements bpf(2). */
const sysBpf: SyscallFn = (t, a) => {
  const cmd = a.int(0);
  const uattr = a.pointer(1);
  const size = a.uint(2);
  // bpf_check_uarg_tail_zero, then the copy of what the sentry knows.
  if (size > BPF_ATTR_MAX) throw E2BIG;
  if (size > BPF_ATTR_SIZE && t.copyIn(uattr + BPF_ATTR_SIZE, size - BPF_ATTR_SIZE).some((b) => b !== 0)) throw E2BIG;
  const bytes = new Uint8Array(BPF_ATTR_SIZE);
  const n = Math.min(size, BPF_ATTR_SIZE);
  if (n > 0) bytes.set(t.copyIn(uattr, n));
  const attr = new Attr(bytes);
  switch (cmd) {
    case BPF_PROG_LOAD:
      return progLoad(t, attr, uattr, size);
    case BPF_PROG_ATTACH:
      return progAttach(t, attr);
    case BPF_PROG_DETACH:
      return progDetach(t, attr);
    case BPF_PROG_QUERY:
      return progQuery(t, attr, uattr);
    case BPF_PROG_GET_NEXT_ID:
      return progGetNextId(t, attr, uattr);
    case BPF_PROG_GET_FD_BY_ID:
      return progGetFdById(t, attr);
    case BPF_OBJ_GET_INFO_BY_FD:
      return objGetInfoByFd(t, attr, uattr);
    case BPF_MAP_CREATE:
      // map_create refuses BPF_MAP_TYPE_UNSPEC and unknown types before asking for privilege.
      if (attr.u32(0) === 0 || attr.u32(0) > BPF_MAP_TYPE_MAX) throw EINVAL;
      throw bpfCapable(t) ? EINVAL : EPERM;
    default:
      if (cmd < 0 || cmd > BPF_CMD_MAX) throw EINVAL;
      // A command Linux has and the sentry does not (maps, links, BTF, pinning, ...).
      throw bpfCapable(t) ? EINVAL : EPERM;
  }
};

/** The licenses license_is_gpl_compatible() takes. */
const GPL_LICENSES = new Set(["GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL"]);

/** bpf_obj_name_cpy: letters, digits, '_' and '.', NUL-terminated within BPF_OBJ_NAME_LEN. */
function objName(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < BPF_OBJ_NAME_LEN; i++) {
    const c = b[i]!;
    if (c === 0) return s;
    const ch = String.fromCharCode(c);
    if (!/[A-Za-z0-9_.]/.test(ch)) throw EINVAL;
    s += ch;
  }
  throw EINVAL;
}

/** bpf_prog_load. */
function progLoad(t: Task, attr: Attr, uattr: number, uattrSize: number): number {
  attr.check(PROG_LOAD.end);
  const type = attr.u32(PROG_LOAD.prog_type);
  const flags = attr.u32(PROG_LOAD.prog_flags);
  if (flags & ~BPF_PROG_LOAD_FLAGS) throw EINVAL;
  // BPF tokens (delegation from a bpffs mount) are not implemented.
  if (flags & (1 << 16)) throw EINVAL;
  const bpfCap = bpfCapable(t);
  // unprivileged_bpf_disabled (2): only a bpf_capable task loads anything.
  if (!bpfCap) throw EPERM;
  const insnCnt = attr.u32(PROG_LOAD.insn_cnt);
  if (insnCnt === 0 || insnCnt > BPF_COMPLEXITY_LIMIT_INSNS) throw E2BIG;
  // is_net_admin_prog_type: cgroup device programs need CAP_NET_ADMIN (or CAP_SYS_ADMIN) too.
  if (type === BPF_PROG_TYPE_CGROUP_DEVICE && !netCapable(t)) throw EPERM;
  // A BPF program or BTF object to attach to: there is none here.
  if (attr.u32(PROG_LOAD.attach_prog_fd) !== 0 || attr.u32(PROG_LOAD.attach_btf_id) !== 0) throw EINVAL;
  const raw = t.copyIn(attr.ptr(PROG_LOAD.insns), insnCnt * 8);
  let license: string;
  try {
    license = t.copyInString(attr.ptr(PROG_LOAD.license), 127);
  } catch (e) {
    if (e !== ENAMETOOLONG) throw e;
    license = new TextDecoder().decode(t.copyIn(attr.ptr(PROG_LOAD.license), 127));
  }
  // find_prog_type: the only type the sentry has.
  if (type !== BPF_PROG_TYPE_CGROUP_DEVICE) throw EINVAL;
  const name = objName(attr.bytes.subarray(PROG_LOAD.prog_name, PROG_LOAD.prog_name + BPF_OBJ_NAME_LEN));
  // Offload to a device, and signed programs, are not for this type (or not implemented); BTF's
  // function and line info need a BTF object the sentry has not.
  if (attr.u32(PROG_LOAD.prog_ifindex) !== 0 || attr.u64(PROG_LOAD.signature) !== 0n) throw EINVAL;
  if (attr.u32(PROG_LOAD.func_info_cnt) !== 0 || attr.u32(PROG_LOAD.line_info_cnt) !== 0) throw EINVAL;

  // bpf_check: the log's attributes first (bpf_verifier_log_attr_valid): a buffer, its size and
  // a level come together or not at all.
  const logLevel = attr.u32(PROG_LOAD.log_level);
  const logSize = attr.u32(PROG_LOAD.log_size);
  const logBuf = attr.ptr(PROG_LOAD.log_buf);
  if ((logBuf !== 0) !== (logSize !== 0) || (logBuf !== 0) !== (logLevel !== 0) || (logLevel & ~BPF_LOG_MASK) || logSize > 0x3fff_ffff) {
    throw EINVAL;
  }
  // process_fd_array: every descriptor must be a map or a BTF object; there are none here.
  const fdCount = attr.u32(PROG_LOAD.fd_array_cnt);
  if (fdCount !== 0) {
    const fds = t.copyIn(attr.ptr(PROG_LOAD.fd_array), Math.min(fdCount, 1 << 16) * 4);
    throw t.fdTable.has(new DataView(fds.buffer).getInt32(0, true)) ? EINVAL : EBADF;
  }
  const insns = decodeInsns(raw);
  let err: LinuxError | null = null;
  let log = "";
  let processed = 0;
  try {
    processed = verify(insns, { fdIsOpen: (fd) => t.fdTable.has(fd) });
    if (logLevel !== 0) log = successLog(processed);
  } catch (e) {
    if (!(e instanceof VerifierReject)) throw e;
    err = e.errno;
    log = e.message + "\n" + successLog(e.processed);
  }
  if (logLevel !== 0) {
    const truncated = writeLog(t, logBuf, logSize, log, (logLevel & BPF_LOG_FIXED) !== 0);
    if (uattrSize >= PROG_LOAD.log_true_size + 4) {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, log.length + 1, true);
      t.copyOut(uattr + PROG_LOAD.log_true_size, b);
    }
    if (truncated) err = ENOSPC;
  }
  if (err !== null) throw err;

  const table = t.kernel.bpf;
  const prog = new BpfProgram(
    table, table.nextId(), type, raw, insns, name, GPL_LICENSES.has(license),
    t.creds.euid, BigInt(Math.floor(monotonicNs())), processed,
  );
  table.progs.set(prog.id, prog);
  return t.fdTable.install(new BpfProgFile(prog), true);
}

/** Writes the verifier's log into the caller's buffer (NUL-terminated); true if it did not fit. */
function writeLog(t: Task, buf: number, size: number, log: string, fixed: boolean): boolean {
  if (buf === 0 || size === 0) return false;
  let bytes = new TextEncoder().encode(log);
  const truncated = bytes.length + 1 > size;
  if (truncated) bytes = fixed ? bytes.subarray(0, size - 1) : bytes.subarray(bytes.length - (size - 1));
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  t.copyOut(buf, out);
  return truncated;
}

/** The program behind fd (bpf_prog_get): EBADF, or EINVAL for another file. */
function programOf(t: Task, fd: number): BpfProgram {
  const f = t.fdTable.get(fd);
  if (!(f instanceof BpfProgFile)) throw EINVAL;
  return f.prog;
}

/** The cgroup behind fd (cgroup_get_from_fd): EBADF unless a cgroup2 directory; ENOENT once removed. */
function cgroupOf(t: Task, fd: number): CgroupDir {
  const d = t.fdTable.get(fd).location()?.dentry;
  if (!(d instanceof CgroupDir)) throw EBADF;
  if (d.deleted) throw ENOENT;
  return d;
}

/** The program type an attach type takes (attach_type_to_prog_type), for the attach types a cgroup has. */
function checkAttachType(atype: number): void {
  if (atype >= MAX_BPF_ATTACH_TYPE) throw EINVAL;
}

/** bpf_prog_attach for cgroups. */
function progAttach(t: Task, attr: Attr): number {
  attr.check(PROG_ATTACH.end);
  const atype = attr.u32(PROG_ATTACH.attach_type);
  checkAttachType(atype);
  const flags = attr.u32(PROG_ATTACH.attach_flags);
  if (CGROUP_ATTACH_TYPES.has(atype)) {
    if (flags & ~CGROUP_ATTACH_FLAGS) throw EINVAL;
  } else if (flags & ~0x47 || attr.u32(PROG_ATTACH.relative_fd) !== 0 || attr.u64(PROG_ATTACH.expected_revision) !== 0n) {
    throw EINVAL;
  }
  // bpf_prog_get_type: only BPF_CGROUP_DEVICE takes the one program type the sentry loads.
  const prog = programOf(t, attr.u32(PROG_ATTACH.attach_bpf_fd));
  if (atype !== BPF_CGROUP_DEVICE) throw EINVAL;
  const c = cgroupOf(t, attr.u32(PROG_ATTACH.target_fd));
  let replace: BpfProgram | null = null;
  if ((flags & BPF_F_ALLOW_MULTI) && (flags & BPF_F_REPLACE)) replace = programOf(t, attr.u32(PROG_ATTACH.replace_bpf_fd));
  // Where in the slot (Linux 6.15's BPF_F_BEFORE / BPF_F_AFTER, relative to a program named by
  // descriptor or, with BPF_F_ID, by ID; none: the head or the tail). There are no links.
  const before = (flags & BPF_F_BEFORE) !== 0, after = (flags & BPF_F_AFTER) !== 0;
  const relative = attr.u32(PROG_ATTACH.relative_fd);
  const byId = (flags & BPF_F_ID) !== 0;
  if ((before && after) || (flags & BPF_F_LINK) || (!before && !after && (relative !== 0 || byId))) throw EINVAL;
  let rel: BpfProgram | null = null;
  if (byId) {
    rel = t.kernel.bpf.progs.get(relative) ?? null;
    if (rel === null) throw ENOENT;
  } else if (relative !== 0) {
    rel = programOf(t, relative);
  }
  const position = before ? { before: true, rel } : after ? { before: false, rel } : null;
  cgroupAttach(t.kernel.bpf, c, prog, atype, flags, replace, attr.u64(PROG_ATTACH.expected_revision), position);
  t.kernel.cgroups.changed = true;
  return 0;
}

/** bpf_prog_detach for cgroups. */
function progDetach(t: Task, attr: Attr): number {
  attr.check(PROG_ATTACH.end);
  const atype = attr.u32(PROG_ATTACH.attach_type);
  checkAttachType(atype);
  if (!CGROUP_ATTACH_TYPES.has(atype)) throw EINVAL;
  if (attr.u32(PROG_ATTACH.attach_flags) !== 0 || attr.u32(PROG_ATTACH.relative_fd) !== 0) throw EINVAL;
  const c = cgroupOf(t, attr.u32(PROG_ATTACH.target_fd));
  let prog: BpfProgram | null = null;
  try {
    prog = programOf(t, attr.u32(PROG_ATTACH.attach_bpf_fd));
  } catch {
    // Linux's cgroup_bpf_prog_detach goes on with no program.
  }
  cgroupDetach(t.kernel.bpf, c, prog, atype);
  return 0;
}

function putU32(t: Task, addr: number, v: number): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  t.copyOut(addr, b);
}

/** bpf_prog_query for cgroups (__cgroup_bpf_query). */
function progQuery(t: Task, attr: Attr, uattr: number): number {
  if (!netCapable(t)) throw EPERM;
  attr.check(PROG_QUERY.end);
  const queryFlags = attr.u32(PROG_QUERY.query_flags);
  if (queryFlags & ~BPF_F_QUERY_EFFECTIVE) throw EINVAL;
  const atype = attr.u32(PROG_QUERY.attach_type);
  // Other attach types query other objects (netns, lirc, sockmap, tcx): none here.
  if (!CGROUP_ATTACH_TYPES.has(atype)) throw EINVAL;
  const c = cgroupOf(t, attr.u32(PROG_QUERY.target_fd));
  const effective = (queryFlags & BPF_F_QUERY_EFFECTIVE) !== 0;
  const attachFlagsPtr = attr.ptr(PROG_QUERY.prog_attach_flags);
  if (effective && attachFlagsPtr !== 0) throw EINVAL;
  const q = cgroupQuery(c, atype, effective);
  putU32(t, uattr + PROG_QUERY.attach_flags, q.flags);
  putU32(t, uattr + PROG_QUERY.prog_cnt, q.ids.length);
  const rev = new Uint8Array(8);
  new DataView(rev.buffer).setBigUint64(0, BigInt(q.revision), true);
  t.copyOut(uattr + PROG_QUERY.revision, rev);
  const want = attr.u32(PROG_QUERY.prog_cnt);
  const idsPtr = attr.ptr(PROG_QUERY.prog_ids);
  if (want === 0 || idsPtr === 0 || q.ids.length === 0) return 0;
  const cnt = Math.min(want, q.ids.length);
  const ids = new Uint8Array(cnt * 4);
  const dv = new DataView(ids.buffer);
  for (let i = 0; i < cnt; i++) dv.setUint32(i * 4, q.ids[i]!, true);
  t.copyOut(idsPtr, ids);
  if (attachFlagsPtr !== 0) {
    const fl = new Uint8Array(cnt * 4);
    for (let i = 0; i < cnt; i++) new DataView(fl.buffer).setUint32(i * 4, q.flags, true);
    t.copyOut(attachFlagsPtr, fl);
  }
  if (want < q.ids.length) throw ENOSPC;
  return 0;
}

/** bpf_obj_get_next_id over programs. */
function progGetNextId(t: Task, attr: Attr, uattr: number): number {
  attr.check(GET_NEXT_ID_END);
  if (!t.creds.hasCap(CAP_SYS_ADMIN)) throw EPERM;
  const start = attr.u32(GET_ID.id);
  let next = 0;
  for (const id of t.kernel.bpf.progs.keys()) if (id > start && (next === 0 || id < next)) next = id;
  if (next === 0) throw ENOENT;
  putU32(t, uattr + GET_ID.next_id, next);
  return 0;
}

/** bpf_prog_get_fd_by_id. */
function progGetFdById(t: Task, attr: Attr): number {
  // BPF_PROG_GET_FD_BY_ID_LAST_FIELD is prog_id: open_flags and tokens are not taken.
  attr.check(GET_ID.next_id);
  if (!t.creds.hasCap(CAP_SYS_ADMIN)) throw EPERM;
  const prog = t.kernel.bpf.progs.get(attr.u32(GET_ID.id));
  if (prog === undefined) throw ENOENT;
  prog.get();
  return t.fdTable.install(new BpfProgFile(prog), true);
}

/** bpf_obj_get_info_by_fd for a program (bpf_prog_get_info_by_fd). */
function objGetInfoByFd(t: Task, attr: Attr, uattr: number): number {
  attr.check(INFO_BY_FD.end);
  const f = t.fdTable.get(attr.u32(INFO_BY_FD.bpf_fd));
  if (!(f instanceof BpfProgFile)) throw EINVAL;
  const p = f.prog;
  const uinfo = attr.ptr(INFO_BY_FD.info);
  let infoLen = attr.u32(INFO_BY_FD.info_len);
  if (infoLen > PROG_INFO.size) {
    if (infoLen > 4096) throw E2BIG;
    if (t.copyIn(uinfo + PROG_INFO.size, infoLen - PROG_INFO.size).some((b) => b !== 0)) throw E2BIG;
  }
  infoLen = Math.min(infoLen, PROG_INFO.size);
  const info = new Uint8Array(PROG_INFO.size);
  if (infoLen > 0) info.set(t.copyIn(uinfo, infoLen));
  const dv = new DataView(info.buffer);
  const userXlatedLen = dv.getUint32(PROG_INFO.xlated_prog_len, true);
  const userXlatedPtr = dv.getBigUint64(PROG_INFO.xlated_prog_insns, true);
  const out = new Uint8Array(PROG_INFO.size);
  const o = new DataView(out.buffer);
  o.setUint32(PROG_INFO.type, p.type, true);
  o.setUint32(PROG_INFO.id, p.id, true);
  out.set(p.tag, PROG_INFO.tag);
  o.setBigUint64(PROG_INFO.load_time, p.loadTimeNs, true);
  o.setUint32(PROG_INFO.created_by_uid, t.creds.userNs.uidOf(p.uid), true);
  out.set(new TextEncoder().encode(p.name), PROG_INFO.name);
  o.setUint32(PROG_INFO.gpl_compatible, p.gplCompatible ? 1 : 0, true);
  o.setUint32(PROG_INFO.verified_insns, p.verifiedInsns, true);
  if (bpfCapable(t)) {
    // No JIT: jited_prog_len stays 0; the translated program is the program as loaded.
    o.setUint32(PROG_INFO.xlated_prog_len, p.raw.length, true);
    o.setBigUint64(PROG_INFO.xlated_prog_insns, userXlatedPtr, true);
    if (userXlatedLen !== 0 && userXlatedPtr !== 0n) {
      const addr = userXlatedPtr > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(userXlatedPtr);
      t.copyOut(addr, p.raw.subarray(0, Math.min(userXlatedLen, p.raw.length)));
    }
  }
  if (infoLen > 0) t.copyOut(uinfo, out.subarray(0, infoLen));
  putU32(t, uattr + INFO_BY_FD.info_len, infoLen);
  return 0;
}

export const table: Record<number, SyscallEntry> = {
  321: partial("bpf", sysBpf, "BPF_PROG_TYPE_CGROUP_DEVICE programs only: no maps, links, BTF, pinning or other program types"),
};

