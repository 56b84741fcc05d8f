import assert from "node:assert/strict";
import type { Insns } from "./insn.ts";
import { verify, VerifierReject } from "./verifier.ts";
import { E2BIG, EACCES, EBADF, EINVAL, type LinuxError } from "../errno.ts";
import { EXIT, movK, prog } from "./_test_insns.ts";

const env = { fdIsOpen: (fd: number) => fd < 3 };

function refusal(p: Insns): [LinuxError, string] {
  try {
    verify(p, env);
  } catch (e) {
    if (e instanceof VerifierReject) return [e.errno, e.message];
    throw e;
  }
  assert.fail("verified");
}

Deno.test("verify() counts the instructions it processed", () => {
  assert.equal(verify(prog(movK(0, 1), EXIT), env), 2);
});

Deno.test("verify() refuses with Linux's errno and message", () => {
  assert.deepEqual(refusal(prog(EXIT)), [EACCES, "R0 !read_ok"]);
  assert.deepEqual(refusal(prog(movK(0, 2), EXIT)), [EINVAL, "At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]"]);
  assert.deepEqual(refusal(prog(movK(0, 1), [0x05, 0, 0, 5, 0], EXIT)), [EINVAL, "jump out of range from insn 1 to 7"]);
  assert.deepEqual(refusal(prog(movK(0, 1), [0x15, 0, 0, -1, 1], EXIT)), [EINVAL, "infinite loop detected at insn 1"]);
  assert.deepEqual(refusal(prog(movK(0, 1), [0x05, 0, 0, -1, 0], EXIT)), [EINVAL, "unreachable insn 2"]);
  assert.deepEqual(refusal(prog(movK(0, 1), EXIT, movK(0, 0), EXIT)), [EINVAL, "unreachable insn 2"]);
  assert.deepEqual(refusal(prog([0x61, 0, 1, 12, 0], movK(0, 1), EXIT)), [EACCES, "invalid bpf_context access off=12 size=4"]);
  assert.deepEqual(refusal(prog([0x7a, 10, 0, 0, 0], movK(0, 1), EXIT)), [EACCES, "invalid write to stack R10 off=0 size=8"]);
  assert.deepEqual(refusal(prog([0x18, 0, 1, 0, 7], [0, 0, 0, 0, 0], movK(0, 1), EXIT))[0], EBADF);
  assert.deepEqual(refusal(prog([0x18, 0, 1, 0, 1], [0, 0, 0, 0, 0], movK(0, 1), EXIT))[0], EINVAL);
});

Deno.test("ranges follow masks, shifts and compared constants, so a bounded result passes", () => {
  // r0 = minor; if r0 > 1 goto +1; exit; r0 = 0; exit
  verify(prog([0x61, 0, 1, 8, 0], [0x25, 0, 0, 1, 1], EXIT, movK(0, 0), EXIT), env);
  // r0 = access_type >> 31 (32-bit): 0 or 1.
  verify(prog([0x61, 0, 1, 0, 0], [0x74, 0, 0, 0, 31], EXIT), env);
  // r0 = major; r0 /= 2 (untracked): unknown.
  assert.equal(refusal(prog([0x61, 0, 1, 4, 0], [0x37, 0, 0, 0, 2], EXIT))[0], EINVAL);
});

Deno.test("a bounded loop is walked to its end; one past the complexity limit is E2BIG", () => {
  verify(prog(movK(0, 0), movK(2, 100), [0x17, 2, 0, 0, 1], [0x55, 2, 0, -2, 0], EXIT), env);
  assert.equal(refusal(prog(movK(0, 0), [0x18, 2, 0, 0, -1], [0, 0, 0, 0, 0x7fffffff], [0x17, 2, 0, 0, 1], [0x55, 2, 0, -2, 0], EXIT))[0], E2BIG);
});
