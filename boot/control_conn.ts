/**
 * One connection of the control socket, either side: messages framed as a 4-byte big-endian
 * length and that many bytes of UTF-8 JSON, descriptors passed alongside (SCM_RIGHTS). I/O is
 * asynchronous (a poll on a thread of Deno's pool, then a non-blocking call on the JavaScript
 * thread), so a connection never stalls the sandbox's event loop. See docs/control.md.
 *
 * @module
 */

import {
  hostClose,
  hostEventfd,
  hostPollAsync,
  hostRecvWithFds,
  hostSendWithFds,
  hostWrite,
  POLLIN,
  POLLOUT,
} from "../platform/ptrace/_ffi.ts";

/** The largest message either side accepts (a request with a large environment fits). */
export const MAX_MESSAGE = 1 << 20;

const EAGAIN = 11;

/** What {@linkcode ControlConn.readMessage} got. */
export type Incoming =
  /** A whole message, and the descriptors that came with it (the receiver owns them). */
  | { kind: "message"; text: string; fds: number[] }
  /** The peer closed the connection (or it failed) between messages. */
  | { kind: "eof" }
  /** The peer announced more than the limit; nothing of it was read. */
  | { kind: "tooLarge"; length: number }
  /** The stream ended inside a message, or the bytes are not UTF-8. */
  | { kind: "malformed"; why: string };

/** A connected AF_UNIX stream socket (non-blocking) and its framing. */
export class ControlConn {
  readonly fd: number;
  /** An eventfd that ends a pending poll when the connection closes. */
  readonly #cancel: number;
  #buf = new Uint8Array(0);
  /** Descriptors received and not yet handed out with a message. */
  #fds: number[] = [];
  #closed = false;
  #polling = 0;
  /** Writes go one after the other: a frame is never interleaved with another. */
  #writeChain: Promise<void> = Promise.resolve();

  constructor(fd: number) {
    this.fd = fd;
    const c = hostEventfd();
    if (c < 0) {
      hostClose(fd);
      throw new Error(`eventfd: errno ${-c}`);
    }
    this.#cancel = c;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Waits until fd reports one of events; false when the connection closed meanwhile. */
  async #wait(events: number): Promise<boolean> {
    if (this.#closed) return false;
    this.#polling++;
    try {
      await hostPollAsync(this.fd, events, this.#cancel);
    } finally {
      this.#polling--;
    }
    if (this.#closed) {
      if (this.#polling === 0) this.#release();
      return false;
    }
    return true;
  }

  /** Reads what is there into the buffer; false at the end of the stream. */
  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(65536);
    for (;;) {
      if (this.#closed) return false;
      const r = hostRecvWithFds(this.fd, chunk);
      this.#fds.push(...r.fds);
      if (r.n > 0) {
        const b = new Uint8Array(this.#buf.length + r.n);
        b.set(this.#buf);
        b.set(chunk.subarray(0, r.n), this.#buf.length);
        this.#buf = b;
        return true;
      }
      if (r.n === 0 || r.n !== -EAGAIN) return false;
      if (!(await this.#wait(POLLIN))) return false;
    }
  }

  /**
   * The next message. At most `max` bytes are accepted: a longer one is reported before any
   * of it is read (the caller then closes the connection).
   */
  async readMessage(max = MAX_MESSAGE): Promise<Incoming> {
    while (this.#buf.length < 4) {
      const had = this.#buf.length;
      if (!(await this.#fill())) return had === 0 ? { kind: "eof" } : { kind: "malformed", why: "the stream ended inside a message" };
    }
    const length = new DataView(this.#buf.buffer, this.#buf.byteOffset).getUint32(0);
    if (length > max) return { kind: "tooLarge", length };
    while (this.#buf.length < 4 + length) {
      if (!(await this.#fill())) return { kind: "malformed", why: "the stream ended inside a message" };
    }
    const body = this.#buf.subarray(4, 4 + length);
    this.#buf = this.#buf.slice(4 + length);
    const fds = this.#fds;
    this.#fds = [];
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(body);
    } catch {
      for (const f of fds) hostClose(f);
      return { kind: "malformed", why: "the message is not UTF-8" };
    }
    return { kind: "message", text, fds };
  }

  /** Sends one message (JSON), with descriptors attached; false when the peer is gone. */
  send(msg: unknown, fds: readonly number[] = []): Promise<boolean> {
    const body = new TextEncoder().encode(JSON.stringify(msg));
    const frame = new Uint8Array(4 + body.length);
    new DataView(frame.buffer).setUint32(0, body.length);
    frame.set(body, 4);
    const p = this.#writeChain.then(() => this.#writeAll(frame, fds));
    this.#writeChain = p.then(() => {}, () => {});
    return p;
  }

  async #writeAll(frame: Uint8Array, fds: readonly number[]): Promise<boolean> {
    let off = 0;
    let pending = fds;
    while (off < frame.length) {
      if (this.#closed) return false;
      const part = off === 0 ? frame : frame.slice(off);
      const n = hostSendWithFds(this.fd, part, pending);
      if (n > 0) {
        off += n;
        pending = [];
        continue;
      }
      if (n !== -EAGAIN) return false;
      if (!(await this.#wait(POLLOUT))) return false;
    }
    return true;
  }

  /** Closes the connection (a pending read or write ends). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const f of this.#fds) hostClose(f);
    this.#fds = [];
    if (this.#polling > 0) {
      hostWrite(this.#cancel, new Uint8Array(new BigUint64Array([1n]).buffer));
      return; // the last poll to return releases the descriptors
    }
    this.#release();
  }

  #release(): void {
    hostClose(this.fd);
    hostClose(this.#cancel);
  }
}
