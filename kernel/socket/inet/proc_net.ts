/**
 * The text of /proc/net/{tcp,tcp6,udp,udp6,dev}, in Linux's formats (net/ipv4/tcp_ipv4.c,
 * net/ipv6/tcp_ipv6.c, net/ipv4/udp.c, net/core/net-procfs.c), for procfs to serve.
 *
 * Sockets are listed from the files the application holds (a connection the application has
 * closed, e.g. in TIME-WAIT, is not listed). Addresses are hexadecimal 32-bit words in host
 * (little-endian) order, as Linux prints them.
 *
 * @module
 */

import type { IpAddress } from "../../../netstack/mod.ts";
import type { Net } from "../../net.ts";
import * as C from "./constants.ts";
import { TcpSocketFile } from "./tcp.ts";
import { UdpSocketFile } from "./udp.ts";

const TCP_HEADER =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
const TCP6_HEADER = "  sl  local_address                         remote_address                        " +
  "st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
const UDP_HEADER =
  "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops";
const UDP6_HEADER = "  sl  local_address                         remote_address                        " +
  "st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops";

function hex(n: number, width: number): string {
  return (n >>> 0).toString(16).toUpperCase().padStart(width, "0");
}

/** An address as /proc/net prints it: each 32-bit word little-endian, in hex. */
function addrHex(a: IpAddress | null, v6: boolean): string {
  const bytes = new Uint8Array(v6 ? 16 : 4);
  if (a !== null) {
    if (a.version === 6) bytes.set(a.bytes);
    else if (v6) {
      bytes[10] = 0xff;
      bytes[11] = 0xff;
      bytes.set(a.bytes, 12);
    } else bytes.set(a.bytes);
  }
  let s = "";
  for (let w = 0; w < bytes.length; w += 4) {
    s += hex(bytes[w]! | (bytes[w + 1]! << 8) | (bytes[w + 2]! << 16) | (bytes[w + 3]! << 24), 8);
  }
  return s;
}

function endpoint(a: IpAddress | null, port: number, v6: boolean): string {
  return `${addrHex(a, v6)}:${hex(port, 4)}`;
}

/** /proc/net/tcp (v6 false) or /proc/net/tcp6 (v6 true). */
export function renderProcNetTcp(net: Net, v6: boolean): string {
  const family = v6 ? C.AF_INET6 : C.AF_INET;
  const lines = [v6 ? TCP6_HEADER : TCP_HEADER.padEnd(149)];
  let sl = 0;
  for (const w of net.watchers) {
    if (!(w instanceof TcpSocketFile) || w.family !== family) continue;
    const s = w.sock;
    const r = s.remote;
    const st = C.TCP_STATE_NUMBER[s.state] ?? 7;
    const line = `${String(sl++).padStart(4)}: ${endpoint(s.localAddr, s.localPort, v6)} ` +
      `${endpoint(r?.addr ?? null, r?.port ?? 0, v6)} ${hex(st, 2)} ${hex(s.sendQueue, 8)}:${hex(s.recvQueue, 8)} ` +
      `00:00000000 00000000 ${String(w.uid).padStart(5)} ${String(0).padStart(8)} ${w.ino} 1 0000000000000000 ` +
      `${Math.round(s.rto / 10)} 4 30 10 -1`;
    lines.push(v6 ? line : line.padEnd(149));
  }
  return lines.join("\n") + "\n";
}

/** /proc/net/udp (v6 false) or /proc/net/udp6 (v6 true); with `lite`, udplite and udplite6 (the same layout). */
export function renderProcNetUdp(net: Net, v6: boolean, lite = false): string {
  const family = v6 ? C.AF_INET6 : C.AF_INET;
  const lines = [v6 ? UDP6_HEADER : UDP_HEADER.padEnd(127)];
  let sl = 0;
  for (const w of net.watchers) {
    if (!(w instanceof UdpSocketFile) || w.family !== family || w.sock.lite !== lite) continue;
    const s = w.sock;
    if (s.localPort === 0) continue; // unbound sockets are not hashed, so Linux lists none
    const r = s.remote;
    const st = r === null ? 7 : 1;
    const line = `${String(sl++).padStart(5)}: ${endpoint(s.localAddr, s.localPort, v6)} ` +
      `${endpoint(r?.addr ?? null, r?.port ?? 0, v6)} ${hex(st, 2)} 00000000:00000000 ` +
      `00:00000000 00000000 ${String(w.uid).padStart(5)} ${String(0).padStart(8)} ${w.ino} 2 0000000000000000 ${s.drops}`;
    lines.push(v6 ? line : line.padEnd(127));
  }
  return lines.join("\n") + "\n";
}

/** /proc/net/dev: one line per interface (counters of the devices that count). */
export function renderProcNetDev(net: Net): string {
  const out = [
    "Inter-|   Receive                                                |  Transmit",
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
  ];
  for (const [i, name] of net.ifNames.entries()) {
    const c = net.counters[i] ?? { rxBytes: 0, rxPackets: 0, txBytes: 0, txPackets: 0 };
    const n = (v: number, w: number) => String(v).padStart(w);
    out.push(
      `${name.padStart(6)}:${n(c.rxBytes, 8)} ${n(c.rxPackets, 7)} ${n(0, 4)} ${n(0, 4)} ${n(0, 4)} ${n(0, 5)} ` +
        `${n(0, 10)} ${n(0, 9)} ${n(c.txBytes, 8)} ${n(c.txPackets, 7)} ${n(0, 4)} ${n(0, 4)} ${n(0, 4)} ` +
        `${n(0, 5)} ${n(0, 7)} ${n(0, 10)}`,
    );
  }
  return out.join("\n") + "\n";
}

/** Two lines per protocol, names then values (Linux's /proc/net/snmp and netstat layout). */
function mibLines(proto: string, fields: Array<[string, number]>): string {
  return `${proto}: ${fields.map((f) => f[0]).join(" ")}\n${proto}: ${fields.map((f) => f[1]).join(" ")}\n`;
}

/**
 * /proc/net/snmp: Linux's Ip, Icmp, IcmpMsg-less, Tcp, Udp and UdpLite lines. The TCP and UDP
 * counters are the stack's own (netstack's StackMib); what it does not count reads 0.
 */
export function renderProcNetSnmp(net: Net): string {
  const st = net.stack;
  const m = st.mib;
  const zeros = (names: string) => names.split(" ").map((n): [string, number] => [n, 0]);
  const ip: Array<[string, number]> = [["Forwarding", 2], ["DefaultTTL", 64], ...zeros(
    "InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards " +
      "OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates OutTransmits",
  )];
  const icmp = zeros(
    "InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs InRedirects InEchos InEchoReps " +
      "InTimestamps InTimestampReps InAddrMasks InAddrMaskReps OutMsgs OutErrors OutRateLimitGlobal OutRateLimitHost " +
      "OutDestUnreachs OutTimeExcds OutParmProbs OutSrcQuenchs OutRedirects OutEchos OutEchoReps OutTimestamps " +
      "OutTimestampReps OutAddrMasks OutAddrMaskReps",
  );
  const tcp: Array<[string, number]> = [
    ["RtoAlgorithm", 1], ["RtoMin", 200], ["RtoMax", 120000], ["MaxConn", -1],
    ["ActiveOpens", m.tcpActiveOpens], ["PassiveOpens", m.tcpPassiveOpens], ["AttemptFails", m.tcpAttemptFails],
    ["EstabResets", m.tcpEstabResets], ["CurrEstab", st.tcpCurrEstab()], ["InSegs", m.tcpInSegs],
    ["OutSegs", m.tcpOutSegs], ["RetransSegs", m.tcpRetransSegs], ["InErrs", 0],
    ["OutRsts", m.tcpOutRsts + st.stats.tcpRstSent], ["InCsumErrors", 0],
  ];
  const udp: Array<[string, number]> = [
    ["InDatagrams", m.udpInDatagrams], ["NoPorts", m.udpNoPorts], ["InErrors", 0], ["OutDatagrams", m.udpOutDatagrams],
    ["RcvbufErrors", 0], ["SndbufErrors", 0], ["InCsumErrors", 0], ["IgnoredMulti", 0], ["MemErrors", 0],
  ];
  const udpLite = udp.map(([n]): [string, number] => [n, 0]);
  return mibLines("Ip", ip) + mibLines("Icmp", icmp) + mibLines("Tcp", tcp) + mibLines("Udp", udp) +
    mibLines("UdpLite", udpLite);
}

/** /proc/net/netstat: the TcpExt and IpExt counters Linux lists; the stack counts none of them yet. */
export function renderProcNetNetstat(): string {
  const names = (s: string) => s.split(" ").map((n): [string, number] => [n, 0]);
  return mibLines("TcpExt", names(
    "SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts PruneCalled RcvPruned OfoPruned OutOfWindowIcmps " +
      "LockDroppedIcmps ArpFilter TW TWRecycled TWKilled PAWSActive PAWSEstab DelayedACKs DelayedACKLocked " +
      "DelayedACKLost ListenOverflows ListenDrops TCPHPHits TCPPureAcks TCPHPAcks TCPRenoRecovery TCPSackRecovery " +
      "TCPSACKReneging TCPSACKReorder TCPRenoReorder TCPTSReorder TCPFullUndo TCPPartialUndo TCPDSACKUndo TCPLossUndo " +
      "TCPLostRetransmit TCPRenoFailures TCPSackFailures TCPLossFailures TCPFastRetrans TCPSlowStartRetrans " +
      "TCPTimeouts TCPLossProbes TCPLossProbeRecovery TCPRenoRecoveryFail TCPSackRecoveryFail TCPRcvCollapsed " +
      "TCPDSACKOldSent TCPDSACKOfoSent TCPDSACKRecv TCPDSACKOfoRecv TCPAbortOnData TCPAbortOnClose " +
      "TCPAbortOnMemory TCPAbortOnTimeout TCPAbortOnLinger TCPAbortFailed TCPMemoryPressures TCPSACKDiscard " +
      "TCPDSACKIgnoredOld TCPDSACKIgnoredNoUndo TCPSpuriousRTOs TCPSackShifted TCPSackMerged TCPSackShiftFallback " +
      "TCPBacklogDrop TCPDeferAcceptDrop TCPTimeWaitOverflow TCPReqQFullDoCookies TCPReqQFullDrop TCPRetransFail " +
      "TCPRcvCoalesce TCPOFOQueue TCPOFODrop TCPOFOMerge TCPChallengeACK TCPSYNChallenge TCPFastOpenActive " +
      "TCPFastOpenPassive TCPFastOpenPassiveFail TCPFastOpenListenOverflow TCPFastOpenCookieReqd TCPSpuriousRtxHostQueues " +
      "BusyPollRxPackets TCPAutoCorking TCPFromZeroWindowAdv TCPToZeroWindowAdv TCPWantZeroWindowAdv TCPSynRetrans " +
      "TCPOrigDataSent TCPHystartTrainDetect TCPHystartTrainCwnd TCPHystartDelayDetect TCPHystartDelayCwnd " +
      "TCPACKSkippedSynRecv TCPACKSkippedPAWS TCPACKSkippedSeq TCPACKSkippedFinWait2 TCPACKSkippedTimeWait " +
      "TCPACKSkippedChallenge TCPWinProbe TCPKeepAlive TCPMTUPFail TCPMTUPSuccess",
  )) + mibLines("IpExt", names(
    "InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts InBcastPkts OutBcastPkts InOctets OutOctets InMcastOctets " +
      "OutMcastOctets InBcastOctets OutBcastOctets InCsumErrors InNoECTPkts InECT1Pkts InECT0Pkts InCEPkts ReasmOverlaps",
  ));
}

/**
 * /proc/net/if_inet6: one line per IPv6 address: the address in 32 hex digits, the interface
 * index, prefix length, scope and flags in two hex digits each, and the interface's name.
 */
export function renderProcNetIfInet6(net: Net): string {
  let out = "";
  const hex2 = (v: number) => v.toString(16).padStart(2, "0");
  for (const iface of net.stack.interfaces) {
    for (const c of iface.addresses) {
      const a = c.address;
      if (a.version !== 6) continue;
      const addr = [...a.bytes].map(hex2).join("");
      // IPV6_ADDR_LOOPBACK 0x10, LINKLOCAL 0x20, global 0x00; IFA_F_PERMANENT 0x80.
      const scope = a.isLoopback ? 0x10 : a.isLinkLocal ? 0x20 : 0;
      const name = net.ifNames[iface.index] ?? `if${iface.index}`;
      out += `${addr} ${hex2(iface.index + 1)} ${hex2(c.prefixLength)} ${hex2(scope)} ${hex2(0x80)} ${name.padStart(8)}\n`;
    }
  }
  return out;
}
