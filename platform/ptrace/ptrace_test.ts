import assert from "node:assert/strict";
import { PtracePlatform } from "./ptrace.ts";
import { STUB_BASE } from "./stub_elf.ts";

const CODE = 0x400000;

function liveChildren(): number[] {
  const me = String(Deno.pid);
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const ppid = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1];
      if (ppid === me) out.push(Number(e.name));
    } catch { /* exited meanwhile */ }
  }
  return out;
}

Deno.test("a stub stops at every application syscall without the host running it", () => {
  const p = new PtracePlatform();
  try {
    const ctx = p.newAddressSpace();
    const as = ctx.addressSpace;
    assert.equal(as.mapAnonymous(ctx, CODE, 4096, 7, false), 0);
    // mov eax, 39 (getpid); syscall; mov edi, eax; mov eax, 60 (exit); syscall
    as.write(CODE, new Uint8Array([0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0x89, 0xc7, 0xb8, 60, 0, 0, 0, 0x0f, 0x05]));
    ctx.regs.set("rip", CODE);
    ctx.markRegsDirty();
    p.resume(ctx);
    const s1 = p.waitStop(1e9);
    assert.equal(s1?.reason.kind, "syscall");
    assert.equal(s1?.ctx.syscall.nr, 39);
    ctx.setReturn(4242);
    p.resume(ctx);
    const s2 = p.waitStop(1e9);
    assert.equal(s2?.ctx.syscall.nr, 60);
    // The emulated getpid's result reached the application, and exit did not run on the host.
    assert.equal(s2?.ctx.syscall.arg(0), 4242);
    assert.equal(liveChildren().length, 1);
  } finally {
    p.shutdown();
  }
  assert.equal(liveChildren().length, 0);
});

Deno.test("a NULL dereference in the stub is reported as a SIGSEGV fault at address 0", () => {
  const p = new PtracePlatform();
  try {
    const ctx = p.newAddressSpace();
    ctx.addressSpace.mapAnonymous(ctx, CODE, 4096, 7, false);
    // mov qword [0], rax
    ctx.addressSpace.write(CODE, new Uint8Array([0x48, 0x89, 0x04, 0x25, 0, 0, 0, 0]));
    ctx.regs.set("rip", CODE);
    ctx.markRegsDirty();
    p.resume(ctx);
    const s = p.waitStop(1e9);
    assert.ok(s !== null && s.reason.kind === "fault");
    if (s !== null && s.reason.kind === "fault") {
      assert.equal(s.reason.signo, 11);
      assert.equal(s.reason.addr, 0);
    }
  } finally {
    p.shutdown();
  }
});

Deno.test("only the stub page is left in a new address space", () => {
  const p = new PtracePlatform();
  try {
    const ctx = p.newAddressSpace();
    const buf = new Uint8Array(1);
    assert.equal(ctx.addressSpace.read(STUB_BASE, buf), 1);
    // Nothing else the host mapped (stack, vDSO) is readable.
    const maps = liveChildren().map((pid) => Deno.readTextFileSync(`/proc/${pid}/maps`)).join("");
    const lines = maps.trim().split("\n").filter((l) => !l.includes("[vsyscall]"));
    assert.equal(lines.length, 1);
  } finally {
    p.shutdown();
  }
});

Deno.test("memory reads past a mapping stop short at the first unmapped page", () => {
  const p = new PtracePlatform();
  try {
    const ctx = p.newAddressSpace();
    ctx.addressSpace.mapAnonymous(ctx, CODE, 4096, 3, false);
    const buf = new Uint8Array(8192);
    assert.equal(ctx.addressSpace.read(CODE, buf), 4096);
    assert.equal(ctx.addressSpace.read(0x10, buf), 0);
  } finally {
    p.shutdown();
  }
});

Deno.test("a forked address space has its own copy of the memory", () => {
  const p = new PtracePlatform();
  try {
    const ctx = p.newAddressSpace();
    const as = ctx.addressSpace;
    as.mapAnonymous(ctx, CODE, 4096, 7, false);
    as.write(CODE + 2048, new Uint8Array([1, 2, 3]));
    const child = as.fork(ctx);
    assert.notEqual(child.addressSpace, as);
    as.write(CODE + 2048, new Uint8Array([9]));
    const got = new Uint8Array(3);
    child.addressSpace.read(CODE + 2048, got);
    assert.deepEqual([...got], [1, 2, 3]);
    // The child runs application code on its own: mov eax, 39; syscall
    child.addressSpace.write(CODE, new Uint8Array([0xb8, 39, 0, 0, 0, 0x0f, 0x05]));
    child.regs.set("rip", CODE);
    child.markRegsDirty();
    p.resume(child);
    const s = p.waitStop(1e9);
    assert.equal(s?.ctx, child);
    assert.equal(s?.ctx.syscall.nr, 39);
    assert.equal(liveChildren().length, 1); // the fork is the stub's child, not ours
  } finally {
    p.shutdown();
  }
});

Deno.test("a new thread shares memory and ends alone when released", () => {
  const p = new PtracePlatform();
  try {
    const ctx = p.newAddressSpace();
    const as = ctx.addressSpace;
    as.mapAnonymous(ctx, CODE, 4096, 7, false);
    const th = as.newThread(ctx);
    assert.equal(th.addressSpace, as);
    as.write(CODE + 100, new Uint8Array([7]));
    const got = new Uint8Array(1);
    th.addressSpace.read(CODE + 100, got);
    assert.equal(got[0], 7);
    th.release();
    // The first thread still runs syscalls.
    as.write(CODE, new Uint8Array([0xb8, 39, 0, 0, 0, 0x0f, 0x05]));
    ctx.regs.set("rip", CODE);
    ctx.markRegsDirty();
    p.resume(ctx);
    assert.equal(p.waitStop(1e9)?.ctx, ctx);
  } finally {
    p.shutdown();
  }
});
