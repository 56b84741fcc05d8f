/**
 * The sandbox's network: one netstack {@linkcode Stack} with its loopback interface (and, per
 * the --network flag, more), and the one place that drives it.
 *
 * Driving the stack (netstack's time contract, see netstack/README.md):
 * - After every socket call that may have changed the stack, the socket layer calls
 *   {@linkcode Net.kick}: it polls until the stack is quiet, then lets every watcher (each
 *   socket file, each host relay) notice what changed, so that readiness reaches wait queues.
 * - Net is a DeadlineTarget of the scheduler (kernel/timers.ts) while the stack has timers
 *   (retransmission, delayed ACK, TIME-WAIT...): `deadlineNs` is stack.pollAt() in ns, and the
 *   loop calls {@linkcode Net.expire} when it passes. kick() re-arms the target (see
 *   armDeadline). This is the only place stack.pollAt() becomes a deadline of the scheduler.
 * - Host I/O (--publish relays) calls kick() from its callbacks; the kick's notifications
 *   wake tasks, and its armDeadline wakes an idle loop.
 *
 * Time for the stack is the kernel's monotonic clock in milliseconds.
 *
 * @module
 */

import type {
  Interface,
  InterfaceOptions,
  IpAddress,
  IpCidr,
  LinkEndpoint,
  Medium,
  Stack,
  TcpSocket,
} from "../netstack/mod.ts";
import { EADDRNOTAVAIL, EHOSTUNREACH, ENETUNREACH } from "./errno.ts";
import type { PacketLink } from "./net_packet.ts";
import type { NfTables } from "./nftables/state.ts";
import { INIT_USER_NS, type UserNamespace } from "./user_namespace.ts";
import type { Forwarder, HostEndpoint } from "./net_forward.ts";
import type { DeadlineTarget } from "./timers.ts";
import { monotonicNs } from "./time.ts";
import type { XtFamily } from "./netfilter/x_tables.ts";
import { writeAllSync } from "./write_all.ts";
import type { TunDevice } from "./net_tun.ts";
import type { NetlinkSocket } from "./socket/netlink/socket.ts";
import { type NetModules, netModules, netModulesIfLoaded } from "./net_load.ts";
import { UnixNamespace } from "./socket/unix/namespace.ts";

/** Something that wants to look at the stack after it changed (a socket file, a relay). */
export interface NetWatcher {
  /** Called after a poll round; must not call back into kick(). */
  stackChanged(): void;
}

/** What /proc/net/dev reports for an interface. */
export interface IfCounters {
  rxBytes: number;
  rxPackets: number;
  txBytes: number;
  txPackets: number;
}

/** Which network the sandbox has. */
export type NetworkMode = "none" | "sandbox";

/** One allow-list entry: a destination network and a port (0: any port). */
export interface AllowRule {
  cidr: IpCidr;
  port: number;
}

export interface NetOptions {
  mode?: NetworkMode;
  /** Destinations outside the sandbox that it may reach; null: no restriction. */
  allow?: AllowRule[] | null;
  /** Seeds ISNs and ephemeral choices. */
  seed?: number;
  /** --pcap: a host file that receives every packet, in pcap format (raw IP). @nosave */
  pcap?: PcapFile | null;
  /** --network sandbox: where 10.0.2.3:53 is forwarded (default: the host's resolver). */
  resolver?: HostEndpoint | null;
  /**
   * A namespace made by unshare/clone(CLONE_NEWNET): its nsfs inode number, and its loopback
   * starts down, as Linux's (the sandbox's first namespace has the initial inode and lo up).
   */
  namespaceIno?: number;
  /**
   * Devices of the container's network namespace (config.json's linux.namespaces network
   * path), each bound to the sandbox's stack through the sentry's packet socket on it
   * (kernel/net_packet.ts): an interface of the same name, MAC, MTU, addresses and routes.
   */
  nics?: HostNicConfig[];
}

/** A host device for the sandbox's stack (boot/net_nics.ts makes them). */
export interface HostNicConfig {
  name: string;
  link: PacketLink;
  mac: Uint8Array;
  /** "ADDRESS/PREFIX". */
  addresses: string[];
  routes: { cidr: string; gateway: string | null; metric: number }[];
}

/** The inode number of the sandbox's first network namespace (/proc/PID/ns/net). */
export const NET_NS_INIT_INO = 4026531840;

/** The MTU of the sandbox's external link: it never leaves memory, so big frames are free. */
const EXTERNAL_MTU = 65520;

/**
 * A device that shows every frame it passes (both ways) to a pcap file and counts them for
 * /proc/net/dev. @savable (the file is @nosave)
 */
class CountingTap implements LinkEndpoint {
  readonly #inner: LinkEndpoint;
  readonly #pcap: PcapFile | null;
  readonly counters: IfCounters = { rxBytes: 0, rxPackets: 0, txBytes: 0, txPackets: 0 };

  constructor(inner: LinkEndpoint, pcap: PcapFile | null) {
    this.#inner = inner;
    this.#pcap = pcap;
  }
  get mtu(): number {
    return this.#inner.mtu;
  }
  get medium(): Medium {
    return this.#inner.medium;
  }
  receive(now: number): Uint8Array | null {
    const f = this.#inner.receive(now);
    if (f !== null) {
      this.counters.rxPackets++;
      this.counters.rxBytes += f.length;
      this.#pcap?.record(f);
    }
    return f;
  }
  transmit(now: number, len: number, fill: (buf: Uint8Array) => void): boolean {
    return this.#inner.transmit(now, len, (buf) => {
      fill(buf);
      this.counters.txPackets++;
      this.counters.txBytes += len;
      this.#pcap?.record(buf);
    });
  }
}

/** @nosave A pcap capture file on the host, written synchronously (a debugging aid). */
export class PcapFile {
  readonly #file: Deno.FsFile;

  constructor(path: string) {
    this.#file = Deno.openSync(path, { write: true, create: true, truncate: true });
    // --pcap loads the network's modules before the kernel is made (boot/mod.ts).
    this.#write(netModules().pcapGlobalHeader("ip"));
  }

  /** Records one IP packet, timestamped with the wall clock. */
  record(packet: Uint8Array): void {
    this.#write(netModules().pcapRecord(performance.timeOrigin + performance.now(), packet));
  }

  /** Whole, EINTR retried: the file may be a pipe (`--pcap /dev/stdout | tcpdump -r -`). */
  #write(b: Uint8Array): void {
    writeAllSync(this.#file, b);
  }

  close(): void {
    try {
      this.#file.close();
    } catch { /* closed */ }
  }
}

/** Namespaces waiting for a poll after a veth carried frames into them (see Net.kick). */
const pendingKicks = new Set<Net>();
/** Whether a kick is draining pendingKicks (the kicks it makes only add to the set). */
let draining = false;

/**
 * @savable (refused) One end of a veth pair: the namespace holding it is `owner`, and a frame it
 * sends marks the namespace holding the other end for a poll (Net.crossed) when that is
 * another one.
 */
export class VethEnd implements LinkEndpoint {
  peer: VethEnd | null = null;
  /** What /proc/net/dev shows for this end, wherever it moves (Net.counters takes this object). */
  readonly counters: IfCounters = { rxBytes: 0, rxPackets: 0, txBytes: 0, txPackets: 0 };

  constructor(readonly inner: LinkEndpoint, public owner: Net) {}

  get mtu(): number {
    return this.inner.mtu;
  }
  get medium(): Medium {
    return this.inner.medium;
  }
  receive(now: number): Uint8Array | null {
    const f = this.inner.receive(now);
    if (f !== null) {
      this.counters.rxPackets++;
      this.counters.rxBytes += f.length;
    }
    return f;
  }
  transmit(now: number, len: number, fill: (buf: Uint8Array) => void): boolean {
    const sent = this.inner.transmit(now, len, fill);
    if (sent) {
      this.counters.txPackets++;
      this.counters.txBytes += len;
    }
    const other = this.peer?.owner;
    if (sent && other !== undefined && other !== this.owner) this.owner.crossed.add(other);
    return sent;
  }
}

/** The loopback interface's index (netstack numbers interfaces from 0; Linux from 1). */
export const LOOPBACK_INDEX = 0;

/**
 * @savable One network namespace: its stack, interfaces, sysctls, iptables, rtnetlink state and
 * AF_UNIX abstract names. The kernel's `net` is the sandbox's first; unshare/clone(CLONE_NEWNET)
 * make more (Kernel.newNetNamespace), each reached only through the tasks, sockets and nsfs
 * descriptors that hold it.
 */
export class Net implements DeadlineTarget {
  /**
   * The namespace's netstack, made at its first use (see the constructor); until the network's
   * modules are loaded that use waits for them (kernel/net_load.ts).
   */
  get stack(): Stack {
    return this.#stack ??= this.#makeStack(netModules());
  }
  #stack: Stack | null = null;
  /** What the stack is made from (the constructor's options). */
  readonly #opts: NetOptions;
  /** The namespace's nsfs inode number (/proc/PID/ns/net). */
  readonly ino: number;
  /** AF_UNIX abstract names (Linux keeps them per network namespace). */
  readonly unix = new UnixNamespace();
  readonly mode: NetworkMode;
  readonly allow: AllowRule[] | null;
  /** Socket files and relays, told after each poll round. */
  readonly #watchers = new Set<NetWatcher>();
  /**
   * @nosave Registers this Net as a DeadlineTarget of the scheduler (Kernel.addDeadline,
   * idempotent; it also wakes an idle loop). Called after each kick that leaves the stack with
   * a deadline; the scheduler drops the target by itself once deadlineNs is null.
   */
  armDeadline: () => void = () => {};
  /** Guards against re-entry (a watcher's notify waking a task never polls, but be safe). */
  #polling = false;
  /** Interface names, by netstack index ("" for a deleted one: no name is empty). */
  readonly ifNames: string[] = [];
  /** The TUN/TAP devices (kernel/net_tun.ts), by netstack index. */
  readonly tuns = new Map<number, TunDevice>();
  /**
   * The veth and bridge devices made by RTM_NEWLINK (kernel/net_veth.ts), by netstack index:
   * their kind (IFLA_INFO_KIND) and, for a veth, its peer's index.
   */
  readonly virtualLinks = new Map<number, { kind: "veth" | "bridge"; peer: number | null; peerNet: Net }>();
  /**
   * Told when an interface appears or goes (rtnetlink's RTNLGRP_LINK sockets): the stack index
   * and whether it is new. Listeners must not call back into the network.
   */
  readonly linkListeners = new Set<(index: number, added: boolean) => void>();
  /**
   * Whether a program changed the interfaces' addresses or names or the routes (rtnetlink): a
   * checkpoint is then refused, as the restoring kernel makes them anew from its --network.
   */
  configChanged = false;
  /** The iptables and ip6tables tables (kernel/netfilter), made at first use. */
  #iptables: XtFamily | null = null;
  #ip6tables: XtFamily | null = null;

  /** The legacy iptables of this namespace for IPv4 (v6 false) or IPv6. */
  xtables(v6: boolean): XtFamily {
    const m = netModules();
    if (v6) return this.#ip6tables ??= new m.XtFamily(m.IPV6_LAYOUT);
    return this.#iptables ??= new m.XtFamily(m.IPV4_LAYOUT);
  }

  /** Whether a program replaced or counted an iptables table: a checkpoint refuses the sandbox then. */
  get xtablesChanged(): boolean {
    return (this.#iptables?.changed ?? false) || (this.#ip6tables?.changed ?? false);
  }
  /**
   * Policy routing rules added by programs (RTM_NEWRULE), after Linux's defaults in dumps: each
   * a family, its fib_rule_hdr (12 bytes) and its attributes (FRA_PRIORITY, FRA_DST, FRA_SRC,
   * FRA_TABLE) by type. Their tables can hold no routes here (only main is supported), so they
   * never change a lookup, as on Linux where a rule's empty table falls through.
   */
  readonly addedRules: { family: number; hdr: Uint8Array; attrs: Map<number, Uint8Array> }[] = [];
  /**
   * The namespace's nf_tables ruleset (NETLINK_NETFILTER): kept, not evaluated on packets yet;
   * a checkpoint refuses a sandbox whose ruleset holds a table.
   */
  get nftables(): NfTables {
    return this.#nftables ??= new (netModules().NfTables)();
  }
  #nftables: NfTables | null = null;
  /**
   * The user namespace owning this network namespace: capabilities over it (CAP_NET_ADMIN for
   * netlink changes) count there. The sandbox's first one belongs to the first user namespace.
   */
  owner: UserNamespace = INIT_USER_NS;
  /** The namespace's open netlink sockets, for messages one sends to others (netlink_broadcast). */
  readonly netlinkSockets = new Set<NetlinkSocket>();
  /** The port ids of the namespace's netlink sockets, by protocol (each unique, netlink_insert). */
  readonly netlinkPorts = new Map<number, Set<number>>();
  /** The namespace's NETLINK_KOBJECT_UEVENT sockets, which a uevent is broadcast to. */
  readonly ueventSockets = new Set<{ uevent(payload: Uint8Array): void }>();
  /** The last uevent's SEQNUM (Linux's uevent_seqnum). */
  ueventSeqnum = 0;
  /**
   * Writable sysctls of /proc/sys/net that the stack keeps for programs to read back (the
   * stack's behaviour does not follow them yet): ip_forward, tcp_sack, tcp_recovery; and conf/lo/accept_local
   * and route_localnet, which the stack follows for packets a packet socket injects on lo;
   * conf/lo/tag and conf/default/tag (a device's tag, unused by IPv4 itself); and
   * ping_group_range, the groups that may make ping sockets (SOCK_DGRAM ICMP, both families):
   * Linux's own default is "1 0" (nobody), but the sentry has always let every group make them
   * in the sandbox's first namespace, as distributions' systemd sets ("0 2147483647"), and that
   * is kept there (a namespace made inside starts at "1 0", Kernel.newNetNamespace); podman
   * writes "0 0" through linux.sysctl, which then holds.
   */
  readonly sysctl = {
    ipForward: 0, tcpSack: 1, tcpRecovery: 1, loAcceptLocal: 0, loRouteLocalnet: 0, loTag: 0, defaultTag: 0,
    pingGroupLow: 0, pingGroupHigh: 2147483647,
  };
  /** Traffic counters, by netstack index (loopback delivery bypasses devices: zeros). */
  readonly counters: IfCounters[] = [];
  /**
   * --network sandbox: the forwarding stack at the far end of eth0 (10.0.2.2, 10.0.2.3), whose
   * held SYNs and datagrams the Forwarder carries with host sockets; null otherwise.
   */
  gateway: Stack | null = null;
  /** @nosave The host side of the gateway. */
  #forwarder: Forwarder | null = null;

  /**
   * A namespace's loopback-only stack is made at its first use (a `/bin/true` never makes one,
   * and its modules are not loaded); `--network sandbox` and `--pcap` need the network's
   * modules loaded before (boot/mod.ts), and the stack is made at once.
   */
  constructor(opts: NetOptions = {}) {
    this.#opts = opts;
    this.ino = opts.namespaceIno ?? NET_NS_INIT_INO;
    this.mode = opts.mode ?? "none";
    this.allow = opts.allow ?? null;
    const pcap = opts.pcap ?? null;
    if (pcap) this.#host.push(pcap);
    this.ifNames.push("lo");
    this.counters.push({ rxBytes: 0, rxPackets: 0, txBytes: 0, txPackets: 0 });
    if (this.mode === "sandbox") this.ifNames.push("eth0");
    const nics = opts.nics ?? [];
    const m = netModulesIfLoaded();
    if (m !== null) this.#stack = this.#makeStack(m);
    else if (this.mode !== "none" || pcap || nics.length > 0) throw new Error("the network's modules are not loaded (kernel/net_load.ts)");
  }

  /** The stack the constructor's options describe, with lo (and, for --network sandbox, eth0). */
  #makeStack(m: NetModules): Stack {
    const opts = this.#opts;
    const pcap = opts.pcap ?? null;
    const stack = new m.Stack({
      seed: opts.seed ?? ((Math.random() * 0x7fffffff) | 0),
      // 1 MiB queues: loopback throughput doubles over 256 KiB (Linux autotunes to MiBs too);
      // a queue is allocated on first use and freed when the connection ends.
      tcp: { rxBufferSize: 1 << 20, txBufferSize: 1 << 20 },
      ...(pcap ? { tap: (_now: number, packet: Uint8Array) => pcap.record(packet) } : {}),
    });
    // conf/lo/accept_local and route_localnet, which the stack reads for packets injected on lo.
    stack.loConf = this.sysctl;
    // A new namespace's lo is down and, down, has no IPv6 address: ::1 comes with IFF_UP.
    stack.addInterface({
      device: new m.Loopback({ medium: "ip", mtu: 65536 }),
      addresses: opts.namespaceIno === undefined ? ["127.0.0.1/8", "::1/128"] : ["127.0.0.1/8"],
      loopback: true,
    });
    // A new namespace's lo is down until a program brings it up (loopback_net_init).
    if (opts.namespaceIno !== undefined) stack.setUp(LOOPBACK_INDEX, false);
    if (this.mode === "sandbox") {
      // eth0: 10.0.2.15/24 and a ULA, default routes through the gateway, as slirp numbers it.
      const net = m.SANDBOX_NET;
      const [mine, theirs] = m.loopbackPair({ medium: "ip", mtu: EXTERNAL_MTU, capacity: 256 });
      const tap = new CountingTap(mine, pcap);
      stack.addInterface({ device: tap, addresses: [`${net.addr4}/24`, `${net.addr6}/64`] });
      stack.addRoute({ cidr: m.IpCidr.parse("0.0.0.0/0"), gateway: m.Ipv4Address.parse(net.gateway4), ifIndex: 1 });
      stack.addRoute({ cidr: m.IpCidr.parse("::/0"), gateway: m.Ipv6Address.parse(net.gateway6), ifIndex: 1 });
      this.counters.push(tap.counters);
      this.gateway = new m.Stack({
        seed: (opts.seed ?? 1) ^ 0x5a5a5a5a,
        forwarding: true,
        tcp: { rxBufferSize: 1 << 20, txBufferSize: 1 << 20 },
      });
      this.gateway.addInterface({
        device: theirs,
        addresses: [`${net.gateway4}/24`, `${net.dns4}/24`, `${net.gateway6}/64`, `${net.dns6}/64`],
      });
      // The forwarder reads this.stack: the stack is in place before it is made.
      this.#stack = stack;
      this.#forwarder = opts.resolver === undefined ? new m.Forwarder(this) : new m.Forwarder(this, opts.resolver);
      this.#host.push(this.#forwarder);
    }
    for (const nic of opts.nics ?? []) {
      const iface = stack.addInterface({ device: nic.link, mac: new m.EthernetAddress(nic.mac), addresses: nic.addresses });
      this.ifNames[iface.index] = nic.name;
      this.counters[iface.index] = nic.link.counters;
      for (const r of nic.routes) {
        const cidr = m.IpCidr.parse(r.cidr);
        const gateway = r.gateway === null ? null : cidr.address.version === 4 ? m.Ipv4Address.parse(r.gateway) : m.Ipv6Address.parse(r.gateway);
        stack.addRoute({ cidr, gateway, ifIndex: iface.index, metric: r.metric });
      }
      this.#host.push(nic.link);
      // Frames the device holds are taken by the next kick, from a host poll's wake-up.
      nic.link.start(() => this.kick());
    }
    return stack;
  }

  /** The stack index of the interface named `name`, or -1. */
  linkIndex(name: string): number {
    return name === "" ? -1 : this.ifNames.indexOf(name);
  }

  /** The interface of Linux index `ifindex` (1 for lo), or null if none (or deleted). */
  linkByIndex(ifindex: number): Interface | null {
    const iface = ifindex >= 1 ? this.stack.interfaces[ifindex - 1] : undefined;
    return iface === undefined || iface.removed ? null : iface;
  }

  /** Whether interface `index` is up (IFF_UP): a TUN/TAP, veth or bridge device or lo may be down, eth0 never is. */
  linkUp(index: number): boolean {
    return this.tuns.get(index)?.link.up ?? this.stack.interfaces[index]?.up ?? true;
  }

  /** Whether interface `index` has carrier: up, and for a veth its peer up too (IFF_RUNNING, IFF_LOWER_UP). */
  linkCarrier(index: number): boolean {
    if (!this.linkUp(index)) return false;
    const v = this.virtualLinks.get(index);
    return v?.peer == null || v.peerNet.linkUp(v.peer);
  }

  /**
   * Brings interface `index` up or down (IFF_UP, by rtnetlink or SIOCSIFFLAGS): a TUN/TAP
   * device's link, or lo. Returns whether anything changed; tells the link listeners if so.
   * eth0 stays up (false: not changeable).
   */
  setLinkUp(index: number, up: boolean): boolean | null {
    const tun = this.tuns.get(index);
    if (tun !== undefined) {
      if (tun.link.up === up) return false;
      tun.link.up = up;
      if (!up) tun.link.flush();
    } else if (this.virtualLinks.has(index)) {
      const iface = this.stack.interfaces[index]!;
      if (iface.up === up) return false;
      this.stack.setUp(index, up);
      // The peer's carrier follows (netif_carrier_on/off): its namespace hears of it too.
      const v = this.virtualLinks.get(index)!;
      if (v.peer !== null) for (const l of v.peerNet.linkListeners) l(v.peer, true);
    } else if (index === LOOPBACK_INDEX) {
      const lo = this.stack.interfaces[index]!;
      if (lo.up === up) return false;
      this.stack.setUp(index, up);
      // addrconf: lo gets ::1 as it comes up and loses its IPv6 addresses as it goes down.
      const v6 = netModules().IpCidr.parse("::1/128");
      if (up && !lo.holdsAddress(v6.address)) this.stack.addAddress(index, v6);
      if (!up) {
        for (const c of lo.addresses.filter((c) => c.address.version === 6)) lo.removeAddress(c.address);
        this.stack.routes.remove((r) => r.ifIndex === index && r.cidr.address.version === 6 && r.gateway === null);
      }
    } else {
      return up ? false : null;
    }
    for (const l of this.linkListeners) l(index, true);
    this.kick();
    return true;
  }

  /** lo's MTU (IFLA_MTU): the stack's local packets follow it (up to 65535). */
  loMtu = 65536;

  /**
   * Sets lo's MTU (dev_set_mtu); as Linux, below 1280 lo loses its IPv6 addresses and below 68
   * its IPv4 ones (addrconf and inetdev drop them; they do not come back with a larger MTU).
   */
  setLoMtu(mtu: number): void {
    this.loMtu = mtu;
    this.stack.localMtu = Math.min(65535, mtu);
    const lo = this.stack.interfaces[LOOPBACK_INDEX]!;
    for (const v of mtu < 68 ? [4, 6] : mtu < 1280 ? [6] : []) {
      for (const c of lo.addresses.filter((c) => c.address.version === v)) lo.removeAddress(c.address);
      this.stack.routes.remove((r) => r.ifIndex === LOOPBACK_INDEX && r.cidr.address.version === v);
    }
    this.configChanged = true;
    for (const l of this.linkListeners) l(LOOPBACK_INDEX, true);
    this.kick();
  }

  /** The interfaces that exist (not deleted), in index order. */
  get links(): Interface[] {
    return this.stack.interfaces.filter((i) => !i.removed);
  }

  /**
   * Adds an interface named `name` (a TUN/TAP, veth or bridge device), down unless `up`, and
   * tells the link listeners.
   */
  addLink(name: string, opts: InterfaceOptions, up = true): Interface {
    const iface = this.stack.addInterface(opts);
    if (!up) this.stack.setUp(iface.index, false);
    this.ifNames[iface.index] = name;
    const device = opts.device;
    this.counters[iface.index] = device instanceof VethEnd ? device.counters : { rxBytes: 0, rxPackets: 0, txBytes: 0, txPackets: 0 };
    for (const l of this.linkListeners) l(iface.index, true);
    return iface;
  }

  /** Deletes interface `index` and tells the link listeners (before: they describe it). */
  removeLink(index: number): void {
    for (const l of this.linkListeners) l(index, false);
    this.stack.removeInterface(index);
    this.ifNames[index] = "";
  }

  /** @nosave Host listeners and other host resources, closed by closeHost(). */
  readonly #host: { close(): void }[] = [];

  /**
   * --publish: listens on the host at hostAddr:hostPort and relays each connection to
   * 127.0.0.1:sandboxPort inside the sandbox. Throws Deno's error if the host port is taken.
   */
  publish(hostAddr: string, hostPort: number, sandboxPort: number): void {
    this.#host.push(new (netModules().PublishListener)(this, hostAddr, hostPort, sandboxPort));
  }

  /**
   * The sandbox stack's TCP sockets that the sentry holds for the host: the sandbox side of
   * each live --publish relay (a checkpoint leaves them out and resets their peers).
   */
  get hostTcpSockets(): Set<TcpSocket> {
    const out = new Set<TcpSocket>();
    const m = netModulesIfLoaded(); // no listener exists before
    if (m === null) return out;
    for (const h of this.#host) if (h instanceof m.PublishListener) for (const s of h.sandboxSockets) out.add(s);
    return out;
  }

  /** Closes every host listener and relay. Idempotent. */
  closeHost(): void {
    for (const h of this.#host.splice(0)) h.close();
  }

  /** Throws ENETUNREACH unless addr is one of ours or some route leads to it. */
  checkReachable(addr: IpAddress): void {
    if (this.stack.isLocalAddress(addr)) return;
    // IPv6 picks a source address before it looks at the route (ip6_dst_lookup_tail): with no
    // IPv6 address anywhere that is EADDRNOTAVAIL, whatever the routes say.
    if (addr.version === 6 && !this.stack.interfaces.some((i) => !i.removed && i.addresses.some((c) => c.address.version === 6))) {
      throw EADDRNOTAVAIL;
    }
    if (this.stack.routes.lookup(addr) === null) throw ENETUNREACH;
  }

  /**
   * Throws EHOSTUNREACH when an allow-list is set and does not name addr (local addresses are
   * always allowed), as a firewall's "host prohibited" would.
   */
  checkAllowed(addr: IpAddress, port: number): void {
    if (this.allow === null || this.stack.isLocalAddress(addr)) return;
    if (!this.allow.some((r) => r.cidr.contains(addr) && (r.port === 0 || r.port === port))) throw EHOSTUNREACH;
  }

  /** The stack's clock: monotonic milliseconds. */
  now(): number {
    return monotonicNs() / 1e6;
  }

  /** Every watcher (socket files among them), for /proc/net. */
  get watchers(): Iterable<NetWatcher> {
    return this.#watchers;
  }

  watch(w: NetWatcher): void {
    this.#watchers.add(w);
  }

  unwatch(w: NetWatcher): void {
    this.#watchers.delete(w);
  }

  /** Polls until quiet and tells the watchers. Call after any socket operation. */
  kick(now: number = this.now()): void {
    if (this.#polling) return;
    this.#polling = true;
    try {
      // A bounded number of rounds: each round moves frames one hop; loopback traffic settles
      // in a few. The bound only guards against a livelock bug.
      const gw = this.gateway;
      for (let i = 0; i < 10_000; i++) {
        // Both ends of eth0 in each round.
        const moved = this.stack.poll(now);
        const gwMoved = gw !== null && gw.poll(now);
        if (!moved && !gwMoved) break;
      }
    } finally {
      this.#polling = false;
    }
    this.#forwarder?.service();
    // The set itself, not a copy: a watcher added meanwhile is told too (harmless), one
    // removed is skipped.
    for (const w of this.#watchers) w.stackChanged();
    if (this.#pollAt(now) !== null) this.armDeadline();
    // Frames this round sent through a veth into another namespace: that one polls next, in
    // a loop rather than by recursion (their answers come back the same way).
    if (this.crossed.size > 0) {
      for (const n of this.crossed) pendingKicks.add(n);
      this.crossed.clear();
      if (!draining) {
        draining = true;
        try {
          for (let i = 0; i < 10_000 && pendingKicks.size > 0; i++) {
            const n = pendingKicks.values().next().value!;
            pendingKicks.delete(n);
            n.kick(now);
          }
        } finally {
          draining = false;
          pendingKicks.clear();
        }
      }
    }
  }

  /** Namespaces that frames sent from this one through a veth reached since the last kick. */
  readonly crossed = new Set<Net>();

  /**
   * Moves interface `index` (a veth end or bridge) to namespace `to` as `name` (RTM_NEWLINK's
   * IFLA_NET_NS_FD or IFLA_NET_NS_PID; dev_change_net_namespace): it leaves this one (an
   * RTM_DELLINK here), arrives down with its MAC and a new index there (an RTM_NEWLINK), and a
   * veth's frames then cross between the two stacks. Returns its new index.
   */
  moveLink(index: number, to: Net, name: string): number {
    const iface = this.stack.interfaces[index]!;
    const v = this.virtualLinks.get(index)!;
    const device = iface.device;
    const mac = iface.mac;
    this.virtualLinks.delete(index);
    this.removeLink(index);
    const moved = to.addLink(name, mac !== null ? { device, mac } : { device }, false);
    to.virtualLinks.set(moved.index, { kind: v.kind, peer: v.peer, peerNet: v.peerNet === to ? to : v.peerNet });
    if (v.peer !== null) {
      const other = v.peerNet.virtualLinks.get(v.peer);
      if (other !== undefined) other.peer = moved.index, other.peerNet = to;
    }
    if (device instanceof VethEnd) device.owner = to;
    to.kick();
    return moved.index;
  }

  /**
   * After a socket operation that changed w's own state and, unless it gave a stack work,
   * nothing else (a read that owes the peer no window update): kicks if either stack has
   * work, else refreshes w alone, sparing a poll and every other watcher. A stack's timers
   * are unaffected: they only move when a connection is dispatched.
   */
  settle(w: NetWatcher): void {
    if (this.stack.hasWork || (this.gateway?.hasWork ?? false)) this.kick();
    else w.stackChanged();
  }

  /** When either stack next needs a poll (ms), or null when both are idle. */
  #pollAt(nowMs: number): number | null {
    const a = this.stack.pollAt(nowMs);
    const b = this.gateway?.pollAt(nowMs) ?? null;
    return a === null ? b : b === null ? a : Math.min(a, b);
  }

  /**
   * DeadlineTarget: when the stack next needs a poll, in monotonic ns; null when idle. Work due
   * at once reads as 0: the stack answers "now" with the time it was asked, which, were that a
   * clock reading, would be a little after the scheduler's own `now`, never seen as due.
   */
  get deadlineNs(): number | null {
    // Asked at time 0 rather than at a clock reading (the scheduler reads this after every
    // stop): "now" then answers 0, timers their own times. A timer already past reads as its
    // time, which the scheduler's `now` passes in this turn or the next.
    const at = this.#pollAt(0);
    return at === null ? null : at <= 0 ? 0 : Math.ceil(at * 1e6);
  }

  /**
   * DeadlineTarget: polls if a stack deadline has passed at nowNs (monotonic ns). Returns the
   * next deadline in ns, or null when the stack is idle (for tests; the scheduler reads
   * deadlineNs).
   */
  expire(nowNs: number): number | null {
    const nowMs = nowNs / 1e6;
    let at = this.#pollAt(nowMs);
    if (at !== null && at <= nowMs) {
      this.kick(nowMs);
      at = this.#pollAt(nowMs);
    }
    return at === null ? null : Math.ceil(at * 1e6);
  }
}
