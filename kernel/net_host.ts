/**
 * The host side of the sandbox's network: `--publish` listeners and their relays. A relay
 * joins one host TCP connection to one connection of the sandbox's stack (opened by the
 * sentry toward 127.0.0.1:SANDBOXPORT), copying bytes both ways, the way docker's userland
 * proxy does. The application never sees a host descriptor.
 *
 * Host I/O is asynchronous (Deno.listen/accept/read/write); each completion feeds the stack
 * and kicks it. None of this is kernel state: relays are host plumbing (@nosave), a checkpoint
 * would drop them as it drops host connections. Ordering rule: a relay never kicks the stack
 * from inside stackChanged() (the kick in progress would ignore it); it queues a microtask.
 *
 * @module
 */

import { Ipv4Address, type TcpSocket } from "../netstack/mod.ts";
import type { Net, NetWatcher } from "./net.ts";

/** Bytes read from the host per read call. */
const CHUNK = 64 * 1024;

/** @nosave A host listener for one --publish rule. */
export class PublishListener {
  readonly #net: Net;
  readonly #listener: Deno.TcpListener;
  readonly #sandboxPort: number;
  readonly #relays = new Set<Relay>();
  #closed = false;

  /** Listens at once (throws Deno's error if the host port is taken); accepts in background. */
  constructor(net: Net, hostAddr: string, hostPort: number, sandboxPort: number) {
    this.#net = net;
    this.#sandboxPort = sandboxPort;
    this.#listener = Deno.listen({ hostname: hostAddr, port: hostPort, transport: "tcp" });
    void this.#acceptLoop();
  }

  async #acceptLoop(): Promise<void> {
    try {
      // Nothing in the body may throw: an exception would end the loop and close the listener.
      for await (const conn of this.#listener) {
        if (this.#closed) {
          conn.close();
          break;
        }
        // A relay may end inside its constructor (the sandbox refused it): it removes itself
        // through the callback, so it is added before it starts.
        const r = new Relay(this.#net, conn, this.#net.stack.tcpSocket(), (x) => this.#relays.delete(x));
        this.#relays.add(r);
        r.connect(this.#sandboxPort);
      }
    } catch {
      // The listener was closed.
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    for (const r of [...this.#relays]) r.close();
  }

  /** The sandbox-side connections of the live relays (a checkpoint leaves them out). */
  get sandboxSockets(): TcpSocket[] {
    return [...this.#relays].map((r) => r.sock);
  }
}

/**
 * @nosave One host connection joined to one connection of a stack: a --publish connection
 * (the sentry opens the sandbox side), or a forwarded one of --network sandbox (the
 * gateway stack answered the sandbox's SYN). Back-pressure both ways: one host read in
 * flight, and none while the stack has not taken the last one (its send queue is full, i.e.
 * the sandbox's receive window is); a host write finishes before more is taken from the stack.
 */
export class Relay implements NetWatcher {
  readonly #net: Net;
  readonly #conn: Deno.TcpConn;
  readonly #sock: TcpSocket;
  readonly #onClose: (r: Relay) => void;
  /** Host bytes the sandbox socket has not taken yet. */
  #pending: Uint8Array | null = null;
  #hostEof = false;
  #shutSent = false;
  #hostShut = false;
  #reading = false;
  #writing = false;
  #closed = false;
  #kickQueued = false;

  constructor(net: Net, conn: Deno.TcpConn, sock: TcpSocket, onClose: (r: Relay) => void) {
    this.#net = net;
    this.#conn = conn;
    this.#onClose = onClose;
    this.#sock = sock;
  }

  /** The stack's side of the relay. */
  get sock(): TcpSocket {
    return this.#sock;
  }

  /** Starts relaying over a connection that is already open or opening. */
  attach(): void {
    this.#net.watch(this);
    this.#kick();
  }

  /** Opens the sandbox side, toward 127.0.0.1:port, and starts relaying. */
  connect(port: number): void {
    const net = this.#net;
    try {
      this.#sock.connect(net.now(), { addr: Ipv4Address.parse("127.0.0.1"), port });
    } catch {
      this.close();
      return;
    }
    net.watch(this);
    this.#kick();
  }

  stackChanged(): void {
    this.#pump();
  }

  /** Moves what can move now, in both directions, and closes when both are done. */
  #pump(): void {
    if (this.#closed) return;
    const s = this.#sock.state;
    if (s === "SYN-SENT" || s === "SYN-RECEIVED") return;
    if (s === "CLOSED" && this.#sock.recvQueue === 0) {
      this.close();
      return;
    }
    // Host → sandbox.
    if (this.#pending !== null) {
      let n: number | null = null;
      try {
        n = this.#sock.send(this.#pending);
      } catch {
        this.close();
        return;
      }
      if (n !== null) {
        this.#pending = n === this.#pending.length ? null : this.#pending.subarray(n);
        this.#queueKick();
      }
    }
    if (this.#pending === null && this.#hostEof && !this.#shutSent) {
      this.#shutSent = true;
      try {
        this.#sock.shutdown("write");
      } catch { /* already closed */ }
      this.#queueKick();
    }
    if (this.#pending === null && !this.#hostEof && !this.#reading) void this.#readHost();
    // Sandbox → host.
    if (!this.#writing) {
      const avail = this.#sock.recvQueue;
      if (avail > 0) {
        const buf = new Uint8Array(Math.min(avail, 1 << 20));
        const n = this.#sock.recv(buf) ?? 0;
        this.#queueKick();
        void this.#writeHost(buf.subarray(0, n));
      } else if (this.#sock.readiness().readable) {
        let eof = false;
        try {
          eof = this.#sock.recv(new Uint8Array(0)) === 0;
        } catch {
          eof = true;
        }
        if (eof) {
          if (this.#shutSent || this.#hostEof) this.close();
          else if (!this.#hostShut) {
            this.#hostShut = true;
            this.#conn.closeWrite().catch(() => this.close());
          }
        }
      }
    }
  }

  async #readHost(): Promise<void> {
    this.#reading = true;
    const buf = new Uint8Array(CHUNK);
    let n: number | null = null;
    try {
      n = await this.#conn.read(buf);
    } catch {
      n = null;
    }
    this.#reading = false;
    if (this.#closed) return;
    if (n === null) this.#hostEof = true;
    else this.#pending = buf.subarray(0, n);
    this.#pump();
    this.#kick();
  }

  async #writeHost(data: Uint8Array): Promise<void> {
    this.#writing = true;
    try {
      let off = 0;
      while (off < data.length) off += await this.#conn.write(data.subarray(off));
    } catch {
      this.#writing = false;
      this.close();
      return;
    }
    this.#writing = false;
    this.#pump();
    this.#kick();
  }

  /** Kicks the stack from outside any kick in progress. */
  #queueKick(): void {
    if (this.#kickQueued) return;
    this.#kickQueued = true;
    queueMicrotask(() => {
      this.#kickQueued = false;
      this.#kick();
    });
  }

  #kick(): void {
    this.#net.kick();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#net.unwatch(this);
    try {
      this.#sock.close();
    } catch { /* closed */ }
    try {
      this.#conn.close();
    } catch { /* closed */ }
    this.#onClose(this);
    this.#queueKick();
  }
}
