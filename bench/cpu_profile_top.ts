/**
 * Summarises a `.cpuprofile` (from SENTRY_CPU_PROF, see boot/cpu_profile.ts): the functions
 * with the most self time, and with the most total time (self plus callees, each function
 * counted once per sample even when recursive).
 *
 *     deno run -A bench/cpu_profile_top.ts FILE [--top N] [--per N]
 *
 * --per N divides the times by N (e.g. the iterations of a loop) and prints µs per unit.
 * Functions of the minified bundle `./sentry` runs are named as in the sources, from the source
 * maps beside the bundle's files (bench/source_map.ts).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { SourceMap } from "./source_map.ts";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
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
const short = (path: string) => path.replace(/^(file:\/\/)?.*?\/(kernel|platform|vfs|boot|waiter|netstack|abi|main\.ts)/, "$2");
const name = (n: Node) => {
  const f = n.callFrame;
  // The minified bundle's functions by their names in the sources (bench/source_map.ts); a
  // bundle file's top level holds many modules' top levels.
  const map = SourceMap.forUrl(f.url);
  if (map && !f.functionName && f.lineNumber === 0 && (f.columnNumber ?? 0) === 0) return `(top level) ${f.url.split("/").at(-1)}`;
  const orig = map?.lookup(f.lineNumber, f.columnNumber ?? 0);
  if (orig) return `${orig.name ?? (f.functionName || "(anonymous)")} ${short(orig.source)}:${orig.line + 1}`;
  const where = f.url ? `${short(f.url)}:${f.lineNumber + 1}` : "";
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
