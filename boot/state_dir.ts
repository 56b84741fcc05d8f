/**
 * The state directory (`--root`): one directory per container, mode 0700, holding its OCI state
 * (`state.json`, replaced atomically) and its control socket (`control.sock`, 0600). Every
 * command that names a container finds it here; the sentry that holds a sandbox keeps its
 * state.json current (created, running, paused, stopped with its exit status).
 *
 * A state whose sentry is gone (its pid does not exist, or exists with another start time: the
 * pid was reused) is reported as `stopped`; `delete` removes it. See docs/cli.md.
 *
 * @module
 */

import { AT_FDCWD, RENAME_EXCHANGE, RENAME_NOREPLACE } from "../abi/linux/file.ts";
import { hostRenameat2 } from "../platform/ptrace/_ffi.ts";
import { BootError, describeFsError } from "./errors.ts";

/** The host's EEXIST (hostRenameat2 returns -errno). */
const EEXIST_HOST = 17;
import { quote } from "./flags.ts";
import type { Hook } from "./hooks.ts";

/** The status of a container, as the OCI runtime spec names them. */
export type ContainerStatus = "creating" | "created" | "running" | "paused" | "stopped";

/** state.json: the OCI state plus what the sentry needs to find its holder again. */
export interface ContainerState {
  ociVersion: string;
  id: string;
  status: ContainerStatus;
  /** The host pid of the sentry holding the sandbox (runsc reports its sandbox process). */
  pid: number;
  bundle: string;
  rootfs: string;
  /** RFC 3339, as runc writes it. */
  created: string;
  owner: string;
  annotations: Record<string, string>;
  /** The holder's start time (/proc/PID/stat field 22): tells a reused pid from the holder. */
  sentryStart: number;
  /** Init's wait status once it exited. */
  exitStatus?: number;
  /** A `do` without --id: swept by {@linkcode sweepAbandoned} once its sentry is gone. */
  ephemeral?: boolean;
  /** config.json's poststop hooks, which `delete` runs (boot/hooks.ts). */
  poststop?: Hook[];
  /** config.json's poststart hooks, which `start` runs once init runs (boot/hooks.ts). */
  poststart?: Hook[];
}

export const STATE_FILE = "state.json";
export const SOCKET_FILE = "control.sock";

/** `--root`'s default: /run/sentry for root, else $XDG_RUNTIME_DIR/sentry (as runc's). */
export function defaultRoot(): string {
  if ((Deno.uid() ?? 0) === 0) return "/run/sentry";
  const xdg = Deno.env.get("XDG_RUNTIME_DIR");
  if (xdg) return `${xdg}/sentry`;
  return `/tmp/sentry-${(Deno.uid() ?? 0)}`;
}

/** The state root of a command: `--root`, or {@linkcode defaultRoot}. */
export function rootOf(g: { root: string | null }): string {
  return g.root ?? defaultRoot();
}

/** runc's rule for container IDs: letters, digits, `_ + - .`, and not `.` or `..`. */
export function checkId(id: string): void {
  if (!/^[\w+.-]+$/.test(id) || id === "." || id === ".." || id.length > 1024) {
    throw new BootError(`invalid container ID ${quote(id)}: use letters, digits and _ + - . (not "." or "..")`);
  }
}

/** A new ID for a container that was given none: 16 hex digits. */
export function generateId(): string {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** A container's directory under root. */
export function containerDir(root: string, id: string): string {
  return `${root}/${id}`;
}

export function socketPath(root: string, id: string): string {
  return `${containerDir(root, id)}/${SOCKET_FILE}`;
}

/**
 * Creates root if needed (0700) and checks that it is a directory of ours that nobody else can
 * write: a state directory others could change could be made to point us anywhere.
 */
export function ensureRoot(root: string): void {
  try {
    Deno.mkdirSync(root, { recursive: true, mode: 0o700 });
    const st = Deno.lstatSync(root);
    if (!st.isDirectory) throw new BootError(`--root ${quote(root)}: not a directory`);
    if (st.uid !== (Deno.uid() ?? 0) || ((st.mode ?? 0) & 0o022) !== 0) {
      throw new BootError(`--root ${quote(root)}: must be owned by uid ${(Deno.uid() ?? 0)} and writable by nobody else`);
    }
  } catch (err) {
    if (err instanceof BootError) throw err;
    throw new BootError(`--root ${quote(root)}: ${describeFsError(err)}`);
  }
}

/**
 * Claims id under root: its directory (0700) appears with `creating` already in it, the state
 * of a sandbox being assembled, so that a client asking meanwhile learns that its sentry is
 * there (a directory without a state reads as stopped, and `delete` would clean it). The
 * directory is made under a name no ID can have ("~" is not allowed), then renamed into place.
 * Throws the one-line error of a duplicate ID when it exists.
 */
export function claimId(root: string, id: string, creating: ContainerState): string {
  checkId(id);
  ensureRoot(root);
  const dir = containerDir(root, id);
  const tmp = `${root}/.claim~${id}~${Deno.pid}`;
  const duplicate = () => new BootError(`container ${quote(id)} already exists`);
  try {
    Deno.mkdirSync(tmp, { mode: 0o700 });
    Deno.chmodSync(tmp, 0o700); // mkdir's mode is masked by the umask
    Deno.writeTextFileSync(`${tmp}/${STATE_FILE}`, JSON.stringify({ ...creating, id, status: "creating" }) + "\n", { mode: 0o600 });
  } catch (err) {
    removeTree(tmp);
    throw new BootError(`cannot create the state of container ${quote(id)} in ${quote(root)}: ${describeFsError(err)}`);
  }
  // rename(2) would replace an empty directory: an existing one is a duplicate, whatever it
  // holds. RENAME_NOREPLACE says so in the same call (and a missing one costs no exception: a
  // start's first error thrown by a Deno call costs ~0.4 ms of cold code); where the filesystem
  // lacks it, the check and rename below.
  const r = hostRenameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_NOREPLACE);
  if (r === 0) return dir;
  if (r === -EEXIST_HOST) {
    removeTree(tmp);
    throw duplicate();
  }
  if (exists(dir)) {
    removeTree(tmp);
    throw duplicate();
  }
  try {
    Deno.renameSync(tmp, dir);
  } catch (err) {
    removeTree(tmp);
    if (exists(dir)) throw duplicate();
    throw new BootError(`cannot create the state of container ${quote(id)} in ${quote(root)}: ${describeFsError(err)}`);
  }
  return dir;
}

/** Whether the container's directory exists (in any state, a claim in progress included). */
export function containerExists(root: string, id: string): boolean {
  return exists(containerDir(root, id));
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function removeTree(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch {
    // never made, or gone
  }
}

/**
 * The checks of {@linkcode claimId} without claiming: throws the one-line error of a bad or
 * duplicate ID (a command that lets another process claim it reports these first).
 */
export function claimable(root: string, id: string): void {
  checkId(id);
  ensureRoot(root);
  try {
    Deno.lstatSync(containerDir(root, id));
  } catch {
    return;
  }
  throw new BootError(`container ${quote(id)} already exists`);
}

/** Writes path whole or not at all: a temporary file beside it, renamed over it. */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.${Deno.pid}.tmp`;
  try {
    Deno.writeTextFileSync(tmp, text);
    Deno.renameSync(tmp, path);
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // never made
    }
    throw new BootError(`cannot write ${quote(path)}: ${describeFsError(err)}`);
  }
}

/**
 * Writes state.json whole or not at all: a temporary file beside it, exchanged with it
 * (renameat2 RENAME_EXCHANGE), the old one then removed. Not renamed over it: ext4 writes out a
 * file renamed over another at once (auto_da_alloc, against zero-length files after a crash),
 * and removing a file whose blocks were written frees them with a synchronous discard on our
 * machines (ext4 without a journal, mounted with `discard`): the rename and the state's removal
 * at exit took 0.2-8 ms each of every `do` (strace -T). A file written and removed within
 * seconds never gets blocks.
 */
export function writeState(root: string, s: ContainerState): void {
  const dir = containerDir(root, s.id);
  const tmp = `${dir}/.${STATE_FILE}.${Deno.pid}.tmp`;
  const path = `${dir}/${STATE_FILE}`;
  Deno.writeTextFileSync(tmp, JSON.stringify(s) + "\n", { mode: 0o600 });
  if (hostRenameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE) === 0) {
    // The new state is in place, and the old one at tmp.
    try {
      Deno.removeSync(tmp);
    } catch { /* gone */ }
    return;
  }
  Deno.renameSync(tmp, path); // no state.json yet, or a filesystem without RENAME_EXCHANGE
}

/** The start time of host process pid (clock ticks since boot), or null when there is none. */
export function processStartTime(pid: number): number | null {
  if (!(Number.isInteger(pid) && pid > 0)) return null;
  const fields = hostProcStat(pid);
  // Field 22 (starttime) is fields[19]. A zombie is gone.
  if (fields === null || fields[0] === "Z" || fields[0] === "X") return null;
  const t = Number(fields[19]);
  return Number.isFinite(t) ? t : null;
}

/**
 * The fields of a host process's /proc/PID/stat after its command name (which is in
 * parentheses and may hold anything): field 3 (state) is [0], field N is [N - 3]. Null when
 * the process is gone.
 */
export function hostProcStat(pid: number | "self"): string[] | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  return text.slice(text.lastIndexOf(")") + 2).split(" ");
}

/** Whether the sentry that wrote s still runs. */
export function holderAlive(s: ContainerState): boolean {
  return s.sentryStart !== 0 && processStartTime(s.pid) === s.sentryStart;
}

/**
 * The state of container id, with its status made true: a holder that is gone means
 * `stopped`. Throws the one-line error of an unknown ID. A directory whose state.json is
 * missing or unreadable (a sentry killed while creating it) reads as stopped, so that
 * `delete` can remove it.
 */
export function readState(root: string, id: string): ContainerState {
  checkId(id);
  const dir = containerDir(root, id);
  try {
    if (!Deno.lstatSync(dir).isDirectory) throw new Deno.errors.NotFound();
  } catch {
    throw new BootError(`container ${quote(id)} does not exist`);
  }
  let s: ContainerState;
  try {
    s = JSON.parse(Deno.readTextFileSync(`${dir}/${STATE_FILE}`)) as ContainerState;
    if (typeof s !== "object" || s === null || s.id !== id || typeof s.pid !== "number") throw new Error("bad state");
  } catch {
    return {
      ociVersion: "", id, status: "stopped", pid: 0, bundle: "", rootfs: "", created: "",
      owner: "", annotations: {}, sentryStart: 0,
    };
  }
  if (!holderAlive(s)) s = { ...s, status: "stopped" };
  return s;
}

/** The IDs under root (none when it does not exist). */
export function listIds(root: string): string[] {
  const ids: string[] = [];
  try {
    for (const e of Deno.readDirSync(root)) {
      if (e.isDirectory && /^[\w+.-]+$/.test(e.name)) ids.push(e.name);
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw new BootError(`--root ${quote(root)}: ${describeFsError(err)}`);
  }
  return ids.sort();
}

/**
 * Removes the states of `do` runs without --id whose sentry was killed (a sentry that ends
 * removes its own): nobody knows their IDs to `delete` them, and a CI host running many would
 * fill the root. A state that cannot be read is left alone (it may be another's, in creation).
 */
export function sweepAbandoned(root: string): void {
  let ids: string[];
  try {
    ids = listIds(root);
  } catch {
    return;
  }
  for (const id of ids) {
    let s: ContainerState;
    try {
      s = JSON.parse(Deno.readTextFileSync(`${containerDir(root, id)}/${STATE_FILE}`)) as ContainerState;
    } catch {
      continue;
    }
    if (typeof s === "object" && s !== null && s.ephemeral === true && s.id === id && !holderAlive(s)) {
      try {
        removeContainerDir(root, id);
      } catch {
        // another sweeper, or not ours to remove: left
      }
    }
  }
}

/** Removes a container's directory and everything in it. Idempotent. */
export function removeContainerDir(root: string, id: string): void {
  try {
    Deno.removeSync(containerDir(root, id), { recursive: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new BootError(`cannot remove the state of container ${quote(id)}: ${describeFsError(err)}`);
    }
  }
}

/** The user name of uid from /etc/passwd, else the number (runc's OWNER column). */
export function ownerName(uid: number): string {
  try {
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const f = line.split(":");
      if (f[2] === String(uid) && f[0]) return f[0];
    }
  } catch {
    // no passwd: the number
  }
  return String(uid);
}

/** The OCI state as `state` and `list --format json` print it (runc's fields), and hooks read it. */
export function ociState(s: ContainerState): Record<string, unknown> {
  const o: Record<string, unknown> = {
    ociVersion: s.ociVersion, id: s.id, pid: s.status === "stopped" ? 0 : s.pid, status: s.status,
    bundle: s.bundle, rootfs: s.rootfs, created: s.created, owner: s.owner,
  };
  if (Object.keys(s.annotations ?? {}).length > 0) o.annotations = s.annotations;
  return o;
}
