import assert from "node:assert/strict";
import { retryInterrupted, writeAllAsync, writeAllSync } from "./write_all.ts";

/** A writer that takes at most `max` bytes a call and fails with EINTR on the calls listed. */
class FlakyWriter {
  readonly got: number[] = [];
  #call = 0;
  constructor(readonly max: number, readonly interrupted: Set<number>) {}
  writeSync(b: Uint8Array): number {
    if (this.interrupted.has(this.#call++)) throw new Deno.errors.Interrupted("Interrupted system call (os error 4)");
    const n = Math.min(this.max, b.length);
    this.got.push(...b.subarray(0, n));
    return n;
  }
  write(b: Uint8Array): Promise<number> {
    return Promise.resolve().then(() => this.writeSync(b));
  }
}

const BYTES = Uint8Array.from({ length: 10 }, (_, i) => i);

Deno.test("writeAllSync runs an interrupted write again and continues after short writes", () => {
  const w = new FlakyWriter(3, new Set([0, 2, 3]));
  writeAllSync(w, BYTES);
  assert.deepEqual(w.got, [...BYTES]);
});

Deno.test("writeAllAsync runs an interrupted write again and continues after short writes", async () => {
  const w = new FlakyWriter(4, new Set([1]));
  await writeAllAsync(w, BYTES);
  assert.deepEqual(w.got, [...BYTES]);
});

Deno.test("writeAllSync passes on errors other than EINTR", () => {
  const w = {
    writeSync(): number {
      throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
    },
  };
  assert.throws(() => writeAllSync(w, BYTES), Deno.errors.BrokenPipe);
});

Deno.test("retryInterrupted runs a call again while it is interrupted and returns its result", () => {
  let calls = 0;
  const r = retryInterrupted(() => {
    if (++calls < 3) throw new Deno.errors.Interrupted("Interrupted system call (os error 4)");
    return "done";
  });
  assert.equal(r, "done");
  assert.equal(calls, 3);
  assert.throws(() => retryInterrupted(() => {
    throw new Deno.errors.NotFound("gone");
  }), Deno.errors.NotFound);
});
