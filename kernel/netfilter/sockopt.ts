/**
 * The iptables socket options (Linux's do_ipt_get_ctl/do_ipt_set_ctl and their ip6_tables
 * twins), which any AF_INET or AF_INET6 socket reaches through getsockopt/setsockopt at SOL_IP
 * or SOL_IPV6 (ip_getsockopt hands options it does not know to nf_getsockopt): IPT_SO_GET_INFO,
 * IPT_SO_GET_ENTRIES, IPT_SO_GET_REVISION_MATCH/TARGET, IPT_SO_SET_REPLACE and
 * IPT_SO_SET_ADD_COUNTERS. Their values are read from and written to the caller's memory here,
 * not through the generic option path: a request header comes in the output buffer, and a table
 * may be far larger than any other option.
 *
 * @module
 */

import type { MemoryIO } from "../../vfs/file_description.ts";
import { EAGAIN, EFAULT, EINVAL, ENOENT, ENOMEM, EPERM, EPROTONOSUPPORT, LinuxError } from "../errno.ts";
import { bestRevision, MATCHES, TARGETS } from "./extensions.ts";
import { addCounters, entriesToUser, MAX_TABLE_SIZE, replaceTable, translateTable, type XtFamily } from "./x_tables.ts";

export const IPT_SO_SET_REPLACE = 64;
export const IPT_SO_SET_ADD_COUNTERS = 65;
export const IPT_SO_GET_INFO = 64;
export const IPT_SO_GET_ENTRIES = 65;
export const IPT_SO_GET_REVISION_MATCH = 66;
export const IPT_SO_GET_REVISION_TARGET = 67;
export const IP6T_SO_GET_REVISION_MATCH = 68;
export const IP6T_SO_GET_REVISION_TARGET = 69;

/** sizeof(struct ipt_getinfo), ipt_get_entries, ipt_replace, xt_get_revision, xt_counters_info (the same for IPv6). */
const GETINFO_SIZE = 84;
const GET_ENTRIES_SIZE = 40;
const REPLACE_SIZE = 96;
const REVISION_SIZE = 30;
const COUNTERS_INFO_SIZE = 40;
const TABLE_NAME_LEN = 32;
const INT_MAX = 0x7fffffff;
/** Linux's XT_MAX_TABLE_SIZE, which bounds the entry offsets array (xt_alloc_entry_offsets). */
const XT_MAX_TABLE_SIZE = 512 << 20;

/**
 * Whether `name` at the family's level is an ip_tables (v4) or ip6_tables (v6) option: the
 * ranges they register with nf_register_sockopt, less the IPv6 options that share numbers
 * (IPV6_RECVTCLASS 66 and IPV6_TCLASS 67, which do_ipv6_getsockopt answers first).
 */
export function isXtOption(v6: boolean, name: number, set: boolean): boolean {
  if (set) return name === IPT_SO_SET_REPLACE || name === IPT_SO_SET_ADD_COUNTERS;
  if (v6) return name === IPT_SO_GET_INFO || name === IPT_SO_GET_ENTRIES || name === IP6T_SO_GET_REVISION_MATCH || name === IP6T_SO_GET_REVISION_TARGET;
  return name >= IPT_SO_GET_INFO && name <= IPT_SO_GET_REVISION_TARGET;
}

/** The caller, as the options need it: its memory, whether it has CAP_NET_ADMIN over the socket's namespace, a log. */
export interface XtCaller {
  io: MemoryIO;
  netAdmin: boolean;
  /** Said once per sandbox: rules that would change packets were installed. */
  notApplied(): void;
}

const dec = new TextDecoder();

function tableName(b: Uint8Array): string {
  const n = b.subarray(0, TABLE_NAME_LEN - 1);
  const end = n.indexOf(0);
  return dec.decode(end === -1 ? n : n.subarray(0, end));
}

/** getsockopt of an xt option (isXtOption): fills the caller's buffer; the optlen stays as it was. */
export function xtGetsockopt(c: XtCaller, fam: XtFamily, v6: boolean, name: number, optval: number, len: number): void {
  if (!c.netAdmin) throw EPERM;
  switch (name) {
    case IPT_SO_GET_INFO: {
      if (len !== GETINFO_SIZE) throw EINVAL;
      const req = c.io.copyIn(optval, TABLE_NAME_LEN);
      const tname = tableName(req);
      const t = fam.tables.get(tname);
      if (t === undefined) throw ENOENT;
      const out = new Uint8Array(GETINFO_SIZE);
      const v = new DataView(out.buffer);
      out.set(req.subarray(0, TABLE_NAME_LEN - 1));
      out.fill(0, tname.length, TABLE_NAME_LEN);
      v.setUint32(32, t.validHooks, true);
      for (let h = 0; h < 5; h++) {
        v.setUint32(36 + 4 * h, t.hookEntry[h]!, true);
        v.setUint32(56 + 4 * h, t.underflow[h]!, true);
      }
      v.setUint32(76, t.number, true);
      v.setUint32(80, t.size, true);
      c.io.copyOut(optval, out);
      return;
    }
    case IPT_SO_GET_ENTRIES: {
      if (len < GET_ENTRIES_SIZE) throw EINVAL;
      const req = c.io.copyIn(optval, GET_ENTRIES_SIZE);
      const size = new DataView(req.buffer, req.byteOffset).getUint32(32, true);
      if (len !== GET_ENTRIES_SIZE + size) throw EINVAL;
      const t = fam.tables.get(tableName(req));
      if (t === undefined) throw ENOENT;
      if (size !== t.size) throw EAGAIN;
      // The caller's bytes the kernel does not write (the names' tails) stay as they were.
      const out = c.io.copyIn(optval + GET_ENTRIES_SIZE, size);
      entriesToUser(t, fam.layout, out);
      c.io.copyOut(optval + GET_ENTRIES_SIZE, out);
      return;
    }
    default: {
      // IPT_SO_GET_REVISION_MATCH/TARGET (IP6T_ on IPv6): the highest revision of the name.
      const target = name === (v6 ? IP6T_SO_GET_REVISION_TARGET : IPT_SO_GET_REVISION_TARGET);
      if (name !== (v6 ? IP6T_SO_GET_REVISION_MATCH : IPT_SO_GET_REVISION_MATCH) && !target) throw EINVAL;
      if (len !== REVISION_SIZE) throw EINVAL;
      const req = c.io.copyIn(optval, REVISION_SIZE);
      const n = req.subarray(0, 28);
      const end = n.indexOf(0);
      const r = bestRevision(target ? TARGETS : MATCHES, fam.layout.nfproto, dec.decode(end === -1 ? n : n.subarray(0, end)), req[29]!);
      if (r === null) throw ENOENT;
      if (!r.have) throw EPROTONOSUPPORT;
      return;
    }
  }
}

/** setsockopt of an xt option (isXtOption with set). */
export function xtSetsockopt(c: XtCaller, fam: XtFamily, name: number, optval: number, len: number): void {
  if (!c.netAdmin) throw EPERM;
  if (name === IPT_SO_SET_REPLACE) return replace(c, fam, optval, len);
  // IPT_SO_SET_ADD_COUNTERS: xt_copy_counters, then do_add_counters.
  const head = c.io.copyIn(optval, COUNTERS_INFO_SIZE);
  const num = new DataView(head.buffer, head.byteOffset).getUint32(32, true);
  if (num * 16 !== len - COUNTERS_INFO_SIZE) throw EINVAL;
  if (len > MAX_TABLE_SIZE) throw ENOMEM;
  const raw = c.io.copyIn(optval + COUNTERS_INFO_SIZE, len - COUNTERS_INFO_SIZE);
  const add = new BigUint64Array(2 * num);
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let i = 0; i < num; i++) {
    add[2 * i] = v.getBigUint64(16 * i, true);
    add[2 * i + 1] = v.getBigUint64(16 * i + 8, true);
  }
  const err = addCounters(fam, tableName(head), add);
  if (err !== null) throw err;
}

/** do_replace: the header (read whatever optlen says, as Linux), its checks, the entries checked, the table swapped, the old counters written back. */
function replace(c: XtCaller, fam: XtFamily, optval: number, len: number): void {
  const head = c.io.copyIn(optval, REPLACE_SIZE);
  const v = new DataView(head.buffer, head.byteOffset, REPLACE_SIZE);
  const validHooks = v.getUint32(32, true), numEntries = v.getUint32(36, true), size = v.getUint32(40, true);
  const hookEntry = [0, 1, 2, 3, 4].map((h) => v.getUint32(44 + 4 * h, true));
  const underflow = [0, 1, 2, 3, 4].map((h) => v.getUint32(64 + 4 * h, true));
  const numCounters = v.getUint32(84, true);
  const countersPtr = Number(v.getBigUint64(88, true));
  if (numCounters >= Math.floor(INT_MAX / 16)) throw ENOMEM;
  if (numCounters === 0) throw EINVAL;
  if (len < size + REPLACE_SIZE) throw EINVAL;
  if (size >= MAX_TABLE_SIZE || numEntries > XT_MAX_TABLE_SIZE / 4) throw ENOMEM;
  const blob = c.io.copyIn(optval + REPLACE_SIZE, size).slice();
  const name = tableName(head);
  const next = translateTable(fam.layout, name, { validHooks, numEntries, hookEntry, underflow }, blob);
  if (next instanceof LinuxError) throw next;
  const old = replaceTable(fam, name, validHooks, numCounters, next);
  if (old instanceof LinuxError) throw old;
  if (!next.onlyAccepts()) c.notApplied();
  // The old counters go to the caller; a bad pointer is not an error (the table is in place).
  const out = new Uint8Array(old.buffer.slice(old.byteOffset, old.byteOffset + numCounters * 16));
  try {
    c.io.copyOut(countersPtr, out);
  } catch (e) {
    if (e !== EFAULT) throw e;
  }
}

