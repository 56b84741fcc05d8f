import assert from "node:assert/strict";
import { decodePath, encodedPathLength, encodePath, encodePathInto, truncatePath } from "./path_bytes.ts";

Deno.test("path bytes: every byte string survives decodePath then encodePath; UTF-8 decodes as usual", () => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 8;
  for (let k = 0; k < 20_000; k++) {
    const b = new Uint8Array(rand() % 9);
    for (let i = 0; i < b.length; i++) b[i] = rand() % 4 === 0 ? rand() % 0x80 : 0x80 + rand() % 0x80;
    const s = decodePath(b);
    assert.deepEqual(encodePath(s), b);
    assert.equal(encodedPathLength(s), b.length);
    const into = new Uint8Array(16);
    assert.equal(encodePathInto(s, into), b.length);
    assert.deepEqual(into.subarray(0, b.length), b);
  }
  assert.equal(decodePath(new Uint8Array([0x61, 0xff, 0xc3, 0xa9])), "a\udcff\u00e9");
  assert.equal(decodePath(new Uint8Array([0xef, 0xbb, 0xbf, 0x78])), "\ufeffx"); // the BOM stays
  assert.equal(encodePathInto("a\udcff", new Uint8Array(1)), -1);
  assert.equal(truncatePath("\u00e9".repeat(9), 15), "\u00e9".repeat(7) + "\udcc3");
});
