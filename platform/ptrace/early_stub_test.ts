import assert from "node:assert/strict";
import { PtracePlatform } from "./ptrace.ts";
import { discardEarlyStub, startEarlyStub } from "./early_stub.ts";
import { buildStubElf } from "./stub_elf.ts";

function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The state letter of /proc/PID/stat (T: stopped). */
function state(pid: number): string {
  const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return s.slice(s.lastIndexOf(")") + 2, s.lastIndexOf(")") + 3);
}

Deno.test("an early stub waits stopped, and becomes the first zygote's stub, confined as one the platform starts", () => {
  const stub = startEarlyStub();
  for (let i = 0; i < 200 && state(stub.pid) !== "T"; i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  assert.equal(state(stub.pid), "T");
  const p = new PtracePlatform({ stub });
  try {
    const ctx = p.newAddressSpace();
    // Confined as ever: new namespaces where the host gives them (root here), its root empty.
    const c = p.confinement!;
    assert.notEqual(c, null);
    const mine = Deno.readLinkSync(`/proc/self/ns/mnt`);
    const zygotePid = (ctx.addressSpace as unknown as { pid: number }).pid;
    assert.ok(zygotePid > 0);
    if (c.namespaces.includes("mnt")) assert.notEqual(Deno.readLinkSync(`/proc/${zygotePid}/ns/mnt`), mine);
    ctx.addressSpace.release();
  } finally {
    p.shutdown();
  }
  assert.equal(alive(stub.pid), false);
  assert.equal(exists(stub.dir), false, "the stub's directory is removed with the platform");
});

Deno.test("a platform that never used its early stub kills and reaps it, and removes its directory", () => {
  const stub = startEarlyStub();
  const p = new PtracePlatform({ stub });
  p.shutdown();
  assert.equal(alive(stub.pid), false, "no zombie or stopped stub is left");
  assert.equal(exists(stub.dir), false);
});

Deno.test("an early stub no platform took is discarded whole", () => {
  const stub = startEarlyStub();
  discardEarlyStub(stub);
  assert.equal(alive(stub.pid), false);
  assert.equal(exists(stub.dir), false);
});

Deno.test("a stub binary in the cache is written once, kept after the platform, and used again; a wrong one is not run", () => {
  const root = Deno.makeTempDirSync({ prefix: "sentry-stub-cache-test-" });
  try {
    const elf = buildStubElf();
    const dir = `${root}/stub-test`;
    const first = startEarlyStub(elf, dir);
    assert.equal(first.temporary, false);
    assert.equal(first.path, `${dir}/stub`);
    const p = new PtracePlatform({ stub: first });
    try {
      p.newAddressSpace().addressSpace.release();
    } finally {
      p.shutdown();
    }
    assert.equal(alive(first.pid), false);
    assert.ok(exists(first.path), "the cached binary stays for the next start");
    const ino = Deno.statSync(first.path).ino;
    const second = startEarlyStub(elf, dir);
    assert.equal(second.path, first.path);
    assert.equal(Deno.statSync(second.path).ino, ino, "not written again");
    discardEarlyStub(second);
    assert.ok(exists(second.path));
    // Something else at the cached path (another binary, a truncated write): a private copy runs.
    Deno.chmodSync(first.path, 0o700);
    Deno.writeFileSync(first.path, elf.subarray(0, elf.length - 1));
    const third = startEarlyStub(elf, dir);
    assert.equal(third.temporary, true);
    assert.notEqual(third.dir, dir);
    discardEarlyStub(third);
    assert.equal(exists(third.dir), false);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});
