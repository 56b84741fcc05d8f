import assert from "node:assert/strict";
import { ENOSPC } from "../kernel/errno.ts";
import { Credentials } from "../kernel/creds.ts";
import { O_RDWR, SEEK_END } from "../abi/linux/file.ts";
import { VirtualFilesystem } from "./vfs.ts";

function withHostDev(fn: (open: (path: string) => import("./file_description.ts").FileDescription) => void): void {
  const vfs = VirtualFilesystem.create({ rootHostPath: "/", readonly: true });
  try {
    const ctx = { root: vfs.root(), creds: Credentials.root() };
    fn((path) => vfs.openAt(ctx, vfs.root(), path, O_RDWR, 0));
  } finally {
    vfs.release();
  }
}

Deno.test("the host's /dev/null and /dev/zero open as in-sentry devices on a read-only root", () => {
  withHostDev((open) => {
    const nul = open("/dev/null");
    assert.equal(nul.read(new Uint8Array(8), null), 0);
    assert.equal(nul.write(new Uint8Array(8), null), 8);
    assert.equal(nul.seek(100, SEEK_END), 0);
    assert.equal(nul.location()?.path(), "/dev/null");
    nul.decRef();
    const zero = open("/dev/zero");
    const b = new Uint8Array(4).fill(7);
    assert.equal(zero.read(b, null), 4);
    assert.deepEqual([...b], [0, 0, 0, 0]);
    zero.decRef();
  });
});

Deno.test("/dev/full refuses writes with ENOSPC and /dev/urandom returns random bytes", () => {
  withHostDev((open) => {
    const full = open("/dev/full");
    assert.throws(() => full.write(new Uint8Array(1), null), (e) => e === ENOSPC);
    full.decRef();
    const rnd = open("/dev/urandom");
    const b = new Uint8Array(32);
    assert.equal(rnd.read(b, null), 32);
    assert.ok(b.some((x) => x !== 0));
    rnd.decRef();
  });
});
