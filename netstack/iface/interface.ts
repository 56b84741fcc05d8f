/**
 * A network interface: a link endpoint plus its addresses and neighbor cache.
 *
 * @module
 */

import type { LinkEndpoint, Medium } from "../link/endpoint.ts";
import { EthernetAddress, type IpAddress, IpCidr, Ipv4Address, Ipv6Address } from "../wire/address.ts";
import { ETHERNET_HEADER_LEN } from "../wire/ethernet.ts";
import { NeighborCache } from "./neighbor_cache.ts";

/** Options for {@linkcode Stack.addInterface}. */
export interface InterfaceOptions {
  device: LinkEndpoint;
  /** Required for the Ethernet medium. */
  mac?: EthernetAddress;
  addresses?: Array<IpCidr | string>;
  /** The loopback device (IFF_LOOPBACK): each IPv4 address on it makes its whole network local. */
  loopback?: boolean;
}

/** @savable */
export class Interface {
  /** Immutable. */
  readonly index: number;
  /** @nosave The device is host-bound and re-attached on restore. */
  readonly device: LinkEndpoint;
  /** Null for the IP medium; an Ethernet one's may change (setMac). */
  #mac: EthernetAddress | null;
  readonly neighbors: NeighborCache = new NeighborCache();
  #addresses: IpCidr[] = [];
  /** Deleted (Stack.removeInterface): it holds no address and takes no frame. */
  #removed = false;
  /** IFF_LOOPBACK. Immutable. */
  readonly loopback: boolean;
  /**
   * Administratively down (IFF_UP clear; Stack.setUp): its addresses stay listed but are not
   * local, no route leads through it, and it is no packet's source, as Linux's fib drops a
   * down device's local and connected routes.
   */
  #down = false;

  constructor(index: number, opts: InterfaceOptions) {
    this.index = index;
    this.device = opts.device;
    this.loopback = opts.loopback ?? false;
    if (opts.device.medium === "ethernet" && !opts.mac) {
      throw new TypeError("Cannot add an Ethernet interface without a MAC address");
    }
    this.#mac = opts.device.medium === "ethernet" ? opts.mac! : null;
    for (const a of opts.addresses ?? []) this.addAddress(typeof a === "string" ? IpCidr.parse(a) : a);
  }

  get mac(): EthernetAddress | null {
    return this.#mac;
  }

  /** Gives an Ethernet interface another address (RTM_NEWLINK's IFLA_ADDRESS); neighbors learn it from our next frames. */
  setMac(mac: EthernetAddress): void {
    if (this.#mac === null) throw new TypeError("Cannot set a MAC address on an IP interface");
    this.#mac = mac;
  }

  get removed(): boolean {
    return this.#removed;
  }

  /** Whether the interface is up (IFF_UP). */
  get up(): boolean {
    return !this.#down;
  }

  /** For Stack.setUp. */
  setUp(up: boolean): void {
    this.#down = !up;
  }

  /** For Stack.removeInterface. */
  remove(): void {
    this.#removed = true;
    this.#addresses = [];
    this.neighbors.clear();
  }

  get medium(): Medium {
    return this.device.medium;
  }

  /** Largest IP packet the link carries. */
  get ipMtu(): number {
    return this.device.mtu - (this.medium === "ethernet" ? ETHERNET_HEADER_LEN : 0);
  }

  get addresses(): readonly IpCidr[] {
    return this.#addresses;
  }

  addAddress(c: IpCidr): void {
    this.#addresses.push(c);
  }

  removeAddress(a: IpAddress): void {
    this.#addresses = this.#addresses.filter((c) => !c.address.equals(a));
  }

  /** Whether `a` is one of our unicast addresses, for traffic: none while the interface is down. */
  hasAddress(a: IpAddress): boolean {
    // The loop itself, not holdsAddress: this runs for every segment sent (Stack.isLocalAddress).
    if (this.#down) return false;
    for (const c of this.#addresses) if (c.address.equals(a)) return true;
    return false;
  }

  /** Whether `a` is assigned to the interface, up or down (what bind(2) asks of an IPv4 address). */
  holdsAddress(a: IpAddress): boolean {
    for (const c of this.#addresses) if (c.address.equals(a)) return true;
    return false;
  }

  /**
   * On the loopback device, the IPv4 address whose network holds `a`: Linux's fib_add_ifaddr
   * makes a loopback address's whole prefix a local route (127.0.0.1/8: all of 127/8); null
   * elsewhere or when none does.
   */
  localNetworkOf(a: IpAddress): IpAddress | null {
    if (!this.loopback || this.#down || a.version !== 4) return null;
    for (const c of this.#addresses) if (c.address.version === 4 && c.contains(a)) return c.address;
    return null;
  }

  /** Whether an IP packet to `dst` is for us: unicast, broadcast, or a group we are in. */
  acceptsDestination(dst: IpAddress): boolean {
    if (this.#down) return false;
    if (this.hasAddress(dst)) return true;
    if (dst.version === 4) {
      if (dst.isBroadcast) return true;
      for (const c of this.#addresses) if (c.broadcast()?.equals(dst)) return true;
      return false;
    }
    if (dst.equals(Ipv6Address.LINK_LOCAL_ALL_NODES)) return true;
    for (const c of this.#addresses) {
      if (c.address.version === 6 && c.address.solicitedNode().equals(dst)) return true;
    }
    return false;
  }

  /** Picks a source address of `dst`'s family, preferring one on the same prefix. */
  sourceFor(dst: IpAddress): IpAddress | null {
    if (this.#down) return null;
    let any: IpAddress | null = null;
    for (const c of this.#addresses) {
      if (c.address.version !== dst.version) continue;
      if (c.contains(dst)) return c.address;
      if (dst.version === 6 && (dst as Ipv6Address).isLinkLocal !== (c.address as Ipv6Address).isLinkLocal) {
        any ??= c.address;
        continue;
      }
      if (any === null || (any.version === 6 && (any as Ipv6Address).isLinkLocal)) any = c.address;
    }
    return any;
  }

  /** An IPv4 address to put in ARP requests for `target`. */
  arpSourceFor(target: Ipv4Address): Ipv4Address | null {
    const s = this.sourceFor(target);
    return s !== null && s.version === 4 ? s : null;
  }
}
