import assert from "node:assert/strict";
import { A4, A6, B4, B6, patternBytes, Sim, stackPair } from "../_harness.ts";
import { EthernetAddress, IpCidr, Ipv4Address } from "../wire/address.ts";
import { Loopback } from "../link/loopback.ts";
import { Stack } from "./stack.ts";
import { emitEthernet, EthernetFrame } from "../wire/ethernet.ts";
import { emitIcmpv4, Icmpv4Packet } from "../wire/icmpv4.ts";
import { emitIpv4, Ipv4Packet } from "../wire/ipv4.ts";

Deno.test("Stack answers ICMPv4 echo after resolving ARP", () => {
  const { a, b } = stackPair();
  const sim = new Sim(a, b);
  const ping = a.icmpSocket();
  ping.sendTo(B4, 1, new TextEncoder().encode("abc"));
  let reply = null;
  sim.runUntil(() => (reply = ping.recvFrom()) !== null);
  assert.equal(reply!.peer.toString(), "10.0.0.2");
  assert.equal(reply!.seqNo, 1);
  assert.equal(new TextDecoder().decode(reply!.data), "abc");
  assert.equal(a.interfaces[0]!.neighbors.size, 1);
  assert.equal(b.interfaces[0]!.neighbors.size, 1, "B learned A from the request");
});

Deno.test("Stack answers ICMPv6 echo after neighbor discovery", () => {
  const { a, b } = stackPair();
  const sim = new Sim(a, b);
  const ping = a.icmpSocket();
  ping.sendTo(B6, 9, new Uint8Array([1, 2]));
  let reply = null;
  sim.runUntil(() => (reply = ping.recvFrom()) !== null);
  assert.equal(reply!.peer.toString(), "fd00::2");
  assert.equal(reply!.seqNo, 9);
});

Deno.test("UDP datagrams flow both ways and recvFrom reports the sender", () => {
  const { a, b } = stackPair();
  const sim = new Sim(a, b);
  const server = b.udpSocket();
  server.bind(null, 53);
  const client = a.udpSocket();
  client.sendTo(new TextEncoder().encode("query"), { addr: B4, port: 53 });
  const buf = new Uint8Array(100);
  let got = null;
  sim.runUntil(() => (got = server.recvFrom(buf)) !== null);
  assert.equal(got!.from.addr.toString(), "10.0.0.1");
  assert.equal(got!.length, 5);
  server.sendTo(new TextEncoder().encode("answer!"), got!.from);
  let back = null;
  sim.runUntil(() => (back = client.recvFrom(buf)) !== null);
  assert.equal(new TextDecoder().decode(buf.subarray(0, back!.length)), "answer!");
});

Deno.test("UDP over IPv6 works and truncation is reported", () => {
  const { a, b } = stackPair();
  const sim = new Sim(a, b);
  const server = b.udpSocket();
  server.bind(null, 9000);
  const client = a.udpSocket();
  client.connect({ addr: B6, port: 9000 });
  client.sendTo(new Uint8Array(100));
  const small = new Uint8Array(10);
  let got = null;
  sim.runUntil(() => (got = server.recvFrom(small)) !== null);
  assert.deepEqual({ length: got!.length, truncated: got!.truncated }, { length: 10, truncated: true });
  assert.equal(got!.from.addr.toString(), A6.toString());
});

Deno.test("A UDP datagram to a closed port draws ICMP port unreachable, reported as ECONNREFUSED", () => {
  const { a, b } = stackPair();
  const sim = new Sim(a, b);
  const client = a.udpSocket();
  client.connect({ addr: B4, port: 4444 });
  client.sendTo(new Uint8Array([1]));
  sim.runUntil(() => client.readiness().error);
  assert.throws(() => client.recvFrom(new Uint8Array(1)), (e: Error) => (e as { code?: string }).code === "ECONNREFUSED");
});

Deno.test("A large UDP datagram is fragmented by IPv4 and reassembled by the peer", () => {
  const { a, b } = stackPair({ faults: { seed: 3, reorder: 0.3 } });
  const sim = new Sim(a, b);
  const server = b.udpSocket();
  server.bind(null, 7);
  const client = a.udpSocket();
  const data = patternBytes(20_000, 5);
  client.sendTo(data, { addr: B4, port: 7 });
  const buf = new Uint8Array(65536);
  let got = null;
  sim.runUntil(() => (got = server.recvFrom(buf)) !== null);
  assert.equal(got!.length, data.length);
  assert.ok(Buffer.compare(buf.subarray(0, data.length), data) === 0);
  assert.equal(b.stats.reassembled, 1);
});

Deno.test("Packets to the stack's own address are delivered locally", () => {
  const s = new Stack();
  s.addInterface({ device: new Loopback(), mac: EthernetAddress.parse("02:00:00:00:00:01"), addresses: ["10.0.0.1/24"] });
  const sim = new Sim(s);
  const l = s.tcpSocket();
  l.bind(null, 80);
  l.listen(1);
  const c = s.tcpSocket();
  c.connect(sim.now, { addr: A4, port: 80 });
  let srv = null;
  sim.runUntil(() => (srv ??= l.accept()) !== null && c.state === "ESTABLISHED");
  c.send(new Uint8Array([42]));
  const buf = new Uint8Array(1);
  sim.runUntil(() => srv!.recv(buf) === 1);
  assert.equal(buf[0], 42);
});

Deno.test("A loopback interface with the IP medium carries traffic to 127.0.0.1", () => {
  const s = new Stack();
  s.addInterface({ device: new Loopback({ medium: "ip" }), addresses: [new IpCidr(Ipv4Address.parse("127.0.0.1"), 8)] });
  const sim = new Sim(s);
  const u = s.udpSocket();
  u.bind(null, 1000);
  u.sendTo(new Uint8Array([5]), { addr: Ipv4Address.parse("127.0.0.1"), port: 1000 });
  const buf = new Uint8Array(4);
  let got = null;
  sim.runUntil(() => (got = u.recvFrom(buf)) !== null);
  assert.equal(got!.length, 1);
});

Deno.test("Traffic off-link goes to the gateway's MAC", () => {
  const { a, b } = stackPair();
  a.addRoute({ cidr: IpCidr.parse("0.0.0.0/0"), gateway: B4, ifIndex: 0 });
  b.addAddress(0, "192.168.9.9/32");
  const sim = new Sim(a, b);
  const ping = a.icmpSocket();
  ping.sendTo(Ipv4Address.parse("192.168.9.9"), 1, new Uint8Array(1));
  let reply = null;
  sim.runUntil(() => (reply = ping.recvFrom()) !== null);
  assert.equal(reply!.peer.toString(), "192.168.9.9");
});

Deno.test("pollAt() is null when idle and never busy-loops on an unresolved neighbor", () => {
  const { a } = stackPair();
  assert.equal(a.pollAt(0), null);
  const c = a.tcpSocket();
  c.connect(0, { addr: Ipv4Address.parse("10.0.0.77"), port: 1 }); // nobody answers ARP
  a.poll(0);
  const t = a.pollAt(0);
  assert.ok(t !== null && t > 0, `next poll at ${t}`);
});

Deno.test("Binding refuses a port in use and an address that is not ours", () => {
  const { a } = stackPair();
  const l = a.tcpSocket();
  l.bind(null, 80);
  l.listen(1);
  const code = (e: unknown) => (e as { code?: string }).code;
  assert.throws(() => a.tcpSocket().bind(null, 80), (e: unknown) => code(e) === "EADDRINUSE");
  assert.throws(() => a.tcpSocket().bind(B4, 81), (e: unknown) => code(e) === "EADDRNOTAVAIL");
  const u = a.udpSocket();
  u.bind(A4, 53);
  assert.throws(() => a.udpSocket().bind(null, 53), (e: unknown) => code(e) === "EADDRINUSE");
});

Deno.test("Two connections cannot share one 4-tuple", () => {
  const { a } = stackPair();
  const x = a.tcpSocket();
  x.reuseAddr = true;
  x.bind(A4, 5000);
  x.connect(0, { addr: B4, port: 80 });
  const y = a.tcpSocket();
  assert.throws(() => y.bind(A4, 5000), (e: unknown) => (e as { code?: string }).code === "EADDRINUSE");
  y.reuseAddr = true;
  y.bind(A4, 5000); // allowed: both have SO_REUSEADDR and x is not listening
  assert.throws(() => y.connect(0, { addr: B4, port: 80 }), (e: unknown) => (e as { code?: string }).code === "EADDRINUSE");
  assert.equal(y.state, "CLOSED");
});

Deno.test("ICMPv6 port unreachable is reported to a connected UDP socket as ECONNREFUSED", () => {
  const { a, b } = stackPair();
  const sim = new Sim(a, b);
  const client = a.udpSocket();
  client.connect({ addr: B6, port: 4444 });
  client.sendTo(new Uint8Array([1]));
  sim.runUntil(() => client.readiness().error);
  assert.equal(client.takeError()?.code, "ECONNREFUSED");
  assert.equal(client.takeError(), null);
});

Deno.test("All of 127/8 is local once a loopback address is configured", () => {
  const s = new Stack();
  s.addInterface({ device: new Loopback({ medium: "ip" }), addresses: ["127.0.0.1/8"] });
  const sim = new Sim(s);
  assert.ok(s.isLocalAddress(Ipv4Address.parse("127.1.2.3")));
  const l = s.tcpSocket();
  l.bind(null, 80);
  l.listen(1);
  const c = s.tcpSocket();
  c.connect(sim.now, { addr: Ipv4Address.parse("127.0.0.2"), port: 80 });
  sim.runUntil(() => c.state === "ESTABLISHED");
  assert.equal(c.localAddr?.toString(), "127.0.0.1");
  assert.equal(l.accept()?.localAddr?.toString(), "127.0.0.2");
});

Deno.test("An ICMP port unreachable for a SYN fails the connect with ECONNREFUSED", () => {
  const { a, b, devB } = stackPair();
  const sim = new Sim(a, b);
  // Resolve ARP, then stop B so that only our forged ICMP answers the SYN.
  const ping = a.icmpSocket();
  ping.sendTo(B4, 1, new Uint8Array(1));
  sim.runUntil(() => ping.recvFrom() !== null);
  sim.stacks.splice(1, 1);
  const c = a.tcpSocket();
  c.connect(sim.now, { addr: B4, port: 5555 });
  sim.settle();
  const syn = devB.receive(sim.now)!.slice(14); // the IPv4 packet carrying the SYN
  const quote = syn.subarray(0, 28);
  const icmp = new Uint8Array(8 + quote.length);
  emitIcmpv4({ kind: "other", type: 3, code: 3, rest: 0, data: quote }, Icmpv4Packet.unchecked(icmp));
  devB.transmit(sim.now, 14 + 20 + icmp.length, (buf) => {
    emitEthernet(
      { dst: EthernetAddress.parse("02:00:00:00:00:01"), src: EthernetAddress.parse("02:00:00:00:00:02"), ethertype: 0x0800 },
      EthernetFrame.unchecked(buf),
    );
    emitIpv4({ src: B4, dst: A4, protocol: 1, payloadLength: icmp.length, hopLimit: 64 }, Ipv4Packet.unchecked(buf.subarray(14)));
    buf.set(icmp, 34);
  });
  sim.settle();
  assert.equal(c.state, "CLOSED");
  assert.equal(c.takeError()?.code, "ECONNREFUSED");
});

Deno.test("A socket bound to an IPv4 address cannot reach an IPv6 peer", () => {
  const { a } = stackPair();
  const code = (e: unknown) => (e as { code?: string }).code;
  const t = a.tcpSocket();
  t.bind(A4, 0);
  assert.throws(() => t.connect(0, { addr: B6, port: 1 }), (e: unknown) => code(e) === "EAFNOSUPPORT");
  const u = a.udpSocket();
  u.bind(A4, 0);
  assert.throws(() => u.sendTo(new Uint8Array(1), { addr: B6, port: 1 }), (e: unknown) => code(e) === "EAFNOSUPPORT");
});

Deno.test("A large UDP datagram over IPv6 is fragmented and reassembled", () => {
  const { a, b } = stackPair({ faults: { seed: 4, reorder: 0.3 } });
  const sim = new Sim(a, b);
  const server = b.udpSocket();
  server.bind(null, 7);
  const client = a.udpSocket();
  const data = patternBytes(9_000, 8);
  client.sendTo(data, { addr: B6, port: 7 });
  const buf = new Uint8Array(65536);
  let got = null;
  sim.runUntil(() => (got = server.recvFrom(buf)) !== null);
  assert.equal(got!.length, data.length);
  assert.ok(Buffer.compare(buf.subarray(0, data.length), data) === 0);
  assert.equal(b.stats.reassembled, 1);
});

Deno.test("A full device queue defers the sender by a millisecond instead of spinning", () => {
  const { a, b } = stackPair({ capacity: 8 });
  const sim = new Sim(a, b);
  const l = b.tcpSocket();
  l.bind(null, 80);
  l.listen(1);
  const c = a.tcpSocket();
  c.connect(sim.now, { addr: B4, port: 80 });
  let s = null;
  sim.runUntil(() => (s ??= l.accept()) !== null && c.state === "ESTABLISHED");
  c.noDelay = true;
  c.send(new Uint8Array(64 * 1024));
  while (a.poll(sim.now)) { /* fill A's transmit queue; B is not polled */ }
  assert.equal(a.pollAt(sim.now), sim.now + 1);
  const data = new Uint8Array(64 * 1024);
  let got = 0;
  sim.runUntil(() => got === data.length, { step: () => (got += s!.recv(data.subarray(got)) ?? 0) });
});

/** A connected pair on 127.0.0.1 of a stack with a 65536-byte loopback, as kernel/net.ts has. */
function loopbackConnection(tap?: (now: number, packet: Uint8Array) => void) {
  const s = new Stack({ tcp: { rxBufferSize: 1 << 20, txBufferSize: 1 << 20 }, ...(tap ? { tap } : {}) });
  s.addInterface({ device: new Loopback({ medium: "ip", mtu: 65536 }), addresses: ["127.0.0.1/8"] });
  const sim = new Sim(s);
  const l = s.tcpSocket();
  l.bind(null, 80);
  l.listen(1);
  const c = s.tcpSocket();
  c.noDelay = true;
  c.connect(sim.now, { addr: Ipv4Address.parse("127.0.0.1"), port: 80 });
  sim.runUntil(() => c.state === "ESTABLISHED" && l.readiness().readable);
  return { s, sim, c, a: l.accept()! };
}

Deno.test("A 64 KiB write to ourselves goes as one segment and one ACK, the MSS still Linux's for lo", () => {
  const { s, sim, c, a } = loopbackConnection();
  assert.equal(c.negotiated.mss, 65495, "65483 bytes of payload with timestamps, as Linux's lo");
  // From the accepting end: the client's last handshake ACK told it the scaled window (the
  // SYN-ACK's window is unscaled, at most 65535).
  const data = patternBytes(65536);
  const before = s.stats.localSegments;
  assert.equal(a.send(data), data.length);
  sim.settle();
  assert.equal(s.stats.localSegments - before, 2, "the data in one segment, then its ACK");
  const got = new Uint8Array(data.length);
  assert.equal(c.recv(got), data.length);
  assert.deepEqual(got, data);
});

Deno.test("With a tap, segments to ourselves are real packets of at most one MSS", () => {
  const payloads: number[] = [];
  const { sim, c, a } = loopbackConnection((_now, p) => {
    // IPv4 header, then the TCP header's data offset.
    const ihl = (p[0]! & 0x0f) * 4;
    payloads.push(p.length - ihl - (p[ihl + 12]! >> 4) * 4);
  });
  const data = patternBytes(200_000);
  assert.equal(a.send(data), data.length);
  sim.runUntil(() => c.recvQueue === data.length);
  const got = new Uint8Array(data.length);
  assert.equal(c.recv(got), data.length);
  assert.deepEqual(got, data);
  assert.equal(Math.max(...payloads), 65483);
  assert.equal(payloads.filter((n) => n > 0).length, 4, "200,000 bytes in four segments");
});
