import assert from "node:assert/strict";
import { Cubic, initialWindow, NewReno } from "./congestion.ts";
import { RttEstimator } from "./rtt.ts";

const MSS = 1000;

Deno.test("initialWindow() follows RFC 6928", () => {
  assert.equal(initialWindow(1460), 14600);
  assert.equal(initialWindow(536), 5360);
  assert.equal(initialWindow(9000), 18000);
});

Deno.test("NewReno grows exponentially in slow start, linearly after, and halves on loss", () => {
  const r = new NewReno(MSS);
  const start = r.cwnd;
  r.onAck(0, MSS, MSS);
  assert.equal(r.cwnd, start + MSS);
  r.onCongestion(0, 20_000, MSS);
  assert.equal(r.ssthresh, 10_000);
  assert.equal(r.cwnd, 10_000);
  for (let i = 0; i < 10; i++) r.onAck(0, MSS, MSS);
  assert.equal(r.cwnd, 11_000);
  r.onRto(0, 11_000, MSS);
  assert.equal(r.cwnd, MSS);
  assert.equal(r.ssthresh, 5_500);
});

Deno.test("Cubic reduces by beta on loss and regrows towards W_max", () => {
  const c = new Cubic(MSS);
  c.cwnd = 100 * MSS;
  c.ssthresh = 50 * MSS;
  c.onCongestion(0, 100 * MSS, MSS);
  assert.equal(c.cwnd, 70 * MSS);
  let now = 0;
  for (let i = 0; i < 2000; i++) c.onAck((now += 5), MSS, MSS, 50);
  assert.ok(c.cwnd > 90 * MSS, `cwnd ${c.cwnd}`);
});

Deno.test("RttEstimator follows RFC 6298 and backs off", () => {
  const e = new RttEstimator({ initialRto: 1000, minRto: 200, maxRto: 60_000 });
  e.sample(100);
  assert.equal(e.srtt, 100);
  assert.equal(e.rttvar, 50);
  assert.equal(e.rto, 300);
  e.sample(100);
  assert.equal(e.rttvar, 37.5);
  e.backoff();
  assert.equal(e.rto, 2 * (100 + 150));
  for (let i = 0; i < 20; i++) e.backoff();
  assert.equal(e.rto, 60_000);
});
