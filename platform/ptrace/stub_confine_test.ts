/**
 * The stubs' confinement (PtracePlatform.#confine, stub_seccomp.ts): what the host shows of a
 * stub, what its seccomp filter lets through and kills, and that application code (traced or
 * not, racing the sentry's injections or not) never chooses a host syscall.
 */
import assert from "node:assert/strict";
import { PtracePlatform } from "./ptrace.ts";
import { STUB_DATA } from "./stub_elf.ts";
import * as ffi from "./_ffi.ts";
import type { Context } from "../mod.ts";

const CODE = 0x400000;
const SIGSYS = 31;

/** The platform's view of an address space: the host pid, and the raw injection the tests use. */
interface StubView {
  pid: number;
  inject(via: Context, nr: number, args: number[]): number;
}
const stub = (ctx: Context) => ctx.addressSpace as unknown as StubView;
const tidOf = (ctx: Context) => (ctx as unknown as { tid: number }).tid;

function statusField(pid: number, name: string): string {
  const m = new RegExp(`^${name}:\\s+(.*)$`, "m").exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  assert.ok(m, `${name} in /proc/${pid}/status`);
  return m[1]!.trim();
}

/** Runs the thread at `code` (written at CODE) until its next stop. */
function runAt(p: PtracePlatform, ctx: Context, code: number[]) {
  ctx.addressSpace.write(CODE, new Uint8Array(code));
  ctx.regs.set("rip", CODE);
  ctx.regs.set("rsp", CODE + 4096 - 64);
  ctx.markRegsDirty();
  p.resume(ctx);
  return p.waitStop(5e9);
}

Deno.test("a stub runs confined: seccomp, no_new_privs, no capabilities, no core, own namespaces, one descriptor", () => {
  const p = new PtracePlatform();
  try {
    const ctx = p.newAddressSpace();
    const pid = stub(ctx).pid;
    assert.equal(statusField(pid, "Seccomp"), "2");
    assert.equal(statusField(pid, "Seccomp_filters"), "1");
    assert.equal(statusField(pid, "NoNewPrivs"), "1");
    for (const set of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]) {
      assert.equal(BigInt("0x" + statusField(pid, set)), 0n, set);
    }
    assert.match(Deno.readTextFileSync(`/proc/${pid}/limits`), /^Max core file size\s+0\s+0\s/m);
    const ns = p.confinement?.namespaces ?? [];
    // This host (root, Linux 6) gives at least these; the user namespace where it is allowed.
    for (const n of ["mnt", "pid", "net", "ipc", "uts", "cgroup"]) assert.ok(ns.includes(n), `namespace ${n}`);
    for (const n of ns) {
      assert.notEqual(Deno.readLinkSync(`/proc/${pid}/ns/${n}`), Deno.readLinkSync(`/proc/self/ns/${n}`), n);
    }
    // The PID namespace: the host's pid, then the stub's in its own namespace, whose init (1)
    // is the zygote; the root: an empty directory.
    const nspid = statusField(pid, "NSpid").split(/\s+/).map(Number);
    assert.equal(nspid.length, 2);
    assert.equal(nspid[0], pid);
    assert.ok(nspid[1]! > 1, `NSpid ${nspid}`);
    assert.equal(p.confinement?.emptyRoot, true);
    assert.deepEqual([...Deno.readDirSync(`/proc/${pid}/root`)], []);
    assert.equal(Deno.readLinkSync(`/proc/${pid}/cwd`), "/");
    assert.match(Deno.readTextFileSync(`/proc/${pid}/mountinfo`), /^\d+ \d+ \S+ \/ \/ ro,nosuid,nodev,noexec\S* - tmpfs /);
    assert.equal(Deno.readTextFileSync(`/proc/${pid}/mountinfo`).trim().split("\n").length, 1);
    const fds = [...Deno.readDirSync(`/proc/${pid}/fd`)].map((e) => Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`));
    assert.deepEqual(fds, ["/memfd:sentry-memory (deleted)"]);
  } finally {
    p.shutdown();
  }
});

Deno.test("the stub filter kills the stub on a host syscall the platform never injects", () => {
  const p = new PtracePlatform();
  try {
    for (const [nr, args] of [[39, []], [101, [16, 1]], [56, [0x10000000 | 17, 0]], [434, [Deno.pid, 0]]] as const) {
      const ctx = p.newAddressSpace();
      // getpid, ptrace(PTRACE_ATTACH, 1), clone(CLONE_NEWUSER), pidfd_open(the sentry)
      assert.throws(() => stub(ctx).inject(ctx, nr, [...args]), new RegExp(`died .* \\(status ${SIGSYS}\\)`), `syscall ${nr}`);
      ctx.addressSpace.release();
    }
    // What it injects goes through (mmap of anonymous memory, then munmap).
    const ctx = p.newAddressSpace();
    const addr = stub(ctx).inject(ctx, 9, [0x600000, 4096, 3, 0x32, -1, 0]);
    assert.equal(addr, 0x600000);
    assert.equal(stub(ctx).inject(ctx, 11, [0x600000, 4096]), 0);
  } finally {
    p.shutdown();
  }
});

Deno.test("application syscalls stop under SYSEMU before the filter, even those it would kill", () => {
  const p = new PtracePlatform();
  try {
    const ctx = p.newAddressSpace();
    assert.equal(ctx.addressSpace.mapAnonymous(ctx, CODE, 4096, 7, false), 0);
    // mov eax, 272 (unshare); mov edi, 0x10000000 (CLONE_NEWUSER); syscall; mov eax, 60; syscall
    const s1 = runAt(p, ctx, [0xb8, 0x10, 1, 0, 0, 0xbf, 0, 0, 0, 0x10, 0x0f, 0x05, 0xb8, 60, 0, 0, 0, 0x0f, 0x05]);
    assert.equal(s1?.reason.kind, "syscall");
    assert.equal(s1?.ctx.syscall.nr, 272);
    ctx.setReturn(-1);
    p.resume(ctx);
    const s2 = p.waitStop(5e9);
    assert.equal(s2?.reason.kind, "syscall");
    assert.equal(s2?.ctx.syscall.nr, 60);
    assert.equal(statusField(stub(ctx).pid, "State").startsWith("t"), true); // alive, traced
  } finally {
    p.shutdown();
  }
});

Deno.test("application code that reaches the host untraced is killed, even at a syscall the stub may make", () => {
  const p = new PtracePlatform();
  try {
    const ctx = p.newAddressSpace();
    assert.equal(ctx.addressSpace.mapAnonymous(ctx, CODE, 4096, 7, false), 0);
    // mov eax, 9 (mmap, allowed from the stub's own syscall sites); syscall; int3
    ctx.addressSpace.write(CODE, new Uint8Array([0xb8, 9, 0, 0, 0, 0x0f, 0x05, 0xcc]));
    ctx.regs.set("rip", CODE);
    const tid = tidOf(ctx);
    ffi.ptraceBuf(ffi.PTRACE_SETREGS, tid, 0, ctx.regs.bytes);
    // PTRACE_CONT, not SYSEMU: as if the sentry had let the thread run natively.
    ffi.ptrace(ffi.PTRACE_CONT, tid, 0, 0);
    let w;
    do w = ffi.waitpid(tid, ffi.__WALL); while (w === "eintr" || w === null);
    assert.equal(w.status & 0xff7f, SIGSYS, `wait status ${w.status}`);
    p.forget(ctx as never);
  } finally {
    p.shutdown();
  }
});

Deno.test("a sibling thread scribbling over the stub's data page cannot change the sentry's host syscalls", () => {
  const p = new PtracePlatform();
  const path = Deno.makeTempFileSync();
  try {
    Deno.writeTextFileSync(path, "hello from the host");
    const ctx = p.newAddressSpace();
    const as = ctx.addressSpace;
    assert.equal(as.mapAnonymous(ctx, CODE, 4096, 7, false), 0);
    // loop: movabs rdi, STUB_DATA; mov ecx, 512; mov eax, 101 (ptrace)
    //   1: mov [rdi], rax; add rdi, 8; dec rcx; jnz 1b; jmp loop
    const data = new Uint8Array(8);
    new DataView(data.buffer).setBigUint64(0, BigInt(STUB_DATA), true);
    as.write(CODE, new Uint8Array([
      0x48, 0xbf, ...data, 0xb9, 0, 2, 0, 0, 0xb8, 101, 0, 0, 0,
      0x48, 0x89, 0x07, 0x48, 0x83, 0xc7, 0x08, 0x48, 0xff, 0xc9, 0x75, 0xf4, 0xeb, 0xde,
    ]));
    const sibling = as.newThread(ctx);
    sibling.regs.set("rip", CODE);
    sibling.markRegsDirty();
    p.resume(sibling);
    const fd = ffi.hostOpen(path, ffi.O_RDONLY);
    try {
      const got = new Uint8Array(19);
      for (let i = 0; i < 50; i++) {
        const addr = 0x800000 + i * 0x2000;
        // Batched when every thread is stopped; the sibling runs, so each runs on its own
        // from registers the sentry set: the data page is never read.
        as.deferMappings(ctx);
        assert.equal(as.mapHostFile(ctx, { addr, len: 4096, prot: 1, shared: false, hostFd: fd, offset: 0 }), 0);
        assert.equal(as.mapAnonymous(ctx, addr + 0x1000, 4096, 3, false), 0);
        assert.equal(as.protect(ctx, addr + 0x1000, 4096, 1), 0);
        assert.equal(as.flushMappings(), 0);
        assert.equal(as.read(addr, got), 19);
        assert.equal(new TextDecoder().decode(got), "hello from the host");
      }
      // The sibling really ran: the data page holds what it wrote.
      const page = new Uint8Array(8);
      assert.equal(ffi.vmRead(stub(ctx).pid, STUB_DATA + 4088, page), 8);
      assert.equal(page[0], 101);
      // And the stub is intact: alive, one host descriptor.
      assert.equal([...Deno.readDirSync(`/proc/${stub(ctx).pid}/fd`)].length, 1);
    } finally {
      ffi.hostClose(fd);
    }
  } finally {
    Deno.removeSync(path);
    p.shutdown();
  }
});

Deno.test("a vsyscall time() in a confined stub stops for the sentry (the host's emulation trapped), after the emulated ret", () => {
  const p = new PtracePlatform();
  try {
    const ctx = p.newAddressSpace();
    if (!Deno.readTextFileSync(`/proc/${stub(ctx).pid}/maps`).includes("[vsyscall]")) return; // vsyscall=none
    assert.equal(ctx.addressSpace.mapAnonymous(ctx, CODE, 4096, 7, false), 0);
    // xor edi, edi; movabs rax, 0xffffffffff600400; call rax; mov rdi, rax; mov eax, 60; syscall
    const s = runAt(p, ctx, [
      0x31, 0xff, 0x48, 0xb8, 0x00, 0x04, 0x60, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xd0,
      0x48, 0x89, 0xc7, 0xb8, 60, 0, 0, 0, 0x0f, 0x05,
    ]);
    assert.equal(s?.reason.kind, "vsyscall");
    assert.equal(s?.ctx.syscall.nr, 201); // time
    assert.equal(s?.ctx.syscall.ip64, 0xffff_ffff_ff60_0400n);
    assert.equal(s?.ctx.syscall.arg(0), 0);
    // The sentry answers; the code goes on after the call, and exits with the answer.
    s!.ctx.setReturn(4242);
    p.resume(s!.ctx);
    const e = p.waitStop(5e9);
    assert.equal(e?.reason.kind, "syscall");
    assert.equal(e?.ctx.syscall.nr, 60);
    assert.equal(e?.ctx.syscall.arg(0), 4242);
  } finally {
    p.shutdown();
  }
});

Deno.test("a stub outlives the stub it was forked from: orphans go to the zygote, init of their PID namespace", () => {
  const p = new PtracePlatform();
  try {
    const parent = p.newAddressSpace();
    const child = parent.addressSpace.fork(parent);
    const pid = stub(child).pid;
    // The host pid came from the clone event: the host's /proc knows it as the child of the parent.
    assert.equal(Number(statusField(pid, "PPid")), stub(parent).pid);
    parent.addressSpace.release();
    let ppid = stub(parent).pid;
    for (let i = 0; i < 200 && ppid === stub(parent).pid; i++) {
      p.pollStop();
      ppid = Number(statusField(pid, "PPid"));
      if (ppid === stub(parent).pid) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
    assert.equal(statusField(ppid, "NSpid").split(/\s+/).at(-1), "1", "the new parent is the namespace's init");
    assert.equal(statusField(ppid, "Name"), "stub");
    // And it still runs what the sentry injects.
    assert.equal(stub(child).inject(child, 9, [0x600000, 4096, 3, 0x32, -1, 0]), 0x600000);
    // A new thread's host tid (from the clone event) is a thread of the same host process.
    const t = child.addressSpace.newThread(child);
    assert.ok(Deno.statSync(`/proc/${pid}/task/${tidOf(t)}`).isDirectory);
  } finally {
    p.shutdown();
  }
});

Deno.test("a zygote started after the sentry confined itself is confined as the first (the sentry's filter lets its confinement through)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./testdata/late_zygote.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(out.code, 0);
  const d = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.equal(d.sentry.filter, true);
  assert.deepEqual(d.sentry.refused, []);
  for (const n of ["mnt", "pid", "net", "ipc", "uts", "cgroup"]) {
    assert.ok(d.platform.namespaces.includes(n), n);
    assert.notEqual(d.stubNs[n], d.selfNs[n], n);
  }
  assert.equal(d.platform.emptyRoot, true);
  assert.equal(d.stubRoot, 0);
  assert.match(d.stubStatus, /^NoNewPrivs:\s+1$/m);
  assert.match(d.stubStatus, /^Seccomp:\s+2$/m);
  // The sentry's filter and its own.
  assert.match(d.stubStatus, /^Seccomp_filters:\s+2$/m);
  for (const set of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]) {
    assert.match(d.stubStatus, new RegExp(`^${set}:\\s+0+$`, "m"), set);
  }
});
