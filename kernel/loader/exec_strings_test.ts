import assert from "node:assert/strict";
import { PageReader } from "./exec_strings.ts";
import { E2BIG, EFAULT } from "../errno.ts";

/** A fake memory: pages [base, base + size) readable, everything else not; counts reads. */
function memory(base: number, bytes: Uint8Array) {
  const m = { reads: 0, read: (addr: number, dst: Uint8Array): number => {
    m.reads++;
    if (addr < base || addr + dst.length > base + bytes.length) return 0;
    dst.set(bytes.subarray(addr - base, addr - base + dst.length));
    return dst.length;
  } };
  return m;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

function layout(base: number, size: number, strings: string[], at: number): { bytes: Uint8Array; ptrs: number } {
  const bytes = new Uint8Array(size);
  const v = new DataView(bytes.buffer);
  let o = at;
  const addrs: number[] = [];
  for (const s of strings) {
    addrs.push(base + o);
    const e = new TextEncoder().encode(s);
    bytes.set(e, o);
    o += e.length + 1;
  }
  const ptrs = (o + 7) & ~7;
  addrs.forEach((a, i) => v.setBigUint64(ptrs + 8 * i, BigInt(a), true));
  v.setBigUint64(ptrs + 8 * addrs.length, 0n, true);
  return { bytes, ptrs: base + ptrs };
}

Deno.test("argv and envp strings side by side are read with one host read per page", () => {
  const base = 0x10000;
  const env = Array.from({ length: 40 }, (_, i) => `VAR${i}=value number ${i}`);
  const { bytes, ptrs } = layout(base, 8192, env, 100);
  const m = memory(base, bytes);
  const r = new PageReader(m.read);
  assert.deepEqual(r.stringArray(ptrs, 1000).map(text), env);
  assert.equal(m.reads, 1);
  assert.deepEqual(r.stringArray(0, 1000), []);
});

Deno.test("a string across a page boundary is read whole", () => {
  const base = 0x10000;
  const long = "x".repeat(5000);
  const { bytes, ptrs } = layout(base, 3 * 4096, ["a", long, "b"], 4000);
  const r = new PageReader(memory(base, bytes).read);
  assert.deepEqual(r.stringArray(ptrs, 1000).map(text), ["a", long, "b"]);
});

Deno.test("strings come back as the bytes in memory, UTF-8 or not", () => {
  const base = 0x10000;
  const bytes = new Uint8Array(4096);
  bytes.set([0x41, 0xe9, 0xff, 0x80, 0], 16); // "A", then bytes that are not UTF-8
  const v = new DataView(bytes.buffer);
  v.setBigUint64(64, BigInt(base + 16), true);
  v.setBigUint64(72, 0n, true);
  const r = new PageReader(memory(base, bytes).read);
  assert.deepEqual([...r.stringArray(base + 64, 10)[0]!], [0x41, 0xe9, 0xff, 0x80]);
});

Deno.test("an unreadable pointer or string is EFAULT and a string past 32 pages is E2BIG", () => {
  const base = 0x10000;
  const { bytes, ptrs } = layout(base, 4096, ["ok"], 0);
  const r = new PageReader(memory(base, bytes).read);
  assert.throws(() => r.stringArray(0x900000, 10), (e) => e === EFAULT);
  // A pointer array whose string lies outside the readable pages.
  new DataView(bytes.buffer).setBigUint64(ptrs - base, 0x900000n, true);
  assert.throws(() => new PageReader(memory(base, bytes).read).stringArray(ptrs, 10), (e) => e === EFAULT);
  // A string with no NUL in the first 32 pages.
  const big = new Uint8Array(40 * 4096).fill(0x41);
  assert.throws(() => new PageReader(memory(base, big).read).string(base), (e) => e === E2BIG);
  // More strings than allowed.
  const two = layout(base, 4096, ["a", "b"], 0);
  assert.throws(() => new PageReader(memory(base, two.bytes).read).stringArray(two.ptrs, 1), (e) => e === E2BIG);
});
