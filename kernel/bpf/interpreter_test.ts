import assert from "node:assert/strict";
import { run, RunFault } from "./interpreter.ts";
import { alu32X, alu64X, EXIT, movK, prog } from "./_test_insns.ts";

const ctx = new Uint8Array(12);

Deno.test("division by zero gives 0 and modulo by zero keeps the dividend, as Linux's interpreter", () => {
  assert.equal(run(prog(movK(0, 7), movK(1, 0), alu64X(0x30, 0, 1), EXIT), ctx), 0n);
  assert.equal(run(prog(movK(0, 7), movK(1, 0), alu64X(0x90, 0, 1), EXIT), ctx), 7n);
  // 32-bit modulo by zero still zeroes the upper half.
  assert.equal(run(prog(movK(0, -1), movK(1, 0), alu32X(0x90, 0, 1), EXIT), ctx), 0xffff_ffffn);
});

Deno.test("signed division (off 1) by -1 negates, and rounds toward zero", () => {
  assert.equal(run(prog(movK(0, -7), movK(1, 2), alu64X(0x30, 0, 1, 1), EXIT), ctx), BigInt.asUintN(64, -3n));
  assert.equal(run(prog(movK(0, -7), movK(1, -1), alu64X(0x30, 0, 1, 1), EXIT), ctx), 7n);
  assert.equal(run(prog(movK(0, -7), movK(1, 2), alu64X(0x90, 0, 1, 1), EXIT), ctx), BigInt.asUintN(64, -1n));
});

Deno.test("32-bit operations zero the upper half; 64-bit immediates are sign-extended", () => {
  assert.equal(run(prog(movK(0, -1), EXIT), ctx), (1n << 64n) - 1n);
  assert.equal(run(prog([0xb4, 0, 0, 0, -1], EXIT), ctx), 0xffff_ffffn); // mov32
  assert.equal(run(prog(movK(0, -1), [0x04, 0, 0, 0, 1], EXIT), ctx), 0n); // add32 wraps to 0
  assert.equal(run(prog(movK(0, -16), [0xc7, 0, 0, 0, 2], EXIT), ctx), BigInt.asUintN(64, -4n)); // arsh
});

Deno.test("byte swaps: BPF_END to big-endian and ALU64 bswap", () => {
  assert.equal(run(prog(movK(0, 0x1234), [0xdc, 0, 0, 0, 16], EXIT), ctx), 0x3412n);
  assert.equal(run(prog(movK(0, 0x11223344), [0xd4, 0, 0, 0, 16], EXIT), ctx), 0x3344n); // to LE: truncate
  assert.equal(run(prog(movK(0, 0x11223344), [0xd7, 0, 0, 0, 32], EXIT), ctx), 0x44332211n);
});

Deno.test("movsx and ldx memsx sign-extend", () => {
  assert.equal(run(prog(movK(1, 0x80), [0xbf, 0, 1, 8, 0], EXIT), ctx), BigInt.asUintN(64, -128n));
  const c = new Uint8Array(12);
  c[4] = 0xff;
  assert.equal(run(prog([0x91, 0, 1, 4, 0], EXIT), c), (1n << 64n) - 1n); // ldxsb
});

Deno.test("the context is read where R1 points, the stack below R10 keeps what is stored", () => {
  const c = new Uint8Array([2, 0, 6, 0, 1, 0, 0, 0, 3, 0, 0, 0]);
  assert.equal(run(prog([0x61, 0, 1, 0, 0], EXIT), c), 0x0006_0002n);
  assert.equal(run(prog([0x69, 0, 1, 2, 0], EXIT), c), 6n);
  assert.equal(run(prog([0x61, 2, 1, 8, 0], [0x63, 10, 2, -4, 0], [0x61, 0, 10, -4, 0], EXIT), c), 3n);
  assert.equal(run(prog([0x7a, 10, 0, -8, -2], [0x79, 0, 10, -8, 0], EXIT), c), BigInt.asUintN(64, -2n));
});

Deno.test("a loop runs to its end; JMP32 compares the low halves", () => {
  // r0 = 0; r2 = 10; loop: r0 += 2; r2 -= 1; if r2 != 0 goto loop
  assert.equal(run(prog(movK(0, 0), movK(2, 10), [0x07, 0, 0, 0, 2], [0x17, 2, 0, 0, 1], [0x55, 2, 0, -3, 0], EXIT), ctx), 20n);
  // r1 = 1 << 32 | 5: JMP32 sees 5.
  assert.equal(
    run(prog([0x18, 1, 0, 0, 5], [0, 0, 0, 0, 1], movK(0, 0), [0x16, 1, 0, 1, 5], EXIT, movK(0, 1), EXIT), ctx),
    1n,
  );
});

Deno.test("what the verifier would refuse faults instead of touching anything: context writes, stray addresses, endless loops", () => {
  assert.throws(() => run(prog(movK(0, 1), [0x63, 1, 0, 0, 0], EXIT), ctx), RunFault);
  assert.throws(() => run(prog(movK(2, 4096), [0x61, 0, 2, 0, 0], EXIT), ctx), RunFault);
  assert.throws(() => run(prog([0x7a, 10, 0, -520, 0], movK(0, 1), EXIT), ctx), RunFault);
  assert.throws(() => run(prog(movK(0, 1), [0x05, 0, 0, -1, 0], EXIT), ctx), RunFault);
});
