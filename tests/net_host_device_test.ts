/**
 * config.json's network namespace (linux.namespaces' network entry with a path, as podman's
 * netavark bridge prepares it): the sandbox's stack takes the namespace's Ethernet devices
 * through the sentry's packet sockets on them (platform/ptrace/host_netns.ts,
 * kernel/net_packet.ts), with their addresses, routes, MAC and MTU. The test prepares such a
 * namespace itself (a veth pair: one end in a new namespace with an address and a default
 * route, the other on the host), as an engine would, and runs a plain bundle in it.
 *
 * Needs root and iproute2's `ip`; skipped with a line otherwise.
 */

import assert from "node:assert/strict";
import dgram from "node:dgram";
import { checkpointOn, sentry } from "./_checkpoint.ts";
import { compileC, REPO_ROOT } from "./_harness.ts";

async function sh(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const o = await new Deno.Command("/bin/sh", { args: ["-c", script], stdin: "null", stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

const skip = Deno.uid() !== 0 ? "not root" : (await sh("command -v ip")).code !== 0 ? "no ip(8)" : null;
if (skip !== null) console.log(`net_host_device_test: skipped: ${skip}`);

/** A namespace NAME whose eth end (sN) holds 10.201.N.2/24 with a default route via the host's end (hN) at 10.201.N.1. */
async function prepare(n: number): Promise<{ ns: string; host: string; peer: string }> {
  // What a run killed midway left (the same addresses on two host links would misroute).
  for (const l of (await sh(`ip -o link show | grep -o 'hd${n}h[0-9]*' || true`)).stdout.split("\n")) if (l) await sh(`ip link del ${l}`);
  for (const l of (await sh(`ip netns list | grep -o 'sentry-hd${n}-[0-9]*' || true`)).stdout.split("\n")) if (l) await sh(`ip netns del ${l}`);
  const ns = `sentry-hd${n}-${Deno.pid}`, host = `hd${n}h${Deno.pid % 10000}`, peer = `hd${n}s${Deno.pid % 10000}`;
  const r = await sh(`set -e
    ip netns add ${ns}
    ip link add ${host} type veth peer name ${peer}
    ip link set ${peer} netns ${ns}
    ip addr add 10.201.${n}.1/24 dev ${host}
    ip link set ${host} up
    ip -n ${ns} link set lo up
    ip -n ${ns} addr add 10.201.${n}.2/24 dev ${peer}
    ip -n ${ns} link set ${peer} mtu 1400 up
    ip -n ${ns} route add default via 10.201.${n}.1`);
  assert.equal(r.code, 0, r.stderr);
  return { ns, host, peer };
}

async function teardown(p: { ns: string; host: string }): Promise<void> {
  await sh(`ip link del ${p.host} 2>/dev/null; ip netns del ${p.ns} 2>/dev/null`);
}

function bundle(dir: string, ns: string | null, script: string, extra: object = {}): void {
  const config = {
    ociVersion: "1.0.2",
    process: { args: ["/bin/busybox", "sh", "-c", script], cwd: "/", env: ["PATH=/usr/bin:/bin"] },
    root: { path: "/", readonly: true },
    mounts: [{ destination: "/proc", type: "proc", source: "proc" }],
    linux: { namespaces: [{ type: "pid" }, ...(ns === null ? [] : [{ type: "network", path: `/run/netns/${ns}` }])], ...extra },
  };
  Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(config));
}

Deno.test({
  name: "config.json's network namespace: its device is the sandbox's (address, route, MAC, MTU); TCP and UDP both ways, ping of the gateway; the host's stack lets go of the address",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const p = await prepare(1);
  const dir = await Deno.makeTempDir({ prefix: "sentry-hd-" });
  let tcp: Deno.Listener | null = null;
  let running: Deno.ChildProcess | null = null;
  const udp = dgram.createSocket("udp4");
  try {
    tcp = Deno.listen({ hostname: "10.201.1.1", port: 0 });
    // Answered, so that the reply crosses the device inward too.
    const datagram = new Promise<string>((resolve) =>
      udp.once("message", (m, from) => {
        udp.send("back", from.port, from.address);
        resolve(new TextDecoder().decode(m));
      })
    );
    const udpClient = await compileC("udp_echo_client");
    await new Promise<void>((resolve) => udp.bind(0, "10.201.1.1", resolve));
    const mac = (await sh(`ip -n ${p.ns} -br link show ${p.peer}`)).stdout.trim().split(/\s+/)[2];
    const tcpPort = (tcp.addr as Deno.NetAddr).port, udpPort = udp.address().port;
    bundle(dir, p.ns, [
      `ip -o -4 addr show ${p.peer} | awk '{print $4}'`,
      "ip route | sed 's/ *$//'",
      `ip link show ${p.peer} | grep -o 'link/ether [0-9a-f:]*'`,
      `ip link show ${p.peer} | grep -o 'mtu [0-9]*'`,
      "ping -c 1 -W 5 10.201.1.1 >/dev/null && echo ping ok",
      `echo over-tcp | nc 10.201.1.1 ${tcpPort}`,
      `${udpClient} 10.201.1.1 ${udpPort} over-udp`,
      // A server in the sandbox, reached from the host's end.
      "echo from-sandbox | nc -l -p 7070 >/dev/null & sleep 0.2; echo listening; wait",
    ].join("; "));
    const child = new Deno.Command(`${REPO_ROOT}/sentry`, {
      args: ["run", "--bundle", dir], stdin: "null", stdout: "piped", stderr: "piped",
    }).spawn();
    running = child;
    const run = child.output();
    const conn = await tcp.accept();
    const got = new Uint8Array(64);
    const n = await conn.read(got);
    assert.equal(new TextDecoder().decode(got.subarray(0, n ?? 0)), "over-tcp\n");
    conn.close();
    assert.equal(await datagram, "over-udp");
    // While it runs, the namespace's own stack holds no IPv4 address (runsc's rule).
    assert.equal((await sh(`ip -n ${p.ns} -4 -o addr show dev ${p.peer}`)).stdout, "");
    let reply = "";
    for (let i = 0; i < 100 && reply === ""; i++) {
      reply = (await sh("echo hi | timeout 5 /bin/busybox nc -w 2 10.201.1.2 7070 2>/dev/null || true")).stdout;
      if (reply === "") await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(reply, "from-sandbox\n");
    const o = await run;
    running = null;
    const r = { code: o.code, stdout: new TextDecoder().decode(o.stdout), stderr: new TextDecoder().decode(o.stderr) };
    assert.equal(r.stdout, [
      "10.201.1.2/24",
      "10.201.1.0/24 dev " + p.peer + " scope link  src 10.201.1.2",
      "default via 10.201.1.1 dev " + p.peer + "  src 10.201.1.2",
      `link/ether ${mac}`,
      "mtu 1400",
      "ping ok",
      "udp reply: back",
      "listening",
      "",
    ].join("\n"), r.stderr);
    assert.equal(r.code, 0);
  } finally {
    try {
      running?.kill("SIGKILL");
    } catch { /* ended */ }
    tcp?.close();
    udp.close();
    await teardown(p);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "config.json's network namespace: --network none wins (loopback only); a bad path is one line and status 125",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const p = await prepare(2);
  const dir = await Deno.makeTempDir({ prefix: "sentry-hd-" });
  try {
    bundle(dir, p.ns, "ip -o link | awk '{print $2}'");
    const none = await sentry(["--network", "none", "run", "--bundle", dir]);
    assert.deepEqual([none.code, none.stdout, none.stderr], [0, "lo:\n", ""]);
    // Untouched: the engine's namespace keeps its address.
    assert.match((await sh(`ip -n ${p.ns} -4 -o addr show dev ${p.peer}`)).stdout, /10\.201\.2\.2\/24/);

    for (const [path, why] of [["/run/netns/no-such-ns", /no such file or directory/], ["/etc/hostname", /not a network namespace/]] as const) {
      const c = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`));
      c.linux.namespaces = [{ type: "network", path }];
      Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(c));
      const bad = await sentry(["run", "--bundle", dir]);
      assert.equal(bad.code, 125, bad.stderr);
      assert.match(bad.stderr, /^sentry: config\.json: linux\.namespaces: network [^\n]+\n$/);
      assert.match(bad.stderr, why);
      assert.equal(bad.stdout, "");
    }

  } finally {
    await teardown(p);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "config.json's network namespace: a checkpoint is taken, and the restore takes the devices of the namespace the restoring engine prepared",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  let p = await prepare(3);
  const dir = await Deno.makeTempDir({ prefix: "sentry-hd-" });
  let tcp: Deno.Listener | null = null;
  try {
    tcp = Deno.listen({ hostname: "10.201.3.1", port: 0 });
    const port = (tcp.addr as Deno.NetAddr).port;
    bundle(dir, p.ns, `echo ready; read -r go; ip -o -4 addr show ${p.peer} | awk '{print $4}'; echo after-restore | nc 10.201.3.1 ${port}`);
    const image = `${dir}/image.cbor`;
    const before = await checkpointOn("ready\n", image, [], { command: (id) => ["run", "--bundle", dir, id] });
    assert.equal(before.stdout, "ready\n", before.stderr);
    // As podman's restore: the engine prepares the namespace anew (the same address here).
    tcp.close();
    tcp = null;
    await teardown(p);
    p = await prepare(3);
    tcp = Deno.listen({ hostname: "10.201.3.1", port });
    const accepted = (async () => {
      const c = await tcp!.accept();
      const buf = new Uint8Array(64);
      const n = await c.read(buf);
      c.close();
      return new TextDecoder().decode(buf.subarray(0, n ?? 0));
    })();
    const after = await sentry(["restore", "--bundle", dir, image]);
    assert.equal(after.stdout, "10.201.3.2/24\n", after.stderr);
    assert.equal(after.code, 0);
    assert.equal(await accepted, "after-restore\n");
  } finally {
    tcp?.close();
    await teardown(p);
    await Deno.remove(dir, { recursive: true });
  }
});
