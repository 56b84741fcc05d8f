import assert from "node:assert/strict";
import { Ipv4Address } from "../wire/address.ts";
import { type SeqNumber, seq, seqAdd } from "../wire/seq_number.ts";
import { type TcpRepr, tcpReprDefaults } from "../wire/tcp.ts";
import type { IpAddress } from "../wire/address.ts";
import { type TcpHost, type TcpOptions, TcpSocket } from "./tcp_socket.ts";

const CLIENT = Ipv4Address.parse("192.0.2.1");
const SERVER = Ipv4Address.parse("192.0.2.2");

/** A host that routes everything and records state changes. */
class FakeHost implements TcpHost {
  trace: string[] = [];
  #port = 40000;
  constructor(readonly addr: IpAddress, readonly isn: number) {}
  tcpBind(_s: TcpSocket, _a: IpAddress | null, port: number): number {
    return port || this.#port++;
  }
  tcpUnbind(): void {}
  tcpWake(): void {}
  /** The socket most recently registered (e.g. a listener's new child). */
  registered: TcpSocket | null = null;
  tcpRegister(s: TcpSocket): void {
    this.registered = s;
  }
  tcpUnregister(): void {}
  tcpRoute(): { src: IpAddress; mtu: number } {
    return { src: this.addr, mtu: 1500 };
  }
  tcpIsn(): SeqNumber {
    return seq(this.isn);
  }
  tcpTrace(_s: TcpSocket, msg: string): void {
    this.trace.push(msg);
  }
}

/** Collects what `s` wants to send at `now`. */
function out(s: TcpSocket, now: number): TcpRepr[] {
  const segs: TcpRepr[] = [];
  s.dispatch(now, (_src, _dst, r) => {
    segs.push({ ...r, payload: r.payload.slice() });
    return true;
  });
  return segs;
}

/** Delivers segments both ways until quiet. */
function exchange(x: TcpSocket, xAddr: IpAddress, y: TcpSocket, yAddr: IpAddress, now: number): void {
  for (let i = 0; i < 1000; i++) {
    const xs = out(x, now), ys = out(y, now);
    if (xs.length === 0 && ys.length === 0) return;
    for (const r of xs) y.process(now, xAddr, yAddr, r);
    for (const r of ys) x.process(now, yAddr, xAddr, r);
  }
  throw new Error("Cannot settle the exchange");
}

/** A client/server pair in ESTABLISHED, with optional ISNs and options. */
function socketEstablished(opts: TcpOptions = {}, isn = { client: 1000, server: 5000 }): {
  client: TcpSocket;
  server: TcpSocket;
  clientHost: FakeHost;
} {
  const clientHost = new FakeHost(CLIENT, isn.client);
  const serverHost = new FakeHost(SERVER, isn.server);
  const listener = new TcpSocket(serverHost, opts);
  listener.bind(null, 80);
  listener.listen(4);
  const client = new TcpSocket(clientHost, opts);
  client.connect(0, { addr: SERVER, port: 80 });
  const [syn] = out(client, 0);
  listener.process(0, CLIENT, SERVER, syn!);
  const child = serverHost.registered!;
  exchange(client, CLIENT, child, SERVER, 0);
  assert.equal(client.state, "ESTABLISHED");
  assert.equal(child.state, "ESTABLISHED");
  assert.equal(listener.accept(), child);
  return { client, server: child, clientHost };
}

function segFrom(s: TcpSocket, fields: Partial<TcpRepr>): TcpRepr {
  return { ...tcpReprDefaults(), srcPort: s.remote!.port, dstPort: s.localPort, ...fields };
}

Deno.test("The handshake negotiates MSS, window scaling, SACK and timestamps", () => {
  const { client, server } = socketEstablished();
  assert.deepEqual(client.negotiated, { mss: 1460, windowScale: true, timestamps: true, sack: true });
  assert.deepEqual(server.negotiated, client.negotiated);
});

Deno.test("Options are off when either side does not offer them", () => {
  const { client } = socketEstablished({ windowScaling: false, sack: false, timestamps: false });
  assert.deepEqual(client.negotiated, { mss: 1460, windowScale: false, timestamps: false, sack: false });
});

Deno.test("The advertised window is the free buffer space scaled by our shift", () => {
  const { client, server } = socketEstablished({ rxBufferSize: 1 << 20 });
  client.send(new Uint8Array(10));
  const segs = out(client, 1);
  assert.equal(segs.length, 1);
  server.process(1, CLIENT, SERVER, segs[0]!);
  const [ack] = out(server, 1000);
  // 1 MiB needs a shift of 5 to fit 16 bits.
  assert.equal(ack!.window, ((1 << 20) - 10) >> 5);
});

Deno.test("An in-window RST with the wrong sequence number draws a challenge ACK (RFC 5961)", () => {
  const { client, server } = socketEstablished({ timestamps: false });
  const rcvNxt = seqAdd(seq(5000), 1);
  client.process(1, SERVER, CLIENT, segFrom(client, { rst: true, seq: seqAdd(rcvNxt, 100) }));
  assert.equal(client.state, "ESTABLISHED");
  const [challenge] = out(client, 1);
  assert.ok(challenge && !challenge.rst && challenge.ack === rcvNxt);
  client.process(2, SERVER, CLIENT, segFrom(client, { rst: true, seq: rcvNxt }));
  assert.equal(client.state, "CLOSED");
  void server;
});

Deno.test("A SYN on an established connection draws a challenge ACK and does not reset", () => {
  const { client } = socketEstablished({ timestamps: false });
  client.process(1, SERVER, CLIENT, segFrom(client, { syn: true, seq: seq(5001) }));
  assert.equal(client.state, "ESTABLISHED");
  assert.equal(out(client, 1).length, 1);
});

Deno.test("PAWS drops a segment whose timestamp went backwards", () => {
  const { client, server } = socketEstablished();
  server.send(new Uint8Array([1]));
  const [good] = out(server, 10);
  client.process(10, SERVER, CLIENT, good!);
  assert.equal(client.recvQueue, 1);
  const old = { ...good!, seq: seqAdd(good!.seq, 1), payload: new Uint8Array([2]), timestamp: { tsVal: good!.timestamp!.tsVal - 5, tsEcr: 0 } };
  client.process(11, SERVER, CLIENT, old);
  assert.equal(client.recvQueue, 1);
});

Deno.test("SYN-SENT answers an unacceptable ACK with a RST whose sequence number is that ACK", () => {
  const host = new FakeHost(CLIENT, 1000);
  const c = new TcpSocket(host);
  c.connect(0, { addr: SERVER, port: 80 });
  out(c, 0);
  c.process(1, SERVER, CLIENT, { ...tcpReprDefaults(), srcPort: 80, dstPort: c.localPort, syn: true, seq: seq(9), ack: seq(4242) });
  assert.equal(c.state, "SYN-SENT");
  const [rst] = out(c, 1);
  assert.ok(rst!.rst);
  assert.equal(rst!.seq, 4242);
});

Deno.test("One segment is acknowledged after the delayed-ACK timeout, two at once", () => {
  const { client, server } = socketEstablished({ ackDelay: 40, noDelay: true });
  client.send(new Uint8Array(1000));
  const [s1] = out(client, 100);
  server.process(100, CLIENT, SERVER, s1!);
  assert.equal(out(server, 100).length, 0);
  assert.equal(server.pollAt(100), 140);
  assert.equal(out(server, 140).length, 1);
  client.send(new Uint8Array(3000));
  const segs = out(client, 200);
  assert.equal(segs.length, 3);
  server.process(200, CLIENT, SERVER, segs[0]!);
  server.process(200, CLIENT, SERVER, segs[1]!);
  assert.equal(server.pollAt(200), 200);
});

Deno.test("Out-of-order segments are SACKed, most recent block first, and acked at once", () => {
  const { client, server } = socketEstablished({ noDelay: true });
  client.send(new Uint8Array(1448 * 5));
  const segs = out(client, 1);
  assert.equal(segs.length, 5);
  server.process(1, CLIENT, SERVER, segs[1]!);
  server.process(1, CLIENT, SERVER, segs[3]!);
  const acks = out(server, 1);
  assert.equal(acks.length, 2, "one duplicate ACK per out-of-order segment");
  const blocks = acks[1]!.sackBlocks;
  assert.equal(blocks.length, 2);
  assert.equal(blocks[0]!.left, segs[3]!.seq);
  assert.equal(blocks[1]!.left, segs[1]!.seq);
  assert.equal(acks[0]!.ack, segs[0]!.seq);
});

Deno.test("Three duplicate ACKs trigger a fast retransmit of the first unacked segment", () => {
  const { client, server, clientHost } = socketEstablished({ noDelay: true, sack: false });
  client.send(new Uint8Array(1448 * 6));
  const segs = out(client, 1);
  for (const i of [1, 2, 3, 4]) server.process(1, CLIENT, SERVER, segs[i]!);
  for (const a of out(server, 1)) client.process(2, SERVER, CLIENT, a);
  assert.ok(clientHost.trace.some((l) => l.startsWith("fast retransmit")));
  const [re] = out(client, 2);
  assert.equal(re!.seq, segs[0]!.seq);
});

Deno.test("Sequence numbers wrap around 2^32 in the middle of a transfer", () => {
  const { client, server } = socketEstablished({ noDelay: true }, { client: 0xffff_f000, server: 0xffff_ff00 });
  const data = Uint8Array.from({ length: 20_000 }, (_, i) => i % 251);
  client.send(data);
  const got = new Uint8Array(data.length);
  let n = 0;
  for (let t = 1; n < data.length && t < 100; t++) {
    exchange(client, CLIENT, server, SERVER, t * 50);
    n += server.recv(got.subarray(n)) ?? 0;
  }
  assert.deepEqual(got, data);
});

Deno.test("The state machine logs every transition as old=>new", () => {
  const { clientHost } = socketEstablished();
  assert.deepEqual(clientHost.trace.filter((l) => l.includes("=>")), ["CLOSED=>SYN-SENT", "SYN-SENT=>ESTABLISHED"]);
});

Deno.test("send() and recv() report would-block as null and end of stream as 0", () => {
  const { client, server } = socketEstablished();
  assert.equal(server.recv(new Uint8Array(1)), null);
  client.shutdown("write");
  exchange(client, CLIENT, server, SERVER, 1);
  assert.equal(server.recv(new Uint8Array(1)), 0);
  assert.equal(server.state, "CLOSE-WAIT");
  assert.equal(client.state, "FIN-WAIT-2");
  assert.ok(server.readiness().readable);
  assert.throws(() => client.send(new Uint8Array(1)), (e: unknown) => (e as { code?: string }).code === "EPIPE");
  // Half-closed: the server can still send.
  server.send(new Uint8Array([7]));
  exchange(client, CLIENT, server, SERVER, 2);
  assert.equal(client.recv(new Uint8Array(1)), 1);
});

Deno.test("sendVia() and recvVia() move bytes through the queues without caller buffers", () => {
  const { client, server } = socketEstablished();
  const msg = new TextEncoder().encode("hello, world");
  assert.equal(client.sendVia(msg.length, (dst) => {
    dst.set(msg.subarray(0, dst.length));
    return dst.length;
  }), msg.length);
  assert.equal(client.sendQueue, msg.length);
  exchange(client, CLIENT, server, SERVER, 1);
  assert.equal(server.recvVia(100, () => 0), 0, "a take of nothing consumes nothing");
  assert.equal(server.recvQueue, msg.length);
  const got: number[] = [];
  assert.equal(server.recvVia(5, (src) => {
    got.push(...src);
    return src.length;
  }), 5);
  assert.equal(server.recvVia(100, (src) => {
    got.push(...src);
    return src.length;
  }), msg.length - 5);
  assert.deepEqual(got, [...msg]);
  assert.equal(server.recvVia(100, () => 0), null, "nothing queued: would block");
  client.shutdown("write");
  exchange(client, CLIENT, server, SERVER, 2);
  assert.equal(server.recvVia(100, () => 0), 0, "end of stream");
});
