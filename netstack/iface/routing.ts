/**
 * The routing table: longest-prefix match from destination to interface and
 * next hop.
 *
 * @module
 */

import { type IpAddress, IpCidr } from "../wire/address.ts";

/** One route. A null gateway means the destination is on-link. @savable */
export interface Route {
  cidr: IpCidr;
  gateway: IpAddress | null;
  ifIndex: number;
  /** The route's priority (RTA_PRIORITY): among equal prefixes the lowest wins; 0 if absent. */
  metric?: number;
}

/** @savable */
export class RoutingTable {
  #routes: Route[] = [];
  /** Interfaces that are down (Stack.setUp): their routes lead nowhere until they are up. */
  readonly #down = new Set<number>();

  /** Marks interface `ifIndex` down or up for lookups. */
  setInterfaceDown(ifIndex: number, down: boolean): void {
    if (down) this.#down.add(ifIndex);
    else this.#down.delete(ifIndex);
  }

  get routes(): readonly Route[] {
    return this.#routes;
  }

  add(r: Route): void {
    this.#routes.push({ cidr: r.cidr, gateway: r.gateway, ifIndex: r.ifIndex, ...(r.metric ? { metric: r.metric } : {}) });
    // Longest prefix first, then the lowest metric, so lookup takes the first match.
    this.#routes.sort((a, b) => b.cidr.prefixLength - a.cidr.prefixLength || (a.metric ?? 0) - (b.metric ?? 0));
  }

  /** Removes routes for which `pred` holds; returns how many. */
  remove(pred: (r: Route) => boolean): number {
    const before = this.#routes.length;
    this.#routes = this.#routes.filter((r) => !pred(r));
    return before - this.#routes.length;
  }

  /** The best route to `dst`, or null. */
  lookup(dst: IpAddress): Route | null {
    if (this.#down.size === 0) {
      for (const r of this.#routes) if (r.cidr.contains(dst)) return r;
      return null;
    }
    for (const r of this.#routes) if (r.cidr.contains(dst) && !this.#down.has(r.ifIndex)) return r;
    return null;
  }
}

/** A default route ("0.0.0.0/0" or "::/0") via `gateway`. */
export function defaultRoute(gateway: IpAddress, ifIndex: number): Route {
  return {
    cidr: new IpCidr(gateway, 0),
    gateway,
    ifIndex,
  };
}
