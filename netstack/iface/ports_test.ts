import assert from "node:assert/strict";
import { Ipv4Address } from "../wire/address.ts";
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
