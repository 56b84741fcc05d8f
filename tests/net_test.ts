/**
 * Sandbox networking, run natively and in the sentry: TCP bulk transfers over 127.0.0.1 and
 * ::1 with checksums, UDP echo, getaddrinfo and getifaddrs (netlink), python's http.server
 * with curl inside one sandbox, --network none, --publish and --network sandbox (a host server
 * reached through the gateway 10.0.2.2, the host's loopback: no test needs the internet).
 *
 * The 256 MiB acceptance transfer is measured in bench/ (`deno task bench`); here 16 MiB.
 */

import assert from "node:assert/strict";
import { refusedOn } from "./_checkpoint.ts";
import { assertSameAsNative, compileC, REPO_ROOT, runNative, runSentry } from "./_harness.ts";

Deno.test("a C server and client move 16 MiB over 127.0.0.1 and ::1 with matching checksums, as natively", async () => {
  const r = await assertSameAsNative([await compileC("net_tcp"), "16"]);
  assert.match(r.stdout, /127\.0\.0\.1 server received 16777216 checksum/);
});

Deno.test("TCP readv/writev, MSG_PEEK, MSG_WAITALL across a delayed ACK, bad buffers, and POLLOUT after a full send buffer behave as natively", async () => {
  const r = await assertSameAsNative([await compileC("net_tcp_io")]);
  assert.match(r.stdout, /waitall 6 'abcdef'/);
  assert.match(r.stdout, /then read 3 'xyz'/);
});

Deno.test("SO_SNDBUF bounds a TCP send queue and wakes a blocked send when it grows; a listener shut down keeps its port and listens again; SO_REUSEADDR and SO_REUSEPORT deliver as natively", async () => {
  const r = await assertSameAsNative([await compileC("net_ports")]);
  assert.match(r.stdout, /the blocked send after SO_SNDBUF grew returned 1/);
  assert.match(r.stdout, /TCP SO_REUSEPORT: 300 connections, every listener got a share: yes/);
});

Deno.test("binds sharing a port by SO_REUSEADDR and SO_REUSEPORT in sequences: TCP's bucket fast path admits SO_REUSEADDR, both, then SO_REUSEPORT alone (and its listen), UDP refuses it, as natively (tests/c/net_reuse_sequence.c)", async () => {
  const r = await assertSameAsNative([await compileC("net_reuse_sequence")]);
  assert.match(r.stdout, /tcp \[a ap pL\]: a=ok ap=ok pL=ok\/listen-ok/);
  assert.match(r.stdout, /udp \[a ap p\]: a=ok ap=ok p=EADDRINUSE/);
});

Deno.test("TCP: send unconnected is EPIPE, a refused connect reads 0 and reconnects with ECONNABORTED, a blocked send ends with EPIPE at shutdown, MSG_TRUNC copies nothing, TIME-WAIT shutdown is ENOTCONN, as natively", async () => {
  const r = await assertSameAsNative([await compileC("net_tcp_edges")]);
  assert.match(r.stdout, /a send blocked on full buffers ends with EPIPE when shut down, having sent part: yes/);
});

Deno.test("UDP: an AF_INET6 socket sends and connects to a sockaddr_in but does not bind one; port 0 is no peer, as natively", async () => {
  const r = await assertSameAsNative([await compileC("net_udp_addrs")]);
  assert.match(r.stdout, /peer ::ffff:127\.0\.0\.1 port 1337 len 28/);
});

Deno.test("socketpair of inet families and peers of the other IP version than the bound address fail as natively", async () => {
  const r = await assertSameAsNative([await compileC("net_family_mismatch")]);
  assert.match(r.stdout, /connect ::ffff:127\.0\.0\.1: -1 Network is unreachable/);
});

Deno.test("IPv4 multicast over loopback: membership, IP_MULTICAST_IF, delivery to the port's sockets, IP_MULTICAST_LOOP on lo, as natively", async () => {
  const r = await assertSameAsNative([await compileC("net_multicast")]);
  assert.match(r.stdout, /a member: b gets it, the one bound to the group it, the one bound to 127\.0\.0\.1 nothing/);
  assert.match(r.stdout, /IP_PKTINFO ifindex is lo's: yes, spec_dst 127\.0\.0\.1, addr 224\.0\.2\.1/);
});

Deno.test("UDP control messages: IP_PKTINFO, IP_RECVTTL/TOS/ORIGDSTADDR, IPV6_RECVPKTINFO/HOPLIMIT/TCLASS, and TTL/TOS set by option or by a send's control message, as natively", async () => {
  const r = await assertSameAsNative([await compileC("net_udp_cmsg")]);
  assert.match(r.stdout, /level 0 type 2 len 4: 21/);
});

Deno.test("raw sockets: IPv4 packets read with their header and IPv6 ones without, copies of UDP and ICMP traffic, bind/connect filters, ICMP_FILTER, IP_HDRINCL, IPV6_CHECKSUM, ICMP6_FILTER, SO_RCVBUF and the errnos, as natively", async () => {
  const r = await assertSameAsNative([await compileC("net_raw")]);
  assert.match(r.stdout, /icmp 2: 28 bytes .* icmp type 0 code 0/);
  assert.match(r.stdout, /rcvbuf 2304: 3 of 4 packets queued/);
});

Deno.test("AF_PACKET sockets on lo: SOCK_RAW with lo's zero Ethernet header, SOCK_DGRAM without, sockaddr_ll, ETH_P_ALL's outgoing and incoming copies, sends through lo, errnos, as natively", async () => {
  const r = await assertSameAsNative([await compileC("net_packet")]);
  assert.match(r.stdout, /raw ETH_P_IP: 47 bytes namelen 20 family 17 proto 0x0800 ifindex_lo 1 hatype 772 pkttype 0 halen 6 eth zero 1 type 0x0800 payload "hello"/);
  assert.match(r.stdout, /dgram ETH_P_ALL first: .* pkttype 4 /);
  assert.match(r.stdout, /raw sees the sent packet: 46 bytes .* payload "sent"/);
});

Deno.test("UDP IP_RECVERR/IPV6_RECVERR: a datagram to a closed port comes back by MSG_ERRQUEUE with ICMP's error, as natively", async () => {
  const r = await assertSameAsNative([await compileC("net_udp_recverr")]);
  assert.match(r.stdout, /cmsg level 0 type 11: errno ECONNREFUSED origin 2 type 3 code 3 offender family 2/);
});

Deno.test("/proc/sys/net/ipv4/ip_local_port_range is writable inside the sandbox (never natively here): it refuses bad ranges and bounds UDP and TCP ephemeral ports", async () => {
  const r = await runSentry([await compileC("net_port_range")]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, [
    'write "2000 1999": Invalid argument',
    'write "80 90": Invalid argument',
    'write "1024 70000": Invalid argument',
    'write "x": Invalid argument',
    'write "40000 40002": Success',
    "reads back: 40000\t40002",
    "bound port 40000",
    "bound port 40001",
    "bound port 40002",
    "a fourth UDP bind: Address already in use",
    "bound port 40000",
    "connect 0 from port 40001",
    "a connect with no port left: -1 Cannot assign requested address",
    "a connect elsewhere: 0 from port 40001",
    "",
  ].join("\n"));
});

Deno.test("UDP echo on 127.0.0.1 and ::1, getaddrinfo of localhost and getifaddrs behave as natively", async () => {
  const r = await assertSameAsNative([await compileC("net_udp")]);
  assert.match(r.stdout, /lo inet up 1 loopback 1: 127\.0\.0\.1/);
});

Deno.test("SO_RCVTIMEO/SO_SNDTIMEO end read, readv, recv, accept and write on unix, UDP, TCP and netlink sockets with EAGAIN, and their values round-trip, as natively", async () => {
  await assertSameAsNative([await compileC("sock_timeouts")]);
});

Deno.test("ip addr show dev lo prints the loopback interface as natively (netlink route dumps)", async () => {
  await assertSameAsNative(["/usr/sbin/ip", "addr", "show", "dev", "lo"]);
});

Deno.test("python3 -m http.server serves curl inside the same sandbox", async () => {
  const script = [
    "python3 -m http.server 8765 --bind 127.0.0.1 >/dev/null 2>&1 &",
    // The server takes a moment to start; curl retries until it answers (at most ~60 s).
    "for i in $(seq 1 120); do curl -s -o /dev/null http://127.0.0.1:8765/ && break; sleep 0.5; done",
    "curl -s http://localhost:8765/tests/c/hello.c | head -3",
    "kill $!",
  ].join("\n");
  const r = await runSentry(["/bin/sh", "-c", script], { cwd: REPO_ROOT });
  const native = await Deno.readTextFile(`${REPO_ROOT}/tests/c/hello.c`);
  assert.equal(r.stdout, native.split("\n").slice(0, 3).join("\n") + "\n");
});

/** Runs ./sentry with flags before `do`, returning stdout and the status. */
async function sentryWith(flags: string[], argv: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  const out = await new Deno.Command(`${REPO_ROOT}/sentry`, {
    args: [...flags, "do", "--", ...argv],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { stdout: d.decode(out.stdout), stderr: d.decode(out.stderr), code: out.code };
}

Deno.test("with --network none an outside address is unreachable, loopback works and /proc/net/tcp lists the listener", async () => {
  const script = [
    "import socket, errno",
    "for fam, addr in ((socket.AF_INET, '192.0.2.1'), (socket.AF_INET, '10.0.2.2'), (socket.AF_INET6, '2001:db8::1')):",
    "    s = socket.socket(fam, socket.SOCK_STREAM)",
    "    try:",
    "        s.connect((addr, 80))",
    "    except OSError as e:",
    "        print(errno.errorcode[e.errno])",
    "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
    "try:",
    "    u.sendto(b'x', ('8.8.8.8', 53))",
    "except OSError as e:",
    "    print(errno.errorcode[e.errno])",
    "l = socket.create_server(('127.0.0.1', 0))",
    "c = socket.create_connection(l.getsockname())",
    "print('loopback', l.accept()[0].getpeername() == c.getsockname())",
    "print('listed in /proc/net/tcp', ('0100007F:%04X 00000000:0000 0A' % l.getsockname()[1]) in open('/proc/net/tcp').read())",
  ].join("\n");
  const r = await sentryWith(["--network", "none"], ["/usr/bin/python3", "-c", script]);
  assert.equal(r.stdout, "ENETUNREACH\nENETUNREACH\nENETUNREACH\nENETUNREACH\nloopback True\nlisted in /proc/net/tcp True\n", r.stderr);
});

Deno.test("--publish lets a host client reach a server inside the sandbox", async () => {
  // A free host port: bind to 0, note it, release it.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const hostPort = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const child = new Deno.Command(`${REPO_ROOT}/sentry`, {
    args: [
      "--publish",
      `${hostPort}:8000`,
      "do",
      "/usr/bin/python3",
      "-m",
      "http.server",
      "8000",
      "--bind",
      "127.0.0.1",
      "--directory",
      `${REPO_ROOT}/tests/c`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    let body: string | null = null;
    for (let i = 0; i < 240 && body === null; i++) {
      try {
        const res = await fetch(`http://127.0.0.1:${hostPort}/hello.c`);
        body = await res.text();
      } catch {
        await new Promise((r) => setTimeout(r, 250)); // the server is still starting
      }
    }
    assert.equal(body, await Deno.readTextFile(`${REPO_ROOT}/tests/c/hello.c`));
  } finally {
    child.kill("SIGTERM");
    await child.output();
  }
});

Deno.test("--pcap records a loopback connection's handshake as raw IP packets", async () => {
  const file = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    const script = [
      "import socket",
      "l = socket.create_server(('127.0.0.1', 0))",
      "c = socket.create_connection(l.getsockname())",
      "a = l.accept()[0]",
      "c.send(b'hi'); print(a.recv(10)); c.close(); a.close()",
    ].join("\n");
    const r = await sentryWith(["--pcap", file], ["/usr/bin/python3", "-c", script]);
    assert.equal(r.stdout, "b'hi'\n", r.stderr);
    const d = await Deno.readFile(file);
    const v = new DataView(d.buffer);
    assert.equal(v.getUint32(0, true), 0xa1b2c3d4);
    assert.equal(v.getUint32(20, true), 101); // LINKTYPE_RAW
    const flags: number[] = [];
    for (let o = 24; o < d.length;) {
      const incl = v.getUint32(o + 8, true);
      const ip = d.subarray(o + 16, o + 16 + incl);
      flags.push(ip[(ip[0]! & 0x0f) * 4 + 13]! & 0x3f);
      o += 16 + incl;
    }
    assert.deepEqual(flags.slice(0, 3), [0x02, 0x12, 0x10]); // SYN, SYN-ACK, ACK
  } finally {
    await Deno.remove(file);
  }
});

/** A TCP echo server on the host's 127.0.0.1; close() ends it and waits for its connections. */
function hostEchoServer(): { port: number; close(): Promise<void> } {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Promise<void>[] = [];
  const loop = (async () => {
    for await (const c of l) {
      conns.push(c.readable.pipeTo(c.writable).catch(() => {}));
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

Deno.test("--network sandbox: curl inside the sandbox gets a page from a server on the host's loopback (10.0.2.2)", async () => {
  const body = "hello from the host\n";
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response(body));
  try {
    const r = await sentryWith(["--network", "sandbox"], [
      "/bin/sh",
      "-c",
      `curl -sS -m 60 http://10.0.2.2:${server.addr.port}/; grep nameserver /etc/resolv.conf; ip -4 route show default`,
    ]);
    assert.equal(r.stdout, `${body}nameserver 10.0.2.3\ndefault via 10.0.2.2 dev eth0 src 10.0.2.15 \n`, r.stderr);
  } finally {
    await server.shutdown();
  }
});

Deno.test("--network sandbox: a C client moves 4 MiB through a host echo server with the checksums it gets natively", async () => {
  const server = hostEchoServer();
  try {
    const client = await compileC("net_echo_client");
    const native = await runNative([client, "127.0.0.1", String(server.port), "4"]);
    const r = await sentryWith(["--network", "sandbox"], [client, "10.0.2.2", String(server.port), "4"]);
    assert.equal(r.stdout, native.stdout, r.stderr);
    const m = /^sent 4194304 checksum (\w+)\nreceived 4194304 checksum (\w+)\n$/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.equal(m[1], m[2]);
  } finally {
    await server.close();
  }
});

Deno.test("--network sandbox with --net-allow reaches the allowed destination and gets EHOSTUNREACH elsewhere", async () => {
  const allowed = hostEchoServer(), denied = hostEchoServer();
  try {
    const client = await compileC("net_echo_client");
    const script = [
      `${client} 10.0.2.2 ${allowed.port} 1`,
      `${client} 10.0.2.2 ${denied.port} 1`,
      `${client} 192.0.2.1 80 1`,
    ].join("; ");
    const r = await sentryWith(["--network", "sandbox", "--net-allow", `10.0.2.2:${allowed.port}`], ["/bin/sh", "-c", script]);
    assert.match(r.stdout, /^sent 1048576 checksum \w+\nreceived 1048576 checksum \w+\nconnect: EHOSTUNREACH\nconnect: EHOSTUNREACH\n$/, r.stderr);
  } finally {
    await allowed.close();
    await denied.close();
  }
});

Deno.test("connect to a wildcard reaches this host: 0.0.0.0, ::ffff:0.0.0.0 (IPv4's loopback) and ::, as natively", async () => {
  await assertSameAsNative([await compileC("connect_mapped_any")]);
});

Deno.test("recvmsg(MSG_ERRQUEUE) on a blocking inet socket with an empty error queue is EAGAIN at once, as natively", async () => {
  await assertSameAsNative([await compileC("errqueue_empty")]);
});

Deno.test("an RTM_GETADDR dump asked with NLM_F_ROOT alone comes as records, then NLMSG_DONE in a second datagram, as natively", async () => {
  await assertSameAsNative([await compileC("netlink_dump_shape")]);
});

Deno.test("NETLINK_ROUTE's read-only options and answers are Linux's: SO_PASSCRED credentials, memberships (NETLINK_LIST_MEMBERSHIPS sizes), NETLINK_CAP_ACK error echoes, a non-dump RTM_GETROUTE, an RTM_GETRULE dump, as natively (tests/c/netlink_route_options.c)", async () => {
  await assertSameAsNative([await compileC("netlink_route_options")]);
});

Deno.test("nf_tables over NETLINK_NETFILTER in a network namespace of its own (unshare CLONE_NEWNET): batches and their acks, table, chain and rule dumps, the generation, errnos, an aborted batch changing nothing, a table owned by a socket going with it, expressions (nft_compat, ct, fib, nat, masq, payload, registers), binding chains, sets and maps, payload sets from a user namespace and senders without CAP_NET_ADMIN refused, as natively (tests/c/nftables.c)", async () => {
  const r = await assertSameAsNative([await compileC("nftables")]);
  assert.match(r.stdout, /rule dump: \[type 10\/6/);
  assert.match(r.stdout, /a batch without CAP_NET_ADMIN: \[seq\+\d+ Operation not permitted\]/);
});

for (
  const [mode, stdout, line] of [
    ["keep", "a table in the first namespace: [seq+0 ack] [seq+1 ack] [seq+2 ack]\n", "nf_tables holds tables (NETLINK_NETFILTER)"],
    ["netns", "unshare: 0\n", "task 1 is in a network namespace of its own"],
  ]
) {
  Deno.test(`a checkpoint refuses a sandbox where ${line}, in one line, and the sandbox goes on (tests/c/nftables.c ${mode}, sentry only)`, async () => {
    const out = await refusedOn(stdout!, [await compileC("nftables"), mode!]);
    assert.deepEqual([out.code, out.stdout, out.stderr, out.refusal], [0, stdout, "", `checkpoint: ${line}: not saved yet`]);
  });
}

Deno.test("NETLINK_ROUTE without CAP_NET_ADMIN: destinations naming groups or a port are EPERM, bad ones EINVAL, changes answered -EPERM, joining a group allowed, as natively (tests/c/netlink_route_no_net_admin.c)", async () => {
  await assertSameAsNative([await compileC("netlink_route_no_net_admin")]);
});

const ADDR_CHANGE_OUTPUT = [
  "add: 0",
  "listed with prefix 24",
  "bind 10.0.0.1: 0 errno 0, datagram to itself: 2",
  "add again: -17",
  "replace: 0",
  "exclusive: -17",
  "add to link 1234590: -19",
  "delete: 0",
  "delete again: -99",
  "listed with prefix 0",
  "bind 10.0.0.1: -1 errno 99",
  "",
].join("\n");

Deno.test("RTM_NEWADDR/RTM_DELADDR change lo's IPv4 addresses in the sandbox: EEXIST, NLM_F_REPLACE, NLM_F_EXCL, EADDRNOTAVAIL, and the stack uses the address (tests/c/netlink_route_addr_change.c, sentry only)", async () => {
  const r = await runSentry([await compileC("netlink_route_addr_change")]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.equal(r.stdout, ADDR_CHANGE_OUTPUT);
});

Deno.test("a checkpoint refuses a sandbox whose addresses were changed through rtnetlink, in one line, and the sandbox goes on", async () => {
  const out = await refusedOn("add: 0\n", [await compileC("netlink_route_addr_change"), "wait"]);
  assert.equal(out.stdout, ADDR_CHANGE_OUTPUT);
  assert.deepEqual([out.code, out.stderr, out.refusal], [0, "", "checkpoint: the network's addresses or routes were changed (rtnetlink): not saved yet"]);
});

Deno.test("RTM_NEWROUTE/RTM_DELROUTE change the sandbox's main table: EEXIST, the dump and a lookup show the route, ESRCH, ENOENT without NLM_F_CREATE, other tables EOPNOTSUPP (tests/c/netlink_route_route_change.c, sentry only)", async () => {
  const r = await runSentry([await compileC("netlink_route_route_change")]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.equal(
    r.stdout,
    [
      "add: 0",
      "add again: -17",
      "dump: 192.0.2.0/24 table 254 type 1 priority 100",
      "lookup 192.0.2.5: answered 1, through lo 1",
      "delete: 0",
      "delete again: -3",
      "dump: no 192.0.2.0/24",
      "add without NLM_F_CREATE: -2",
      "add to table 100: -95",
      "",
    ].join("\n"),
  );
});

Deno.test("RTM_NEWRULE/RTM_DELRULE add and remove a lookup rule in the sandbox: EEXIST with NLM_F_EXCL, the RTM_GETRULE dump lists it, ENOENT once removed (tests/c/netlink_route_rule_change.c, sentry only)", async () => {
  const r = await runSentry([await compileC("netlink_route_rule_change")]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "add: 0\nadd again: -17\nlisted: 1\ndelete: 0\ndelete again: -2\nlisted: 0\n");
});

Deno.test("NETLINK_ROUTE link changes in the sandbox: RTM_DELLINK of lo is EOPNOTSUPP, of an unknown name ENODEV; setting IFF_UP on lo is acked (tests/c/netlink_route_link_change.c, sentry only)", async () => {
  const r = await runSentry([await compileC("netlink_route_link_change")]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.equal(
    r.stdout,
    [
      "dellink lo by index: recv 52 type 2 flags 0 error -95 echoed len 32",
      "dellink lo by name: recv 60 type 2 flags 0 error -95 echoed len 40",
      "dellink unknown name: recv 68 type 2 flags 0 error -19 echoed len 48",
      "newlink lo up: recv 36 type 2 flags 0x100 error 0 echoed len 32",
      "newlink unknown index: recv 52 type 2 flags 0 error -19 echoed len 32",
      "",
    ].join("\n"),
  );
});

Deno.test("/proc/net is a link to self/net, and /proc/net/snmp's TCP and UDP counters move with the program's own traffic, as natively (tests/c/proc_net_snmp.c)", async () => {
  await assertSameAsNative([await compileC("proc_net_snmp")]);
});

Deno.test("/proc/sys/net/ipv4's ip_forward, tcp_sack and tcp_recovery take what root writes (sentry only: natively it would change the host)", async () => {
  const r = await runSentry(["/bin/sh", "-c",
    "for f in ip_forward tcp_sack tcp_recovery; do p=/proc/sys/net/ipv4/$f; printf '%s ' $(cat $p); echo 100 > $p; printf '%s ' $(cat $p); done; echo x > /proc/sys/net/ipv4/tcp_sack 2>/dev/null || echo refused"]);
  assert.equal(r.stdout, "0 100 1 100 1 100 refused\n", r.stderr);
});

Deno.test("/proc/sys/net/ipv4/conf/{lo,default}/tag are each network namespace's, a new one's from the first namespace's default, as Linux's devconf_inherit_init_net 0 (sentry only: natively the first namespace is the host's)", async () => {
  const t = "/proc/sys/net/ipv4/conf";
  const r = await runSentry(["/bin/sh", "-c",
    `cat ${t}/lo/tag; echo 5 > ${t}/lo/tag; echo 3 > ${t}/default/tag; cat ${t}/lo/tag; ` +
    `unshare --net sh -c 'cat ${t}/lo/tag ${t}/default/tag; echo 9 > ${t}/lo/tag'; cat ${t}/lo/tag; echo x > ${t}/lo/tag 2>/dev/null || echo refused`]);
  assert.equal(r.stdout, "0\n5\n3\n3\n5\nrefused\n", r.stderr);
});

Deno.test("legacy iptables (IPT_SO_*, IP6T_SO_*): the initial tables, revisions, a replacement with a user chain read back with comefrom and counters, its validation errnos, added counters, as natively in a new network namespace", async () => {
  const bin = await compileC("net_iptables");
  // Natively only in a network namespace of its own: it replaces tables.
  const native = await runNative(["unshare", "-n", bin]);
  assert.equal(native.code, 0, native.stderr);
  const sentry = await runSentry([bin]);
  assert.equal(sentry.stdout, native.stdout);
  assert.equal(sentry.stderr, "");
  assert.equal(sentry.code, 0);
  assert.match(sentry.stdout, /@984 src 00000000 proto 0 inv 0x0 target_offset 400 next 440 comefrom 0x2 .* match comment\/0 size 288/);
  assert.match(sentry.stdout, /replace loop: -1 ELOOP/);
  assert.match(sentry.stdout, /old counters: 1\/100 2\/200 10\/1000/);
});

Deno.test("a checkpoint refuses a sandbox whose iptables were replaced, in one line, and the sandbox goes on", async () => {
  const out = await refusedOn("holding\n", [await compileC("net_iptables"), "wait"]);
  assert.match(out.stdout, /replace6 filter: 0 0\n[^]*holding\n$/);
  assert.deepEqual(
    [out.code, out.stderr, out.refusal],
    [0, "", "checkpoint: the iptables tables were replaced or counted (IPT_SO_SET_REPLACE): not saved yet"],
  );
});

Deno.test("int IPPROTO_IP options read with a short optlen come back as one byte, IP_HDRINCL reads 0 on any socket, as natively", async () => {
  const r = await assertSameAsNative([await compileC("net_ip_optlen")]);
  assert.match(r.stdout, /type 2 opt 1: \[0: len 0 eeeeeeeeee\] \[1: len 1 c0eeeeeeee\] \[2: len 1 c0eeeeeeee\]/);
});

Deno.test("socket filters (SO_ATTACH_FILTER): bpf_check_classic's refusals, SO_GET_FILTER, SO_LOCK_FILTER, and programs dropping, cutting and reading the network header of UDP datagrams over IPv4 and IPv6, as natively", async () => {
  const r = await assertSameAsNative([await compileC("net_sockfilter")]);
  assert.match(r.stdout, /no-x: \[3 'abc'\] \[end 120\]/);
  assert.match(r.stdout, /cut: \[3 'hel'\] \[end 3\]/);
  assert.match(r.stdout, /port\+src: \[5 'ports'\]/);
  assert.match(r.stdout, /attach unset on a path: -1 errno 22/);
});

Deno.test("a checkpoint refuses a sandbox holding a socket with a filter, in one line, and the sandbox goes on", async () => {
  const out = await refusedOn("attach: 0\n", [await compileC("net_sockfilter"), "hold"]);
  assert.deepEqual(
    [out.code, out.stdout, out.stderr, out.refusal],
    [0, "attach: 0\n", "", "checkpoint: a socket with a filter (SO_ATTACH_FILTER or SO_LOCK_FILTER): not saved yet"],
  );
});

Deno.test("lo's addresses: a loopback subnet is local, no 127.0.0.1/8 is ENETUNREACH, IPv6 RTM_NEWADDR/RTM_DELADDR and no ::1 is EADDRNOTAVAIL, as natively in a new network namespace", async () => {
  const bin = await compileC("netlink_route_lo_local");
  // Natively only in a network namespace of its own: it removes lo's addresses.
  const native = await runNative(["unshare", "-n", "sh", "-c", `ip link set lo up && exec ${bin}`]);
  assert.equal(native.code, 0, native.stderr);
  const sentry = await runSentry([bin]);
  assert.equal(sentry.stdout, native.stdout);
  assert.equal(sentry.code, 0);
  assert.match(sentry.stdout, /received 6 from 192\.0\.2\.2/);
  assert.match(sentry.stdout, /connect tcp 127\.0\.0\.1: -1 errno 101/);
  assert.match(sentry.stdout, /connect tcp ::1: -1 errno 99/);
});

Deno.test("NETLINK_KOBJECT_UEVENT sockets: group 1, a uevent sent with CAP_SYS_ADMIN acked and rebroadcast with its SEQNUM to members whose filter lets it through, as natively in a new network namespace", async () => {
  const bin = await compileC("netlink_uevent");
  // Natively only in a network namespace of its own: the uevent goes to that namespace's members.
  const native = await runNative(["unshare", "-n", bin]);
  assert.equal(native.code, 0, native.stderr);
  const sentry = await runSentry([bin]);
  assert.equal(sentry.stdout, native.stdout);
  assert.equal(sentry.code, 0);
  assert.match(sentry.stdout, /d \(group 1\): 'add@\/devices\/x' then seqnum 1, from pid 0 groups 1/);
  assert.match(sentry.stdout, /c \(filter drops\): nothing/);
});

Deno.test("PACKET_RX_RING (TPACKET_V1) on lo: the request's checks, mmap of the ring, a frame in its slot with tpacket_hdr and sockaddr_ll, the ring filling up and a slot given back, as natively in a new network namespace", async () => {
  const bin = await compileC("net_packet_ring");
  // Natively only in a network namespace of its own: a packet socket on the host's lo sees its traffic.
  const native = await runNative(["unshare", "-n", "sh", "-c", `ip link set lo up && ${bin} && exec ${bin} raw`]);
  assert.equal(native.code, 0, native.stderr);
  const sentry = await runSentry(["sh", "-c", `${bin} && exec ${bin} raw`]);
  assert.equal(sentry.stdout, native.stdout);
  assert.equal(sentry.code, 0);
  assert.match(sentry.stdout, /status 1 len 6 snaplen 6 mac 80 net 80 data '123abc' sll family 17 proto 0800 ifindex 1 hatype 772/);
  assert.match(sentry.stdout, /mac header as sent 1/);
  assert.match(sentry.stdout, /stats packets 65 drops 1/);
});

Deno.test("PACKET_RX_RING with TPACKET_V3 on lo: the request's checks (LTP setsockopt02, setsockopt09), blocks filled packet after packet, closed when full and by the retire timer (TP_STATUS_BLK_TMO), readable only then, the queue frozen while the program holds every block (drops, tp_freeze_q_cnt) and thawed by a block given back, as natively in a new network namespace (tests/c/net_packet_ring_v3.c)", async () => {
  const bin = await compileC("net_packet_ring_v3");
  // Natively only in a network namespace of its own: a packet socket on the host's lo sees its traffic.
  const native = await runNative(["unshare", "-n", "sh", "-c", `ip link set lo up && ${bin} && exec ${bin} raw`]);
  assert.equal(native.code, 0, native.stderr);
  const sentry = await runSentry(["sh", "-c", `${bin} && exec ${bin} raw`]);
  assert.equal(sentry.stdout, native.stdout);
  assert.equal(sentry.code, 0);
  assert.match(sentry.stdout, /retired: block 0 version 2 priv at 48 status 0x21 pkts 1/);
  assert.match(sentry.stdout, /stats len 12 packets 40 drops 12 freezes 1/);
});

Deno.test("PACKET_VNET_HDR and PACKET_VNET_HDR_SZ on lo: the options' checks, frames sent and received with a virtio_net_hdr (bad headers EINVAL, a buffer too small for it EINVAL with the frame gone, its size in recv's count), and a ring whose reserve puts the frame past 64 KiB with the header dropping it (LTP sendto03), as natively in a new network namespace (tests/c/net_packet_vnet.c)", async () => {
  const bin = await compileC("net_packet_vnet");
  const native = await runNative(["unshare", "-n", "sh", "-c", `ip link set lo up && exec ${bin}`]);
  assert.equal(native.code, 0, native.stderr);
  const sentry = await runSentry([bin]);
  assert.equal(sentry.stdout, native.stdout);
  assert.equal(sentry.code, 0);
  assert.match(sentry.stdout, /recv: 58, header 00 00 00 00 00 00 00 00 00 00, data 'vnet!!'/);
  assert.match(sentry.stdout, /ring stats: packets 2 drops 2/);
});

Deno.test("SOL_SOCKET options are one layer under every family: Unix, netlink, packet, raw, UDP, TCP and UDPv6 sockets answer SO_MARK, SO_PRIORITY, the buffers, SO_RCVLOWAT, SO_LINGER, SO_TIMESTAMP*, SO_BINDTODEVICE, SO_REUSEPORT, SO_PASSCRED, SO_PEERCRED... as natively (tests/c/sock_common_options.c)", async () => {
  await assertSameAsNative([await compileC("sock_common_options")]);
});

Deno.test("SIOCSIFMTU sets lo's MTU in a new network namespace (reads back; negative EINVAL, unknown link ENODEV), as natively (tests/c/siocsifmtu.c)", async () => {
  await assertSameAsNative([await compileC("siocsifmtu")]);
});

Deno.test("UDP-Lite (IPPROTO_UDPLITE) over IPv4 and IPv6: its own port space beside UDP's, datagrams, SOL_UDPLITE's coverage options clamped (ENOPROTOOPT on UDP), the coverage field and checksum a raw socket sees, the receiver's minimum coverage and a connected socket's ECONNREFUSED, as natively (tests/c/udplite.c)", async () => {
  await assertSameAsNative([await compileC("udplite")]);
  const out = await refusedOn("bound: 0\n", [await compileC("udplite"), "wait"]);
  assert.deepEqual([out.code, out.stdout, out.stderr, out.refusal], [0, "bound: 0\n", "", "checkpoint: a UDP-Lite socket (IPPROTO_UDPLITE): not saved yet"]);
});
