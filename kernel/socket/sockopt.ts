/**
 * Socket options shared by the families: the socket level (SOL_SOCKET) itself, one layer under
 * every family as Linux's sk_setsockopt/sk_getsockopt (the family answers only what is its own,
 * through SocketFile's hooks), and the helpers the families' own levels use too: encoding an int
 * option's value the way Linux does (truncated to the caller's optlen), decoding an int
 * argument, the buffer-size rules of SO_SNDBUF/SO_RCVBUF, and the host's net.core sysctls.
 *
 * @module
 */

import { EACCES, EINVAL, ENODEV, ENOPROTOOPT, EOPNOTSUPP, EPERM } from "../errno.ts";
import type { Task } from "../task.ts";
import { hostSysctl } from "../host_sysctl.ts";
import type { SocketFile } from "./socket.ts";
import {
  AF_INET, AF_INET6, SO_ACCEPTCONN, SO_BINDTODEVICE, SO_BINDTOIFINDEX, SO_BROADCAST, SO_BSDCOMPAT, SO_DEBUG, SO_DOMAIN,
  SO_DONTROUTE, SO_ERROR, SO_KEEPALIVE, SO_LINGER, SO_MARK, SO_NO_CHECK, SO_OOBINLINE, SO_PASSCRED, SO_PEERCRED, SO_PRIORITY,
  SO_PROTOCOL, SO_RCVBUF, SO_RCVBUFFORCE, SO_RCVLOWAT, SO_REUSEADDR, SO_REUSEPORT, SO_SNDBUF, SO_SNDBUFFORCE, SO_SNDLOWAT,
  SO_TIMESTAMP_NEW, SO_TIMESTAMP_OLD, SO_TIMESTAMPNS_NEW, SO_TIMESTAMPNS_OLD, SO_TYPE, UCRED_SIZE,
} from "../../abi/linux/socket.ts";
import { CAP_NET_ADMIN, CAP_NET_RAW } from "../../abi/linux/capability.ts";

/** An int option value, cut to optlen bytes (Linux copies min(optlen, sizeof(int))). */
export function intOption(v: number, optlen: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return b.subarray(0, Math.min(4, optlen));
}

/** The int argument of setsockopt: EINVAL when optlen < sizeof(int). */
export function intArgument(value: Uint8Array): number {
  if (value.length < 4) throw EINVAL;
  return new DataView(value.buffer, value.byteOffset, 4).getInt32(0, true);
}

/** SOCK_MIN_SNDBUF and SOCK_MIN_RCVBUF on x86-64. */
export const SOCK_MIN_SNDBUF = 4608;
export const SOCK_MIN_RCVBUF = 2304;

/**
 * The host's net.core.{w,r}mem_{default,max} and somaxconn: the sandbox reports the same limits
 * as the machine it runs on, so that programs see what they would see natively. Read once.
 */
export const NET_CORE = {
  wmemDefault: hostSysctl("/proc/sys/net/core/wmem_default", 212992),
  rmemDefault: hostSysctl("/proc/sys/net/core/rmem_default", 212992),
  wmemMax: hostSysctl("/proc/sys/net/core/wmem_max", 212992),
  rmemMax: hostSysctl("/proc/sys/net/core/rmem_max", 212992),
  somaxconn: hostSysctl("/proc/sys/net/core/somaxconn", 4096),
  /** net.unix.max_dgram_qlen. */
  unixMaxDgramQlen: hostSysctl("/proc/sys/net/unix/max_dgram_qlen", 10),
} as const;

/**
 * SO_SNDBUF / SO_RCVBUF (and the *FORCE variants, force=true): Linux caps the request at the
 * sysctl maximum (as an unsigned value, so a negative one means the maximum), doubles it for
 * bookkeeping overhead and enforces a floor.
 */
export function bufferSize(requested: number, max: number, min: number, force: boolean): number {
  let v = force ? Math.max(requested, 0) : Math.min(requested >>> 0, max);
  v = Math.min(v, 0x3fffffff);
  return Math.max(v * 2, min);
}

// ---- The socket level (SOL_SOCKET): one layer under every family --------------------------

/** IFNAMSIZ: an interface name and its NUL. */
const IFNAMSIZ = 16;
/** The int options kept as set and read back, by name (nothing here acts on them). */
const PLAIN_BOOLEANS: ReadonlySet<number> = new Set([SO_DEBUG, SO_DONTROUTE, SO_OOBINLINE, SO_NO_CHECK]);
/** The four receive-timestamp options: at most one reads 1 (sock_set_timestamp's flags). */
const TIMESTAMPS = [SO_TIMESTAMP_OLD, SO_TIMESTAMPNS_OLD, SO_TIMESTAMP_NEW, SO_TIMESTAMPNS_NEW];
/** The key of SO_LINGER's seconds in a checkpoint's option pairs (its on/off is under SO_LINGER). */
const LINGER_TIME = 1 << 16;

/**
 * getsockopt(SOL_SOCKET) for every family (Linux's sk_getsockopt): the socket-level state
 * SocketFile keeps, and what only the family knows through its hooks (the pending error,
 * listening, the peer's credentials, SO_PASSCRED's reach). SO_RCVTIMEO, SO_SNDTIMEO and the
 * filters are the syscall layer's.
 */
export function sockGetsockopt(s: SocketFile, t: Task, name: number, optlen: number): Uint8Array {
  const own = s.familySocketOpt(t, name, optlen);
  if (own !== null) return own;
  if (PLAIN_BOOLEANS.has(name) || TIMESTAMPS.includes(name) || name === SO_PRIORITY || name === SO_MARK) {
    return intOption(s.sockOptions.get(name) ?? 0, optlen);
  }
  switch (name) {
    case SO_TYPE:
      return intOption(s.type, optlen);
    case SO_PROTOCOL:
      return intOption(s.sockProtocol, optlen);
    case SO_DOMAIN:
      return intOption(s.family, optlen);
    case SO_ERROR:
      return intOption(s.sockError(), optlen);
    case SO_ACCEPTCONN:
      return intOption(s.sockListening ? 1 : 0, optlen);
    case SO_REUSEADDR:
      return intOption(s.reuseAddr ? 1 : 0, optlen);
    case SO_REUSEPORT:
      return intOption(s.reusePort ? 1 : 0, optlen);
    case SO_KEEPALIVE:
      return intOption(s.keepalive ? 1 : 0, optlen);
    case SO_BROADCAST:
      return intOption(s.broadcast ? 1 : 0, optlen);
    case SO_SNDBUF:
      return intOption(s.sndBuf, optlen);
    case SO_RCVBUF:
      return intOption(s.rcvBuf, optlen);
    case SO_RCVLOWAT:
      return intOption(s.sockOptions.get(SO_RCVLOWAT) ?? 1, optlen);
    case SO_SNDLOWAT:
      return intOption(1, optlen);
    case SO_BSDCOMPAT:
      return intOption(0, optlen);
    case SO_PASSCRED:
      // Linux 6.16 restricted SO_PASSCRED to Unix, netlink and Bluetooth sockets.
      if (!s.sockPasscred) throw EOPNOTSUPP;
      return intOption(s.passcred ? 1 : 0, optlen);
    case SO_PEERCRED: {
      // cred_to_ucred: pid 0 and ids -1 without a peer; the peer's pid as the caller's PID
      // namespace numbers it, its ids as the caller's user namespace shows them.
      const c = s.sockPeerCred();
      const b = new Uint8Array(UCRED_SIZE);
      const v = new DataView(b.buffer);
      const ns = t.creds.userNs;
      v.setInt32(0, c === null || c.pid === 0 ? 0 : t.vnr(c.pid), true);
      v.setInt32(4, c === null || c.uid === -1 ? -1 : ns.uidOf(c.uid), true);
      v.setInt32(8, c === null || c.gid === -1 ? -1 : ns.gidOf(c.gid), true);
      return b.subarray(0, Math.min(optlen, UCRED_SIZE));
    }
    case SO_LINGER: {
      const b = new Uint8Array(8);
      const v = new DataView(b.buffer);
      v.setInt32(0, s.lingerOn ? 1 : 0, true);
      v.setInt32(4, s.lingerSecs, true);
      return b.subarray(0, Math.min(8, optlen));
    }
    case SO_BINDTODEVICE: {
      // sock_getbindtodevice: nothing (length 0) when unbound, else the name and its NUL,
      // into a buffer of at least IFNAMSIZ.
      if (s.boundDev === 0) return new Uint8Array(0);
      if (optlen < IFNAMSIZ) throw EINVAL;
      const nm = new TextEncoder().encode(s.sockNet(t).ifNames[s.boundDev - 1] ?? "");
      const b = new Uint8Array(nm.length + 1);
      b.set(nm);
      return b;
    }
    case SO_BINDTOIFINDEX:
      return intOption(s.boundDev, optlen);
    default:
      throw ENOPROTOOPT;
  }
}

/**
 * setsockopt(SOL_SOCKET) for every family (Linux's sk_setsockopt), in its order: SO_BINDTODEVICE
 * takes its name as it is; every other option needs an int (EINVAL); the checks of privilege
 * follow. A change the family acts on is told to it (`sockChanged`).
 */
export function sockSetsockopt(s: SocketFile, t: Task, name: number, value: Uint8Array): void {
  if (name === SO_BINDTODEVICE) {
    // sock_setbindtodevice: at most IFNAMSIZ-1 bytes of name, up to a NUL; "" unbinds.
    const raw = value.subarray(0, IFNAMSIZ - 1);
    const nul = raw.indexOf(0);
    const nm = new TextDecoder().decode(nul < 0 ? raw : raw.subarray(0, nul));
    const i = nm === "" ? -1 : s.sockNet(t).linkIndex(nm);
    if (nm !== "" && i < 0) throw ENODEV;
    return bindToIndex(s, t, i + 1);
  }
  const v = intArgument(value);
  const on = v !== 0;
  if (TIMESTAMPS.includes(name)) {
    for (const n of TIMESTAMPS) s.sockOptions.delete(n);
    if (on) s.sockOptions.set(name, 1);
    return;
  }
  switch (name) {
    case SO_DEBUG:
      if (on && !t.creds.hasCap(CAP_NET_ADMIN)) throw EACCES;
      return void s.sockOptions.set(name, on ? 1 : 0);
    case SO_DONTROUTE:
    case SO_OOBINLINE:
    case SO_NO_CHECK:
      return void s.sockOptions.set(name, on ? 1 : 0);
    case SO_REUSEADDR:
      s.reuseAddr = on;
      break;
    case SO_REUSEPORT:
      if (on && s.family !== AF_INET && s.family !== AF_INET6) throw EOPNOTSUPP; // sk_is_inet
      s.reusePort = on;
      break;
    case SO_KEEPALIVE:
      s.keepalive = on;
      break;
    case SO_BROADCAST:
      s.broadcast = on;
      return;
    case SO_SNDBUF:
    case SO_SNDBUFFORCE:
    case SO_RCVBUF:
    case SO_RCVBUFFORCE: {
      const force = name === SO_SNDBUFFORCE || name === SO_RCVBUFFORCE;
      if (force && !t.creds.hasCap(CAP_NET_ADMIN)) throw EPERM;
      // The request as unsigned (-1 is the most), within wmem_max or rmem_max, doubled (room
      // for bookkeeping), at least SOCK_MIN_SNDBUF or SOCK_MIN_RCVBUF.
      const snd = name === SO_SNDBUF || name === SO_SNDBUFFORCE;
      if (snd) s.sndBuf = bufferSize(v, NET_CORE.wmemMax, SOCK_MIN_SNDBUF, force);
      else s.rcvBuf = bufferSize(v, NET_CORE.rmemMax, SOCK_MIN_RCVBUF, force);
      s.sockChanged(snd ? SO_SNDBUF : SO_RCVBUF);
      return;
    }
    case SO_PRIORITY: {
      // Beyond 0..6 only with CAP_NET_RAW or CAP_NET_ADMIN over the socket's network namespace.
      const owner = s.sockNet(t).owner;
      if ((v < 0 || v > 6) && !t.creds.capableIn(owner, CAP_NET_RAW) && !t.creds.capableIn(owner, CAP_NET_ADMIN)) throw EPERM;
      return void s.sockOptions.set(name, v);
    }
    case SO_MARK: {
      // Kept and read back; no route or filter looks at it here.
      const owner = s.sockNet(t).owner;
      if (!t.creds.capableIn(owner, CAP_NET_RAW) && !t.creds.capableIn(owner, CAP_NET_ADMIN)) throw EPERM;
      return void s.sockOptions.set(name, v);
    }
    case SO_LINGER: {
      // The time is kept when lingering is turned off, as sk_lingertime.
      if (value.length < 8) throw EINVAL;
      s.lingerOn = on;
      if (on) s.lingerSecs = new DataView(value.buffer, value.byteOffset, 8).getInt32(4, true);
      return;
    }
    case SO_BSDCOMPAT:
      return;
    case SO_PASSCRED:
      if (!s.sockPasscred) throw EOPNOTSUPP;
      s.passcred = on;
      return;
    case SO_RCVLOWAT:
      // A negative value is INT_MAX; 0 is 1; a family may cap it (TCP).
      return void s.sockOptions.set(name, s.sockRcvlowat(v < 0 ? 0x7fff_ffff : v) || 1);
    case SO_BINDTOIFINDEX:
      return bindToIndex(s, t, v);
    default:
      throw ENOPROTOOPT;
  }
  s.sockChanged(name);
}

/**
 * SO_BINDTODEVICE / SO_BINDTOIFINDEX (sock_bindtoindex): binds to interface `ifindex` (0:
 * unbinds). Changing a binding already made needs CAP_NET_RAW.
 */
function bindToIndex(s: SocketFile, t: Task, ifindex: number): void {
  const net = s.sockNet(t);
  if (s.boundDev !== 0 && !t.creds.capableIn(net.owner, CAP_NET_RAW)) throw EPERM;
  if (ifindex < 0) throw EINVAL;
  if (ifindex !== 0 && net.linkByIndex(ifindex) === null) throw ENODEV;
  s.boundDev = ifindex;
  s.sockChanged(SO_BINDTOIFINDEX);
}

/**
 * The socket-level options of `s` that differ from a new socket's and that no family field
 * holds, as (name, value) pairs for a checkpoint: the plain options by name, SO_LINGER's time
 * under LINGER_TIME, SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE, SO_BROADCAST, SO_LINGER and the
 * bound interface (SO_BINDTOIFINDEX).
 */
export function sockOptionPairs(s: SocketFile): [number, number][] {
  const out: [number, number][] = [...s.sockOptions];
  const flags: [number, boolean][] = [[SO_REUSEADDR, s.reuseAddr], [SO_REUSEPORT, s.reusePort], [SO_KEEPALIVE, s.keepalive], [SO_BROADCAST, s.broadcast], [SO_LINGER, s.lingerOn]];
  for (const [n, on] of flags) if (on) out.push([n, 1]);
  if (s.lingerSecs !== 0) out.push([LINGER_TIME, s.lingerSecs]);
  if (s.boundDev !== 0) out.push([SO_BINDTOIFINDEX, s.boundDev]);
  return out;
}

/** Takes back what {@linkcode sockOptionPairs} saved (a restore, on a new socket). */
export function loadSockOptionPairs(s: SocketFile, pairs: readonly (readonly [number, number])[]): void {
  for (const [n, v] of pairs) {
    if (n === SO_REUSEADDR) s.reuseAddr = v !== 0;
    else if (n === SO_REUSEPORT) s.reusePort = v !== 0;
    else if (n === SO_KEEPALIVE) s.keepalive = v !== 0;
    else if (n === SO_BROADCAST) s.broadcast = v !== 0;
    else if (n === SO_LINGER) s.lingerOn = v !== 0;
    else if (n === LINGER_TIME) s.lingerSecs = v;
    else if (n === SO_BINDTOIFINDEX) s.boundDev = v;
    else s.sockOptions.set(n, v);
  }
}
