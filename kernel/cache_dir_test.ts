import assert from "node:assert/strict";
import { hash64 } from "./cache_dir.ts";

const enc = new TextEncoder();

Deno.test("hash64: 16 hex digits, the same for the same parts, whatever their alignment", () => {
  const text = enc.encode("int main(void) { return 0; }\n".repeat(40) + "tail");
  const h = hash64([text]);
  assert.match(h, /^[0-9a-f]{16}$/);
  assert.equal(hash64([text.slice()]), h);
  const shifted = new Uint8Array(text.length + 1);
  shifted.set(text, 1);
  assert.equal(hash64([shifted.subarray(1)]), h, "an unaligned view reads the same words");
});

Deno.test("hash64: a changed byte, a moved part boundary or an added empty part changes it", () => {
  const base = enc.encode("abcdefghijklmnopq");
  const h = hash64([base]);
  for (let i = 0; i < base.length; i++) {
    const b = base.slice();
    b[i]! ^= 1;
    assert.notEqual(hash64([b]), h, `byte ${i}`);
  }
  assert.notEqual(hash64([base.subarray(0, 5), base.subarray(5)]), hash64([base.subarray(0, 6), base.subarray(6)]));
  assert.notEqual(hash64([base, new Uint8Array(0)]), h);
  assert.notEqual(hash64([]), hash64([new Uint8Array(0)]));
});
