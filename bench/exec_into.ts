/**
 * Issue #12's exec benchmark: the wall time of `sentry exec ID -- /bin/true` into a running
 * sandbox, beside a fresh `sentry do -- /bin/true` and, when runsc is installed, `runsc exec`
 * into a running runsc container, in one run, runners interleaved (shared/MEASUREMENTS.md).
 * Target: exec at most half of a fresh `do`.
 *
 *     deno run -A bench/exec_into.ts [--runs N]      (also: deno task bench --workloads execinto)
 *
 * Not a test: its numbers depend on the machine's load.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import * as posix from "node:path/posix";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const SENTRY = posix.join(REPO, "sentry");

/**
 * The wall time of one command. detaches: it leaves a process holding its stdio (run -d), so
 * its stderr cannot be a pipe read to its end.
 */
async function wallMs(cmd: string, args: string[], detaches = false): Promise<number> {
  const t0 = performance.now();
  const o = await new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: detaches ? "null" : "piped" }).output();
  const ms = performance.now() - t0;
  if (!o.success) {
    throw new Error(`${cmd} ${args.join(" ")}: status ${o.code}${detaches ? "" : `: ${new TextDecoder().decode(o.stderr)}`}`);
  }
  return ms;
}

function which(name: string): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch {
      // not there
    }
  }
  return null;
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const med = s[Math.floor(s.length / 2)]!;
  return `${med.toFixed(1)} ms (min ${s[0]!.toFixed(1)}, max ${s[s.length - 1]!.toFixed(1)})`;
}

/** Runs the benchmark; returns rows of [name, median ms text]. */
export async function execIntoRows(runs: number): Promise<Array<[string, string]>> {
  const dir = await Deno.makeTempDir({ prefix: "sentry-bench-exec-" });
  const root = `${dir}/root`;
  const bundle = `${dir}/bundle`;
  Deno.mkdirSync(bundle);
  Deno.writeTextFileSync(`${bundle}/config.json`, JSON.stringify({
    ociVersion: "1.0.2",
    process: { args: ["/bin/sh", "-c", "while :; do sleep 1; done"], env: ["PATH=/usr/bin:/bin"], cwd: "/" },
    root: { path: "/", readonly: true },
  }));
  const runsc = which("runsc");
  const runscRoot = `${dir}/runsc-root`;
  const samples: Record<string, number[]> = { "sentry exec": [], "sentry do": [] };
  try {
    await wallMs(SENTRY, ["--root", root, "run", "-d", "--bundle", bundle, "bench"], true);
    if (runsc !== null) {
      samples["runsc exec"] = [];
      await wallMs(runsc, ["--root", runscRoot, "--network=none", "run", "--detach", "--bundle", bundle, "bench"], true);
    }
    for (let i = 0; i < runs; i++) {
      samples["sentry exec"]!.push(await wallMs(SENTRY, ["--root", root, "exec", "bench", "--", "/bin/true"]));
      samples["sentry do"]!.push(await wallMs(SENTRY, ["do", "--", "/bin/true"]));
      if (runsc !== null) samples["runsc exec"]!.push(await wallMs(runsc, ["--root", runscRoot, "exec", "bench", "/bin/true"]));
    }
  } finally {
    await new Deno.Command(SENTRY, { args: ["--root", root, "delete", "--force", "bench"], stderr: "null" }).output();
    if (runsc !== null) {
      await new Deno.Command(runsc, { args: ["--root", runscRoot, "delete", "--force", "bench"], stderr: "null" }).output();
    }
    Deno.removeSync(dir, { recursive: true });
  }
  const rows: Array<[string, string]> = Object.entries(samples).map(([k, v]) => [k, stats(v)]);
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  rows.push(["exec / do", (med(samples["sentry exec"]!) / med(samples["sentry do"]!)).toFixed(2)]);
  return rows;
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { runs: { type: "string", default: "10" } } });
  for (const [k, v] of await execIntoRows(Number(values.runs))) console.log(`${k.padEnd(14)} ${v}`);
}
