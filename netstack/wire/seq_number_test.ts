import assert from "node:assert/strict";
import { seq, seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax } from "./seq_number.ts";

Deno.test("SeqNumber comparisons wrap around 2^32", () => {
  const hi = seq(0xffff_fff0);
  const lo = seqAdd(hi, 0x20);
  assert.equal(lo, 0x10);
  assert.ok(seqLt(hi, lo));
  assert.ok(seqGt(lo, hi));
  assert.ok(seqLe(hi, hi) && seqGe(hi, hi));
  assert.equal(seqDiff(lo, hi), 0x20);
  assert.equal(seqDiff(hi, lo), -0x20);
  assert.equal(seqMax(hi, lo), lo);
});

Deno.test("seq() wraps negative and large integers", () => {
  assert.equal(seq(-1), 0xffff_ffff);
  assert.equal(seq(2 ** 32 + 5), 5);
});
