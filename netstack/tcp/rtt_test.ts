import assert from "node:assert/strict";
import { RttEstimator } from "./rtt.ts";

Deno.test("RttEstimator clamps the RTO to its minimum", () => {
  const e = new RttEstimator({ initialRto: 1000, minRto: 200, maxRto: 60_000 });
  assert.equal(e.rto, 1000);
  e.sample(1);
  assert.equal(e.rto, 200);
});
