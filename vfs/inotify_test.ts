import assert from "node:assert/strict";
import { EAGAIN, EEXIST, EINVAL } from "../kernel/errno.ts";
import { IN_IGNORED, IN_MASK_ADD, IN_MASK_CREATE, IN_MODIFY, IN_OPEN, IN_Q_OVERFLOW } from "./fsnotify.ts";
import { InotifyFile, MAX_QUEUED_EVENTS } from "./inotify.ts";
import { TmpfsFilesystem } from "./tmpfs/tmpfs.ts";

function header(b: Uint8Array, o = 0): { wd: number; mask: number; len: number } {
  const v = new DataView(b.buffer, b.byteOffset);
  return { wd: v.getInt32(o, true), mask: v.getUint32(o + 4, true), len: v.getUint32(o + 12, true) };
}

Deno.test("an event equal to the last queued one is dropped, and names are padded to 16 bytes", () => {
  const f = new InotifyFile(0);
  f.queueEvent(1, IN_MODIFY, 0, "abc");
  f.queueEvent(1, IN_MODIFY, 0, "abc");
  f.queueEvent(1, IN_MODIFY, 0, "");
  assert.equal(f.queuedBytes, 32 + 16);
  const b = new Uint8Array(100);
  assert.equal(f.read(b, null), 48);
  assert.deepEqual(header(b), { wd: 1, mask: IN_MODIFY, len: 16 });
  assert.equal(new TextDecoder().decode(b.subarray(16, 19)), "abc");
  assert.equal(b[19], 0);
  assert.throws(() => f.read(b, null), (e) => e === EAGAIN);
});

Deno.test("a read too small for the first event is EINVAL and takes nothing", () => {
  const f = new InotifyFile(0);
  f.queueEvent(1, IN_OPEN, 0, "name");
  assert.throws(() => f.read(new Uint8Array(31), null), (e) => e === EINVAL);
  assert.equal(f.read(new Uint8Array(32), null), 32);
});

Deno.test("a full queue takes one IN_Q_OVERFLOW and then nothing", () => {
  const f = new InotifyFile(0);
  for (let i = 0; i < MAX_QUEUED_EVENTS + 10; i++) f.queueEvent(1, i % 2 ? IN_OPEN : IN_MODIFY, 0, "");
  assert.equal(f.events.length, MAX_QUEUED_EVENTS + 1);
  const last = f.events[f.events.length - 1]!;
  assert.equal(last.mask, IN_Q_OVERFLOW);
  assert.equal(last.wd, -1);
});

Deno.test("watching a dentry twice updates one watch; rm_watch queues IN_IGNORED and frees the dentry", () => {
  const fs = new TmpfsFilesystem();
  const d = fs.root;
  const f = new InotifyFile(0);
  const wd = f.addWatch(d, IN_OPEN);
  assert.equal(f.addWatch(d, IN_MODIFY | IN_MASK_ADD), wd);
  assert.equal(d.inotify?.[0]?.mask, IN_OPEN | IN_MODIFY);
  assert.throws(() => f.addWatch(d, IN_OPEN | IN_MASK_CREATE), (e) => e === EEXIST);
  f.removeWatch(wd);
  assert.equal(d.inotify, null);
  assert.equal(f.events[0]?.mask, IN_IGNORED);
  assert.throws(() => f.removeWatch(wd), (e) => e === EINVAL);
});

Deno.test("closing an instance takes its watches off their dentries", () => {
  const fs = new TmpfsFilesystem();
  const f = new InotifyFile(0);
  f.addWatch(fs.root, IN_OPEN);
  f.decRef();
  assert.equal(fs.root.inotify, null);
});
