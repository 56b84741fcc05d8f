import assert from "node:assert/strict";
import { Prng } from "./prng.ts";

Deno.test("Prng.next() stays in [0, 1) and below() in [0, n)", () => {
  const p = new Prng(99);
  for (let i = 0; i < 1000; i++) {
    const x = p.next();
    assert.ok(x >= 0 && x < 1);
    const k = p.below(7);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 7);
  }
});

Deno.test("Prng with different seeds gives different streams", () => {
  assert.notEqual(new Prng(1).nextU32(), new Prng(2).nextU32());
});
