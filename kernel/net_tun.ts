/**
 * TUN/TAP devices (Linux's drivers/net/tun.c), entirely inside the sandbox: opening /dev/net/tun
 * gives a {@linkcode TunFile}; TUNSETIFF creates (with CAP_NET_ADMIN) or attaches an interface
 * of the sandbox's stack whose frames the file reads and writes. A TUN device carries IP
 * packets (ARPHRD_NONE), a TAP device Ethernet frames (ARPHRD_ETHER, a random local MAC); both
 * are prefixed by a 4-byte struct tun_pi (flags, protocol) unless IFF_NO_PI. What the stack
 * sends to the device waits (up to txqueuelen frames, then dropped) for the file to read it;
 * what the file writes is taken in at the next poll of the stack. No host tun is ever used.
 *
 * The device goes when its file is closed, unless TUNSETPERSIST made it persistent (then a
 * later TUNSETIFF of its name attaches a new file and TUNSETPERSIST 0 lets it go with that
 * file). A new device is down, as on Linux: RTM_NEWLINK (or SIOCSIFFLAGS) with IFF_UP brings it
 * up; a TAP's MAC may be set by RTM_NEWLINK's IFLA_ADDRESS.
 *
 * A checkpoint refuses while a device exists (kernel/checkpoint/save.ts).
 *
 * @module
 */

import { EthernetAddress, type Interface, type LinkEndpoint, type Medium } from "../netstack/mod.ts";
import { EAGAIN, EBADFD, EBUSY, EEXIST, EINVAL, EIO, ENFILE, EPERM } from "./errno.ts";
import type { Net, NetWatcher } from "./net.ts";
import type { Task } from "./task.ts";
import { CAP_NET_ADMIN } from "../abi/linux/capability.ts";
import { LocatedFile } from "../vfs/located_file.ts";
import type { Location } from "../vfs/mount.ts";
import { EVENT_ERR, EVENT_IN, EVENT_OUT, EVENT_RDNORM, EVENT_WRNORM } from "../waiter/mod.ts";
import { hostRandom } from "../platform/ptrace/_ffi.ts";

// linux/if_tun.h
export const TUNSETNOCSUM = 0x400454c8;
export const TUNSETIFF = 0x400454ca;
export const TUNSETPERSIST = 0x400454cb;
export const TUNSETOWNER = 0x400454cc;
export const TUNSETGROUP = 0x400454ce;
export const TUNGETFEATURES = 0x800454cf;
export const TUNGETIFF = 0x800454d2;
export const IFF_TUN = 0x0001;
export const IFF_TAP = 0x0002;
export const IFF_NO_PI = 0x1000;
/** TUNGETIFF's "no socket filter attached": the same bit as IFF_NO_PI, read-only. */
export const IFF_NOFILTER = 0x1000;
export const IFF_ONE_QUEUE = 0x2000;
export const IFF_VNET_HDR = 0x4000;
export const IFF_TUN_EXCL = 0x8000;
export const IFF_MULTI_QUEUE = 0x0100;
export const IFF_PERSIST = 0x0800;
/** The per-attach flags kept from TUNSETIFF (Linux's TUN_FEATURES, less what is not done here). */
const TUN_FEATURES = IFF_NO_PI | IFF_ONE_QUEUE;

const IFNAMSIZ = 16;
const IFREQ_SIZE = 40;
const TUN_PI_LEN = 4;
const ETH_HLEN = 14;
const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
/** The default MTU of a new device (ether_setup's, tun_net_init's for TUN). */
const TUN_MTU = 1500;
/** Frames the device holds for a reader before it drops (Linux's default tx_queue_len). */
const TX_QUEUE_LEN = 500;
/** Frames written and not yet taken in by the stack, before a write fails with EAGAIN. */
const RX_QUEUE_LEN = 1024;
/** The largest frame a write may carry (an skb of 64 KiB). */
const MAX_FRAME = 65535 + ETH_HLEN;

/**
 * @savable (refused: a checkpoint names it and stops) The device side of a TUN/TAP interface:
 * frames the file wrote, waiting for the stack, and frames the stack sent, waiting for a read.
 */
export class TunLink implements LinkEndpoint {
  readonly mtu: number;
  readonly medium: Medium;
  /** Written by the file, for the stack's receive. */
  readonly #in: Uint8Array[] = [];
  /** Sent by the stack, for the file's read. */
  readonly #out: Uint8Array[] = [];
  /** Whether a file is attached: with none, what the stack sends is dropped. */
  attached = true;
  /** IFF_UP: a new device is down, as on Linux; down, it sends and takes nothing. */
  up = false;
  dropped = 0;

  constructor(medium: Medium) {
    this.medium = medium;
    this.mtu = TUN_MTU + (medium === "ethernet" ? ETH_HLEN : 0);
  }

  receive(_now: number): Uint8Array | null {
    return this.#in.shift() ?? null;
  }

  transmit(_now: number, len: number, fill: (buf: Uint8Array) => void): boolean {
    if (len > this.mtu) return false;
    // As tun_net_xmit: a full queue (or no reader at all) drops the frame, never holds the stack.
    if (!this.attached || !this.up || this.#out.length >= TX_QUEUE_LEN) {
      this.dropped++;
      return true;
    }
    const b = new Uint8Array(len);
    fill(b);
    this.#out.push(b);
    return true;
  }

  /** A frame for the stack; false if too many wait. */
  inject(frame: Uint8Array): boolean {
    if (this.#in.length >= RX_QUEUE_LEN) return false;
    this.#in.push(frame);
    return true;
  }

  /** The next frame the stack sent, or null. */
  take(): Uint8Array | null {
    return this.#out.shift() ?? null;
  }

  get readable(): boolean {
    return this.#out.length > 0;
  }

  /** Forgets what the stack sent (the reader went away). */
  flush(): void {
    this.#out.length = 0;
  }
}

/** @savable (refused) One TUN/TAP interface of the sandbox's stack. */
export class TunDevice {
  /** Stack index (its ifindex less one). */
  readonly index: number;
  readonly tap: boolean;
  readonly link: TunLink;
  /** IFF_TUN or IFF_TAP, IFF_PERSIST and the TUN_FEATURES the attaching TUNSETIFF asked for. */
  flags: number;
  /** The attached file, or null (a persistent device nobody holds). */
  file: TunFile | null = null;

  constructor(index: number, tap: boolean, link: TunLink, flags: number) {
    this.index = index;
    this.tap = tap;
    this.link = link;
    this.flags = flags;
  }
}

/** Linux's dev_valid_name: 1 to 15 bytes, not "." or "..", no '/', ':' or white space. */
function validName(name: string): boolean {
  if (name.length === 0 || name.length >= IFNAMSIZ || name === "." || name === "..") return false;
  return !/[/:\s]/.test(name);
}

/** A random unicast, locally administered MAC (Linux's eth_random_addr). */
export function randomMac(): EthernetAddress {
  const b = new Uint8Array(6);
  hostRandom(b);
  b[0] = (b[0]! & 0xfe) | 0x02;
  return new EthernetAddress(b);
}

/**
 * Creates a device named `pattern` (a "%d" in it takes the lowest free number, as
 * dev_alloc_name) in the sandbox's stack. Throws EINVAL for a bad name, ENFILE when no number
 * is left, EEXIST if taken.
 */
function createDevice(net: Net, pattern: string, tap: boolean, flags: number): TunDevice {
  let name = pattern;
  const pct = pattern.indexOf("%");
  if (pct >= 0) {
    if (pattern.slice(pct, pct + 2) !== "%d" || pattern.indexOf("%", pct + 1) >= 0) throw EINVAL;
    let n = 0;
    for (; n < 32768; n++) {
      const cand = pattern.slice(0, pct) + n + pattern.slice(pct + 2);
      if (net.linkIndex(cand) < 0) break;
    }
    if (n === 32768) throw ENFILE;
    name = pattern.slice(0, pct) + n + pattern.slice(pct + 2);
  }
  if (!validName(name)) throw EINVAL;
  if (net.linkIndex(name) >= 0) throw EEXIST;
  const link = new TunLink(tap ? "ethernet" : "ip");
  const iface: Interface = net.addLink(name, tap ? { device: link, mac: randomMac() } : { device: link });
  const dev = new TunDevice(iface.index, tap, link, flags);
  net.tuns.set(iface.index, dev);
  net.kick();
  return dev;
}

/**
 * @savable (refused) An open /dev/net/tun: unattached until TUNSETIFF, then the reader and
 * writer of one device's frames.
 */
export class TunFile extends LocatedFile implements NetWatcher {
  readonly net: Net;
  #dev: TunDevice | null = null;
  /** Whether a frame was readable when the wait queue was last told. */
  #wasReadable = false;

  constructor(net: Net, loc: Location, flags: number) {
    super(loc, flags);
    this.net = net;
  }

  get device(): TunDevice | null {
    return this.#dev;
  }

  override get messageOriented(): boolean {
    return true;
  }

  stackChanged(): void {
    const r = this.#dev?.link.readable ?? false;
    if (r && !this.#wasReadable) this.waitQueue.notify(EVENT_IN | EVENT_RDNORM);
    this.#wasReadable = r;
  }

  override readiness(mask: number): number {
    // tun_chr_poll: an unattached file is in error; an attached one is always writable.
    if (this.#dev === null) return EVENT_ERR;
    let r = EVENT_OUT | EVENT_WRNORM;
    if (this.#dev.link.readable) r |= EVENT_IN | EVENT_RDNORM;
    return r & (mask | EVENT_ERR);
  }

  override read(dst: Uint8Array, _offset: number | null): number {
    const dev = this.#dev;
    if (dev === null) throw EBADFD;
    const f = dev.link.take();
    this.#wasReadable = dev.link.readable;
    if (f === null) throw EAGAIN;
    let out = f;
    if (!(dev.flags & IFF_NO_PI)) {
      // struct tun_pi: flags (TUN_PKT_STRIP when cut short) and the protocol, big-endian.
      const proto = dev.tap
        ? (f.length >= ETH_HLEN ? (f[12]! << 8) | f[13]! : 0)
        : (f[0]! >> 4 === 6 ? ETH_P_IPV6 : ETH_P_IP);
      out = new Uint8Array(TUN_PI_LEN + f.length);
      if (dst.length < out.length) out[1] = 1;
      out[2] = proto >> 8;
      out[3] = proto & 0xff;
      out.set(f, TUN_PI_LEN);
    }
    const n = Math.min(dst.length, out.length);
    dst.set(out.subarray(0, n));
    return n;
  }

  override write(src: Uint8Array, _offset: number | null): number {
    const dev = this.#dev;
    if (dev === null) throw EBADFD;
    let frame = src;
    if (!(dev.flags & IFF_NO_PI)) {
      if (frame.length < TUN_PI_LEN) throw EINVAL;
      frame = frame.subarray(TUN_PI_LEN);
    }
    if (frame.length > MAX_FRAME) throw EINVAL;
    if (dev.tap) {
      if (frame.length < ETH_HLEN) throw EINVAL;
    } else if (dev.flags & IFF_NO_PI) {
      // tun_get_user: without packet information the IP version says what it is.
      const v = frame.length > 0 ? frame[0]! >> 4 : 0;
      if (v !== 4 && v !== 6) throw EINVAL;
    } else if (frame.length === 0) throw EINVAL;
    // tun_get_user: a device that is down takes nothing (once the frame was found well formed).
    if (!dev.link.up) throw EIO;
    if (!dev.link.inject(frame.slice())) throw EAGAIN;
    this.net.kick();
    return src.length;
  }

  protected override release(): void {
    this.#detach();
  }

  /** Lets the device go: it is deleted unless persistent. */
  #detach(): void {
    const dev = this.#dev;
    if (dev === null) return;
    this.#dev = null;
    this.net.unwatch(this);
    dev.file = null;
    dev.link.attached = false;
    dev.link.flush();
    if (!(dev.flags & IFF_PERSIST)) deleteDevice(this.net, dev);
  }

  /** TUNSETIFF: creates or attaches the device `req` names; returns the ifreq to copy out. */
  setIff(t: Task, req: Uint8Array): Uint8Array {
    if (this.#dev !== null) throw EEXIST;
    const v = new DataView(req.buffer, req.byteOffset, req.length);
    const flags = v.getUint16(16, true);
    const nul = req.subarray(0, IFNAMSIZ - 1).indexOf(0);
    const name = new TextDecoder().decode(req.subarray(0, nul < 0 ? IFNAMSIZ - 1 : nul));
    if (flags & (IFF_VNET_HDR | IFF_MULTI_QUEUE)) throw EINVAL; // not supported here
    const i = name === "" ? -1 : this.net.linkIndex(name);
    let dev: TunDevice;
    if (i >= 0) {
      // tun_set_iff on an existing device: only a TUN/TAP of the same type, nobody attached.
      if (flags & IFF_TUN_EXCL) throw EBUSY;
      const existing = this.net.tuns.get(i);
      if (existing === undefined) throw EINVAL;
      if ((flags & IFF_TUN) && existing.tap) throw EINVAL;
      if ((flags & IFF_TAP) && !existing.tap) throw EINVAL;
      if (!(flags & (IFF_TUN | IFF_TAP))) throw EINVAL;
      if (existing.file !== null) throw EBUSY;
      dev = existing;
      dev.flags = (dev.flags & ~TUN_FEATURES) | (flags & TUN_FEATURES);
    } else {
      if (!t.creds.capableIn(this.net.owner, CAP_NET_ADMIN)) throw EPERM; // tun_set_iff: over the namespace
      const type = flags & IFF_TUN ? IFF_TUN : flags & IFF_TAP ? IFF_TAP : 0;
      if (type === 0) throw EINVAL;
      dev = createDevice(this.net, name === "" ? (type === IFF_TUN ? "tun%d" : "tap%d") : name, type === IFF_TAP, type | (flags & TUN_FEATURES));
    }
    dev.file = this;
    dev.link.attached = true;
    this.#dev = dev;
    this.net.watch(this);
    this.#wasReadable = dev.link.readable;
    const out = Uint8Array.from(req);
    out.fill(0, 0, IFNAMSIZ);
    out.set(new TextEncoder().encode(this.net.ifNames[dev.index]!).subarray(0, IFNAMSIZ - 1));
    return out;
  }

  /** TUNGETIFF's ifreq: the name and flags (with IFF_NOFILTER: no filter can be attached). */
  getIff(): Uint8Array {
    const dev = this.#dev;
    if (dev === null) throw EBADFD;
    const out = new Uint8Array(IFREQ_SIZE);
    out.set(new TextEncoder().encode(this.net.ifNames[dev.index]!).subarray(0, IFNAMSIZ - 1));
    new DataView(out.buffer).setUint16(16, (dev.flags & (TUN_FEATURES | IFF_PERSIST | IFF_TUN | IFF_TAP)) | IFF_NOFILTER, true);
    return out;
  }

  /** TUNSETPERSIST. */
  setPersist(on: boolean): void {
    const dev = this.#dev;
    if (dev === null) throw EBADFD;
    dev.flags = on ? dev.flags | IFF_PERSIST : dev.flags & ~IFF_PERSIST;
  }
}

/** Deletes a device from the stack (its file is gone and it is not persistent). */
function deleteDevice(net: Net, dev: TunDevice): void {
  net.tuns.delete(dev.index);
  net.removeLink(dev.index);
  net.kick();
}

/** ioctl(2) on /dev/net/tun (Linux's __tun_chr_ioctl). */
export function tunIoctl(t: Task, file: TunFile, cmd: number, arg: number): number {
  switch (cmd) {
    case TUNGETFEATURES:
      t.copyOutU32(arg, IFF_TUN | IFF_TAP | TUN_FEATURES);
      return 0;
    case TUNSETIFF: {
      const req = t.copyIn(arg, IFREQ_SIZE);
      const out = file.setIff(t, req);
      t.copyOut(arg, out);
      return 0;
    }
  }
  if (file.device === null) throw EBADFD;
  switch (cmd) {
    case TUNGETIFF:
      t.copyOut(arg, file.getIff());
      return 0;
    case TUNSETPERSIST:
      file.setPersist(arg !== 0);
      return 0;
    case TUNSETNOCSUM:
      return 0; // obsolete: Linux ignores it too
    default:
      throw EINVAL;
  }
}
