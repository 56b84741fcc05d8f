/**
 * Where AF_UNIX abstract names live: one {@linkcode UnixNamespace} per kernel (Linux keeps them
 * per network namespace). Filesystem names live in the VFS: the socket file's inode holds the
 * socket bound to it (see unix_socket.ts).
 *
 * @module
 */

import type { UnixSocket } from "./unix_socket.ts";

/** @savable */
export class UnixNamespace {
  /** "type:name" (the name's bytes as a latin1 string) → socket, for abstract names. */
  readonly abstract = new Map<string, UnixSocket>();
  /** Every socket not yet released, in creation order, for /proc/net/unix. */
  readonly open = new Set<UnixSocket>();
  /** The next autobind name: five hex digits, as Linux's unix_autobind. */
  nextAutobind = 0;

  /** A free autobind name, or null when all 2^20 are taken. */
  autobindName(type: number): Uint8Array | null {
    for (let i = 0; i < 0x100000; i++) {
      const n = this.nextAutobind;
      this.nextAutobind = (n + 1) & 0xfffff;
      const name = n.toString(16).padStart(5, "0");
      if (!this.abstract.has(`${type}:${name}`)) return new TextEncoder().encode(name);
    }
    return null;
  }
}
