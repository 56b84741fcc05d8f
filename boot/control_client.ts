/**
 * The CLI's side of the control socket: connect to a container's sentry, send a request, read
 * its reply (docs/control.md). Failures are one-line {@linkcode BootError}s.
 *
 * @module
 */

import { hostUnixConnect } from "../platform/ptrace/_ffi.ts";
import { ControlConn } from "./control_conn.ts";
import { BootError } from "./errors.ts";
import { quote } from "./flags.ts";
import { socketPath } from "./state_dir.ts";

export type Reply = { ok: boolean; error?: string; [k: string]: unknown };

/** Connects to container id's sentry; throws when it does not answer (not running). */
export function connectTo(root: string, id: string): ControlConn {
  const fd = hostUnixConnect(socketPath(root, id));
  if (fd < 0) {
    // ENOENT, ECONNREFUSED: nobody listens. EACCES: the socket belongs to someone else.
    if (fd === -13) throw new BootError(`container ${quote(id)}: permission denied`);
    throw new BootError(`container ${quote(id)} is not running`);
  }
  return new ControlConn(fd);
}

/** Reads the next reply on conn; throws a BootError when the connection ends first. */
export async function readReply(conn: ControlConn, id: string): Promise<Reply> {
  const m = await conn.readMessage();
  if (m.kind !== "message") throw new BootError(`container ${quote(id)}: the sentry went away`);
  try {
    const r = JSON.parse(m.text) as Reply;
    if (typeof r === "object" && r !== null && typeof r.ok === "boolean") return r;
  } catch {
    // below
  }
  throw new BootError(`container ${quote(id)}: a malformed reply`);
}

/**
 * One request, one reply, on a connection of its own. A failure reply becomes a BootError
 * carrying the sentry's words.
 */
export async function request(root: string, id: string, req: Record<string, unknown>): Promise<Reply> {
  const conn = connectTo(root, id);
  try {
    if (!(await conn.send(req))) throw new BootError(`container ${quote(id)}: the sentry went away`);
    const r = await readReply(conn, id);
    if (!r.ok) throw new BootError(`container ${quote(id)}: ${r.error ?? "request failed"}`);
    return r;
  } finally {
    conn.close();
  }
}
