/**
 * The x_tables extensions (matches and targets) the sandbox's kernel has, as a Linux with their
 * modules loaded: the name, revision and family of each, the size of its data, where it may be
 * used (table, hooks, protocol) and its checkentry. IPT_SO_GET_REVISION_* answers from this
 * list and IPT_SO_SET_REPLACE finds each rule's extensions in it (an unknown one is ENOENT, as
 * in a kernel without that module).
 *
 * Sizes are those of the uapi structures (linux/netfilter/xt_*.h); `usersize` is the part
 * IPT_SO_GET_ENTRIES gives back (the rest is the kernel's own, zeroed), as Linux's xt_data_to_user.
 *
 * @module
 */

import { EINVAL, ENOENT, EPROTOTYPE, type LinuxError } from "../errno.ts";

/** NFPROTO_*: an extension is for one family, or for both (UNSPEC). */
export const NFPROTO_UNSPEC = 0;
export const NFPROTO_IPV4 = 2;
export const NFPROTO_IPV6 = 10;

/** The netfilter hooks (NF_INET_*). */
export const NF_INET_PRE_ROUTING = 0;
export const NF_INET_LOCAL_IN = 1;
export const NF_INET_FORWARD = 2;
export const NF_INET_LOCAL_OUT = 3;
export const NF_INET_POST_ROUTING = 4;
export const NF_INET_NUMHOOKS = 5;

const IPPROTO_ICMP = 1;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const IPPROTO_UDPLITE = 136;
const IPPROTO_SCTP = 132;
const IPPROTO_DCCP = 33;
const IPPROTO_ICMPV6 = 58;

/** What a checkentry sees of the rule. */
export interface CheckContext {
  /** The extension's data, as the rule gives it. */
  data: DataView;
  /** The rule's protocol and whether it is inverted (IPT_INV_PROTO). */
  proto: number;
  invProto: boolean;
  /** The hooks the rule is reached from (a bit each; 0 for a chain no hook reaches). */
  hookMask: number;
  /** The rule's family (NFPROTO_*). */
  family: number;
}

export interface Extension {
  name: string;
  revision: number;
  family: number;
  /** The size of its data (XT_ALIGNed in the rule); -1: any (none here). */
  size: number;
  /** The bytes of the data given back to user space (0: all of size). */
  usersize: number;
  /** The only table it may be used in, or null. */
  table: string | null;
  /** The hooks it may be reached from (a bit each), or 0 for any. */
  hooks: number;
  /** The protocol the rule must match (not inverted), or 0. */
  proto: number;
  /** Its checkentry: an errno for bad data, or null. */
  check?: (c: CheckContext) => LinuxError | null;
}

const HOOK = (...hs: number[]) => hs.reduce((m, h) => m | (1 << h), 0);

function ext(name: string, revision: number, family: number, size: number, o: Partial<Extension> = {}): Extension {
  return { name, revision, family, size, usersize: 0, table: null, hooks: 0, proto: 0, ...o };
}

/** A check that fails when bits outside `mask` are set in the byte at `at`. */
function onlyBits(at: number, mask: number): (c: CheckContext) => LinuxError | null {
  return (c) => (c.data.getUint8(at) & ~mask) !== 0 ? EINVAL : null;
}

// nf_nat_ipv4_multi_range_compat: rangesize, then one nf_nat_ipv4_range (flags first).
const NF_NAT_RANGE_MAP_IPS = 1;
const natCompatOneRange = (c: CheckContext) => c.data.getUint32(0, true) !== 1 ? EINVAL : null;
const natCompatNoIps = (c: CheckContext) =>
  c.data.getUint32(0, true) !== 1 || (c.data.getUint32(4, true) & NF_NAT_RANGE_MAP_IPS) !== 0 ? EINVAL : null;
// nf_nat_range: flags first.
const natRangeNoIps = (c: CheckContext) => (c.data.getUint32(0, true) & NF_NAT_RANGE_MAP_IPS) !== 0 ? EINVAL : null;

/** ipt_REJECT / ip6t_REJECT: not an echo reply; a TCP reset only for TCP (not inverted). */
function rejectCheck(echoReply: number, tcpReset: number) {
  return (c: CheckContext) => {
    const w = c.data.getUint32(0, true);
    if (w === echoReply) return EINVAL;
    if (w === tcpReset && (c.proto !== IPPROTO_TCP || c.invProto)) return EINVAL;
    return null;
  };
}

/** xt_multiport v1: a protocol with ports (not inverted), flags SRC/DST/EITHER, at most 15 ports. */
function multiportCheck(c: CheckContext): LinuxError | null {
  const flags = c.data.getUint8(0), count = c.data.getUint8(1);
  const withPorts = [IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, IPPROTO_SCTP, IPPROTO_DCCP].includes(c.proto);
  return withPorts && !c.invProto && flags <= 2 && count <= 15 ? null : EINVAL;
}

/** xt_CT: flags within XT_CT_NOTRACK (rev 0) or XT_CT_MASK (rev 1, 2); no helper or timeout policy here. */
function ctCheck(mask: number, helperAt: number, timeoutAt: number | null) {
  return (c: CheckContext) => {
    if ((c.data.getUint16(0, true) & ~mask) !== 0) return EINVAL;
    // A helper or timeout policy is a module and an object the sandbox does not have.
    if (c.data.getUint8(helperAt) !== 0) return ENOENT;
    if (timeoutAt !== null && c.data.getUint8(timeoutAt) !== 0) return ENOENT;
    return null;
  };
}

/** xt_LOG: a syslog level below 8 and a terminated prefix. */
const logCheck = (c: CheckContext) => c.data.getUint8(0) >= 8 || c.data.getUint8(2 + 29) !== 0 ? EINVAL : null;

/**
 * xt_addrtype v1 (source u16, dest u16, flags u32): not both interface limits, none on a hook
 * without that interface, and for IPv6 no address type it cannot tell (blackhole, broadcast,
 * prohibit and above).
 */
const XT_ADDRTYPE_LIMIT_IFACE_IN = 4, XT_ADDRTYPE_LIMIT_IFACE_OUT = 8;
function addrtypeCheck(c: CheckContext): LinuxError | null {
  const types = c.data.getUint16(0, true) | c.data.getUint16(2, true), flags = c.data.getUint32(4, true);
  if ((flags & XT_ADDRTYPE_LIMIT_IFACE_IN) && (flags & XT_ADDRTYPE_LIMIT_IFACE_OUT)) return EINVAL;
  if ((c.hookMask & HOOK(NF_INET_PRE_ROUTING, NF_INET_LOCAL_IN)) && (flags & XT_ADDRTYPE_LIMIT_IFACE_OUT)) return EINVAL;
  if ((c.hookMask & HOOK(NF_INET_POST_ROUTING, NF_INET_LOCAL_OUT)) && (flags & XT_ADDRTYPE_LIMIT_IFACE_IN)) return EINVAL;
  if (c.family === NFPROTO_IPV6 && ((types & (1 << 6)) || types >= 1 << 8 || (types & (1 << 3)))) return EINVAL;
  return null;
}

const NAT_PRE_OUT = HOOK(NF_INET_PRE_ROUTING, NF_INET_LOCAL_OUT);
const NAT_POST_IN = HOOK(NF_INET_POST_ROUTING, NF_INET_LOCAL_IN);
const FILTER_HOOKS = HOOK(NF_INET_LOCAL_IN, NF_INET_FORWARD, NF_INET_LOCAL_OUT);
const RAW_HOOKS = HOOK(NF_INET_PRE_ROUTING, NF_INET_LOCAL_OUT);

/** The standard target's name (its data is the verdict) and the error target's. */
export const XT_STANDARD_TARGET = "";
export const XT_ERROR_TARGET = "ERROR";

export const TARGETS: readonly Extension[] = [
  ext(XT_STANDARD_TARGET, 0, NFPROTO_IPV4, 4),
  ext(XT_STANDARD_TARGET, 0, NFPROTO_IPV6, 4),
  ext(XT_ERROR_TARGET, 0, NFPROTO_IPV4, 30),
  ext(XT_ERROR_TARGET, 0, NFPROTO_IPV6, 30),
  // ICMP_ECHOREPLY is 6 of ipt_reject_with, IPT_TCP_RESET 7; IP6T_ICMP6_ECHOREPLY 6, IP6T_TCP_RESET 7.
  ext("REJECT", 0, NFPROTO_IPV4, 4, { table: "filter", hooks: FILTER_HOOKS, check: rejectCheck(6, 7) }),
  ext("REJECT", 0, NFPROTO_IPV6, 4, { table: "filter", hooks: FILTER_HOOKS, check: rejectCheck(6, 7) }),
  ext("REDIRECT", 0, NFPROTO_IPV4, 20, { table: "nat", hooks: NAT_PRE_OUT, check: natCompatOneRange }),
  ext("REDIRECT", 0, NFPROTO_IPV6, 40, { table: "nat", hooks: NAT_PRE_OUT, check: natRangeNoIps }),
  ext("MASQUERADE", 0, NFPROTO_IPV4, 20, { table: "nat", hooks: HOOK(NF_INET_POST_ROUTING), check: natCompatNoIps }),
  ext("MASQUERADE", 0, NFPROTO_IPV6, 40, { table: "nat", hooks: HOOK(NF_INET_POST_ROUTING), check: natRangeNoIps }),
  ext("DNAT", 0, NFPROTO_IPV4, 20, { table: "nat", hooks: NAT_PRE_OUT, check: natCompatOneRange }),
  ext("DNAT", 1, NFPROTO_UNSPEC, 40, { table: "nat", hooks: NAT_PRE_OUT }),
  ext("DNAT", 2, NFPROTO_UNSPEC, 44, { table: "nat", hooks: NAT_PRE_OUT }),
  ext("SNAT", 0, NFPROTO_IPV4, 20, { table: "nat", hooks: NAT_POST_IN, check: natCompatOneRange }),
  ext("SNAT", 1, NFPROTO_UNSPEC, 40, { table: "nat", hooks: NAT_POST_IN }),
  ext("SNAT", 2, NFPROTO_UNSPEC, 44, { table: "nat", hooks: NAT_POST_IN }),
  ext("MARK", 2, NFPROTO_UNSPEC, 8),
  // xt_ct_target_info (40, the kernel's ct pointer after 32) and _v1 (72, after 64):
  // flags u16, zone u16 at 2, ..., helper[16] at 12; v1 also timeout[32] at 28.
  ...[NFPROTO_IPV4, NFPROTO_IPV6].flatMap((f) => [
    ext("CT", 0, f, 40, { usersize: 32, table: "raw", hooks: RAW_HOOKS, check: ctCheck(1, 12, null) }),
    ext("CT", 1, f, 72, { usersize: 64, table: "raw", hooks: RAW_HOOKS, check: ctCheck(0x1f, 12, 28) }),
    ext("CT", 2, f, 72, { usersize: 64, table: "raw", hooks: RAW_HOOKS, check: ctCheck(0x1f, 12, 28) }),
  ]),
  ext("NOTRACK", 0, NFPROTO_UNSPEC, 0, { table: "raw" }),
  ext("LOG", 0, NFPROTO_IPV4, 32, { check: logCheck }),
  ext("LOG", 0, NFPROTO_IPV6, 32, { check: logCheck }),
];

export const MATCHES: readonly Extension[] = [
  // ipt_icmp / ip6t_icmp: type, code[2], invflags (only IPT_ICMP_INV).
  ext("icmp", 0, NFPROTO_IPV4, 4, { proto: IPPROTO_ICMP, check: onlyBits(3, 1) }),
  ext("icmp6", 0, NFPROTO_IPV6, 4, { proto: IPPROTO_ICMPV6, check: onlyBits(3, 1) }),
  // xt_tcp: spts[2], dpts[2], option, flg_mask, flg_cmp, invflags (XT_TCP_INV_MASK 0x0f).
  ext("tcp", 0, NFPROTO_IPV4, 12, { proto: IPPROTO_TCP, check: onlyBits(11, 0x0f) }),
  ext("tcp", 0, NFPROTO_IPV6, 12, { proto: IPPROTO_TCP, check: onlyBits(11, 0x0f) }),
  // xt_udp: spts[2], dpts[2], invflags (XT_UDP_INV_MASK 0x03).
  ext("udp", 0, NFPROTO_IPV4, 10, { proto: IPPROTO_UDP, check: onlyBits(8, 0x03) }),
  ext("udp", 0, NFPROTO_IPV6, 10, { proto: IPPROTO_UDP, check: onlyBits(8, 0x03) }),
  ext("mark", 1, NFPROTO_UNSPEC, 12),
  ext("comment", 0, NFPROTO_UNSPEC, 256),
  ext("state", 0, NFPROTO_UNSPEC, 4),
  ext("conntrack", 1, NFPROTO_UNSPEC, 152),
  ext("conntrack", 2, NFPROTO_UNSPEC, 156),
  ext("conntrack", 3, NFPROTO_UNSPEC, 164),
  ext("multiport", 1, NFPROTO_IPV4, 48, { check: multiportCheck }),
  // xt_addrtype_info (source, dest u16, invert_source, invert_dest u32) and _v1.
  ext("addrtype", 0, NFPROTO_IPV4, 12),
  ext("addrtype", 1, NFPROTO_IPV4, 8, { check: addrtypeCheck }),
  ext("addrtype", 1, NFPROTO_IPV6, 8, { check: addrtypeCheck }),
  ext("multiport", 1, NFPROTO_IPV6, 48, { check: multiportCheck }),
];

/**
 * Linux's xt_find_match/xt_find_target: the extension of that name and revision for the family,
 * else for both families. A name that exists with other revisions only is EPROTOTYPE in the
 * list searched last; no such name ENOENT.
 */
export function findExtension(list: readonly Extension[], family: number, name: string, revision: number): Extension | LinuxError {
  const search = (f: number): Extension | "other" | null => {
    let other = false;
    for (const e of list) {
      if (e.family !== f || e.name !== name) continue;
      if (e.revision === revision) return e;
      other = true;
    }
    return other ? "other" : null;
  };
  const own = search(family);
  if (own !== null && own !== "other") return own;
  const any = search(NFPROTO_UNSPEC);
  if (any !== null && any !== "other") return any;
  return any === "other" ? EPROTOTYPE : ENOENT;
}

/**
 * Linux's xt_find_revision: the highest revision of the name (family and UNSPEC lists) and
 * whether `revision` is one of them; null when there is no such name at all.
 */
export function bestRevision(list: readonly Extension[], family: number, name: string, revision: number): { best: number; have: boolean } | null {
  let best = -1, have = false;
  for (const e of list) {
    if (e.name !== name || (e.family !== family && e.family !== NFPROTO_UNSPEC)) continue;
    if (e.revision > best) best = e.revision;
    if (e.revision === revision) have = true;
  }
  return best === -1 ? null : { best, have };
}
