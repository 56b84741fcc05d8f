import assert from "node:assert/strict";
import { Assembler } from "./assembler.ts";

Deno.test("Assembler merges overlapping and adjacent ranges", () => {
  const a = new Assembler();
  a.add(10, 5);
  a.add(20, 5);
  a.add(15, 5);
  assert.deepEqual(a.ranges(), [[10, 25]]);
  a.add(30, 1);
  a.add(5, 2);
  assert.deepEqual(a.ranges(), [[5, 7], [10, 25], [30, 31]]);
});

Deno.test("Assembler.takeFront() pops a range at zero and rebases the rest", () => {
  const a = new Assembler();
  a.add(4, 4);
  assert.equal(a.takeFront(), 0);
  a.add(0, 4);
  assert.equal(a.takeFront(), 8);
  assert.ok(a.isEmpty);
  a.add(10, 2);
  a.add(0, 3);
  assert.equal(a.takeFront(), 3);
  assert.deepEqual(a.ranges(), [[7, 9]]);
});

Deno.test("Assembler refuses to track more than 32 holes", () => {
  const a = new Assembler();
  for (let i = 0; i < 32; i++) assert.ok(a.add(10 + i * 10, 1));
  assert.equal(a.add(1000, 1), false);
  assert.ok(a.add(11, 1), "extending an existing range is still fine");
});
