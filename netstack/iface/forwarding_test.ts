import assert from "node:assert/strict";
import { patternBytes, Sim } from "../_harness.ts";
import { IpCidr, Ipv4Address } from "../wire/address.ts";
import { loopbackPair } from "../link/loopback.ts";
import { Stack } from "./stack.ts";
import type { TcpSocket } from "../tcp/tcp_socket.ts";

/** A host stack (10.0.2.15, default route via 10.0.2.2) and a forwarding gateway (10.0.2.2). */
function gatewayPair(): { host: Stack; gw: Stack; sim: Sim } {
  const [dh, dg] = loopbackPair({ medium: "ip", mtu: 65520, capacity: 256 });
  const host = new Stack({ seed: 1 });
  const gw = new Stack({ seed: 2, forwarding: true });
  host.addInterface({ device: dh, addresses: ["10.0.2.15/24"] });
  host.addRoute({ cidr: IpCidr.parse("0.0.0.0/0"), gateway: Ipv4Address.parse("10.0.2.2"), ifIndex: 0 });
  gw.addInterface({ device: dg, addresses: ["10.0.2.2/24"] });
  return { host, gw, sim: new Sim(host, gw) };
}

const FAR = Ipv4Address.parse("203.0.113.7");

Deno.test("a forwarding stack holds a SYN to any address until accepted, then carries the connection", () => {
  const { host, gw, sim } = gatewayPair();
  const c = host.tcpSocket();
  c.connect(sim.now, { addr: FAR, port: 80 });
  sim.settle();
  const held = gw.takeHeldSyns();
  assert.equal(held.length, 1);
  assert.equal(held[0]!.dst.addr.toString(), "203.0.113.7");
  assert.equal(held[0]!.dst.port, 80);
  assert.equal(held[0]!.src.addr.toString(), "10.0.2.15");
  assert.equal(c.state, "SYN-SENT", "no answer while the SYN is held");
  // The SYN retransmission is not held a second time.
  const rexmits = gw.stats.rxFrames;
  sim.now += 1100;
  sim.settle();
  assert.equal(gw.stats.rxFrames, rexmits + 1, "the SYN was retransmitted");
  assert.equal(gw.takeHeldSyns().length, 0);
  const s: TcpSocket | null = gw.acceptHeldSyn(sim.now, held[0]!);
  assert.ok(s);
  sim.runUntil(() => c.state === "ESTABLISHED" && s.state === "ESTABLISHED");
  assert.equal(s.localAddr!.toString(), "203.0.113.7", "the gateway answers as the destination");
  const data = patternBytes(300_000);
  let sent = 0, got = 0;
  const buf = new Uint8Array(65536);
  const out: number[] = [];
  sim.runUntil(() => got === data.length, {
    step: () => {
      if (sent < data.length) sent += c.send(data.subarray(sent)) ?? 0;
      const n = s.recv(buf);
      if (n) {
        for (let i = 0; i < n; i++) if (buf[i] !== data[got + i]) out.push(got + i);
        got += n;
      }
    },
  });
  assert.deepEqual(out, []);
});

Deno.test("a refused held SYN fails the connect with ECONNREFUSED, an unreachable one with EHOSTUNREACH", () => {
  const { host, gw, sim } = gatewayPair();
  const a = host.tcpSocket(), b = host.tcpSocket();
  a.connect(sim.now, { addr: FAR, port: 1 });
  b.connect(sim.now, { addr: FAR, port: 2 });
  sim.settle();
  const held = gw.takeHeldSyns();
  assert.equal(held.length, 2);
  gw.refuseHeldSyn(sim.now, held.find((h) => h.dst.port === 1)!, "reset");
  gw.refuseHeldSyn(sim.now, held.find((h) => h.dst.port === 2)!, "host");
  sim.settle();
  assert.equal(a.state, "CLOSED");
  assert.equal(a.takeError()?.code, "ECONNREFUSED");
  assert.equal(b.state, "CLOSED");
  assert.equal(b.takeError()?.code, "EHOSTUNREACH");
});

Deno.test("a forwarding stack holds UDP datagrams for no socket and replies from any address", () => {
  const { host, gw, sim } = gatewayPair();
  const u = host.udpSocket();
  u.connect({ addr: FAR, port: 53 });
  u.sendTo(new TextEncoder().encode("q?"));
  sim.settle();
  const held = gw.takeHeldDatagrams();
  assert.equal(held.length, 1);
  assert.equal(held[0]!.dst.addr.toString(), "203.0.113.7");
  assert.equal(new TextDecoder().decode(held[0]!.data), "q?");
  assert.ok(gw.sendDatagramAs(sim.now, held[0]!.dst, held[0]!.src, new TextEncoder().encode("a!")));
  sim.settle();
  const buf = new Uint8Array(16);
  const r = u.recvFrom(buf);
  assert.ok(r);
  assert.equal(r.from.addr.toString(), "203.0.113.7");
  assert.equal(new TextDecoder().decode(buf.subarray(0, r.length)), "a!");
});

Deno.test("a forwarding stack answers ICMP echo only for its own addresses", () => {
  const { host, sim } = gatewayPair();
  const ping = host.icmpSocket();
  ping.sendTo(FAR, 1, new Uint8Array([1]));
  ping.sendTo(Ipv4Address.parse("10.0.2.2"), 2, new Uint8Array([2]));
  sim.settle();
  const r = ping.recvFrom();
  assert.ok(r);
  assert.equal(r.peer.toString(), "10.0.2.2");
  assert.equal(ping.recvFrom(), null);
});
