import assert from "node:assert/strict";
import { emitIcmpv4, Icmpv4Packet, icmpv4Len, parseIcmpv4 } from "./icmpv4.ts";
import { a5, hex, toHex } from "./_test_util.ts";

const V4_ECHO = hex("080006fa1234000170696e67");

Deno.test("parseIcmpv4() decodes a golden echo request", () => {
  const r = parseIcmpv4(Icmpv4Packet.checked(V4_ECHO)!)!;
  assert.equal(r.kind, "echoRequest");
  if (r.kind !== "echoRequest") return;
  assert.equal(r.ident, 0x1234);
  assert.equal(r.seqNo, 1);
  assert.equal(new TextDecoder().decode(r.data), "ping");
});

Deno.test("emitIcmpv4() reproduces the golden echo request", () => {
  const repr = parseIcmpv4(Icmpv4Packet.checked(V4_ECHO)!)!;
  const b = a5(icmpv4Len(repr));
  emitIcmpv4(repr, Icmpv4Packet.unchecked(b));
  assert.equal(toHex(b), toHex(V4_ECHO));
});

Deno.test("ICMPv4 rejects truncation and a bad checksum", () => {
  assert.equal(Icmpv4Packet.checked(V4_ECHO.subarray(0, 7)), null);
  const bad = V4_ECHO.slice();
  bad[9] = bad[9]! ^ 0x40;
  assert.equal(parseIcmpv4(Icmpv4Packet.checked(bad)!), null);
});

Deno.test("An ICMPv4 message may carry arbitrary data after the header", () => {
  const b = a5(8 + 28);
  emitIcmpv4({ kind: "other", type: 3, code: 3, rest: 0, data: new Uint8Array(28).fill(1) }, Icmpv4Packet.unchecked(b));
  const r = parseIcmpv4(Icmpv4Packet.checked(b)!)!;
  assert.ok(r.kind === "other" && r.type === 3 && r.code === 3 && r.data.length === 28);
});
