/**
 * The NFNL_SUBSYS_NFTABLES messages (nf_tables_api.c): each batch message (NFT_MSG_NEW*,
 * DEL*, DESTROY*) changes a batch's copy of the ruleset and answers an errno; each GET answers
 * its records or an errno. Tables, chains, rules and the generation are here; rule expressions
 * in expr.ts, sets and their elements in sets.ts. Every attribute is checked against its policy
 * before use (attrs.ts); the errnos and their order are Linux's.
 *
 * @module
 */

import { EBUSY, EEXIST, EINVAL, ENOENT, EOPNOTSUPP, EPERM } from "../errno.ts";
import { Attrs, AttrWriter, parseAttrs, parseList, type Policy } from "./attrs.ts";
import { type ExprContext, parseRuleExpr } from "./expr.ts";
import {
  checkSet, delSet, delSetElems, ELEM_LIST_POLICY, elemRecords, getElems, lookupSet, NFT_MSG_DELSET, NFT_MSG_DELSETELEM, NFT_MSG_DESTROYSET,
  NFT_MSG_DESTROYSETELEM, NFT_MSG_GETSET, NFT_MSG_GETSETELEM, NFT_MSG_NEWSET, NFT_MSG_NEWSETELEM, NFTA_SET_ELEM_LIST_SET,
  NFTA_SET_ELEM_LIST_SET_ID, NFTA_SET_ELEM_LIST_TABLE, NFTA_SET_NAME, NFTA_SET_TABLE, newSet, newSetElems, SET_POLICY,
  setAttrs,
} from "./sets.ts";
import {
  chainUse, type NftChain, type NftSet, type NftRule, type NftRuleset, type NftTable, NFT_TABLE_F_MASK, NFT_TABLE_F_OWNER,
  NFT_TABLE_F_PERSIST, tableUse,
} from "./state.ts";

export const NFNL_SUBSYS_NFTABLES = 10;

export const NFT_MSG_NEWTABLE = 0;
export const NFT_MSG_GETTABLE = 1;
export const NFT_MSG_DELTABLE = 2;
export const NFT_MSG_NEWCHAIN = 3;
export const NFT_MSG_GETCHAIN = 4;
export const NFT_MSG_DELCHAIN = 5;
export const NFT_MSG_NEWRULE = 6;
export const NFT_MSG_GETRULE = 7;
export const NFT_MSG_DELRULE = 8;
export const NFT_MSG_NEWGEN = 15;
export const NFT_MSG_GETGEN = 16;
export const NFT_MSG_DESTROYTABLE = 26;
export const NFT_MSG_DESTROYCHAIN = 27;
export const NFT_MSG_DESTROYRULE = 28;

const NLM_F_REPLACE = 0x100;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const NLM_F_APPEND = 0x800;
const NLM_F_NONREC = 0x100;

/** Families with nf_tables support (nft_supported_family). */
const NFPROTO_UNSPEC = 0;
const NFPROTO_INET = 1;
const NFPROTO_IPV4 = 2;
const NFPROTO_ARP = 3;
const NFPROTO_NETDEV = 5;
const NFPROTO_BRIDGE = 7;
const NFPROTO_IPV6 = 10;
const FAMILIES = new Set([NFPROTO_INET, NFPROTO_IPV4, NFPROTO_ARP, NFPROTO_NETDEV, NFPROTO_BRIDGE, NFPROTO_IPV6]);

const NFTA_TABLE_NAME = 1;
const NFTA_TABLE_FLAGS = 2;
const NFTA_TABLE_USE = 3;
const NFTA_TABLE_HANDLE = 4;
const NFTA_TABLE_USERDATA = 6;
const NFTA_TABLE_OWNER = 7;

const NFTA_CHAIN_TABLE = 1;
const NFTA_CHAIN_HANDLE = 2;
const NFTA_CHAIN_NAME = 3;
const NFTA_CHAIN_HOOK = 4;
const NFTA_CHAIN_POLICY = 5;
const NFTA_CHAIN_USE = 6;
const NFTA_CHAIN_TYPE = 7;
const NFTA_CHAIN_COUNTERS = 8;
const NFTA_CHAIN_FLAGS = 10;
const NFTA_CHAIN_ID = 11;
const NFTA_CHAIN_USERDATA = 12;

const NFTA_HOOK_HOOKNUM = 1;
const NFTA_HOOK_PRIORITY = 2;
const NFTA_HOOK_DEV = 3;
const NFTA_HOOK_DEVS = 4;

const NFTA_COUNTER_BYTES = 1;
const NFTA_COUNTER_PACKETS = 2;

const NFTA_RULE_TABLE = 1;
const NFTA_RULE_CHAIN = 2;
const NFTA_RULE_HANDLE = 3;
const NFTA_RULE_EXPRESSIONS = 4;
const NFTA_RULE_POSITION = 6;
const NFTA_RULE_USERDATA = 7;
const NFTA_RULE_ID = 9;
const NFTA_RULE_POSITION_ID = 10;
const NFTA_RULE_CHAIN_ID = 11;

const NFTA_GEN_ID = 1;
const NFTA_GEN_PROC_PID = 2;
const NFTA_GEN_PROC_NAME = 3;

const NFTA_LIST_ELEM = 1;

const NFT_CHAIN_BASE = 1;
const NFT_CHAIN_HW_OFFLOAD = 2;
const NFT_CHAIN_BINDING = 4;
const NFT_CHAIN_FLAGS = NFT_CHAIN_BASE | NFT_CHAIN_HW_OFFLOAD | NFT_CHAIN_BINDING;

const NF_DROP = 0;
const NF_ACCEPT = 1;
/** NF_IP_PRI_CONNTRACK: a NAT chain must hook after conntrack. */
const NF_IP_PRI_CONNTRACK = -200;
/** NFT_MAX_HOOKS: NF_INET_NUMHOOKS + 1 (ingress). */
const NFT_MAX_HOOKS = 6;
const NFT_RULE_MAXEXPRS = 128;
/** NFT_NAME_MAXLEN - 1, NFT_USERDATA_MAXLEN, NFT_MODULE_AUTOLOAD_LIMIT. */
const NAME_MAX = 255;
const USERDATA_MAX = 256;
const TYPE_NAME_MAX = 64 - 4;

const NF_INET_PRE_ROUTING = 0, NF_INET_LOCAL_IN = 1, NF_INET_FORWARD = 2, NF_INET_LOCAL_OUT = 3, NF_INET_POST_ROUTING = 4;
const NF_INET_INGRESS = 5;

const TABLE_POLICY: Policy = {
  [NFTA_TABLE_NAME]: { kind: "string", len: NAME_MAX },
  [NFTA_TABLE_FLAGS]: { kind: "u32" },
  [NFTA_TABLE_HANDLE]: { kind: "u64" },
  [NFTA_TABLE_USERDATA]: { kind: "binary", len: USERDATA_MAX },
};
const CHAIN_POLICY: Policy = {
  [NFTA_CHAIN_TABLE]: { kind: "string", len: NAME_MAX },
  [NFTA_CHAIN_HANDLE]: { kind: "u64" },
  [NFTA_CHAIN_NAME]: { kind: "string", len: NAME_MAX },
  [NFTA_CHAIN_HOOK]: { kind: "nested" },
  [NFTA_CHAIN_POLICY]: { kind: "u32" },
  [NFTA_CHAIN_TYPE]: { kind: "string", len: TYPE_NAME_MAX },
  [NFTA_CHAIN_COUNTERS]: { kind: "nested" },
  [NFTA_CHAIN_FLAGS]: { kind: "u32" },
  [NFTA_CHAIN_ID]: { kind: "u32" },
  [NFTA_CHAIN_USERDATA]: { kind: "binary", len: USERDATA_MAX },
};
const HOOK_POLICY: Policy = {
  [NFTA_HOOK_HOOKNUM]: { kind: "u32" },
  [NFTA_HOOK_PRIORITY]: { kind: "u32" },
  [NFTA_HOOK_DEV]: { kind: "string", len: 15 },
  [NFTA_HOOK_DEVS]: { kind: "nested" },
};
const COUNTER_POLICY: Policy = {
  [NFTA_COUNTER_BYTES]: { kind: "u64" },
  [NFTA_COUNTER_PACKETS]: { kind: "u64" },
};
const RULE_POLICY: Policy = {
  [NFTA_RULE_TABLE]: { kind: "string", len: NAME_MAX },
  [NFTA_RULE_CHAIN]: { kind: "string", len: NAME_MAX },
  [NFTA_RULE_HANDLE]: { kind: "u64" },
  [NFTA_RULE_EXPRESSIONS]: { kind: "nested" },
  [5]: { kind: "nested" }, // NFTA_RULE_COMPAT
  [NFTA_RULE_POSITION]: { kind: "u64" },
  [NFTA_RULE_USERDATA]: { kind: "binary", len: USERDATA_MAX },
  [NFTA_RULE_ID]: { kind: "u32" },
  [NFTA_RULE_POSITION_ID]: { kind: "u32" },
  [NFTA_RULE_CHAIN_ID]: { kind: "u32" },
};
const GEN_POLICY: Policy = { [NFTA_GEN_ID]: { kind: "u32" } };

/** The chain types and, per family, the hooks each may use (nft_chain_filter_*, nat, route). */
function chainTypeHooks(family: number, type: string): number | null {
  const inet = (1 << NF_INET_LOCAL_IN) | (1 << NF_INET_LOCAL_OUT) | (1 << NF_INET_FORWARD) |
    (1 << NF_INET_PRE_ROUTING) | (1 << NF_INET_POST_ROUTING);
  const nat = (1 << NF_INET_PRE_ROUTING) | (1 << NF_INET_POST_ROUTING) | (1 << NF_INET_LOCAL_OUT) | (1 << NF_INET_LOCAL_IN);
  switch (type) {
    case "filter":
      if (family === NFPROTO_INET) return inet | (1 << NF_INET_INGRESS);
      if (family === NFPROTO_IPV4 || family === NFPROTO_IPV6 || family === NFPROTO_BRIDGE) return inet;
      if (family === NFPROTO_ARP) return 0b11; // NF_ARP_IN, NF_ARP_OUT
      if (family === NFPROTO_NETDEV) return 0b11; // NF_NETDEV_INGRESS, NF_NETDEV_EGRESS
      return null;
    case "nat":
      return family === NFPROTO_INET || family === NFPROTO_IPV4 || family === NFPROTO_IPV6 ? nat : null;
    case "route":
      return family === NFPROTO_INET || family === NFPROTO_IPV4 || family === NFPROTO_IPV6 ? 1 << NF_INET_LOCAL_OUT : null;
  }
  return null;
}

/** One request as the handlers see it. */
export interface NftRequest {
  /** NFT_MSG_*: the low byte of the nlmsg type. */
  msg: number;
  flags: number;
  seq: number;
  family: number;
  /** The attributes after the nfgenmsg. */
  attrs: Uint8Array;
  /** The sender's port id (owner checks, NFTA_TABLE_OWNER). */
  portId: number;
  /** The whole message, for an error the commit answers on it. */
  raw: Uint8Array;
  /** Whether the sender holds CAP_NET_ADMIN over the initial user namespace. */
  initNetAdmin: boolean;
}

/** A batch in progress: its copy of the ruleset and the ids its messages gave. */
export class NftBatch {
  readonly r: NftRuleset;
  /** NFTA_CHAIN_ID → the chain added with it in this batch (by table). */
  readonly chainIds = new Map<number, { table: NftTable; chain: NftChain }>();
  /** NFTA_RULE_ID → the rule added with it in this batch. */
  readonly ruleIds = new Map<number, { chain: NftChain; rule: NftRule }>();
  /** Tables whose dormant flag this batch changed (no off/on games in one transaction). */
  readonly tableFlagsChanged = new Set<NftTable>();
  /** NFTA_SET_ID → the set added with it in this batch. */
  readonly setIds = new Map<number, NftSet>();
  /** The message that added each chain of the batch (a commit's error names it). */
  readonly addedBy = new Map<NftChain, NftRequest>();

  constructor(r: NftRuleset) {
    this.r = r;
  }

  /** Applies one batch message: 0 or an errno. */
  apply(q: NftRequest): number {
    switch (q.msg) {
      case NFT_MSG_NEWTABLE:
        return this.#newTable(q);
      case NFT_MSG_DELTABLE:
      case NFT_MSG_DESTROYTABLE:
        return this.#delTable(q);
      case NFT_MSG_NEWCHAIN:
        return this.#newChain(q);
      case NFT_MSG_DELCHAIN:
      case NFT_MSG_DESTROYCHAIN:
        return this.#delChain(q);
      case NFT_MSG_NEWRULE:
        return this.#newRule(q);
      case NFT_MSG_DELRULE:
      case NFT_MSG_DESTROYRULE:
        return this.#delRule(q);
      case NFT_MSG_NEWSET: {
        const a = parseAttrs(q.attrs, SET_POLICY);
        if (typeof a === "number") return a;
        // The set's own attributes are checked before its table is looked up (nf_tables_newset).
        const p = checkSet(a);
        if (typeof p === "number") return p;
        const t = this.#table(a, NFTA_SET_TABLE, q.family, q.portId);
        if (typeof t === "number") return t;
        return newSet(t, a, p, q.flags, this.setIds);
      }
      case NFT_MSG_DELSET:
      case NFT_MSG_DESTROYSET: {
        const a = parseAttrs(q.attrs, SET_POLICY);
        if (typeof a === "number") return a;
        const t = this.#table(a, NFTA_SET_TABLE, q.family, q.portId);
        if (typeof t === "number") return t;
        return delSet(t, a, q.msg === NFT_MSG_DESTROYSET);
      }
      case NFT_MSG_NEWSETELEM:
      case NFT_MSG_DELSETELEM:
      case NFT_MSG_DESTROYSETELEM: {
        const a = parseAttrs(q.attrs, ELEM_LIST_POLICY);
        if (typeof a === "number") return a;
        if (q.msg === NFT_MSG_NEWSETELEM && !a.has(3)) return EINVAL.errno;
        const t = this.#table(a, NFTA_SET_ELEM_LIST_TABLE, q.family, q.portId);
        if (typeof t === "number") return t;
        let set = lookupSet(t, a, NFTA_SET_ELEM_LIST_SET);
        if (q.msg === NFT_MSG_NEWSETELEM && typeof set === "number" && a.has(NFTA_SET_ELEM_LIST_SET_ID)) {
          const byId = this.setIds.get(a.u32(NFTA_SET_ELEM_LIST_SET_ID)!);
          if (byId !== undefined && t.sets.includes(byId)) set = byId;
        }
        if (typeof set === "number") return set;
        return q.msg === NFT_MSG_NEWSETELEM ? newSetElems(set, a, q.flags) : delSetElems(set, a, q.msg === NFT_MSG_DESTROYSETELEM);
      }
    }
    return EINVAL.errno;
  }

  /** nft_table_lookup: by name and family; another socket's owned table is EPERM. */
  #table(a: Attrs, type: number, family: number, portId: number): NftTable | number {
    if (!a.has(type)) return EINVAL.errno;
    return lookupTable(this.r, a.str(type)!, family, portId);
  }

  #newTable(q: NftRequest): number {
    if (!FAMILIES.has(q.family)) return EOPNOTSUPP.errno;
    const a = parseAttrs(q.attrs, TABLE_POLICY);
    if (typeof a === "number") return a;
    const found = this.#table(a, NFTA_TABLE_NAME, q.family, q.portId);
    if (typeof found !== "number") {
      if (q.flags & NLM_F_EXCL) return EEXIST.errno;
      if (q.flags & NLM_F_REPLACE) return EOPNOTSUPP.errno;
      return this.#updateTable(found, a, q.portId);
    }
    if (found !== ENOENT.errno) return found;
    const flags = a.u32(NFTA_TABLE_FLAGS) ?? 0;
    if (flags & ~NFT_TABLE_F_MASK) return EOPNOTSUPP.errno;
    this.r.tables.push({
      family: q.family,
      name: a.str(NFTA_TABLE_NAME)!,
      handle: ++this.r.lastTableHandle,
      flags,
      owner: flags & NFT_TABLE_F_OWNER ? q.portId : 0,
      udata: copyOf(a.raw(NFTA_TABLE_USERDATA)),
      chains: [],
      sets: [],
      lastHandle: 0n,
    });
    return 0;
  }

  /** nf_tables_updtable: only the dormant flag changes; owner and persistence are fixed. */
  #updateTable(t: NftTable, a: Attrs, portId: number): number {
    const flags = a.u32(NFTA_TABLE_FLAGS);
    if (flags === undefined) return 0;
    if (flags & ~NFT_TABLE_F_MASK) return EOPNOTSUPP.errno;
    if (flags === t.flags) return 0;
    if (
      (t.owner !== 0 && !(flags & NFT_TABLE_F_OWNER)) || (flags & NFT_TABLE_F_OWNER && t.owner !== 0) ||
      ((flags ^ t.flags) & NFT_TABLE_F_PERSIST)
    ) return EOPNOTSUPP.errno;
    if (this.tableFlagsChanged.has(t)) return EINVAL.errno;
    this.tableFlagsChanged.add(t);
    if (flags & NFT_TABLE_F_OWNER) t.owner = portId;
    t.flags = flags;
    return 0;
  }

  #delTable(q: NftRequest): number {
    const a = parseAttrs(q.attrs, TABLE_POLICY);
    if (typeof a === "number") return a;
    if (q.family === NFPROTO_UNSPEC || (!a.has(NFTA_TABLE_NAME) && !a.has(NFTA_TABLE_HANDLE))) {
      // nft_flush: every table of the family (or all), by name if one is given; tables other
      // sockets own are left alone.
      const name = a.str(NFTA_TABLE_NAME);
      this.r.tables = this.r.tables.filter((t) =>
        !((q.family === NFPROTO_UNSPEC || t.family === q.family) && (t.owner === 0 || t.owner === q.portId) &&
          (name === undefined || t.name === name))
      );
      return 0;
    }
    let t: NftTable | number;
    if (a.has(NFTA_TABLE_HANDLE)) {
      const h = a.u64(NFTA_TABLE_HANDLE)!;
      const found = this.r.tables.find((x) => x.handle === h && x.family === q.family);
      t = found === undefined ? ENOENT.errno : found.owner !== 0 && q.portId !== 0 && found.owner !== q.portId ? EPERM.errno : found;
    } else {
      t = this.#table(a, NFTA_TABLE_NAME, q.family, q.portId);
    }
    if (typeof t === "number") return t === ENOENT.errno && q.msg === NFT_MSG_DESTROYTABLE ? 0 : t;
    if (q.flags & NLM_F_NONREC && tableUse(t) > 0) return EBUSY.errno;
    this.r.tables.splice(this.r.tables.indexOf(t), 1);
    return 0;
  }

  #newChain(q: NftRequest): number {
    const a = parseAttrs(q.attrs, CHAIN_POLICY);
    if (typeof a === "number") return a;
    const t = this.#table(a, NFTA_CHAIN_TABLE, q.family, q.portId);
    if (typeof t === "number") return t;
    let chain: NftChain | null = null;
    let renaming = false;
    if (a.has(NFTA_CHAIN_HANDLE)) {
      const h = a.u64(NFTA_CHAIN_HANDLE)!;
      chain = t.chains.find((c) => c.handle === h) ?? null;
      if (chain === null) return ENOENT.errno;
      renaming = a.has(NFTA_CHAIN_NAME);
    } else if (a.has(NFTA_CHAIN_NAME)) {
      chain = t.chains.find((c) => c.name === a.str(NFTA_CHAIN_NAME)) ?? null;
    } else if (!a.has(NFTA_CHAIN_ID)) {
      return EINVAL.errno;
    }
    let policy: number | null = null;
    if (a.has(NFTA_CHAIN_POLICY)) {
      if (chain !== null && chain.base === null) return EOPNOTSUPP.errno;
      if (chain === null && !a.has(NFTA_CHAIN_HOOK)) return EOPNOTSUPP.errno;
      policy = a.u32(NFTA_CHAIN_POLICY)!;
      if (policy !== NF_DROP && policy !== NF_ACCEPT) return EINVAL.errno;
    }
    let flags = a.u32(NFTA_CHAIN_FLAGS) ?? (chain?.flags ?? 0);
    if (flags & ~NFT_CHAIN_FLAGS) return EOPNOTSUPP.errno;
    if (chain !== null) {
      if (chain.flags & NFT_CHAIN_BINDING) return EINVAL.errno;
      if (q.flags & NLM_F_EXCL) return EEXIST.errno;
      if (q.flags & NLM_F_REPLACE) return EOPNOTSUPP.errno;
      flags |= chain.flags & NFT_CHAIN_BASE;
      return this.#updateChain(t, chain, a, policy, flags, renaming);
    }
    return this.#addChain(q, t, a, policy, flags);
  }

  #addChain(q: NftRequest, t: NftTable, a: Attrs, policy: number | null, flags: number): number {
    let base: NftChain["base"] = null;
    if (a.has(NFTA_CHAIN_HOOK)) {
      if (this.tableFlagsChanged.has(t)) return EINVAL.errno;
      if (flags & NFT_CHAIN_BINDING) return EOPNOTSUPP.errno;
      const hook = parseHook(q.family, a, null);
      if (typeof hook === "number") return hook;
      let counters = null;
      if (a.has(NFTA_CHAIN_COUNTERS)) {
        const c = parseCounters(a.raw(NFTA_CHAIN_COUNTERS)!);
        if (typeof c === "number") return c;
        counters = c;
      }
      base = { ...hook, policy: policy ?? NF_ACCEPT, counters };
      // nft_basechain_init: a base chain is marked so.
      flags |= NFT_CHAIN_BASE;
      if (flags & NFT_CHAIN_HW_OFFLOAD) return EOPNOTSUPP.errno; // no device can offload here
    } else {
      if (flags & NFT_CHAIN_BASE) return EINVAL.errno;
      if (flags & NFT_CHAIN_HW_OFFLOAD) return EOPNOTSUPP.errno;
    }
    const handle = ++t.lastHandle;
    let name: string;
    if (a.has(NFTA_CHAIN_NAME)) name = a.str(NFTA_CHAIN_NAME)!;
    else if (flags & NFT_CHAIN_BINDING) name = `__chain${++this.r.lastChainId}`;
    else return EINVAL.errno;
    if (t.chains.some((c) => c.name === name)) return EEXIST.errno;
    const chain: NftChain = { name, handle, flags, base, udata: copyOf(a.raw(NFTA_CHAIN_USERDATA)), rules: [], bound: false };
    t.chains.push(chain);
    this.addedBy.set(chain, q);
    if (a.has(NFTA_CHAIN_ID)) this.chainIds.set(a.u32(NFTA_CHAIN_ID)!, { table: t, chain });
    return 0;
  }

  /** nf_tables_updchain: policy, counters and name change; hook and flags must stay. */
  #updateChain(t: NftTable, c: NftChain, a: Attrs, policy: number | null, flags: number, renaming: boolean): number {
    if (c.flags ^ flags) return EOPNOTSUPP.errno;
    if (a.has(NFTA_CHAIN_HOOK)) {
      if (c.base === null) return EEXIST.errno;
      const hook = parseHook(0, a, c.base);
      if (typeof hook === "number") return hook;
      if (hook.type !== c.base.type || hook.hooknum !== c.base.hooknum || hook.priority !== c.base.priority) return EEXIST.errno;
    }
    if (renaming && t.chains.some((x) => x.name === a.str(NFTA_CHAIN_NAME))) return EEXIST.errno;
    let counters = null;
    if (a.has(NFTA_CHAIN_COUNTERS)) {
      if (c.base === null) return EOPNOTSUPP.errno;
      const n = parseCounters(a.raw(NFTA_CHAIN_COUNTERS)!);
      if (typeof n === "number") return n;
      counters = n;
    }
    if (c.base !== null && counters !== null) c.base.counters = counters;
    if (c.base !== null && policy !== null) c.base.policy = policy;
    if (renaming) c.name = a.str(NFTA_CHAIN_NAME)!;
    return 0;
  }

  #delChain(q: NftRequest): number {
    const a = parseAttrs(q.attrs, CHAIN_POLICY);
    if (typeof a === "number") return a;
    const t = this.#table(a, NFTA_CHAIN_TABLE, q.family, q.portId);
    if (typeof t === "number") return t;
    let c: NftChain | number;
    if (a.has(NFTA_CHAIN_HANDLE)) {
      const h = a.u64(NFTA_CHAIN_HANDLE)!;
      c = t.chains.find((x) => x.handle === h) ?? ENOENT.errno;
    } else {
      c = lookupChain(t, a, NFTA_CHAIN_NAME);
    }
    if (typeof c === "number") return c === ENOENT.errno && q.msg === NFT_MSG_DESTROYCHAIN ? 0 : c;
    if (c.flags & NFT_CHAIN_BINDING) return EOPNOTSUPP.errno;
    if (a.has(NFTA_CHAIN_HOOK)) {
      if (q.msg === NFT_MSG_DESTROYCHAIN || c.flags & NFT_CHAIN_HW_OFFLOAD) return EOPNOTSUPP.errno;
    }
    const use = chainUse(t, c);
    if (q.flags & NLM_F_NONREC && use > 0) return EBUSY.errno;
    // Its rules go with it; verdicts of other rules that name it keep it (EBUSY).
    if (use - c.rules.length > 0) return EBUSY.errno;
    dropRules(t, c, c.rules.slice());
    t.chains.splice(t.chains.indexOf(c), 1);
    return 0;
  }

  #newRule(q: NftRequest): number {
    const a = parseAttrs(q.attrs, RULE_POLICY);
    if (typeof a === "number") return a;
    const t = this.#table(a, NFTA_RULE_TABLE, q.family, q.portId);
    if (typeof t === "number") return t;
    let c: NftChain;
    if (a.has(NFTA_RULE_CHAIN)) {
      const found = lookupChain(t, a, NFTA_RULE_CHAIN);
      if (typeof found === "number") return found;
      c = found;
    } else if (a.has(NFTA_RULE_CHAIN_ID)) {
      const found = this.chainIds.get(a.u32(NFTA_RULE_CHAIN_ID)!);
      if (found === undefined || found.table !== t) return ENOENT.errno;
      c = found.chain;
    } else {
      return EINVAL.errno;
    }
    let old: NftRule | null = null;
    let handle: bigint;
    if (a.has(NFTA_RULE_HANDLE)) {
      handle = a.u64(NFTA_RULE_HANDLE)!;
      const r = c.rules.find((x) => x.handle === handle);
      if (r === undefined) return ENOENT.errno;
      if (q.flags & NLM_F_EXCL) return EEXIST.errno;
      if (!(q.flags & NLM_F_REPLACE)) return EOPNOTSUPP.errno;
      old = r;
    } else {
      if (!(q.flags & NLM_F_CREATE) || q.flags & NLM_F_REPLACE) return EINVAL.errno;
      // Given now, and kept even if the rule fails (nf_tables_alloc_handle).
      handle = ++t.lastHandle;
      if (a.has(NFTA_RULE_POSITION)) {
        const pos = a.u64(NFTA_RULE_POSITION)!;
        old = c.rules.find((x) => x.handle === pos) ?? null;
        if (old === null) return ENOENT.errno;
      } else if (a.has(NFTA_RULE_POSITION_ID)) {
        const found = this.ruleIds.get(a.u32(NFTA_RULE_POSITION_ID)!);
        if (found === undefined || found.chain !== c) return ENOENT.errno;
        old = found.rule;
      }
    }
    const exprs: Uint8Array[] = [];
    const jumps: bigint[] = [];
    const sets: bigint[] = [];
    if (a.has(NFTA_RULE_EXPRESSIONS)) {
      const ctx: ExprContext = {
        family: q.family,
        table: t,
        chain: c,
        chainById: (id) => {
          const x = this.chainIds.get(id);
          return x !== undefined && x.table === t ? x.chain : null;
        },
        setById: (id) => {
          const x = this.setIds.get(id);
          return x !== undefined && t.sets.includes(x) ? x : null;
        },
        compat: a.raw(5),
        regsInited: 0,
        initNetAdmin: q.initNetAdmin,
      };
      for (const e of parseList(a.raw(NFTA_RULE_EXPRESSIONS)!)) {
        if (e.type !== NFTA_LIST_ELEM || exprs.length === NFT_RULE_MAXEXPRS) return EINVAL.errno;
        const parsed = parseRuleExpr(ctx, e.value);
        if (typeof parsed === "number") return parsed;
        exprs.push(parsed.dump);
        jumps.push(...parsed.jumps);
        sets.push(...parsed.sets);
      }
    }
    const rule: NftRule = { handle, exprs, udata: copyOf(a.raw(NFTA_RULE_USERDATA)), jumps, sets };
    if (q.flags & NLM_F_REPLACE && old !== null) {
      c.rules[c.rules.indexOf(old)] = rule;
      dropRules(t, null, [old]);
    } else if (q.flags & NLM_F_APPEND) {
      if (old !== null) c.rules.splice(c.rules.indexOf(old) + 1, 0, rule);
      else c.rules.push(rule);
    } else if (old !== null) {
      c.rules.splice(c.rules.indexOf(old), 0, rule);
    } else {
      c.rules.unshift(rule);
    }
    if (a.has(NFTA_RULE_ID)) this.ruleIds.set(a.u32(NFTA_RULE_ID)!, { chain: c, rule });
    return 0;
  }

  #delRule(q: NftRequest): number {
    const a = parseAttrs(q.attrs, RULE_POLICY);
    if (typeof a === "number") return a;
    const t = this.#table(a, NFTA_RULE_TABLE, q.family, q.portId);
    if (typeof t === "number") return t;
    let c: NftChain | null = null;
    if (a.has(NFTA_RULE_CHAIN)) {
      const found = lookupChain(t, a, NFTA_RULE_CHAIN);
      if (typeof found === "number") {
        return found === ENOENT.errno && q.msg === NFT_MSG_DESTROYRULE ? 0 : found;
      }
      if (found.flags & NFT_CHAIN_BINDING) return EOPNOTSUPP.errno;
      c = found;
    }
    if (c !== null) {
      if (a.has(NFTA_RULE_HANDLE)) {
        const h = a.u64(NFTA_RULE_HANDLE)!;
        const i = c.rules.findIndex((r) => r.handle === h);
        if (i < 0) return q.msg === NFT_MSG_DESTROYRULE ? 0 : ENOENT.errno;
        dropRules(t, c, c.rules.slice(i, i + 1));
      } else if (a.has(NFTA_RULE_ID)) {
        const found = this.ruleIds.get(a.u32(NFTA_RULE_ID)!);
        if (found === undefined || found.chain !== c) return ENOENT.errno;
        dropRules(t, c, [found.rule]);
      } else {
        dropRules(t, c, c.rules.slice());
      }
    } else {
      // Every rule of the table's chains but bindings.
      for (const x of t.chains.slice()) if (!(x.flags & NFT_CHAIN_BINDING)) dropRules(t, x, x.rules.slice());
    }
    return 0;
  }
}

/**
 * Removes `rules` from chain c (null: already replaced) and, with each, the binding chains its
 * verdicts bound (an anonymous chain lives and dies with the rule that jumps to it).
 */
function dropRules(t: NftTable, c: NftChain | null, rules: NftRule[]): void {
  for (const r of rules) {
    if (c !== null) {
      const i = c.rules.indexOf(r);
      if (i >= 0) c.rules.splice(i, 1);
    }
    for (const h of r.sets) {
      const set = t.sets.find((x) => x.handle === h);
      if (set !== undefined) set.use--;
    }
    for (const h of r.jumps) {
      const bound = t.chains.find((x) => x.handle === h && x.flags & NFT_CHAIN_BINDING);
      if (bound === undefined) continue;
      t.chains.splice(t.chains.indexOf(bound), 1);
      dropRules(t, bound, bound.rules.slice());
    }
  }
}

/**
 * What a commit checks first: every binding chain the batch added is bound by a rule's verdict;
 * an anonymous chain no rule jumps to is EINVAL, answered on the message that added it, and
 * the batch is aborted.
 */
export function commitCheck(b: NftBatch): { errno: number; q: NftRequest } | null {
  for (const [c, q] of b.addedBy) if (c.flags & NFT_CHAIN_BINDING && !c.bound) return { errno: EINVAL.errno, q };
  return null;
}

function copyOf(b: Uint8Array | undefined): Uint8Array | null {
  return b === undefined ? null : b.slice();
}

/** nft_table_lookup: ENOENT, EPERM for another socket's owned table (port 0 asks as anyone). */
export function lookupTable(r: NftRuleset, name: string, family: number, portId: number): NftTable | number {
  const t = r.tables.find((x) => x.name === name && x.family === family);
  if (t === undefined) return ENOENT.errno;
  if (t.owner !== 0 && portId !== 0 && t.owner !== portId) return EPERM.errno;
  return t;
}

/** nft_chain_lookup: EINVAL without a name, ENOENT for none. */
function lookupChain(t: NftTable, a: Attrs, type: number): NftChain | number {
  if (!a.has(type)) return EINVAL.errno;
  const name = a.str(type)!;
  return t.chains.find((c) => c.name === name) ?? ENOENT.errno;
}

/** nft_chain_parse_hook: a new base chain's hook and type, or an existing one's (`base`) checked. */
function parseHook(family: number, a: Attrs, base: NftChain["base"]): { hooknum: number; priority: number; type: string } | number {
  const h = parseAttrs(a.raw(NFTA_CHAIN_HOOK)!, HOOK_POLICY);
  if (typeof h === "number") return h;
  let hooknum: number, priority: number, type: string;
  if (base === null) {
    if (!h.has(NFTA_HOOK_HOOKNUM) || !h.has(NFTA_HOOK_PRIORITY)) return ENOENT.errno;
    hooknum = h.u32(NFTA_HOOK_HOOKNUM)!;
    priority = h.u32(NFTA_HOOK_PRIORITY)! | 0;
    type = a.has(NFTA_CHAIN_TYPE) ? a.str(NFTA_CHAIN_TYPE)! : "filter";
    if (chainTypeHooks(family, "filter") === null) return EOPNOTSUPP.errno;
    const mask = chainTypeHooks(family, type);
    if (mask === null) return ENOENT.errno;
    if (hooknum >= NFT_MAX_HOOKS || !(mask & (1 << hooknum))) return EOPNOTSUPP.errno;
    if (type === "nat" && priority <= NF_IP_PRI_CONNTRACK) return EOPNOTSUPP.errno;
  } else {
    hooknum = base.hooknum;
    priority = base.priority;
    type = base.type;
    if (h.has(NFTA_HOOK_HOOKNUM) && h.u32(NFTA_HOOK_HOOKNUM) !== base.hooknum) return EOPNOTSUPP.errno;
    if (h.has(NFTA_HOOK_PRIORITY) && (h.u32(NFTA_HOOK_PRIORITY)! | 0) !== base.priority) return EOPNOTSUPP.errno;
  }
  // Netdev hooks (ingress/egress of a device) need devices: not supported here.
  const netdev = family === NFPROTO_NETDEV || (family === NFPROTO_INET && hooknum === NF_INET_INGRESS);
  if (netdev) return EOPNOTSUPP.errno;
  if (h.has(NFTA_HOOK_DEV) || h.has(NFTA_HOOK_DEVS)) return EOPNOTSUPP.errno;
  return { hooknum, priority, type };
}

/** nft_stats_alloc: both counters are needed. */
function parseCounters(b: Uint8Array): { packets: bigint; bytes: bigint } | number {
  const c = parseAttrs(b, COUNTER_POLICY);
  if (typeof c === "number") return c;
  if (!c.has(NFTA_COUNTER_BYTES) || !c.has(NFTA_COUNTER_PACKETS)) return EINVAL.errno;
  return { packets: c.u64(NFTA_COUNTER_PACKETS)!, bytes: c.u64(NFTA_COUNTER_BYTES)! };
}

/** One record to answer: the NFT_MSG_* type, the family in its nfgenmsg, its attributes. */
export interface NftRecord {
  msg: number;
  family: number;
  attrs: Uint8Array;
}

function tableRecord(t: NftTable): NftRecord {
  const w = new AttrWriter().str(NFTA_TABLE_NAME, t.name).be32(NFTA_TABLE_USE, tableUse(t))
    .be64(NFTA_TABLE_HANDLE, t.handle).be32(NFTA_TABLE_FLAGS, t.flags & NFT_TABLE_F_MASK);
  if (t.owner !== 0) w.be32(NFTA_TABLE_OWNER, t.owner);
  if (t.udata !== null) w.attr(NFTA_TABLE_USERDATA, t.udata);
  return { msg: NFT_MSG_NEWTABLE, family: t.family, attrs: w.done() };
}

function chainRecord(t: NftTable, c: NftChain): NftRecord {
  const w = new AttrWriter().str(NFTA_CHAIN_TABLE, t.name).str(NFTA_CHAIN_NAME, c.name).be64(NFTA_CHAIN_HANDLE, c.handle);
  if (c.base !== null) {
    w.nest(NFTA_CHAIN_HOOK, new AttrWriter().be32(NFTA_HOOK_HOOKNUM, c.base.hooknum).be32(NFTA_HOOK_PRIORITY, c.base.priority));
    w.be32(NFTA_CHAIN_POLICY, c.base.policy).str(NFTA_CHAIN_TYPE, c.base.type);
    if (c.base.counters !== null) {
      w.nest(
        NFTA_CHAIN_COUNTERS,
        new AttrWriter().be64(NFTA_COUNTER_PACKETS, c.base.counters.packets).be64(NFTA_COUNTER_BYTES, c.base.counters.bytes),
      );
    }
  }
  if (c.flags) w.be32(NFTA_CHAIN_FLAGS, c.flags);
  w.be32(NFTA_CHAIN_USE, chainUse(t, c));
  if (c.udata !== null) w.attr(NFTA_CHAIN_USERDATA, c.udata);
  return { msg: NFT_MSG_NEWCHAIN, family: t.family, attrs: w.done() };
}

function ruleRecord(t: NftTable, c: NftChain, r: NftRule, prev: NftRule | null): NftRecord {
  const w = new AttrWriter().str(NFTA_RULE_TABLE, t.name).str(NFTA_RULE_CHAIN, c.name).be64(NFTA_RULE_HANDLE, r.handle);
  if (prev !== null) w.be64(NFTA_RULE_POSITION, prev.handle);
  const list = new AttrWriter();
  for (const e of r.exprs) list.attr(NFTA_LIST_ELEM, e);
  w.nest(NFTA_RULE_EXPRESSIONS, list);
  if (r.udata !== null) w.attr(NFTA_RULE_USERDATA, r.udata);
  return { msg: NFT_MSG_NEWRULE, family: t.family, attrs: w.done() };
}

/** What a GET asks of the committed ruleset: its records, or an errno. */
export function answerGet(
  r: Readonly<NftRuleset>,
  q: NftRequest,
  dump: boolean,
  genId: number,
  proc: { pid: number; name: string },
): NftRecord[] | number {
  const byFamily = (t: NftTable) => q.family === NFPROTO_UNSPEC || t.family === q.family;
  switch (q.msg) {
    case NFT_MSG_GETTABLE: {
      const a = parseAttrs(q.attrs, TABLE_POLICY);
      if (typeof a === "number") return a;
      if (dump) return r.tables.filter(byFamily).map(tableRecord);
      if (!a.has(NFTA_TABLE_NAME)) return EINVAL.errno;
      const t = lookupTable(r as NftRuleset, a.str(NFTA_TABLE_NAME)!, q.family, 0);
      return typeof t === "number" ? t : [tableRecord(t)];
    }
    case NFT_MSG_GETCHAIN: {
      const a = parseAttrs(q.attrs, CHAIN_POLICY);
      if (typeof a === "number") return a;
      if (dump) return r.tables.filter(byFamily).flatMap((t) => t.chains.map((c) => chainRecord(t, c)));
      if (!a.has(NFTA_CHAIN_TABLE)) return EINVAL.errno;
      const t = lookupTable(r as NftRuleset, a.str(NFTA_CHAIN_TABLE)!, q.family, 0);
      if (typeof t === "number") return t;
      const c = lookupChain(t, a, NFTA_CHAIN_NAME);
      return typeof c === "number" ? c : [chainRecord(t, c)];
    }
    case NFT_MSG_GETRULE: {
      const a = parseAttrs(q.attrs, RULE_POLICY);
      if (typeof a === "number") return a;
      if (dump) {
        // Filtered by table and chain when named (nft_rule_dump_ctx).
        const tname = a.str(NFTA_RULE_TABLE), cname = a.str(NFTA_RULE_CHAIN);
        const out: NftRecord[] = [];
        for (const t of r.tables) {
          if (!byFamily(t) || (tname !== undefined && t.name !== tname)) continue;
          for (const c of t.chains) {
            if (cname !== undefined && c.name !== cname) continue;
            c.rules.forEach((x, i) => out.push(ruleRecord(t, c, x, i > 0 ? c.rules[i - 1]! : null)));
          }
        }
        return out;
      }
      if (!a.has(NFTA_RULE_TABLE)) return EINVAL.errno;
      const t = lookupTable(r as NftRuleset, a.str(NFTA_RULE_TABLE)!, q.family, 0);
      if (typeof t === "number") return t;
      const c = lookupChain(t, a, NFTA_RULE_CHAIN);
      if (typeof c === "number") return c;
      if (!a.has(NFTA_RULE_HANDLE)) return EINVAL.errno;
      const h = a.u64(NFTA_RULE_HANDLE)!;
      const x = c.rules.find((y) => y.handle === h);
      return x === undefined ? ENOENT.errno : [ruleRecord(t, c, x, null)];
    }
    case NFT_MSG_GETSET: {
      const a = parseAttrs(q.attrs, SET_POLICY);
      if (typeof a === "number") return a;
      if (dump) {
        const tname = a.str(NFTA_SET_TABLE);
        return r.tables.filter((t) => byFamily(t) && (tname === undefined || t.name === tname))
          .flatMap((t) => t.sets.map((x) => ({ msg: NFT_MSG_NEWSET, family: t.family, attrs: setAttrs(t, x) })));
      }
      if (!a.has(NFTA_SET_TABLE)) return EINVAL.errno;
      const t = lookupTable(r as NftRuleset, a.str(NFTA_SET_TABLE)!, q.family, 0);
      if (typeof t === "number") return t;
      const x = lookupSet(t, a, NFTA_SET_NAME);
      return typeof x === "number" ? x : [{ msg: NFT_MSG_NEWSET, family: t.family, attrs: setAttrs(t, x) }];
    }
    case NFT_MSG_GETSETELEM: {
      const a = parseAttrs(q.attrs, ELEM_LIST_POLICY);
      if (typeof a === "number") return a;
      if (!a.has(NFTA_SET_ELEM_LIST_TABLE)) return EINVAL.errno;
      const t = lookupTable(r as NftRuleset, a.str(NFTA_SET_ELEM_LIST_TABLE)!, q.family, 0);
      if (typeof t === "number") return t;
      const x = lookupSet(t, a, NFTA_SET_ELEM_LIST_SET);
      if (typeof x === "number") return x;
      if (!dump) {
        const got = getElems(t, x, a);
        return typeof got === "number" ? got : got.map((attrs) => ({ msg: NFT_MSG_NEWSETELEM, family: t.family, attrs }));
      }
      return elemRecords(t, x).map((attrs) => ({ msg: NFT_MSG_NEWSETELEM, family: t.family, attrs }));
    }
    case NFT_MSG_GETGEN: {
      const a = parseAttrs(q.attrs, GEN_POLICY);
      if (typeof a === "number") return a;
      const w = new AttrWriter().be32(NFTA_GEN_ID, genId).be32(NFTA_GEN_PROC_PID, proc.pid).str(NFTA_GEN_PROC_NAME, proc.name);
      return [{ msg: NFT_MSG_NEWGEN, family: NFPROTO_UNSPEC, attrs: w.done() }];
    }
  }
  return EOPNOTSUPP.errno;
}

/** Whether NFT_MSG_* `msg` is a GET (answered outside batches) rather than a batch change. */
export function isGet(msg: number): boolean {
  return msg === NFT_MSG_GETTABLE || msg === NFT_MSG_GETCHAIN || msg === NFT_MSG_GETRULE || msg === NFT_MSG_GETGEN ||
    msg === NFT_MSG_GETSET || msg === NFT_MSG_GETSETELEM || msg === 19 || msg === 21 || msg === 23 || msg === 25 || msg === 33;
}

/** Whether NFT_MSG_* `msg` is one nf_tables knows at all (nfnetlink_find_client). */
export function isKnown(msg: number): boolean {
  return msg <= 33 && msg !== 17;
}
