import assert from "node:assert/strict";
import { Ipv6Address } from "./address.ts";
import { IpProtocol } from "./ipv4.ts";
import { emitIpv6, Ipv6Packet, parseIpv6 } from "./ipv6.ts";
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
