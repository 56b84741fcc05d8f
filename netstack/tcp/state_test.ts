import assert from "node:assert/strict";
import { canReceiveData, canSendData, isSynchronized } from "./state.ts";

Deno.test("isSynchronized() is false only before the handshake completes", () => {
  assert.ok(!isSynchronized("LISTEN") && !isSynchronized("SYN-SENT") && !isSynchronized("SYN-RECEIVED"));
  assert.ok(isSynchronized("ESTABLISHED") && isSynchronized("TIME-WAIT"));
});

Deno.test("Data may be received until the peer's FIN and sent until ours", () => {
  assert.ok(canReceiveData("FIN-WAIT-2") && !canReceiveData("CLOSE-WAIT"));
  assert.ok(canSendData("CLOSE-WAIT") && !canSendData("FIN-WAIT-1"));
});
