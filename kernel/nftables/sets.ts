/**
 * nf_tables sets and maps (NFT_MSG_NEWSET/GETSET/DELSET/DESTROYSET and their elements,
 * NFT_MSG_NEWSETELEM/GETSETELEM/DELSETELEM/DESTROYSETELEM), checked as nf_tables_api.c checks
 * them: key and data types and lengths, flags, a map's data, the catch-all element, duplicates
 * (EEXIST with NLM_F_EXCL, EBUSY for other data). Elements are kept in order of insertion,
 * as dumps show them. Sets are kept, not evaluated on packets.
 *
 * @module
 */

import { EBUSY, EEXIST, EINVAL, ENFILE, ENOENT, EOPNOTSUPP } from "../errno.ts";
import { type Attrs, AttrWriter, parseAttrs, parseList, type Policy } from "./attrs.ts";
import type { NftSet, NftSetElem, NftTable } from "./state.ts";

export const NFT_MSG_NEWSET = 9;
export const NFT_MSG_GETSET = 10;
export const NFT_MSG_DELSET = 11;
export const NFT_MSG_NEWSETELEM = 12;
export const NFT_MSG_GETSETELEM = 13;
export const NFT_MSG_DELSETELEM = 14;
export const NFT_MSG_DESTROYSET = 29;
export const NFT_MSG_DESTROYSETELEM = 30;

const NLM_F_REPLACE = 0x100;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;

const NFTA_SET_TABLE = 1, NFTA_SET_NAME = 2, NFTA_SET_FLAGS = 3, NFTA_SET_KEY_TYPE = 4, NFTA_SET_KEY_LEN = 5;
const NFTA_SET_DATA_TYPE = 6, NFTA_SET_DATA_LEN = 7, NFTA_SET_POLICY = 8, NFTA_SET_DESC = 9, NFTA_SET_ID = 10;
const NFTA_SET_USERDATA = 13, NFTA_SET_OBJ_TYPE = 15, NFTA_SET_HANDLE = 16, NFTA_SET_COUNT = 20;
const NFTA_SET_DESC_SIZE = 1;
export const SET_POLICY: Policy = {
  [NFTA_SET_TABLE]: { kind: "string", len: 255 },
  [NFTA_SET_NAME]: { kind: "string", len: 255 },
  [NFTA_SET_FLAGS]: { kind: "u32" },
  [NFTA_SET_KEY_TYPE]: { kind: "u32" },
  [NFTA_SET_KEY_LEN]: { kind: "u32" },
  [NFTA_SET_DATA_TYPE]: { kind: "u32" },
  [NFTA_SET_DATA_LEN]: { kind: "u32" },
  [NFTA_SET_POLICY]: { kind: "u32" },
  [NFTA_SET_DESC]: { kind: "nested" },
  [NFTA_SET_ID]: { kind: "u32" },
  11: { kind: "u64" },
  12: { kind: "u32" },
  [NFTA_SET_USERDATA]: { kind: "binary", len: 256 },
  [NFTA_SET_OBJ_TYPE]: { kind: "u32" },
  [NFTA_SET_HANDLE]: { kind: "u64" },
};
const DESC_POLICY: Policy = { [NFTA_SET_DESC_SIZE]: { kind: "u32" }, 2: { kind: "nested" } };

const NFT_SET_ANONYMOUS = 0x1, NFT_SET_CONSTANT = 0x2, NFT_SET_INTERVAL = 0x4, NFT_SET_MAP = 0x8, NFT_SET_TIMEOUT = 0x10;
const NFT_SET_EVAL = 0x20, NFT_SET_OBJECT = 0x40, NFT_SET_CONCAT = 0x80, NFT_SET_EXPR = 0x100;
const SET_FLAGS = NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_INTERVAL | NFT_SET_TIMEOUT | NFT_SET_MAP | NFT_SET_EVAL |
  NFT_SET_OBJECT | NFT_SET_CONCAT | NFT_SET_EXPR;
/** NFT_DATA_RESERVED_MASK and NFT_DATA_VERDICT (0xffffff00). */
const NFT_DATA_RESERVED_MASK = 0xffffff00;
const NFT_DATA_VERDICT = 0xffffff00;
/** NFT_DATA_VALUE_MAXLEN. */
const VALUE_MAXLEN = 64;

const NFTA_SET_ELEM_LIST_TABLE = 1, NFTA_SET_ELEM_LIST_SET = 2, NFTA_SET_ELEM_LIST_ELEMENTS = 3, NFTA_SET_ELEM_LIST_SET_ID = 4;
export const ELEM_LIST_POLICY: Policy = {
  [NFTA_SET_ELEM_LIST_TABLE]: { kind: "string", len: 255 },
  [NFTA_SET_ELEM_LIST_SET]: { kind: "string", len: 255 },
  [NFTA_SET_ELEM_LIST_ELEMENTS]: { kind: "nested" },
  [NFTA_SET_ELEM_LIST_SET_ID]: { kind: "u32" },
};
const NFTA_SET_ELEM_KEY = 1, NFTA_SET_ELEM_DATA = 2, NFTA_SET_ELEM_FLAGS = 3;
const ELEM_POLICY: Policy = {
  [NFTA_SET_ELEM_KEY]: { kind: "nested" },
  [NFTA_SET_ELEM_DATA]: { kind: "nested" },
  [NFTA_SET_ELEM_FLAGS]: { kind: "u32" },
  4: { kind: "u64" },
  5: { kind: "u64" },
  6: { kind: "binary", len: 256 },
  7: { kind: "nested" },
  8: { kind: "string", len: 255 },
  9: { kind: "nested" },
  10: { kind: "nested" },
};
const NFT_SET_ELEM_INTERVAL_END = 1, NFT_SET_ELEM_CATCHALL = 2;
const NFTA_DATA_VALUE = 1;
const DATA_POLICY: Policy = { [NFTA_DATA_VALUE]: { kind: "binary", len: VALUE_MAXLEN }, 2: { kind: "nested" } };
const NFTA_LIST_ELEM = 1;

/** nft_set_lookup: EINVAL without a name, ENOENT for none. */
export function lookupSet(t: NftTable, a: Attrs, type: number): NftSet | number {
  if (!a.has(type)) return EINVAL.errno;
  const name = a.str(type)!;
  return t.sets.find((s) => s.name === name) ?? ENOENT.errno;
}

/** What NFT_MSG_NEWSET asks for, checked before its table is looked up. */
export type SetParams = Pick<NftSet, "flags" | "keyType" | "keyLen" | "dataType" | "dataLen" | "size">;

/** nf_tables_newset's checks of the set's own attributes: its parameters or an errno. */
export function checkSet(a: Attrs): SetParams | number {
  if (!a.has(NFTA_SET_TABLE) || !a.has(NFTA_SET_NAME) || !a.has(NFTA_SET_KEY_LEN) || !a.has(NFTA_SET_ID)) return EINVAL.errno;
  const keyType = a.u32(NFTA_SET_KEY_TYPE) ?? 0;
  if (((keyType & NFT_DATA_RESERVED_MASK) >>> 0) === NFT_DATA_RESERVED_MASK) return EINVAL.errno;
  const keyLen = a.u32(NFTA_SET_KEY_LEN)!;
  if (keyLen === 0 || keyLen > VALUE_MAXLEN) return EINVAL.errno;
  const flags = a.u32(NFTA_SET_FLAGS) ?? 0;
  if (flags & ~SET_FLAGS) return EOPNOTSUPP.errno;
  const both = (x: number, y: number) => (flags & (x | y)) === (x | y);
  if (both(NFT_SET_MAP, NFT_SET_OBJECT) || both(NFT_SET_EVAL, NFT_SET_OBJECT)) return EOPNOTSUPP.errno;
  if ((flags & (NFT_SET_ANONYMOUS | NFT_SET_TIMEOUT | NFT_SET_EVAL)) === (NFT_SET_ANONYMOUS | NFT_SET_TIMEOUT)) return EOPNOTSUPP.errno;
  if (both(NFT_SET_CONSTANT, NFT_SET_TIMEOUT)) return EOPNOTSUPP.errno;
  let dataType = 0, dataLen = 0;
  if (a.has(NFTA_SET_DATA_TYPE)) {
    if (!(flags & NFT_SET_MAP)) return EINVAL.errno;
    dataType = a.u32(NFTA_SET_DATA_TYPE)!;
    if (((dataType & NFT_DATA_RESERVED_MASK) >>> 0) === NFT_DATA_RESERVED_MASK && dataType !== NFT_DATA_VERDICT) return EINVAL.errno;
    if (dataType !== NFT_DATA_VERDICT) {
      if (!a.has(NFTA_SET_DATA_LEN)) return EINVAL.errno;
      dataLen = a.u32(NFTA_SET_DATA_LEN)!;
      if (dataLen === 0 || dataLen > VALUE_MAXLEN) return EINVAL.errno;
    } else {
      dataLen = 16;
    }
  } else if (flags & NFT_SET_MAP) {
    return EINVAL.errno;
  }
  // Object maps and timeouts need stateful objects and timers this kernel does not keep.
  if (a.has(NFTA_SET_OBJ_TYPE) || flags & NFT_SET_OBJECT || flags & NFT_SET_TIMEOUT || a.has(11)) return EOPNOTSUPP.errno;
  let size = 0;
  if (a.has(NFTA_SET_DESC)) {
    const d = parseAttrs(a.raw(NFTA_SET_DESC)!, DESC_POLICY);
    if (typeof d === "number") return d;
    if (d.has(2)) return EOPNOTSUPP.errno; // concatenations
    size = d.u32(NFTA_SET_DESC_SIZE) ?? 0;
  }
  return { flags, keyType, keyLen, dataType, dataLen, size };
}

/** nf_tables_newset once the table `t` was found: 0 or an errno; `ids` learns NFTA_SET_ID. */
export function newSet(t: NftTable, a: Attrs, p: SetParams, flagsMsg: number, ids: Map<number, NftSet>): number {
  const { flags, keyType, keyLen, dataType, dataLen, size } = p;
  const name = a.str(NFTA_SET_NAME)!;
  const found = t.sets.find((x) => x.name === name);
  if (found !== undefined) {
    if (flagsMsg & NLM_F_EXCL) return EEXIST.errno;
    if (flagsMsg & NLM_F_REPLACE) return EOPNOTSUPP.errno;
    if (found.flags & NFT_SET_ANONYMOUS) return EOPNOTSUPP.errno;
    // nft_set_is_same: the same set asked again is no change; another is EEXIST.
    const same = found.flags === flags && found.keyType === keyType && found.keyLen === keyLen && found.dataType === dataType &&
      found.dataLen === dataLen;
    return same ? 0 : EEXIST.errno;
  }
  if (!(flagsMsg & NLM_F_CREATE)) return ENOENT.errno;
  const set: NftSet = {
    name,
    handle: ++t.lastHandle,
    flags,
    keyType,
    keyLen,
    dataType,
    dataLen,
    policy: a.u32(NFTA_SET_POLICY) ?? 0,
    udata: a.has(NFTA_SET_USERDATA) ? a.raw(NFTA_SET_USERDATA)!.slice() : null,
    size,
    elems: [],
    use: 0,
  };
  t.sets.push(set);
  ids.set(a.u32(NFTA_SET_ID)!, set);
  return 0;
}

/** nf_tables_delset after the table was found. */
export function delSet(t: NftTable, a: Attrs, destroy: boolean): number {
  let s: NftSet | number;
  if (a.has(NFTA_SET_HANDLE)) {
    const h = a.u64(NFTA_SET_HANDLE)!;
    s = t.sets.find((x) => x.handle === h) ?? ENOENT.errno;
  } else {
    s = lookupSet(t, a, NFTA_SET_NAME);
  }
  if (typeof s === "number") return s === ENOENT.errno && destroy ? 0 : s;
  if (s.use > 0) return EBUSY.errno;
  t.sets.splice(t.sets.indexOf(s), 1);
  return 0;
}

/** The value inside an NFTA_DATA nest of exactly `len` bytes (nft_setelem_parse_key/data). */
function dataValue(raw: Uint8Array, len: number): Uint8Array | number {
  const d = parseAttrs(raw, DATA_POLICY);
  if (typeof d === "number") return d;
  if (!d.has(NFTA_DATA_VALUE)) return EINVAL.errno;
  const v = d.raw(NFTA_DATA_VALUE)!;
  if (v.length === 0 || v.length !== len) return EINVAL.errno;
  return v.slice();
}

/** An element's attributes, parsed and checked against its set. */
function parseElem(s: NftSet, raw: Uint8Array, adding: boolean): NftSetElem | number {
  const e = parseAttrs(raw, ELEM_POLICY);
  if (typeof e === "number") return e;
  const flags = e.u32(NFTA_SET_ELEM_FLAGS) ?? 0;
  if (flags & ~(NFT_SET_ELEM_INTERVAL_END | NFT_SET_ELEM_CATCHALL)) return EOPNOTSUPP.errno;
  if (!(s.flags & NFT_SET_INTERVAL) && flags & NFT_SET_ELEM_INTERVAL_END) return EINVAL.errno;
  const catchall = (flags & NFT_SET_ELEM_CATCHALL) !== 0;
  if (adding ? catchall === e.has(NFTA_SET_ELEM_KEY) : !e.has(NFTA_SET_ELEM_KEY) && !catchall) return EINVAL.errno;
  if (adding) {
    if (s.flags & NFT_SET_MAP) {
      if (!e.has(NFTA_SET_ELEM_DATA) && !(flags & NFT_SET_ELEM_INTERVAL_END)) return EINVAL.errno;
    } else if (e.has(NFTA_SET_ELEM_DATA)) {
      return EINVAL.errno;
    }
    // Expressions, objects, timeouts and ranges' ends need what sets here do not keep.
    for (const t of [4, 5, 7, 8, 9, 10]) if (e.has(t)) return EOPNOTSUPP.errno;
  }
  let key: Uint8Array | null = null;
  if (e.has(NFTA_SET_ELEM_KEY)) {
    const k = dataValue(e.raw(NFTA_SET_ELEM_KEY)!, s.keyLen);
    if (typeof k === "number") return k;
    key = k;
  }
  let data: Uint8Array | null = null;
  if (adding && e.has(NFTA_SET_ELEM_DATA)) {
    // Verdict maps need verdict data bound to chains: not supported here.
    if (s.dataType === NFT_DATA_VERDICT) return EOPNOTSUPP.errno;
    const d = dataValue(e.raw(NFTA_SET_ELEM_DATA)!, s.dataLen);
    if (typeof d === "number") return d;
    data = d;
  }
  return { key, data, flags };
}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function findElem(s: NftSet, e: NftSetElem): number {
  const catchall = (e.flags & NFT_SET_ELEM_CATCHALL) !== 0;
  return s.elems.findIndex((x) => catchall ? (x.flags & NFT_SET_ELEM_CATCHALL) !== 0 : sameBytes(x.key, e.key));
}

/** nf_tables_newsetelem after the set was found. */
export function newSetElems(s: NftSet, a: Attrs, flagsMsg: number): number {
  if (!a.has(NFTA_SET_ELEM_LIST_ELEMENTS)) return EINVAL.errno;
  if (s.use > 0 && s.flags & (NFT_SET_CONSTANT | NFT_SET_ANONYMOUS)) return EBUSY.errno;
  for (const item of parseList(a.raw(NFTA_SET_ELEM_LIST_ELEMENTS)!)) {
    const e = parseElem(s, item.value, true);
    if (typeof e === "number") return e;
    const i = findElem(s, e);
    if (i >= 0) {
      const old = s.elems[i]!;
      if (!sameBytes(old.data, e.data) || old.flags !== e.flags) return EBUSY.errno;
      if (flagsMsg & NLM_F_EXCL) return EEXIST.errno;
      continue;
    }
    if (s.size !== 0 && s.elems.length >= s.size) return ENFILE.errno; // the set is full
    s.elems.push(e);
  }
  return 0;
}

/** nf_tables_delsetelem after the set was found: the listed elements, or all without a list. */
export function delSetElems(s: NftSet, a: Attrs, destroy: boolean): number {
  if (s.flags & NFT_SET_ANONYMOUS && s.use > 0 && s.flags & NFT_SET_CONSTANT) return EBUSY.errno;
  if (!a.has(NFTA_SET_ELEM_LIST_ELEMENTS)) {
    s.elems = [];
    return 0;
  }
  for (const item of parseList(a.raw(NFTA_SET_ELEM_LIST_ELEMENTS)!)) {
    const e = parseElem(s, item.value, false);
    if (typeof e === "number") return e;
    const i = findElem(s, e);
    if (i < 0) {
      if (destroy) continue;
      return ENOENT.errno;
    }
    s.elems.splice(i, 1);
  }
  return 0;
}

/** A set as NFT_MSG_NEWSET records it (nf_tables_fill_set). */
export function setAttrs(t: NftTable, s: NftSet): Uint8Array {
  const w = new AttrWriter().str(NFTA_SET_TABLE, t.name).str(NFTA_SET_NAME, s.name).be64(NFTA_SET_HANDLE, s.handle);
  if (s.flags !== 0) w.be32(NFTA_SET_FLAGS, s.flags);
  w.be32(NFTA_SET_KEY_TYPE, s.keyType).be32(NFTA_SET_KEY_LEN, s.keyLen);
  if (s.flags & NFT_SET_MAP) w.be32(NFTA_SET_DATA_TYPE, s.dataType).be32(NFTA_SET_DATA_LEN, s.dataLen);
  if (s.policy !== 0) w.be32(NFTA_SET_POLICY, s.policy);
  if (s.udata !== null) w.attr(NFTA_SET_USERDATA, s.udata);
  const desc = new AttrWriter();
  if (s.size !== 0) desc.be32(NFTA_SET_DESC_SIZE, s.size);
  w.nest(NFTA_SET_DESC, desc);
  // NFTA_SET_COUNT: the elements but the catch-all. (Linux also gives NFTA_SET_TYPE, the
  // backend's name, which here would name nothing.)
  w.be32(NFTA_SET_COUNT, s.elems.filter((e) => !(e.flags & NFT_SET_ELEM_CATCHALL)).length);
  return w.done();
}

/**
 * A GET of given elements (nf_tables_getsetelem without NLM_F_DUMP): a record of each, found
 * by key or as the catch-all; EINVAL without a list, ENOENT for one that is not there.
 */
export function getElems(t: NftTable, s: NftSet, a: Attrs): Uint8Array[] | number {
  if (!a.has(NFTA_SET_ELEM_LIST_ELEMENTS)) return EINVAL.errno;
  const out: Uint8Array[] = [];
  for (const item of parseList(a.raw(NFTA_SET_ELEM_LIST_ELEMENTS)!)) {
    const e = parseElem(s, item.value, false);
    if (typeof e === "number") return e;
    const i = findElem(s, e);
    if (i < 0) return ENOENT.errno;
    out.push(elemRecord(t, s, [s.elems[i]!]));
  }
  return out;
}

/** One NFT_MSG_NEWSETELEM record of `elems`. */
function elemRecord(t: NftTable, s: NftSet, elems: NftSetElem[]): Uint8Array {
  const list = new AttrWriter();
  for (const e of elems) {
    const w = new AttrWriter();
    if (e.key !== null) w.nest(NFTA_SET_ELEM_KEY, new AttrWriter().attr(NFTA_DATA_VALUE, e.key));
    if (e.data !== null) w.nest(NFTA_SET_ELEM_DATA, new AttrWriter().attr(NFTA_DATA_VALUE, e.data));
    if (e.flags !== 0) w.be32(NFTA_SET_ELEM_FLAGS, e.flags);
    list.nest(NFTA_LIST_ELEM, w);
  }
  return new AttrWriter().str(NFTA_SET_ELEM_LIST_TABLE, t.name).str(NFTA_SET_ELEM_LIST_SET, s.name)
    .nest(NFTA_SET_ELEM_LIST_ELEMENTS, list).done();
}

/**
 * A set's elements as NFT_MSG_NEWSETELEM records (nf_tables_dump_set): the backend's elements,
 * then the catch-all in a record of its own (an empty one when there is none); a set with
 * nothing but a catch-all, or nothing, is one record.
 */
export function elemRecords(t: NftTable, s: NftSet): Uint8Array[] {
  const regular = s.elems.filter((e) => !(e.flags & NFT_SET_ELEM_CATCHALL));
  const catchall = s.elems.filter((e) => e.flags & NFT_SET_ELEM_CATCHALL);
  const record = (elems: NftSetElem[]) => elemRecord(t, s, elems);
  return regular.length > 0 ? [record(regular), record(catchall)] : [record(catchall)];
}

export { NFTA_SET_ELEM_LIST_SET, NFTA_SET_ELEM_LIST_SET_ID, NFTA_SET_ELEM_LIST_TABLE, NFTA_SET_NAME, NFTA_SET_TABLE };
