/**
 * The restore's hand checks of a state (kernel/checkpoint/plain_state.ts) against the state's
 * zod schema, the reference: whatever the hand checks accept, real states and thousands of
 * mutations of them, the schema accepts and returns unchanged; and an idle shell's state is
 * taken by the hand checks whole (else a restore loads zod and builds its schemas again, and
 * nothing else would notice), and holds none of the kinds of object kernel/checkpoint/kinds.ts
 * restores (else a restore loads those modules again).
 */

import assert from "node:assert/strict";
import { ImageError, loadCodecs } from "../kernel/checkpoint/image.ts";
import { imageNeedsProc, kindFree, readSandboxImageFast } from "../kernel/checkpoint/sandbox.ts";
import { readSandboxImage, savedSandboxSchema } from "../kernel/checkpoint/sandbox_schema.ts";
import { plainSandbox } from "../kernel/checkpoint/plain_state.ts";
import { built } from "../kernel/checkpoint/zod_tree.ts";
import { compileC } from "./_harness.ts";
import { refusedRestores, sentry } from "./_checkpoint.ts";

await loadCodecs();

/** The image of `argv` checkpointed by `sentry do` after `after` seconds. */
async function imageOf(dir: string, name: string, after: string, argv: string[]): Promise<string> {
  const image = `${dir}/${name}.cbor`;
  const r = await sentry(["do", "--checkpoint-image", image, "--checkpoint-after", after, "--", ...argv]);
  assert.equal(r.code, 0, r.stderr);
  return image;
}

/** zod's verdict: the parsed state, or null when refused. */
function schemaParse(s: unknown): unknown {
  const r = built(savedSandboxSchema).safeParse(s, { jitless: true });
  return r.success ? r.data : null;
}

type Node = Record<string, unknown> | unknown[];

/**
 * The objects and arrays of the tree v, each with its path where array indices are "[]": the
 * first two of each such path only (the 65 signal actions of each process are one shape).
 */
function nodes(v: unknown, path = "", seen = new Map<string, number>(), out: [string, Node][] = []): [string, Node][] {
  if (typeof v !== "object" || v === null || v instanceof Uint8Array) return out;
  const n = seen.get(path) ?? 0;
  if (n >= 2) return out;
  seen.set(path, n + 1);
  out.push([path, v as Node]);
  for (const [k, x] of Object.entries(v)) nodes(x, Array.isArray(v) ? `${path}[]` : `${path}.${k}`, seen, out);
  return out;
}

/** Values a member is replaced with: of every type, at and past the schemas' bounds. */
function replacements(old: unknown): unknown[] {
  const r: unknown[] = [
    undefined, null, true, false, 0, -1, 1, 0.5, NaN, Infinity, -Infinity, 7, 8, 15, 16, 64, 65, 1000, 1001, 0x3ff, 0x400, 0x7fff_ffff,
    0xffff_ffff, 2 ** 32, 1 << 22, (1 << 22) + 1, 2 ** 53, 2 ** 62, 2 ** 63, -(2 ** 31) - 1, "", "x", "/", "/x", "/x/../y", "x/./y", "0", "f",
    "ffffffffffffffff", "1ffffffffffffffff", "G", "-1", "a".repeat(16), "/".padEnd(4097, "a"), "sh".padEnd(16, "x"), [], {},
    new Uint8Array(0), new Uint8Array(216), new Uint8Array((1 << 16) + 1),
  ];
  if (typeof old === "number") r.push(old + 1, old - 1, -old, old * 2 ** 20, old + 0.5);
  if (typeof old === "string") r.push(`${old}x`, `${old}/`, `/${old}`, old.slice(1), old.toUpperCase(), `${old}\0`);
  if (Array.isArray(old)) r.push([...old, old[0]], old.slice(1), [null]);
  if (old instanceof Uint8Array) r.push(old.subarray(1), new Uint8Array(old.length + 1));
  return r;
}

/**
 * Mutates `state` in place in every way below (each member deleted, set to undefined or
 * replaced, each object given a key of its own, each array grown and shrunk), each undone
 * before the next, and checks each: accepted by hand means accepted by the schema, unchanged.
 * Returns how many the hand checks took, of how many tried.
 */
function checkMutations(state: Record<string, unknown>): { plain: number; tried: number } {
  const all: Array<[string, () => () => void]> = [];
  for (const [path, n] of nodes(state)) {
    if (!Array.isArray(n)) {
      all.push([`${path}.extra = 1`, () => {
        (n as Record<string, unknown>).extra = 1;
        return () => delete (n as Record<string, unknown>).extra;
      }]);
    }
    for (const k of Object.keys(n)) {
      const o = n as Record<string, unknown>;
      const old = o[k];
      if (!Array.isArray(n)) {
        all.push([`delete ${path}.${k}`, () => {
          delete o[k];
          return () => void (o[k] = old);
        }]);
      }
      for (const v of replacements(old)) {
        all.push([`${path}.${k} = ${typeof v === "string" ? JSON.stringify(v.slice(0, 20)) : String(v)}`, () => {
          o[k] = v;
          return () => void (o[k] = old);
        }]);
      }
    }
  }
  let plain = 0, tried = 0;
  for (const [what, mutate] of all) {
    const undo = mutate();
    try {
      tried++;
      if (!plainSandbox(state)) continue;
      plain++;
      const parsed = schemaParse(state);
      assert.notEqual(parsed, null, `the hand checks took a state the schema refuses: ${what}`);
      assert.deepStrictEqual(parsed, state, `the schema changes a state the hand checks took: ${what}`);
    } finally {
      undo();
    }
  }
  return { plain, tried };
}

Deno.test("checkpoint plain state: an idle shell's state is taken whole by the hand checks, as the schema takes it, and so are only states the schema takes unchanged", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const image = await imageOf(dir, "idle", "0.5", ["/bin/sh", "-c", "sleep 1000"]);
    const { state } = readSandboxImage(image, "/");
    assert.ok(plainSandbox(state), "an idle shell's state is not taken by the hand checks: a restore loads zod again");
    assert.ok(kindFree(state), "an idle shell's state names objects of kinds.ts: a restore loads its modules again");
    assert.deepStrictEqual(schemaParse(state), state);
    // Read through the restore's reader (the hand checks) and through the schema: the same.
    const fast = await readSandboxImageFast(image, "/");
    fast.close?.();
    assert.deepStrictEqual(fast.state, state);
    const r = checkMutations(state as unknown as Record<string, unknown>);
    // Many taken, many refused: the mutations reach both sides of the line.
    assert.ok(r.plain > 1000 && r.tried - r.plain > 5000, JSON.stringify(r));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("checkpoint plain state: a job with pipes, threads, a zombie and an itimer is left to the schema, and its mutations too unless the schema takes them unchanged", async () => {
  const exe = await compileC("ckpt_pipeline", { static: true });
  const dir = Deno.makeTempDirSync();
  try {
    const image = await imageOf(dir, "job", "0.5", [exe, "file"]);
    const { state } = readSandboxImage(image, "/");
    assert.ok(!plainSandbox(state));
    checkMutations(state as unknown as Record<string, unknown>);
    // Without what the hand checks leave to the schema (pipes, their files, queued signals,
    // zombies, timers), a state close to it is taken, and must be as the schema takes it.
    const s = structuredClone(state) as unknown as Record<string, unknown>;
    s.pipes = [];
    s.files = (s.files as Array<{ kind: string }>).filter((f) => f.kind === "stdio");
    for (const t of s.fdTables as Array<{ slots: Array<{ file: number }> }>) t.slots = t.slots.filter((x) => x.file < (s.files as unknown[]).length);
    s.processes = (s.processes as Array<Record<string, unknown>>).filter((p) => p.zombie === null).map((p) => ({
      ...p,
      pending: [],
      tasks: (p.tasks as Array<Record<string, unknown>>).map((t) => ({ ...t, pending: [] })),
      timers: { itimerVirtual: null, itimerProf: null, cpuLimit: [], posix: [] },
    }));
    if (plainSandbox(s)) assert.deepStrictEqual(schemaParse(s), s);
    checkMutations(s);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** What reading the image at `path` gives: its state, or the one line it is refused with. */
async function outcome(read: () => Promise<{ state: unknown; close?(): void }> | { state: unknown; close?(): void }): Promise<unknown> {
  try {
    const img = await read();
    img.close?.();
    return img.state;
  } catch (err) {
    if (err instanceof ImageError) return err.message;
    throw err;
  }
}

Deno.test("checkpoint plain state: the restore's reader (hand checks first) and readSandboxImage (the schema) read an idle shell's image alike under byte flips and cuts", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const image = await imageOf(dir, "idle", "0.5", ["/bin/sh", "-c", "sleep 1000"]);
    const bytes = Deno.readFileSync(image);
    const bad = `${dir}/bad.cbor`;
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    // The state is the image's first ~35 KB (the memory runs follow): flips there, mostly.
    const tries: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) {
      const b = bytes.slice();
      const at = Math.floor(rand() * Math.min(b.length, 40_000));
      b[at]! ^= 1 << Math.floor(rand() * 8);
      tries.push(b);
    }
    for (let i = 0; i < 20; i++) tries.push(bytes.slice(0, Math.floor(rand() * bytes.length)));
    let same = 0;
    for (const b of tries) {
      Deno.writeFileSync(bad, b);
      const fast = await outcome(() => readSandboxImageFast(bad, "/"));
      const slow = await outcome(() => readSandboxImage(bad, "/"));
      assert.deepStrictEqual(fast, slow);
      if (typeof fast !== "string") same++;
    }
    // Some flips leave a valid image (a digit of a number, a byte of a register), most do not.
    assert.ok(same > 0 && same < tries.length, `${same} of ${tries.length} read`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("checkpoint plain state: an idle shell's image that names a terminal, keyring or seccomp state it lacks is refused (its restore loads kinds.ts for it)", async () => {
  // These members are ones the hand checks take; the objects they name are kinds.ts's, whose
  // checks a restore of a kindFree state skips: such a state must not be kindFree.
  const dir = Deno.makeTempDirSync();
  try {
    const image = await imageOf(dir, "idle", "0.5", ["/bin/sh", "-c", "sleep 1000"]);
    const init = (s: ReturnType<typeof readSandboxImage>["state"]) => s.processes.find((p) => p.tgid === s.init)!;
    await refusedRestores(image, [
      ["a console the image lacks", (s) => void (s.console = 0), /the console names pty 0 of 0/],
      ["an exec session's terminal the image lacks", (s) => void (s.execTerminals = [0]), /an exec session names pty 0/],
      ["a controlling terminal the image lacks", (s) => void (init(s).tty = 0), /a controlling terminal names pty 0 of 0/],
      ["a seccomp state the image lacks", (s) => void (init(s).tasks[0]!.seccomp = 0), /a task names seccomp state 0 of 0/],
      ["a session keyring the image lacks", (s) => void (init(s).tasks[0]!.sessionKeyring = 5), /a task names keyring 5, which the image lacks/],
      ["a process keyring the image lacks", (s) => void (init(s).processKeyring = 7), /a task names keyring 7, which the image lacks/],
    ]);
    // /proc's modules: not for the idle shell's restore, but for a working or root directory
    // that may lead there, and for any state that is not kindFree.
    const { state: idle } = readSandboxImage(image, "/");
    assert.ok(!imageNeedsProc(idle), "an idle shell's restore loads /proc's modules");
    for (const [cwd, needs] of [["/proc", true], ["/proc/1", true], ["/sys/kernel", true], ["/procs", false], ["/tmp/proc", false]] as const) {
      const { state } = readSandboxImage(image, "/");
      state.fsContexts[0]!.cwd = cwd;
      assert.equal(imageNeedsProc(state), needs, cwd);
      delete (state.fsContexts[0] as { cwd: string; root?: string }).root;
      state.fsContexts[0]!.cwd = "/";
      state.fsContexts[0]!.root = cwd;
      assert.equal(imageNeedsProc(state), needs, `root ${cwd}`);
    }
    for (const [what, mutate] of [
      ["console", (s: ReturnType<typeof readSandboxImage>["state"]) => void (s.console = 0)],
      ["seccomp", (s: ReturnType<typeof readSandboxImage>["state"]) => void (init(s).tasks[0]!.seccomp = 0)],
    ] as const) {
      const { state } = readSandboxImage(image, "/");
      assert.ok(kindFree(state));
      mutate(state);
      assert.ok(plainSandbox(state), what);
      assert.ok(!kindFree(state), what);
      assert.ok(imageNeedsProc(state), what);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
