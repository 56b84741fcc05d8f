import assert from "node:assert/strict";
import { Ipv6Address } from "./address.ts";
import { IpProtocol } from "./ipv4.ts";
import { emitIpv6, Ipv6FragmentHeader, Ipv6Packet, parseIpv6, skipIpv6Extensions } from "./ipv6.ts";
import { a5, hex, toHex } from "./_test_util.ts";

const GOLDEN = hex(
  "60000000 0008 11 40 fe800000000000000000000000000001 fe800000000000000000000000000002 0001000200080000",
);

Deno.test("parseIpv6() decodes golden bytes field by field", () => {
  const p = Ipv6Packet.checked(GOLDEN)!;
  const r = parseIpv6(p);
  assert.equal(r.src.toString(), "fe80::1");
  assert.equal(r.dst.toString(), "fe80::2");
  assert.equal(r.nextHeader, IpProtocol.UDP);
  assert.equal(r.hopLimit, 64);
  assert.equal(r.payloadLength, 8);
  assert.equal(p.payload.length, 8);
});

Deno.test("emitIpv6() writes every header byte", () => {
  const b = a5(40);
  emitIpv6({
    src: Ipv6Address.parse("fe80::1"),
    dst: Ipv6Address.parse("fe80::2"),
    nextHeader: IpProtocol.UDP,
    payloadLength: 8,
    hopLimit: 64,
  }, Ipv6Packet.unchecked(b));
  assert.equal(toHex(b), toHex(GOLDEN.subarray(0, 40)));
});

Deno.test("Ipv6Packet.checked() rejects truncated input and a wrong version", () => {
  assert.equal(Ipv6Packet.checked(GOLDEN.subarray(0, 39)), null);
  assert.equal(Ipv6Packet.checked(GOLDEN.subarray(0, 47)), null);
  const v4 = GOLDEN.slice();
  v4[0] = 0x40;
  assert.equal(Ipv6Packet.checked(v4), null);
  assert.equal(Ipv6Packet.checked(new Uint8Array([...GOLDEN, 0, 0]))!.payload.length, 8);
});

Deno.test("Ipv6FragmentHeader decodes golden bytes and round-trips in a 0xa5 buffer", () => {
  const golden = hex("11 00 05a9 deadbeef");
  const f = Ipv6FragmentHeader.checked(golden)!;
  assert.equal(f.nextHeader, 17);
  assert.equal(f.offset, 0x05a8);
  assert.ok(f.moreFragments);
  assert.equal(f.ident, 0xdeadbeef);
  const b = a5(8);
  Ipv6FragmentHeader.unchecked(b).setAll({ nextHeader: 17, offset: 0x05a8, more: true, ident: 0xdeadbeef });
  assert.equal(toHex(b), toHex(golden));
  assert.equal(Ipv6FragmentHeader.checked(golden.subarray(0, 7)), null);
});

Deno.test("skipIpv6Extensions() walks options headers and rejects overruns", () => {
  // Hop-by-hop (8 bytes, next = dest options), dest options (16 bytes, next = UDP).
  const p = hex("3c00 010400000000  11 01 0000000000000000000000000000  aabb");
  assert.deepEqual(skipIpv6Extensions(0, p), { nextHeader: 17, offset: 24 });
  assert.deepEqual(skipIpv6Extensions(6, p), { nextHeader: 6, offset: 0 });
  assert.equal(skipIpv6Extensions(0, p.subarray(0, 20)), null);
});
