import assert from "node:assert/strict";
import { A4, B4, Sim, stackPair } from "../_harness.ts";
import { Stack } from "../iface/stack.ts";
import { Loopback } from "../link/loopback.ts";
import { Ipv4Address } from "../wire/address.ts";

const LO = Ipv4Address.parse("127.0.0.1");

function loopbackStack(): { s: Stack; sim: Sim } {
  const s = new Stack();
  s.addInterface({ device: new Loopback({ medium: "ip", mtu: 65536 }), addresses: ["127.0.0.1/8"] });
  return { s, sim: new Sim(s) };
}

const send = (p: { dst: Ipv4Address; data: Uint8Array; hdrincl?: boolean }) => ({
  dst: p.dst, src: null, data: p.data, hdrincl: p.hdrincl ?? false, ttl: 64, tos: 0, checksumOffset: -1,
});

Deno.test("a raw TCP socket sees the loopback handshake as real packets (the repr fast path steps aside)", () => {
  const { s, sim } = loopbackStack();
  const raw = s.rawSocket(4, 6);
  const l = s.tcpSocket();
  l.bind(null, 80);
  l.listen(1);
  const c = s.tcpSocket();
  c.connect(sim.now, { addr: LO, port: 80 });
  sim.runUntil(() => c.state === "ESTABLISHED" && l.readiness().readable);
  const flags: number[] = [];
  for (let p = raw.take(); p !== null; p = raw.take()) {
    assert.equal(p.data[9], 6, "the IP header's protocol");
    flags.push(p.data[20 + 13]! & 0x12);
  }
  assert.deepEqual(flags.slice(0, 3), [0x02, 0x12, 0x10], "SYN, SYN-ACK, ACK");
  raw.close();
});

Deno.test("a protocol only a raw socket takes gets no protocol unreachable; without one it does", () => {
  const { s, sim } = loopbackStack();
  const icmp = s.rawSocket(4, 1);
  const raw = s.rawSocket(4, 253);
  assert.ok(raw.send(send({ dst: LO, data: new TextEncoder().encode("x") })));
  sim.settle();
  assert.equal(raw.take()?.data.length, 21);
  assert.equal(icmp.take(), null, "no ICMP error");
  raw.close();
  // Protocol 254 from an IPPROTO_RAW socket (which takes nothing in): no raw socket has it.
  const other = s.rawSocket(4, 255);
  const pkt = new Uint8Array(21);
  pkt[0] = 0x45;
  pkt[8] = 64;
  pkt[9] = 254;
  pkt.set(LO.bytes, 16);
  assert.ok(other.send(send({ dst: LO, data: pkt, hdrincl: true })));
  sim.settle();
  const err = icmp.take();
  assert.equal(err?.data[20], 3, "destination unreachable");
  assert.equal(err?.data[21], 2, "protocol unreachable");
});

Deno.test("IP_HDRINCL: the stack completes length, checksum, identification and source, and routes by the send's address", () => {
  const { s, sim } = loopbackStack();
  const rx = s.rawSocket(4, 253);
  const tx = s.rawSocket(4, 255);
  const pkt = new Uint8Array(24);
  pkt[0] = 0x45;
  pkt[8] = 5;
  pkt[9] = 253;
  pkt.set([10, 9, 8, 7], 16); // a destination that is not ours
  pkt.set([1, 2, 3, 4], 20);
  assert.ok(tx.send(send({ dst: LO, data: pkt, hdrincl: true })));
  sim.settle();
  const got = rx.take()!;
  assert.equal((got.data[2]! << 8) | got.data[3]!, 24);
  assert.notEqual((got.data[4]! << 8) | got.data[5]!, 0);
  assert.equal(got.src.toString(), "127.0.0.1");
  assert.equal(got.dst.toString(), "10.9.8.7");
  assert.deepEqual([...got.data.subarray(20)], [1, 2, 3, 4]);
  // A header too short for itself is dropped without harm.
  const bad = new Uint8Array(20);
  bad[0] = 0x4f;
  assert.ok(tx.send(send({ dst: LO, data: bad, hdrincl: true })));
  sim.settle();
  assert.equal(rx.take(), null);
});

Deno.test("a raw socket gets a fragmented datagram once, reassembled, with a whole header", () => {
  const { a, b } = stackPair({ mtu: 600 });
  const sim = new Sim(a, b);
  const raw = b.rawSocket(4, 253);
  const out = a.rawSocket(4, 253);
  const data = new Uint8Array(1500).map((_, i) => i & 0xff);
  assert.ok(out.send(send({ dst: B4, data })));
  sim.runUntil(() => raw.queued > 0);
  const p = raw.take()!;
  assert.equal(p.data.length, 1520);
  assert.equal((p.data[2]! << 8) | p.data[3]!, 1520);
  assert.equal(((p.data[6]! << 8) | p.data[7]!) & 0x3fff, 0, "no fragment offset or MF");
  assert.deepEqual(p.data.subarray(20), data);
  assert.equal(p.src.toString(), A4.toString());
  sim.settle();
  assert.equal(raw.take(), null);
});

Deno.test("SO_RCVBUF: packets are taken while the queued memory is within the limit", () => {
  const { s, sim } = loopbackStack();
  const raw = s.rawSocket(4, 253);
  raw.remoteAddr = LO;
  raw.receiveLimit = 9216;
  for (let i = 0; i < 4; i++) assert.ok(raw.send(send({ dst: LO, data: new Uint8Array(2304) })));
  sim.settle();
  assert.equal(raw.queued, 3);
});
