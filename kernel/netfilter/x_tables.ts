/**
 * The legacy iptables tables of a network namespace (Linux's x_tables with ip_tables and
 * ip6_tables): per family the filter, mangle, nat, raw and security tables, each a blob of
 * entries in the uapi layout (ipt_entry / ip6t_entry, their matches, a target) with the hook
 * entry points and underflows, and a packet and byte counter per entry.
 *
 * A replacement is checked as Linux's translate_table does (entry sizes and offsets, alignment,
 * hooks and underflows, the standard target's verdicts, chains without loops by
 * mark_source_chains, which also sets each entry's `comefrom`, then each match and target found
 * among the extensions and checked), and the blob is kept as given apart from comefrom and the
 * counters. Reading it back (IPT_SO_GET_ENTRIES) writes what Linux's copy_entries_to_user writes.
 *
 * The sandbox's stack does not run packets through these tables: rules are kept, validated,
 * counted by IPT_SO_SET_ADD_COUNTERS and read back, not applied (README.md, limitations).
 *
 * @module
 */

import { EAGAIN, EINVAL, ELOOP, ENOENT, LinuxError } from "../errno.ts";
import {
  type Extension,
  findExtension,
  MATCHES,
  NF_INET_FORWARD,
  NF_INET_LOCAL_IN,
  NF_INET_LOCAL_OUT,
  NF_INET_NUMHOOKS,
  NF_INET_POST_ROUTING,
  NF_INET_PRE_ROUTING,
  NFPROTO_IPV4,
  NFPROTO_IPV6,
  TARGETS,
  XT_ERROR_TARGET,
  XT_STANDARD_TARGET,
} from "./extensions.ts";

/** Where the fields of an entry are, per family (ipt_entry, ip6t_entry). */
export interface EntryLayout {
  nfproto: number;
  /** sizeof(struct ipt_entry) / sizeof(struct ip6t_entry). */
  entrySize: number;
  /** sizeof(struct ipt_ip) / sizeof(struct ip6t_ip6): the part an unconditional rule has zero. */
  ipSize: number;
  protoAt: number;
  flagsAt: number;
  invflagsAt: number;
  /** The bits ip_checkentry/ip6_checkentry allow in flags (IPT_F_MASK, IP6T_F_MASK). */
  flagsMask: number;
  targetOffsetAt: number;
  nextOffsetAt: number;
  comefromAt: number;
  countersAt: number;
}

export const IPV4_LAYOUT: EntryLayout = {
  nfproto: NFPROTO_IPV4, entrySize: 112, ipSize: 84, protoAt: 80, flagsAt: 82, invflagsAt: 83, flagsMask: 0x03,
  targetOffsetAt: 88, nextOffsetAt: 90, comefromAt: 92, countersAt: 96,
};

export const IPV6_LAYOUT: EntryLayout = {
  nfproto: NFPROTO_IPV6, entrySize: 168, ipSize: 136, protoAt: 128, flagsAt: 131, invflagsAt: 132, flagsMask: 0x07,
  targetOffsetAt: 140, nextOffsetAt: 142, comefromAt: 144, countersAt: 152,
};

/** IPT_INV_MASK / IP6T_INV_MASK; IPT_INV_PROTO (XT_INV_PROTO) within it. */
const INV_MASK = 0x7f;
const INV_PROTO = 0x40;
/** sizeof(struct xt_entry_match) and xt_entry_target: size u16, name[29], revision u8. */
const XT_OBJ_HEADER = 32;
const XT_NAME_LEN = 29;
/** sizeof(struct xt_standard_target), sizeof(struct xt_error_target), errorname's size. */
const STANDARD_TARGET_SIZE = 40;
const ERROR_TARGET_SIZE = 64;
const ERROR_NAME_LEN = 30;
/** NF_DROP, NF_ACCEPT, NF_QUEUE; XT_RETURN is -NF_REPEAT - 1. */
const NF_DROP = 0, NF_ACCEPT = 1, NF_QUEUE = 3;
const XT_RETURN = -5;
/** The no-hook value of hook_entry/underflow. */
const NO_HOOK = 0xffffffff;
/**
 * The largest table taken in: Linux's XT_MAX_TABLE_SIZE is 512 MiB; the sentry holds a table
 * in its own heap, so a bigger one than this is ENOMEM, as on a kernel short of memory.
 */
export const MAX_TABLE_SIZE = 64 << 20;

export const XT_ALIGN = (n: number) => (n + 7) & ~7;

/** A match or target of an entry: where it is and what it is. */
interface Part {
  at: number;
  ext: Extension;
}

/** A checked table: its blob and what reading it back needs. */
export class XtTable {
  /** The entry points and underflows of the hooks (NO_HOOK where the table has none). */
  hookEntry: number[];
  underflow: number[];
  /** The entries, as given, with comefrom set and the counters field zero. */
  entries: Uint8Array;
  /** Each entry's offset, matches and target. */
  parts: { off: number; matches: Part[]; target: Part }[];
  /** pcnt, bcnt per entry. */
  counters: BigUint64Array;

  constructor(
    readonly name: string,
    readonly validHooks: number,
    t: { hookEntry: number[]; underflow: number[]; entries: Uint8Array; parts: XtTable["parts"] },
  ) {
    this.hookEntry = t.hookEntry;
    this.underflow = t.underflow;
    this.entries = t.entries;
    this.parts = t.parts;
    this.counters = new BigUint64Array(2 * t.parts.length);
  }

  get number(): number {
    return this.parts.length;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Whether every entry is an unconditional ACCEPT or an ERROR entry: no packet would notice the table. */
  onlyAccepts(): boolean {
    const v = new DataView(this.entries.buffer, this.entries.byteOffset, this.entries.byteLength);
    return this.parts.every((p) =>
      p.matches.length === 0 &&
      (p.target.ext.name === XT_ERROR_TARGET ||
        (p.target.ext.name === XT_STANDARD_TARGET && v.getInt32(p.off + p.target.at + XT_OBJ_HEADER, true) === -NF_ACCEPT - 1))
    );
  }
}

/** The tables of one family (ip_tables or ip6_tables) in one network namespace. */
export class XtFamily {
  readonly tables = new Map<string, XtTable>();
  /** Whether a table was replaced or counted: a checkpoint refuses the sandbox then. */
  changed = false;

  constructor(readonly layout: EntryLayout) {
    for (const [name, hooks] of TABLE_HOOKS) this.tables.set(name, initialTable(layout, name, hooks));
  }
}

/** The tables Linux's iptable_* / ip6table_* modules make, with their hooks. */
const TABLE_HOOKS: [string, number][] = [
  ["filter", (1 << NF_INET_LOCAL_IN) | (1 << NF_INET_FORWARD) | (1 << NF_INET_LOCAL_OUT)],
  ["mangle", 0x1f],
  ["nat", (1 << NF_INET_PRE_ROUTING) | (1 << NF_INET_LOCAL_IN) | (1 << NF_INET_LOCAL_OUT) | (1 << NF_INET_POST_ROUTING)],
  ["raw", (1 << NF_INET_PRE_ROUTING) | (1 << NF_INET_LOCAL_OUT)],
  ["security", (1 << NF_INET_LOCAL_IN) | (1 << NF_INET_FORWARD) | (1 << NF_INET_LOCAL_OUT)],
];

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A NUL-terminated name of at most `len` bytes at `at` (the rest of the field may be anything). */
function cName(b: Uint8Array, at: number, len: number): string {
  let end = at;
  while (end < at + len && b[end] !== 0) end++;
  return dec.decode(b.subarray(at, end));
}

/** xt_alloc_initial_table: an ACCEPT policy per hook, then the ERROR entry; checked as a replacement is. */
function initialTable(layout: EntryLayout, name: string, hooks: number): XtTable {
  const n = [...Array(NF_INET_NUMHOOKS).keys()].filter((h) => hooks & (1 << h)).length;
  const std = layout.entrySize + STANDARD_TARGET_SIZE;
  const size = n * std + layout.entrySize + ERROR_TARGET_SIZE;
  const blob = new Uint8Array(size);
  const v = new DataView(blob.buffer);
  const hookEntry = new Array<number>(NF_INET_NUMHOOKS).fill(0), underflow = new Array<number>(NF_INET_NUMHOOKS).fill(0);
  let off = 0;
  for (let h = 0; h < NF_INET_NUMHOOKS; h++) {
    if (!(hooks & (1 << h))) continue;
    hookEntry[h] = underflow[h] = off;
    v.setUint16(off + layout.targetOffsetAt, layout.entrySize, true);
    v.setUint16(off + layout.nextOffsetAt, std, true);
    v.setUint16(off + layout.entrySize, STANDARD_TARGET_SIZE, true);
    v.setInt32(off + layout.entrySize + XT_OBJ_HEADER, -NF_ACCEPT - 1, true);
    off += std;
  }
  v.setUint16(off + layout.targetOffsetAt, layout.entrySize, true);
  v.setUint16(off + layout.nextOffsetAt, layout.entrySize + ERROR_TARGET_SIZE, true);
  v.setUint16(off + layout.entrySize, ERROR_TARGET_SIZE, true);
  blob.set(enc.encode(XT_ERROR_TARGET), off + layout.entrySize + 2);
  blob.set(enc.encode(XT_ERROR_TARGET), off + layout.entrySize + XT_OBJ_HEADER);
  const t = translateTable(layout, name, { validHooks: hooks, numEntries: n + 1, hookEntry, underflow }, blob);
  if (t instanceof LinuxError) throw new Error(`initial ${name} table: ${t.name}`);
  return t;
}

/** The header of a replacement (struct ipt_replace without the counters). */
export interface ReplaceHeader {
  validHooks: number;
  numEntries: number;
  hookEntry: number[];
  underflow: number[];
}

/**
 * Linux's translate_table: checks `blob` as the new entries of table `name` and returns the
 * table, or the errno the kernel gives (EINVAL for bad layout, ELOOP for a loop or a jump to no
 * entry, ENOENT/EPROTOTYPE for an unknown extension, EINVAL from an extension's checks).
 */
export function translateTable(layout: EntryLayout, name: string, repl: ReplaceHeader, blob: Uint8Array): XtTable | LinuxError {
  const v = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const size = blob.length;
  const hookEntry = new Array<number>(NF_INET_NUMHOOKS).fill(NO_HOOK);
  const underflow = new Array<number>(NF_INET_NUMHOOKS).fill(NO_HOOK);
  const offsets: number[] = [];
  const targetName = (off: number) => cName(blob, off + v.getUint16(off + layout.targetOffsetAt, true) + 2, XT_NAME_LEN);
  // check_entry_size_and_hooks over the entries, in order.
  for (let off = 0; off < size;) {
    if (off % 8 !== 0 || off + layout.entrySize >= size) return EINVAL;
    const targetOffset = v.getUint16(off + layout.targetOffsetAt, true);
    const nextOffset = v.getUint16(off + layout.nextOffsetAt, true);
    if (off + nextOffset > size) return EINVAL;
    if (nextOffset < layout.entrySize + XT_OBJ_HEADER) return EINVAL;
    if ((blob[off + layout.flagsAt]! & ~layout.flagsMask) !== 0) return EINVAL;
    if ((blob[off + layout.invflagsAt]! & ~INV_MASK) !== 0) return EINVAL;
    const e = checkEntryOffsets(blob, v, off, layout.entrySize, targetOffset, nextOffset);
    if (e !== null) return e;
    for (let h = 0; h < NF_INET_NUMHOOKS; h++) {
      if (!(repl.validHooks & (1 << h))) continue;
      if (off === repl.hookEntry[h]) hookEntry[h] = off;
      if (off === repl.underflow[h]) {
        if (!checkUnderflow(layout, blob, v, off)) return EINVAL;
        underflow[h] = off;
      }
    }
    // Counters and comefrom start at zero.
    blob.fill(0, off + layout.countersAt, off + layout.countersAt + 16);
    v.setUint32(off + layout.comefromAt, 0, true);
    offsets.push(off);
    off += nextOffset;
  }
  if (offsets.length !== repl.numEntries) return EINVAL;
  // xt_check_table_hooks: every valid hook placed, entry points and underflows in hook order.
  let prev: { entry: number; uflow: number } | null = null;
  for (let h = 0; h < NF_INET_NUMHOOKS; h++) {
    if (!(repl.validHooks & (1 << h))) continue;
    if (hookEntry[h] === NO_HOOK || underflow[h] === NO_HOOK) return EINVAL;
    if (prev !== null && (prev.uflow >= underflow[h]! || prev.entry >= hookEntry[h]!)) return EINVAL;
    prev = { entry: hookEntry[h]!, uflow: underflow[h]! };
  }
  if (!markSourceChains(layout, blob, v, repl.validHooks, hookEntry, new Set(offsets), targetName)) return ELOOP;
  // find_check_entry: each match and the target, found and checked.
  const parts: XtTable["parts"] = [];
  for (const off of offsets) {
    const targetOffset = v.getUint16(off + layout.targetOffsetAt, true);
    const hookMask = v.getUint32(off + layout.comefromAt, true);
    const proto = v.getUint16(off + layout.protoAt, true);
    const invProto = (blob[off + layout.invflagsAt]! & INV_PROTO) !== 0;
    const matches: Part[] = [];
    for (let at = off + layout.entrySize; at < off + targetOffset;) {
      const msize = v.getUint16(at, true);
      const found = findPart(MATCHES, layout.nfproto, blob, v, at, msize, { name, hookMask, proto, invProto });
      if (found instanceof LinuxError) return found;
      matches.push({ at: at - off, ext: found });
      at += msize;
    }
    const at = off + targetOffset;
    const found = findPart(TARGETS, layout.nfproto, blob, v, at, v.getUint16(at, true), { name, hookMask, proto, invProto });
    if (found instanceof LinuxError) return found;
    parts.push({ off, matches, target: { at: targetOffset, ext: found } });
  }
  return new XtTable(name, repl.validHooks, { hookEntry, underflow, entries: blob, parts });
}

/** xt_check_entry_offsets: the target inside the entry, a standard verdict or error name that is sound, the matches tiling the space before the target. */
function checkEntryOffsets(blob: Uint8Array, v: DataView, off: number, base: number, targetOffset: number, nextOffset: number): LinuxError | null {
  if (targetOffset < base) return EINVAL;
  if (targetOffset + XT_OBJ_HEADER > nextOffset) return EINVAL;
  const t = off + targetOffset;
  const tsize = v.getUint16(t, true);
  if (tsize < XT_OBJ_HEADER) return EINVAL;
  if (targetOffset + tsize > nextOffset) return EINVAL;
  const name = cName(blob, t + 2, XT_NAME_LEN);
  if (name === XT_STANDARD_TARGET) {
    if (XT_ALIGN(targetOffset + STANDARD_TARGET_SIZE) !== nextOffset) return EINVAL;
    if (!verdictOk(v.getInt32(t + XT_OBJ_HEADER, true))) return EINVAL;
  } else if (name === XT_ERROR_TARGET) {
    // error_tg_ok: the kernel's size, and a terminated error name.
    if (tsize !== ERROR_TARGET_SIZE) return EINVAL;
    if (cName(blob, t + XT_OBJ_HEADER, ERROR_NAME_LEN).length >= ERROR_NAME_LEN) return EINVAL;
  }
  // xt_check_entry_match: 8-byte aligned matches of at least a header, within the space.
  let length = targetOffset - base;
  let m = off + base;
  while (length > 0) {
    if (m % 8 !== 0) return EINVAL;
    if (length < XT_OBJ_HEADER) return EINVAL;
    const msize = v.getUint16(m, true);
    if (msize < XT_OBJ_HEADER || msize > length) return EINVAL;
    length -= msize;
    m += msize;
  }
  return null;
}

/** verdict_ok: a jump (positive), or ACCEPT, DROP, QUEUE or RETURN. */
function verdictOk(verdict: number): boolean {
  if (verdict > 0) return true;
  if (verdict === 0) return false;
  if (verdict === XT_RETURN) return true;
  const vd = -verdict - 1;
  return vd === NF_ACCEPT || vd === NF_DROP || vd === NF_QUEUE;
}

/** Whether the entry matches every packet: no ip/ipv6 conditions and no matches. */
function unconditional(layout: EntryLayout, blob: Uint8Array, v: DataView, off: number): boolean {
  if (v.getUint16(off + layout.targetOffsetAt, true) !== layout.entrySize) return false;
  for (let i = 0; i < layout.ipSize; i++) if (blob[off + i] !== 0) return false;
  return true;
}

/** check_underflow: a policy is an unconditional standard ACCEPT or DROP. */
function checkUnderflow(layout: EntryLayout, blob: Uint8Array, v: DataView, off: number): boolean {
  if (!unconditional(layout, blob, v, off)) return false;
  const t = off + v.getUint16(off + layout.targetOffsetAt, true);
  if (cName(blob, t + 2, XT_NAME_LEN) !== XT_STANDARD_TARGET) return false;
  const vd = -v.getInt32(t + XT_OBJ_HEADER, true) - 1;
  return vd === NF_DROP || vd === NF_ACCEPT;
}

/**
 * mark_source_chains: walks each hook's chain, following jumps and falling through, returning
 * at unconditional standard verdicts, and sets each entry reached's comefrom bit of the hook.
 * False for a loop (an entry reached again on the current path) or a jump to no entry. The back
 * pointers Linux keeps in the counters are kept here in a map.
 */
function markSourceChains(
  layout: EntryLayout, blob: Uint8Array, v: DataView, validHooks: number, hookEntry: number[], entries: Set<number>,
  targetName: (off: number) => string,
): boolean {
  const size = blob.length;
  const ON_PATH = 1 << NF_INET_NUMHOOKS;
  const back = new Map<number, number>();
  const comefrom = (off: number) => v.getUint32(off + layout.comefromAt, true);
  const setComefrom = (off: number, x: number) => v.setUint32(off + layout.comefromAt, x >>> 0, true);
  const nextOffset = (off: number) => v.getUint16(off + layout.nextOffsetAt, true);
  for (let hook = 0; hook < NF_INET_NUMHOOKS; hook++) {
    if (!(validHooks & (1 << hook))) continue;
    let pos = hookEntry[hook]!;
    back.set(pos, pos);
    for (;;) {
      const t = pos + v.getUint16(pos + layout.targetOffsetAt, true);
      const verdict = v.getInt32(t + XT_OBJ_HEADER, true);
      const isStandard = targetName(pos) === XT_STANDARD_TARGET;
      const visited = (comefrom(pos) & (1 << hook)) !== 0;
      if (comefrom(pos) & ON_PATH) return false;
      setComefrom(pos, comefrom(pos) | (1 << hook) | ON_PATH);
      if ((unconditional(layout, blob, v, pos) && isStandard && verdict < 0) || visited) {
        // Return: back along the path to the last jump, then one entry on.
        let oldpos: number;
        let done = false;
        do {
          setComefrom(pos, comefrom(pos) ^ ON_PATH);
          oldpos = pos;
          pos = back.get(pos) ?? 0;
          back.set(oldpos, 0);
          if (pos === oldpos) {
            done = true;
            break;
          }
        } while (oldpos === pos + nextOffset(pos));
        if (done) break;
        const next = pos + nextOffset(pos);
        if (next >= size) return false;
        back.set(next, pos);
        pos = next;
      } else {
        let newpos: number;
        if (isStandard && verdict >= 0) {
          // A jump: to an entry's start only (xt_find_jump_offset).
          if (!entries.has(verdict)) return false;
          newpos = verdict;
        } else {
          newpos = pos + nextOffset(pos);
          if (newpos >= size) return false;
        }
        back.set(newpos, pos);
        pos = newpos;
      }
    }
  }
  return true;
}

interface PartContext {
  name: string;
  hookMask: number;
  proto: number;
  invProto: boolean;
}

/** find_check_match / find_check_entry's target: the extension found and xt_check_match/xt_check_target passed. */
function findPart(list: readonly Extension[], nfproto: number, blob: Uint8Array, v: DataView, at: number, size: number, c: PartContext): Extension | LinuxError {
  const nameEnd = blob.subarray(at + 2, at + 2 + XT_NAME_LEN).indexOf(0);
  if (nameEnd === -1) return EINVAL;
  const ext = findExtension(list, nfproto, cName(blob, at + 2, XT_NAME_LEN), blob[at + 2 + XT_NAME_LEN]!);
  if (ext instanceof LinuxError) return ext;
  if (XT_ALIGN(ext.size) !== size - XT_OBJ_HEADER) return EINVAL;
  if (ext.table !== null && ext.table !== c.name) return EINVAL;
  if (ext.hooks !== 0 && (c.hookMask & ~ext.hooks) !== 0) return EINVAL;
  if (ext.proto !== 0 && (ext.proto !== c.proto || c.invProto)) return EINVAL;
  const err = ext.check?.({ data: new DataView(v.buffer, v.byteOffset + at + XT_OBJ_HEADER, XT_ALIGN(ext.size)), proto: c.proto, invProto: c.invProto, hookMask: c.hookMask, family: nfproto });
  return err ?? ext;
}

/**
 * __do_replace after translate_table: the table must exist (ENOENT) with those hooks (EINVAL)
 * and num_counters must be its current number of entries (EAGAIN). Returns the old counters.
 */
export function replaceTable(fam: XtFamily, name: string, validHooks: number, numCounters: number, next: XtTable): BigUint64Array | LinuxError {
  const old = fam.tables.get(name);
  if (old === undefined) return ENOENT;
  if (validHooks !== old.validHooks) return EINVAL;
  if (numCounters !== old.number) return EAGAIN;
  fam.tables.set(name, next);
  fam.changed = true;
  return old.counters;
}

/** do_add_counters after xt_copy_counters: adds each pair to its entry's counters, in order. */
export function addCounters(fam: XtFamily, name: string, add: BigUint64Array): LinuxError | null {
  const t = fam.tables.get(name);
  if (t === undefined) return ENOENT;
  if (t.number * 2 !== add.length) return EINVAL;
  for (let i = 0; i < add.length; i++) t.counters[i] = t.counters[i]! + add[i]!;
  fam.changed = true;
  return null;
}

/**
 * copy_entries_to_user's writes over the caller's buffer `out` (the entries' part): each
 * entry's header with its counters, each match's and the target's size, kernel name (to its
 * NUL: the rest of the name field is left as the caller had it), revision and data (the user
 * part, the kernel part zeroed).
 */
export function entriesToUser(t: XtTable, layout: EntryLayout, out: Uint8Array): void {
  const src = t.entries;
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  t.parts.forEach((p, i) => {
    out.set(src.subarray(p.off, p.off + layout.entrySize), p.off);
    v.setBigUint64(p.off + layout.countersAt, t.counters[2 * i]!, true);
    v.setBigUint64(p.off + layout.countersAt + 8, t.counters[2 * i + 1]!, true);
    for (const m of [...p.matches, p.target]) {
      const at = p.off + m.at;
      v.setUint16(at, src[at]! | (src[at + 1]! << 8), true);
      const nm = enc.encode(m.ext.name);
      out.set(nm, at + 2);
      out[at + 2 + nm.length] = 0;
      out[at + 2 + XT_NAME_LEN] = m.ext.revision;
      const usersize = m.ext.usersize || m.ext.size;
      const data = at + XT_OBJ_HEADER;
      out.set(src.subarray(data, data + usersize), data);
      out.fill(0, data + usersize, data + XT_ALIGN(m.ext.size));
    }
  });
}
