import assert from "node:assert/strict";
import dgram from "node:dgram";
import { IpCidr, Ipv4Address, type TcpSocket } from "../netstack/mod.ts";
import { Net } from "./net.ts";
import { hostTarget, parseNameserver } from "./net_forward.ts";
import { loadNetModules } from "./net_load.ts";

// A Net's stack is made from the network's modules, which a sandbox loads at their first use.
await loadNetModules();

/** Kicks the network and yields to host I/O until done() holds (at most ~10 s). */
async function drive(net: Net, done: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    net.expire(net.now() * 1e6);
    net.kick();
    if (done()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error("the network did not get there");
}

const GW = Ipv4Address.parse("10.0.2.2");

/** A host TCP echo server on 127.0.0.1; close() ends it and its connections. */
function echoServer(): { port: number; close(): Promise<void> } {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Promise<void>[] = [];
  const loop = (async () => {
    for await (const c of l) {
      conns.push((async () => {
        try {
          await c.readable.pipeTo(c.writable);
        } catch { /* reset */ }
      })());
    }
  })();
  return {
    port: (l.addr as Deno.NetAddr).port,
    async close() {
      l.close();
      await loop.catch(() => {});
      await Promise.all(conns);
    },
  };
}

/** Connects a sandbox-side socket and waits for the outcome. */
async function connect(net: Net, addr: Ipv4Address, port: number): Promise<TcpSocket> {
  const s = net.stack.tcpSocket();
  s.connect(net.now(), { addr, port });
  await drive(net, () => s.state !== "SYN-SENT");
  return s;
}

Deno.test("--network sandbox carries a TCP connection to the host's loopback through 10.0.2.2, bytes intact both ways", async () => {
  const server = echoServer();
  const net = new Net({ mode: "sandbox", resolver: null });
  try {
    const s = await connect(net, GW, server.port);
    assert.equal(s.state, "ESTABLISHED");
    const data = new Uint8Array(3 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 11)) & 0xff;
    const back = new Uint8Array(data.length);
    let sent = 0, got = 0;
    const buf = new Uint8Array(1 << 16);
    await drive(net, () => {
      if (sent < data.length) sent += s.send(data.subarray(sent)) ?? 0;
      for (let n; (n = s.recv(buf)) ;) {
        back.set(buf.subarray(0, n), got);
        got += n;
      }
      return got === data.length;
    });
    assert.deepEqual(back, data);
    s.close();
    await drive(net, () => true);
  } finally {
    net.closeHost();
    await server.close();
  }
});

Deno.test("--network sandbox refuses a closed host port with ECONNREFUSED and an absent sandbox address with EHOSTUNREACH", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closed = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const net = new Net({ mode: "sandbox", resolver: null });
  try {
    const a = await connect(net, GW, closed);
    assert.equal(a.takeError()?.code, "ECONNREFUSED");
    const b = await connect(net, Ipv4Address.parse("10.0.2.7"), 80);
    assert.equal(b.takeError()?.code, "EHOSTUNREACH");
  } finally {
    net.closeHost();
  }
});

Deno.test("the forwarder enforces --net-allow: a destination outside the list is host-unreachable", async () => {
  const server = echoServer();
  const net = new Net({
    mode: "sandbox",
    resolver: null,
    allow: [{ cidr: IpCidr.parse("10.0.2.2/32"), port: server.port + 1 }],
  });
  try {
    const s = await connect(net, GW, server.port);
    assert.equal(s.takeError()?.code, "EHOSTUNREACH");
  } finally {
    net.closeHost();
    await server.close();
  }
});

Deno.test("--network sandbox forwards DNS datagrams for 10.0.2.3:53 to the host resolver and back", async () => {
  const resolver = dgram.createSocket("udp4");
  resolver.on("message", (msg: Uint8Array, r: { port: number; address: string }) => {
    resolver.send(new Uint8Array([...new TextEncoder().encode("answer:"), ...msg]), r.port, r.address);
  });
  await new Promise<void>((ok) => resolver.bind(0, "127.0.0.1", ok));
  const net = new Net({ mode: "sandbox", resolver: { hostname: "127.0.0.1", port: resolver.address().port } });
  try {
    const u = net.stack.udpSocket();
    u.sendTo(new TextEncoder().encode("q"), { addr: Ipv4Address.parse("10.0.2.3"), port: 53 });
    const buf = new Uint8Array(64);
    let r: ReturnType<typeof u.recvFrom> = null;
    await drive(net, () => (r = u.recvFrom(buf)) !== null);
    assert.equal(new TextDecoder().decode(buf.subarray(0, r!.length)), "answer:q");
    assert.equal(`${r!.from.addr}:${r!.from.port}`, "10.0.2.3:53");
    u.close();
  } finally {
    net.closeHost();
    await new Promise<void>((ok) => resolver.close(() => ok()));
  }
});

Deno.test("the gateway's addresses map to the host's loopback and resolver; the rest of 10.0.2.0/24 does not exist", () => {
  const ns = { hostname: "192.0.2.53", port: 53 };
  assert.deepEqual(hostTarget(GW, 8080, ns), { hostname: "127.0.0.1", port: 8080 });
  assert.deepEqual(hostTarget(Ipv4Address.parse("10.0.2.3"), 53, ns), ns);
  assert.equal(hostTarget(Ipv4Address.parse("10.0.2.3"), 80, ns), "none");
  assert.equal(hostTarget(Ipv4Address.parse("10.0.2.9"), 80, ns), "none");
  assert.deepEqual(hostTarget(Ipv4Address.parse("192.0.2.1"), 443, ns), { hostname: "192.0.2.1", port: 443 });
  assert.equal(parseNameserver("# c\nsearch x\nnameserver  10.1.2.3\nnameserver 8.8.8.8\n"), "10.1.2.3");
  assert.equal(parseNameserver("nameserver fe80::1%eth0\n"), "fe80::1");
  assert.equal(parseNameserver("search x\n"), null);
});
