import assert from "node:assert/strict";
import { MemoryManager, MMAP_BASE, SharedAnon } from "./mm.ts";
import type { AddressSpace, Context } from "../../platform/mod.ts";
import { EEXIST, EINVAL, ENOMEM } from "../errno.ts";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED } from "../../abi/linux/mm.ts";

/** An address space that records what the memory manager asks of the host. */
function fakeAddressSpace(): AddressSpace & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    minAddr: 0x10000,
    maxAddr: 0x7fff_ffff_f000,
    reserved: [{ start: 0x7ffa_0000_0000, end: 0x7ffa_0000_1000 }],
    mapAnonymous: (_v, a, l, p) => (calls.push(`map ${a.toString(16)} ${l} ${p}`), 0),
    shareAnonymous: (_v, a, l, p) => (calls.push(`share ${a.toString(16)} ${l} ${p}`), 0),
    mapCopyOnWrite: (_v, a, l, p) => (calls.push(`cow ${a.toString(16)} ${l} ${p}`), 0),
    mapHostFile: () => 0,
    unmap: (_v, a, l) => (calls.push(`unmap ${a.toString(16)} ${l}`), 0),
    protect: (_v, a, l, p) => (calls.push(`protect ${a.toString(16)} ${l} ${p}`), 0),
    discard: () => 0,
    deferMappings: () => {},
    flushMappings: () => 0,
    remap: (_v, o) => o.newAddr || o.addr,
    read: () => 0,
    write: () => 0,
    forceWrite: () => 0,
    compareExchange32: () => null,
    release: () => {},
    releaseAndReap: () => ({ userNs: 0, sysNs: 0, maxRssKb: 0 }),
    peakRssKb: () => 0,
    rssKb: () => 0,
    anonRssKb: () => 0,
    newThread: () => {
      throw new Error("not in this fake");
    },
    fork: () => {
      throw new Error("not in this fake");
    },
  };
}

const ctx = {} as Context;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

Deno.test("mmap without a hint places mappings top-down below the mmap base", () => {
  const mm = new MemoryManager(fakeAddressSpace());
  const a = mm.mmap(ctx, { addr: 0, len: 8192, prot: 3, flags: ANON, file: null, offset: 0 });
  const b = mm.mmap(ctx, { addr: 0, len: 4096, prot: 3, flags: ANON, file: null, offset: 0 });
  assert.equal(a, MMAP_BASE - 8192);
  assert.equal(b, a - 4096);
});

Deno.test("munmap of the middle of a mapping splits it in two", () => {
  const mm = new MemoryManager(fakeAddressSpace());
  const a = mm.mmap(ctx, { addr: 0x100000, len: 3 * 4096, prot: 3, flags: ANON | MAP_FIXED, file: null, offset: 0 });
  mm.munmap(ctx, a + 4096, 4096);
  assert.deepEqual(mm.vmas.map((v) => [v.start, v.end]), [[a, a + 4096], [a + 8192, a + 12288]]);
});

Deno.test("mprotect changes only the pages asked for and needs them all mapped", () => {
  const mm = new MemoryManager(fakeAddressSpace());
  const a = mm.mmap(ctx, { addr: 0x200000, len: 2 * 4096, prot: 3, flags: ANON | MAP_FIXED, file: null, offset: 0 });
  mm.mprotect(ctx, a, 4096, 1);
  assert.deepEqual(mm.vmas.map((v) => v.prot), [1, 3]);
  assert.throws(() => mm.mprotect(ctx, a, 3 * 4096, 1), (e) => e === ENOMEM);
});

Deno.test("MAP_FIXED_NOREPLACE over an existing mapping is EEXIST", () => {
  const mm = new MemoryManager(fakeAddressSpace());
  mm.mmap(ctx, { addr: 0x300000, len: 4096, prot: 3, flags: ANON | MAP_FIXED, file: null, offset: 0 });
  assert.throws(
    () => mm.mmap(ctx, { addr: 0x300000, len: 4096, prot: 3, flags: ANON | MAP_FIXED_NOREPLACE, file: null, offset: 0 }),
    (e) => e === EEXIST,
  );
});

Deno.test("mappings can never cover the platform's reserved stub page", () => {
  const mm = new MemoryManager(fakeAddressSpace());
  assert.throws(
    () => mm.mmap(ctx, { addr: 0x7ffa_0000_0000, len: 4096, prot: 3, flags: ANON | MAP_FIXED, file: null, offset: 0 }),
    (e) => e === ENOMEM,
  );
  assert.throws(() => mm.munmap(ctx, 0x7ffa_0000_0000, 4096), (e) => e === EINVAL);
});

Deno.test("brk grows the heap in whole pages and never below its start", () => {
  const as = fakeAddressSpace();
  const mm = new MemoryManager(as);
  mm.brkStart = mm.brk = 0x555555559000;
  assert.equal(mm.setBrk(ctx, 0x55555555a100), 0x55555555a100);
  assert.ok(as.calls.includes("map 555555559000 8192 3"));
  assert.equal(mm.setBrk(ctx, 0x1000), 0x55555555a100);
});

Deno.test("a shared anonymous mapping keeps one SharedAnon identity across a split, with offsets, and a private one has none", () => {
  const mm = new MemoryManager(fakeAddressSpace());
  const a = mm.mmap(ctx, { addr: 0, len: 3 * 4096, prot: 3, flags: MAP_SHARED | MAP_ANONYMOUS, file: null, offset: 0 });
  const other = mm.mmap(ctx, { addr: 0, len: 4096, prot: 3, flags: MAP_SHARED | MAP_ANONYMOUS, file: null, offset: 0 });
  const priv = mm.mmap(ctx, { addr: 0, len: 4096, prot: 3, flags: ANON, file: null, offset: 0 });
  mm.munmap(ctx, a + 4096, 4096);
  const lo = mm.findVma(a)!, hi = mm.findVma(a + 2 * 4096)!;
  assert.equal(mm.findVma(a + 4096), undefined);
  assert.ok(lo.object instanceof SharedAnon);
  assert.equal(hi.object, lo.object);
  assert.equal(hi.offset, 2 * 4096);
  assert.notEqual(mm.findVma(other)!.object, lo.object);
  assert.equal(mm.findVma(priv)!.object, null);
});
