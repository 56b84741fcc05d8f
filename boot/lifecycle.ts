/**
 * The commands that reach a container through the state directory and its control socket:
 * state, list, ps, kill, pause, resume, wait, events, delete, exec (runc's names, flags and
 * output formats; docs/cli.md). None of them loads the kernel.
 *
 * @module
 */

import { SIGNAL_NAMES } from "../abi/linux/signal.ts";
import { resolve as resolvePath } from "../abi/path.ts";
import { writeAllSync } from "../kernel/write_all.ts";
import type { DebugLog } from "../kernel/log.ts";
import { hostClose, hostSetsid } from "../platform/ptrace/_ffi.ts";
import { HostPty } from "./console_socket.ts";
import { awaitOrphaned, spawnExecHolder, takeHolderRole } from "./detach.ts";
import { connectTo, readReply, request } from "./control_client.ts";
import { BootError, EXIT_SENTRY_ERROR } from "./errors.ts";
import { exitStatusOf } from "./exit_status.ts";
import type { Command } from "./flags.ts";
import { parseBytes, quote } from "./flags.ts";
import {
  checkId,
  containerExists,
  type ContainerState,
  holderAlive,
  listIds,
  readState,
  removeContainerDir,
  ociState,
  rootOf,
  writeFileAtomic,
} from "./state_dir.ts";
import { hostWindowSize } from "./terminal.ts";

function print(s: string): void {
  writeAllSync(Deno.stdout, new TextEncoder().encode(s));
}


/** Lines of columns padded as runc's tabwriter (minimum width 12, padding 3). */
function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => widths[i] = Math.max(widths[i] ?? 0, c.length));
  return rows.map((r) =>
    r.map((c, i) => i === r.length - 1 ? c : c.padEnd(Math.max(12, widths[i]! + 3))).join("").trimEnd() + "\n"
  ).join("");
}

/** A signal by name (TERM, SIGTERM, term) or number. */
export function parseSignal(s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= 0 && n <= 64) return n;
  } else {
    const name = s.toUpperCase().replace(/^SIG/, "");
    for (const [n, full] of Object.entries(SIGNAL_NAMES)) if (full === `SIG${name}`) return Number(n);
  }
  throw new BootError(`unknown signal ${quote(s)}`);
}

function requireLive(s: ContainerState, what: string): void {
  if (s.status === "stopped" || s.status === "creating") throw new BootError(`container ${quote(s.id)} is ${s.status}: cannot ${what}`);
}

/** Runs a lifecycle command; returns the exit status. */
export async function lifecycle(cmd: Command, log: DebugLog): Promise<number> {
  switch (cmd.kind) {
    case "state": {
      const s = readState(rootOf(cmd.global), cmd.id);
      print(JSON.stringify(ociState(s), null, 2) + "\n");
      return 0;
    }
    case "list": {
      const root = rootOf(cmd.global);
      const states = listIds(root).map((id) => readState(root, id));
      if (cmd.quiet) print(states.map((s) => s.id + "\n").join(""));
      else if (cmd.format === "json") print(JSON.stringify(states.map(ociState)) + "\n");
      else {
        print(table([
          ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
          ...states.map((s) => [s.id, String(s.status === "stopped" ? 0 : s.pid), s.status, s.bundle, s.created, s.owner]),
        ]));
      }
      return 0;
    }
    case "ps": {
      const root = rootOf(cmd.global);
      requireLive(readState(root, cmd.id), "list its processes");
      const r = await request(root, cmd.id, { op: "ps" });
      const procs = r.processes as Array<{
        pid: number; ppid: number; uid: number; startTimeNs: number; cpuTimeNs: number; tty: string | null;
        argv: string[]; comm: string;
      }>;
      if (cmd.format === "json") {
        print(JSON.stringify(procs.map((p) => p.pid)) + "\n");
        return 0;
      }
      print(table([
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
        ...procs.map((p) => {
          const st = new Date(p.startTimeNs / 1e6);
          const secs = Math.floor(p.cpuTimeNs / 1e9);
          const time = [Math.floor(secs / 3600), Math.floor(secs / 60) % 60, secs % 60]
            .map((x) => String(x).padStart(2, "0")).join(":");
          return [
            String(p.uid), String(p.pid), String(p.ppid), "0",
            `${String(st.getHours()).padStart(2, "0")}:${String(st.getMinutes()).padStart(2, "0")}`,
            p.tty ?? "?", time, p.argv.length > 0 ? p.argv.join(" ") : `[${p.comm}]`,
          ];
        }),
      ]));
      return 0;
    }
    case "kill": {
      const root = rootOf(cmd.global);
      const signo = parseSignal(cmd.signal ?? "TERM");
      requireLive(readState(root, cmd.id), "signal it");
      await request(root, cmd.id, {
        op: "kill", signal: signo, ...(cmd.all ? { all: true } : {}), ...(cmd.pid !== null ? { pid: cmd.pid } : {}),
      });
      return 0;
    }
    case "start": {
      const root = rootOf(cmd.global);
      const s = readState(root, cmd.id);
      if (s.status !== "created") throw new BootError(`container ${quote(cmd.id)}: cannot start a container that is ${s.status}`);
      await request(root, cmd.id, { op: "start" });
      // Here, not in the confined sentry that holds the sandbox: runc's start runs them.
      if (s.poststart?.length) await (await import("./hooks.ts")).runPoststart(root, cmd.id, log);
      return 0;
    }
    case "pause":
    case "resume": {
      const root = rootOf(cmd.global);
      requireLive(readState(root, cmd.id), cmd.kind);
      await request(root, cmd.id, { op: cmd.kind });
      return 0;
    }
    case "wait": {
      const root = rootOf(cmd.global);
      const s = readState(root, cmd.id);
      let ws: number;
      if (s.status === "stopped") {
        if (s.exitStatus === undefined) throw new BootError(`container ${quote(cmd.id)} is stopped and its exit status is unknown`);
        ws = s.exitStatus;
      } else {
        try {
          ws = (await request(root, cmd.id, { op: "wait" })).waitStatus as number;
        } catch (err) {
          // The sentry may be ending: it writes init's status into its state before it closes
          // its control socket, but this request may have raced with init's exit; so read the
          // status, waiting for it while the holder lives. (Bounded: an error reply from a live
          // sentry is reported after 5 s at most.)
          const deadline = Date.now() + 5000;
          let again = readState(root, cmd.id);
          while (again.exitStatus === undefined && again.status !== "stopped" && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 10));
            again = readState(root, cmd.id);
          }
          if (again.exitStatus === undefined) throw err;
          ws = again.exitStatus;
        }
      }
      const code = exitStatusOf(ws);
      print(JSON.stringify({ id: cmd.id, exitStatus: code }) + "\n");
      return code;
    }
    case "events": {
      const root = rootOf(cmd.global);
      requireLive(readState(root, cmd.id), "report its statistics");
      for (;;) {
        const r = await request(root, cmd.id, { op: "stats" });
        const st = r.stats as {
          cpu: { usageNs: number; userNs: number; systemNs: number };
          memory: { usageBytes: number; limit?: number };
          pids: { current: number; limit?: number };
        };
        print(JSON.stringify({
          type: "stats",
          id: cmd.id,
          data: {
            cpu: { usage: { total: st.cpu.usageNs, user: st.cpu.userNs, kernel: st.cpu.systemNs } },
            memory: { usage: { usage: st.memory.usageBytes, ...(st.memory.limit !== undefined ? { limit: st.memory.limit } : {}) } },
            pids: { current: st.pids.current, ...(st.pids.limit !== undefined ? { limit: st.pids.limit } : {}) },
          },
        }) + "\n");
        if (cmd.stats) return 0;
        await new Promise((r) => setTimeout(r, cmd.intervalMs));
      }
    }
    case "update": {
      const root = rootOf(cmd.global);
      const req = updateRequest(cmd);
      requireLive(readState(root, cmd.id), "update its limits");
      await request(root, cmd.id, req);
      return 0;
    }
    case "delete":
      return await deleteContainer(rootOf(cmd.global), cmd.id, cmd.force, log);
    case "exec":
      return await exec(cmd);
    default:
      throw new Error(`unreachable: ${cmd.kind}`);
  }
}

async function deleteContainer(root: string, id: string, force: boolean, log: DebugLog): Promise<number> {
  checkId(id);
  // runc's delete --force of an unknown container succeeds silently: engines call it to clean
  // up after a create that failed (and so registered nothing).
  if (force && !containerExists(root, id)) return 0;
  const s = readState(root, id);
  if (s.status !== "stopped" || holderAlive(s)) {
    if (s.status !== "stopped" && s.status !== "created" && !force) {
      throw new BootError(`cannot delete container ${quote(id)} that is not stopped: ${s.status} (use --force)`);
    }
    // Every process first, then the sentry itself (its stubs die with it).
    try {
      await request(root, id, { op: "kill", signal: 9, all: true });
    } catch {
      // not answering: the host kill below does it
    }
    if (holderAlive(s)) {
      try {
        Deno.kill(s.pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    for (let i = 0; i < 500 && holderAlive(s); i++) await new Promise((r) => setTimeout(r, 10));
    if (holderAlive(s)) throw new BootError(`container ${quote(id)}: its sentry (pid ${s.pid}) does not die`);
  }
  removeContainerDir(root, id);
  // After the container is deleted, before delete returns (the spec's order); failures warn.
  if (s.poststop?.length) {
    const { runHooks } = await import("./hooks.ts");
    await runHooks({ poststop: s.poststop }, "poststop", ociState({ ...s, status: "stopped" }), log, false);
  }
  return 0;
}

/** Reads an OCI process.json for exec --process. */
function readProcessJson(path: string): {
  args: string[]; env?: string[]; cwd?: string; terminal?: boolean;
  user?: { uid?: number; gid?: number; additionalGids?: number[]; umask?: number };
  capabilities?: Record<string, string[]>; noNewPrivileges?: boolean;
} {
  let j: unknown;
  try {
    j = JSON.parse(Deno.readTextFileSync(path));
  } catch (err) {
    throw new BootError(`--process ${quote(path)}: ${err instanceof SyntaxError ? "not valid JSON" : (err as Error).message.replace(/ \(os error \d+\).*$/s, "")}`);
  }
  const p = j as Record<string, unknown>;
  const strs = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "string");
  if (typeof p !== "object" || p === null || !strs(p.args) || (p.args as string[]).length === 0) {
    throw new BootError(`--process ${quote(path)}: args: expected a non-empty array of strings`);
  }
  if (p.env !== undefined && !strs(p.env)) throw new BootError(`--process ${quote(path)}: env: expected an array of strings`);
  if (p.cwd !== undefined && (typeof p.cwd !== "string" || !p.cwd.startsWith("/"))) {
    throw new BootError(`--process ${quote(path)}: cwd: expected an absolute path`);
  }
  const u = p.user as Record<string, unknown> | undefined;
  const isId = (v: unknown) => v === undefined || (Number.isInteger(v) && (v as number) >= 0 && (v as number) < 4294967295);
  if (u !== undefined && (typeof u !== "object" || u === null || !isId(u.uid) || !isId(u.gid))) {
    throw new BootError(`--process ${quote(path)}: user: expected {uid, gid} integers`);
  }
  if (u?.umask !== undefined && !(Number.isInteger(u.umask) && (u.umask as number) >= 0 && (u.umask as number) <= 0o777)) {
    throw new BootError(`--process ${quote(path)}: user.umask: expected an integer from 0 to 511 (0o777)`);
  }
  const c = p.capabilities as Record<string, unknown> | undefined;
  const sets = ["bounding", "effective", "inheritable", "permitted", "ambient"];
  if (
    c !== undefined &&
    (typeof c !== "object" || c === null || Object.entries(c).some(([k, v]) => sets.includes(k) && v !== undefined && !strs(v)))
  ) {
    throw new BootError(`--process ${quote(path)}: capabilities: expected an object of arrays of capability names`);
  }
  if (p.noNewPrivileges !== undefined && typeof p.noNewPrivileges !== "boolean") {
    throw new BootError(`--process ${quote(path)}: noNewPrivileges: expected a boolean`);
  }
  return p as ReturnType<typeof readProcessJson>;
}

/** Forwarded to an exec'd process while the caller waits for it. */
const FORWARD: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];

async function exec(cmd: Extract<Command, { kind: "exec" }>): Promise<number> {
  const root = rootOf(cmd.global);
  const s = readState(root, cmd.id);
  if (s.status !== "running") throw new BootError(`container ${quote(cmd.id)} is ${s.status}, not running`);
  const req: Record<string, unknown> = { op: "exec" };
  let tty = cmd.tty;
  if (cmd.process !== null) {
    const p = readProcessJson(cmd.process);
    req.argv = p.args;
    if (p.env !== undefined) req.env = p.env;
    if (p.cwd !== undefined) req.cwd = p.cwd;
    if (p.user?.uid !== undefined) req.uid = p.user.uid;
    if (p.user?.gid !== undefined) req.gid = p.user.gid;
    if (p.user?.additionalGids !== undefined) req.additionalGids = p.user.additionalGids;
    if (p.user?.umask !== undefined) req.umask = p.user.umask;
    if (p.capabilities !== undefined) {
      const c = p.capabilities;
      req.capabilities = Object.fromEntries(
        ["bounding", "effective", "inheritable", "permitted", "ambient"].filter((k) => c[k] !== undefined).map((k) => [k, c[k]]),
      );
    }
    if (p.noNewPrivileges !== undefined) req.noNewPrivileges = p.noNewPrivileges;
    if (p.terminal === true) tty = true;
  } else req.argv = cmd.command;
  if (cmd.env.length > 0) {
    for (const e of cmd.env) if (!/^[^=]+=/.test(e)) throw new BootError(`--env: expected NAME=VALUE, got ${quote(e)}`);
    req.envAdd = cmd.env;
  }
  if (cmd.cwd !== null) {
    if (!cmd.cwd.startsWith("/")) throw new BootError(`--cwd: expected an absolute path, got ${quote(cmd.cwd)}`);
    req.cwd = cmd.cwd;
  }
  if (cmd.user !== null) {
    const m = /^(\d{1,10})(?::(\d{1,10}))?$/.exec(cmd.user);
    if (m === null || Number(m[1]) > 4294967294 || Number(m[2] ?? 0) > 4294967294) {
      throw new BootError(`--user: expected UID[:GID] (numbers), got ${quote(cmd.user)}`);
    }
    req.uid = Number(m[1]);
    req.gid = Number(m[2] ?? m[1]);
  }
  if (cmd.consoleSocket !== null && !tty) {
    throw new BootError("--console-socket: the process has no terminal (use -t or process.terminal)");
  }
  // exec -d --pid-file (an engine's exec): a host process must stay to be waited for. This
  // command starts one (itself again, attached) and returns once it names itself in the file.
  let holding = false;
  if (cmd.detach && cmd.pidFile !== null) {
    if (!takeHolderRole()) return await spawnExecHolder(resolvePath(cmd.pidFile));
    holding = true;
  }
  if (cmd.detach) hostSetsid();
  // With --console-socket the terminal is a host pty whose master goes to the engine.
  let pty: HostPty | null = null;
  let fds = [0, 1, 2];
  if (tty) {
    let ws;
    if (cmd.consoleSocket !== null) {
      pty = HostPty.open(cmd.detach);
      ws = pty.windowSize();
      pty.sendMaster(cmd.consoleSocket);
      fds = [pty.slave, pty.slave];
    } else {
      if (!Deno.stdin.isTerminal()) throw new BootError("-t: standard input is not a terminal (run without -t, or from a terminal)");
      ws = hostWindowSize();
    }
    req.terminal = true;
    req.rows = ws.rows;
    req.cols = ws.cols;
  }
  const conn = connectTo(root, cmd.id);
  const listeners: Array<[Deno.Signal, () => void]> = [];
  let raw = false;
  try {
    // The caller's terminal goes raw before the process can start, as `docker exec -it` does:
    // set after the reply, a program that prints a prompt at once could be answered (or
    // typed at) while the terminal still edited lines and echoed, and keystrokes beyond its
    // 4 KiB line were lost.
    if (tty && pty === null) {
      Deno.stdin.setRaw(true);
      raw = true;
    }
    const sent = await conn.send(req, fds);
    if (pty !== null) hostClose(pty.slave); // the sentry has its copy
    if (!sent) throw new BootError(`container ${quote(cmd.id)}: the sentry went away`);
    const r = await readReply(conn, cmd.id);
    if (!r.ok) {
      const status = typeof r.status === "number" ? r.status : EXIT_SENTRY_ERROR;
      throw new BootError(`container ${quote(cmd.id)}: ${r.error ?? "exec failed"}`, status);
    }
    const pid = r.pid as number;
    if (cmd.pidFile !== null) writeFileAtomic(cmd.pidFile, String(holding ? Deno.pid : pid));
    if (cmd.detach && !holding) return 0;
    for (const name of FORWARD) {
      const signo = parseSignal(name);
      const h = () => void conn.send({ op: "kill", signal: signo, pid });
      Deno.addSignalListener(name, h);
      listeners.push([name, h]);
    }
    if (tty) {
      const h = () => {
        const w = pty?.windowSize() ?? hostWindowSize();
        void conn.send({ op: "resize", pid, rows: w.rows, cols: w.cols });
      };
      Deno.addSignalListener("SIGWINCH", h);
      listeners.push(["SIGWINCH", h]);
    }
    for (;;) {
      const m = await readReply(conn, cmd.id);
      if (typeof m.exit === "number") {
        if (holding) await awaitOrphaned();
        return exitStatusOf(m.exit);
      }
    }
  } finally {
    for (const [name, h] of listeners) Deno.removeSignalListener(name, h);
    if (raw) {
      try {
        Deno.stdin.setRaw(false);
      } catch {
        // stdin gone
      }
    }
    conn.close();
  }
}


/**
 * The control request of `update`: linux.resources from --resources (a file, "-": stdin), then
 * the flags over it. A limit of 0 or below removes it, as runc takes -1.
 */
function updateRequest(cmd: Extract<Command, { kind: "update" }>): Record<string, unknown> {
  const req: Record<string, unknown> = { op: "update" };
  let quotaUs: number | null | undefined, periodUs: number | undefined;
  if (cmd.resources !== null) {
    let text: string;
    try {
      text = cmd.resources === "-" ? new TextDecoder().decode(readAllStdin()) : Deno.readTextFileSync(cmd.resources);
    } catch (err) {
      throw new BootError(`--resources ${quote(cmd.resources)}: ${(err as Error).message.replace(/ \(os error \d+\).*$/s, "")}`);
    }
    let r: Record<string, Record<string, unknown> | undefined>;
    try {
      r = JSON.parse(text);
      if (typeof r !== "object" || r === null || Array.isArray(r)) throw new SyntaxError("not an object");
    } catch {
      throw new BootError(`--resources ${quote(cmd.resources)}: expected a linux.resources JSON object`);
    }
    const num = (what: string, v: unknown): number | undefined => {
      if (v === undefined || v === null) return undefined;
      if (typeof v !== "number" || !Number.isInteger(v)) throw new BootError(`--resources: ${what}: expected an integer`);
      return v;
    };
    const mem = num("memory.limit", r.memory?.limit);
    if (mem !== undefined) req.memoryBytes = mem > 0 ? mem : null;
    const pids = num("pids.limit", r.pids?.limit);
    if (pids !== undefined) req.pids = pids > 0 ? pids : null;
    const q = num("cpu.quota", r.cpu?.quota);
    if (q !== undefined) quotaUs = q > 0 ? q : null;
    periodUs = num("cpu.period", r.cpu?.period);
  }
  const int = (flag: string, v: string): number => {
    if (!/^-?[0-9]{1,15}$/.test(v)) throw new BootError(`--${flag}: expected an integer, got ${quote(v)}`);
    return Number(v);
  };
  if (cmd.memory !== null) req.memoryBytes = cmd.memory === "0" || cmd.memory === "-1" ? null : parseBytes("memory", cmd.memory, 4096);
  if (cmd.pidsLimit !== null) {
    const n = int("pids-limit", cmd.pidsLimit);
    req.pids = n > 0 ? n : null;
  }
  if (cmd.cpuQuota !== null) {
    const n = int("cpu-quota", cmd.cpuQuota);
    quotaUs = n > 0 ? n : null;
  }
  if (cmd.cpuPeriod !== null) periodUs = int("cpu-period", cmd.cpuPeriod);
  if (periodUs !== undefined && (periodUs < 1000 || periodUs > 1_000_000)) {
    throw new BootError(`cpu period: expected 1000 to 1000000 microseconds, got ${periodUs}`);
  }
  if (periodUs !== undefined) req.cpuPeriodNs = periodUs * 1000;
  if (quotaUs !== undefined) req.cpus = quotaUs === null ? null : quotaUs / (periodUs ?? 100_000);
  return req;
}

function readAllStdin(): Uint8Array {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = Deno.stdin.readSync(buf);
    if (n === null || n === 0) break;
    chunks.push(buf.slice(0, n));
  }
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
