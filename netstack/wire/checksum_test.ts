import assert from "node:assert/strict";
import { checksum, checksumAdd, checksumFinish, pseudoHeaderSum } from "./checksum.ts";
import { Ipv4Address } from "./address.ts";
import { hex } from "./_test_util.ts";

Deno.test("checksum() matches the RFC 1071 worked example", () => {
  // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, complement 220d.
  assert.equal(checksum(hex("0001f203f4f5f6f7")), 0x220d);
});

Deno.test("checksum() pads an odd trailing byte with zero", () => {
  assert.equal(checksum(hex("01")), ~0x0100 & 0xffff);
  assert.equal(checksum(hex("0102 03")), checksum(hex("0102 0300")));
});

Deno.test("checksumAdd() gives the same result whether or not the input is split on even bounds", () => {
  const data = new Uint8Array(1001).map((_, i) => (i * 37) & 255);
  const whole = checksumFinish(checksumAdd(0, data));
  const split = checksumFinish(checksumAdd(checksumAdd(0, data.subarray(0, 500)), data.subarray(500)));
  assert.equal(split, whole);
});

Deno.test("checksumAdd() reads a subarray at a non-zero offset", () => {
  const buf = hex("ffff0001f203f4f5f6f7");
  assert.equal(checksumFinish(checksumAdd(0, buf.subarray(2))), 0x220d);
});

Deno.test("pseudoHeaderSum() adds addresses, protocol and length", () => {
  const s = pseudoHeaderSum({
    src: Ipv4Address.parse("10.0.0.1"),
    dst: Ipv4Address.parse("10.0.0.2"),
    protocol: 6,
    length: 20,
  });
  assert.equal(s, 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + 20);
});
