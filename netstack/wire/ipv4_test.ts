import assert from "node:assert/strict";
import { Ipv4Address } from "./address.ts";
import { emitIpv4, IpProtocol, Ipv4Packet, parseIpv4 } from "./ipv4.ts";
import { a5, hex, toHex } from "./_test_util.ts";

// A well-known example header (UDP, 115 bytes, 192.168.0.1 -> 192.168.0.199).
const GOLDEN = hex("45000073 00004000 4011b861 c0a80001 c0a800c7");

function withPayload(h: Uint8Array, total: number): Uint8Array {
  const b = new Uint8Array(total);
  b.set(h);
  return b;
}

Deno.test("parseIpv4() decodes golden bytes field by field", () => {
  const p = Ipv4Packet.checked(withPayload(GOLDEN, 0x73))!;
  const r = parseIpv4(p)!;
  assert.equal(r.src.toString(), "192.168.0.1");
  assert.equal(r.dst.toString(), "192.168.0.199");
  assert.equal(r.protocol, IpProtocol.UDP);
  assert.equal(r.hopLimit, 64);
  assert.equal(r.payloadLength, 0x73 - 20);
  assert.ok(p.dontFragment && !p.moreFragments && p.fragmentOffset === 0 && !p.isFragment);
});

Deno.test("emitIpv4() writes a header with a correct checksum into a 0xa5 buffer", () => {
  const b = a5(20);
  emitIpv4({
    src: Ipv4Address.parse("192.168.0.1"),
    dst: Ipv4Address.parse("192.168.0.199"),
    protocol: IpProtocol.UDP,
    payloadLength: 0x73 - 20,
    hopLimit: 64,
  }, Ipv4Packet.unchecked(b));
  // Same as golden except DF is clear, which raises the checksum by 0x4000.
  assert.equal(toHex(b), "45000073000000004011f861c0a80001c0a800c7");
  assert.ok(Ipv4Packet.unchecked(b).verifyChecksum());
});

Deno.test("parseIpv4() rejects a corrupted checksum", () => {
  const b = withPayload(GOLDEN, 0x73);
  b[11] = b[11]! ^ 1;
  assert.equal(parseIpv4(Ipv4Packet.checked(b)!), null);
});

Deno.test("Ipv4Packet.checked() rejects truncated input and bad lengths", () => {
  assert.equal(Ipv4Packet.checked(GOLDEN.subarray(0, 19)), null);
  assert.equal(Ipv4Packet.checked(GOLDEN), null); // total length 0x73 > 20 bytes
  const badIhl = withPayload(GOLDEN, 0x73);
  badIhl[0] = 0x44;
  assert.equal(Ipv4Packet.checked(badIhl), null);
  const v6 = withPayload(GOLDEN, 0x73);
  v6[0] = 0x65;
  assert.equal(Ipv4Packet.checked(v6), null);
});

Deno.test("Ipv4Packet.payload ignores link padding past the total length", () => {
  const p = Ipv4Packet.checked(withPayload(GOLDEN, 0x73 + 10))!;
  assert.equal(p.payload.length, 0x73 - 20);
});

Deno.test("Ipv4Packet fragment fields round-trip", () => {
  const b = a5(20);
  const p = Ipv4Packet.unchecked(b);
  p.setFragment(false, true, 1480);
  assert.ok(p.moreFragments && !p.dontFragment && p.isFragment);
  assert.equal(p.fragmentOffset, 1480);
});

Deno.test("Ipv4Packet skips header options: payload starts after IHL words", () => {
  // IHL 6: one 4-byte option word (NOP NOP NOP EOL), total length 28.
  const b = hex("46000020 00000000 40110000 0a000001 0a000002 01010100 0102030405060708 ffff");
  const p = Ipv4Packet.checked(b)!;
  p.fillChecksum();
  assert.equal(p.headerLength, 24);
  assert.deepEqual([...p.payload], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(parseIpv4(p)!.payloadLength, 8);
});
