/**
 * The interface layer: {@linkcode Stack} ties devices, addresses, routes,
 * neighbor caches and sockets together and is driven by `poll(now)` /
 * `pollAt(now)`.
 *
 * @module
 */

export { type HeldDatagram, type HeldSyn, type StackOptions, type StackStats, Stack } from "./stack.ts";
export { Interface, type InterfaceOptions } from "./interface.ts";
export { defaultRoute, type Route, RoutingTable } from "./routing.ts";
export { NeighborCache } from "./neighbor_cache.ts";
export { Reassembler } from "./fragment.ts";
export { EPHEMERAL_HIGH, EPHEMERAL_LOW, PortTable } from "./ports.ts";
export { TimerHeap } from "./timer_heap.ts";
