import assert from "node:assert/strict";
import { type IpAddress, Ipv4Address } from "../wire/address.ts";
import { type UdpHost, UdpSocket } from "./udp_socket.ts";

const LOCAL = Ipv4Address.parse("10.0.0.1");
const PEER = { addr: Ipv4Address.parse("10.0.0.2"), port: 53 };

class FakeHost implements UdpHost {
  #next = 50000;
  udpBind(_s: UdpSocket, _a: IpAddress | null, port: number): number {
    return port || this.#next++;
  }
  udpUnbind(): void {}
  udpRoute(): { src: IpAddress; mtu: number } {
    return { src: LOCAL, mtu: 1500 };
  }
}

function code(e: unknown): string | undefined {
  return (e as { code?: string }).code;
}

Deno.test("UdpSocket.sendTo() binds an ephemeral port and queues a copy", () => {
  const s = new UdpSocket(new FakeHost());
  const data = new Uint8Array([1, 2, 3]);
  assert.equal(s.sendTo(data, PEER), 3);
  data[0] = 9;
  assert.equal(s.localPort, 50000);
  const sent: number[][] = [];
  s.dispatch(0, (d) => (sent.push([...d.data]), true));
  assert.deepEqual(sent, [[1, 2, 3]]);
  assert.equal(s.pollAt(0), null);
});

Deno.test("UdpSocket.sendTo() needs a destination and refuses oversized datagrams", () => {
  const s = new UdpSocket(new FakeHost());
  assert.throws(() => s.sendTo(new Uint8Array(1)), (e: unknown) => code(e) === "ENOTCONN");
  s.bind(null, 1234);
  assert.throws(() => s.sendTo(new Uint8Array(1)), (e: unknown) => code(e) === "EDESTADDRREQ");
  assert.throws(() => s.sendTo(new Uint8Array(70_000), PEER), (e: unknown) => code(e) === "EMSGSIZE");
});

Deno.test("A connected UdpSocket accepts only its peer", () => {
  const s = new UdpSocket(new FakeHost());
  s.connect(PEER);
  assert.ok(s.accepts(PEER, LOCAL));
  assert.ok(!s.accepts({ ...PEER, port: 54 }, LOCAL));
});

Deno.test("UdpSocket drops arrivals past its receive queue limit", () => {
  const s = new UdpSocket(new FakeHost(), { rxQueueBytes: 10 });
  const to = { addr: LOCAL, port: 1 };
  assert.ok(s.deliver(PEER, to, new Uint8Array(6)));
  assert.ok(!s.deliver(PEER, to, new Uint8Array(6)));
  assert.equal(s.drops, 1);
  assert.ok(s.readiness().readable);
  assert.equal(s.recvFrom(new Uint8Array(10))?.length, 6);
  assert.equal(s.recvFrom(new Uint8Array(10)), null);
});

Deno.test("UdpSocket.snapshot() and restore() carry its port, peer and both queues (with each datagram's TTL and TOS); a queue past its limit is refused", () => {
  const a = new UdpSocket(new FakeHost());
  a.bind(LOCAL, 4000);
  a.connect(PEER);
  a.deliver(PEER, { addr: LOCAL, port: 4000 }, new Uint8Array([7, 8]), { ttl: 21, tos: 16 });
  a.sendTo(new Uint8Array([1]));
  const snap = a.snapshot();
  const b = new UdpSocket(new FakeHost());
  b.restore(snap);
  assert.equal(b.localPort, 4000);
  assert.equal(b.remote?.addr.toString(), "10.0.0.2");
  const buf = new Uint8Array(8);
  assert.deepEqual(b.recvFrom(buf), {
    from: { addr: PEER.addr, port: 53 }, length: 2, truncated: false, to: { addr: LOCAL, port: 4000 }, meta: { ttl: 21, tos: 16, at: undefined },
  });
  const sent: number[][] = [];
  b.dispatch(0, (d) => (sent.push([...d.data]), true));
  assert.deepEqual(sent, [[1]]);
  const big = { ...snap, rx: Array.from({ length: 10 }, () => ({ ...snap.rx[0]!, data: new Uint8Array(60_000) })) };
  assert.throws(() => new UdpSocket(new FakeHost()).restore(big), RangeError);
});
