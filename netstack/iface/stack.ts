/**
 * The stack: interfaces, routes, neighbor resolution (ARP, NDP), IPv4
 * reassembly, ICMP echo, port tables and demultiplexing to TCP, UDP and ICMP
 * sockets.
 *
 * Time contract: the caller passes `now` (ms) into every entry point.
 * `poll(now)` moves frames in and out and reports whether anything happened;
 * call it again while it returns true. `pollAt(now)` returns when the stack
 * next needs a poll (`now` for "at once"), or null when it is idle until the
 * next frame or API call. Nothing here reads a clock or sets a timer.
 *
 * Synchronous on purpose: a socket's state is consistent only between calls.
 *
 * @module
 */

import {
  EthernetAddress,
  type IpAddress,
  IpCidr,
  Ipv4Address,
  Ipv6Address,
} from "../wire/address.ts";
import { ArpOperation, ArpPacket, ARP_LEN, emitArp, parseArp } from "../wire/arp.ts";
import { emitEthernet, ETHERNET_HEADER_LEN, EthernetFrame, EtherType } from "../wire/ethernet.ts";
import { emitIcmpv4, Icmpv4Packet, icmpv4Len, type Icmpv4Repr, Icmpv4Type, Icmpv4Unreachable, parseIcmpv4 } from "../wire/icmpv4.ts";
import { emitIcmpv6, Icmpv6Packet, icmpv6Len, type Icmpv6Repr, Icmpv6Type, parseIcmpv6 } from "../wire/icmpv6.ts";
import { emitIpv4, IpProtocol, IPV4_HEADER_LEN, Ipv4Packet, parseIpv4 } from "../wire/ipv4.ts";
import {
  emitIpv6,
  IPV6_FRAGMENT_HEADER_LEN,
  IPV6_HEADER_LEN,
  Ipv6ExtHeader,
  Ipv6FragmentHeader,
  Ipv6Packet,
  parseIpv6,
  skipIpv6Extensions,
} from "../wire/ipv6.ts";
import { type SeqNumber, seq } from "../wire/seq_number.ts";
import { emitTcp, parseTcp, sackBlocksThatFit, TcpPacket, tcpHeaderLen, type TcpRepr } from "../wire/tcp.ts";
import { emitUdp, emitUdpLite, parseUdp, parseUdpLite, UDP_HEADER_LEN, UdpPacket } from "../wire/udp.ts";
import {
  EADDRINUSE,
  EADDRNOTAVAIL,
  ECONNREFUSED,
  EHOSTUNREACH,
  EINVAL,
  ENETUNREACH,
  type NetError,
} from "../errors.ts";
import { Prng } from "../link/prng.ts";
import { rstReplyFor, type TcpEndpoint, type TcpHost, type TcpOptions, TcpSocket } from "../tcp/tcp_socket.ts";
import type { TcpState } from "../tcp/state.ts";
import { type Datagram, type DatagramMeta, type UdpHost, type UdpOptions, UdpSocket } from "../udp/udp_socket.ts";
import { type EchoMessage, type IcmpHost, IcmpSocket } from "../udp/icmp_socket.ts";
import { type RawHost, type RawSend, RawSocket } from "../raw/raw_socket.ts";
import { type PacketHost, type PacketSend, PacketSocket, PACKET_HOST, PACKET_OUTGOING } from "../packet/packet_socket.ts";
import { checksumAdd, checksumFinish, pseudoHeaderSum } from "../wire/checksum.ts";
import { Interface, type InterfaceOptions } from "./interface.ts";
import { Reassembler } from "./fragment.ts";
import { type Holder, PortTable } from "./ports.ts";
import { TimerHeap } from "./timer_heap.ts";
import { NEIGHBOR_RETRY } from "./neighbor_cache.ts";
import { type Route, RoutingTable } from "./routing.ts";

/** A TCP segment to ourselves on the local queue, handed over without serialization. */
interface LocalSegment {
  src: IpAddress;
  dst: IpAddress;
  seg: TcpRepr;
  /** The connection that sent it (its 4-tuple is the segment's, reversed). */
  from: TcpSocket;
}

/**
 * The repr the receiver would parse from what emitTcp writes for `r`: fields cut to their wire
 * widths, only the SACK blocks that fit, window scale clamped as parseTcp does. A new object,
 * so the receiver may not disturb the sender's.
 */
function asReceived(r: TcpRepr): TcpRepr {
  const fit = sackBlocksThatFit(r);
  return {
    srcPort: r.srcPort & 0xffff,
    dstPort: r.dstPort & 0xffff,
    seq: (r.seq >>> 0) as SeqNumber,
    ack: r.ack === null ? null : (r.ack >>> 0) as SeqNumber,
    syn: r.syn,
    fin: r.fin,
    rst: r.rst,
    psh: r.psh,
    window: r.window & 0xffff,
    maxSegSize: r.maxSegSize === null ? null : r.maxSegSize & 0xffff,
    windowScale: r.windowScale === null ? null : Math.min(r.windowScale & 0xff, 14),
    sackPermitted: r.sackPermitted,
    sackBlocks: fit === 0 ? [] : r.sackBlocks.slice(0, fit).map((b) => ({ left: b.left, right: b.right })),
    timestamp: r.timestamp === null ? null : { tsVal: r.timestamp.tsVal >>> 0, tsEcr: r.timestamp.tsEcr >>> 0 },
    payload: r.payload,
  };
}

/**
 * The largest payload of one TCP segment to ourselves (TcpHost.tcpRoute's offload): as large
 * as a send queue, since such a segment is a view of the sender's queue, never a packet.
 */
const LOCAL_OFFLOAD = 1 << 20;

/** Rounds of local delivery and TCP dispatch per poll (see poll). */
const LOCAL_HOPS = 8;

/** Frames taken from one device per poll, so egress gets its turn. */
const RX_BUDGET = 256;
const DEFAULT_HOP_LIMIT = 64;
/** ICMP errors quote at most this much of the offending packet (IPv6: RFC 4443 §2.4c). */
const ICMPV6_ERROR_MAX = 1280 - IPV6_HEADER_LEN - 8;

/** Options for a {@linkcode Stack}. */
export interface StackOptions {
  /** Seeds ISNs and ephemeral choices; the same seed replays the same run. */
  seed?: number;
  /** Defaults for sockets made by {@linkcode Stack.tcpSocket}. */
  tcp?: TcpOptions;
  /** Receives trace lines (state changes, retransmissions). @nosave */
  trace?: (line: string) => void;
  /**
   * Sees every IP packet the stack delivers to itself (loopback traffic, which never crosses a
   * device and so escapes device wrappers such as PcapWriter). Must not keep `packet`. @nosave
   */
  tap?: (now: number, packet: Uint8Array) => void;
  /**
   * A forwarding (gateway) stack, as a slirp or passt peer: its interfaces take packets for any
   * destination, and TCP SYNs and UDP datagrams that reach no socket are held for the caller
   * (takeHeldSyns, takeHeldDatagrams) instead of answered with RST / port unreachable. The
   * caller forwards them and answers with acceptHeldSyn/refuseHeldSyn/sendDatagramAs, which
   * may use any source address. ICMP echo is still answered only for the stack's own addresses.
   */
  forwarding?: boolean;
}

/** A SYN a forwarding stack holds until the caller accepts or refuses it. @savable */
export interface HeldSyn {
  /** The peer that sent the SYN. */
  src: TcpEndpoint;
  /** Where it was going. */
  dst: TcpEndpoint;
  /** The segment (a copy). */
  seg: TcpRepr;
  /** The start of the IP packet (header + 8 bytes), quoted by an ICMP unreachable. */
  quote: Uint8Array;
}

/** A UDP datagram a forwarding stack received for no socket of its own. @savable */
export interface HeldDatagram {
  src: TcpEndpoint;
  dst: TcpEndpoint;
  data: Uint8Array;
}

/** Held datagrams beyond this many are dropped (the caller takes them after each poll). */
const HELD_DATAGRAMS_MAX = 1024;

/**
 * The interface local traffic comes in on, for SO_BINDTODEVICE matching: the first, the
 * loopback, as Linux hands a packet to one of its own addresses to `lo`.
 */
const LOOPBACK_DEVICE = 0;

/** Counters for tests and diagnostics. */
export interface StackStats {
  rxFrames: number;
  txFrames: number;
  rxDropped: number;
  tcpRstSent: number;
  reassembled: number;
  /** TCP segments to ourselves handed over as reprs (see #sendTcp). */
  localSegments: number;
}

/**
 * The MIB counters of /proc/net/snmp that the stack keeps (RFC 1213's, as Linux counts them):
 * TCP opens, failures, resets and segments, UDP datagrams. CurrEstab is counted by the
 * connections in ESTABLISHED or CLOSE-WAIT ({@linkcode Stack.tcpCurrEstab}).
 */
export interface StackMib {
  tcpActiveOpens: number;
  tcpPassiveOpens: number;
  tcpAttemptFails: number;
  tcpEstabResets: number;
  tcpInSegs: number;
  tcpOutSegs: number;
  tcpRetransSegs: number;
  /** Resets sent by sockets (the stack's own answers are stats.tcpRstSent). */
  tcpOutRsts: number;
  udpInDatagrams: number;
  udpNoPorts: number;
  udpOutDatagrams: number;
}

/** Why an IP send did not happen. */
type SendResult = "sent" | "full" | "unresolved" | "noroute";

/** @savable */
export class Stack implements TcpHost, UdpHost, IcmpHost, RawHost, PacketHost {
  readonly #interfaces: Interface[] = [];
  readonly routes: RoutingTable = new RoutingTable();
  readonly #reassembler = new Reassembler();
  readonly #rng: Prng;
  /** Immutable. */
  readonly #isnSecret: number;
  readonly #tcpDefaults: TcpOptions;
  /** @nosave */
  readonly #trace: ((line: string) => void) | null;
  /** @nosave */
  readonly #tap: ((now: number, packet: Uint8Array) => void) | null;
  #ipIdent = 0;
  #ipv6Ident = 0;
  /** Immutable. StackOptions.forwarding. */
  readonly #forwarding: boolean;
  /** SYNs held until accepted or refused, by 4-tuple (a retransmitted SYN is not held twice). */
  readonly #heldSyns = new Map<string, HeldSyn>();
  /** Held SYNs not yet taken by the caller. */
  #newSyns: HeldSyn[] = [];
  #heldDatagrams: HeldDatagram[] = [];

  // --- Demultiplexing. ---
  readonly #tcpPorts = new PortTable<TcpSocket>();
  readonly #tcpConns = new Map<string, TcpSocket>();
  /**
   * A cache of #tcpConns for local traffic: the connection a segment from a connection of ours
   * reaches (its 4-tuple reversed). Valid while #tcpConns is unchanged: cleared whenever a
   * connection is registered or unregistered.
   */
  readonly #localPeers = new Map<TcpSocket, TcpSocket>();
  /** Registered connections, for membership tests. */
  readonly #tcpLive = new Set<TcpSocket>();
  /** Connections to dispatch on the next poll: they got input, an API call, or a due timer. */
  #tcpActive = new Set<TcpSocket>();
  /** Empty between dispatches: #dispatchTcp swaps it with #tcpActive. */
  #tcpSpare = new Set<TcpSocket>();
  /** Deadlines of the idle connections, so a poll visits only those due. */
  readonly #tcpTimers = new TimerHeap<TcpSocket>();
  readonly #udpPorts = new PortTable<UdpSocket>();
  /** UDP-Lite's ports: a space of their own, as Linux's udplite_table. */
  readonly #udpLitePorts = new PortTable<UdpSocket>();
  readonly #udpSockets = new Set<UdpSocket>();
  readonly #icmpIdents = new PortTable<IcmpSocket>();
  readonly #icmpSockets = new Set<IcmpSocket>();
  /** Raw IP sockets (raw(7)): each takes a copy of every packet of its protocol. */
  readonly #rawSockets = new Set<RawSocket>();
  /** Packet sockets (packet(7)): each takes a copy of every loopback frame of its protocol. */
  readonly #packetSockets = new Set<PacketSocket>();
  /**
   * lo's accept_local and route_localnet (/proc/sys/net/ipv4/conf/lo/): whether a packet a
   * packet socket injects on lo may come from a local address, and may name 127/8. The
   * kernel's Net shares its sysctl object here.
   */
  loConf: { loAcceptLocal: number; loRouteLocalnet: number } = { loAcceptLocal: 0, loRouteLocalnet: 0 };
  /** The largest IP packet to one of our own addresses (the loopback device's MTU, at most 65535). */
  localMtu = 65535;

  /** Sockets whose last send waited on neighbor resolution, and until when. */
  readonly #blocked = new Map<object, number>();
  /**
   * IP packets addressed to ourselves, delivered on the next poll: serialized packets, or TCP
   * segments handed over as reprs (see #sendTcp).
   */
  #localQueue: (Uint8Array | LocalSegment)[] = [];

  readonly stats: StackStats = { rxFrames: 0, txFrames: 0, rxDropped: 0, tcpRstSent: 0, reassembled: 0, localSegments: 0 };
  /** MIB counters for /proc/net/snmp (derived: a restore starts them at zero, as a new namespace's). */
  readonly mib: StackMib = {
    tcpActiveOpens: 0, tcpPassiveOpens: 0, tcpAttemptFails: 0, tcpEstabResets: 0, tcpInSegs: 0,
    tcpOutSegs: 0, tcpRetransSegs: 0, tcpOutRsts: 0, udpInDatagrams: 0, udpNoPorts: 0, udpOutDatagrams: 0,
  };

  constructor(opts: StackOptions = {}) {
    this.#rng = new Prng(opts.seed ?? 1);
    this.#isnSecret = this.#rng.nextU32();
    this.#tcpDefaults = opts.tcp ?? {};
    this.#trace = opts.trace ?? null;
    this.#tap = opts.tap ?? null;
    this.#forwarding = opts.forwarding ?? false;
  }

  // ===================================================================
  // Configuration.
  // ===================================================================

  /** Adds an interface and on-link routes for its addresses. */
  addInterface(opts: InterfaceOptions): Interface {
    const iface = new Interface(this.#interfaces.length, opts);
    this.#interfaces.push(iface);
    for (const c of iface.addresses) this.#addOnLinkRoute(iface, c);
    return iface;
  }

  get interfaces(): readonly Interface[] {
    return this.#interfaces;
  }

  /**
   * Takes interface `ifIndex` out (a TUN/TAP device deleted): its addresses, routes and
   * neighbors go and it receives nothing more. Its slot stays, removed, so that no index is
   * ever reused (as Linux's ifindex); sockets bound to it keep the number and match nothing.
   */
  removeInterface(ifIndex: number): void {
    const iface = this.#interfaces[ifIndex];
    if (!iface || iface.removed) throw EINVAL;
    iface.remove();
    this.routes.remove((r) => r.ifIndex === ifIndex);
  }

  /**
   * Brings interface `ifIndex` up or down (IFF_UP). Down, its addresses are not ours and its
   * routes lead nowhere (Linux's fib_disable_ip); connections already made stay, as on Linux,
   * until their packets find no route.
   */
  setUp(ifIndex: number, up: boolean): void {
    const iface = this.#interfaces[ifIndex];
    if (!iface || iface.removed) throw EINVAL;
    iface.setUp(up);
    this.routes.setInterfaceDown(ifIndex, !up);
  }

  /** Adds an address (and its on-link route) to interface `ifIndex`. */
  addAddress(ifIndex: number, cidr: IpCidr | string): void {
    const iface = this.#interfaces[ifIndex];
    if (!iface) throw EINVAL;
    const c = typeof cidr === "string" ? IpCidr.parse(cidr) : cidr;
    iface.addAddress(c);
    this.#addOnLinkRoute(iface, c);
  }

  /** Adds a route; a gateway route's interface must already exist. */
  addRoute(r: Route): void {
    this.routes.add(r);
  }

  #addOnLinkRoute(iface: Interface, c: IpCidr): void {
    this.routes.add({ cidr: new IpCidr(c.address, c.prefixLength), gateway: null, ifIndex: iface.index });
  }

  /** Whether `a` is one of our addresses on any interface. */
  isLocalAddress(a: IpAddress): boolean {
    // A loop, not some(): this runs for every segment sent (see #sendTcp).
    for (const i of this.#interfaces) if (i.hasAddress(a)) return true;
    // As on Linux, an IPv4 address on the loopback device makes its whole network local (all of
    // 127/8 with 127.0.0.1/8); interfaces not marked loopback keep the older rule for 127/8.
    for (const i of this.#interfaces) if (i.localNetworkOf(a) !== null) return true;
    return a.version === 4 && a.isLoopback && !this.#interfaces.some((i) => i.loopback) && this.#loopbackSource() !== null;
  }

  /** The address a packet to local `dst` comes from: dst itself if we hold it, else the loopback address whose network holds it. */
  #localSource(dst: IpAddress): IpAddress {
    if (this.#interfaces.some((i) => i.hasAddress(dst))) return dst;
    for (const i of this.#interfaces) {
      const src = i.localNetworkOf(dst);
      if (src !== null) return src;
    }
    return this.#loopbackSource()!;
  }

  /**
   * Whether a socket may bind `a`: one of our addresses, as isLocalAddress, or one assigned to
   * an interface that is down (Linux's local table keeps a down device's IPv4 addresses, so
   * bind succeeds where connect finds no route; a down lo's IPv6 address is gone, see Net).
   */
  isBindableAddress(a: IpAddress): boolean {
    if (this.isLocalAddress(a)) return true;
    for (const i of this.#interfaces) if (i.holdsAddress(a)) return true;
    if (a.version !== 4) return false;
    // A down lo keeps its addresses' local prefix routes as it keeps the addresses.
    for (const i of this.#interfaces) if (i.loopback) for (const c of i.addresses) if (c.address.version === 4 && c.contains(a)) return true;
    if (!a.isLoopback) return false;
    for (const i of this.#interfaces) for (const c of i.addresses) if (c.address.version === 4 && c.address.isLoopback) return true;
    return false;
  }

  /** An IPv4 loopback address we hold, if any. */
  #loopbackSource(): IpAddress | null {
    for (const i of this.#interfaces) {
      if (!i.up) continue;
      for (const c of i.addresses) if (c.address.version === 4 && c.address.isLoopback) return c.address;
    }
    return null;
  }

  // ===================================================================
  // Sockets.
  // ===================================================================

  tcpSocket(opts: TcpOptions = {}): TcpSocket {
    return new TcpSocket(this, { ...this.#tcpDefaults, ...opts });
  }

  udpSocket(opts: UdpOptions = {}): UdpSocket {
    const s = new UdpSocket(this, opts);
    this.#udpSockets.add(s);
    return s;
  }

  /** A raw IP socket of IP version `version` for IP protocol `protocol`. */
  rawSocket(version: 4 | 6, protocol: number): RawSocket {
    const s = new RawSocket(this, version, protocol);
    this.#rawSockets.add(s);
    return s;
  }

  rawUnregister(sock: RawSocket): void {
    this.#rawSockets.delete(sock);
  }

  /** A packet socket (AF_PACKET) bound to ethertype `protocol` (host order; 0: none yet). */
  packetSocket(protocol: number): PacketSocket {
    const s = new PacketSocket(this, protocol);
    this.#packetSockets.add(s);
    return s;
  }

  packetUnregister(sock: PacketSocket): void {
    this.#packetSockets.delete(sock);
  }

  /**
   * Copies a frame lo carries to the packet sockets that take it, as Linux's loopback shows
   * it: once leaving (PACKET_OUTGOING, to ETH_P_ALL sockets but the sender's own) and once
   * arriving (PACKET_HOST).
   */
  #deliverPacket(ethertype: number, data: Uint8Array, sender: PacketSocket | null, link?: Uint8Array): void {
    if (this.#packetSockets.size === 0) return;
    for (const pktType of [PACKET_OUTGOING, PACKET_HOST]) {
      for (const s of this.#packetSockets) {
        if (pktType === PACKET_OUTGOING && s === sender) continue;
        if (s.accepts(0, ethertype, pktType)) s.deliver({ ifIndex: 0, protocol: ethertype, pktType, data, ...(link ? { link } : {}) });
      }
    }
  }

  /** A packet we send ourselves: the tap and the packet sockets see it. */
  #loopbackOut(now: number, pkt: Uint8Array): void {
    this.#tap?.(now, pkt);
    if (this.#packetSockets.size > 0) this.#deliverPacket((pkt[0]! >> 4) === 6 ? 0x86dd : 0x0800, pkt, null);
  }

  /**
   * Sends what a packet socket queued. On lo the frame is looped back: packet sockets see it,
   * and an IPv4/IPv6 one is taken in as received. Other interfaces are not reached yet: the
   * frame is dropped.
   */
  #sendPacket(now: number, p: PacketSend, sock: PacketSocket): void {
    if (p.ifIndex !== 0) return;
    this.#tap?.(now, p.data);
    this.#deliverPacket(p.protocol, p.data, sock, p.link);
    const d = p.data;
    if (p.protocol === 0x0800 && d.length >= IPV4_HEADER_LEN && (d[0]! >> 4) === 4) {
      // Taken in as arriving on lo, so routed afresh (ip_route_input_slow): a 127/8 source or
      // destination is martian without route_localnet, a local source without accept_local.
      if ((d[12] === 127 || d[16] === 127) && this.loConf.loRouteLocalnet === 0) return;
      if (this.loConf.loAcceptLocal === 0 && this.isLocalAddress(new Ipv4Address(d.subarray(12, 16)))) return;
      this.#localQueue.push(d);
    } else if (p.protocol === 0x86dd && d.length >= IPV6_HEADER_LEN && (d[0]! >> 4) === 6) {
      this.#localQueue.push(d);
    }
  }

  /** Whether some raw socket takes packets of this protocol (they then must be real packets). */
  #rawWants(protocol: number): boolean {
    if (this.#rawSockets.size === 0) return false;
    for (const s of this.#rawSockets) if (s.protocol === protocol) return true;
    return false;
  }

  icmpSocket(): IcmpSocket {
    const s = new IcmpSocket(this);
    this.#icmpSockets.add(s);
    return s;
  }

  /**
   * Every TCP socket the stack holds (a checkpoint's walk): connections, listeners and bound
   * sockets, those no application holds any more (TIME-WAIT, an orphan finishing its close,
   * a connection not yet accepted) included.
   */
  get tcpSockets(): TcpSocket[] {
    return [...new Set([...this.#tcpLive, ...this.#tcpPorts.owners()])];
  }

  /**
   * The ephemeral port range of TCP and UDP (net.ipv4.ip_local_port_range), inclusive. Set it
   * with 1 <= low <= high <= 65535.
   */
  get ephemeralRange(): [number, number] {
    return this.#tcpPorts.ephemeralRange;
  }
  set ephemeralRange(r: [number, number]) {
    this.#tcpPorts.ephemeralRange = r;
    this.#udpPorts.ephemeralRange = r;
    this.#udpLitePorts.ephemeralRange = r;
  }

  /** Every open UDP socket. */
  get udpSocketList(): UdpSocket[] {
    return [...this.#udpSockets];
  }

  /**
   * State a checkpoint does not save: packets queued to ourselves, SYNs and datagrams held for
   * the host, fragments being reassembled, sends waiting on neighbor resolution. Named, or null.
   */
  get unsavedTraffic(): string | null {
    if (this.#localQueue.length > 0) return "packets in flight on loopback";
    if (this.#heldSyns.size > 0 || this.#newSyns.length > 0 || this.#heldDatagrams.length > 0) return "connections or datagrams held for the host";
    if (!this.#reassembler.isEmpty) return "IP fragments being reassembled";
    if (this.#blocked.size > 0) return "sends waiting on neighbor resolution";
    return null;
  }

  /** Live TCP connections (not listeners), for tests. */
  get tcpConnectionCount(): number {
    return this.#tcpConns.size;
  }

  // --- TcpHost. ---

  tcpBind(sock: TcpSocket, addr: IpAddress | null, port: number, restoring = false): number {
    if (addr !== null && !this.isBindableAddress(addr)) throw EADDRNOTAVAIL;
    // A restore checks listeners and bound sockets against each other only: the connections
    // it restored first got their ports by the rules (a listener's own, say).
    // Linux's bucket fast path (inet_csk_get_port's tb->fastreuse / sk_reuseport_match) admits
    // a bind the pairwise rule would refuse: SO_REUSEADDR, then SO_REUSEADDR+SO_REUSEPORT, then
    // SO_REUSEPORT alone all share a port there.
    if (port !== 0 && !restoring && tcpFastReuse(sock, addr, this.#tcpPorts.entries(port))) {
      return this.#tcpPorts.bind(sock, addr, port, () => false);
    }
    return this.#tcpPorts.bind(sock, addr, port, (other) => !(restoring && other.remote !== null) && tcpPortConflict(sock, addr, other));
  }

  tcpBindForConnect(sock: TcpSocket, local: IpAddress, remote: TcpEndpoint, now = 0): number {
    return this.#tcpPorts.bindForConnect(sock, local, (p) => {
      const held = this.#tcpConns.get(tcpKey(local, p, remote.addr, remote.port));
      if (held === undefined) return true;
      // net.ipv4.tcp_tw_reuse's default (2: loopback only): a 4-tuple in TIME-WAIT whose last
      // segment came a second ago or more may be taken again (Linux's tcp_twsk_unique).
      if (held.state === "TIME-WAIT" && this.isLocalAddress(remote.addr) && now - held.lastReceived >= 1000) {
        held.abort();
        return true;
      }
      return false;
    });
  }

  tcpCanListen(sock: TcpSocket): boolean {
    // listen(2) passes the bucket's check again, its SO_REUSEPORT fast path included.
    if (tcpFastReuse(sock, sock.localAddr, this.#tcpPorts.entries(sock.localPort), true)) return true;
    return !this.#tcpPorts.conflicted(sock, sock.localAddr, sock.localPort, (other) => tcpPortConflict(sock, sock.localAddr, other));
  }

  tcpInheritPort(sock: TcpSocket): void {
    this.#tcpPorts.add(sock, sock.localAddr, sock.localPort);
  }

  tcpUnbind(sock: TcpSocket): void {
    this.#tcpPorts.unbind(sock, sock.localPort);
  }

  tcpRegister(sock: TcpSocket): void {
    const k = tcpKey(sock.localAddr!, sock.localPort, sock.remote!.addr, sock.remote!.port);
    const held = this.#tcpConns.get(k);
    if (held !== undefined && held !== sock) throw EADDRINUSE;
    this.#tcpConns.set(k, sock);
    this.#localPeers.clear();
    this.#tcpLive.add(sock);
    this.#tcpActive.add(sock);
  }

  tcpUnregister(sock: TcpSocket): void {
    const k = tcpKey(sock.localAddr!, sock.localPort, sock.remote!.addr, sock.remote!.port);
    if (this.#tcpConns.get(k) === sock) this.#tcpConns.delete(k);
    this.#localPeers.clear();
    this.#tcpLive.delete(sock);
    this.#tcpActive.delete(sock);
    this.#tcpTimers.cancel(sock);
    this.#blocked.delete(sock);
  }

  tcpWake(sock: TcpSocket): void {
    if (this.#tcpLive.has(sock)) this.#tcpActive.add(sock);
  }

  tcpRoute(dst: IpAddress): { src: IpAddress; mtu: number; offload?: number } | null {
    const r = this.#routeInfo(dst);
    // Segments to ourselves are handed over as reprs (see #sendTcp), so they need not be cut
    // to the MSS: segmentation offload, as a loopback device with GSO takes them.
    if (r !== null && this.#tap === null && this.isLocalAddress(dst)) return { ...r, offload: LOCAL_OFFLOAD };
    return r;
  }

  tcpIsn(now: number, local: TcpEndpoint, remote: TcpEndpoint): SeqNumber {
    // RFC 6528: a 4-microsecond clock plus a keyed hash of the 4-tuple.
    const h = fnv1a(`${local.addr}|${local.port}|${remote.addr}|${remote.port}`, this.#isnSecret);
    return seq(Math.floor(now * 250) + h);
  }

  tcpTrace(sock: TcpSocket, msg: string): void {
    if (this.#trace) {
      const r = sock.remote;
      this.#trace(`tcp ${sock.localAddr ?? "*"}:${sock.localPort}-${r ? `${r.addr}:${r.port}` : "*"} ${msg}`);
    }
  }

  // --- UdpHost. ---

  udpBind(sock: UdpSocket, addr: IpAddress | null, port: number): number {
    // A local, multicast or broadcast address (Linux's inet_bind takes RTN_BROADCAST too).
    if (addr !== null && !this.isBindableAddress(addr) && !addr.isMulticast && !(addr.version === 4 && this.isBroadcastAddress(addr))) {
      throw EADDRNOTAVAIL;
    }
    return this.#udpPortsOf(sock.lite).bind(
      sock,
      addr,
      port,
      (other) =>
        devicesOverlap(sock.boundDevice, other.boundDevice) &&
        versionsOverlap(addr, sock.wildcardVersion, other.localAddr, other.wildcardVersion) &&
        !(sock.reusePort && other.reusePort) && !(sock.reuseAddr && other.reuseAddr),
      true,
    );
  }

  udpReleasePort(sock: UdpSocket): void {
    this.#udpPortsOf(sock.lite).unbind(sock, sock.localPort);
  }

  udpUnbind(sock: UdpSocket): void {
    this.#udpPortsOf(sock.lite).unbind(sock, sock.localPort);
    this.#udpSockets.delete(sock);
    this.#blocked.delete(sock);
  }

  udpRoute(dst: IpAddress, sock?: UdpSocket): { src: IpAddress; mtu: number } | null {
    if ((dst.isMulticast || this.isBroadcastAddress(dst)) && sock !== undefined) {
      const i = this.multicastIface(sock, dst);
      if (i === null) return null;
      const iface = this.#interfaces[i]!;
      const bound = sock.localAddr !== null && !sock.localAddr.isMulticast ? sock.localAddr : null;
      const src = sock.multicastIfAddr ?? bound ?? iface.sourceFor(dst) ?? (dst.version === 4 ? this.#loopbackSource() : null);
      return src === null ? null : { src, mtu: iface.ipMtu };
    }
    return this.#routeInfo(dst);
  }

  /** Whether `a` is the limited broadcast address or an interface's directed broadcast. */
  isBroadcastAddress(a: IpAddress): boolean {
    if (a.version === 4 && (a as Ipv4Address).isBroadcast) return true;
    for (const i of this.#interfaces) if (i.up) for (const c of i.addresses) if (c.broadcast()?.equals(a)) return true;
    return false;
  }

  /** The stack index of the interface holding unicast address `a`, or null (127/8 is lo's). */
  interfaceOf(a: IpAddress): number | null {
    for (const i of this.#interfaces) if (i.hasAddress(a)) return i.index;
    if (this.isLocalAddress(a)) {
      const lo = this.#interfaces.find((i) => isLoopbackInterface(i));
      if (lo) return lo.index;
    }
    return null;
  }

  /**
   * The interface multicast from `sock` to `group` leaves by, as Linux picks it: IP_MULTICAST_IF
   * (an interface, or the one holding its address), else the one holding the socket's bound
   * address, else the route to the group; null if none (ENETUNREACH).
   */
  multicastIface(sock: UdpSocket, group: IpAddress): number | null {
    if (group.isMulticast) {
      if (sock.multicastIf >= 0 && this.#interfaces[sock.multicastIf]) return sock.multicastIf;
      if (sock.multicastIfAddr !== null) return this.interfaceOf(sock.multicastIfAddr);
    }
    if (sock.localAddr !== null && !sock.localAddr.isMulticast) {
      const i = this.interfaceOf(sock.localAddr);
      if (i !== null) return i;
    }
    const r = this.routes.lookup(group);
    return r && this.#interfaces[r.ifIndex] ? r.ifIndex : null;
  }

  /** Whether any socket of this stack joined `group` on interface `iface` (stack index). */
  #joined(group: IpAddress, iface: number): boolean {
    for (const s of this.#udpSockets) {
      for (const g of s.groups) if (g.iface === iface && g.group.equals(group)) return true;
    }
    return false;
  }

  /**
   * Multicast sent on interface `iface` looped back to this host (IP_MULTICAST_LOOP) when a
   * socket joined the group there: every socket bound to the port, to the wildcard or to the
   * group, gets a copy, members or not (Linux's IP_MULTICAST_ALL, on by default), SO_REUSEPORT
   * groups included.
   */
  #loopMulticast(now: number, d: Datagram, iface: number, lite: boolean): void {
    if (!this.#joined(d.dst.addr, iface)) return;
    for (const s of this.#udpPortsOf(lite).holders(d.dst.port)) {
      if (s.localAddr !== null && !s.localAddr.equals(d.dst.addr)) continue;
      if (!s.accepts(d.src, d.dst.addr)) continue;
      s.deliver(d.src, d.dst, d.data, localMeta(now, d));
    }
  }

  /** UDP's ports, or UDP-Lite's. */
  #udpPortsOf(lite: boolean): PortTable<UdpSocket> {
    return lite ? this.#udpLitePorts : this.#udpPorts;
  }

  // --- IcmpHost. ---

  icmpBind(sock: IcmpSocket, ident: number): number {
    if (ident === 0) ident = 1 + this.#rng.below(0xfffe);
    return this.#icmpIdents.bind(sock, null, ident, () => true);
  }

  icmpUnbind(sock: IcmpSocket): void {
    this.#icmpIdents.unbind(sock, sock.ident);
    this.#icmpSockets.delete(sock);
  }

  icmpRoute(dst: IpAddress): { src: IpAddress; mtu: number } | null {
    return this.#routeInfo(dst);
  }

  #routeInfo(dst: IpAddress): { src: IpAddress; mtu: number } | null {
    if (this.isLocalAddress(dst)) return { src: this.#localSource(dst), mtu: this.localMtu };
    const r = this.routes.lookup(dst);
    if (!r) return null;
    const iface = this.#interfaces[r.ifIndex];
    if (!iface) return null;
    const src = iface.sourceFor(r.gateway ?? dst);
    return src === null ? null : { src, mtu: iface.ipMtu };
  }

  // ===================================================================
  // Polling.
  // ===================================================================

  /** Moves frames in and out; true if anything happened. Call again while true. */
  poll(now: number): boolean {
    let changed = this.#deliverLocal(now);
    for (const iface of this.#interfaces) {
      if (iface.removed) continue;
      for (let i = 0; i < RX_BUDGET; i++) {
        const f = iface.device.receive(now);
        if (f === null) break;
        this.stats.rxFrames++;
        changed = true;
        this.#receiveFrame(now, iface, f);
      }
    }
    if (!this.#reassembler.isEmpty) this.#reassembler.expire(now);
    const due = this.#tcpTimers.peek();
    if (due !== null && due <= now) for (const s of this.#tcpTimers.popDue(now)) this.#tcpActive.add(s);
    // Local traffic moves several hops per poll (data, its ACK, the data that ACK lets out),
    // sparing the caller a poll round per hop; bounded so that devices get their turn.
    for (let hop = 0; hop < LOCAL_HOPS; hop++) {
      if (this.#dispatchTcp(now)) changed = true;
      if (!this.#deliverLocal(now)) break;
    }
    for (const s of this.#udpSockets) {
      if (this.#isBlocked(s, now)) continue;
      if (s.dispatch(now, (d) => this.#sendUdp(now, s, d))) changed = true;
    }
    for (const s of this.#icmpSockets) {
      if (s.dispatch(now, (m) => this.#sendEcho(now, m))) changed = true;
    }
    for (const s of this.#rawSockets) {
      if (this.#isBlocked(s, now)) continue;
      if (s.dispatch((p, sock) => this.#sendRaw(now, p, sock))) changed = true;
    }
    for (const s of this.#packetSockets) {
      if (s.dispatch((p, sock) => this.#sendPacket(now, p, sock))) changed = true;
    }
    return changed;
  }

  /** Delivers what was queued for ourselves (see #sendTcp); false if nothing was. */
  #deliverLocal(now: number): boolean {
    if (this.#localQueue.length === 0) return false;
    const q = this.#localQueue;
    this.#localQueue = [];
    for (const pkt of q) {
      if (pkt instanceof Uint8Array) this.#receiveIp(now, null, pkt);
      else this.#deliverTcp(now, pkt.src, pkt.dst, pkt.seg, null, pkt.from);
    }
    return true;
  }

  /** Lets every active TCP connection emit; true if any sent something. */
  #dispatchTcp(now: number): boolean {
    if (this.#tcpActive.size === 0) return false;
    let sent = false;
    // The batch is the active set itself, swapped for the spare (empty) one that collects the
    // connections woken meanwhile: no array per dispatch.
    const batch = this.#tcpActive;
    this.#tcpActive = this.#tcpSpare;
    this.#tcpSpare = batch;
    for (const s of batch) {
      if (!this.#isBlocked(s, now) && s.dispatch(now, (src, dst, r) => this.#sendTcp(now, s, src, dst, r))) {
        sent = true;
      }
      this.#rescheduleTcp(s, now);
    }
    batch.clear();
    return sent;
  }

  /** Files a connection after dispatch: active again if it has more to send, else by deadline. */
  #rescheduleTcp(s: TcpSocket, now: number): void {
    if (!this.#tcpLive.has(s)) return;
    const t = this.#blockedAt(s, s.pollAt(now));
    if (t !== null && t <= now) this.#tcpActive.add(s);
    else this.#tcpTimers.schedule(s, t);
  }

  /**
   * Whether a poll now would do something: segments queued to ourselves or connections the
   * application or a segment woke (timers aside: see pollAt). False after a socket call that
   * changed nothing the stack must act on, e.g. a recv that owes the peer no window update.
   */
  get hasWork(): boolean {
    return this.#localQueue.length > 0 || this.#tcpActive.size > 0;
  }

  /** When to poll next: `now` if there is work, a deadline, or null if idle. */
  pollAt(now: number): number | null {
    if (this.#localQueue.length > 0 || this.#tcpActive.size > 0) return now;
    let t = this.#tcpTimers.peek();
    for (const s of this.#udpSockets) t = earlier(t, this.#blockedAt(s, s.pollAt(now)));
    for (const s of this.#icmpSockets) t = earlier(t, s.pollAt(now));
    for (const s of this.#rawSockets) t = earlier(t, this.#blockedAt(s, s.pollAt(now)));
    for (const s of this.#packetSockets) t = earlier(t, s.pollAt(now));
    if (!this.#reassembler.isEmpty) t = earlier(t, this.#reassembler.nextExpiry());
    return t === null ? null : Math.max(t, now);
  }

  #isBlocked(sock: object, now: number): boolean {
    const until = this.#blocked.get(sock);
    if (until === undefined) return false;
    if (until <= now) {
      this.#blocked.delete(sock);
      return false;
    }
    return true;
  }

  #blockedAt(sock: object, at: number | null): number | null {
    const until = this.#blocked.get(sock);
    return at === null || until === undefined ? at : Math.max(at, until);
  }

  /** CurrEstab of /proc/net/snmp: connections in ESTABLISHED or CLOSE-WAIT. */
  tcpCurrEstab(): number {
    let n = 0;
    for (const c of this.#tcpConns.values()) if (c.state === "ESTABLISHED" || c.state === "CLOSE-WAIT") n++;
    return n;
  }

  /** A connection changed state: the opens, failures and resets of /proc/net/snmp, as Linux counts them. */
  tcpStateChanged(_sock: TcpSocket, prev: TcpState, next: TcpState): void {
    const m = this.mib;
    if (next === "SYN-SENT") m.tcpActiveOpens++;
    else if (next === "SYN-RECEIVED" && prev === "CLOSED") m.tcpPassiveOpens++;
    else if (next === "CLOSED") {
      if (prev === "SYN-SENT" || prev === "SYN-RECEIVED") m.tcpAttemptFails++;
      else if (prev === "ESTABLISHED" || prev === "CLOSE-WAIT") m.tcpEstabResets++;
    }
  }

  // ===================================================================
  // Egress.
  // ===================================================================

  #sendTcp(now: number, sock: TcpSocket, src: IpAddress, dst: IpAddress, r: TcpRepr): boolean {
    this.mib.tcpOutSegs++;
    if (r.rst) this.mib.tcpOutRsts++;
    if (this.#tap === null && this.#packetSockets.size === 0 && this.isLocalAddress(dst) && !this.#rawWants(IpProtocol.TCP)) {
      // Loopback fast path, like a NIC with checksum and segmentation offload: the segment is
      // handed over as a repr, never serialized, checksummed or parsed, and its payload is
      // the sender's view of its send queue, not a copy. The view stays valid until delivery
      // for every byte the receiver may still take: send-queue bytes are overwritten only
      // after the peer acknowledged them, and the peer never reads below its RCV.NXT. With
      // a tap (pcap) the packet is serialized below so that captures are real packets.
      this.#localQueue.push({ src, dst, seg: asReceived(r), from: sock });
      this.stats.localSegments++;
      return true;
    }
    const len = tcpHeaderLen(r) + r.payload.length;
    if (len > 0xffff - (dst.version === 4 ? IPV4_HEADER_LEN : 0)) {
      // An offloaded segment (see tcpRoute) whose destination stopped being local: too big
      // for an IP packet. Dropped as on a lossy link; the retransmission is MSS-sized.
      this.#drop();
      return true;
    }
    const res = this.#sendIp(now, src, dst, IpProtocol.TCP, len, (b) => emitTcp(r, TcpPacket.unchecked(b), { src, dst }));
    return this.#noteResult(sock, now, res);
  }

  #sendUdp(now: number, sock: UdpSocket, d: Datagram): boolean {
    if (!sock.lite) this.mib.udpOutDatagrams++;
    if (this.isBroadcastAddress(d.dst.addr)) {
      // A broadcast leaves by the bound address's interface, else the route; out of lo it
      // comes back to the port's sockets bound to the wildcard or to that address.
      const i = this.multicastIface(sock, d.dst.addr);
      if (i !== null && isLoopbackInterface(this.#interfaces[i]!)) {
        for (const s of this.#udpPortsOf(sock.lite).holders(d.dst.port)) {
          if (s.localAddr !== null && !s.localAddr.equals(d.dst.addr)) continue;
          if (!s.accepts(d.src, d.dst.addr)) continue;
          s.deliver(d.src, d.dst, d.data, localMeta(now, d));
        }
        return true;
      }
    }
    if (d.dst.addr.isMulticast) {
      // Multicast: out of lo it comes straight back in, loop or not; out of another interface
      // a copy comes back to this host's members with IP_MULTICAST_LOOP (Linux's
      // ip_mc_output), which no interface here needs beyond that yet.
      const i = this.multicastIface(sock, d.dst.addr);
      if (i === null) return true;
      const lo = isLoopbackInterface(this.#interfaces[i]!);
      if (lo || sock.multicastLoop) this.#loopMulticast(now, d, i, sock.lite);
      if (lo) return true;
    }
    const len = UDP_HEADER_LEN + d.data.length;
    const ports = { srcPort: d.src.port, dstPort: d.dst.port };
    const res = sock.lite
      ? this.#sendIp(now, d.src.addr, d.dst.addr, IpProtocol.UDPLITE, len, (b) =>
        emitUdpLite(ports, b.subarray(0, len), { src: d.src.addr, dst: d.dst.addr, payload: d.data, field: d.field ?? len }), d.ttl ?? DEFAULT_HOP_LIMIT, undefined, d.tos ?? 0)
      : this.#sendIp(now, d.src.addr, d.dst.addr, IpProtocol.UDP, len, (b) =>
        emitUdp(ports, UdpPacket.unchecked(b), {
          src: d.src.addr,
          dst: d.dst.addr,
          payload: d.data,
        }), d.ttl ?? DEFAULT_HOP_LIMIT, undefined, d.tos ?? 0);
    // A datagram that cannot be routed is dropped, as on Linux after connect-time checks.
    if (res === "noroute") return true;
    return this.#noteResult(sock, now, res);
  }

  #sendEcho(now: number, m: EchoMessage): boolean {
    const src = m.local ?? this.#routeInfo(m.peer)?.src;
    if (!src) return true;
    const res = this.#sendIcmp(now, src, m.peer, { kind: "echoRequest", ident: m.ident, seqNo: m.seqNo, data: m.data });
    return res !== "full" && res !== "unresolved";
  }

  /**
   * Turns a send result into the socket's "sent?" and remembers blocking: a
   * socket waiting on neighbor resolution retries with the next request, one
   * facing a full device queue after a millisecond rather than spinning.
   */
  #noteResult(sock: object, now: number, res: SendResult): boolean {
    if (res === "sent") return true;
    if (res === "unresolved") this.#blocked.set(sock, now + NEIGHBOR_RETRY);
    if (res === "full") this.#blocked.set(sock, now + 1);
    return false;
  }

  /** Sends an ICMP message of either family. */
  #sendIcmp(
    now: number,
    src: IpAddress,
    dst: IpAddress,
    r: Icmpv4Repr | Icmpv6Repr,
    link: { hopLimit?: number; iface?: Interface } = {},
  ): SendResult {
    if (src.version === 4 && dst.version === 4) {
      const r4 = r as Icmpv4Repr;
      return this.#sendIp(now, src, dst, IpProtocol.ICMP, icmpv4Len(r4), (b) => emitIcmpv4(r4, Icmpv4Packet.unchecked(b)));
    }
    const r6 = r as Icmpv6Repr;
    return this.#sendIp(
      now,
      src,
      dst,
      IpProtocol.ICMPV6,
      icmpv6Len(r6),
      (b) => emitIcmpv6(r6, Icmpv6Packet.unchecked(b), { src: src as Ipv6Address, dst: dst as Ipv6Address }),
      link.hopLimit,
      link.iface,
    );
  }

  /**
   * Routes and sends one IP packet whose upper-layer part `fill` writes into
   * a `len`-byte buffer. IPv4 packets larger than the link MTU are
   * fragmented; IPv6 ones are refused (no fragment header support).
   */
  #sendIp(
    now: number,
    src: IpAddress,
    dst: IpAddress,
    protocol: number,
    len: number,
    fill: (b: Uint8Array) => void,
    hopLimit = DEFAULT_HOP_LIMIT,
    via?: Interface,
    tos = 0,
  ): SendResult {
    const ipHdr = dst.version === 4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN;
    if (this.isLocalAddress(dst)) {
      const pkt = new Uint8Array(ipHdr + len);
      this.#writeIpHeader(pkt, src, dst, protocol, len, hopLimit, this.#nextIdent(), tos);
      fill(pkt.subarray(ipHdr));
      this.#loopbackOut(now, pkt);
      this.#localQueue.push(pkt);
      return "sent";
    }
    const route: Route | null = via
      ? { cidr: new IpCidr(dst, dst.version === 4 ? 32 : 128), gateway: null, ifIndex: via.index }
      : this.routes.lookup(dst);
    const iface = route ? this.#interfaces[route.ifIndex] : undefined;
    if (!route || !iface) return "noroute";
    let dstMac: EthernetAddress | null = null;
    if (iface.medium === "ethernet") {
      dstMac = this.#resolve(now, iface, route.gateway ?? dst);
      if (dstMac === null) return "unresolved";
    }
    const link = iface.medium === "ethernet" ? ETHERNET_HEADER_LEN : 0;
    if (ipHdr + len > iface.ipMtu) {
      if (dst.version === 6) {
        return this.#sendFragmented6(now, iface, dstMac, { src: src as Ipv6Address, dst, protocol, len, fill, hopLimit });
      }
      return this.#sendFragmented(now, iface, dstMac, { src, dst, protocol, len, fill, hopLimit });
    }
    const ident = this.#nextIdent();
    const ok = iface.device.transmit(now, link + ipHdr + len, (buf) => {
      if (dstMac !== null) {
        emitEthernet(
          { dst: dstMac, src: iface.mac!, ethertype: dst.version === 4 ? EtherType.IPV4 : EtherType.IPV6 },
          EthernetFrame.unchecked(buf),
        );
      }
      const ip = buf.subarray(link);
      this.#writeIpHeader(ip, src, dst, protocol, len, hopLimit, ident, tos);
      fill(ip.subarray(ipHdr));
    });
    if (!ok) return "full";
    this.stats.txFrames++;
    return "sent";
  }

  #nextIdent(): number {
    this.#ipIdent = (this.#ipIdent + 1) & 0xffff;
    return this.#ipIdent;
  }

  #writeIpHeader(
    ip: Uint8Array,
    src: IpAddress,
    dst: IpAddress,
    protocol: number,
    len: number,
    hopLimit: number,
    ident: number,
    tos = 0,
  ): void {
    if (dst.version === 4) {
      emitIpv4(
        { src: src as Ipv4Address, dst, protocol, payloadLength: len, hopLimit },
        Ipv4Packet.unchecked(ip),
        { ident, tos },
      );
    } else {
      emitIpv6(
        { src: src as Ipv6Address, dst, nextHeader: protocol, payloadLength: len, hopLimit },
        Ipv6Packet.unchecked(ip),
        tos,
      );
    }
  }

  /** RFC 791 §3.2 fragmentation: 8-byte-aligned pieces, MF on all but the last. */
  #sendFragmented(
    now: number,
    iface: Interface,
    dstMac: EthernetAddress | null,
    p: {
      src: IpAddress;
      dst: Ipv4Address;
      protocol: number;
      len: number;
      fill: (b: Uint8Array) => void;
      hopLimit: number;
    },
  ): SendResult {
    const whole = new Uint8Array(p.len);
    p.fill(whole);
    const maxData = (iface.ipMtu - IPV4_HEADER_LEN) & ~7;
    const ident = this.#nextIdent();
    const link = dstMac !== null ? ETHERNET_HEADER_LEN : 0;
    for (let off = 0; off < p.len; off += maxData) {
      const chunk = whole.subarray(off, Math.min(p.len, off + maxData));
      const more = off + chunk.length < p.len;
      const ok = iface.device.transmit(now, link + IPV4_HEADER_LEN + chunk.length, (buf) => {
        if (dstMac !== null) {
          emitEthernet({ dst: dstMac, src: iface.mac!, ethertype: EtherType.IPV4 }, EthernetFrame.unchecked(buf));
        }
        const ip = Ipv4Packet.unchecked(buf.subarray(link));
        emitIpv4(
          { src: p.src as Ipv4Address, dst: p.dst, protocol: p.protocol, payloadLength: chunk.length, hopLimit: p.hopLimit },
          ip,
          { ident },
        );
        ip.setFragment(false, more, off);
        ip.fillChecksum();
        buf.set(chunk, link + IPV4_HEADER_LEN);
      });
      if (!ok) return off === 0 ? "full" : "sent"; // a partial datagram is lost, as on a real link
      this.stats.txFrames++;
    }
    return "sent";
  }

  /** RFC 8200 §4.5 fragmentation: a fragment header after the fixed header of each piece. */
  #sendFragmented6(
    now: number,
    iface: Interface,
    dstMac: EthernetAddress | null,
    p: {
      src: Ipv6Address;
      dst: Ipv6Address;
      protocol: number;
      len: number;
      fill: (b: Uint8Array) => void;
      hopLimit: number;
    },
  ): SendResult {
    const whole = new Uint8Array(p.len);
    p.fill(whole);
    const maxData = (iface.ipMtu - IPV6_HEADER_LEN - IPV6_FRAGMENT_HEADER_LEN) & ~7;
    this.#ipv6Ident = (this.#ipv6Ident + 1) >>> 0;
    const ident = this.#ipv6Ident;
    const link = dstMac !== null ? ETHERNET_HEADER_LEN : 0;
    for (let off = 0; off < p.len; off += maxData) {
      const chunk = whole.subarray(off, Math.min(p.len, off + maxData));
      const more = off + chunk.length < p.len;
      const total = IPV6_HEADER_LEN + IPV6_FRAGMENT_HEADER_LEN + chunk.length;
      const ok = iface.device.transmit(now, link + total, (buf) => {
        if (dstMac !== null) {
          emitEthernet({ dst: dstMac, src: iface.mac!, ethertype: EtherType.IPV6 }, EthernetFrame.unchecked(buf));
        }
        const ip = buf.subarray(link);
        emitIpv6({
          src: p.src,
          dst: p.dst,
          nextHeader: Ipv6ExtHeader.FRAGMENT,
          payloadLength: IPV6_FRAGMENT_HEADER_LEN + chunk.length,
          hopLimit: p.hopLimit,
        }, Ipv6Packet.unchecked(ip));
        Ipv6FragmentHeader.unchecked(ip.subarray(IPV6_HEADER_LEN))
          .setAll({ nextHeader: p.protocol, offset: off, more, ident });
        ip.set(chunk, IPV6_HEADER_LEN + IPV6_FRAGMENT_HEADER_LEN);
      });
      if (!ok) return off === 0 ? "full" : "sent";
      this.stats.txFrames++;
    }
    return "sent";
  }

  /** The link address for `nextHop`, sending a resolution request if needed. */
  #resolve(now: number, iface: Interface, nextHop: IpAddress): EthernetAddress | null {
    if (nextHop.version === 4) {
      if (nextHop.isBroadcast || iface.addresses.some((c) => c.broadcast()?.equals(nextHop))) {
        return EthernetAddress.BROADCAST;
      }
      if (nextHop.isMulticast) {
        const b = nextHop.bytes;
        return new EthernetAddress([0x01, 0x00, 0x5e, b[1]! & 0x7f, b[2]!, b[3]!]);
      }
    } else if (nextHop.isMulticast) {
      return nextHop.multicastMac();
    }
    const l = iface.neighbors.lookup(nextHop, now);
    if (l.kind === "found") {
      if (l.refresh) this.#solicit(now, iface, nextHop);
      return l.mac;
    }
    if (l.request) this.#solicit(now, iface, nextHop);
    return null;
  }

  /** Sends an ARP request or an NDP neighbor solicitation for `target`. */
  #solicit(now: number, iface: Interface, target: IpAddress): void {
    if (target.version === 4) {
      const spa = iface.arpSourceFor(target);
      if (spa === null) return;
      const ok = iface.device.transmit(now, ETHERNET_HEADER_LEN + ARP_LEN, (buf) => {
        emitEthernet({ dst: EthernetAddress.BROADCAST, src: iface.mac!, ethertype: EtherType.ARP }, EthernetFrame.unchecked(buf));
        emitArp({
          operation: ArpOperation.REQUEST,
          senderHardware: iface.mac!,
          senderProtocol: spa,
          targetHardware: new EthernetAddress([0, 0, 0, 0, 0, 0]),
          targetProtocol: target,
        }, ArpPacket.unchecked(buf.subarray(ETHERNET_HEADER_LEN)));
      });
      if (ok) this.stats.txFrames++;
      return;
    }
    const src = iface.sourceFor(target);
    if (src === null || src.version !== 6) return;
    this.#sendIcmp(now, src, target.solicitedNode(), {
      kind: "neighborSolicit",
      target,
      sourceLinkAddr: iface.mac,
    }, { hopLimit: 255, iface });
  }

  // ===================================================================
  // Ingress.
  // ===================================================================

  #receiveFrame(now: number, iface: Interface, frame: Uint8Array): void {
    if (iface.medium === "ip") {
      this.#receiveIp(now, iface, frame);
      return;
    }
    const f = EthernetFrame.checked(frame);
    if (!f) return this.#drop();
    if (!f.dstIsGroup && !f.dstIs(iface.mac!)) return this.#drop();
    switch (f.ethertype) {
      case EtherType.ARP:
        this.#receiveArp(now, iface, f.payload);
        return;
      case EtherType.IPV4:
      case EtherType.IPV6:
        this.#receiveIp(now, iface, f.payload);
        return;
      default:
        this.#drop();
    }
  }

  #drop(): void {
    this.stats.rxDropped++;
  }

  #receiveArp(now: number, iface: Interface, bytes: Uint8Array): void {
    const p = ArpPacket.checked(bytes);
    const r = p ? parseArp(p) : null;
    if (!r) return this.#drop();
    const forUs = iface.hasAddress(r.targetProtocol);
    // RFC 826 merge: update an existing entry, or add one if the packet is for us.
    if (forUs || iface.neighbors.has(r.senderProtocol)) {
      if (!r.senderProtocol.isUnspecified) {
        iface.neighbors.fill(r.senderProtocol, r.senderHardware, now);
        this.#unblockAll();
      }
    }
    if (!forUs || r.operation !== ArpOperation.REQUEST) return;
    const ok = iface.device.transmit(now, ETHERNET_HEADER_LEN + ARP_LEN, (buf) => {
      emitEthernet({ dst: r.senderHardware, src: iface.mac!, ethertype: EtherType.ARP }, EthernetFrame.unchecked(buf));
      emitArp({
        operation: ArpOperation.REPLY,
        senderHardware: iface.mac!,
        senderProtocol: r.targetProtocol,
        targetHardware: r.senderHardware,
        targetProtocol: r.senderProtocol,
      }, ArpPacket.unchecked(buf.subarray(ETHERNET_HEADER_LEN)));
    });
    if (ok) this.stats.txFrames++;
  }

  #unblockAll(): void {
    for (const s of this.#blocked.keys()) {
      if (s instanceof TcpSocket && this.#tcpLive.has(s)) this.#tcpActive.add(s);
    }
    this.#blocked.clear();
  }

  /** Handles an IP packet; `iface` is null for packets we sent ourselves. */
  #receiveIp(now: number, iface: Interface | null, bytes: Uint8Array, anyDst = false): void {
    const version = bytes.length > 0 ? bytes[0]! >> 4 : 0;
    if (version === 4) {
      const p = Ipv4Packet.checked(bytes);
      const r = p ? parseIpv4(p) : null;
      if (!p || !r) return this.#drop();
      if (iface ? !this.#accepts(iface, r.dst) : !anyDst && !this.isLocalAddress(r.dst)) return this.#drop();
      let payload = p.payload;
      if (p.isFragment) {
        const whole = this.#reassembler.add(
          now,
          { src: r.src, dst: r.dst, protocol: r.protocol, ident: p.ident },
          { offset: p.fragmentOffset, more: p.moreFragments, data: payload },
        );
        if (whole === null) return;
        this.stats.reassembled++;
        payload = whole;
      }
      this.#receiveTransport(now, iface, r.src, r.dst, r.protocol, payload, bytes, r.hopLimit);
      return;
    }
    if (version === 6) {
      const p = Ipv6Packet.checked(bytes);
      if (!p) return this.#drop();
      const r = parseIpv6(p);
      if (iface ? !this.#accepts(iface, r.dst) : !this.isLocalAddress(r.dst)) return this.#drop();
      let ext = skipIpv6Extensions(r.nextHeader, p.payload);
      if (!ext) return this.#drop();
      let payload = p.payload.subarray(ext.offset);
      if (ext.nextHeader === Ipv6ExtHeader.FRAGMENT) {
        const fh = Ipv6FragmentHeader.checked(payload);
        if (!fh) return this.#drop();
        let whole: Uint8Array | null = fh.payload;
        if (fh.offset !== 0 || fh.moreFragments) {
          whole = this.#reassembler.add(
            now,
            { src: r.src, dst: r.dst, protocol: fh.nextHeader, ident: fh.ident },
            { offset: fh.offset, more: fh.moreFragments, data: fh.payload },
          );
          if (whole === null) return;
          this.stats.reassembled++;
        }
        ext = skipIpv6Extensions(fh.nextHeader, whole);
        if (!ext) return this.#drop();
        payload = whole.subarray(ext.offset);
      }
      this.#receiveTransport(now, iface, r.src, r.dst, ext.nextHeader, payload, bytes, r.hopLimit);
      return;
    }
    this.#drop();
  }

  #receiveTransport(
    now: number,
    iface: Interface | null,
    src: IpAddress,
    dst: IpAddress,
    protocol: number,
    payload: Uint8Array,
    packet: Uint8Array,
    hopLimit: number,
  ): void {
    const raw = this.#rawSockets.size > 0 && this.#deliverRaw(src, dst, protocol, payload, packet, hopLimit);
    switch (protocol) {
      case IpProtocol.TCP:
        return this.#receiveTcp(now, src, dst, payload, iface === null, packet, iface?.index ?? LOOPBACK_DEVICE);
      case IpProtocol.UDP:
        return this.#receiveUdp(now, src, dst, payload, packet, hopLimit, iface?.index ?? LOOPBACK_DEVICE, false);
      case IpProtocol.UDPLITE:
        return this.#receiveUdp(now, src, dst, payload, packet, hopLimit, iface?.index ?? LOOPBACK_DEVICE, true);
      case IpProtocol.ICMP:
        if (src.version === 4) return this.#receiveIcmpv4(now, src, dst as Ipv4Address, payload);
        return this.#drop();
      case IpProtocol.ICMPV6:
        if (src.version === 6) return this.#receiveIcmpv6(now, iface, src, dst as Ipv6Address, payload, hopLimit);
        return this.#drop();
      default:
        // A protocol no one handles is unreachable, unless a raw socket took it (Linux's
        // ip_protocol_deliver_rcu).
        if (!raw) this.#sendUnreachable(now, src, dst, packet, "protocol");
    }
  }

  /**
   * Copies a packet to the raw sockets of its protocol and version (Linux's raw_local_deliver,
   * before the protocol's own handler): IPv4 ones get the IP header (a reassembled packet's,
   * rebuilt whole as ip_frag_reasm leaves it), IPv6 ones the payload. True if any took it.
   */
  #deliverRaw(src: IpAddress, dst: IpAddress, protocol: number, payload: Uint8Array, packet: Uint8Array, hopLimit: number): boolean {
    const v4 = src.version === 4;
    let data: Uint8Array | null = null;
    let any = false;
    for (const s of this.#rawSockets) {
      if (s.version !== src.version || s.protocol !== protocol) continue;
      // IPV6_CHECKSUM: a packet whose checksum does not verify is dropped (rawv6_rcv).
      if (!v4 && s.checksumOffset >= 0 && s.protocol !== IpProtocol.ICMPV6 && !rawChecksumOk(src, dst, protocol, payload, s.checksumOffset)) {
        continue;
      }
      if (!s.accepts(src, dst, payload)) continue;
      if (data === null) data = v4 ? ipv4Whole(packet, payload) : payload;
      const tos = v4 ? packet[1]! : ((packet[0]! & 0x0f) << 4) | (packet[1]! >> 4);
      s.deliver({ src, dst, data, ttl: hopLimit, tos });
      any = true;
    }
    return any;
  }

  /**
   * Sends what a raw socket queued: a payload under a header of the socket's protocol, or
   * (IP_HDRINCL) the application's IPv4 packet, its header completed as Linux's
   * raw_send_hdrinc does (total length and checksum always, identification and source when 0).
   * Either is routed by the send's destination, so a header naming another address still
   * comes back through lo when sent to a local one.
   */
  #sendRaw(now: number, p: RawSend, sock: RawSocket): boolean {
    const route = this.#routeInfo(p.dst);
    if (route === null) return true; // unroutable since the send: dropped
    if (!p.hdrincl) {
      const src = p.src ?? route.src;
      const data = p.data;
      if (p.dst.version === 6 && p.checksumOffset >= 0 && p.checksumOffset + 2 <= data.length) {
        data[p.checksumOffset] = 0;
        data[p.checksumOffset + 1] = 0;
        const c = checksumFinish(checksumAdd(pseudoHeaderSum({ src, dst: p.dst, protocol: sock.protocol, length: data.length }), data));
        data[p.checksumOffset] = c >> 8;
        data[p.checksumOffset + 1] = c & 0xff;
      }
      const res = this.#sendIp(now, src, p.dst, sock.protocol, data.length, (b) => b.set(data), p.ttl, undefined, p.tos);
      if (res === "noroute") return true;
      return this.#noteResult(sock, now, res);
    }
    const pkt = p.data;
    const ihl = (pkt[0]! & 0x0f) * 4;
    if (pkt.length < IPV4_HEADER_LEN || ihl < IPV4_HEADER_LEN || ihl > pkt.length || pkt.length > 0xffff) return true;
    const v = new DataView(pkt.buffer, pkt.byteOffset, pkt.length);
    v.setUint16(2, pkt.length);
    if (v.getUint16(4) === 0) v.setUint16(4, this.#nextIdent());
    if (v.getUint32(12) === 0) pkt.set(route.src.bytes, 12);
    v.setUint16(10, 0);
    v.setUint16(10, checksumFinish(checksumAdd(0, pkt.subarray(0, ihl))));
    if (this.isLocalAddress(p.dst)) {
      this.#loopbackOut(now, pkt);
      this.#receiveIp(now, null, pkt, true);
      return true;
    }
    const r = this.routes.lookup(p.dst);
    const iface = r ? this.#interfaces[r.ifIndex] : undefined;
    // Only links without a link layer carry them (the sandbox's eth0); others drop them.
    if (!iface || iface.medium === "ethernet" || pkt.length > iface.ipMtu) return true;
    if (!iface.device.transmit(now, pkt.length, (buf) => buf.set(pkt))) {
      this.#blocked.set(sock, now + 1);
      return false;
    }
    this.stats.txFrames++;
    return true;
  }

  /** `local` marks a packet we sent ourselves, whose checksum need not be verified. */
  #receiveTcp(now: number, src: IpAddress, dst: IpAddress, bytes: Uint8Array, local: boolean, packet: Uint8Array, dev: number): void {
    const p = TcpPacket.checked(bytes);
    const seg = p ? parseTcp(p, { src, dst, verify: !local }) : null;
    if (!seg) return this.#drop();
    this.#deliverTcp(now, src, dst, seg, packet, null, dev);
  }

  /**
   * Demultiplexes a parsed TCP segment to its connection or listener, or answers with RST (or,
   * forwarding, holds a SYN that came in a `packet` from a device).
   */
  #deliverTcp(
    now: number,
    src: IpAddress,
    dst: IpAddress,
    seg: TcpRepr,
    packet: Uint8Array | null = null,
    from: TcpSocket | null = null,
    dev = LOOPBACK_DEVICE,
  ): void {
    this.mib.tcpInSegs++;
    if (dst.isMulticast || (dst.version === 4 && dst.isBroadcast)) return this.#drop();
    const conn = this.#connFor(dst, seg.dstPort, src, seg.srcPort, from);
    if (conn && !(conn.state === "TIME-WAIT" && seg.syn && seg.ack === null && this.#listenerFor(dst, seg.dstPort, src, seg.srcPort, dev))) {
      conn.process(now, src, dst, seg);
      if (this.#tcpLive.has(conn)) this.#tcpActive.add(conn);
      return;
    }
    if (conn) conn.abort(); // RFC 9293 §3.6.1: a new SYN may reopen a TIME-WAIT connection
    const listener = this.#listenerFor(dst, seg.dstPort, src, seg.srcPort, dev);
    if (listener && !(seg.ack !== null && !seg.rst)) {
      listener.process(now, src, dst, seg);
      return;
    }
    if (this.#forwarding && packet !== null && seg.syn && seg.ack === null && !seg.rst && !dst.isMulticast) {
      const k = tcpKey(dst, seg.dstPort, src, seg.srcPort);
      if (this.#heldSyns.has(k)) return; // a retransmission: the first is being forwarded
      const quoteLen = src.version === 4 ? (packet[0]! & 0x0f) * 4 + 8 : IPV6_HEADER_LEN + 8;
      const h: HeldSyn = {
        src: { addr: src, port: seg.srcPort },
        dst: { addr: dst, port: seg.dstPort },
        seg: { ...seg, sackBlocks: [], payload: seg.payload.slice() },
        quote: packet.slice(0, Math.min(packet.length, quoteLen)),
      };
      this.#heldSyns.set(k, h);
      this.#newSyns.push(h);
      return;
    }
    const rst = rstReplyFor(seg);
    if (!rst) return;
    this.stats.tcpRstSent++;
    const len = tcpHeaderLen(rst);
    this.#sendIp(now, dst, src, IpProtocol.TCP, len, (b) => emitTcp(rst, TcpPacket.unchecked(b), { src: dst, dst: src }));
  }

  /**
   * The connection registered for a 4-tuple. A segment from one of our own connections
   * (`from`) looks its peer up in #localPeers first: a map by object, sparing the string key
   * per segment.
   */
  #connFor(local: IpAddress, localPort: number, remote: IpAddress, remotePort: number, from: TcpSocket | null): TcpSocket | undefined {
    if (from !== null) {
      const c = this.#localPeers.get(from);
      if (c !== undefined) return c;
    }
    const c = this.#tcpConns.get(tcpKey(local, localPort, remote, remotePort));
    if (from !== null && c !== undefined) this.#localPeers.set(from, c);
    return c;
  }

  /** Whether an interface takes a packet for `dst` (a forwarding stack takes any unicast). */
  #accepts(iface: Interface, dst: IpAddress): boolean {
    return iface.acceptsDestination(dst) || (this.#forwarding && !dst.isMulticast);
  }

  // --- Forwarding (StackOptions.forwarding). ---

  /** SYNs held since the last call; each stays held until acceptHeldSyn or refuseHeldSyn. */
  takeHeldSyns(): HeldSyn[] {
    const r = this.#newSyns;
    this.#newSyns = [];
    return r;
  }

  /** Datagrams received for no socket since the last call. */
  takeHeldDatagrams(): HeldDatagram[] {
    const r = this.#heldDatagrams;
    this.#heldDatagrams = [];
    return r;
  }

  /**
   * Answers a held SYN with a SYN-ACK from its destination: the new connection (in
   * SYN-RECEIVED; it becomes ESTABLISHED when the peer's ACK arrives), or null if the SYN is
   * no longer held or the 4-tuple is taken.
   */
  acceptHeldSyn(now: number, h: HeldSyn, opts: TcpOptions = {}): TcpSocket | null {
    const k = tcpKey(h.dst.addr, h.dst.port, h.src.addr, h.src.port);
    if (this.#heldSyns.get(k) !== h) return null;
    this.#heldSyns.delete(k);
    try {
      return TcpSocket.openFromSyn(this, { ...this.#tcpDefaults, ...opts }, now, h.src.addr, h.dst.addr, h.seg);
    } catch {
      return null;
    }
  }

  /**
   * Refuses a held SYN: with a RST (the peer sees ECONNREFUSED), or with an ICMP destination
   * unreachable (host unreachable: EHOSTUNREACH; net: ENETUNREACH).
   */
  refuseHeldSyn(now: number, h: HeldSyn, how: "reset" | "host" | "net"): void {
    const k = tcpKey(h.dst.addr, h.dst.port, h.src.addr, h.src.port);
    if (this.#heldSyns.get(k) !== h) return;
    this.#heldSyns.delete(k);
    const src = h.dst.addr, dst = h.src.addr;
    if (how === "reset") {
      const rst = rstReplyFor(h.seg);
      if (!rst) return;
      this.stats.tcpRstSent++;
      this.#sendIp(now, src, dst, IpProtocol.TCP, tcpHeaderLen(rst), (b) => emitTcp(rst, TcpPacket.unchecked(b), { src, dst }));
      return;
    }
    if (src.version === 4) {
      this.#sendIcmp(now, src, dst, {
        kind: "other",
        type: Icmpv4Type.DEST_UNREACHABLE,
        code: how === "net" ? Icmpv4Unreachable.NET : Icmpv4Unreachable.HOST,
        rest: 0,
        data: h.quote,
      });
    } else {
      // RFC 4443 §3.1: code 0 no route, 3 address unreachable.
      this.#sendIcmp(now, src, dst, {
        kind: "other",
        type: Icmpv6Type.DEST_UNREACHABLE,
        code: how === "net" ? 0 : 3,
        rest: 0,
        data: h.quote,
      });
    }
  }

  /** Sends a UDP datagram from any address (a forwarding stack's replies). False if not sent. */
  sendDatagramAs(now: number, src: TcpEndpoint, dst: TcpEndpoint, data: Uint8Array): boolean {
    const res = this.#sendIp(now, src.addr, dst.addr, IpProtocol.UDP, UDP_HEADER_LEN + data.length, (b) =>
      emitUdp({ srcPort: src.port, dstPort: dst.port }, UdpPacket.unchecked(b), {
        src: src.addr,
        dst: dst.addr,
        payload: data,
      }));
    return res === "sent";
  }

  /**
   * The listener a SYN from `src` to addr:port goes to: one bound to addr before one bound to
   * the wildcard; in an SO_REUSEPORT group (listeners bound to the same address with
   * SO_REUSEPORT), a member chosen by a hash of the 4-tuple, so that connections spread over
   * the group as Linux's reuseport_select_sock spreads them.
   */
  #listenerFor(addr: IpAddress, port: number, src: IpAddress, srcPort: number, dev: number): TcpSocket | null {
    let wildcard: TcpSocket | null = null;
    let exact: TcpSocket | null = null;
    const holders = this.#tcpPorts.holders(port);
    // Listeners bound to another device never take the segment; one bound to the device it
    // came in on goes before an unbound one of the same address (Linux's compute_score).
    for (const s of holders) {
      if (!s.isListening || !deviceMatches(s.boundDevice, dev)) continue;
      if (s.localAddr === null) {
        if ((s.wildcardVersion === 0 || s.wildcardVersion === addr.version) && (wildcard === null || (wildcard.boundDevice === -1 && s.boundDevice !== -1))) wildcard = s;
      } else if (s.localAddr.equals(addr) && (exact === null || (exact.boundDevice === -1 && s.boundDevice !== -1))) {
        exact = s;
      }
    }
    const best = exact ?? wildcard;
    if (best === null || !best.reusePort) return best;
    const group = holders.filter((s) =>
      s.isListening && s.reusePort && s.wildcardVersion === best.wildcardVersion && s.boundDevice === best.boundDevice &&
      (s.localAddr === null ? best.localAddr === null : best.localAddr !== null && s.localAddr.equals(best.localAddr))
    );
    if (group.length < 2) return best;
    return group[fnv1a(`${src}|${srcPort}|${addr}|${port}`, this.#isnSecret) % group.length]!;
  }

  #receiveUdp(
    now: number, src: IpAddress, dst: IpAddress, bytes: Uint8Array, packet: Uint8Array, hopLimit: number, dev: number, lite: boolean,
  ): void {
    // The IP header's TOS (IPv4) or traffic class (IPv6), and its TTL: IP_RECVTOS and friends.
    const tos = src.version === 4 ? packet[1]! : ((packet[0]! & 0x0f) << 4) | (packet[1]! >> 4);
    const meta: DatagramMeta = { ttl: hopLimit, tos, at: now, packet, segment: bytes };
    let r: { srcPort: number; dstPort: number } | null;
    let payload: Uint8Array;
    if (lite) {
      // A UDP-Lite datagram is the whole IP payload; its length field is the coverage.
      const l = parseUdpLite(bytes, { src, dst });
      if (l === null) return this.#drop();
      r = l;
      payload = l.payload;
      meta.coverage = l.coverage;
      meta.partial = l.partial;
    } else {
      const p = UdpPacket.checked(bytes);
      r = p ? parseUdp(p, { src, dst }) : null;
      if (!p || !r) return this.#drop();
      payload = p.payload;
    }
    const ports = this.#udpPortsOf(lite);
    const from = { addr: src, port: r.srcPort };
    const to = { addr: dst, port: r.dstPort };
    const group = dst.isMulticast ||
      (dst.version === 4 && (this.#forwarding ? dst.isBroadcast : !this.isLocalAddress(dst)));
    let delivered = false;
    if (group) {
      for (const s of ports.holders(r.dstPort)) {
        if (deviceMatches(s.boundDevice, dev) && s.accepts(from, dst)) {
          s.deliver(from, to, payload, meta);
          if (!lite) this.mib.udpInDatagrams++;
        }
      }
      return;
    }
    const s = this.#udpReceiver(from, dst, r.dstPort, dev, lite);
    if (s !== null) {
      s.deliver(from, to, payload, meta);
      if (!lite) this.mib.udpInDatagrams++;
      delivered = true;
    }
    if (delivered) return;
    // A forwarding stack carries UDP to the host; UDP-Lite has no way out of it.
    if (this.#forwarding && lite) return;
    if (this.#forwarding) {
      if (this.#heldDatagrams.length < HELD_DATAGRAMS_MAX) {
        this.#heldDatagrams.push({ src: from, dst: to, data: payload.slice() });
      }
      return;
    }
    if (!lite) this.mib.udpNoPorts++;
    this.#sendUnreachable(now, src, dst, packet, "port");
  }

  /**
   * The socket a unicast datagram goes to, as Linux's udp4_lib_lookup2 chooses it: the most
   * specific match (a connected socket over a bound address over the wildcard; an IPv4
   * socket over a dual-stack one for IPv4), the most recently bound among equals (Linux adds
   * sockets at the head of its hash chain, so of several SO_REUSEADDR sockets the last one
   * bound gets the datagrams); if that one is in an SO_REUSEPORT group (sockets bound to the
   * same address with SO_REUSEPORT), a member chosen by a hash of the sender, so that each
   * sender keeps to one member and senders spread evenly.
   */
  #udpReceiver(from: TcpEndpoint, dst: IpAddress, port: number, dev: number, lite: boolean): UdpSocket | null {
    const holders = this.#udpPortsOf(lite).holders(port);
    let best: UdpSocket | null = null;
    let bestScore = -1;
    for (let i = holders.length - 1; i >= 0; i--) {
      const s = holders[i]!;
      // A socket bound to another device never takes it; one bound to this device goes first
      // among sockets of the same address (Linux's compute_score adds 4 for it).
      if (!deviceMatches(s.boundDevice, dev) || !s.accepts(from, dst)) continue;
      const score = (s.remote !== null ? 8 : 0) + (s.localAddr !== null ? 4 : 0) + (s.boundDevice !== -1 ? 2 : 0) +
        (dst.version === 4 && s.localAddr === null && s.wildcardVersion === 4 ? 1 : 0);
      if (score > bestScore) {
        best = s;
        bestScore = score;
      }
    }
    if (best === null || !best.reusePort || best.remote !== null) return best;
    const group = holders.filter((s) =>
      s.reusePort && s.remote === null && s.wildcardVersion === best!.wildcardVersion && s.boundDevice === best!.boundDevice &&
      (s.localAddr === null ? best!.localAddr === null : best!.localAddr !== null && s.localAddr.equals(best!.localAddr)) &&
      s.accepts(from, dst)
    );
    if (group.length < 2) return best;
    const h = fnv1a(`${from.addr}|${from.port}|${dst}|${port}`, this.#isnSecret);
    return group[h % group.length]!;
  }

  /** ICMP destination unreachable quoting `packet` (RFC 1122 §3.2.2.1, RFC 4443 §3.1). */
  #sendUnreachable(now: number, src: IpAddress, dst: IpAddress, packet: Uint8Array, why: "port" | "protocol"): void {
    if (src.isMulticast || src.isUnspecified || dst.isMulticast) return;
    if (src.version === 4) {
      // As much of the packet as fits an ICMP message of 576 bytes (RFC 1812 4.3.2.3, as
      // Linux's icmp_send): the sender's IP_RECVERR gets its datagram back from it.
      const quote = packet.subarray(0, Math.min(packet.length, 576 - IPV4_HEADER_LEN - 8));
      this.#sendIcmp(now, dst, src, {
        kind: "other",
        type: Icmpv4Type.DEST_UNREACHABLE,
        code: why === "port" ? Icmpv4Unreachable.PORT : Icmpv4Unreachable.PROTOCOL,
        rest: 0,
        data: quote,
      });
    } else {
      this.#sendIcmp(now, dst, src, {
        kind: "other",
        type: why === "port" ? Icmpv6Type.DEST_UNREACHABLE : Icmpv6Type.PARAM_PROBLEM,
        code: why === "port" ? 4 : 1,
        rest: why === "port" ? 0 : 6,
        data: packet.subarray(0, Math.min(packet.length, ICMPV6_ERROR_MAX)),
      });
    }
  }

  #receiveIcmpv4(now: number, src: Ipv4Address, dst: Ipv4Address, bytes: Uint8Array): void {
    const p = Icmpv4Packet.checked(bytes);
    const r = p ? parseIcmpv4(p) : null;
    if (!r) return this.#drop();
    switch (r.kind) {
      case "echoRequest":
        if (dst.isBroadcast || !this.isLocalAddress(dst)) return;
        this.#sendIcmp(now, dst, src, { kind: "echoReply", ident: r.ident, seqNo: r.seqNo, data: r.data });
        return;
      case "echoReply":
        return this.#deliverEcho(src, dst, r.ident, r.seqNo, r.data);
      case "other": {
        if (r.type !== Icmpv4Type.DEST_UNREACHABLE) return;
        const ip = Ipv4Packet.checked(r.data.length >= IPV4_HEADER_LEN ? patchLength(r.data) : r.data);
        if (!ip) return;
        const l4 = r.data.subarray(ip.headerLength);
        if ((ip.protocol === IpProtocol.UDP || ip.protocol === IpProtocol.UDPLITE) && r.code === Icmpv4Unreachable.PORT) {
          this.#udpUnreachable(ip.dst, l4, { offender: src, type: Icmpv4Type.DEST_UNREACHABLE, code: r.code }, ip.protocol === IpProtocol.UDPLITE);
        }
        if (ip.protocol === IpProtocol.TCP) {
          const err = r.code === Icmpv4Unreachable.PORT || r.code === Icmpv4Unreachable.PROTOCOL
            ? ECONNREFUSED
            : r.code === Icmpv4Unreachable.NET
            ? ENETUNREACH
            : EHOSTUNREACH;
          this.#tcpUnreachable(ip.src, ip.dst, l4, err);
        }
        return;
      }
    }
  }

  /**
   * Passes an ICMP destination-unreachable quoting one of our TCP segments
   * (`tcp` is the quoted header, at least 8 bytes per RFC 792) to its socket.
   */
  #tcpUnreachable(local: IpAddress, peer: IpAddress, tcp: Uint8Array, err: NetError): void {
    if (tcp.length < 8) return;
    const v = new DataView(tcp.buffer, tcp.byteOffset, 8);
    const sock = this.#tcpConns.get(tcpKey(local, v.getUint16(0), peer, v.getUint16(2)));
    sock?.icmpUnreachable(err, seq(v.getUint32(4)));
  }

  /**
   * Reports ECONNREFUSED to the connected UDP socket whose datagram to `peer`
   * an ICMP port unreachable quotes; `udp` is the quoted UDP header.
   */
  #udpUnreachable(peer: IpAddress, udp: Uint8Array, icmp: { offender: IpAddress; type: number; code: number }, lite: boolean): void {
    if (udp.length < 4) return;
    const v = new DataView(udp.buffer, udp.byteOffset, 4);
    const sport = v.getUint16(0), dport = v.getUint16(2);
    for (const s of this.#udpPortsOf(lite).holders(sport)) {
      const connected = s.remote !== null && s.remote.port === dport && s.remote.addr.equals(peer);
      // As Linux's __udp4_lib_err: a connected socket takes the error; with IP_RECVERR any
      // socket of the port does, and queues it with the datagram it quotes.
      if (s.recvErr && (connected || s.remote === null)) {
        s.queueError({
          errno: ECONNREFUSED, type: icmp.type, code: icmp.code, offender: icmp.offender,
          dst: { addr: peer, port: dport }, payload: udp.subarray(Math.min(8, udp.length)).slice(),
        });
      } else if (connected) s.reportError(ECONNREFUSED);
    }
  }

  #receiveIcmpv6(
    now: number,
    iface: Interface | null,
    src: Ipv6Address,
    dst: Ipv6Address,
    bytes: Uint8Array,
    hopLimit: number,
  ): void {
    const p = Icmpv6Packet.checked(bytes);
    const r = p ? parseIcmpv6(p, { src, dst }) : null;
    if (!r) return this.#drop();
    switch (r.kind) {
      case "echoRequest":
        if (dst.isMulticast && !dst.equals(Ipv6Address.LINK_LOCAL_ALL_NODES)) return;
        {
          const from = dst.isMulticast ? (iface?.sourceFor(src) ?? null) : dst;
          if (from === null) return;
          this.#sendIcmp(now, from, src, { kind: "echoReply", ident: r.ident, seqNo: r.seqNo, data: r.data });
        }
        return;
      case "echoReply":
        return this.#deliverEcho(src, dst, r.ident, r.seqNo, r.data);
      case "neighborSolicit": {
        // RFC 4861 §7.1.1: hop limit 255, target is ours.
        if (hopLimit !== 255 || !iface || iface.medium !== "ethernet" || !iface.hasAddress(r.target)) return;
        if (r.sourceLinkAddr && !src.isUnspecified) {
          iface.neighbors.fill(src, r.sourceLinkAddr, now);
          this.#unblockAll();
        }
        const to = src.isUnspecified ? Ipv6Address.LINK_LOCAL_ALL_NODES : src;
        this.#sendIcmp(now, r.target, to, {
          kind: "neighborAdvert",
          router: false,
          solicited: !src.isUnspecified,
          override: true,
          target: r.target,
          targetLinkAddr: iface.mac,
        }, { hopLimit: 255, iface });
        return;
      }
      case "neighborAdvert":
        if (hopLimit !== 255 || !iface || iface.medium !== "ethernet") return;
        if (r.targetLinkAddr) {
          iface.neighbors.fill(r.target, r.targetLinkAddr, now);
          this.#unblockAll();
        }
        return;
      case "other":
        // Destination unreachable (RFC 4443 §3.1) quoting a packet of ours.
        if (r.type === Icmpv6Type.DEST_UNREACHABLE && r.data.length >= IPV6_HEADER_LEN + 4) {
          const ip = Ipv6Packet.unchecked(r.data);
          const l4 = r.data.subarray(IPV6_HEADER_LEN);
          if ((ip.nextHeader === IpProtocol.UDP || ip.nextHeader === IpProtocol.UDPLITE) && r.code === 4) {
            this.#udpUnreachable(ip.dst, l4, { offender: src, type: Icmpv6Type.DEST_UNREACHABLE, code: r.code }, ip.nextHeader === IpProtocol.UDPLITE);
          }
          if (ip.nextHeader === IpProtocol.TCP) {
            const err = r.code === 4 ? ECONNREFUSED : r.code === 0 ? ENETUNREACH : EHOSTUNREACH;
            this.#tcpUnreachable(ip.src, ip.dst, l4, err);
          }
        }
        return;
    }
  }

  #deliverEcho(src: IpAddress, dst: IpAddress, ident: number, seqNo: number, data: Uint8Array): void {
    for (const s of this.#icmpIdents.holders(ident)) {
      s.deliver({ peer: src, local: dst, ident, seqNo, data });
    }
  }
}

/** The earlier of two optional times. */
/** What a datagram delivered within the stack (loopback broadcast or multicast) says beside its data. */
function localMeta(now: number, d: Datagram): DatagramMeta {
  const len = UDP_HEADER_LEN + d.data.length;
  const coverage = d.field === undefined || d.field === 0 ? len : d.field;
  return { ttl: d.ttl ?? DEFAULT_HOP_LIMIT, tos: d.tos ?? 0, at: now, coverage, partial: coverage < len };
}

function earlier(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null || a <= b ? a : b;
}

function tcpKey(localAddr: IpAddress, localPort: number, remoteAddr: IpAddress, remotePort: number): string {
  return `${localAddr}|${localPort}|${remoteAddr}|${remotePort}`;
}

/** 32-bit FNV-1a of `s`, keyed by folding in `key` first. */
function fnv1a(s: string, key: number): number {
  let h = (0x811c9dc5 ^ key) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** A copy of a quoted IPv4 header whose total length is clamped to what was quoted. */
function patchLength(quote: Uint8Array): Uint8Array {
  const c = quote.slice();
  new DataView(c.buffer).setUint16(2, c.length);
  return c;
}

/** Whether `i` is a loopback interface (it holds a loopback address). */
function isLoopbackInterface(i: Interface): boolean {
  return i.addresses.some((c) => c.address.version === 4 ? (c.address as Ipv4Address).isLoopback : c.address.equals(Ipv6Address.LOOPBACK));
}

/**
 * Whether `sock` binding (or listening) at addr may not share its port with `other`, another
 * holder, as Linux's inet_bind_conflict decides: every socket holding the port counts
 * (listeners, bound sockets, connections, TIME-WAIT), when the two serve a common IP version;
 * SO_REUSEADDR on both lets them share unless `other` listens; SO_REUSEPORT on both lets them
 * share always.
 */
function tcpPortConflict(sock: TcpSocket, addr: IpAddress | null, other: TcpSocket): boolean {
  return devicesOverlap(sock.boundDevice, other.boundDevice) &&
    versionsOverlap(addr, sock.wildcardVersion, other.localAddr, other.wildcardVersion) &&
    !(sock.reusePort && other.reusePort) && !(sock.reuseAddr && other.reuseAddr && !other.isListening);
}

/**
 * Whether Linux's port-bucket fast path lets `sock` bind at `addr` beside `held` (the port's
 * holders in bind order) with no pairwise check: every holder bound with SO_REUSEADDR and none
 * listens (tb->fastreuse), or the bucket's SO_REUSEPORT record matches (sk_reuseport_match);
 * `listen`: the check listen(2) makes of a socket already among `held`.
 * The bucket's state is replayed from the current holders, as inet_csk_update_fastreuse built
 * it when each bound; Linux keeps the state of holders since gone, which this forgets. A
 * bucket a connect made (shared) never takes the fast path until a SO_REUSEPORT bind resets it.
 */
function tcpFastReuse(sock: TcpSocket, addr: IpAddress | null, held: readonly Readonly<Holder<TcpSocket>>[], listen = false): boolean {
  if (held.length === 0) return false;
  const reuseOf = (s: TcpSocket) => s.reuseAddr && !s.isListening;
  // fastreuseport: 0 none, 1 FASTREUSEPORT_ANY (all holders SO_REUSEPORT), 2 STRICT (reset by
  // a later SO_REUSEPORT holder: only its address is known free), -1 a connect's bucket.
  let fastReuse = 0;
  let fastReusePort = 0;
  let fastAddr: IpAddress | null = null;
  let fastVersion: 0 | 4 | 6 = 0;
  const matches = (s: TcpSocket, a: IpAddress | null) => {
    if (fastReusePort <= 0 || !s.reusePort) return false;
    if (fastReusePort === 1) return true;
    if (fastAddr === null) return a === null ? s.wildcardVersion === fastVersion : versionsOverlap(a, 0, null, fastVersion);
    return a !== null && fastAddr.equals(a);
  };
  held.forEach((h, i) => {
    const s = h.owner;
    if (i === 0) {
      if (h.shared) {
        fastReuse = fastReusePort = -1;
        return;
      }
      fastReuse = reuseOf(s) ? 1 : 0;
      fastReusePort = s.reusePort ? 1 : 0;
      fastAddr = h.addr;
      fastVersion = s.wildcardVersion;
      return;
    }
    if (h.shared) return; // __inet_hash_connect joins a bucket without updating it
    if (!reuseOf(s)) fastReuse = 0;
    if (!s.reusePort) fastReusePort = 0;
    else if (!matches(s, h.addr)) {
      fastReusePort = 2;
      fastAddr = h.addr;
      fastVersion = s.wildcardVersion;
    }
  });
  // A listen (state LISTEN before inet_csk_get_port) never takes tb->fastreuse.
  return (!listen && fastReuse > 0 && reuseOf(sock)) || matches(sock, addr);
}

/**
 * Whether two sockets' SO_BINDTODEVICE interfaces (-1: any) can take the same packet: a port is
 * shared freely between sockets bound to different devices (Linux's sk_bound_dev_if test in
 * inet_bind_conflict and udp_lib_lport_inuse).
 */
function devicesOverlap(a: number, b: number): boolean {
  return a === -1 || b === -1 || a === b;
}

/** Whether a socket bound to device `bound` (-1: any) takes what interface `dev` received. */
function deviceMatches(bound: number, dev: number): boolean {
  return bound === -1 || bound === dev;
}

/**
 * Whether two bindings can see a common IP version: a specific address serves its own version,
 * the wildcard serves `wildcardVersion` (0: both).
 */
function versionsOverlap(a: IpAddress | null, aw: 0 | 4 | 6, b: IpAddress | null, bw: 0 | 4 | 6): boolean {
  const va = a !== null ? a.version : aw;
  const vb = b !== null ? b.version : bw;
  return va === 0 || vb === 0 || va === vb;
}

/** Whether the upper-layer checksum at `offset` of an IPv6 payload verifies (IPV6_CHECKSUM). */
function rawChecksumOk(src: IpAddress, dst: IpAddress, protocol: number, payload: Uint8Array, offset: number): boolean {
  if (offset + 2 > payload.length) return false;
  return checksumFinish(checksumAdd(pseudoHeaderSum({ src, dst, protocol, length: payload.length }), payload)) === 0;
}

/** An IPv4 packet as raw sockets see it: the received one, or a reassembled one's whole. */
function ipv4Whole(packet: Uint8Array, payload: Uint8Array): Uint8Array {
  const ihl = (packet[0]! & 0x0f) * 4;
  const total = (packet[2]! << 8) | packet[3]!;
  const frag = ((packet[6]! << 8) | packet[7]!) & 0x3fff;
  if (frag === 0 && total === ihl + payload.length && packet.length >= total) return packet.subarray(0, total);
  const out = new Uint8Array(ihl + payload.length);
  out.set(packet.subarray(0, ihl));
  out.set(payload, ihl);
  out[2] = out.length >> 8;
  out[3] = out.length & 0xff;
  out[6] = out[6]! & 0x40; // DF stays; MF and the offset go
  out[7] = 0;
  out[10] = 0;
  out[11] = 0;
  let sum = 0;
  for (let i = 0; i < ihl; i += 2) sum += (out[i]! << 8) | out[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  out[10] = c >> 8;
  out[11] = c & 0xff;
  return out;
}
