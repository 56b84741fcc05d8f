import assert from "node:assert/strict";
import { Ipv4Address, Ipv6Address } from "../wire/address.ts";
import { EADDRINUSE } from "../errors.ts";
import { EPHEMERAL_LOW, PortTable } from "./ports.ts";

Deno.test("PortTable hands out distinct ephemeral ports from the dynamic range", () => {
  const t = new PortTable<string>();
  const a = t.bind("a", null, 0, () => true);
  const b = t.bind("b", null, 0, () => true);
  assert.equal(a, EPHEMERAL_LOW);
  assert.equal(b, EPHEMERAL_LOW + 1);
});

Deno.test("PortTable refuses overlapping binds that conflict, and allows others", () => {
  const t = new PortTable<string>();
  const x = Ipv4Address.parse("10.0.0.1"), y = Ipv4Address.parse("10.0.0.2");
  t.bind("a", x, 80, () => true);
  assert.throws(() => t.bind("b", null, 80, () => true), (e: unknown) => e === EADDRINUSE);
  assert.equal(t.bind("c", y, 80, () => true), 80);
  assert.equal(t.bind("d", x, 80, () => false), 80);
  t.unbind("a", 80);
  assert.deepEqual(t.holders(80), ["c", "d"]);
});

Deno.test("PortTable: with every ephemeral port held, a UDP autobind (shareHeld) shares one whose holders allow it, else EADDRINUSE", () => {
  const t = new PortTable<string>();
  t.ephemeralRange = [40000, 40002];
  t.bind("plain", null, 0, () => true, true);
  t.bind("reuse", null, 0, () => true, true);
  t.bind("reuse2", null, 0, () => true, true);
  // No free port: 40001's only holder does not conflict with this socket.
  assert.equal(t.bind("more", null, 0, (o) => o !== "reuse", true), 40001);
  assert.deepEqual(t.holders(40001), ["reuse", "more"]);
  // Without shareHeld (TCP's autobind), held ports are not taken.
  assert.throws(() => t.bind("tcp", null, 0, () => false), (e: unknown) => e === EADDRINUSE);
  assert.throws(() => t.bind("none", null, 0, () => true, true), (e: unknown) => e === EADDRINUSE);
});

Deno.test("PortTable: an autobind takes a port held only at another address (127.0.0.1 beside ::1), never one held at an overlapping one", () => {
  const t = new PortTable<string>();
  t.ephemeralRange = [40000, 40001];
  const v6 = Ipv6Address.parse("::1"), v4 = Ipv4Address.parse("127.0.0.1");
  t.bind("a", v6, 0, () => true);
  t.bind("b", null, 0, () => true);
  assert.equal(t.bind("c", v4, 0, () => true), 40000);
  assert.deepEqual(t.holders(40000), ["a", "c"]);
  assert.throws(() => t.bind("d", v4, 0, () => true), (e: unknown) => e === EADDRINUSE);
});
