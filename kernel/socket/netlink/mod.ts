/**
 * The AF_NETLINK family: NETLINK_ROUTE (route.ts), NETLINK_NETFILTER (netfilter.ts) and
 * NETLINK_KOBJECT_UEVENT (uevent.ts) sockets;
 * registers itself when imported.
 *
 * @module
 */

import { EPROTONOSUPPORT, ESOCKTNOSUPPORT } from "../../errno.ts";
import { CAP_NET_ADMIN } from "../../../abi/linux/capability.ts";
import { O_NONBLOCK } from "../../../abi/linux/file.ts";
import type { Net } from "../../net.ts";
import * as C from "../inet/constants.ts";
import { registerFamily, type SocketFile } from "../socket.ts";
import { NETLINK_NETFILTER, NetlinkNetfilterSocket } from "./netfilter.ts";
import { NETLINK_ROUTE, NetlinkRouteSocket } from "./route.ts";
import { NETLINK_KOBJECT_UEVENT, NetlinkUeventSocket } from "./uevent.ts";

export { NETLINK_NETFILTER, NetlinkNetfilterSocket } from "./netfilter.ts";
export { NETLINK_ROUTE, NetlinkRouteSocket } from "./route.ts";
export { NETLINK_KOBJECT_UEVENT, NetlinkUeventSocket } from "./uevent.ts";

/** Creates a netlink socket of `protocol` on net (a task's network namespace). */
export function createNetlinkSocket(net: Net, type: number, protocol: number, flags: number, pid: number, netAdmin = true): SocketFile {
  const base = type & C.SOCK_TYPE_MASK;
  if (base !== C.SOCK_RAW && base !== C.SOCK_DGRAM) throw ESOCKTNOSUPPORT;
  const f = flags | (type & O_NONBLOCK);
  if (protocol === NETLINK_ROUTE) return new NetlinkRouteSocket(net, base, f, pid, netAdmin);
  if (protocol === NETLINK_NETFILTER) return new NetlinkNetfilterSocket(net, base, f, pid, netAdmin);
  if (protocol === NETLINK_KOBJECT_UEVENT) return new NetlinkUeventSocket(net, base, f, pid, netAdmin);
  throw EPROTONOSUPPORT;
}

registerFamily(
  C.AF_NETLINK,
  (t, type, protocol, flags) => createNetlinkSocket(t.net, type, protocol, flags, t.tg.tgid, t.creds.capableIn(t.net.owner, CAP_NET_ADMIN)),
);
