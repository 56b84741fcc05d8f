import assert from "node:assert/strict";
import { FileRanges, PAGE } from "./file_ranges.ts";

Deno.test("allocations take the lowest free offsets and do not overlap", () => {
  const r = new FileRanges(16 * PAGE);
  assert.equal(r.allocate(2 * PAGE), 0);
  assert.equal(r.allocate(PAGE), 2 * PAGE);
  assert.equal(r.allocate(13 * PAGE), 3 * PAGE);
  assert.equal(r.allocate(PAGE), -1);
  assert.equal(r.allocatedBytes, 16 * PAGE);
});

Deno.test("freed ranges coalesce and can be allocated again whole", () => {
  const r = new FileRanges(8 * PAGE);
  const a = r.allocate(2 * PAGE), b = r.allocate(2 * PAGE), c = r.allocate(2 * PAGE);
  assert.deepEqual(r.unref(a, a + 2 * PAGE), [{ start: 0, end: 2 * PAGE }]);
  assert.deepEqual(r.unref(c, c + 2 * PAGE), [{ start: 4 * PAGE, end: 6 * PAGE }]);
  assert.deepEqual(r.free, [{ start: 0, end: 2 * PAGE }, { start: 4 * PAGE, end: 8 * PAGE }]);
  assert.equal(r.allocate(5 * PAGE), -1, "5 pages do not fit in 2 + 4 free pages");
  r.unref(b, b + 2 * PAGE);
  assert.deepEqual(r.free, [{ start: 0, end: 8 * PAGE }]);
  assert.equal(r.allocate(8 * PAGE), 0);
});

Deno.test("references are counted per page: a range forked then unmapped in parts frees only unshared pages", () => {
  const r = new FileRanges(16 * PAGE);
  const a = r.allocate(4 * PAGE);
  r.ref(a, a + 4 * PAGE); // a fork: two address spaces map it
  assert.equal(r.refs(a, a + 4 * PAGE), 2);
  assert.deepEqual(r.unref(a + PAGE, a + 2 * PAGE), [], "still mapped by the other address space");
  assert.deepEqual(r.unref(a + PAGE, a + 2 * PAGE), [{ start: a + PAGE, end: a + 2 * PAGE }]);
  assert.equal(r.refs(a + PAGE, a + 2 * PAGE), 0);
  assert.equal(r.refs(a, a + PAGE), 2);
  assert.deepEqual(r.unref(a, a + 4 * PAGE), []);
  assert.deepEqual(r.unref(a, a + 4 * PAGE), [{ start: a, end: a + PAGE }, { start: a + 2 * PAGE, end: a + 4 * PAGE }]);
  assert.deepEqual(r.used, []);
  assert.deepEqual(r.free, [{ start: 0, end: 16 * PAGE }]);
});

Deno.test("allocateAt grows a range in place only when the pages after it are free", () => {
  const r = new FileRanges(16 * PAGE);
  const a = r.allocate(2 * PAGE);
  assert.equal(r.allocateAt(a + 2 * PAGE, 2 * PAGE), true);
  const b = r.allocate(PAGE);
  assert.equal(b, 4 * PAGE);
  assert.equal(r.allocateAt(a + 4 * PAGE, PAGE), false, "taken by b");
  assert.equal(r.allocateAt(b + PAGE, 20 * PAGE), false, "past the end");
  assert.deepEqual(r.used, [{ start: 0, end: 5 * PAGE, refs: 1 }], "equal neighbours merge");
  assert.deepEqual(r.unref(0, 5 * PAGE), [{ start: 0, end: 5 * PAGE }]);
});

Deno.test("segment lists stay short under many small allocations and frees", () => {
  const r = new FileRanges(1024 * PAGE);
  const offs: number[] = [];
  for (let i = 0; i < 200; i++) offs.push(r.allocate(PAGE * (1 + (i % 3))));
  for (let i = 0; i < offs.length; i += 2) r.unref(offs[i]!, offs[i]! + PAGE * (1 + (i % 3)));
  for (let i = 1; i < offs.length; i += 2) r.unref(offs[i]!, offs[i]! + PAGE * (1 + (i % 3)));
  assert.deepEqual(r.free, [{ start: 0, end: 1024 * PAGE }]);
  assert.equal(r.used.length, 0);
});
