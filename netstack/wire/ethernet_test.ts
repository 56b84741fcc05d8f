import assert from "node:assert/strict";
import { EthernetAddress } from "./address.ts";
import { emitEthernet, EtherType, EthernetFrame, parseEthernet } from "./ethernet.ts";
import { a5, hex, toHex } from "./_test_util.ts";

const GOLDEN = hex("ffffffffffff 020000000001 0806");

Deno.test("parseEthernet() decodes golden bytes field by field", () => {
  const f = EthernetFrame.checked(new Uint8Array([...GOLDEN, 1, 2]))!;
  const r = parseEthernet(f);
  assert.ok(r.dst.isBroadcast);
  assert.equal(r.src.toString(), "02:00:00:00:00:01");
  assert.equal(r.ethertype, EtherType.ARP);
  assert.deepEqual([...f.payload], [1, 2]);
});

Deno.test("emitEthernet() writes every header byte", () => {
  const b = a5(14);
  emitEthernet({
    dst: EthernetAddress.BROADCAST,
    src: EthernetAddress.parse("02:00:00:00:00:01"),
    ethertype: EtherType.ARP,
  }, EthernetFrame.unchecked(b));
  assert.equal(toHex(b), toHex(GOLDEN));
});

Deno.test("EthernetFrame.checked() rejects a truncated header", () => {
  assert.equal(EthernetFrame.checked(GOLDEN.subarray(0, 13)), null);
});
