/**
 * Port reservations for one transport protocol, with ephemeral allocation
 * from the IANA dynamic range (RFC 6335 §6).
 *
 * @module
 */

import { EADDRINUSE } from "../errors.ts";
import type { IpAddress } from "../wire/address.ts";

export const EPHEMERAL_LOW = 49152;
export const EPHEMERAL_HIGH = 65535;

interface Holder<T> {
  owner: T;
  addr: IpAddress | null;
}

/** @savable */
export class PortTable<T> {
  #byPort = new Map<number, Holder<T>[]>();
  /** Next ephemeral port to try. */
  #next = EPHEMERAL_LOW;

  /**
   * Reserves `port` (0 for an ephemeral one) at `addr` (null for any) for
   * `owner`. `conflicts(other)` says whether an existing holder whose address
   * overlaps blocks the bind. Throws EADDRINUSE.
   */
  bind(owner: T, addr: IpAddress | null, port: number, conflicts: (other: T) => boolean): number {
    if (port === 0) {
      const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
      for (let i = 0; i < span; i++) {
        const p = this.#next;
        this.#next = p === EPHEMERAL_HIGH ? EPHEMERAL_LOW : p + 1;
        if (!this.#byPort.has(p)) {
          this.#byPort.set(p, [{ owner, addr }]);
          return p;
        }
      }
      throw EADDRINUSE;
    }
    const list = this.#byPort.get(port) ?? [];
    for (const h of list) {
      const overlap = h.addr === null || addr === null || h.addr.equals(addr);
      if (overlap && conflicts(h.owner)) throw EADDRINUSE;
    }
    list.push({ owner, addr });
    this.#byPort.set(port, list);
    return port;
  }

  unbind(owner: T, port: number): void {
    const list = this.#byPort.get(port);
    if (!list) return;
    const rest = list.filter((h) => h.owner !== owner);
    if (rest.length === 0) this.#byPort.delete(port);
    else this.#byPort.set(port, rest);
  }

  /** Every holder of every port (a checkpoint's walk). */
  owners(): T[] {
    return [...this.#byPort.values()].flatMap((l) => l.map((h) => h.owner));
  }

  /** Holders of `port`. */
  holders(port: number): T[] {
    return (this.#byPort.get(port) ?? []).map((h) => h.owner);
  }
}
