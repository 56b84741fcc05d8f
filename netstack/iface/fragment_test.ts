import assert from "node:assert/strict";
import { Ipv4Address } from "../wire/address.ts";
import { REASSEMBLY_TIMEOUT, Reassembler } from "./fragment.ts";

const KEY = { src: Ipv4Address.parse("10.0.0.1"), dst: Ipv4Address.parse("10.0.0.2"), protocol: 17, ident: 7 };
const DATA = Uint8Array.from({ length: 40 }, (_, i) => i);

Deno.test("Reassembler rebuilds a datagram from fragments in any order", () => {
  const r = new Reassembler();
  assert.equal(r.add(0, KEY, { offset: 24, more: false, data: DATA.subarray(24) }), null);
  assert.equal(r.add(0, KEY, { offset: 0, more: true, data: DATA.subarray(0, 8) }), null);
  const whole = r.add(0, KEY, { offset: 8, more: true, data: DATA.subarray(8, 24) });
  assert.deepEqual([...whole!], [...DATA]);
  assert.equal(r.size, 0);
});

Deno.test("Reassembler keeps datagrams with different idents apart", () => {
  const r = new Reassembler();
  r.add(0, KEY, { offset: 0, more: true, data: DATA.subarray(0, 8) });
  assert.equal(r.add(0, { ...KEY, ident: 8 }, { offset: 8, more: false, data: DATA.subarray(8, 16) }), null);
  assert.equal(r.size, 2);
});

Deno.test("Reassembler drops incomplete datagrams after the timeout", () => {
  const r = new Reassembler();
  r.add(0, KEY, { offset: 0, more: true, data: DATA.subarray(0, 8) });
  assert.equal(r.nextExpiry(), REASSEMBLY_TIMEOUT);
  r.expire(REASSEMBLY_TIMEOUT);
  assert.equal(r.size, 0);
  assert.equal(r.add(0, KEY, { offset: 8, more: false, data: DATA.subarray(8) }), null);
});

Deno.test("Reassembler rejects fragments past 64 KiB or misaligned", () => {
  const r = new Reassembler();
  assert.equal(r.add(0, KEY, { offset: 65528, more: false, data: new Uint8Array(16) }), null);
  assert.equal(r.add(0, KEY, { offset: 0, more: true, data: new Uint8Array(7) }), null);
  assert.equal(r.size, 0);
});
