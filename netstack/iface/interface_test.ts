import assert from "node:assert/strict";
import { EthernetAddress, Ipv6Address, parseIpAddress } from "../wire/address.ts";
import { Loopback } from "../link/loopback.ts";
import { Interface } from "./interface.ts";

const MAC = EthernetAddress.parse("02:00:00:00:00:01");

Deno.test("Interface accepts its unicast, broadcast and solicited-node addresses", () => {
  const i = new Interface(0, { device: new Loopback(), mac: MAC, addresses: ["10.0.0.1/24", "fd00::1/64"] });
  assert.equal(i.ipMtu, 1500);
  for (const a of ["10.0.0.1", "10.0.0.255", "255.255.255.255", "fd00::1", "ff02::1", "ff02::1:ff00:1"]) {
    assert.ok(i.acceptsDestination(parseIpAddress(a)), a);
  }
  for (const a of ["10.0.0.2", "fd00::2", "ff02::1:ff00:2"]) assert.ok(!i.acceptsDestination(parseIpAddress(a)), a);
});

Deno.test("Interface.sourceFor() prefers an address on the destination's prefix", () => {
  const i = new Interface(0, {
    device: new Loopback(),
    mac: MAC,
    addresses: ["10.0.0.1/24", "192.168.1.1/24", "fe80::1/64", "fd00::1/64"],
  });
  assert.equal(i.sourceFor(parseIpAddress("192.168.1.50"))?.toString(), "192.168.1.1");
  assert.equal(i.sourceFor(parseIpAddress("8.8.8.8"))?.toString(), "10.0.0.1");
  assert.equal(i.sourceFor(parseIpAddress("2001:db8::1"))?.toString(), "fd00::1");
  assert.equal(i.sourceFor(Ipv6Address.parse("fe80::9"))?.toString(), "fe80::1");
});

Deno.test("An Ethernet interface needs a MAC address", () => {
  assert.throws(() => new Interface(0, { device: new Loopback() }), TypeError);
});
