/**
 * Helpers the checkpoint test files share: the CLI as a user runs it, and hostile images made
 * by mutating a real one.
 */

import assert from "node:assert/strict";
import { readSandboxImage } from "../kernel/checkpoint/sandbox.ts";
import { writeImage } from "../kernel/checkpoint/image.ts";
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
