/**
 * The socket layer's public surface: the contract (socket.ts) and every address family, each
 * of which registers itself when imported here. The socket syscalls import this module.
 *
 * @module
 */

export * from "./socket.ts";
import "./unix/mod.ts";
import "./inet/mod.ts";
import "./netlink/mod.ts";
import "./packet/packet.ts";
