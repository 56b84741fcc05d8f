/**
 * OCI lifecycle hooks (config.json's `hooks`), run on the host as runc runs them: each hook's
 * `path` with its `args` (args[0] is the program's name; the path is what runs), exactly its
 * `env`, the container's state JSON on its stdin, and its `timeout` in seconds (killed then).
 * `prestart` and `createRuntime` run when the sandbox is assembled, before `create` returns; a
 * failure ends the container with one line, as runc's create fails. `poststart` runs once init
 * is started, `poststop` once the container is deleted; their failures are warnings, as the
 * spec asks. `createContainer` and `startContainer` run inside the container's namespaces on
 * Linux, which hold no host program here: they are warned about and not run.
 *
 * The hooks a sandbox's sentry runs (all but a detached container's poststop, which `delete`
 * runs) start after the sentry confined itself (docs/confinement.md): in its own mount, IPC,
 * UTS (and with `--network none` network) namespaces, with its few capabilities, no_new_privs
 * and its seccomp filter, which they inherit. A hook that needs more than that fails.
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
  const list = hooks[kind] ?? [];
  const input = new TextEncoder().encode(JSON.stringify(state));
  for (const [i, h] of list.entries()) {
    const what = `hooks.${kind}[${i}] ${quote(h.path)}`;
    const why = await runHook(h, input);
    if (why === null) {
      log.debug(`${what}: ran`);
      continue;
    }
    if (fatal) throw new BootError(`${what}: ${why}`);
    log.warning(`${what}: ${why}`);
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
