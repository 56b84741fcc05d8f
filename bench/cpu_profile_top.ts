/**
 * Summarises a `.cpuprofile` (from SENTRY_CPU_PROF, see boot/cpu_profile.ts): the functions
 * with the most self time, and with the most total time (self plus callees, each function
 * counted once per sample even when recursive).
 *
 *     deno run -A bench/cpu_profile_top.ts FILE [--top N] [--per N]
 *
 * --per N divides the times by N (e.g. the iterations of a loop) and prints µs per unit.
 *
 * @module
 */

import { parseArgs } from "node:util";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: { top: { type: "string", default: "40" }, per: { type: "string", default: "1" } },
  allowPositionals: true,
});
const file = positionals[0];
if (!file) {
  console.error("usage: cpu_profile_top.ts FILE [--top N] [--per N]");
  Deno.exit(2);
}
const top = Number(values.top), per = Number(values.per);
const prof = JSON.parse(Deno.readTextFileSync(file)) as Profile;

const byId = new Map<number, Node>();
const parent = new Map<number, number>();
for (const n of prof.nodes) {
  byId.set(n.id, n);
  for (const c of n.children ?? []) parent.set(c, n.id);
}
const name = (n: Node) => {
  const f = n.callFrame;
  const where = f.url ? `${f.url.replace(/^file:\/\/.*?\/(kernel|platform|vfs|boot|waiter|netstack|abi)\//, "$1/")}:${f.lineNumber + 1}` : "";
  return `${f.functionName || "(anonymous)"} ${where}`.trim();
};

const self = new Map<string, number>(), total = new Map<string, number>();
let sum = 0;
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i + 1] ?? 0; // a sample's time is the gap to the next one
  sum += dt;
  let id: number | undefined = prof.samples[i]!;
  const leaf = byId.get(id)!;
  self.set(name(leaf), (self.get(name(leaf)) ?? 0) + dt);
  const seen = new Set<string>();
  while (id !== undefined) {
    const k = name(byId.get(id)!);
    if (!seen.has(k)) {
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + dt);
    }
    id = parent.get(id);
  }
}
const fmt = (us: number) => per === 1 ? `${(us / 1000).toFixed(1)} ms` : `${(us / per).toFixed(2)} µs`;
const print = (title: string, m: Map<string, number>) => {
  console.log(`${title} (of ${fmt(sum)})`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${fmt(v).padStart(12)} ${(100 * v / sum).toFixed(1).padStart(5)}%  ${k}`);
  }
};
print("self", self);
console.log();
print("total", total);
