import assert from "node:assert/strict";
import { ArpOperation, ArpPacket, emitArp, parseArp } from "./arp.ts";
import { a5, hex, toHex } from "./_test_util.ts";

const ARP_GOLDEN = hex(
  "0001 0800 06 04 0001 020000000001 0a000001 000000000000 0a000002",
);

Deno.test("parseArp() decodes a request and emitArp() reproduces it", () => {
  const r = parseArp(ArpPacket.checked(ARP_GOLDEN)!)!;
  assert.equal(r.operation, ArpOperation.REQUEST);
  assert.equal(r.senderProtocol.toString(), "10.0.0.1");
  assert.equal(r.targetProtocol.toString(), "10.0.0.2");
  assert.equal(r.senderHardware.toString(), "02:00:00:00:00:01");
  const b = a5(28);
  emitArp(r, ArpPacket.unchecked(b));
  assert.equal(toHex(b), toHex(ARP_GOLDEN));
});

Deno.test("ArpPacket.checked() rejects short packets and non-IPv4 protocol types", () => {
  assert.equal(ArpPacket.checked(ARP_GOLDEN.subarray(0, 27)), null);
  const bad = ARP_GOLDEN.slice();
  bad[2] = 0x86;
  assert.equal(ArpPacket.checked(bad), null);
});
