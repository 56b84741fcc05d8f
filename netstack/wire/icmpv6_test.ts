import assert from "node:assert/strict";
import { EthernetAddress, Ipv6Address } from "./address.ts";
import { emitIcmpv6, Icmpv6Packet, icmpv6Len, type Icmpv6Repr, parseIcmpv6 } from "./icmpv6.ts";
import { a5, hex, toHex } from "./_test_util.ts";

const V6_ECHO = hex("800091ae1234000170696e67");
const S6 = Ipv6Address.parse("fe80::1");
const D6 = Ipv6Address.parse("fe80::2");

Deno.test("parseIcmpv6() decodes a golden echo request using the pseudo-header", () => {
  const r = parseIcmpv6(Icmpv6Packet.checked(V6_ECHO)!, { src: S6, dst: D6 })!;
  assert.equal(r.kind, "echoRequest");
  assert.equal(parseIcmpv6(Icmpv6Packet.checked(V6_ECHO)!, { src: D6, dst: D6 }), null);
  const b = a5(icmpv6Len(r));
  emitIcmpv6(r, Icmpv6Packet.unchecked(b), { src: S6, dst: D6 });
  assert.equal(toHex(b), toHex(V6_ECHO));
});

Deno.test("Neighbor solicitation and advertisement round-trip with link-layer options", () => {
  const mac = EthernetAddress.parse("02:00:00:00:00:07");
  const reprs: Icmpv6Repr[] = [
    { kind: "neighborSolicit", target: D6, sourceLinkAddr: mac },
    {
      kind: "neighborAdvert",
      router: false,
      solicited: true,
      override: true,
      target: D6,
      targetLinkAddr: mac,
    },
  ];
  for (const r of reprs) {
    const b = a5(icmpv6Len(r));
    assert.equal(b.length, 32);
    emitIcmpv6(r, Icmpv6Packet.unchecked(b), { src: S6, dst: D6 });
    const back = parseIcmpv6(Icmpv6Packet.checked(b)!, { src: S6, dst: D6 });
    assert.deepEqual(back, r);
  }
});

Deno.test("Icmpv6Packet.checked() rejects a neighbor solicitation without its target", () => {
  const b = new Uint8Array(20);
  b[0] = 135;
  assert.equal(Icmpv6Packet.checked(b), null);
});
