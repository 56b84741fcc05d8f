import assert from "node:assert/strict";
import { EAGAIN, ENOTTY, ESPIPE } from "../kernel/errno.ts";
import { O_NONBLOCK, O_RDWR, TCGETS } from "../abi/linux/file.ts";
import * as ffi from "../platform/ptrace/_ffi.ts";
import { EVENT_IN, EVENT_OUT } from "../waiter/mod.ts";
import { hostFile, hostStdio } from "./host_file.ts";

function makeFifo(): { dir: string; fd: number } {
  const dir = Deno.makeTempDirSync({ prefix: "sentry_fifo_" });
  new Deno.Command("mkfifo", { args: [`${dir}/p`] }).outputSync();
  return { dir, fd: ffi.hostOpen(`${dir}/p`, O_RDWR | O_NONBLOCK | ffi.O_CLOEXEC) };
}

const noMemory = {
  copyIn: (_a: number, n: number) => new Uint8Array(n),
  copyOut: (_a: number, _d: Uint8Array) => {},
};

Deno.test("HostFile read of an empty pipe throws EAGAIN and notifies the queue when data arrives", async () => {
  const { dir, fd } = makeFifo();
  const file = hostFile(fd, { owned: true });
  try {
    assert.equal(file.isStream, true);
    assert.equal(file.path().startsWith("pipe:["), true);
    assert.throws(() => file.read(new Uint8Array(4), null), (e) => e === EAGAIN);
    assert.equal(file.readiness(EVENT_IN | EVENT_OUT), EVENT_OUT);
    const woken = new Promise<number>((resolve) => file.waitQueue.register({ wake: resolve }, EVENT_IN));
    assert.equal(ffi.hostWrite(fd, new TextEncoder().encode("hey")), 3);
    assert.equal(await woken, EVENT_IN);
    assert.equal(file.readiness(EVENT_IN), EVENT_IN);
    const b = new Uint8Array(8);
    assert.equal(file.read(b, null), 3);
    assert.equal(new TextDecoder().decode(b.subarray(0, 3)), "hey");
    assert.throws(() => file.read(b, 0), (e) => e === ESPIPE);
    assert.throws(() => file.ioctl(TCGETS, 0, noMemory), (e) => e === ENOTTY);
  } finally {
    file.decRef();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("HostFile release cancels a pending host poll", async () => {
  const { dir, fd } = makeFifo();
  const file = hostFile(fd, { owned: true });
  assert.throws(() => file.read(new Uint8Array(4), null), (e) => e === EAGAIN);
  const pending = file.pendingWait;
  assert.notEqual(pending, null);
  file.decRef();
  await pending;
  assert.equal(file.pendingWait, null);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("hostStdio() wraps the sentry's descriptors without closing them", () => {
  const out = hostStdio(1);
  assert.equal(out.writable, true);
  assert.equal(out.write(new Uint8Array(0), null), 0);
  out.decRef();
  assert.ok(ffi.hostFcntl(1, ffi.F_GETFL, 0) >= 0);
});

// The sentry's stdout may be a non-blocking pipe: O_NONBLOCK is a file status flag, shared with
// every process holding the same open pipe (a parent that set it for itself). A write that finds
// it full must wait for room and write everything, never drop bytes or report EAGAIN.
Deno.test("HostFile write to a full non-blocking pipe waits for room and writes every byte", async () => {
  const { dir, fd } = makeFifo();
  const file = hostFile(fd, { owned: true });
  try {
    let filled = 0;
    for (let n; (n = ffi.hostWrite(fd, new Uint8Array(4096).fill(0x2e))) > 0;) filled += n;
    assert.ok(filled >= 4096, "the pipe is full before the write");
    const data = Uint8Array.from({ length: 200_000 }, (_, i) => i % 251);
    // A reader that starts after a while and takes exactly what was written, into a file
    // (this thread blocks in the write, so it could not drain a pipe to the reader).
    const reader = new Deno.Command("sh", {
      args: ["-c", `sleep 0.2; head -c ${filled + data.length} "$0/p" > "$0/out"`, dir],
      stdin: "null",
    }).spawn();
    assert.equal(file.write(data, null), data.length);
    assert.equal((await reader.status).code, 0);
    const out = Deno.readFileSync(`${dir}/out`);
    assert.equal(out.length, filled + data.length);
    assert.ok(out.subarray(0, filled).every((b) => b === 0x2e));
    assert.deepEqual(out.subarray(filled), data);
  } finally {
    file.decRef();
    Deno.removeSync(dir, { recursive: true });
  }
});
