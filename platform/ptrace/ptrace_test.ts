import assert from "node:assert/strict";
import { PtracePlatform } from "./ptrace.ts";
import { STUB_BASE, STUB_SIZE } from "./stub_elf.ts";
import { getAffinity, hostClose as ffiClose, hostOpen as ffiOpen, hostTid, O_RDONLY } from "./_ffi.ts";

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

/** Every process below this one (stubs are forked from a zygote stub, so not all are children). */
function liveDescendants(): number[] {
  const parentOf = new Map<number, number>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      parentOf.set(Number(e.name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch { /* exited meanwhile */ }
  }
  const out: number[] = [];
  for (const pid of parentOf.keys()) {
    for (let q = parentOf.get(pid); q !== undefined && q > 1; q = parentOf.get(q)) {
      if (q === Deno.pid) {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

/** The host pid behind an address space (a platform detail the tests look at through /proc). */
function stubPid(ctx: { addressSpace: unknown }): number {
  return (ctx.addressSpace as { pid: number }).pid;
}

/** What each host descriptor of a stub is (the targets of /proc/PID/fd/N). */
function stubFds(ctx: { addressSpace: unknown }): string[] {
  const pid = stubPid(ctx);
  return [...Deno.readDirSync(`/proc/${pid}/fd`)].map((e) => Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`));
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
    // The zygote every address space is forked from is the only child; it and the stub are
    // the only processes below us.
    assert.equal(liveChildren().length, 1);
    assert.equal(liveDescendants().length, 2);
  } finally {
    p.shutdown();
  }
  assert.equal(liveChildren().length, 0);
  assert.equal(liveDescendants().length, 0);
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

Deno.test("only the stub's pages are left in a new address space", () => {
  const p = new PtracePlatform();
  try {
    const ctx = p.newAddressSpace();
    const buf = new Uint8Array(1);
    assert.equal(ctx.addressSpace.read(STUB_BASE, buf), 1);
    // Nothing else the host mapped (stack, vDSO) is left: the code page and the data page.
    const maps = Deno.readTextFileSync(`/proc/${stubPid(ctx)}/maps`);
    const lines = maps.trim().split("\n").filter((l) => !l.includes("[vsyscall]"));
    assert.equal(lines.length, 2);
    for (const l of lines) {
      const [start, end] = l.split(" ")[0]!.split("-").map((x) => parseInt(x, 16));
      assert.ok(start! >= STUB_BASE && end! <= STUB_BASE + STUB_SIZE, l);
    }
    // The only host descriptor in the stub is the memory file (memory_file.ts): no pidfd of
    // the sentry, no seccomp listener.
    assert.deepEqual(stubFds(ctx), ["/memfd:sentry-memory (deleted)"]);
  } finally {
    p.shutdown();
  }
});

Deno.test("a host file maps into a stub with no descriptor left behind", () => {
  const p = new PtracePlatform();
  const path = Deno.makeTempFileSync();
  try {
    Deno.writeTextFileSync(path, "hello from the host");
    const ctx = p.newAddressSpace();
    const as = ctx.addressSpace;
    const n = ffiOpen(path, O_RDONLY);
    try {
      assert.equal(as.mapHostFile(ctx, { addr: CODE, len: 4096, prot: 1, shared: false, hostFd: n, offset: 0 }), 0);
      const got = new Uint8Array(19);
      assert.equal(as.read(CODE, got), 19);
      assert.equal(new TextDecoder().decode(got), "hello from the host");
      assert.deepEqual(stubFds(ctx), ["/memfd:sentry-memory (deleted)"]);
      // With another thread running application code (here: jmp $), the three syscalls run
      // as separate injections, never from the data page that thread could write.
      as.mapAnonymous(ctx, 0x500000, 4096, 7, false);
      as.write(0x500000, new Uint8Array([0xeb, 0xfe]));
      const spinner = as.newThread(ctx);
      spinner.regs.set("rip", 0x500000);
      spinner.markRegsDirty();
      p.resume(spinner);
      assert.equal(as.mapHostFile(ctx, { addr: CODE + 8192, len: 4096, prot: 1, shared: false, hostFd: n, offset: 0 }), 0);
      assert.equal(as.read(CODE + 8192, got), 19);
      assert.equal(new TextDecoder().decode(got), "hello from the host");
      assert.deepEqual(stubFds(ctx), ["/memfd:sentry-memory (deleted)"]);
      // A bad descriptor fails cleanly (pidfd_getfd's EBADF) and maps nothing.
      assert.equal(as.mapHostFile(ctx, { addr: CODE + 4096, len: 4096, prot: 1, shared: false, hostFd: 999, offset: 0 }), -9);
      assert.equal(as.read(CODE + 4096, got), 0);
    } finally {
      ffiClose(n);
    }
  } finally {
    Deno.removeSync(path);
    p.shutdown();
  }
});

Deno.test("deferred mappings run together at the flush and report the first error", () => {
  const p = new PtracePlatform();
  try {
    const ctx = p.newAddressSpace();
    const as = ctx.addressSpace;
    as.deferMappings(ctx);
    assert.equal(as.mapAnonymous(ctx, CODE, 8192, 3, false), 0);
    assert.equal(as.protect(ctx, CODE + 4096, 4096, 1), 0);
    // Not mapped yet: the host has not run anything.
    assert.equal(Deno.readTextFileSync(`/proc/${stubPid(ctx)}/maps`).includes("00400000-"), false);
    assert.equal(as.flushMappings(), 0);
    const maps = Deno.readTextFileSync(`/proc/${stubPid(ctx)}/maps`);
    assert.match(maps, /00400000-00401000 rw-s .*sentry-memory/);
    assert.match(maps, /00401000-00402000 r--s .*sentry-memory/);
    // A read in the middle of a deferral runs what came before it.
    as.deferMappings(ctx);
    as.mapAnonymous(ctx, CODE + 8192, 4096, 3, false);
    assert.equal(as.write(CODE + 8192, new Uint8Array([5])), 1);
    // An error (an unaligned address: EINVAL) is reported by the flush; later ops still ran.
    as.mapAnonymous(ctx, CODE + 12288 + 1, 4096, 3, false);
    as.mapAnonymous(ctx, CODE + 16384, 4096, 3, false);
    assert.equal(as.flushMappings(), -22);
    assert.equal(as.read(CODE + 16384, new Uint8Array(1)), 1);
    // The first error of a batch is the one reported, wherever it is (here: EINVAL, then ENOMEM
    // from an mprotect of unmapped memory).
    as.deferMappings(ctx);
    as.mapAnonymous(ctx, CODE + 20480, 4096, 3, false);
    as.mapAnonymous(ctx, CODE + 24576 + 1, 4096, 3, false);
    as.protect(ctx, 0x7000_0000_0000, 4096, 1);
    assert.equal(as.flushMappings(), -22);
    as.deferMappings(ctx);
    as.mapAnonymous(ctx, CODE + 24576, 4096, 3, false);
    as.protect(ctx, 0x7000_0000_0000, 4096, 1);
    assert.equal(as.flushMappings(), -12);
    // Segments of one file share one descriptor in the stub; another file gets its own.
    const path = Deno.makeTempFileSync();
    Deno.writeFileSync(path, new Uint8Array(8192).map((_, i) => (i < 4096 ? 1 : 2)));
    const f1 = ffiOpen(path, O_RDONLY), f2 = ffiOpen(path, O_RDONLY);
    try {
      as.deferMappings(ctx);
      as.mapHostFile(ctx, { addr: 0x800000, len: 4096, prot: 1, shared: false, hostFd: f1, offset: 4096 });
      as.mapHostFile(ctx, { addr: 0x801000, len: 4096, prot: 1, shared: false, hostFd: f1, offset: 0 });
      as.mapHostFile(ctx, { addr: 0x802000, len: 4096, prot: 1, shared: false, hostFd: f2, offset: 4096 });
      assert.equal(as.flushMappings(), 0);
      const b = new Uint8Array(1);
      for (const [addr, want] of [[0x800000, 2], [0x801000, 1], [0x802000, 2]]) {
        as.read(addr!, b);
        assert.equal(b[0], want);
      }
      assert.deepEqual(stubFds(ctx), ["/memfd:sentry-memory (deleted)"]);
    } finally {
      ffiClose(f1);
      ffiClose(f2);
      Deno.removeSync(path);
    }
    // More entries than one batch table holds.
    as.deferMappings(ctx);
    for (let i = 0; i < 150; i++) as.mapAnonymous(ctx, 0x1000000 + i * 8192, 4096, 3, false);
    assert.equal(as.flushMappings(), 0);
    assert.equal(as.read(0x1000000 + 149 * 8192, new Uint8Array(1)), 1);
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
    // A released stub is gone once the platform shuts down, however far its exit got.
    child.addressSpace.release();
  } finally {
    p.shutdown();
  }
  assert.equal(liveDescendants().length, 0);
});

Deno.test("a new thread shares memory, and a released one is parked for the next new thread", () => {
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
    const tasks = () => [...Deno.readDirSync(`/proc/${stubPid(ctx)}/task`)].length;
    assert.equal(tasks(), 2);
    th.release();
    // The host thread stays, stopped, for the next new thread, which gets the parent's FPU
    // state as a host clone would give it (here: MXCSR with a rounding mode set).
    assert.equal(tasks(), 2);
    const fp = ctx.getFpState();
    const fv = new DataView(fp.buffer);
    fv.setUint32(24, 0x7f80, true); // MXCSR: round toward zero
    fv.setUint8(512, fv.getUint8(512) | 2); // XSAVE header: the SSE state is not in its init state
    ctx.setFpState(fp);
    const th2 = as.newThread(ctx);
    assert.equal(tasks(), 2);
    assert.equal(new DataView(th2.getFpState().buffer).getUint32(24, true), 0x7f80);
    // Both threads run syscalls.
    as.write(CODE, new Uint8Array([0xb8, 39, 0, 0, 0, 0x0f, 0x05]));
    for (const c of [ctx, th2]) {
      c.regs.set("rip", CODE);
      c.markRegsDirty();
      p.resume(c);
      const s = p.waitStop(1e9);
      assert.equal(s?.reason.kind, "syscall");
      assert.equal(s?.ctx, c);
    }
  } finally {
    p.shutdown();
  }
  // Shutdown reaps a stub with several threads (the leader's exit comes last on the host).
  assert.equal(liveDescendants().length, 0);
});

Deno.test("a parked thread reused starts with no CPU time, and a reaped stub reports its whole life's", () => {
  const p = new PtracePlatform();
  let pid = 0;
  try {
    const ctx = p.newAddressSpace();
    const as = ctx.addressSpace;
    pid = stubPid(ctx);
    as.mapAnonymous(ctx, CODE, 4096, 7, false);
    // mov rcx, 100000000; 1: dec rcx; jnz 1b; mov eax, 39; syscall
    as.write(CODE, new Uint8Array([
      0x48, 0xc7, 0xc1, 0x00, 0xe1, 0xf5, 0x05, 0x48, 0xff, 0xc9, 0x75, 0xfb, 0xb8, 39, 0, 0, 0, 0x0f, 0x05,
    ]));
    const th = as.newThread(ctx);
    th.regs.set("rip", CODE);
    th.markRegsDirty();
    p.resume(th);
    assert.equal(p.waitStop(10e9)?.ctx, th);
    const spun = th.cpuTime();
    assert.ok(spun.userNs + spun.sysNs > 1_000_000, `the spin took ${spun.userNs + spun.sysNs} ns`);
    th.release();
    // The next thread is the same host thread: the time its last user had is not its own.
    const th2 = as.newThread(ctx);
    const fresh = th2.cpuTime();
    assert.ok(fresh.userNs + fresh.sysNs < (spun.userNs + spun.sysNs) / 2);
    // 4 MiB of memory touched by the stub (pages the sentry writes through the memory file are
    // not the stub's RSS until it touches them): the host's RSS counters are per-CPU
    // approximations, exact enough at this size.
    as.mapAnonymous(ctx, CODE + 0x100000, 4 << 20, 3, false);
    // mov rdi, CODE + 1 MiB; mov rcx, 1024; 1: mov byte [rdi], 1; add rdi, 4096; dec rcx; jnz 1b;
    // mov eax, 39; syscall
    as.write(CODE + 64, new Uint8Array([
      0x48, 0xc7, 0xc7, ...new Uint8Array(new Uint32Array([CODE + 0x100000]).buffer),
      0x48, 0xc7, 0xc1, 0x00, 0x04, 0, 0, 0xc6, 0x07, 0x01, 0x48, 0x81, 0xc7, 0x00, 0x10, 0, 0, 0x48, 0xff, 0xc9,
      0x75, 0xf1, 0xb8, 39, 0, 0, 0, 0x0f, 0x05,
    ]));
    th2.regs.set("rip", CODE + 64);
    th2.markRegsDirty();
    p.resume(th2);
    assert.equal(p.waitStop(10e9)?.ctx, th2);
    const u = as.releaseAndReap();
    assert.ok(u.userNs + u.sysNs >= spun.userNs + spun.sysNs - 10_000, "the stub's total covers the spin");
    assert.ok(u.maxRssKb >= 2048, `peak RSS ${u.maxRssKb} kB`);
    // Reaped at once, not at shutdown.
    assert.ok(!liveDescendants().includes(pid));
  } finally {
    p.shutdown();
  }
  assert.equal(liveDescendants().length, 0);
});

Deno.test("anonymous memory is memory-file memory, copied with memcpy, and goes back to the host when unmapped", () => {
  const p = new PtracePlatform();
  try {
    const ctx = p.newAddressSpace();
    const as = ctx.addressSpace;
    const mf = p.memoryFile!;
    assert.ok(mf !== null);
    const MIB = 1 << 20;
    assert.equal(as.mapAnonymous(ctx, CODE, 4 * MIB, 3, false), 0);
    assert.match(Deno.readTextFileSync(`/proc/${stubPid(ctx)}/maps`), /00400000-00800000 rw-s .*sentry-memory/);
    assert.equal(as.write(CODE, new Uint8Array(4 * MIB).fill(7)), 4 * MIB);
    assert.ok(mf.blocks() >= 4 * MIB / 512, `${mf.blocks()} blocks after a 4 MiB write`);
    // MADV_DONTNEED punches the pages out of the file: zeros, and the memory is the host's again.
    assert.equal(as.discard(ctx, CODE + MIB, 3 * MIB), 0);
    const b = new Uint8Array(2);
    assert.equal(as.read(CODE + MIB - 1, b), 2);
    assert.deepEqual([...b], [7, 0]);
    assert.ok(mf.blocks() <= 1.5 * MIB / 512, `${mf.blocks()} blocks after discarding 3 of 4 MiB`);
    // Protections are the host's: no read of PROT_NONE, no write to PROT_READ memory.
    assert.equal(as.protect(ctx, CODE + 8192, 4096, 1), 0);
    assert.equal(as.protect(ctx, CODE + 12288, 4096, 0), 0);
    assert.equal(as.write(CODE + 4096, new Uint8Array(8192)), 4096, "short at the read-only page");
    assert.equal(as.read(CODE + 8192, new Uint8Array(8192)), 4096, "short at the PROT_NONE page");
    assert.equal(as.forceWrite(CODE + 8192, new Uint8Array([1])), 1);
    assert.equal(as.unmap(ctx, CODE, 4 * MIB), 0);
    assert.equal(mf.ranges.allocatedBytes, 0);
    assert.equal(mf.blocks(), 0);
  } finally {
    p.shutdown();
  }
});

Deno.test("the memory of 200 forked and released address spaces is returned: the memory file stays small", () => {
  const p = new PtracePlatform();
  try {
    const MIB = 1 << 20;
    const data = new Uint8Array(12 * MIB).fill(3);
    for (let i = 0; i < 200; i++) {
      const ctx = p.newAddressSpace();
      const as = ctx.addressSpace;
      // 8 MiB are copied for the child at the fork; 12 MiB are made copy-on-write instead.
      const size = (i % 4 < 2 ? 8 : 12) * MIB;
      // In mappings of 4 MiB (larger ones stay host memory), which continue one region.
      for (let o = 0; o < size; o += 4 * MIB) as.mapAnonymous(ctx, CODE + o, 4 * MIB, 3, false);
      as.mapAnonymous(ctx, CODE + 16 * MIB, MIB, 3, true);
      assert.equal(as.write(CODE, data.subarray(0, size)), size);
      const child = as.fork(ctx);
      if (i < 4) {
        const maps = Deno.readTextFileSync(`/proc/${stubPid(child)}/maps`);
        assert.match(maps, new RegExp(`00400000-[0-9a-f]+ rw-${size === 8 * MIB ? "s" : "p"} .*sentry-memory`));
        assert.match(maps, /01400000-01500000 rw-s .*sentry-memory/);
      }
      // After the fork the parent's private memory is copy-on-write: a write is the parent's only.
      assert.equal(as.write(CODE, new Uint8Array([9])), 1);
      const b = new Uint8Array(1);
      child.addressSpace.read(CODE, b);
      assert.equal(b[0], 3);
      if (i % 2 === 0) {
        child.addressSpace.release();
        as.releaseAndReap();
      } else {
        as.release();
        child.addressSpace.releaseAndReap();
      }
    }
    const mf = p.memoryFile!;
    assert.equal(mf.ranges.allocatedBytes, 0);
    assert.equal(mf.blocks(), 0);
  } finally {
    p.shutdown();
  }
});

Deno.test("adaptive placement: a thread that computes is let out to every CPU, and pinned again when it stops often", () => {
  const cpus = getAffinity(hostTid());
  const p = new PtracePlatform();
  try {
    const ctx = p.newAddressSpace();
    const as = ctx.addressSpace;
    const tid = (ctx as unknown as { tid: number }).tid;
    assert.equal(as.mapAnonymous(ctx, CODE, 4096, 7, false), 0);
    // 1: cmp byte [CODE + 0x800], 0; je 1b; 2: mov eax, 39 (getpid); syscall; jmp 2b
    as.write(CODE, new Uint8Array([
      0x80, 0x3c, 0x25, 0x00, 0x08, 0x40, 0x00, 0x00, 0x74, 0xf6, 0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7,
    ]));
    ctx.regs.set("rip", CODE);
    ctx.markRegsDirty();
    assert.equal(getAffinity(tid).length, 1, "a new stub starts on the tracer's CPU");
    p.resume(ctx);
    // It computes (no stop): within a few intervals it may run anywhere (when there is anywhere).
    const wanted = cpus.length > 1 ? cpus.length : 1;
    for (const end = Date.now() + 10_000; getAffinity(tid).length !== wanted && Date.now() < end;) {
      assert.equal(p.waitStop(2e6), null);
    }
    assert.deepEqual(getAffinity(tid), cpus.length > 1 ? cpus : [p.tracerCpu]);
    // Now it makes a syscall after every few instructions: back to the tracer's CPU.
    assert.equal(as.write(CODE + 0x800, new Uint8Array([1])), 1);
    let stops = 0;
    for (const end = Date.now() + 10_000; getAffinity(tid).length !== 1 && Date.now() < end;) {
      const s = p.waitStop(1e9);
      if (s === null) continue; // the wake-up alarm (it repeats)
      assert.equal(s.ctx, ctx);
      assert.equal(s.ctx.syscall.nr, 39);
      stops++;
      p.resume(ctx);
    }
    assert.deepEqual(getAffinity(tid), [p.tracerCpu]);
    assert.ok(cpus.length === 1 || stops > 0);
  } finally {
    p.shutdown();
  }
  assert.deepEqual(getAffinity(hostTid()), cpus, "the tracer's own CPUs are given back");
});
