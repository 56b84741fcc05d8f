/**
 * /proc/net/unix in Linux's format (net/unix/af_unix.c, unix_seq_show): one line per socket
 * of the sandbox, with its reference count, listening flag, type, state, inode and name
 * (an abstract name starts with '@', and its NUL bytes print as '@').
 *
 * @module
 */

import type { UnixNamespace } from "./namespace.ts";

const HEADER = "Num       RefCount Protocol Flags    Type St Inode Path\n";
/** __SO_ACCEPTCON: the socket listens. */
const SO_ACCEPTCON = 0x10000;
/** socket_state: SS_UNCONNECTED, SS_CONNECTING (an embryo not yet accepted), SS_CONNECTED. */
const SS_UNCONNECTED = 1, SS_CONNECTING = 2, SS_CONNECTED = 3;

function hex(n: number, width: number): string {
  return (n >>> 0).toString(16).toUpperCase().padStart(width, "0");
}

export function renderProcNetUnix(ns: UnixNamespace): string {
  let out = HEADER;
  for (const s of ns.open) {
    const connected = s.state === "connected";
    const st = s.embryo ? (connected ? SS_CONNECTING : SS_UNCONNECTED) : connected ? SS_CONNECTED : SS_UNCONNECTED;
    // The address is not shown as a kernel pointer to unprivileged readers (%pK): zeros.
    out += `0000000000000000: ${hex(2, 8)} ${hex(0, 8)} ${hex(s.state === "listening" ? SO_ACCEPTCON : 0, 8)} ` +
      `${hex(s.type, 4)} ${hex(st, 2)} ${String(s.ino).padStart(5)}`;
    const a = s.address;
    if (a !== null && a.kind !== "unnamed") {
      if (a.kind === "path") out += ` ${a.path}`;
      else {
        // bytes is the sockaddr: the family (2 bytes), then the NUL that marks the name abstract.
        let name = "@";
        for (const b of a.bytes.subarray(3)) name += b === 0 ? "@" : String.fromCharCode(b);
        out += ` ${name}`;
      }
    }
    out += "\n";
  }
  return out;
}
