/**
 * Link and network addresses. Each address owns a small immutable byte array;
 * `toString()` gives the conventional text form, which also serves as a map key.
 *
 * @module
 */

/** A 48-bit IEEE 802 MAC address. @savable */
export class EthernetAddress {
  /** Immutable. */
  readonly bytes: Uint8Array;

  constructor(bytes: ArrayLike<number>) {
    if (bytes.length !== 6) throw new RangeError("Cannot make an Ethernet address: need 6 bytes");
    this.bytes = Uint8Array.from(bytes);
  }

  static readonly BROADCAST: EthernetAddress = new EthernetAddress([255, 255, 255, 255, 255, 255]);

  /** Parses "02:00:00:00:00:01". */
  static parse(s: string): EthernetAddress {
    const parts = s.split(":");
    if (parts.length !== 6) throw new SyntaxError(`Cannot parse Ethernet address: "${s}"`);
    return new EthernetAddress(parts.map((p) => parseInt(p, 16)));
  }

  get isBroadcast(): boolean {
    return this.bytes.every((b) => b === 0xff);
  }

  get isMulticast(): boolean {
    return (this.bytes[0]! & 1) !== 0;
  }

  equals(o: EthernetAddress): boolean {
    const a = this.bytes, b = o.bytes;
    return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3] && a[4] === b[4] &&
      a[5] === b[5];
  }

  toString(): string {
    return Array.from(this.bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
  }
}

/** An IPv4 address. @savable */
export class Ipv4Address {
  readonly version = 4 as const;
  /** Immutable. */
  readonly bytes: Uint8Array;
  /** Immutable. The address as an unsigned 32-bit number. */
  readonly value: number;
  #text: string | undefined;

  constructor(bytes: ArrayLike<number>) {
    if (bytes.length !== 4) throw new RangeError("Cannot make an IPv4 address: need 4 bytes");
    this.bytes = Uint8Array.from(bytes);
    this.value = ((this.bytes[0]! << 24) | (this.bytes[1]! << 16) | (this.bytes[2]! << 8) |
      this.bytes[3]!) >>> 0;
  }

  static readonly UNSPECIFIED: Ipv4Address = new Ipv4Address([0, 0, 0, 0]);
  static readonly BROADCAST: Ipv4Address = new Ipv4Address([255, 255, 255, 255]);

  static fromValue(v: number): Ipv4Address {
    return new Ipv4Address([(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]);
  }

  /**
   * The address stored big-endian at `b[at..at+4]`, shared from a small
   * cache: packet parsing asks for the same few addresses over and over, and
   * addresses are immutable.
   */
  static read(b: Uint8Array, at: number): Ipv4Address {
    const v = ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
    let a = v4Cache.get(v);
    if (a === undefined) {
      if (v4Cache.size >= V4_CACHE_MAX) v4Cache.clear();
      a = new Ipv4Address(b.subarray(at, at + 4));
      v4Cache.set(v, a);
    }
    return a;
  }

  /** Parses dotted-quad text, e.g. "10.0.0.1". */
  static parse(s: string): Ipv4Address {
    const parts = s.split(".");
    const nums = parts.map((p) => /^\d{1,3}$/.test(p) ? Number(p) : NaN);
    if (nums.length !== 4 || nums.some((n) => !(n >= 0 && n <= 255))) {
      throw new SyntaxError(`Cannot parse IPv4 address: "${s}"`);
    }
    return new Ipv4Address(nums);
  }

  get isUnspecified(): boolean {
    return this.value === 0;
  }
  get isBroadcast(): boolean {
    return this.value === 0xffffffff;
  }
  get isMulticast(): boolean {
    return (this.bytes[0]! & 0xf0) === 0xe0;
  }
  get isLoopback(): boolean {
    return this.bytes[0] === 127;
  }

  equals(o: IpAddress): boolean {
    return o.version === 4 && o.value === this.value;
  }

  toString(): string {
    const b = this.bytes;
    return this.#text ??= `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  }
}

/** Bound on the {@linkcode Ipv4Address.read} cache; a pure cache, not saved state. */
const V4_CACHE_MAX = 1024;
const v4Cache = new Map<number, Ipv4Address>();

/** An IPv6 address. @savable */
export class Ipv6Address {
  readonly version = 6 as const;
  /** Immutable. */
  readonly bytes: Uint8Array;
  #text: string | undefined;

  constructor(bytes: ArrayLike<number>) {
    if (bytes.length !== 16) throw new RangeError("Cannot make an IPv6 address: need 16 bytes");
    this.bytes = Uint8Array.from(bytes);
  }

  static readonly UNSPECIFIED: Ipv6Address = new Ipv6Address(new Uint8Array(16));
  static readonly LOOPBACK: Ipv6Address = new Ipv6Address([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  /** ff02::1, all nodes on the link. */
  static readonly LINK_LOCAL_ALL_NODES: Ipv6Address = new Ipv6Address([
    0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
  ]);

  /** Parses RFC 4291 §2.2 text, with at most one "::"; no embedded IPv4. */
  static parse(s: string): Ipv6Address {
    const fail = () => new SyntaxError(`Cannot parse IPv6 address: "${s}"`);
    const halves = s.split("::");
    if (halves.length > 2) throw fail();
    const groups = (t: string) => t === "" ? [] : t.split(":");
    const head = groups(halves[0]!);
    const tail = halves.length === 2 ? groups(halves[1]!) : [];
    const missing = 8 - head.length - tail.length;
    if (halves.length === 1 ? missing !== 0 : missing < 1) throw fail();
    const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
    const out = new Uint8Array(16);
    all.forEach((g, i) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw fail();
      const v = parseInt(g, 16);
      out[2 * i] = v >> 8;
      out[2 * i + 1] = v & 255;
    });
    return new Ipv6Address(out);
  }

  get isUnspecified(): boolean {
    return this.bytes.every((b) => b === 0);
  }
  get isMulticast(): boolean {
    return this.bytes[0] === 0xff;
  }
  get isLoopback(): boolean {
    return this.equals(Ipv6Address.LOOPBACK);
  }
  get isLinkLocal(): boolean {
    return this.bytes[0] === 0xfe && (this.bytes[1]! & 0xc0) === 0x80;
  }

  /** The solicited-node multicast address ff02::1:ffXX:XXXX (RFC 4291 §2.7.1). */
  solicitedNode(): Ipv6Address {
    const b = new Uint8Array(16);
    b.set([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]);
    b.set(this.bytes.subarray(13), 13);
    return new Ipv6Address(b);
  }

  /** The Ethernet multicast address 33:33:XX:XX:XX:XX (RFC 2464 §7). */
  multicastMac(): EthernetAddress {
    return new EthernetAddress([0x33, 0x33, ...this.bytes.subarray(12)]);
  }

  equals(o: IpAddress): boolean {
    if (o.version !== 6) return false;
    for (let i = 0; i < 16; i++) if (this.bytes[i] !== o.bytes[i]) return false;
    return true;
  }

  /** Canonical text form per RFC 5952 (longest zero run compressed, lower case). */
  toString(): string {
    if (this.#text !== undefined) return this.#text;
    const g: number[] = [];
    for (let i = 0; i < 8; i++) g.push((this.bytes[2 * i]! << 8) | this.bytes[2 * i + 1]!);
    let bestAt = -1, bestLen = 1;
    for (let i = 0; i < 8;) {
      if (g[i] !== 0) {
        i++;
        continue;
      }
      let j = i;
      while (j < 8 && g[j] === 0) j++;
      if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
      i = j;
    }
    const hex = (a: number[]) => a.map((x) => x.toString(16)).join(":");
    this.#text = bestAt < 0
      ? hex(g)
      : `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
    return this.#text;
  }
}

/** Either IP version. */
export type IpAddress = Ipv4Address | Ipv6Address;

/** Parses either address family from text. */
export function parseIpAddress(s: string): IpAddress {
  return s.includes(":") ? Ipv6Address.parse(s) : Ipv4Address.parse(s);
}

/** An address with a prefix length, e.g. 10.0.0.1/24. @savable */
export class IpCidr {
  /** Immutable. */
  readonly address: IpAddress;
  /** Immutable. */
  readonly prefixLength: number;

  constructor(address: IpAddress, prefixLength: number) {
    const max = address.version === 4 ? 32 : 128;
    if (!(prefixLength >= 0 && prefixLength <= max)) {
      throw new RangeError(`Cannot make CIDR: prefix length ${prefixLength} out of range`);
    }
    this.address = address;
    this.prefixLength = prefixLength;
  }

  /** Parses "10.0.0.1/24" or "fd00::1/64". */
  static parse(s: string): IpCidr {
    const [a, p] = s.split("/");
    if (a === undefined || p === undefined) throw new SyntaxError(`Cannot parse CIDR: "${s}"`);
    return new IpCidr(parseIpAddress(a), Number(p));
  }

  /** Whether `addr` lies inside this prefix. */
  contains(addr: IpAddress): boolean {
    if (addr.version !== this.address.version) return false;
    let bits = this.prefixLength;
    const a = this.address.bytes, b = addr.bytes;
    for (let i = 0; bits > 0; i++, bits -= 8) {
      const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
      if ((a[i]! & mask) !== (b[i]! & mask)) return false;
    }
    return true;
  }

  /** The directed broadcast address (IPv4 only). */
  broadcast(): Ipv4Address | null {
    if (this.address.version !== 4 || this.prefixLength >= 31) return null;
    const host = this.prefixLength === 0 ? 0xffffffff : (0xffffffff >>> this.prefixLength);
    return Ipv4Address.fromValue((this.address.value | host) >>> 0);
  }

  toString(): string {
    return `${this.address}/${this.prefixLength}`;
  }
}
