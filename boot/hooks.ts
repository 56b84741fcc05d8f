/**
 * OCI lifecycle hooks (config.json's `hooks`), run on the host as runc runs them: each hook's
 * `path` with its `args` (args[0] is the program's name; the path is what runs), exactly its
 * `env`, the container's state JSON on its stdin, and its `timeout` in seconds (killed then).
 *
 * Where each runs, as runc (libcontainer) and runsc (runsc/container) run them: every hook is
 * a host program that runs with the runtime's privileges in the runtime's namespaces, never
 * under the sentry's own confinement (docs/confinement.md: its namespaces, few capabilities,
 * no_new_privs, seccomp filter), which the sentry takes on once the sandbox runs.
 * - `prestart`, then `createRuntime`: by the sentry that assembles the sandbox, before it
 *   confines itself and before `create` returns; a failure ends the container with one line,
 *   as runc's create fails.
 * - `createContainer`, `startContainer`: the spec runs them in the container's namespaces,
 *   which for a sandbox hold no host program (the sandbox's processes are the sentry's, not the
 *   host's), and runsc skips them with a warning; so does the sentry (never inside the
 *   sandbox: a host binary run there would see the sandbox's root, not its own).
 * - `poststart`: once init runs, by the command that started it, as runc's `start` (and
 *   `run`) runs it: `sentry start`, `sentry run -d`'s command, or, for a foreground `run`, a
 *   hook runner the sentry started before confining itself (below).
 * - `poststop`: once the container is deleted: by `sentry delete` for a detached container, by
 *   the foreground `run`'s hook runner otherwise.
 * Failures of poststart and poststop are warnings, as the spec asks.
 *
 * The hook runner (runHookRunner): a foreground `run` holds its sandbox in the same process
 * that confines itself, so before it does, it starts this sentry again as a runner that knows
 * the config's poststart and poststop hooks and runs a kind of them when asked on its stdin
 * (one JSON line: the kind and the state), answering with the warnings. It can run nothing
 * else, and ends with the sentry (its stdin closes).
 *
 * @module
 */

import type { DebugLog } from "../kernel/log.ts";
import { BootError } from "./errors.ts";
import { quote } from "./flags.ts";

/** One hook, as config.json gives it. */
export interface Hook {
  path: string;
  args?: string[] | undefined;
  env?: string[] | undefined;
  timeout?: number | undefined;
}

/** config.json's hooks. */
export interface Hooks {
  prestart?: Hook[] | undefined;
  createRuntime?: Hook[] | undefined;
  createContainer?: Hook[] | undefined;
  startContainer?: Hook[] | undefined;
  poststart?: Hook[] | undefined;
  poststop?: Hook[] | undefined;
}

export type HookKind = keyof Hooks;

/**
 * Runs the hooks of kind one after another with state on stdin. Throws BootError for the first
 * that fails when fatal; otherwise logs a warning and goes on.
 */
export async function runHooks(hooks: Hooks, kind: HookKind, state: unknown, log: DebugLog, fatal: boolean): Promise<void> {
  for (const w of await runHookList(hooks, kind, state, fatal)) log.warning(w);
}

/** Runs the hooks of kind; the warnings of those that failed (throws for the first when fatal). */
async function runHookList(hooks: Hooks, kind: HookKind, state: unknown, fatal: boolean): Promise<string[]> {
  const list = hooks[kind] ?? [];
  const input = new TextEncoder().encode(JSON.stringify(state));
  const warnings: string[] = [];
  for (const [i, h] of list.entries()) {
    const what = `hooks.${kind}[${i}] ${quote(h.path)}`;
    const why = await runHook(h, input);
    if (why === null) continue;
    if (fatal) throw new BootError(`${what}: ${why}`);
    warnings.push(`${what}: ${why}`);
  }
  return warnings;
}

/** Set in a hook runner's environment to the hooks it may run (JSON). */
const RUNNER_VAR = "SENTRY_INTERNAL_HOOK_RUNNER";

/** Whether this sentry was started as a hook runner. */
export function isHookRunner(): boolean {
  return Deno.env.get(RUNNER_VAR) !== undefined;
}

/** The runner's side: answers each request line on stdin until it closes. */
export async function runHookRunner(): Promise<number> {
  const hooks = JSON.parse(Deno.env.get(RUNNER_VAR)!) as Hooks;
  Deno.env.delete(RUNNER_VAR);
  const enc = new TextEncoder();
  let buf = "";
  const dec = new TextDecoder();
  for await (const chunk of Deno.stdin.readable) {
    buf += dec.decode(chunk, { stream: true });
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      const req = JSON.parse(buf.slice(0, nl)) as { kind: HookKind; state: unknown };
      buf = buf.slice(nl + 1);
      // Only the kinds a runner is for: whatever asks, it runs the config's hooks and no other program.
      const warnings = req.kind === "poststart" || req.kind === "poststop" ? await runHookList(hooks, req.kind, req.state, false) : [];
      const line = enc.encode(JSON.stringify({ warnings }) + "\n");
      for (let off = 0; off < line.length;) off += await Deno.stdout.write(line.subarray(off));
    }
  }
  return 0;
}

/** The sentry's side of a hook runner, started while it still has the host's privileges. */
export class HookRunner {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#lines = lines(child.stdout);
  }

  /**
   * Starts one for the poststart and poststop hooks (synchronously: a foreground run must not
   * await between creating its sandbox and running it). `self` is how to start this sentry.
   */
  static spawn(hooks: Hooks, self: { cmd: string; args: string[] }): HookRunner {
    const only: Hooks = { poststart: hooks.poststart ?? [], poststop: hooks.poststop ?? [] };
    const child = new Deno.Command(self.cmd, {
      args: self.args,
      env: { [RUNNER_VAR]: JSON.stringify(only) },
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    return new HookRunner(child);
  }

  /** Runs the hooks of kind in the runner; failures are logged as warnings. */
  async run(kind: "poststart" | "poststop", state: unknown, log: DebugLog): Promise<void> {
    try {
      await this.#writer.write(new TextEncoder().encode(JSON.stringify({ kind, state }) + "\n"));
      const r = await this.#lines.next();
      if (r.done) throw new Error("the hook runner ended");
      for (const w of (JSON.parse(r.value) as { warnings: string[] }).warnings) log.warning(w);
    } catch (err) {
      log.warning(`hooks.${kind}: not run: ${(err as Error).message}`);
    }
  }

  /** Lets the runner end (its stdin closes) and waits for it. */
  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    await this.#child.status;
  }
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      yield buf.slice(0, nl);
      buf = buf.slice(nl + 1);
    }
  }
}

/** Null when the hook exited 0, else why not. */
async function runHook(h: Hook, input: Uint8Array): Promise<string | null> {
  const env: Record<string, string> = {};
  for (const e of h.env ?? []) {
    const eq = e.indexOf("=");
    if (eq > 0) env[e.slice(0, eq)] = e.slice(eq + 1);
  }
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(h.path, {
      args: (h.args ?? []).slice(1),
      env,
      clearEnv: true,
      stdin: "piped",
      stdout: "null",
      stderr: "inherit",
    }).spawn();
  } catch (err) {
    return (err as Error).message.replace(/ \(os error \d+\).*$/s, "");
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  if (h.timeout !== undefined && h.timeout > 0) {
    timer = setTimeout(() => {
      timedOut = true;
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    }, h.timeout * 1000);
  }
  try {
    const w = child.stdin.getWriter();
    // A hook that does not read its stdin may close it first: not a failure.
    await w.write(input).catch(() => {});
    await w.close().catch(() => {});
    const st = await child.status;
    if (timedOut) return `timed out after ${h.timeout} s`;
    if (st.success) return null;
    return st.signal !== null ? `killed by ${st.signal}` : `exited with status ${st.code}`;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/**
 * The poststart hooks of container id, run by the command that started it (`start`, `run -d`)
 * on the host, as runc's start runs them once init runs; failures are warnings. A container
 * that already stopped runs none.
 */
export async function runPoststart(root: string, id: string, log: DebugLog): Promise<void> {
  const { readState, ociState } = await import("./state_dir.ts");
  let s;
  try {
    s = readState(root, id);
  } catch {
    return;
  }
  if (!s.poststart?.length || s.status === "stopped") return;
  await runHooks({ poststart: s.poststart }, "poststart", ociState({ ...s, status: "running" }), log, false);
}
