/**
 * Virtual links that RTM_NEWLINK makes (Linux's rtnl_link_ops): a veth pair, two Ethernet
 * interfaces joined back to back (a frame sent on one is received on the other), and a bridge
 * with no ports (it carries nothing yet). Both ends of a veth start in the namespace that made
 * them; RTM_NEWLINK with IFLA_NET_NS_FD or IFLA_NET_NS_PID moves one to another (Net.moveLink),
 * and frames then cross between the two stacks. They start down, as Linux's, and RTM_DELLINK
 * deletes them (a veth with its peer).
 *
 * @module
 */

import { type LinkEndpoint, loopbackPair, type Medium } from "../netstack/mod.ts";
import { EEXIST, EINVAL, ENFILE, EOPNOTSUPP } from "./errno.ts";
import { type Net, VethEnd } from "./net.ts";
import { randomMac } from "./net_tun.ts";

/** A veth's MTU (Linux's default, ETH_DATA_LEN) plus the Ethernet header. */
const VETH_FRAME = 1500 + 14;

/** @savable (refused) A bridge without ports: it sends nowhere and receives nothing. */
class PortlessBridge implements LinkEndpoint {
  readonly mtu = VETH_FRAME;
  readonly medium: Medium = "ethernet";
  receive(_now: number): Uint8Array | null {
    return null;
  }
  transmit(_now: number, _len: number, _fill: (buf: Uint8Array) => void): boolean {
    return true; // dropped, as by a bridge with no port to forward to
  }
}

/** An interface name rtnetlink accepts (dev_valid_name). */
function validName(name: string): boolean {
  return name.length > 0 && name.length < 16 && name !== "." && name !== ".." && !/[/:\s]/.test(name);
}

/** `name`, or the first free name of `kind%d` (dev_alloc_name). */
function pickName(net: Net, name: string | null, kind: string): string {
  if (name !== null) {
    if (!validName(name)) throw EINVAL;
    if (net.linkIndex(name) >= 0) throw EEXIST;
    return name;
  }
  for (let n = 0; n < 32768; n++) if (net.linkIndex(`${kind}${n}`) < 0) return `${kind}${n}`;
  throw ENFILE;
}

/**
 * RTM_NEWLINK with NLM_F_CREATE and IFLA_LINKINFO's IFLA_INFO_KIND `kind`: makes a veth pair
 * (`name` and the peer named in IFLA_INFO_DATA's VETH_INFO_PEER, or veth%d) or a bridge.
 * Throws EOPNOTSUPP for another kind (as Linux without its module), EEXIST for a taken name.
 */
export function createVirtualLink(net: Net, kind: string, name: string | null, peerName: string | null): void {
  if (kind === "bridge") {
    const n = pickName(net, name, "bridge");
    const iface = net.addLink(n, { device: new PortlessBridge(), mac: randomMac() }, false);
    net.virtualLinks.set(iface.index, { kind: "bridge", peer: null, peerNet: net });
    net.kick();
    return;
  }
  if (kind !== "veth") throw EOPNOTSUPP;
  // The peer's name is checked first and taken before the device's own (veth_newlink).
  const p = pickName(net, peerName, "veth");
  const taken = net.linkIndex(p);
  const n = name !== null ? pickName(net, name, "veth") : null;
  if (n === p || taken >= 0) throw EEXIST;
  const [ia, ib] = loopbackPair({ medium: "ethernet", mtu: VETH_FRAME, capacity: 256 });
  const a = new VethEnd(ia, net), b = new VethEnd(ib, net);
  a.peer = b;
  b.peer = a;
  const peer = net.addLink(p, { device: b, mac: randomMac() }, false);
  const own = net.addLink(n ?? pickName(net, null, "veth"), { device: a, mac: randomMac() }, false);
  net.virtualLinks.set(own.index, { kind: "veth", peer: peer.index, peerNet: net });
  net.virtualLinks.set(peer.index, { kind: "veth", peer: own.index, peerNet: net });
  net.kick();
}

/** RTM_DELLINK of a veth (with its peer, wherever it is) or bridge at netstack index `index`. */
export function deleteVirtualLink(net: Net, index: number): void {
  const v = net.virtualLinks.get(index);
  if (v === undefined) throw EOPNOTSUPP;
  const ends: [Net, number][] = v.peer === null ? [[net, index]] : [[net, index], [v.peerNet, v.peer]];
  for (const [n, i] of ends) {
    n.virtualLinks.delete(i);
    n.removeLink(i);
    n.kick();
  }
}
