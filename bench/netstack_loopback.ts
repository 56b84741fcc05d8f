/**
 * In-process loopback TCP throughput of netstack alone (no syscalls): one Stack configured as
 * kernel/net.ts configures it, a client and a server connection on 127.0.0.1, the client sending
 * MiB in 64 KiB writes and the server reading 64 KiB at a time, polling until quiet after each
 * call as Net.kick does. Prints MB/s (10^6 bytes/s), the median of --runs.
 *
 *     deno run -A bench/netstack_loopback.ts [--mib 256] [--runs 5]
 *
 * With SENTRY_CPU_PROF=FILE it writes a CPU profile (see boot/cpu_profile.ts).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Ipv4Address, Loopback, Stack } from "../netstack/mod.ts";
import { startCpuProfile } from "../boot/cpu_profile.ts";

function once(mib: number): number {
  const stack = new Stack({ seed: 1, tcp: { rxBufferSize: 1 << 20, txBufferSize: 1 << 20 } });
  stack.addInterface({ device: new Loopback({ medium: "ip", mtu: 65536 }), addresses: ["127.0.0.1/8", "::1/128"] });
  let now = 0;
  const settle = () => {
    for (let i = 0; i < 10_000 && stack.poll(now); i++) { /* until quiet */ }
  };
  const lo = Ipv4Address.parse("127.0.0.1");
  const l = stack.tcpSocket();
  l.bind(lo, 5000);
  l.listen(4);
  const c = stack.tcpSocket();
  c.noDelay = true;
  c.connect(now, { addr: lo, port: 5000 });
  settle();
  const s = l.accept()!;
  s.noDelay = true;
  const chunk = new Uint8Array(65536).fill(0x78);
  const rbuf = new Uint8Array(65536);
  const total = mib << 20;
  let sent = 0, got = 0;
  const t0 = performance.now();
  while (got < total) {
    if (sent < total) {
      const n = c.send(chunk.subarray(0, Math.min(chunk.length, total - sent)));
      if (n !== null) sent += n;
      settle();
    }
    for (;;) {
      const n = s.recv(rbuf);
      if (n === null || n === 0) break;
      got += n;
      settle();
    }
    now += 0.01;
  }
  const dt = (performance.now() - t0) / 1000;
  return total / dt / 1e6;
}

const { values: args } = parseArgs({
  args: Deno.args,
  options: { mib: { type: "string", default: "256" }, runs: { type: "string", default: "5" } },
});
const prof = await startCpuProfile(); // SENTRY_CPU_PROF=FILE
const rs: number[] = [];
for (let i = 0; i < Number(args.runs); i++) rs.push(once(Number(args.mib)));
await prof?.stop();
rs.sort((a, b) => a - b);
console.log(`netstack loopback TCP: ${rs[rs.length >> 1]!.toFixed(0)} MB/s (runs: ${rs.map((r) => r.toFixed(0)).join(", ")})`);
