import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { sha256 } from "./sha256.ts";

Deno.test("sha256 agrees with node:crypto's for lengths around the block and padding boundaries", () => {
  for (const len of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 4096 + 13]) {
    const data = new Uint8Array(len);
    crypto.getRandomValues(data);
    assert.deepEqual(sha256(data), new Uint8Array(createHash("sha256").update(data).digest()), `length ${len}`);
  }
  // FIPS 180-2's "abc".
  const hex = Array.from(sha256(new TextEncoder().encode("abc")), (b) => b.toString(16).padStart(2, "0")).join("");
  assert.equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
});
