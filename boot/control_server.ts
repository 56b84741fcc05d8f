/**
 * The control socket of a running sandbox: the sentry holding it listens on
 * `ROOT/ID/control.sock` (0600 in a 0700 directory) and answers requests (docs/control.md)
 * with kernel/control.ts. Only the sentry's own uid may talk to it (SO_PEERCRED). A request
 * that is malformed, oversized, of the wrong shape or otherwise hostile gets an error reply,
 * and the connection is closed when its framing cannot be trusted any more; the sandbox never
 * notices. Requests run between two kernel steps (they are event-loop callbacks while
 * Kernel.run awaits), so the kernel's state is consistent when they touch it.
 *
 * @module
 */

import { procTree } from "../vfs/procfs/procfs.ts";
import { sysBlock } from "../vfs/sysfs/sysfs.ts";
import { procSourceModule } from "../kernel/proc_source_load.ts";
import type { Kernel } from "../kernel/kernel.ts";
import { execProcess, onExit, pause, processes, releaseTerminal, resume, signal, stats } from "../kernel/control.ts";
import { LinuxError } from "../kernel/errno.ts";
import type { DebugLog } from "../kernel/log.ts";
import type { Terminal } from "../vfs/tty/mod.ts";
import type { ProcessCaps } from "../kernel/creds.ts";
import { capsOf } from "./spec.ts";
import {
  hostAccept,
  hostClose,
  hostEventfd,
  hostPeerCred,
  hostPollAsync,
  hostUnixListen,
  hostWrite,
  POLLIN,
} from "../platform/ptrace/_ffi.ts";
import { ControlConn, MAX_MESSAGE } from "./control_conn.ts";
import { FdTerminalBridge } from "./fd_terminal_bridge.ts";
import type { ContainerStatus } from "./state_dir.ts";

/** Connections served at once; more are answered with an error and closed. */
const MAX_CONNECTIONS = 64;

/** What the server needs of the sentry that holds the sandbox. */
export interface SandboxHolder {
  readonly kernel: Kernel;
  status(): ContainerStatus;
  setStatus(s: ContainerStatus): void;
  /** Lets a created sandbox's init run; an error message when it cannot. */
  start(): string | null;
  /**
   * A signal to a created sandbox, whose init has not run yet: one whose default action ends
   * a process ends the sandbox (stopped, with that signal as init's status), as it ends
   * runc's init waiting for start; others are dropped. Returns whether it ended the sandbox.
   */
  killCreated(signo: number): boolean;
  /**
   * Writes a checkpoint image of the sandbox to `image`, then ends the sandbox, or lets it go
   * on with leaveRunning; an error message (the sandbox goes on) when it cannot.
   */
  checkpoint(image: string, leaveRunning: boolean): Promise<string | null>;
  /** Init's wait status, once it exited. */
  readonly initExit: Promise<number>;
  /** The defaults of an exec'd process: the container's process (config.json). */
  readonly defaults: {
    env: readonly string[]; cwd: string; uid: number; gid: number; additionalGids: readonly number[];
    caps: ProcessCaps | null; noNewPrivs: boolean; umask: number | null;
    /** linux.seccomp's filter: runc's setns init installs the container's filter on exec'd processes too. */
    seccomp: Uint8Array | null;
  };
}

type Reply = Record<string, unknown>;

function fail(error: string): Reply {
  return { ok: false, error };
}

/** @nosave The listener and its connections (host plumbing, not kernel state). */
/** ENAMETOOLONG: a temporary socket name longer than sun_path holds. */
const ENAMETOOLONG_ERRNO = 36;

export class ControlServer {
  readonly #fd: number;
  readonly #cancel: number;
  readonly #holder: SandboxHolder;
  readonly #log: DebugLog;
  readonly #path: string;
  readonly #conns = new Set<ControlConn>();
  /** Terminals of exec'd processes, by pid, for resize requests. */
  readonly #terminals = new Map<number, Terminal>();
  #closed = false;
  #polling = false;
  #schema: typeof import("./control_schema.ts") | null = null;

  private constructor(fd: number, path: string, holder: SandboxHolder, log: DebugLog) {
    this.#fd = fd;
    this.#path = path;
    this.#holder = holder;
    this.#log = log;
    const c = hostEventfd();
    if (c < 0) throw new Error(`eventfd: errno ${-c}`);
    this.#cancel = c;
  }

  /** Listens at path (which must not exist; mode 0600) and serves until {@linkcode close}. */
  static listen(path: string, holder: SandboxHolder, log: DebugLog): ControlServer | string {
    // Bound under a temporary name, and renamed into place once it listens with its mode: a
    // client that finds the socket can connect at once (between bind and listen it was refused,
    // and between bind and chmod its mode was the umask's).
    const tmp = `${path}.${Deno.pid}`;
    let at = tmp;
    let fd = hostUnixListen(tmp, 16);
    if (fd === -ENAMETOOLONG_ERRNO) fd = hostUnixListen(at = path, 16); // only the name fits
    if (fd < 0) return `cannot listen on ${path}: errno ${-fd}`;
    try {
      Deno.chmodSync(at, 0o600);
      if (at !== path) Deno.renameSync(at, path);
    } catch (err) {
      hostClose(fd);
      try {
        Deno.removeSync(at);
      } catch { /* gone */ }
      return `cannot listen on ${path}: ${(err as Error).message}`;
    }
    const s = new ControlServer(fd, path, holder, log);
    void s.#acceptLoop();
    return s;
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#closed) {
      this.#polling = true;
      await hostPollAsync(this.#fd, POLLIN, this.#cancel);
      this.#polling = false;
      if (this.#closed) break;
      for (;;) {
        const c = hostAccept(this.#fd);
        if (c < 0) break; // EAGAIN: none left (or a transient error: poll again)
        void this.#serve(c);
      }
    }
    hostClose(this.#fd);
    hostClose(this.#cancel);
  }

  async #serve(fd: number): Promise<void> {
    let conn: ControlConn;
    try {
      conn = new ControlConn(fd);
    } catch {
      return; // out of descriptors: the peer sees the connection close
    }
    const cred = hostPeerCred(fd);
    if (typeof cred === "number" || cred.uid !== (Deno.uid() ?? 0)) {
      this.#log.warning(`control: refused a connection from uid ${typeof cred === "number" ? "?" : cred.uid}`);
      await conn.send(fail("permission denied: only the sentry's owner may use its control socket"));
      conn.close();
      return;
    }
    if (this.#conns.size >= MAX_CONNECTIONS) {
      await conn.send(fail("too many connections"));
      conn.close();
      return;
    }
    this.#conns.add(conn);
    try {
      while (!conn.closed && !this.#closed) {
        const m = await conn.readMessage(MAX_MESSAGE);
        if (m.kind === "eof") break;
        if (m.kind === "tooLarge") {
          await conn.send(fail(`request too large: ${m.length} bytes (at most ${MAX_MESSAGE})`));
          break; // the rest of it cannot be skipped safely
        }
        if (m.kind === "malformed") {
          await conn.send(fail(`malformed request: ${m.why}`));
          break;
        }
        let reply: Reply;
        try {
          reply = await this.#handle(conn, m.text, m.fds);
        } catch (err) {
          // A sentry bug: the request fails, the sandbox goes on.
          this.#log.warning(`control: internal error: ${err instanceof Error ? err.stack : String(err)}`);
          reply = fail(`internal error: ${err instanceof Error ? err.message : String(err)}`);
        }
        await conn.send(reply);
      }
    } finally {
      this.#conns.delete(conn);
      conn.close();
    }
  }

  /** Answers one request; fds came with it and are closed unless the request takes them. */
  async #handle(conn: ControlConn, text: string, fds: number[]): Promise<Reply> {
    let fdsTaken = false;
    try {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return fail("malformed request: not JSON");
      }
      this.#schema ??= await import("./control_schema.ts");
      const req = this.#schema.validateRequest(json);
      if (typeof req === "string") return fail(req);
      const h = this.#holder;
      const k = h.kernel;
      switch (req.op) {
        case "ps":
          if (procSourceModule.ifLoaded === null) await procSourceModule.load(); // loaded at its first use
          return { ok: true, processes: processes(k) };
        case "stats":
          return { ok: true, stats: stats(k) };
        case "update": {
          const c: Parameters<typeof k.resources.update>[0] = {};
          if (req.memoryBytes !== undefined) c.memoryBytes = req.memoryBytes;
          if (req.pids !== undefined) c.pids = req.pids;
          if (req.cpus !== undefined) c.cpus = req.cpus;
          if (req.cpuPeriodNs !== undefined) c.cpuPeriodNs = req.cpuPeriodNs;
          k.resources.update(c);
          return { ok: true };
        }
        case "pause":
          if (h.status() !== "running") return fail(`container is ${h.status()}, not running`);
          pause(k);
          h.setStatus("paused");
          return { ok: true };
        case "checkpoint": {
          if (h.status() !== "running" && h.status() !== "paused") return fail(`container is ${h.status()}, not running`);
          const e = await h.checkpoint(req.image, req.leaveRunning);
          return e === null ? { ok: true } : fail(e);
        }
        case "resume":
          if (h.status() !== "paused") return fail(`container is ${h.status()}, not paused`);
          resume(k);
          h.setStatus("running");
          return { ok: true };
        case "start": {
          const e = h.start();
          return e === null ? { ok: true } : fail(e);
        }
        case "kill": {
          if (h.status() === "created" && req.pid === undefined) return { ok: true, count: h.killCreated(req.signal) ? 1 : 0 };
          const n = signal(k, { signal: req.signal, ...(req.all ? { all: true } : {}), ...(req.pid ? { pid: req.pid } : {}) });
          if (n instanceof LinuxError) return fail(req.pid ? `no process ${req.pid} in the container` : "container not running");
          return { ok: true, count: n };
        }
        case "wait": {
          if (req.pid === undefined) return { ok: true, waitStatus: await h.initExit };
          const ws = await new Promise<number | null>((resolve) => {
            const r = onExit(k, req.pid!, resolve);
            if (r instanceof LinuxError) resolve(null);
          });
          return ws === null ? fail(`no process ${req.pid} in the container`) : { ok: true, waitStatus: ws };
        }
        case "resize": {
          const t = this.#terminals.get(req.pid);
          if (t === undefined) return fail(`process ${req.pid} has no terminal of exec`);
          t.setWindowSize({ rows: req.rows, cols: req.cols, xpixel: 0, ypixel: 0 });
          return { ok: true };
        }
        case "exec": {
          if (h.status() !== "running") return fail(`container is ${h.status()}, not running`);
          // The process's executable and cwd are looked up outside a syscall, where /proc's
          // entries and their source and /sys's tree (loaded at their first use) cannot be waited
          // for: loaded first, once.
          if (procTree.ifLoaded === null || procSourceModule.ifLoaded === null || sysBlock.ifLoaded === null) {
            await Promise.all([procTree.load(), procSourceModule.load(), sysBlock.load()]);
          }
          const d = h.defaults;
          const base = {
            argv: req.argv,
            envv: mergeEnv(req.env ?? d.env, req.envAdd ?? []),
            cwd: req.cwd ?? d.cwd,
            uid: req.uid ?? d.uid,
            gid: req.gid ?? (req.uid !== undefined ? req.uid === d.uid ? d.gid : 0 : d.gid),
            additionalGids: req.additionalGids ?? (req.uid !== undefined ? [] : d.additionalGids),
            caps: req.capabilities !== undefined ? capsOf(req.capabilities) : d.caps,
            noNewPrivs: req.noNewPrivileges ?? d.noNewPrivs,
            ...((req.umask ?? d.umask) !== null ? { umask: req.umask ?? d.umask! } : {}),
            ...(d.seccomp !== null ? { seccomp: d.seccomp } : {}),
          };
          if (req.terminal) {
            if (fds.length < 2) return fail("exec with a terminal needs the caller's input and output descriptors");
            const r = execProcess(k, { ...base, stdio: { kind: "terminal", winsize: { rows: req.rows ?? 0, cols: req.cols ?? 0, xpixel: 0, ypixel: 0 } } });
            if (r instanceof LinuxError) return execFailure(r, req.argv[0]!);
            const term = r.terminal!;
            fdsTaken = true;
            const inFd = fds[0]!, outFd = fds[1]!;
            for (const f of fds.slice(2)) if (f !== inFd && f !== outFd) hostClose(f);
            const bridge = new FdTerminalBridge(term, inFd, outFd);
            this.#terminals.set(r.pid, term);
            onExit(k, r.pid, (ws) => {
              void (async () => {
                await bridge.close();
                releaseTerminal(k, term);
                this.#terminals.delete(r.pid);
                await conn.send({ ok: true, exit: ws });
              })();
            });
            return { ok: true, pid: r.pid };
          }
          if (fds.length !== 3) return fail(`exec needs 3 descriptors (stdin, stdout, stderr), got ${fds.length}`);
          fdsTaken = true; // execProcess owns them from here on, whatever its outcome
          const r = execProcess(k, { ...base, stdio: { kind: "host", fds: [fds[0]!, fds[1]!, fds[2]!] } });
          if (r instanceof LinuxError) return execFailure(r, req.argv[0]!);
          onExit(k, r.pid, (ws) => void conn.send({ ok: true, exit: ws }));
          return { ok: true, pid: r.pid };
        }
      }
      return fail("unknown request");
    } finally {
      if (!fdsTaken) for (const f of new Set(fds)) hostClose(f);
    }
  }

  /** Stops listening and closes every connection; removes the socket file. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#conns) c.close();
    try {
      Deno.removeSync(this.#path);
    } catch {
      // already gone
    }
    if (this.#polling) hostWrite(this.#cancel, new Uint8Array(new BigUint64Array([1n]).buffer));
  }
}

/** env with the entries of add set (replacing a variable of the same name) or appended. */
function mergeEnv(env: readonly string[], add: readonly string[]): string[] {
  const out = [...env];
  for (const a of add) {
    const name = a.slice(0, a.indexOf("=") + 1);
    const i = out.findIndex((e) => e.startsWith(name));
    if (i >= 0) out[i] = a;
    else out.push(a);
  }
  return out;
}

/** The reply to an exec that failed, with the status a shell would give (127, 126, 125). */
function execFailure(e: LinuxError, argv0: string): Reply {
  const status = e.symbol === "ENOENT" ? 127 : e.symbol === "EACCES" || e.symbol === "ENOEXEC" ? 126 : 125;
  return { ok: false, error: `cannot run ${JSON.stringify(argv0)}: ${e.message}`, status };
}
