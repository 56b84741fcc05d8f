/**
 * Loopback TCP throughput of the socket layer and netstack together, without ptrace: what the
 * sentry's JavaScript thread does per 64 KiB write and read of issue #6's benchmark, minus the
 * stops and the host copies. A `Net` (kernel/net.ts, kicks and watchers included) and two
 * connected `TcpSocketFile`s on 127.0.0.1; a writer task writes MiB in 64 KiB `sendVia` calls
 * and a reader task reads 64 KiB `recvVia` calls, taking turns as two stubs would. A task that
 * would block waits until its socket's events allow it, as `block()` does. The fill and take
 * callbacks copy from and into a 64 KiB array, standing in for process_vm_readv/writev.
 *
 *     deno run -A bench/net_socket_loopback.ts [--mib 256] [--runs 5] [--no-copy]
 *
 * With --no-copy the fill and take callbacks report their lengths without copying, leaving
 * the socket layer and the stack alone (the send-queue to receive-queue copy included).
 *
 * Prints MB/s (10^6 bytes/s) of wall time, the median and best of --runs, and the process's CPU
 * time per 64 KiB moved (all threads, the garbage collector's included). The machine's load
 * moves these numbers by 2-3x: compare runs made side by side, and the best more than the
 * median. With SENTRY_CPU_PROF=FILE it writes a CPU profile (see boot/cpu_profile.ts).
 *
 * @module
 */

import { parseArgs } from "node:util";
import process from "node:process";
import { Net } from "../kernel/net.ts";
import type { Task } from "../kernel/task.ts";
import { EAGAIN } from "../kernel/errno.ts";
import { EVENT_IN, EVENT_OUT } from "../waiter/mod.ts";
import { O_NONBLOCK } from "../abi/linux/file.ts";
import * as C from "../kernel/socket/inet/constants.ts";
import { createInetSocket, type TcpSocketFile } from "../kernel/socket/inet/mod.ts";
import { formatSockaddr } from "../kernel/socket/inet/sockaddr.ts";
import { Ipv4Address } from "../netstack/mod.ts";
import { startCpuProfile } from "../boot/cpu_profile.ts";

const t = {} as Task;
const CHUNK = 65536;

function tcp(net: Net, flags = 0): TcpSocketFile {
  return createInetSocket(net, C.AF_INET, C.SOCK_STREAM, 0, flags) as TcpSocketFile;
}

/** One run: [MB/s of wall time, MB/s of the process's CPU time (all threads)]. */
function once(mib: number, copy: boolean): [number, number] {
  const net = new Net({ seed: 1 });
  const lo = Ipv4Address.parse("127.0.0.1");
  const server = tcp(net);
  server.bind(t, formatSockaddr(C.AF_INET, lo, 0));
  server.listen(t, 1);
  const port = (() => {
    const b = server.getsockname(t);
    return (b[2]! << 8) | b[3]!;
  })();
  const client = tcp(net, O_NONBLOCK);
  try {
    client.connect(t, formatSockaddr(C.AF_INET, lo, port));
  } catch { /* EINPROGRESS */ }
  const s = server.accept(t, 0) as TcpSocketFile;
  const one = new Uint8Array([1, 0, 0, 0]);
  s.setsockopt(t, C.IPPROTO_TCP, C.TCP_NODELAY, one);
  client.setsockopt(t, C.IPPROTO_TCP, C.TCP_NODELAY, one);

  const src = new Uint8Array(CHUNK).fill(0x78);
  const dst = new Uint8Array(CHUNK);
  // Progress of the writer's current write(2), as t.syscallState would hold it.
  let wpos = 0;
  const fill = (d: Uint8Array) => {
    if (copy) d.set(src.subarray(wpos, wpos + d.length));
    wpos += d.length;
    return d.length;
  };
  const take = (v: Uint8Array) => {
    if (copy) dst.set(v);
    return v.length;
  };
  const total = mib << 20;
  let sent = 0, got = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  // The writer starts first, as after the benchmark's fork, and fills both queues; it runs
  // ahead of the reader by that much from then on, as in the sentry.
  let head = true;
  while (got < total) {
    // The writer: one write(2), or its retry once the socket polls writable.
    while (sent < total && (client.events() & EVENT_OUT) !== 0) {
      for (;;) {
        try {
          const n = client.sendVia(t, CHUNK - wpos, 0, fill);
          sent += n;
          if (wpos === CHUNK) {
            wpos = 0;
            break;
          }
        } catch (e) {
          if (e !== EAGAIN) throw e;
          head = false;
          break; // blocks with its progress kept
        }
      }
      if (!head) break;
    }
    // The reader: one read(2) if the socket polls readable.
    if ((s.events() & EVENT_IN) !== 0) {
      const n = s.recvVia(t, CHUNK, 0, take);
      got += n;
    }
  }
  const dt = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const ct = (c.user + c.system) / 1e6;
  if (Deno.env.get("NET_BENCH_COUNTS")) {
    console.error(`segments per 64 KiB: ${(net.stack.stats.localSegments / (total / CHUNK)).toFixed(2)}`);
  }
  client.decRef();
  s.decRef();
  server.decRef();
  return [total / dt / 1e6, total / ct / 1e6];
}

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    mib: { type: "string", default: "256" },
    runs: { type: "string", default: "5" },
    "no-copy": { type: "boolean", default: false },
  },
});
const prof = await startCpuProfile(); // SENTRY_CPU_PROF=FILE
const wall: number[] = [], cpu: number[] = [];
for (let i = 0; i < Number(args.runs); i++) {
  const [w, c] = once(Number(args.mib), !args["no-copy"]);
  wall.push(w);
  cpu.push(c);
}
await prof?.stop();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const show = (xs: number[]) => xs.map((r) => r.toFixed(0)).join(", ");
const best = (xs: number[]) => Math.max(...xs);
console.log(
  `socket+netstack loopback TCP: ${median(wall).toFixed(0)} MB/s wall, best ${best(wall).toFixed(0)} (runs: ${show(wall)}); ` +
    `µs of CPU per 64 KiB: median ${(CHUNK / median(cpu)).toFixed(1)}, best ${(CHUNK / best(cpu)).toFixed(1)}`,
);
