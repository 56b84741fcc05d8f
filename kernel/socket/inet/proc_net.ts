/**
 * The text of /proc/net/{tcp,tcp6,udp,udp6,dev}, in Linux's formats (net/ipv4/tcp_ipv4.c,
 * net/ipv6/tcp_ipv6.c, net/ipv4/udp.c, net/core/net-procfs.c), for procfs to serve.
 *
 * Sockets are listed from the files the application holds (a connection the application has
 * closed, e.g. in TIME-WAIT, is not listed). Addresses are hexadecimal 32-bit words in host
 * (little-endian) order, as Linux prints them.
 *
 * @module
 */

import type { IpAddress } from "../../../netstack/mod.ts";
import type { Net } from "../../net.ts";
import * as C from "./constants.ts";
import { TcpSocketFile } from "./tcp.ts";
import { UdpSocketFile } from "./udp.ts";

const TCP_HEADER =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
const TCP6_HEADER = "  sl  local_address                         remote_address                        " +
  "st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
const UDP_HEADER =
  "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops";
const UDP6_HEADER = "  sl  local_address                         remote_address                        " +
  "st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops";

function hex(n: number, width: number): string {
  return (n >>> 0).toString(16).toUpperCase().padStart(width, "0");
}

/** An address as /proc/net prints it: each 32-bit word little-endian, in hex. */
function addrHex(a: IpAddress | null, v6: boolean): string {
  const bytes = new Uint8Array(v6 ? 16 : 4);
  if (a !== null) {
    if (a.version === 6) bytes.set(a.bytes);
    else if (v6) {
      bytes[10] = 0xff;
      bytes[11] = 0xff;
      bytes.set(a.bytes, 12);
    } else bytes.set(a.bytes);
  }
  let s = "";
  for (let w = 0; w < bytes.length; w += 4) {
    s += hex(bytes[w]! | (bytes[w + 1]! << 8) | (bytes[w + 2]! << 16) | (bytes[w + 3]! << 24), 8);
  }
  return s;
}

function endpoint(a: IpAddress | null, port: number, v6: boolean): string {
  return `${addrHex(a, v6)}:${hex(port, 4)}`;
}

/** /proc/net/tcp (v6 false) or /proc/net/tcp6 (v6 true). */
export function renderProcNetTcp(net: Net, v6: boolean): string {
  const family = v6 ? C.AF_INET6 : C.AF_INET;
  const lines = [v6 ? TCP6_HEADER : TCP_HEADER.padEnd(149)];
  let sl = 0;
  for (const w of net.watchers) {
    if (!(w instanceof TcpSocketFile) || w.family !== family) continue;
    const s = w.sock;
    const r = s.remote;
    const st = C.TCP_STATE_NUMBER[s.state] ?? 7;
    const line = `${String(sl++).padStart(4)}: ${endpoint(s.localAddr, s.localPort, v6)} ` +
      `${endpoint(r?.addr ?? null, r?.port ?? 0, v6)} ${hex(st, 2)} ${hex(s.sendQueue, 8)}:${hex(s.recvQueue, 8)} ` +
      `00:00000000 00000000 ${String(w.uid).padStart(5)} ${String(0).padStart(8)} ${w.ino} 1 0000000000000000 ` +
      `${Math.round(s.rto / 10)} 4 30 10 -1`;
    lines.push(v6 ? line : line.padEnd(149));
  }
  return lines.join("\n") + "\n";
}

/** /proc/net/udp (v6 false) or /proc/net/udp6 (v6 true). */
export function renderProcNetUdp(net: Net, v6: boolean): string {
  const family = v6 ? C.AF_INET6 : C.AF_INET;
  const lines = [v6 ? UDP6_HEADER : UDP_HEADER.padEnd(127)];
  let sl = 0;
  for (const w of net.watchers) {
    if (!(w instanceof UdpSocketFile) || w.family !== family) continue;
    const s = w.sock;
    if (s.localPort === 0) continue; // unbound sockets are not hashed, so Linux lists none
    const r = s.remote;
    const st = r === null ? 7 : 1;
    const line = `${String(sl++).padStart(5)}: ${endpoint(s.localAddr, s.localPort, v6)} ` +
      `${endpoint(r?.addr ?? null, r?.port ?? 0, v6)} ${hex(st, 2)} 00000000:00000000 ` +
      `00:00000000 00000000 ${String(w.uid).padStart(5)} ${String(0).padStart(8)} ${w.ino} 2 0000000000000000 ${s.drops}`;
    lines.push(v6 ? line : line.padEnd(127));
  }
  return lines.join("\n") + "\n";
}

/** /proc/net/dev: one line per interface (counters of the devices that count). */
export function renderProcNetDev(net: Net): string {
  const out = [
    "Inter-|   Receive                                                |  Transmit",
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
  ];
  for (const [i, name] of net.ifNames.entries()) {
    const c = net.counters[i] ?? { rxBytes: 0, rxPackets: 0, txBytes: 0, txPackets: 0 };
    const n = (v: number, w: number) => String(v).padStart(w);
    out.push(
      `${name.padStart(6)}:${n(c.rxBytes, 8)} ${n(c.rxPackets, 7)} ${n(0, 4)} ${n(0, 4)} ${n(0, 4)} ${n(0, 5)} ` +
        `${n(0, 10)} ${n(0, 9)} ${n(c.txBytes, 8)} ${n(c.txPackets, 7)} ${n(0, 4)} ${n(0, 4)} ${n(0, 4)} ` +
        `${n(0, 5)} ${n(0, 7)} ${n(0, 10)}`,
    );
  }
  return out.join("\n") + "\n";
}
