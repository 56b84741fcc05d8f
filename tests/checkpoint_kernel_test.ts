/**
 * Checkpoint and restore (issue #13) of kernel state beyond tasks, memory and files: seccomp,
 * System V IPC, POSIX message queues (docs/checkpoint.md). Each is a differential test: a C
 * program checkpointed mid-run through the CLI and restored twice from the same image prints
 * what it prints natively; hand-made hostile entries are refused with one line and status 125.
 */

import assert from "node:assert/strict";
import { loadCodecs } from "../kernel/checkpoint/image.ts";
import { readSandboxImage } from "../kernel/checkpoint/sandbox.ts";
import { compileC } from "./_harness.ts";
import { refusedRestores, sentry } from "./_checkpoint.ts";

// readSandboxImage and writeImage use cbor-x and node:zlib, loaded on demand.
await loadCodecs();

async function native(exe: string, args: string[] = []): Promise<string> {
  return new TextDecoder().decode((await new Deno.Command(exe, { args, stdout: "piped" }).output()).stdout);
}

/**
 * Runs `exe` under `sentry do`, checkpointed `after` seconds in, then restores the image twice:
 * the first run's output and each restore's together are `expected`. Returns the image's path
 * (in `dir`).
 */
async function roundTrip(dir: string, exe: string, args: string[], after: string, before: string, expected: string): Promise<string> {
  const image = `${dir}/image.cbor`;
  const first = await sentry(["do", "--checkpoint-image", image, "--checkpoint-after", after, "--", exe, ...args]);
  assert.deepEqual([first.code, first.stderr, first.stdout], [0, "", before]);
  for (const run of [1, 2]) {
    const second = await sentry(["restore", image]);
    assert.deepEqual([second.code, second.stderr], [0, ""], `restore ${run}`);
    assert.equal(first.stdout + second.stdout, expected, `restore ${run}`);
  }
  return image;
}

Deno.test("sentry do --checkpoint-image then sentry restore: seccomp strict mode and filters (TSYNC over a thread, TRAP, ERRNO) go on filtering as natively", async () => {
  const exe = await compileC("ckpt_seccomp", { static: true });
  const want = await native(exe);
  assert.equal(
    want,
    "armed\n" +
      "main: getuid -1 errno 11, getgid -1 errno 22, getppid trapped nr 110 data 7 code 1\n" +
      "thread: getuid -1 errno 11, getgid -1 errno 22, getppid trapped nr 110 data 7 code 1\n" +
      "child: strict mode read and wrote\nchild: signaled 1 signal 9\nthird filter with TSYNC: 0\n" +
      "thread: getegid -1 errno 33\nmain: getegid -1 errno 33\nSeccomp:\t2\nSeccomp_filters:\t3\n",
  );
  const dir = Deno.makeTempDirSync();
  try {
    const image = await roundTrip(dir, exe, [], "0.5", "armed\n", want);
    const s = readSandboxImage(image, "/").state;
    // The strict child's state, and one list of two filters shared by main and its thread.
    assert.deepEqual(s.seccompStates?.map((x) => [x.mode, x.filters.length]).sort(), [[1, 0], [2, 2]]);
    assert.equal(s.seccompFilters?.length, 2);
    const filterState = s.seccompStates!.findIndex((x) => x.mode === 2);
    await refusedRestores(image, [
      ["a filter that loads past seccomp_data", (s) => {
        const p = s.seccompFilters![0]!;
        new DataView(p.buffer, p.byteOffset).setUint32(4, 64, true);
      }, /seccomp filter 0 is not a program seccomp\(2\) accepts/],
      ["a filter that jumps out of itself", (s) => {
        const p = s.seccompFilters![1]!;
        p[8 + 2] = 200; // the first jump's jt
      }, /seccomp filter 1 is not a program seccomp\(2\) accepts/],
      ["a filter of 3 bytes", (s) => void (s.seccompFilters![0] = new Uint8Array(3)), /not a usable checkpoint image/],
      ["a filter twice in one list", (s) => {
        const st = s.seccompStates![filterState]!;
        st.filters = [st.filters[0]!, st.filters[0]!];
      }, /names filter \d+ twice/],
      ["a filter past the table", (s) => void (s.seccompStates![filterState]!.filters[0] = 9), /names filter 9 twice or of 2/],
      ["strict mode with a filter", (s) => void (s.seccompStates![filterState]!.mode = 1), /strict mode has no filter/],
      ["filter mode without one", (s) => void (s.seccompStates![filterState]!.filters = []), /strict mode has no filter, filter mode at least one/],
      ["a task naming a missing state", (s) => {
        const t = s.processes.flatMap((p) => p.tasks).find((t) => t.seccomp === filterState)!;
        t.seccomp = 7;
      }, /seccomp state 7|used by no task/],
      ["a filter in two chains", (s) => {
        const [a, b] = s.seccompStates![filterState]!.filters as [number, number];
        s.seccompStates!.push({ mode: 2, filters: [b, a] });
        const t = s.processes.flatMap((p) => p.tasks).filter((t) => t.seccomp === filterState)[1]!;
        t.seccomp = s.seccompStates!.length - 1;
      }, /follows two different chains/],
      ["an unused filter", (s) => void s.seccompFilters!.push(s.seccompFilters![0]!.slice()), /a seccomp filter no state holds/],
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
