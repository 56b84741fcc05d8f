/**
 * The nf_tables ruleset of one network namespace (Net.nftables): tables per family, their
 * chains and rules, as nf_tables_api.c keeps them. Changes come in batches
 * (NFNL_MSG_BATCH_BEGIN..END over NETLINK_NETFILTER): a batch works on a copy of the ruleset
 * that replaces it only when every message of the batch succeeded, as Linux's commit and
 * abort do, and each commit moves the generation (NFT_MSG_GETGEN, every answer's res_id).
 *
 * Rules are kept, not evaluated: no packet passes a hook here yet.
 *
 * @module
 */

/** The counters of a base chain (NFTA_CHAIN_COUNTERS). */
export interface NftCounters {
  packets: bigint;
  bytes: bigint;
}

/** What makes a chain a base chain: its hook and type. */
export interface NftBaseChain {
  hooknum: number;
  priority: number;
  /** "filter", "nat" or "route". */
  type: string;
  /** NF_ACCEPT or NF_DROP. */
  policy: number;
  counters: NftCounters | null;
}

export interface NftRule {
  handle: bigint;
  /** Each expression as dumped: the NFTA_LIST_ELEM's value (NFTA_EXPR_NAME, NFTA_EXPR_DATA). */
  exprs: Uint8Array[];
  udata: Uint8Array | null;
  /** The handles of the chains its verdicts jump or go to (each counted in their use). */
  jumps: bigint[];
  /** The handles of the sets its lookups bind (each counted in their use). */
  sets: bigint[];
}

export interface NftChain {
  name: string;
  handle: bigint;
  /** NFT_CHAIN_BASE, NFT_CHAIN_HW_OFFLOAD, NFT_CHAIN_BINDING. */
  flags: number;
  base: NftBaseChain | null;
  udata: Uint8Array | null;
  rules: NftRule[];
  /** A binding chain (NFT_CHAIN_BINDING): whether a rule's verdict bound it. */
  bound: boolean;
}

/** One element of a set: its key (none for the catch-all), its data in a map, its flags. */
export interface NftSetElem {
  key: Uint8Array | null;
  data: Uint8Array | null;
  /** NFT_SET_ELEM_INTERVAL_END, NFT_SET_ELEM_CATCHALL. */
  flags: number;
}

export interface NftSet {
  name: string;
  handle: bigint;
  /** NFT_SET_ANONYMOUS, _CONSTANT, _INTERVAL, _TIMEOUT, _MAP, _EVAL, _OBJECT, _CONCAT, _EXPR. */
  flags: number;
  keyType: number;
  keyLen: number;
  /** A map's data type and length (NFT_DATA_VERDICT: a verdict). */
  dataType: number;
  dataLen: number;
  policy: number;
  udata: Uint8Array | null;
  /** NFTA_SET_DESC_SIZE, 0 for none. */
  size: number;
  elems: NftSetElem[];
  /** How many lookups of rules name it (a set in use is not deleted, EBUSY). */
  use: number;
}

export interface NftTable {
  family: number;
  name: string;
  handle: bigint;
  /** NFT_TABLE_F_DORMANT, _OWNER, _PERSIST. */
  flags: number;
  /** The owning socket's port id (NFT_TABLE_F_OWNER), 0 for none. */
  owner: number;
  udata: Uint8Array | null;
  chains: NftChain[];
  sets: NftSet[];
  /** The last handle given to a chain, rule or set of the table (nf_tables_alloc_handle). */
  lastHandle: bigint;
}

/** The ruleset's data: what a batch copies and a commit installs. */
export interface NftRuleset {
  tables: NftTable[];
  /** The last table handle given in the namespace. */
  lastTableHandle: bigint;
  /** The last number of an anonymous binding chain's name (__chainN). */
  lastChainId: number;
}

function copyRuleset(r: NftRuleset): NftRuleset {
  return structuredClone(r);
}

/** @savable Refused by a checkpoint while it holds a table (kernel/checkpoint/save.ts). */
export class NfTables {
  #ruleset: NftRuleset = { tables: [], lastTableHandle: 0n, lastChainId: 0 };
  /** The generation: moves at each commit (nft_base_seq; 0 is skipped). */
  #genId = 1;

  get ruleset(): Readonly<NftRuleset> {
    return this.#ruleset;
  }

  get genId(): number {
    return this.#genId;
  }

  get empty(): boolean {
    return this.#ruleset.tables.length === 0;
  }

  /** A copy for a batch to change. */
  begin(): NftRuleset {
    return copyRuleset(this.#ruleset);
  }

  /** Installs a batch's ruleset: the generation moves. */
  commit(r: NftRuleset): void {
    this.#ruleset = r;
    this.#genId = (this.#genId + 1) >>> 0 || 1;
  }

  /**
   * A batch was aborted: its changes go, but the handles and anonymous chain numbers it gave
   * stay given, as Linux does not take back a table's handle generator or the namespace's
   * table handle.
   */
  abort(r: NftRuleset): void {
    this.#ruleset.lastTableHandle = r.lastTableHandle;
    this.#ruleset.lastChainId = r.lastChainId;
    for (const t of this.#ruleset.tables) {
      const c = r.tables.find((x) => x.handle === t.handle);
      if (c !== undefined && c.lastHandle > t.lastHandle) t.lastHandle = c.lastHandle;
    }
  }

  /**
   * The socket with port id `portId` went away: the tables it owns go with it, except those
   * marked persistent, which lose their owner (nft_rcv_nl_event).
   */
  releaseOwner(portId: number): void {
    if (portId === 0 || !this.#ruleset.tables.some((t) => t.owner === portId)) return;
    const r = this.begin();
    r.tables = r.tables.filter((t) => {
      if (t.owner !== portId) return true;
      if (t.flags & NFT_TABLE_F_PERSIST) {
        t.owner = 0;
        t.flags &= ~NFT_TABLE_F_OWNER;
        return true;
      }
      return false;
    });
    this.commit(r);
  }
}

export const NFT_TABLE_F_DORMANT = 1;
export const NFT_TABLE_F_OWNER = 2;
export const NFT_TABLE_F_PERSIST = 4;
export const NFT_TABLE_F_MASK = 7;

/** How many chains and sets a table holds (NFTA_TABLE_USE). */
export function tableUse(t: NftTable): number {
  return t.chains.length + t.sets.length;
}

/** How many rules a chain holds and verdicts of the table name it (NFTA_CHAIN_USE). */
export function chainUse(t: NftTable, c: NftChain): number {
  let n = c.rules.length;
  for (const other of t.chains) for (const r of other.rules) for (const j of r.jumps) if (j === c.handle) n++;
  return n;
}
