/**
 * Issue #13's checkpoint benchmark: for an idle shell (`sh -c 'sleep 1000'`) and a process with
 * 100 MiB resident (bench/programs/ckpt_heap.c), the wall time of `checkpoint --image-path DIR
 * ID` (which ends the container), the image's size, and the wall time of `restore -d
 * --image-path DIR --bundle B ID2` (it returns once the restored sandbox is registered and
 * about to run: the restore's time to its first instruction, give or take the holder's start),
 * beside a fresh `run -d` of the same bundle; for the sentry also, in the foreground, each until
 * its state.json says running (the time to the first instruction, polled every millisecond):
 * `do` of the same command beside `restore IMAGE` without a bundle (both on the host's root as
 * `do` makes it, no config.json read), and `run --bundle B` beside `restore --bundle B` (both
 * reading and validating the bundle's config.json); the sentry and, when installed, runsc
 * (`--platform=ptrace --network=none`), runners interleaved in one run (shared/MEASUREMENTS.md).
 * Targets: each within 2x of runsc, and the idle shell's restore faster than a fresh start.
 *
 *     deno run -A bench/checkpoint.ts [--runs N] [--baseline DIR]   (also: deno task bench --workloads checkpoint)
 *
 * `--baseline DIR` adds the sentry of another checkout (DIR/sentry, e.g. `git archive` of an
 * older commit with node_modules linked in) as a runtime "sentry@base", interleaved with the
 * others: a change's before and after measured side by side in one run.
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

/** The wall time of one command, its stdio discarded (a detached holder keeps what it inherits). */
async function wallMs(cmd: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  const o = await new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "null" }).output();
  const ms = performance.now() - t0;
  if (!o.success) throw new Error(`${cmd} ${args.join(" ")}: status ${o.code}`);
  return ms;
}

/**
 * The wall time from starting a foreground command until the container `id` it holds is
 * registered as running under root (its state.json, polled every millisecond): for `do` and a
 * foreground `restore`, the time to the first instruction, as `run -d` and `restore -d` return
 * then. The command is left running (the caller deletes the container and awaits it).
 */
async function untilRunning(cmd: string, args: string[], root: string, id: string): Promise<{ ms: number; child: Deno.ChildProcess }> {
  const t0 = performance.now();
  const child = new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "null" }).spawn();
  let ended = false;
  void child.status.then(() => ended = true);
  for (;;) {
    try {
      if ((JSON.parse(Deno.readTextFileSync(`${root}/${id}/state.json`)) as { status?: string }).status === "running") break;
    } catch { /* not yet */ }
    if (ended) throw new Error(`${cmd} ${args.join(" ")}: ended before it ran`);
    await new Promise((r) => setTimeout(r, 1));
  }
  return { ms: performance.now() - t0, child };
}

async function quiet(cmd: string, args: string[]): Promise<void> {
  await new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "null" }).output();
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

/** Bytes of the files under dir. */
function sizeOf(dir: string): number {
  let n = 0;
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    n += e.isDirectory ? sizeOf(p) : Deno.statSync(p).size;
  }
  return n;
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function stats(xs: number[], unit: string, digits: number): string {
  const s = [...xs].sort((a, b) => a - b);
  return `${med(s).toFixed(digits)} ${unit} (min ${s[0]!.toFixed(digits)}, max ${s[s.length - 1]!.toFixed(digits)})`;
}

interface Runtime {
  name: string;
  /** argv before the command, with the state root. */
  argv: (root: string) => [string, string[]];
  checkpoint: (dir: string, id: string) => string[];
  restore: (dir: string, bundle: string, id: string) => string[];
  run: (bundle: string, id: string) => string[];
  /**
   * In the foreground, for the sentry: `do` of the same command and a restore without a bundle,
   * `run` and a restore of the same bundle.
   */
  foreground?: {
    start: (args: string[], id: string) => string[];
    restore: (dir: string, bundle: string, id: string) => string[];
    run: (bundle: string, id: string) => string[];
    bareRestore: (dir: string, id: string) => string[];
  };
}

/** Runs the benchmark; returns rows of [case, figures]. */
export async function checkpointRows(runs: number, baseline: string | null = null): Promise<Array<[string, string]>> {
  const dir = await Deno.makeTempDir({ prefix: "sentry-bench-ckpt-" });
  const heap = `${dir}/ckpt_heap`;
  const cc = await new Deno.Command("gcc", { args: ["-O2", "-static", "-o", heap, posix.join(REPO, "bench", "programs", "ckpt_heap.c")] }).output();
  if (!cc.success) throw new Error(`gcc: ${new TextDecoder().decode(cc.stderr)}`);
  const cases: Array<[string, string[]]> = [["idle shell", ["/bin/sh", "-c", "sleep 1000"]], ["100 MiB resident", [heap]]];
  const runtimes: Runtime[] = [{
    name: "sentry",
    argv: (root) => [SENTRY, ["--root", root]],
    checkpoint: (d, id) => ["checkpoint", "--image-path", d, id],
    restore: (d, b, id) => ["restore", "-d", "--image-path", d, "--bundle", b, id],
    run: (b, id) => ["run", "-d", "--bundle", b, id],
    foreground: {
      start: (args, id) => ["do", "--id", id, "--", ...args],
      restore: (d, b, id) => ["restore", "--image-path", d, "--bundle", b, id],
      run: (b, id) => ["run", "--bundle", b, id],
      bareRestore: (d, id) => ["restore", "--id", id, `${d}/checkpoint.cbor`],
    },
  }];
  if (baseline !== null) {
    const base = posix.join(baseline, "sentry");
    runtimes.push({ ...runtimes[0]!, name: "sentry@base", argv: (root) => [base, ["--root", root]] });
  }
  const runsc = which("runsc");
  if (runsc !== null) {
    runtimes.push({
      name: "runsc",
      argv: (root) => [runsc, ["--root", root, "--platform=ptrace", "--network=none"]],
      checkpoint: (d, id) => ["checkpoint", "--image-path", d, id],
      restore: (d, b, id) => ["restore", "-detach", "--image-path", d, "--bundle", b, id],
      run: (b, id) => ["run", "-detach", "--bundle", b, id],
    });
  }
  const rows: Array<[string, string]> = [];
  try {
    for (const [what, args] of cases) {
      const bundle = `${dir}/bundle-${what.replace(/\W+/g, "-")}`;
      Deno.mkdirSync(bundle);
      Deno.writeTextFileSync(`${bundle}/config.json`, JSON.stringify({
        ociVersion: "1.0.2",
        process: { args, env: ["PATH=/usr/bin:/bin"], cwd: "/" },
        root: { path: "/", readonly: true },
      }));
      const samples = new Map<string, {
        start: number[]; checkpoint: number[]; restore: number[]; image: number[];
        doStart: number[]; bareRestore: number[]; fgRun: number[]; fgRestore: number[];
      }>();
      for (const rt of runtimes) {
        samples.set(rt.name, { start: [], checkpoint: [], restore: [], image: [], doStart: [], bareRestore: [], fgRun: [], fgRestore: [] });
      }
      for (let i = 0; i < runs; i++) {
        // The order rotates each round: whoever runs right after the previous round deleted a
        // 105 MB image pays for the host's reclaim (it biased the 100 MiB figures by 100+ ms).
        for (let j = 0; j < runtimes.length; j++) {
          const rt = runtimes[(i + j) % runtimes.length]!;
          const root = `${dir}/${rt.name}-root`;
          const [cmd, pre] = rt.argv(root);
          const img = `${dir}/${rt.name}-image-${i}`;
          const s = samples.get(rt.name)!;
          try {
            s.start.push(await wallMs(cmd, [...pre, ...rt.run(bundle, "a")]));
            // The heap is written before the checkpoint: give the program its time.
            await new Promise((r) => setTimeout(r, 1500));
            s.checkpoint.push(await wallMs(cmd, [...pre, ...rt.checkpoint(img, "a")]));
            s.image.push(sizeOf(img) / 1e6);
            s.restore.push(await wallMs(cmd, [...pre, ...rt.restore(img, bundle, "b")]));
            if (rt.foreground !== undefined) {
              // The same, in the foreground: `do` of the command and `restore` of the image on
              // the host's root; `run` of the bundle and `restore` of the image with it.
              for (const [list, argv, id] of [
                [s.doStart, rt.foreground.start(args, "c"), "c"],
                [s.bareRestore, rt.foreground.bareRestore(img, "d"), "d"],
                [s.fgRun, rt.foreground.run(bundle, "e"), "e"],
                [s.fgRestore, rt.foreground.restore(img, bundle, "f"), "f"],
              ] as const) {
                const { ms, child } = await untilRunning(cmd, [...pre, ...argv], root, id);
                list.push(ms);
                await quiet(cmd, [...pre, "delete", "--force", id]);
                await child.status;
              }
            }
          } finally {
            for (const id of ["a", "b", "c", "d", "e", "f"]) await quiet(cmd, [...pre, "delete", "--force", id]);
            Deno.removeSync(img, { recursive: true });
          }
        }
      }
      for (const [name, s] of samples) {
        if (s.restore.length === 0) continue;
        rows.push([`${what}, ${name}: start (run -d)`, stats(s.start, "ms", 0)]);
        rows.push([`${what}, ${name}: checkpoint`, stats(s.checkpoint, "ms", 0)]);
        rows.push([`${what}, ${name}: restore (-d)`, stats(s.restore, "ms", 0)]);
        rows.push([`${what}, ${name}: image`, stats(s.image, "MB", 2)]);
        if (s.doStart.length > 0) {
          rows.push([`${what}, ${name}: start (do, to running)`, stats(s.doStart, "ms", 0)]);
          rows.push([`${what}, ${name}: restore (foreground, no bundle, to running)`, stats(s.bareRestore, "ms", 0)]);
          rows.push([`${what}, ${name}: start (run --bundle, to running)`, stats(s.fgRun, "ms", 0)]);
          rows.push([`${what}, ${name}: restore (foreground, --bundle, to running)`, stats(s.fgRestore, "ms", 0)]);
        }
      }
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  return rows;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { runs: { type: "string", default: "3" }, baseline: { type: "string" } },
  });
  for (const [k, v] of await checkpointRows(Number(values.runs), values.baseline ?? null)) console.log(`${k.padEnd(64)} ${v}`);
}
