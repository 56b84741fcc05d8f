/**
 * `--network sandbox`: the host side of the sandbox's external NIC, in the manner of slirp and
 * passt (and of gvisor-tap-vsock, which also puts a userspace stack on the far side of the
 * link). The sandbox's stack reaches a second, forwarding stack (Net.gateway, 10.0.2.2) over
 * an in-memory link; that stack holds every SYN and UDP datagram (netstack's
 * StackOptions.forwarding) and this module carries them with host sockets:
 *
 * - TCP: a held SYN for A:P makes the sentry connect a host socket to A:P (Deno.connect, async).
 *   When it connects, the gateway answers the SYN as A:P (acceptHeldSyn) and a Relay
 *   (net_host.ts) copies bytes both ways with back-pressure; when it fails, the gateway
 *   answers with a RST (refused) or an ICMP host unreachable (anything else).
 * - UDP: one host UDP socket per (sandbox source, destination) pair, closed after
 *   UDP_IDLE_MS without traffic; replies come back as datagrams from the destination.
 * - Addresses: 10.0.2.2 is the host's loopback (127.0.0.1; fd00:10:0:2::2 is ::1), 10.0.2.3
 *   port 53 is the host's resolver (the first nameserver of the host's /etc/resolv.conf);
 *   other addresses of 10.0.2.0/24 do not exist (host unreachable); any other address is
 *   itself. The allow-list (Net.checkAllowed) is checked again here, on the address the
 *   sandbox used.
 *
 * None of this is kernel state: pending host connects, relays and UDP flows are host plumbing
 * (@nosave). Held SYNs live in the gateway stack (plain data); a restore would have to
 * refuse or re-forward them, since their host connects are gone (no checkpoint exists yet).
 *
 * @module
 */

import type { Socket as DgramSocket } from "node:dgram";
import { type HeldDatagram, type HeldSyn, type IpAddress, IpCidr, Ipv4Address, Ipv6Address } from "../netstack/mod.ts";
import type { Net } from "./net.ts";
import { Relay } from "./net_host.ts";

/** The sandbox side of the NIC. */
export const SANDBOX_NET = {
  cidr4: "10.0.2.0/24",
  addr4: "10.0.2.15",
  gateway4: "10.0.2.2",
  dns4: "10.0.2.3",
  cidr6: "fd00:10:0:2::/64",
  addr6: "fd00:10:0:2::15",
  gateway6: "fd00:10:0:2::2",
  dns6: "fd00:10:0:2::3",
} as const;

/** A UDP flow with no traffic for this long is closed. */
export const UDP_IDLE_MS = 60_000;

const NET4 = IpCidr.parse(SANDBOX_NET.cidr4);
const NET6 = IpCidr.parse(SANDBOX_NET.cidr6);
const GW4 = Ipv4Address.parse(SANDBOX_NET.gateway4);
const GW6 = Ipv6Address.parse(SANDBOX_NET.gateway6);
const DNS4 = Ipv4Address.parse(SANDBOX_NET.dns4);
const DNS6 = Ipv6Address.parse(SANDBOX_NET.dns6);

/** The first nameserver of a resolv.conf text, or null. */
export function parseNameserver(text: string): string | null {
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m) return m[1]!.replace(/%.*$/, "");
  }
  return null;
}

/** A host address and port. */
export interface HostEndpoint {
  hostname: string;
  port: number;
}

/** The host's resolver, from /etc/resolv.conf (null if none is named). */
export function hostNameserver(): HostEndpoint | null {
  try {
    const ns = parseNameserver(Deno.readTextFileSync("/etc/resolv.conf"));
    return ns === null ? null : { hostname: ns, port: 53 };
  } catch {
    return null;
  }
}

/**
 * Where a flow the sandbox sent to addr:port goes on the host, or "none" for an address of
 * the sandbox network that does not exist (or the resolver's address on another port).
 */
export function hostTarget(addr: IpAddress, port: number, resolver: HostEndpoint | null): HostEndpoint | "none" {
  if (addr.equals(GW4)) return { hostname: "127.0.0.1", port };
  if (addr.equals(GW6)) return { hostname: "::1", port };
  if (addr.equals(DNS4) || addr.equals(DNS6)) return port === 53 && resolver !== null ? resolver : "none";
  if (NET4.contains(addr) || NET6.contains(addr)) return "none";
  return { hostname: addr.toString(), port };
}

/** node:dgram, once loaded; null before. */
let dgram: typeof import("node:dgram") | null = null;
let dgramLoading: Promise<void> | null = null;

/**
 * Loads node:dgram (the host UDP sockets of the sandbox's flows) when a forwarder is made: only
 * with --network sandbox, since loading Deno's Node layer costs ~10 ms of CPU.
 */
function loadDgram(): Promise<void> {
  dgramLoading ??= import("node:dgram").then((m) => {
    dgram = m;
  });
  dgramLoading.catch(() => {});
  return dgramLoading;
}

/** @nosave The host side of --network sandbox: forwards the gateway's held SYNs and datagrams. */
export class Forwarder {
  readonly #net: Net;
  readonly #resolver: HostEndpoint | null;
  readonly #relays = new Set<Relay>();
  /** Host connects in flight (aborted by close). */
  readonly #connecting = new Set<AbortController>();
  readonly #udp = new Map<string, UdpFlow>();
  #closed = false;

  constructor(net: Net, resolver: HostEndpoint | null = hostNameserver()) {
    this.#net = net;
    this.#resolver = resolver;
    loadDgram();
  }

  /** Starts forwarding what the gateway held since the last call. Called after each kick. */
  service(): void {
    const gw = this.#net.gateway;
    if (gw === null || this.#closed) return;
    for (const h of gw.takeHeldSyns()) this.#forwardSyn(h);
    for (const d of gw.takeHeldDatagrams()) this.#forwardDatagram(d);
  }

  /** Whether the sandbox may reach addr:port (the allow-list). */
  #allowed(addr: IpAddress, port: number): boolean {
    try {
      this.#net.checkAllowed(addr, port);
      return true;
    } catch {
      return false;
    }
  }

  #forwardSyn(h: HeldSyn): void {
    const net = this.#net, gw = net.gateway!;
    const target = hostTarget(h.dst.addr, h.dst.port, this.#resolver);
    if (target === "none" || !this.#allowed(h.dst.addr, h.dst.port)) {
      // The resolver's address exists (its other ports are closed); the rest of the sandbox
      // network does not, and a denied destination is "host prohibited".
      const dnsAddr = h.dst.addr.equals(DNS4) || h.dst.addr.equals(DNS6);
      gw.refuseHeldSyn(net.now(), h, target === "none" && dnsAddr ? "reset" : "host");
      this.#queueKick();
      return;
    }
    const abort = new AbortController();
    this.#connecting.add(abort);
    Deno.connect({ hostname: target.hostname, port: target.port, transport: "tcp", signal: abort.signal }).then(
      (conn) => {
        this.#connecting.delete(abort);
        if (this.#closed) {
          conn.close();
          return;
        }
        const sock = gw.acceptHeldSyn(net.now(), h);
        if (sock === null) {
          conn.close();
          return;
        }
        const r = new Relay(net, conn, sock, (x) => this.#relays.delete(x));
        this.#relays.add(r);
        r.attach();
      },
      (err: unknown) => {
        this.#connecting.delete(abort);
        if (this.#closed) return;
        gw.refuseHeldSyn(net.now(), h, err instanceof Deno.errors.ConnectionRefused ? "reset" : "host");
        net.kick();
      },
    );
  }

  #forwardDatagram(d: HeldDatagram): void {
    if (dgram === null) {
      // node:dgram is still loading (it began with the forwarder): the datagram goes once it is.
      void loadDgram().then(() => {
        if (!this.#closed) this.#forwardDatagram(d);
      }, () => {});
      return;
    }
    const target = hostTarget(d.dst.addr, d.dst.port, this.#resolver);
    if (target === "none" || !this.#allowed(d.dst.addr, d.dst.port)) return;
    const key = `${d.src.addr}|${d.src.port}|${d.dst.addr}|${d.dst.port}`;
    let flow = this.#udp.get(key);
    if (flow === undefined) {
      flow = new UdpFlow(this.#net, d, target, () => this.#udp.delete(key));
      this.#udp.set(key, flow);
    }
    flow.send(d.data);
  }

  #kickQueued = false;

  /** Kicks outside the kick that called service(). */
  #queueKick(): void {
    if (this.#kickQueued) return;
    this.#kickQueued = true;
    queueMicrotask(() => {
      this.#kickQueued = false;
      if (!this.#closed) this.#net.kick();
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const a of this.#connecting) a.abort();
    this.#connecting.clear();
    for (const r of [...this.#relays]) r.close();
    for (const f of [...this.#udp.values()]) f.close();
  }
}

/** @nosave One host UDP socket carrying one sandbox (source, destination) pair. */
class UdpFlow {
  readonly #net: Net;
  readonly #sock: DgramSocket;
  readonly #sandboxSide: HeldDatagram["src"];
  readonly #dst: HeldDatagram["dst"];
  readonly #target: HostEndpoint;
  readonly #onClose: () => void;
  #lastUsed: number;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;

  constructor(net: Net, d: HeldDatagram, target: HostEndpoint, onClose: () => void) {
    this.#net = net;
    this.#sandboxSide = d.src;
    this.#dst = d.dst;
    this.#target = target;
    this.#onClose = onClose;
    this.#lastUsed = performance.now();
    this.#sock = dgram!.createSocket(target.hostname.includes(":") ? "udp6" : "udp4");
    this.#sock.on("message", (msg: Uint8Array) => this.#received(msg));
    this.#sock.on("error", () => this.close());
    this.#arm(UDP_IDLE_MS);
  }

  send(data: Uint8Array): void {
    if (this.#closed) return;
    this.#lastUsed = performance.now();
    this.#sock.send(data, this.#target.port, this.#target.hostname, (err) => {
      if (err) this.close();
    });
  }

  #received(msg: Uint8Array): void {
    if (this.#closed) return;
    this.#lastUsed = performance.now();
    const net = this.#net;
    // As from the address the sandbox sent to; dropped if the link is full, as UDP may be.
    net.gateway?.sendDatagramAs(net.now(), this.#dst, this.#sandboxSide, new Uint8Array(msg));
    net.kick();
  }

  #arm(ms: number): void {
    const t = setTimeout(() => {
      this.#timer = null;
      const idle = performance.now() - this.#lastUsed;
      if (idle >= UDP_IDLE_MS) this.close();
      else this.#arm(UDP_IDLE_MS - idle);
    }, ms);
    this.#timer = t;
    Deno.unrefTimer(t);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    try {
      this.#sock.close();
    } catch { /* closed */ }
    this.#onClose();
  }
}
