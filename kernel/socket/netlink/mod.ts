/**
 * The AF_NETLINK family (NETLINK_ROUTE only); registers itself when imported.
 *
 * @module
 */

export { createNetlinkSocket, NETLINK_ROUTE, NetlinkRouteSocket } from "./route.ts";
