import assert from "node:assert/strict";
import { EthernetAddress, IpCidr, Ipv4Address, Ipv6Address, parseIpAddress } from "./address.ts";

Deno.test("Ipv4Address.parse() round-trips dotted quads and rejects junk", () => {
  assert.equal(Ipv4Address.parse("192.168.1.254").toString(), "192.168.1.254");
  assert.equal(Ipv4Address.parse("10.0.0.1").value, 0x0a000001);
  assert.throws(() => Ipv4Address.parse("256.0.0.1"), SyntaxError);
  assert.throws(() => Ipv4Address.parse("1.2.3"), SyntaxError);
});

Deno.test("Ipv6Address formats per RFC 5952", () => {
  assert.equal(Ipv6Address.parse("fe80:0:0:0:0:0:0:1").toString(), "fe80::1");
  assert.equal(Ipv6Address.parse("::").toString(), "::");
  assert.equal(Ipv6Address.parse("2001:db8:0:1:0:0:0:1").toString(), "2001:db8:0:1::1");
  assert.equal(Ipv6Address.parse("2001:db8::1:0:0:1").toString(), "2001:db8::1:0:0:1");
  assert.throws(() => Ipv6Address.parse("1::2::3"), SyntaxError);
});

Deno.test("Ipv6Address.solicitedNode() keeps the low 24 bits", () => {
  const a = Ipv6Address.parse("fd00::12:3456");
  assert.equal(a.solicitedNode().toString(), "ff02::1:ff12:3456");
  assert.equal(a.solicitedNode().multicastMac().toString(), "33:33:ff:12:34:56");
});

Deno.test("IpCidr.contains() masks partial bytes", () => {
  const c = IpCidr.parse("10.1.2.3/23");
  assert.ok(c.contains(parseIpAddress("10.1.3.200")));
  assert.ok(!c.contains(parseIpAddress("10.1.4.1")));
  assert.ok(!c.contains(parseIpAddress("::1")));
  assert.equal(c.broadcast()?.toString(), "10.1.3.255");
  assert.ok(IpCidr.parse("fd00::1/64").contains(parseIpAddress("fd00::99")));
});

Deno.test("EthernetAddress knows broadcast and multicast", () => {
  assert.ok(EthernetAddress.BROADCAST.isBroadcast);
  assert.ok(EthernetAddress.parse("33:33:00:00:00:01").isMulticast);
  assert.ok(!EthernetAddress.parse("02:00:00:00:00:01").isMulticast);
});
