/**
 * A rule's expressions (NFTA_RULE_EXPRESSIONS' NFTA_LIST_ELEMs), checked as each expression
 * type's init checks them in Linux (nft_immediate, nft_cmp, nft_payload, nft_bitwise, nft_meta,
 * nft_counter, nft_ct, nft_fib, nft_nat, nft_masq, nft_lookup (sets.ts); nft_compat's x_tables match
 * and target): registers, data, lengths, ranges and the chains they may be in, with Linux's
 * errnos. An expression that
 * passes is kept as Linux dumps it. Other types Linux has are not supported yet (EOPNOTSUPP);
 * names Linux does not know are ENOENT.
 *
 * @module
 */

import { EAFNOSUPPORT, EINVAL, ENODATA, ENOENT, EOPNOTSUPP, EOVERFLOW, EPERM, ERANGE } from "../errno.ts";
import { type Attrs, AttrWriter, parseAttrs, type Policy } from "./attrs.ts";
import type { NftChain, NftSet, NftTable } from "./state.ts";
import { LinuxError } from "../errno.ts";
import { type Extension, findExtension, MATCHES, NFPROTO_IPV4, NFPROTO_IPV6, TARGETS } from "../netfilter/extensions.ts";

/** What an expression may look up: the rule's table and chain, chains added in the batch. */
export interface ExprContext {
  family: number;
  table: NftTable;
  chain: NftChain;
  chainById(id: number): NftChain | null;
  /** A set added in this batch with NFTA_SET_ID `id`. */
  setById(id: number): NftSet | null;
  /** The rule's NFTA_RULE_COMPAT (the protocol x_tables extensions see), if any. */
  compat: Uint8Array | undefined;
  /**
   * The 32-bit registers an earlier expression of the rule stored to, a bit each (reg_inited):
   * a load from another is ENODATA.
   */
  regsInited: number;
  /** Whether the sender holds CAP_NET_ADMIN over the initial user namespace. */
  initNetAdmin: boolean;
}

const NFTA_EXPR_NAME = 1;
const NFTA_EXPR_DATA = 2;
const EXPR_POLICY: Policy = { [NFTA_EXPR_NAME]: { kind: "string", len: 60 }, [NFTA_EXPR_DATA]: { kind: "nested" } };

const NFTA_DATA_VALUE = 1;
const NFTA_DATA_VERDICT = 2;
const DATA_POLICY: Policy = { [NFTA_DATA_VALUE]: { kind: "binary", len: 64 }, [NFTA_DATA_VERDICT]: { kind: "nested" } };
const NFTA_VERDICT_CODE = 1;
const NFTA_VERDICT_CHAIN = 2;
const NFTA_VERDICT_CHAIN_ID = 3;
const VERDICT_POLICY: Policy = {
  [NFTA_VERDICT_CODE]: { kind: "u32" },
  [NFTA_VERDICT_CHAIN]: { kind: "string", len: 255 },
  [NFTA_VERDICT_CHAIN_ID]: { kind: "u32" },
};

const NF_DROP = 0, NF_ACCEPT = 1, NF_QUEUE = 3;
const NFT_CONTINUE = -1, NFT_BREAK = -2, NFT_JUMP = -3, NFT_GOTO = -4, NFT_RETURN = -5;
const NF_VERDICT_MASK = 0xff;

const NFT_REG_VERDICT = 0;
const NFT_CHAIN_BINDING = 4;
/** struct nft_regs' data: 20 32-bit registers (the verdict's 4 among them). */
const REGS_DATA_BYTES = 80;
/** sizeof(struct nft_data): 16 bytes. */
const NFT_DATA_SIZE = 16;

/** The verdict or value an expression's data holds (nft_data_init). */
type Data = { kind: "value"; len: number; bytes: Uint8Array } | { kind: "verdict"; code: number; chain: NftChain | null };

/** nft_data_init: `want` is the type the register or expression calls for; `len` a fixed length. */
function parseData(ctx: ExprContext | null, raw: Uint8Array | undefined, want: "value" | "verdict", size: number, len = 0): Data | number {
  if (raw === undefined) return EINVAL.errno;
  const d = parseAttrs(raw, DATA_POLICY);
  if (typeof d === "number") return d;
  if (d.has(NFTA_DATA_VALUE)) {
    if (want !== "value") return EINVAL.errno;
    const v = d.raw(NFTA_DATA_VALUE)!;
    if (v.length === 0) return EINVAL.errno;
    if (v.length > size) return EOVERFLOW.errno;
    if (len !== 0 && v.length !== len) return EINVAL.errno;
    return { kind: "value", len: v.length, bytes: v };
  }
  if (d.has(NFTA_DATA_VERDICT) && ctx !== null) {
    if (want !== "verdict") return EINVAL.errno;
    return parseVerdict(ctx, d.raw(NFTA_DATA_VERDICT)!);
  }
  return EINVAL.errno;
}

/** nft_verdict_init. */
function parseVerdict(ctx: ExprContext, raw: Uint8Array): Data | number {
  const v = parseAttrs(raw, VERDICT_POLICY);
  if (typeof v === "number") return v;
  if (!v.has(NFTA_VERDICT_CODE)) return EINVAL.errno;
  const code = v.u32(NFTA_VERDICT_CODE)! | 0;
  switch (code) {
    case NFT_CONTINUE:
    case NFT_BREAK:
    case NFT_RETURN:
      return { kind: "verdict", code, chain: null };
    case NFT_JUMP:
    case NFT_GOTO: {
      let chain: NftChain | null;
      if (v.has(NFTA_VERDICT_CHAIN)) {
        const name = v.str(NFTA_VERDICT_CHAIN)!;
        chain = ctx.table.chains.find((c) => c.name === name) ?? null;
      } else if (v.has(NFTA_VERDICT_CHAIN_ID)) {
        chain = ctx.chainById(v.u32(NFTA_VERDICT_CHAIN_ID)!);
      } else {
        return EINVAL.errno;
      }
      if (chain === null) return ENOENT.errno;
      if (chain.base !== null) return EOPNOTSUPP.errno;
      if (chain.bound) return EINVAL.errno;
      return { kind: "verdict", code, chain };
    }
  }
  const base = code & NF_VERDICT_MASK;
  if (base !== NF_ACCEPT && base !== NF_DROP && base !== NF_QUEUE) return EINVAL.errno;
  return { kind: "verdict", code, chain: null };
}

/** nft_parse_register: the register's index in 32-bit units, or ERANGE. */
function parseRegister(a: Attrs, type: number): number {
  const reg = a.u32(type)!;
  if (reg <= 4) return reg * 4; // NFT_REG_VERDICT, NFT_REG_1..4: 16 bytes each
  if (reg >= 8 && reg <= 23) return reg - 8 + 4; // NFT_REG32_00..15
  return -ERANGE.errno;
}

/** The bits of the 32-bit registers `len` bytes from `reg` cover. */
function regBits(reg: number, len: number): number {
  const n = Math.ceil(len / 4);
  return ((2 ** n - 1) * 2 ** reg) >>> 0;
}

/** nft_parse_register_load: a register `len` bytes are read from, all stored to earlier. */
function loadRegister(ctx: ExprContext, a: Attrs, type: number, len: number): number {
  if (!a.has(type)) return EINVAL.errno;
  const reg = parseRegister(a, type);
  if (reg < 0) return -reg;
  if (reg < 4 || len === 0) return EINVAL.errno;
  if (reg * 4 + len > REGS_DATA_BYTES) return ERANGE.errno;
  const want = regBits(reg, len);
  if (((ctx.regsInited & want) >>> 0) !== want) return ENODATA.errno;
  return 0;
}

/** nft_parse_register_store: a register `len` bytes of `kind` are written to. */
function storeRegister(ctx: ExprContext, a: Attrs, type: number, kind: "value" | "verdict", len: number): number {
  if (!a.has(type)) return EINVAL.errno;
  const reg = parseRegister(a, type);
  if (reg < 0) return -reg;
  if (reg === NFT_REG_VERDICT) {
    if (kind !== "verdict") return EINVAL.errno;
  } else {
    if (kind !== "value" || reg < 4 || len === 0) return EINVAL.errno;
    if (reg * 4 + len > REGS_DATA_BYTES) return ERANGE.errno;
  }
  ctx.regsInited = (ctx.regsInited | regBits(reg, len)) >>> 0;
  return 0;
}

/** What an expression type's check gives: the errno, or the chains its verdict names. */
type Check = (ctx: ExprContext, raw: Uint8Array) => number | { jumps: bigint[]; dump?: Uint8Array; sets?: bigint[] };

const u32 = { kind: "u32" } as const;

const IMMEDIATE: Policy = { 1: u32, 2: { kind: "nested" } };
const immediate: Check = (ctx, raw) => {
  const a = parseAttrs(raw, IMMEDIATE);
  if (typeof a === "number") return a;
  if (!a.has(1) || !a.has(2)) return EINVAL.errno;
  const kind = a.u32(1) === NFT_REG_VERDICT ? "verdict" : "value";
  const d = parseData(ctx, a.raw(2), kind, NFT_DATA_SIZE);
  if (typeof d === "number") return d;
  const err = storeRegister(ctx, a, 1, kind, d.kind === "value" ? d.len : NFT_DATA_SIZE);
  if (err) return err;
  // nf_tables_bind_chain: a jump to a binding chain binds it, once, from a chain that is not one.
  if (d.kind === "verdict" && d.chain !== null && d.chain.flags & NFT_CHAIN_BINDING) {
    if (ctx.chain.flags & NFT_CHAIN_BINDING) return EOPNOTSUPP.errno;
    d.chain.bound = true;
  }
  return { jumps: d.kind === "verdict" && d.chain !== null ? [d.chain.handle] : [] };
};

const CMP: Policy = { 1: u32, 2: u32, 3: { kind: "nested" } };
const cmp: Check = (ctx, raw) => {
  const a = parseAttrs(raw, CMP);
  if (typeof a === "number") return a;
  if (!a.has(1) || !a.has(2) || !a.has(3)) return EINVAL.errno;
  if (a.u32(2)! > 5) return EINVAL.errno; // NFT_CMP_EQ..NFT_CMP_GTE
  const d = parseData(null, a.raw(3), "value", NFT_DATA_SIZE);
  if (typeof d === "number") return d;
  if (d.kind !== "value") return EINVAL.errno;
  const err = loadRegister(ctx, a, 1, d.len);
  return err || { jumps: [] };
};

const PAYLOAD: Policy = {
  1: u32,
  2: u32,
  3: u32,
  4: { kind: "u32", max: 255 },
  5: u32,
  6: u32,
  7: { kind: "u32", max: 255 },
  8: u32,
};
const payload: Check = (ctx, raw) => {
  const a = parseAttrs(raw, PAYLOAD);
  if (typeof a === "number") return a;
  if (!a.has(2) || !a.has(3) || !a.has(4)) return EINVAL.errno;
  if (a.u32(2)! > 3) return EOPNOTSUPP.errno; // NFT_PAYLOAD_LL_HEADER..NFT_PAYLOAD_INNER_HEADER
  const len = a.u32(4)!;
  if (a.has(5)) {
    if (a.has(1)) return EINVAL.errno;
    // Rewriting packets takes CAP_NET_ADMIN over the initial user namespace: from a user
    // namespace of its own, a payload set is EPERM (as Linux 6.18 answers, before its checks).
    if (!ctx.initNetAdmin) return EPERM.errno;
    if (a.u32(3)! > 0xffff) return ERANGE.errno; // nft_parse_u32_check of the offset
    // nft_payload_set_init: checksum type and flags.
    const csum = a.u32(6) ?? 0;
    if (csum > 2) return EOPNOTSUPP.errno; // NONE, INET, SCTP
    if ((a.u32(8) ?? 0) & ~1) return EINVAL.errno; // NFT_PAYLOAD_L4CSUM_PSEUDOHDR
    const err = loadRegister(ctx, a, 5, len);
    return err || { jumps: [] };
  }
  if (!a.has(1)) return EINVAL.errno;
  if (a.u32(3)! > 0xffff) return ERANGE.errno; // nft_parse_u32_check of the offset
  const err = storeRegister(ctx, a, 1, "value", len);
  return err || { jumps: [] };
};

const BITWISE: Policy = { 1: u32, 2: u32, 3: { kind: "u32", max: 255 }, 4: { kind: "nested" }, 5: { kind: "nested" }, 6: u32, 7: { kind: "nested" }, 8: u32 };
const bitwise: Check = (ctx, raw) => {
  const a = parseAttrs(raw, BITWISE);
  if (typeof a === "number") return a;
  if (!a.has(1) || !a.has(2) || !a.has(3)) return EINVAL.errno;
  const len = a.u32(3)!;
  let err = loadRegister(ctx, a, 1, len) || storeRegister(ctx, a, 2, "value", len);
  if (err) return err;
  const op = a.u32(6) ?? 0;
  if (op > 5) return EOPNOTSUPP.errno; // MASK_XOR, LSHIFT, RSHIFT, AND, OR, XOR
  if (op === 0) {
    if (a.has(7) || a.has(8)) return EINVAL.errno;
    if (!a.has(4) || !a.has(5)) return EINVAL.errno;
    const m = parseData(null, a.raw(4), "value", NFT_DATA_SIZE, len);
    if (typeof m === "number") return m;
    const x = parseData(null, a.raw(5), "value", NFT_DATA_SIZE, len);
    if (typeof x === "number") return x;
  } else if (op <= 2) {
    if (a.has(4) || a.has(5) || a.has(8)) return EINVAL.errno;
    if (!a.has(7)) return EINVAL.errno;
    const d = parseData(null, a.raw(7), "value", NFT_DATA_SIZE, 4);
    if (typeof d === "number") return d;
    if (d.kind !== "value") return EINVAL.errno;
    const shift = new DataView(d.bytes.buffer, d.bytes.byteOffset, 4).getUint32(0, true);
    if (shift >= 32) return EINVAL.errno;
  } else {
    if (a.has(7) || a.has(4) || a.has(5)) return EINVAL.errno;
    if (!a.has(8)) return EINVAL.errno;
    err = loadRegister(ctx, a, 8, len);
    if (err) return err;
  }
  return { jumps: [] };
};

/** The length of each meta key a rule may read (nft_meta_get_init); undefined: not here. */
const META_GET_LEN: Record<number, number> = {
  0: 4, 1: 2, 2: 4, 3: 4, 4: 4, 5: 4, 6: 16, 7: 16, 8: 2, 9: 2, 10: 4, 11: 4, 12: 1, 13: 4, 14: 4, 15: 1, 16: 1,
  19: 1, 20: 4, 21: 4, 22: 4, 23: 4, 24: 4, 25: 1, 26: 16, 27: 16, 30: 8, 31: 1, 32: 4, 33: 4, 34: 16,
};
/** The length of each meta key a rule may set (nft_meta_set_init). */
const META_SET_LEN: Record<number, number> = { 2: 4, 3: 4, 12: 1, 19: 1, 14: 4 };
const META: Policy = { 1: u32, 2: { kind: "u32", max: 255 }, 3: u32 };
const meta: Check = (ctx, raw) => {
  const a = parseAttrs(raw, META);
  if (typeof a === "number") return a;
  if (!a.has(2)) return EINVAL.errno;
  const key = a.u32(2)!;
  if (a.has(1) && a.has(3)) return EINVAL.errno;
  if (a.has(1)) {
    const len = META_GET_LEN[key];
    if (len === undefined) return EOPNOTSUPP.errno;
    return storeRegister(ctx, a, 1, "value", len) || { jumps: [] };
  }
  if (a.has(3)) {
    const len = META_SET_LEN[key];
    if (len === undefined) return EOPNOTSUPP.errno;
    return loadRegister(ctx, a, 3, len) || { jumps: [] };
  }
  return EINVAL.errno;
};

const COUNTER: Policy = { 1: { kind: "u64" }, 2: { kind: "u64" } };
const counter: Check = (_ctx, raw) => {
  const a = parseAttrs(raw, COUNTER);
  return typeof a === "number" ? a : { jumps: [] };
};

/** The hooks of a base chain, as nft_chain_validate_hooks: a chain no hook reaches passes. */
function hooksAllow(ctx: ExprContext, hooks: number): boolean {
  return ctx.chain.base === null || (hooks & (1 << ctx.chain.base.hooknum)) !== 0;
}

/** nft_chain_validate_dependency: a base chain of another type is EOPNOTSUPP. */
function natChain(ctx: ExprContext): boolean {
  return ctx.chain.base === null || ctx.chain.base.type === "nat";
}

const NFPROTO_INET = 1;
const H_PRE = 1, H_IN = 2, H_FWD = 4, H_OUT = 8, H_POST = 16;

/** The length each conntrack key reads (nft_ct_get_init), and whether a direction is needed (true), refused (false) or optional (null). */
const CT_KEYS: Record<number, [number | "addr", boolean | null]> = {
  0: [4, false], 1: [1, false], 2: [4, false], 3: [4, false], 4: [4, false], 5: [4, false], 6: [16, false], 7: [1, null],
  8: ["addr", true], 9: ["addr", true], 10: [1, null], 11: [2, true], 12: [2, true], 13: [16, false], 14: [8, null], 15: [8, null],
  16: [8, null], 17: [2, null], 19: [4, true], 20: [4, true], 21: [16, true], 22: [16, true], 23: [4, false],
};
/** The keys a rule may set (nft_ct_set_init) and their lengths. */
const CT_SET_KEYS: Record<number, number> = { 3: 4, 4: 4, 13: 16, 17: 2, 18: 4 };
const CT: Policy = { 1: u32, 2: { kind: "u32", max: 255 }, 3: { kind: "u8" }, 4: u32 };
const ct: Check = (ctx, raw) => {
  const a = parseAttrs(raw, CT);
  if (typeof a === "number") return a;
  if (!a.has(2) || (a.has(1) && a.has(4)) || (!a.has(1) && !a.has(4))) return EINVAL.errno;
  const key = a.u32(2)!;
  const dir = a.has(3);
  let len: number;
  if (a.has(1)) {
    const k = CT_KEYS[key];
    if (k === undefined) return EOPNOTSUPP.errno;
    if (k[1] === false && dir) return EINVAL.errno;
    if (k[1] === true && !dir) return EINVAL.errno;
    if (k[0] === "addr") {
      if (ctx.family === NFPROTO_IPV4) len = 4;
      else if (ctx.family === NFPROTO_IPV6 || ctx.family === NFPROTO_INET) len = 16;
      else return EAFNOSUPPORT.errno;
    } else {
      len = k[0];
    }
  } else {
    const l = CT_SET_KEYS[key];
    if (l === undefined) return EOPNOTSUPP.errno;
    if (dir && key !== 17) return EINVAL.errno;
    len = l;
  }
  if (dir && a.raw(3)![0]! > 1) return EINVAL.errno; // IP_CT_DIR_ORIGINAL, IP_CT_DIR_REPLY
  return (a.has(1) ? storeRegister(ctx, a, 1, "value", len) : loadRegister(ctx, a, 4, len)) || { jumps: [] };
};

const NFTA_FIB_F_SADDR = 1, NFTA_FIB_F_DADDR = 2, NFTA_FIB_F_IIF = 8, NFTA_FIB_F_OIF = 16;
const FIB: Policy = { 1: u32, 2: u32, 3: u32 };
const fib: Check = (ctx, raw) => {
  const a = parseAttrs(raw, FIB);
  if (typeof a === "number") return a;
  if (a.has(3) && a.u32(3)! & ~0x3f) return EINVAL.errno; // NLA_POLICY_MASK(NFTA_FIB_F_ALL)
  if (!a.has(1) || !a.has(2) || !a.has(3)) return EINVAL.errno;
  const flags = a.u32(3)!;
  if (flags === 0) return EINVAL.errno;
  if ((flags & (NFTA_FIB_F_SADDR | NFTA_FIB_F_DADDR)) === (NFTA_FIB_F_SADDR | NFTA_FIB_F_DADDR)) return EINVAL.errno;
  if ((flags & (NFTA_FIB_F_IIF | NFTA_FIB_F_OIF)) === (NFTA_FIB_F_IIF | NFTA_FIB_F_OIF)) return EINVAL.errno;
  if ((flags & (NFTA_FIB_F_SADDR | NFTA_FIB_F_DADDR)) === 0) return EINVAL.errno;
  const result = a.u32(2)!;
  let len: number, hooks: number;
  if (result === 1 || result === 2) { // NFT_FIB_RESULT_OIF, _OIFNAME
    if (flags & NFTA_FIB_F_OIF) return EINVAL.errno;
    len = result === 1 ? 4 : 16;
    hooks = H_PRE | H_IN | H_FWD;
  } else if (result === 3) { // NFT_FIB_RESULT_ADDRTYPE
    len = 4;
    hooks = flags & NFTA_FIB_F_IIF ? H_PRE | H_IN | H_FWD : flags & NFTA_FIB_F_OIF ? H_OUT | H_POST | H_FWD : 0b11111;
  } else {
    return EINVAL.errno;
  }
  const err = storeRegister(ctx, a, 1, "value", len);
  if (err) return err;
  return hooksAllow(ctx, hooks) ? { jumps: [] } : EOPNOTSUPP.errno;
};

/** NF_NAT_RANGE_MASK: the range flags a NAT or masquerade may carry. */
const NF_NAT_RANGE_MASK = 0x7f;
const MASQ: Policy = { 1: u32, 2: u32, 3: u32 };
const masq: Check = (ctx, raw) => {
  const a = parseAttrs(raw, MASQ);
  if (typeof a === "number") return a;
  if (a.has(1) && a.u32(1)! & ~NF_NAT_RANGE_MASK) return EINVAL.errno;
  if (a.has(2)) {
    const err = loadRegister(ctx, a, 2, 2) || (a.has(3) ? loadRegister(ctx, a, 3, 2) : 0);
    if (err) return err;
  }
  if (!natChain(ctx) || !hooksAllow(ctx, H_POST)) return EOPNOTSUPP.errno;
  return { jumps: [] };
};

const NAT: Policy = { 1: u32, 2: u32, 3: u32, 4: u32, 5: u32, 6: u32, 7: u32 };
const nat: Check = (ctx, raw) => {
  const a = parseAttrs(raw, NAT);
  if (typeof a === "number") return a;
  if (a.has(7) && a.u32(7)! & ~NF_NAT_RANGE_MASK) return EINVAL.errno;
  if (!a.has(1) || (!a.has(3) && !a.has(5))) return EINVAL.errno;
  const type = a.u32(1)!;
  if (type > 1) return EOPNOTSUPP.errno; // NFT_NAT_SNAT, NFT_NAT_DNAT
  if (!a.has(2)) return EINVAL.errno;
  const family = a.u32(2)!;
  if (ctx.family !== NFPROTO_INET && ctx.family !== family) return EOPNOTSUPP.errno;
  const alen = family === NFPROTO_IPV4 ? 4 : family === NFPROTO_IPV6 ? 16 : 0;
  if (alen === 0 && a.has(3)) return EAFNOSUPPORT.errno;
  let err = a.has(3) ? loadRegister(ctx, a, 3, alen) || (a.has(4) ? loadRegister(ctx, a, 4, alen) : 0) : 0;
  if (!err && a.has(5)) err = loadRegister(ctx, a, 5, 2) || (a.has(6) ? loadRegister(ctx, a, 6, 2) : 0);
  if (err) return err;
  if (!natChain(ctx)) return EOPNOTSUPP.errno;
  return hooksAllow(ctx, type === 0 ? H_POST | H_IN : H_PRE | H_OUT) ? { jumps: [] } : EOPNOTSUPP.errno;
};

/**
 * nft_lookup: a set (by name, or by NFTA_SET_ID in the batch) and a source register of its
 * key's length; a destination register only for a map, not inverted. The rule binds the set.
 */
const NFT_SET_MAP = 0x8, NFT_SET_EVAL = 0x20, NFT_LOOKUP_F_INV = 1;
const LOOKUP: Policy = { 1: { kind: "string", len: 255 }, 2: u32, 3: u32, 4: u32, 5: u32 };
const lookup: Check = (ctx, raw) => {
  const a = parseAttrs(raw, LOOKUP);
  if (typeof a === "number") return a;
  if (a.has(5) && a.u32(5)! & ~NFT_LOOKUP_F_INV) return EINVAL.errno; // NLA_POLICY_MASK
  if (!a.has(1) || !a.has(2)) return EINVAL.errno;
  const name = a.str(1)!;
  const set = ctx.table.sets.find((x) => x.name === name) ?? (a.has(4) ? ctx.setById(a.u32(4)!) : null);
  if (set === null) return ENOENT.errno;
  if (set.flags & NFT_SET_EVAL) return EOPNOTSUPP.errno;
  let err = loadRegister(ctx, a, 2, set.keyLen);
  if (err) return err;
  if (a.has(3)) {
    if ((a.u32(5) ?? 0) & NFT_LOOKUP_F_INV) return EINVAL.errno;
    if (!(set.flags & NFT_SET_MAP)) return EINVAL.errno;
    err = storeRegister(ctx, a, 3, set.dataType === 0xffffff00 ? "verdict" : "value", set.dataLen);
    if (err) return err;
  }
  set.use++;
  return { jumps: [], sets: [set.handle] };
};

/** XT_ALIGN: x_tables data is padded to 8 bytes. */
const xtAlign = (n: number) => (n + 7) & ~7;
const NFTA_RULE_COMPAT_PROTO = 1, NFTA_RULE_COMPAT_FLAGS = 2;
const NFT_RULE_COMPAT_F_INV = 2;
const COMPAT_POLICY: Policy = { [NFTA_RULE_COMPAT_PROTO]: u32, [NFTA_RULE_COMPAT_FLAGS]: u32 };
/** NFTA_MATCH_* and NFTA_TARGET_* (the same numbers): NAME, REV, INFO. */
const XT_POLICY: Policy = { 1: { kind: "string", len: 28 }, 2: u32, 3: { kind: "binary" } };
/** The hooks nft_compat's extensions run from (nft_chain_validate_hooks). */
const COMPAT_HOOKS = 0b11111;

/**
 * nft_compat's "match" and "target": an x_tables extension (kernel/netfilter/extensions.ts)
 * found by name and revision for the rule's family (ENOENT), its data at least its size, then
 * xt_check_match/xt_check_target with the table's name, the base chain's hook and the rule's
 * NFTA_RULE_COMPAT protocol, then nft_*_validate: a family and hook nft_compat serves, and a
 * "nat" extension only in a nat chain. The dump gives the data padded to XT_ALIGN.
 */
function compat(list: readonly Extension[], isTarget: boolean): (ctx: ExprContext, raw: Uint8Array) => number | { jumps: bigint[]; dump: Uint8Array } {
  return (ctx, raw) => {
    const a = parseAttrs(raw, XT_POLICY);
    if (typeof a === "number") return a;
    if (!a.has(1) || !a.has(2) || !a.has(3)) return EINVAL.errno;
    const name = a.str(1)!, rev = a.u32(2)!;
    if (isTarget && (name === "" || name === "ERROR" || name === "standard")) return EINVAL.errno;
    const ext = findExtension(list, ctx.family, name, rev);
    if (ext instanceof LinuxError) return ENOENT.errno;
    const info = a.raw(3)!;
    if (ext.size > info.length) return EINVAL.errno;
    let proto = 0, inv = false;
    if (ctx.compat !== undefined) {
      const c = parseAttrs(ctx.compat, COMPAT_POLICY);
      if (typeof c === "number") return c;
      if (!c.has(NFTA_RULE_COMPAT_PROTO) || !c.has(NFTA_RULE_COMPAT_FLAGS)) return EINVAL.errno;
      const flags = c.u32(NFTA_RULE_COMPAT_FLAGS)!;
      if (flags & ~NFT_RULE_COMPAT_F_INV) return EINVAL.errno;
      inv = (flags & NFT_RULE_COMPAT_F_INV) !== 0;
      proto = c.u32(NFTA_RULE_COMPAT_PROTO)! & 0xffff;
    }
    const base = ctx.chain.base;
    const hookMask = base === null ? 0 : 1 << base.hooknum;
    // xt_check_match / xt_check_target.
    if (ext.table !== null && ext.table !== ctx.table.name) return EINVAL.errno;
    if (ext.hooks !== 0 && (hookMask & ~ext.hooks) !== 0) return EINVAL.errno;
    if (ext.proto !== 0 && (ext.proto !== proto || inv)) return EINVAL.errno;
    const data = new Uint8Array(xtAlign(ext.size));
    data.set(info.subarray(0, ext.size));
    const err = ext.check?.({ data: new DataView(data.buffer), proto, invProto: inv, hookMask, family: ctx.family });
    if (err) return err.errno;
    // nft_match_validate / nft_target_validate.
    if (![NFPROTO_IPV4, NFPROTO_IPV6, 1, 7, 3].includes(ctx.family)) return EOPNOTSUPP.errno;
    if (base !== null) {
      if (!(hookMask & COMPAT_HOOKS)) return EOPNOTSUPP.errno;
      if (ext.hooks !== 0 && !(hookMask & ext.hooks)) return EINVAL.errno;
      if (ext.table === "nat" && base.type !== "nat") return EINVAL.errno;
    }
    // The dump: name, revision and the data as the kernel keeps it (its user part, zeros after).
    const shown = new Uint8Array(xtAlign(ext.size));
    shown.set(data.subarray(0, ext.usersize || ext.size));
    return { jumps: [], dump: new AttrWriter().str(1, name).be32(2, rev).attr(3, shown).done() };
  };
}

const CHECKS: Record<string, Check> = {
  immediate,
  cmp,
  payload,
  bitwise,
  meta,
  counter,
  ct,
  fib,
  masq,
  nat,
  lookup,
  match: compat(MATCHES, false),
  target: compat(TARGETS, true),
};

/**
 * Expression types Linux has that are not supported here yet (a rule using one is refused
 * with EOPNOTSUPP, where Linux would take it).
 */
const LINUX_TYPES = new Set([
  "dynset", "range", "byteorder", "redir", "reject", "log", "limit", "quota",
  "numgen", "hash", "rt", "exthdr", "socket", "osf", "tproxy", "xfrm", "synproxy", "connlimit", "tunnel", "objref",
  "fwd", "dup", "queue", "notrack", "flow_offload", "last", "inner",
]);

/** Counters dump both values, bytes first (nft_counter_do_dump), whatever the rule gave. */
function counterDump(raw: Uint8Array): Uint8Array {
  const a = parseAttrs(raw, COUNTER) as Attrs;
  return new AttrWriter().be64(1, a.u64(1) ?? 0n).be64(2, a.u64(2) ?? 0n).done();
}

/** Checks one NFTA_LIST_ELEM: the errno, or the expression as dumped and the chains it names. */
export function parseRuleExpr(ctx: ExprContext, elem: Uint8Array): { dump: Uint8Array; jumps: bigint[]; sets: bigint[] } | number {
  const e = parseAttrs(elem, EXPR_POLICY);
  if (typeof e === "number") return e;
  if (!e.has(NFTA_EXPR_NAME)) return EINVAL.errno;
  const name = e.str(NFTA_EXPR_NAME)!;
  const check = CHECKS[name];
  if (check === undefined) return LINUX_TYPES.has(name) ? EOPNOTSUPP.errno : ENOENT.errno;
  const data = e.raw(NFTA_EXPR_DATA) ?? new Uint8Array(0);
  const r = check(ctx, data);
  if (typeof r === "number") return r;
  const dumped = r.dump ?? (name === "counter" ? counterDump(data) : data);
  return { dump: new AttrWriter().str(NFTA_EXPR_NAME, name).attr(NFTA_EXPR_DATA, dumped).done(), jumps: r.jumps, sets: r.sets ?? [] };
}
