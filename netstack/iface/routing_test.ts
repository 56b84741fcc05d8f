import assert from "node:assert/strict";
import { IpCidr, parseIpAddress } from "../wire/address.ts";
import { defaultRoute, RoutingTable } from "./routing.ts";

Deno.test("RoutingTable.lookup() picks the longest matching prefix", () => {
  const t = new RoutingTable();
  t.add(defaultRoute(parseIpAddress("10.0.0.254"), 0));
  t.add({ cidr: IpCidr.parse("10.0.0.0/24"), gateway: null, ifIndex: 0 });
  t.add({ cidr: IpCidr.parse("10.0.0.128/25"), gateway: null, ifIndex: 1 });
  assert.equal(t.lookup(parseIpAddress("10.0.0.200"))?.ifIndex, 1);
  assert.equal(t.lookup(parseIpAddress("10.0.0.5"))?.gateway, null);
  assert.equal(t.lookup(parseIpAddress("8.8.8.8"))?.gateway?.toString(), "10.0.0.254");
  assert.equal(t.lookup(parseIpAddress("::1")), null);
  assert.equal(t.remove((r) => r.ifIndex === 1), 1);
  assert.equal(t.lookup(parseIpAddress("10.0.0.200"))?.ifIndex, 0);
});
