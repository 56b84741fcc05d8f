/**
 * Port reservations for one transport protocol, with ephemeral allocation
 * from Linux's default ip_local_port_range (32768–60999), not the IANA dynamic range of
 * RFC 6335 §6: programs inside the sandbox read the range from /proc and expect Linux's, and
 * ports above 60999 stay free for the listeners that pick them because Linux never hands them out.
 *
 * @module
 */

import { EADDRINUSE } from "../errors.ts";
import type { IpAddress } from "../wire/address.ts";

export const EPHEMERAL_LOW = 32768;
export const EPHEMERAL_HIGH = 60999;

export interface Holder<T> {
  owner: T;
  addr: IpAddress | null;
  /** Took an ephemeral port for a connect (bindForConnect): may share it with others such. */
  shared?: boolean;
}

/** @savable */
export class PortTable<T> {
  #byPort = new Map<number, Holder<T>[]>();
  /** Next ephemeral port to try. */
  #next = EPHEMERAL_LOW;
  /** The ephemeral range (ip_local_port_range), inclusive. */
  #low = EPHEMERAL_LOW;
  #high = EPHEMERAL_HIGH;

  /** The ephemeral range, inclusive. */
  get ephemeralRange(): [number, number] {
    return [this.#low, this.#high];
  }

  /** Sets the ephemeral range (1 <= low <= high <= 65535; the caller checks). */
  set ephemeralRange([low, high]: [number, number]) {
    this.#low = low;
    this.#high = high;
    if (this.#next < low || this.#next > high) this.#next = low;
  }

  /**
   * Reserves `port` (0 for an ephemeral one) at `addr` (null for any) for
   * `owner`. `conflicts(other)` says whether an existing holder whose address
   * overlaps blocks the bind. Throws EADDRINUSE.
   */
  bind(owner: T, addr: IpAddress | null, port: number, conflicts: (other: T) => boolean, shareHeld = false): number {
    if (port === 0) {
      const span = this.#high - this.#low + 1;
      for (let i = 0; i < span; i++) {
        const p = this.#next;
        this.#next = p >= this.#high ? this.#low : p + 1;
        // Free, or held only at other addresses (127.0.0.1 and ::1 do not overlap): Linux's
        // autobind (inet_csk_find_open_port, udp_lib_get_port) skips only ports where a
        // socket it would clash with is bound.
        const held = this.#byPort.get(p);
        if (held === undefined || held.every((h) => !overlaps(h.addr, addr))) {
          if (held === undefined) this.#byPort.set(p, [{ owner, addr }]);
          else held.push({ owner, addr });
          return p;
        }
      }
      // UDP (shareHeld): a held port whose holders all let this socket share it is as good as a
      // free one (udp_lib_get_port marks only conflicting ports as in use), so with every port
      // held the range still gives one, as Linux would have among its random picks.
      if (shareHeld) {
        for (let p = this.#low; p <= this.#high; p++) {
          const list = this.#byPort.get(p)!;
          if (list.some((h) => overlaps(h.addr, addr) && conflicts(h.owner))) continue;
          list.push({ owner, addr });
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

  /**
   * An ephemeral port for a connect, as Linux's __inet_hash_connect finds one: a free port if
   * any is left, else one held only by other connects' sockets where `usable(port)` (the
   * 4-tuple the new connection would have is not taken). Throws EADDRINUSE.
   */
  bindForConnect(owner: T, addr: IpAddress | null, usable: (port: number) => boolean): number {
    const span = this.#high - this.#low + 1;
    for (let i = 0; i < span; i++) {
      const p = this.#next;
      this.#next = p >= this.#high ? this.#low : p + 1;
      if (!this.#byPort.has(p)) {
        this.#byPort.set(p, [{ owner, addr, shared: true }]);
        return p;
      }
    }
    for (let i = 0; i < span; i++) {
      const p = this.#next;
      this.#next = p >= this.#high ? this.#low : p + 1;
      const list = this.#byPort.get(p)!;
      if (list.every((h) => h.shared) && usable(p)) {
        // usable() may have let a holder go (a TIME-WAIT taken over): the list is anew.
        const now = this.#byPort.get(p);
        if (now) now.push({ owner, addr, shared: true });
        else this.#byPort.set(p, [{ owner, addr, shared: true }]);
        return p;
      }
    }
    throw EADDRINUSE;
  }

  /**
   * Whether `owner`, holding `port` at `addr`, conflicts with another holder of it that
   * overlaps (`conflicts` as in bind). For listen(2), which checks again.
   */
  conflicted(owner: T, addr: IpAddress | null, port: number, conflicts: (other: T) => boolean): boolean {
    for (const h of this.#byPort.get(port) ?? []) {
      if (h.owner === owner) continue;
      const overlap = h.addr === null || addr === null || h.addr.equals(addr);
      if (overlap && conflicts(h.owner)) return true;
    }
    return false;
  }

  /** Adds `owner` as a holder of `port` at `addr` with no check (a connection its listener made). */
  add(owner: T, addr: IpAddress | null, port: number): void {
    const list = this.#byPort.get(port) ?? [];
    list.push({ owner, addr });
    this.#byPort.set(port, list);
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

  /** Holders of `port` in the order they took it, with their addresses and how (bindForConnect: shared). */
  entries(port: number): readonly Readonly<Holder<T>>[] {
    return this.#byPort.get(port) ?? [];
  }

  /** Holders of `port`. */
  holders(port: number): T[] {
    return (this.#byPort.get(port) ?? []).map((h) => h.owner);
  }
}

/** Whether two bound addresses overlap (either is the wildcard, or they are the same). */
function overlaps(a: IpAddress | null, b: IpAddress | null): boolean {
  return a === null || b === null || a.equals(b);
}
