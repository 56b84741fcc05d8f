/**
 * The inet socket files over the sandbox's stack, driven directly (no syscall layer): a TCP
 * client and server on 127.0.0.1 and ::1, UDP, ping, options, readiness and errors.
 */

import assert from "node:assert/strict";
import { Net } from "../../net.ts";
import type { Task } from "../../task.ts";
import {
  EADDRINUSE,
  EAGAIN,
  ECONNREFUSED,
  EINPROGRESS,
  EINVAL,
  ENETUNREACH,
  ENOTCONN,
  LinuxError,
} from "../../errno.ts";
import { EVENT_HUP, EVENT_IN, EVENT_OUT } from "../../../waiter/mod.ts";
import { O_NONBLOCK } from "../../../abi/linux/file.ts";
import * as C from "./constants.ts";
import { createInetSocket, type InetSocketFile, renderProcNetTcp, renderProcNetUdp, TcpSocketFile } from "./mod.ts";
import { formatSockaddr, parseSockaddr } from "./sockaddr.ts";
import { Ipv4Address, Ipv6Address, parseIpAddress } from "../../../netstack/mod.ts";
import { createNetlinkSocket } from "../netlink/mod.ts";
import { loadNetModules } from "../../net_load.ts";

// A Net's stack is made from the network's modules, which a sandbox loads at their first use.
await loadNetModules();

const t = {} as Task;

function sa(family: number, addr: string | null, port: number): Uint8Array {
  return formatSockaddr(family, addr === null ? null : parseIpAddress(addr), port);
}

function tcp(net: Net, family = C.AF_INET, flags = 0): TcpSocketFile {
  return createInetSocket(net, family, C.SOCK_STREAM, 0, flags) as TcpSocketFile;
}

function errOf(f: () => unknown): LinuxError | null {
  try {
    f();
    return null;
  } catch (e) {
    if (e instanceof LinuxError) return e;
    throw e;
  }
}

function portOf(b: Uint8Array): number {
  return (b[2]! << 8) | b[3]!;
}

/** A connected pair through a listener on addr. */
function connectedPair(net: Net, family: number, addr: string, clientFamily = family) {
  const server = tcp(net, family);
  server.bind(t, sa(family, null, 0));
  server.listen(t, 16);
  const port = portOf(server.getsockname(t));
  const client = tcp(net, clientFamily, O_NONBLOCK);
  assert.equal(errOf(() => client.connect(t, sa(clientFamily, addr, port))), EINPROGRESS);
  assert.equal(client.connectResult(), 0);
  const accepted = server.accept(t, 0) as TcpSocketFile;
  return { server, client, accepted, port };
}

function fnv(h: number, b: Uint8Array): number {
  for (const x of b) h = Math.imul(h ^ x, 16777619) >>> 0;
  return h;
}

/** Moves `total` bytes from a to b with send/recv, returning both checksums. */
function transfer(a: InetSocketFile, b: InetSocketFile, total: number): [number, number] {
  let sent = 0;
  let got = 0;
  let hs = 2166136261;
  let hr = 2166136261;
  const chunk = new Uint8Array(65536);
  // Bounded, so that a stall fails with the sockets' states instead of hanging.
  for (let round = 0; got < total; round++) {
    if (round > total / 64) assert.fail(`stalled at ${got}/${sent}: ${JSON.stringify([a.events(), b.events()])}`);
    if (sent < total) {
      for (let i = 0; i < chunk.length; i++) chunk[i] = (sent + i) * 7 & 0xff;
      const want = chunk.subarray(0, Math.min(chunk.length, total - sent));
      try {
        const k = a.sendmsg(t, { data: want, to: null, control: {}, flags: 0 });
        hs = fnv(hs, want.subarray(0, k));
        sent += k;
      } catch (e) {
        assert.equal(e, EAGAIN);
      }
    }
    try {
      const r = b.recvmsg(t, { maxLen: 100_000, flags: 0 });
      hr = fnv(hr, r.data);
      got += r.data.length;
    } catch (e) {
      assert.equal(e, EAGAIN);
    }
  }
  return [hs, hr];
}

Deno.test("a TCP client and server on 127.0.0.1 move 8 MiB with matching checksums", () => {
  const net = new Net({ seed: 7 });
  const { client, accepted, port } = connectedPair(net, C.AF_INET, "127.0.0.1");
  assert.deepEqual(parseSockaddr(C.AF_INET, accepted.getpeername(t)), parseSockaddr(C.AF_INET, client.getsockname(t)));
  assert.equal(portOf(client.getpeername(t)), port);
  const [hs, hr] = transfer(client, accepted, 8 << 20);
  assert.equal(hr, hs);
});

Deno.test("a TCP client and server on ::1 move 2 MiB with matching checksums", () => {
  const net = new Net({ seed: 7 });
  const { client, accepted } = connectedPair(net, C.AF_INET6, "::1");
  const [hs, hr] = transfer(accepted, client, 2 << 20);
  assert.equal(hr, hs);
  const peer = parseSockaddr(C.AF_INET6, accepted.getpeername(t));
  assert.ok(peer !== "unspec" && peer.addr?.equals(Ipv6Address.LOOPBACK));
});

Deno.test("a dual-stack listener accepts an IPv4 client and names it with a v4-mapped address", () => {
  const net = new Net({ seed: 7 });
  const { accepted } = connectedPair(net, C.AF_INET6, "127.0.0.1", C.AF_INET);
  const peer = accepted.getpeername(t);
  assert.deepEqual([...peer.subarray(8, 24)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]);
});

Deno.test("an IPv4 listener does not take IPv6 connections, and a V6ONLY one shares its port", () => {
  const net = new Net({ seed: 7 });
  const v4 = tcp(net);
  v4.bind(t, sa(C.AF_INET, null, 8080));
  v4.listen(t, 4);
  const v6 = tcp(net, C.AF_INET6);
  assert.equal(errOf(() => v6.bind(t, sa(C.AF_INET6, null, 8080))), EADDRINUSE);
  const v6only = tcp(net, C.AF_INET6);
  v6only.setsockopt(t, C.IPPROTO_IPV6, C.IPV6_V6ONLY, new Uint8Array([1, 0, 0, 0]));
  v6only.bind(t, sa(C.AF_INET6, null, 8080));
  assert.equal(errOf(() => v6only.setsockopt(t, C.IPPROTO_IPV6, C.IPV6_V6ONLY, new Uint8Array(4))), EINVAL);
  const c = tcp(net, C.AF_INET6);
  assert.equal(errOf(() => c.connect(t, sa(C.AF_INET6, "::1", 8080))), ECONNREFUSED);
});

Deno.test("binding a used port fails with EADDRINUSE unless both sockets set SO_REUSEPORT", () => {
  const net = new Net({ seed: 7 });
  const one = [1, 0, 0, 0];
  const a = tcp(net);
  a.bind(t, sa(C.AF_INET, "127.0.0.1", 9000));
  a.listen(t, 1);
  const b = tcp(net);
  assert.equal(errOf(() => b.bind(t, sa(C.AF_INET, null, 9000))), EADDRINUSE);
  const c = tcp(net);
  const d = tcp(net);
  c.setsockopt(t, C.SOL_SOCKET, C.SO_REUSEPORT, new Uint8Array(one));
  d.setsockopt(t, C.SOL_SOCKET, C.SO_REUSEPORT, new Uint8Array(one));
  c.bind(t, sa(C.AF_INET, null, 9001));
  d.bind(t, sa(C.AF_INET, null, 9001));
  assert.equal(errOf(() => c.bind(t, sa(C.AF_INET, null, 9002))), EINVAL);
});

Deno.test("connecting to a closed port is refused, blocking or not", () => {
  const net = new Net({ seed: 7 });
  const blocking = tcp(net);
  assert.equal(errOf(() => blocking.connect(t, sa(C.AF_INET, "127.0.0.1", 1))), ECONNREFUSED);
  const nb = tcp(net, C.AF_INET, O_NONBLOCK);
  assert.equal(errOf(() => nb.connect(t, sa(C.AF_INET, "127.0.0.1", 1))), EINPROGRESS);
  assert.equal(nb.readiness(EVENT_OUT) & EVENT_OUT, EVENT_OUT);
  assert.equal(nb.connectResult(), ECONNREFUSED.errno);
  assert.equal(errOf(() => nb.getpeername(t)), ENOTCONN);
});

Deno.test("with no network every outside address is unreachable", () => {
  const net = new Net({ seed: 7 });
  assert.equal(errOf(() => tcp(net).connect(t, sa(C.AF_INET, "93.184.216.34", 80))), ENETUNREACH);
  assert.equal(errOf(() => tcp(net, C.AF_INET6).connect(t, sa(C.AF_INET6, "2001:db8::1", 80))), ENETUNREACH);
  const u = createInetSocket(net, C.AF_INET, C.SOCK_DGRAM, 0, 0);
  const req = { data: new Uint8Array(1), to: sa(C.AF_INET, "8.8.8.8", 53), control: {}, flags: 0 };
  assert.equal(errOf(() => u.sendmsg(t, req)), ENETUNREACH);
});

Deno.test("a waiter on the server learns of the connection, the data and the peer's close", () => {
  const net = new Net({ seed: 7 });
  const { client, accepted } = connectedPair(net, C.AF_INET, "127.0.0.1");
  const woken: number[] = [];
  accepted.waitQueue.register({ wake: (ev) => woken.push(ev) }, EVENT_IN);
  client.sendmsg(t, { data: new Uint8Array([1, 2, 3]), to: null, control: {}, flags: 0 });
  assert.ok(woken.length > 0 && (woken.at(-1)! & EVENT_IN) !== 0);
  client.shutdown(t, C.SHUT_WR);
  const r = accepted.recvmsg(t, { maxLen: 10, flags: C.MSG_PEEK });
  assert.deepEqual([...r.data], [1, 2, 3]);
  assert.equal(accepted.recvmsg(t, { maxLen: 10, flags: 0 }).data.length, 3);
  assert.equal(accepted.recvmsg(t, { maxLen: 10, flags: 0 }).data.length, 0); // end of stream
  client.decRef();
  accepted.decRef();
  assert.equal(accepted.readiness(EVENT_HUP), EVENT_HUP);
});

Deno.test("UDP echo over 127.0.0.1 with MSG_PEEK and MSG_TRUNC", () => {
  const net = new Net({ seed: 7 });
  const srv = createInetSocket(net, C.AF_INET, C.SOCK_DGRAM, 0, 0);
  srv.bind(t, sa(C.AF_INET, "127.0.0.1", 5353));
  const cli = createInetSocket(net, C.AF_INET, C.SOCK_DGRAM, C.IPPROTO_UDP, 0);
  assert.equal(errOf(() => cli.recvmsg(t, { maxLen: 10, flags: 0 })), EAGAIN);
  cli.sendmsg(t, { data: new TextEncoder().encode("hello"), to: sa(C.AF_INET, "127.0.0.1", 5353), control: {}, flags: 0 });
  const peek = srv.recvmsg(t, { maxLen: 2, flags: C.MSG_PEEK });
  assert.equal(peek.fullLength, 5);
  assert.equal(peek.msgFlags, C.MSG_TRUNC);
  const got = srv.recvmsg(t, { maxLen: 100, flags: 0 });
  assert.equal(new TextDecoder().decode(got.data), "hello");
  srv.sendmsg(t, { data: got.data, to: got.from, control: {}, flags: 0 });
  assert.equal(new TextDecoder().decode(cli.recvmsg(t, { maxLen: 100, flags: 0 }).data), "hello");
  assert.match(renderProcNetUdp(net, false), /0100007F:14E9 00000000:0000 07/);
});

Deno.test("a ping socket gets an echo reply from 127.0.0.1", () => {
  const net = new Net({ seed: 7 });
  const p = createInetSocket(net, C.AF_INET, C.SOCK_DGRAM, C.IPPROTO_ICMP, 0);
  const req = new Uint8Array([8, 0, 0, 0, 0, 0, 0, 7, 0x61, 0x62]);
  p.sendmsg(t, { data: req, to: sa(C.AF_INET, "127.0.0.1", 0), control: {}, flags: 0 });
  const r = p.recvmsg(t, { maxLen: 100, flags: 0 });
  assert.equal(r.data[0], 0); // echo reply
  assert.deepEqual([...r.data.subarray(6)], [0, 7, 0x61, 0x62]);
});

Deno.test("socket options report Linux's values", () => {
  const net = new Net({ seed: 7 });
  const s = tcp(net);
  const int = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getInt32(0, true);
  assert.equal(int(s.getsockopt(t, C.SOL_SOCKET, C.SO_TYPE, 4)), C.SOCK_STREAM);
  s.setsockopt(t, C.SOL_SOCKET, C.SO_RCVBUF, new Uint8Array([0, 0x10, 0, 0]));
  assert.equal(int(s.getsockopt(t, C.SOL_SOCKET, C.SO_RCVBUF, 4)), 8192);
  s.setsockopt(t, C.IPPROTO_TCP, C.TCP_NODELAY, new Uint8Array([1, 0, 0, 0]));
  assert.equal(int(s.getsockopt(t, C.IPPROTO_TCP, C.TCP_NODELAY, 4)), 1);
  assert.equal(int(s.getsockopt(t, C.IPPROTO_IP, C.IP_TTL, 4)), 64);
  const { client } = connectedPair(net, C.AF_INET, "127.0.0.1");
  assert.equal(client.getsockopt(t, C.IPPROTO_TCP, C.TCP_INFO, 300)[0], 1); // TCP_ESTABLISHED
  assert.equal(int(client.getsockopt(t, C.SOL_SOCKET, C.SO_ERROR, 4)), 0);
  assert.match(renderProcNetTcp(net, false), /: 00000000:[0-9A-F]{4} 00000000:0000 0A /);
});

Deno.test("the stack's deadlines reach the scheduler through Net.expire", () => {
  const net = new Net({ seed: 7 });
  const { client } = connectedPair(net, C.AF_INET, "127.0.0.1");
  client.decRef(); // the close leaves the client in TIME-WAIT, which has a deadline
  const now = net.now() * 1e6;
  const next = net.expire(now);
  assert.ok(next !== null && next > now);
  assert.equal(net.expire(next + 120_000 * 1e6), null);
});

Deno.test("a netlink route socket dumps the loopback addresses", () => {
  const net = new Net({ seed: 7 });
  const s = createNetlinkSocket(net, C.SOCK_RAW, 0, 0, 42);
  const req = new Uint8Array(24);
  const v = new DataView(req.buffer);
  v.setUint32(0, 24, true);
  v.setUint16(4, 22, true); // RTM_GETADDR
  v.setUint16(6, 0x301, true); // NLM_F_REQUEST | NLM_F_DUMP
  v.setUint32(8, 7, true);
  s.sendmsg(t, { data: req, to: null, control: {}, flags: 0 });
  // The records in one datagram, NLMSG_DONE in the next (Linux's netlink_dump).
  const first = s.recvmsg(t, { maxLen: 65536, flags: 0 }).data;
  const done = s.recvmsg(t, { maxLen: 65536, flags: 0 }).data;
  const r = new Uint8Array(first.length + done.length);
  r.set(first);
  r.set(done, first.length);
  assert.equal(new DataView(done.buffer, done.byteOffset).getUint16(4, true), 3, "the second datagram is NLMSG_DONE");
  const types: number[] = [];
  const addrs: string[] = [];
  for (let o = 0; o < r.length;) {
    const d = new DataView(r.buffer, r.byteOffset + o);
    const len = d.getUint32(0, true);
    types.push(d.getUint16(4, true));
    if (d.getUint16(4, true) === 20) {
      const fam = r[o + 16]!;
      const a = r.subarray(o + 16 + 8 + 4, o + 16 + 8 + 4 + (fam === C.AF_INET ? 4 : 16));
      addrs.push(`${(fam === C.AF_INET ? new Ipv4Address(a) : new Ipv6Address(a))}/${r[o + 17]}`);
    }
    o += (len + 3) & ~3;
  }
  assert.deepEqual(types, [20, 20, 3]);
  assert.deepEqual(addrs, ["127.0.0.1/8", "::1/128"]);
});
