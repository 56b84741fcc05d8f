/**
 * What the sandbox did, for the run report (`--report`, docs/report.md): every process started
 * (pid, parent, argv, exit status, times), the files written, created, deleted and renamed
 * through the VFS, and every connect(2). Kept only when a report is wanted: the kernel's hooks
 * cost one null check otherwise.
 *
 * A process's argv is its last exec's (a child that forked and never exec'd keeps its parent's,
 * as ps shows it). Files are named by their path inside the sandbox at the time of the call.
 *
 * @module
 */

import type { ThreadGroup } from "./thread_group.ts";
import { monotonicNs } from "./time.ts";

/** One process of the run. */
export interface ProcessRecord {
  pid: number;
  ppid: number;
  argv: string[];
  /** Executables run, in order (the path each exec was given). */
  execs: string[];
  /** ns since the log started. */
  startNs: number;
  endNs: number | null;
  /** The wait status, once it ended. */
  waitStatus: number | null;
}

/** What happened to one path. */
export interface FileRecord {
  path: string;
  /** It did not exist before the sandbox created it (with O_CREAT, mknod, mkdir, link, rename). */
  created: boolean;
  /** Opened for writing or truncated. */
  written: boolean;
  /** Its last operation removed it (unlink, rmdir, rename away). */
  deleted: boolean;
  /** Pids that wrote, created or removed it, in order of first appearance. */
  pids: number[];
}

/** One connect(2). */
export interface ConnectionRecord {
  pid: number;
  family: string;
  /** "ADDRESS:PORT", "[ADDRESS]:PORT" or a unix socket's path ("@name" for an abstract one). */
  destination: string;
  /** "connected", "in progress" or the errno's name. */
  result: string;
}

const dec = new TextDecoder();

function text(s: Uint8Array | string): string {
  return typeof s === "string" ? s : dec.decode(s);
}

/** The log. */
export class ActivityLog {
  readonly #startNs = monotonicNs();
  readonly processes: ProcessRecord[] = [];
  readonly #byGroup = new Map<ThreadGroup, ProcessRecord>();
  readonly #files = new Map<string, FileRecord>();
  readonly connections: ConnectionRecord[] = [];

  /** A process was created (init, fork, clone without CLONE_THREAD). */
  processStarted(tg: ThreadGroup, argv?: readonly (Uint8Array | string)[]): void {
    if (this.#byGroup.has(tg)) return;
    const parent = tg.parent === null ? undefined : this.#byGroup.get(tg.parent);
    const r: ProcessRecord = {
      pid: tg.tgid,
      ppid: tg.parent?.tgid ?? 0,
      argv: argv ? argv.map(text) : [...(parent?.argv ?? [])],
      execs: [],
      startNs: monotonicNs() - this.#startNs,
      endNs: null,
      waitStatus: null,
    };
    this.processes.push(r);
    this.#byGroup.set(tg, r);
  }

  /** tg exec'd path with argv (past the point of no return). */
  processExec(tg: ThreadGroup, path: string, argv: readonly (Uint8Array | string)[]): void {
    let r = this.#byGroup.get(tg);
    if (r === undefined) {
      this.processStarted(tg, argv);
      r = this.#byGroup.get(tg)!;
    }
    r.argv = argv.map(text);
    r.execs.push(path);
  }

  /** tg became a zombie with wait status `status`. */
  processEnded(tg: ThreadGroup, status: number): void {
    const r = this.#byGroup.get(tg);
    if (r === undefined || r.endNs !== null) return;
    r.endNs = monotonicNs() - this.#startNs;
    r.waitStatus = status;
    this.#byGroup.delete(tg);
  }

  #file(path: string, pid: number): FileRecord {
    let f = this.#files.get(path);
    if (f === undefined) {
      f = { path, created: false, written: false, deleted: false, pids: [] };
      this.#files.set(path, f);
    }
    if (!f.pids.includes(pid)) f.pids.push(pid);
    return f;
  }

  /** path was opened for writing or truncated; `created` when the call made it. */
  fileWritten(path: string, pid: number, created: boolean): void {
    const f = this.#file(path, pid);
    f.written = true;
    if (created) {
      f.created = true;
      f.deleted = false;
    }
  }

  /** path was made (mkdir, mknod, symlink, link, the target of a rename). */
  fileCreated(path: string, pid: number): void {
    const f = this.#file(path, pid);
    f.created = true;
    f.deleted = false;
  }

  /** path was removed (unlink, rmdir, the source of a rename). */
  fileDeleted(path: string, pid: number): void {
    this.#file(path, pid).deleted = true;
  }

  /** Every path touched, in order of first appearance. */
  files(): FileRecord[] {
    return [...this.#files.values()];
  }

  connected(pid: number, family: string, destination: string, result: string): ConnectionRecord {
    const c = { pid, family, destination, result };
    this.connections.push(c);
    return c;
  }
}

/** A socket address as the report names it (the bytes of struct sockaddr_*). */
export function describeSockaddr(b: Uint8Array): { family: string; destination: string } {
  if (b.length < 2) return { family: "unknown", destination: "" };
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const family = v.getUint16(0, true);
  if (family === 2 && b.length >= 8) {
    return { family: "inet", destination: `${b[4]}.${b[5]}.${b[6]}.${b[7]}:${v.getUint16(2, false)}` };
  }
  if (family === 10 && b.length >= 24) {
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) groups.push(v.getUint16(8 + 2 * i, false).toString(16));
    return { family: "inet6", destination: `[${groups.join(":")}]:${v.getUint16(2, false)}` };
  }
  if (family === 1) {
    const path = b.subarray(2);
    if (path.length > 0 && path[0] === 0) return { family: "unix", destination: `@${dec.decode(path.subarray(1))}` };
    const nul = path.indexOf(0);
    return { family: "unix", destination: dec.decode(nul < 0 ? path : path.subarray(0, nul)) };
  }
  return { family: `family ${family}`, destination: "" };
}
