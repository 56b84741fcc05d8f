import assert from "node:assert/strict";
import { Ipv4Address, Ipv6Address } from "./address.ts";
import { emitUdp, parseUdp, UdpPacket } from "./udp.ts";
import { a5, hex, toHex } from "./_test_util.ts";

const SRC = Ipv4Address.parse("10.0.0.1");
const DST = Ipv4Address.parse("10.0.0.2");
const GOLDEN = hex("04d20035000da2f868656c6c6f");

Deno.test("parseUdp() decodes a golden datagram", () => {
  const p = UdpPacket.checked(GOLDEN)!;
  assert.deepEqual(parseUdp(p, { src: SRC, dst: DST }), { srcPort: 1234, dstPort: 53 });
  assert.equal(new TextDecoder().decode(p.payload), "hello");
});

Deno.test("emitUdp() reproduces the golden datagram in a 0xa5 buffer", () => {
  const b = a5(13);
  emitUdp({ srcPort: 1234, dstPort: 53 }, UdpPacket.unchecked(b), {
    src: SRC,
    dst: DST,
    payload: new TextEncoder().encode("hello"),
  });
  assert.equal(toHex(b), toHex(GOLDEN));
});

Deno.test("UDP rejects truncation, bad lengths and bad checksums; zero checksum passes on IPv4", () => {
  assert.equal(UdpPacket.checked(GOLDEN.subarray(0, 7)), null);
  assert.equal(UdpPacket.checked(GOLDEN.subarray(0, 12)), null);
  const bad = GOLDEN.slice();
  bad[8] = bad[8]! ^ 1;
  assert.equal(parseUdp(UdpPacket.checked(bad)!, { src: SRC, dst: DST }), null);
  const zero = GOLDEN.slice();
  zero[6] = zero[7] = 0;
  assert.ok(parseUdp(UdpPacket.checked(zero)!, { src: SRC, dst: DST }));
  const v6 = Ipv6Address.parse("::1");
  assert.equal(parseUdp(UdpPacket.checked(zero)!, { src: v6, dst: v6 }), null);
});

Deno.test("UdpPacket.payload stops at the length field", () => {
  assert.equal(UdpPacket.checked(new Uint8Array([...GOLDEN, 9, 9]))!.payload.length, 5);
});
