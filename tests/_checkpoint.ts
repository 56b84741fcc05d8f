/**
 * Helpers the checkpoint test files share: the CLI as a user runs it, and hostile images made
 * by mutating a real one.
 */

import assert from "node:assert/strict";
import { readSandboxImage } from "../kernel/checkpoint/sandbox_schema.ts";
import { writeImage } from "../kernel/checkpoint/image.ts";
import { connectTo, readReply, type Reply } from "../boot/control_client.ts";
import { REPO_ROOT } from "./_harness.ts";

/** Runs this checkout's `sentry` with `args`, stdin from /dev/null; its status and output. */
export async function sentry(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(`${REPO_ROOT}/sentry`, { args, stdin: "null", stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A mutation of an image's state, what it is, and the line its restore must give. */
export type ImageCase = [string, (s: ReturnType<typeof readSandboxImage>["state"]) => void, RegExp];

/**
 * Restores each mutation of the image through the CLI: one line on stderr, status 125, nothing
 * run (loadCodecs first: writeImage needs cbor-x).
 */
export async function refusedRestores(image: string, cases: ImageCase[]): Promise<void> {
  const bad = `${image}.bad`;
  for (const [what, mutate, message] of cases) {
    const img = readSandboxImage(image, "/");
    mutate(img.state);
    writeImage(bad, img);
    const r = await sentry(["restore", bad]);
    assert.equal(r.code, 125, what);
    assert.match(r.stderr, message, what);
    assert.equal(r.stderr.split("\n").length, 2, what);
    assert.equal(r.stdout, "", what);
  }
}

/** What a run of the sentry left: its exit status and output. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** How {@linkcode checkpointOn} runs the program. */
export interface CheckpointRun {
  /** Global flags before the command (`--network sandbox`, `--publish ...`). */
  global?: string[];
  /** `do`'s flags before `--` (`--overlay-upper DIR`). */
  flags?: string[];
  /** The whole command instead of `do --id ID [flags] -- argv` (e.g. `run --bundle B ID`). */
  command?: (id: string) => string[];
  /**
   * How long after `ready` to checkpoint, for a state that keeps growing once the program said
   * it began (a transfer filling its queues): 0 by default.
   */
  settleMs?: number;
}

/**
 * Runs `sentry [global] --root R do --id ID [flags] -- argv` until its standard output includes
 * `ready`, then asks its sentry over the control socket (as `sentry checkpoint --image image ID`
 * does) to checkpoint it into `image` and end it: the program says when it has reached the state
 * the test saves, however long that takes on a loaded host, where a timer from the start
 * (`--checkpoint-after`) may come before it. Returns the run's status and output, and the
 * sentry's reply: null when the checkpoint was taken (the sandbox then ended, status 0), else
 * the one-line reason it was refused (the sandbox went on).
 *
 * The program's stdin is a pipe held open until the reply has come, so a program may wait for
 * the checkpoint by reading it (tests/c/_ckpt.h, or `read` in a shell): the read ends there
 * only when the checkpoint was refused, or in a restore (stdin /dev/null there, as natively).
 * The program must print `ready`, or the test fails.
 */
async function checkpointWhenReady(ready: string, image: string, argv: string[], o: CheckpointRun): Promise<Ran & { refusal: string | null }> {
  const root = await Deno.makeTempDir({ prefix: "sentry-ckpt-" });
  const id = `ck-${crypto.randomUUID().slice(0, 8)}`;
  const command = o.command?.(id) ?? ["do", "--id", id, ...(o.flags ?? []), "--", ...argv];
  const child = new Deno.Command(`${REPO_ROOT}/sentry`, {
    args: [...(o.global ?? []), "--root", root, ...command],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.getReader();
  const dec = new TextDecoder();
  let stdout = "";
  const more = async () => {
    const r = await reader.read();
    if (!r.done) stdout += dec.decode(r.value, { stream: true });
    return !r.done;
  };
  let reply: Reply | null = null;
  try {
    while (!stdout.includes(ready) && await more()) { /* reading */ }
    if (stdout.includes(ready)) {
      if (o.settleMs) await new Promise((r) => setTimeout(r, o.settleMs));
      const conn = connectTo(root, id);
      try {
        assert.ok(await conn.send({ op: "checkpoint", image, leaveRunning: false }), "the sentry went away");
        reply = await readReply(conn, id);
      } finally {
        conn.close();
      }
    }
  } finally {
    await child.stdin.close().catch(() => {});
  }
  while (await more()) { /* to the end */ }
  const { code } = await child.status;
  const ran = { code, stdout: stdout + dec.decode(), stderr: await stderr };
  await Deno.remove(root, { recursive: true });
  if (reply === null) assert.fail(`the program ended without printing ${JSON.stringify(ready)}: ${JSON.stringify(ran)}`);
  return { ...ran, refusal: reply.ok ? null : String(reply.error) };
}

/**
 * {@linkcode checkpointWhenReady} for a checkpoint that must be taken: fails the test with the
 * sentry's reason when it is refused.
 */
export async function checkpointOn(ready: string, image: string, argv: string[], o: CheckpointRun = {}): Promise<Ran> {
  const { refusal, ...ran } = await checkpointWhenReady(ready, image, argv, o);
  if (refusal !== null) assert.fail(`the checkpoint was refused (${refusal}): ${JSON.stringify(ran)}`);
  return ran;
}

/**
 * {@linkcode checkpointWhenReady} for a checkpoint the sandbox refuses: returns the one-line
 * reason (`checkpoint: ... not saved yet`) with the run's status and output, the program having
 * gone on to its end; fails the test when the checkpoint was taken, or an image written.
 */
export async function refusedOn(ready: string, argv: string[], o: CheckpointRun = {}): Promise<Ran & { refusal: string }> {
  const dir = await Deno.makeTempDir();
  try {
    const image = `${dir}/image.cbor`;
    const r = await checkpointWhenReady(ready, image, argv, o);
    if (r.refusal === null) assert.fail(`the checkpoint was taken: ${JSON.stringify(r)}`);
    assert.deepEqual([...Deno.readDirSync(dir)], [], "a refused checkpoint wrote something");
    return { ...r, refusal: r.refusal };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Restores `image` (`sentry [global] restore [flags] image`, stdin /dev/null) `times` times
 * (default once): each must end with status 0 and nothing on stderr, and the output `before`
 * the checkpoint and the restore's together must be `expected`. Restoring twice shows that the
 * same image gives the same continuation (the acceptance of issue #13 asks it of the counter).
 */
export async function assertRestores(
  image: string,
  before: string,
  expected: string,
  o: { times?: number; global?: string[]; flags?: string[] } = {},
): Promise<void> {
  for (let run = 1; run <= (o.times ?? 1); run++) {
    const r = await sentry([...(o.global ?? []), "restore", ...(o.flags ?? []), image]);
    assert.deepEqual([r.code, r.stderr], [0, ""], `restore ${run}: ${r.stdout}`);
    assert.equal(before + r.stdout, expected, `restore ${run}`);
  }
}

/**
 * The round trip of most checkpoint tests: argv runs until it prints `ready` and is checkpointed
 * into `image` (status 0, nothing on stderr, and exactly `before` printed, when given), then
 * {@linkcode assertRestores} restores it. Returns the first run.
 */
export async function roundTrip(
  o: CheckpointRun & { argv: string[]; ready: string; image: string; before?: string; expected: string; times?: number },
): Promise<Ran> {
  const first = await checkpointOn(o.ready, o.image, o.argv, o);
  assert.deepEqual([first.code, first.stderr], [0, ""], first.stdout);
  if (o.before !== undefined) assert.equal(first.stdout, o.before);
  await assertRestores(o.image, first.stdout, o.expected, { ...(o.times !== undefined ? { times: o.times } : {}), ...(o.global ? { global: o.global } : {}) });
  return first;
}

/** What `exe args` prints natively, with stdin /dev/null (a program waiting for a checkpoint on stdin goes straight on). */
export async function nativeOutput(exe: string, args: string[] = [], env?: Record<string, string>): Promise<string> {
  const out = await new Deno.Command(exe, { args, stdin: "null", stdout: "piped", ...(env !== undefined ? { env, clearEnv: true } : {}) }).output();
  return new TextDecoder().decode(out.stdout);
}
