import assert from "node:assert/strict";
import { ECONNRESET, EPIPE, NetError } from "./errors.ts";

Deno.test("Net errors are singletons carrying the Linux errno name", () => {
  assert.ok(ECONNRESET instanceof NetError && ECONNRESET instanceof Error);
  assert.equal(ECONNRESET.code, "ECONNRESET");
  assert.notEqual(ECONNRESET, EPIPE);
});
