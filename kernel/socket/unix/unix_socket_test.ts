import assert from "node:assert/strict";
import {
  EADDRINUSE, EAGAIN, ECONNREFUSED, ECONNRESET, EINVAL, EISCONN, EMSGSIZE, ENOTCONN, EPIPE,
} from "../../errno.ts";
import {
  AF_UNIX, MSG_DONTWAIT, MSG_PEEK, MSG_TRUNC, SHUT_WR, SO_PEERCRED, SO_SNDBUF, SOCK_DGRAM, SOCK_NONBLOCK,
  SOCK_SEQPACKET, SOCK_STREAM, SOL_SOCKET,
} from "../../../abi/linux/socket.ts";
import { Credentials } from "../../creds.ts";
import type { Task } from "../../task.ts";
import { EVENT_HUP, EVENT_IN, EVENT_OUT, EVENT_RDHUP, type Waker } from "../../../waiter/mod.ts";
import { newPipe, PipeEnd } from "../../../vfs/pipe.ts";
import type { RecvResult } from "../socket.ts";
import { UnixNamespace } from "./namespace.ts";
import { createUnixPair, createUnixSocket, UnixSocket } from "./mod.ts";

/** The parts of a task the family reads: its process id, credentials and the kernel's names. */
function fakeTask(pid = 7, ns = new UnixNamespace()): Task {
  return { tg: { tgid: pid }, vnr: (id: number) => id, creds: Credentials.root(), kernel: { unixNames: ns }, net: { unix: ns } } as unknown as Task;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function send(t: Task, s: UnixSocket, text: string, flags = 0): number {
  return s.sendmsg(t, { data: enc.encode(text), to: null, control: {}, flags });
}

function recv(t: Task, s: UnixSocket, maxLen = 100, flags = 0): RecvResult {
  return s.recvmsg(t, { maxLen, flags });
}

function abstractName(name: string): Uint8Array {
  const b = new Uint8Array(3 + name.length);
  b[0] = AF_UNIX;
  b.set(enc.encode(name), 3);
  return b;
}

class CountingWaker implements Waker {
  events = 0;
  wake(events: number): void {
    this.events |= events;
  }
}

Deno.test("a stream socketpair carries bytes both ways and merges segments in one read", () => {
  const t = fakeTask();
  const [a, b] = createUnixPair(t, SOCK_STREAM, 0, 0);
  assert.equal(send(t, a, "hello "), 6);
  assert.equal(send(t, a, "world"), 5);
  assert.equal(dec.decode(recv(t, b, 3, MSG_PEEK).data), "hel");
  assert.equal(dec.decode(recv(t, b).data), "hello world");
  assert.throws(() => recv(t, b), (e) => e === EAGAIN);
  assert.equal(send(t, b, "back"), 4);
  assert.equal(dec.decode(recv(t, a).data), "back");
});

Deno.test("datagram sockets keep boundaries, cut long datagrams with MSG_TRUNC and report the full length", () => {
  const t = fakeTask();
  const [a, b] = createUnixPair(t, SOCK_DGRAM, 0, 0);
  send(t, a, "first");
  send(t, a, "second message");
  send(t, a, "");
  assert.equal(dec.decode(recv(t, b).data), "first");
  const r = recv(t, b, 3);
  assert.equal(dec.decode(r.data), "sec");
  assert.equal(r.fullLength, 14);
  assert.equal(r.msgFlags, MSG_TRUNC);
  assert.equal(recv(t, b).data.length, 0);
  assert.throws(() => recv(t, b, 10, MSG_DONTWAIT), (e) => e === EAGAIN);
});

Deno.test("a stream sender's buffer fills (EAGAIN), and draining it wakes the sender for EVENT_OUT", () => {
  const t = fakeTask();
  const [a, b] = createUnixPair(t, SOCK_STREAM, 0, 0);
  a.setsockopt(t, SOL_SOCKET, SO_SNDBUF, Uint8Array.of(0, 0x40, 0, 0)); // 16384, doubled
  assert.equal(a.sndBuf, 32768);
  let queued = 0;
  for (;;) {
    try {
      queued += send(t, a, "x".repeat(1000));
    } catch (e) {
      assert.equal(e, EAGAIN);
      break;
    }
  }
  // Each message also charges some overhead: the buffer holds less than sndbuf bytes of data.
  assert.ok(queued > 16384 && queued < 32768, `queued ${queued}`);
  assert.ok(a.wmem >= a.sndBuf);
  assert.equal(a.readiness(EVENT_OUT), 0);
  const w = new CountingWaker();
  a.waitQueue.register(w, EVENT_OUT);
  while (b.readiness(EVENT_IN)) recv(t, b, 65536);
  assert.ok(w.events & EVENT_OUT);
  assert.equal(a.readiness(EVENT_OUT), EVENT_OUT);
  assert.equal(a.wmem, 0);
});

Deno.test("close of one end gives the other EOF and EPIPE; unread data makes it ECONNRESET first", () => {
  const t = fakeTask();
  const [a, b] = createUnixPair(t, SOCK_STREAM, 0, 0);
  send(t, b, "unread by b's peer");
  a.decRef();
  assert.throws(() => recv(t, b), (e) => e === ECONNRESET);
  assert.equal(recv(t, b).data.length, 0);
  assert.throws(() => send(t, b, "x"), (e) => e === EPIPE);
  assert.equal(b.readiness(EVENT_IN | EVENT_RDHUP | EVENT_HUP), EVENT_IN | EVENT_RDHUP | EVENT_HUP);
});

Deno.test("shutdown(SHUT_WR) gives the peer EOF after the data and this end EPIPE", () => {
  const t = fakeTask();
  const [a, b] = createUnixPair(t, SOCK_SEQPACKET, 0, 0);
  send(t, a, "last");
  a.shutdown(t, SHUT_WR);
  assert.throws(() => send(t, a, "x"), (e) => e === EPIPE);
  assert.equal(dec.decode(recv(t, b).data), "last");
  assert.equal(recv(t, b).data.length, 0);
  assert.equal(a.sigpipeOnEpipe, false);
});

Deno.test("listen, connect and accept over an abstract name; a full backlog refuses with EAGAIN", () => {
  const ns = new UnixNamespace();
  const server = fakeTask(10, ns), client = fakeTask(20, ns);
  const l = createUnixSocket(server, SOCK_STREAM, 0, 0);
  const name = abstractName("srv");
  assert.throws(() => l.listen(server, 0), (e) => e === EINVAL); // unbound
  l.bind(server, name);
  l.listen(server, 0);
  const c1 = createUnixSocket(client, SOCK_STREAM, 0, 0);
  c1.connect(client, name);
  send(client, c1, "early");
  const c2 = createUnixSocket(client, SOCK_STREAM, 0, 0);
  assert.throws(() => c2.connect(client, name), (e) => e === EAGAIN);
  assert.ok(l.readiness(EVENT_IN));
  const w = new CountingWaker();
  c2.waitQueue.register(w, EVENT_OUT);
  const s1 = l.accept(server, SOCK_NONBLOCK) as UnixSocket;
  assert.ok(w.events & EVENT_OUT, "a connect waiting for the backlog is woken");
  c2.connect(client, name);
  l.accept(server, 0);
  assert.throws(() => c1.connect(client, name), (e) => e === EISCONN);
  assert.equal(dec.decode(recv(server, s1).data), "early");
  assert.deepEqual([...s1.getsockname(server)], [...name]);
  assert.deepEqual([...c1.getpeername(client)], [...name]);
  const cred = new DataView(s1.getsockopt(server, SOL_SOCKET, SO_PEERCRED, 12).buffer);
  assert.equal(cred.getInt32(0, true), 20);
  const ccred = new DataView(c1.getsockopt(client, SOL_SOCKET, SO_PEERCRED, 12).buffer);
  assert.equal(ccred.getInt32(0, true), 10);
  const d = createUnixSocket(client, SOCK_DGRAM, 0, 0);
  assert.throws(() => d.connect(client, name), (e) => e === ECONNREFUSED, "another type's name is not found");
  const dup = createUnixSocket(server, SOCK_STREAM, 0, 0);
  assert.throws(() => dup.bind(server, name), (e) => e === EADDRINUSE);
  l.decRef();
  dup.bind(server, name); // the name is free again
});

Deno.test("closing a listener resets the connections it never accepted", () => {
  const ns = new UnixNamespace();
  const t = fakeTask(1, ns);
  const l = createUnixSocket(t, SOCK_STREAM, 0, 0);
  l.bind(t, abstractName("x"));
  l.listen(t, 5);
  const c = createUnixSocket(t, SOCK_STREAM, 0, 0);
  c.connect(t, abstractName("x"));
  l.decRef();
  assert.throws(() => recv(t, c), (e) => e === ECONNRESET);
  assert.equal(recv(t, c).data.length, 0);
});

Deno.test("descriptors in flight hold a reference until received, or until the queue is dropped", () => {
  const t = fakeTask();
  const [a, b] = createUnixPair(t, SOCK_DGRAM, 0, 0);
  const [r, w] = newPipe(0);
  a.sendmsg(t, { data: enc.encode("fd"), to: null, control: { rights: [r] }, flags: 0 });
  r.decRef(); // the sender's own reference goes; the message keeps the pipe's read end open
  assert.equal(w.pipe.readers, 1);
  const got = recv(t, b);
  assert.equal(got.control.rights?.length, 1);
  assert.ok(got.control.rights![0] instanceof PipeEnd);
  got.control.rights![0]!.decRef();
  assert.equal(w.pipe.readers, 0);

  const [r2] = newPipe(0);
  a.sendmsg(t, { data: enc.encode("fd"), to: null, control: { rights: [r2] }, flags: 0 });
  r2.decRef();
  assert.equal(r2.pipe.readers, 1);
  b.decRef();
  assert.equal(r2.pipe.readers, 0, "closing the receiver drops what it never read");
});

Deno.test("datagram errors: EMSGSIZE over the send buffer, ECONNREFUSED then ENOTCONN after the peer dies", () => {
  const ns = new UnixNamespace();
  const t = fakeTask(1, ns);
  const [a, b] = createUnixPair(t, SOCK_DGRAM, 0, 0);
  assert.throws(() => a.sendmsg(t, { data: new Uint8Array(a.sndBuf), to: null, control: {}, flags: 0 }), (e) => e === EMSGSIZE);
  b.decRef();
  assert.throws(() => send(t, a, "x"), (e) => e === ECONNREFUSED);
  assert.throws(() => send(t, a, "x"), (e) => e === ENOTCONN);
  const st = createUnixSocket(t, SOCK_STREAM, 0, 0);
  const unnamed = Uint8Array.of(AF_UNIX, 0);
  st.bind(t, unnamed); // autobind
  assert.equal(st.getsockname(t).length, 8);
  const dg = createUnixSocket(t, SOCK_DGRAM, 0, 0);
  dg.bind(t, abstractName("dg"));
  const other = createUnixSocket(t, SOCK_SEQPACKET, 0, 0);
  assert.throws(() => other.connect(t, abstractName("dg")), (e) => e === ECONNREFUSED);
});

Deno.test("SO_PASSCRED attaches the sender's credentials to what is received", () => {
  const t = fakeTask(42);
  const [a, b] = createUnixPair(t, SOCK_STREAM, 0, 0);
  b.passcred = true;
  send(t, a, "hi");
  assert.deepEqual(recv(t, b).control.creds, { pid: 42, uid: 0, gid: 0 });
  a.sendmsg(t, { data: enc.encode("x"), to: null, control: { creds: { pid: 42, uid: 5, gid: 6 } }, flags: 0 });
  assert.deepEqual(recv(t, b).control.creds, { pid: 42, uid: 5, gid: 6 });
});

Deno.test("read and write work on a socket as on a pipe, and fstat says S_IFSOCK", () => {
  const t = fakeTask();
  const [a, b] = createUnixPair(t, SOCK_STREAM, 0, 0);
  assert.equal(a.write(enc.encode("plain"), null), 5);
  const buf = new Uint8Array(10);
  assert.equal(b.read(buf, null), 5);
  assert.equal(dec.decode(buf.subarray(0, 5)), "plain");
  assert.equal(a.stat().mode, 0o140777);
  assert.match(a.path(), /^socket:\[\d+\]$/);
  assert.equal(a.messageOriented, false);
  const [d] = createUnixPair(t, SOCK_DGRAM, 0, 0);
  assert.equal(d.messageOriented, true);
});
