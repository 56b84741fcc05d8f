import assert from "node:assert/strict";
import { pcapGlobalHeader, pcapRecord, PcapWriter } from "./pcap_writer.ts";
import { Loopback } from "./loopback.ts";

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

Deno.test("pcapGlobalHeader() writes the classic little-endian header", () => {
  assert.equal(hex(pcapGlobalHeader("ethernet")), "d4c3b2a1020004000000000000000000ffff000001000000");
  assert.equal(hex(pcapGlobalHeader("ip")).slice(-8), "65000000");
});

Deno.test("pcapRecord() timestamps from milliseconds", () => {
  const r = pcapRecord(1234.5, new Uint8Array([9, 8, 7]));
  assert.equal(hex(r), "01000000" + "04940300" + "03000000" + "03000000" + "090807");
});

Deno.test("PcapWriter records both directions into the sink", () => {
  const chunks: Uint8Array[] = [];
  const w = new PcapWriter(new Loopback(), { write: (b) => chunks.push(b.slice()) });
  w.transmit(5, 2, (b) => b.set([1, 2]));
  assert.deepEqual([...w.receive(6)!], [1, 2]);
  assert.equal(chunks.length, 3);
  assert.equal(chunks[1]!.length, 16 + 2);
  assert.equal(new DataView(chunks[2]!.buffer).getUint32(4, true), 6000);
});
