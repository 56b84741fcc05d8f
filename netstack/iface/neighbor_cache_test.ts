import assert from "node:assert/strict";
import { EthernetAddress, Ipv4Address } from "../wire/address.ts";
import { NEIGHBOR_MAX, NEIGHBOR_RETRY, NEIGHBOR_TTL, NeighborCache } from "./neighbor_cache.ts";

const IP = Ipv4Address.parse("10.0.0.9");
const MAC = EthernetAddress.parse("02:00:00:00:00:09");

Deno.test("NeighborCache rate-limits requests for a missing entry", () => {
  const c = new NeighborCache();
  assert.deepEqual(c.lookup(IP, 0), { kind: "missing", request: true });
  assert.deepEqual(c.lookup(IP, 10), { kind: "missing", request: false });
  assert.equal(c.nextRetry(), NEIGHBOR_RETRY);
  assert.deepEqual(c.lookup(IP, NEIGHBOR_RETRY), { kind: "missing", request: true });
});

Deno.test("NeighborCache keeps using a stale entry while asking for a refresh", () => {
  const c = new NeighborCache();
  c.fill(IP, MAC, 0);
  const fresh = c.lookup(IP, 1);
  assert.ok(fresh.kind === "found" && !fresh.refresh && fresh.mac.equals(MAC));
  const stale = c.lookup(IP, NEIGHBOR_TTL);
  assert.ok(stale.kind === "found" && stale.refresh);
  const again = c.lookup(IP, NEIGHBOR_TTL + 1);
  assert.ok(again.kind === "found" && !again.refresh);
});

Deno.test("NeighborCache evicts the stalest entry beyond its bound", () => {
  const c = new NeighborCache();
  for (let i = 0; i < NEIGHBOR_MAX + 1; i++) c.fill(Ipv4Address.fromValue(0x0a000000 + i), MAC, i);
  assert.equal(c.size, NEIGHBOR_MAX);
  assert.ok(!c.has(Ipv4Address.fromValue(0x0a000000)));
  assert.ok(c.has(Ipv4Address.fromValue(0x0a000000 + NEIGHBOR_MAX)));
});
