import assert from "node:assert/strict";
import { EAGAIN, EBUSY, EINVAL, EPERM, EPIPE } from "../kernel/errno.ts";
import { O_DIRECT } from "../abi/linux/file.ts";
import { newPipe, Pipe } from "./pipe.ts";

Deno.test("a write's tail merges into the last slot only if it fits whole; the rest takes whole slots", () => {
  const p = new Pipe();
  p.append(new Uint8Array(1), 1, false);
  assert.equal(p.writable(65536), 61440); // one slot is taken by the single byte
  assert.equal(p.writable(100), 100); // merges
  p.append(new Uint8Array(4095), 4095, false);
  assert.equal(p.bufs.length, 1);
  assert.equal(p.writable(1), 1); // the slot is full: a new one
  assert.equal(p.size, 4096);
});

Deno.test("a write of at most PIPE_BUF bytes goes in whole or not at all", () => {
  const [r, w] = newPipe(0);
  assert.equal(w.write(new Uint8Array(61440), null), 61440);
  assert.equal(w.write(new Uint8Array(4000), null), 4000);
  assert.throws(() => w.write(new Uint8Array(200), null), (e) => e === EAGAIN);
  assert.equal(w.write(new Uint8Array(96), null), 96);
  assert.equal(r.read(new Uint8Array(70000), null), 65536);
});

Deno.test("O_DIRECT writes are packets: a read returns one and drops what did not fit", () => {
  const [r, w] = newPipe(0, O_DIRECT);
  w.write(new TextEncoder().encode("hello"), null);
  w.write(new TextEncoder().encode("world"), null);
  const b = new Uint8Array(3);
  assert.equal(r.read(b, null), 3);
  assert.equal(new TextDecoder().decode(b), "hel");
  const c = new Uint8Array(10);
  assert.equal(r.read(c, null), 5);
  assert.equal(new TextDecoder().decode(c.subarray(0, 5)), "world");
  assert.equal(r.pipe.size, 0);
});

Deno.test("F_SETPIPE_SZ rounds to a power of two of pages and refuses what Linux refuses", () => {
  const p = new Pipe();
  assert.equal(p.setSize(0, false), 4096);
  assert.equal(p.setSize(5000, false), 8192);
  assert.throws(() => p.setSize(0xffffffff, true), (e) => e === EINVAL);
  assert.throws(() => p.setSize(2 << 20, false), (e) => e === EPERM);
  assert.equal(p.setSize(2 << 20, true), 2 << 20);
  p.append(new Uint8Array(5000), 5000, false);
  assert.throws(() => p.setSize(4096, false), (e) => e === EBUSY);
  assert.equal(p.setSize(8192, false), 8192);
});

Deno.test("writing to a pipe without readers is EPIPE, reading one without writers is end of file", () => {
  const [r, w] = newPipe(0);
  r.decRef();
  assert.throws(() => w.write(new Uint8Array(1), null), (e) => e === EPIPE);
  const [r2, w2] = newPipe(0);
  w2.decRef();
  assert.equal(r2.read(new Uint8Array(1), null), 0);
});

Deno.test("takeVia offers the pages of one write as one view and keeps a slot the sink did not take whole", () => {
  const p = new Pipe();
  const data = p.allocate(3 * 4096 + 10);
  data.forEach((_, i) => data[i] = i & 0xff);
  p.append(data, data.length, false, true);
  const views: number[] = [];
  // The sink takes one page and a half: only the first page counts, the second stays.
  const n = p.takeVia(65536, (src) => {
    views.push(src.length);
    return 4096 + 2048;
  });
  assert.deepEqual(views, [3 * 4096]);
  assert.equal(n, 4096);
  assert.equal(p.size, 2 * 4096 + 10);
  const rest = new Uint8Array(65536);
  assert.equal(p.take(rest), 2 * 4096 + 10);
  assert.deepEqual(rest.subarray(0, 2 * 4096 + 10), data.subarray(4096));
});

Deno.test("a buffer handed to the pipe is reused only once every byte of it was read", () => {
  const p = new Pipe();
  const a = p.allocate(8192);
  p.append(a, 8192, false, true);
  assert.notEqual(p.allocate(8192).buffer, a.buffer); // still in the pipe
  p.take(new Uint8Array(4096));
  assert.notEqual(p.allocate(8192).buffer, a.buffer); // half read
  p.take(new Uint8Array(4096));
  assert.equal(p.allocate(8192).buffer, a.buffer);
  assert.notEqual(p.allocate(8192).buffer, a.buffer); // handed out once
});

Deno.test("the pages of one write free their slots as a reader takes them, one page at a time", () => {
  const [r, w] = newPipe(0);
  assert.equal(w.write(new Uint8Array(65536).fill(7), null), 65536);
  assert.equal(r.pipe.writable(1), 0); // every slot is in use
  const b = new Uint8Array(6000);
  assert.equal(r.read(b, null), 6000); // one page and part of the next
  assert.equal(r.pipe.writable(8192), 4096); // only the first page's slot is free
  assert.equal(r.read(b.subarray(0, 2192), null), 2192); // the end of the second page
  assert.equal(r.pipe.writable(8192), 8192);
  assert.equal(w.write(new Uint8Array(8192), null), 8192);
  assert.throws(() => w.write(new Uint8Array(1), null), (e) => e === EAGAIN);
  assert.equal(r.pipe.size, 65536);
  const all = new Uint8Array(70000);
  assert.equal(r.read(all, null), 65536);
  assert.ok(all.subarray(0, 57344).every((x) => x === 7));
  assert.equal(r.pipe.used, 0);
});

Deno.test("F_SETPIPE_SZ below the pages still buffered is EBUSY, counting a write's pages one by one", () => {
  const [r, w] = newPipe(0);
  w.write(new Uint8Array(3 * 4096), null);
  assert.throws(() => r.pipe.setSize(8192, false), (e) => e === EBUSY);
  r.read(new Uint8Array(4096), null);
  assert.equal(r.pipe.setSize(8192, false), 8192);
});
