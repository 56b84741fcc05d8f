/**
 * zod for the checkpoint's schemas: described when their modules load, built by zod at the first
 * parse that needs them, with zod itself loaded only then (loadZod), and its cycle support off.
 *
 * A restore whose state the hand checks take whole (plain_state.ts) parses nothing with zod:
 * it loads no zod (~6 ms of CPU) and builds none of the ~580 schemas it reached (~15 µs each).
 * So the modules' `z` (below) makes descriptions, and `built` turns one into its zod schema.
 *
 * Cycle support: zod 4 wraps each container schema made while its memoizer is installed (the
 * default), so that input with reference cycles and shared references parses, each object
 * once; the first parse then walks every schema looking for recursion, which cost an idle
 * shell's restore ~10-20 ms. An image's state is a tree: cbor_plain.ts makes nothing else, and
 * what cbor-x decodes is checked to be one (image.ts) before any schema sees it. loadZod
 * replaces the memoizer with one that does nothing (zod installs its own again at the next
 * schema it builds when there is none) before any checkpoint schema is built; it is global,
 * and schemas made after it elsewhere in the same process (boot's, for JSON, a tree too) are
 * made without it as well.
 *
 * @module
 */

import type * as Zod from "../zod.ts";

/** A memoizer that does nothing: zod installs its own in place of none at all. */
const noMemoizer: NonNullable<NonNullable<Parameters<typeof Zod.config>[0]>["memoizer"]> = {
  attach() {},
  guard() {},
  alloc: (_inst, _payload, empty) => empty,
};

let zod: typeof Zod | null = null;

/**
 * Loads zod (once) and sets it up for the checkpoint's schemas (no memoizer). Needed before any
 * of them is parsed: loadCodecs (image.ts) does it, and readImageFast when an image is not of
 * the common shapes its hand checks take.
 */
export async function loadZod(): Promise<void> {
  if (zod !== null) return;
  const [m] = await Promise.all([import("../zod.ts"), ...zodLoads.map((f) => f())]);
  m.config({ memoizer: noMemoizer });
  zod = m;
}

const zodLoads: Array<() => Promise<unknown>> = [];

/**
 * Has loadZod load `load` too: for modules whose schemas reach schemas of modules they load on
 * demand (sandbox.ts's of kinds.ts), which a parse then builds.
 */
export function onZodLoad(load: () => Promise<unknown>): void {
  zodLoads.push(load);
}

/** Whether zod is loaded (loadZod): the schemas can be built and parsed. */
export function zodLoaded(): boolean {
  return zod !== null;
}

/** What a description holds: how its zod schema is built, and the schema once built. */
interface Recipe {
  build: () => unknown;
  made?: { v: unknown };
}

/** The key under which a description answers with its recipe (no other object has it). */
const RECIPE: unique symbol = Symbol("recipe");

/** The recipe of `a` when it is a description, else undefined. */
function recipeOf(a: object): Recipe | undefined {
  return (a as { [RECIPE]?: Recipe })[RECIPE];
}

function make(r: Recipe): unknown {
  return (r.made ??= { v: r.build() }).v;
}

/**
 * One handler for every description (a description is made for each step of each schema the
 * modules write, ~1,000 of them: a handler and a WeakMap entry for each cost the load of the
 * checkpoint's modules ~0.4 ms of CPU, ~6%, at load 30).
 */
const describing: ProxyHandler<Recipe> = {
  get(r, prop) {
    if (prop === RECIPE) return r;
    // Not a thenable (an `await` of a module's exports looks), nor anything but a method.
    if (typeof prop === "symbol" || prop === "then") return undefined;
    return (...args: unknown[]) => described(() => (make(r) as Record<string, (...a: unknown[]) => unknown>)[prop]!(...args.map(part)));
  },
};

/**
 * A schema described, not built: any method called on it describes the schema that method
 * would return. Its zod schema is built by {@linkcode built}, at the first parse that reaches
 * it, with whatever it was made of built first.
 */
function described(build: () => unknown): unknown {
  return new Proxy<Recipe>({ build }, describing);
}

/** An argument of a described call, built: schemas, and the schemas in arrays and shapes. */
function part(a: unknown): unknown {
  if (typeof a !== "object" || a === null) return a;
  const r = recipeOf(a);
  if (r !== undefined) return make(r);
  if (Array.isArray(a)) return a.map(part);
  if (Object.getPrototypeOf(a) !== Object.prototype) return a; // a RegExp, a class
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(a)) o[k] = part(v);
  return o;
}

/**
 * The zod schema of `s`: built now if `s` is a description (below) and zod is loaded; `s`
 * itself if it is a zod schema already.
 */
export function built<S>(s: S): S {
  const r = typeof s === "object" && s !== null ? recipeOf(s) : undefined;
  if (r === undefined) return s;
  if (zod === null) throw new Error("kernel/checkpoint/zod_tree.ts: await loadZod() first");
  return make(r) as S;
}

/**
 * zod for the checkpoint's schemas, described when their modules load and built by zod at the
 * first parse that needs them (`built`). Building a zod schema costs ~15 µs, and the
 * checkpoint's modules describe ~1,000; loading zod costs ~6 ms of CPU: a restore whose image
 * the hand checks take whole (sandbox.ts plainSandbox) builds none and never loads zod.
 * `z.lazy`'s function is called when its schema is first parsed, as zod's own, and what it
 * returns is built then.
 */
export const z: typeof Zod = new Proxy(Object.create(null), {
  get(_t, prop) {
    if (typeof prop === "symbol" || prop === "then") return undefined;
    return (...args: unknown[]) =>
      described(() => {
        if (zod === null) throw new Error("kernel/checkpoint/zod_tree.ts: await loadZod() first");
        const f = (zod as unknown as Record<string, (...a: unknown[]) => unknown>)[prop]!;
        if (prop === "lazy") return f(() => built((args[0] as () => unknown)()));
        return f(...args.map(part));
      });
  },
}) as typeof Zod;

/** The types of zod's schemas, under the same names as zod's own `z`. */
export declare namespace z {
  export type infer<T> = Zod.infer<T>;
  export type ZodType<O = unknown, I = unknown> = Zod.ZodType<O, I>;
  export type ZodLazy<T extends Zod.ZodType> = Zod.ZodLazy<T>;
  export type ZodError<T = unknown> = Zod.ZodError<T>;
}

type ZodNumber = ReturnType<typeof z.number>;
const ints = new Map<string, ZodNumber>();

/**
 * A safe integer in [min, max]: `z.number().int().min(min).max(max)` as one schema with one
 * check, shared by every use of the same bounds (schemas are immutable). zod builds a whole
 * schema at each step of that chain (four, each with its methods bound), and the checkpoint's
 * ~125 such chains were a good part of the ~14 ms its modules took to load at every restore.
 */
export function intIn(min: number, max: number): ZodNumber {
  const key = `${min},${max}`;
  let s = ints.get(key);
  if (s === undefined) {
    s = z.number().refine((n) => Number.isSafeInteger(n) && n >= min && n <= max, `expected an integer from ${min} to ${max}`);
    ints.set(key, s);
  }
  return s;
}


/**
 * An option of a discriminated union on `kind` that is built at the first value of its kind a
 * parse meets, not when its module loads. Building zod's schemas is most of what loading the
 * checkpoint's modules costs a restore (~900 of them, ~15 µs each), and an image holds few of
 * the kinds of file and socket it could: an idle shell's, its stdio alone. A plain `z.lazy`
 * would be built anyway, as the union reads each option's discriminator values when it first
 * parses: this one says its value itself, and its schema is checked to agree once built.
 */
export function lazyKind<T extends z.ZodType>(kind: string, build: () => T): z.ZodLazy<T> {
  return described(() => {
    const s = zod!.lazy(() => {
      const t = built(build());
      if (t._zod.propValues?.kind?.has(kind) !== true || t._zod.propValues.kind.size !== 1) {
        throw new Error(`lazyKind: the schema of ${JSON.stringify(kind)} is not of that kind`);
      }
      return t;
    });
    Object.defineProperty(s._zod, "propValues", { value: { kind: new Set([kind]) } });
    return s;
  }) as z.ZodLazy<T>;
}

/**
 * An object schema built at the first value a parse meets, not when its module loads, for a
 * part of an image most images lack (System V IPC, message queues) that is an optional member
 * of the state: a plain `z.lazy` there would be built at the state's first parse all the same,
 * as the state's object reads whether each member may be absent. This one says it itself (an
 * object is not optional: its `.optional()` is), and its schema is checked to agree once built.
 */
export function lazyObject<T extends z.ZodType>(build: () => T): z.ZodLazy<T> {
  return described(() => {
    const s = zod!.lazy(() => {
      const t = built(build());
      if (t._zod.optin !== undefined || t._zod.optout !== undefined) throw new Error("lazyObject: the schema built may be absent");
      return t;
    });
    Object.defineProperty(s._zod, "optin", { value: undefined });
    Object.defineProperty(s._zod, "optout", { value: undefined });
    return s;
  }) as z.ZodLazy<T>;
}

/**
 * `schema` with a fast path: a value `plain` accepts is taken as it is, any other is parsed by
 * `schema`, whose issues are the parse's. For the many entries of one common shape in a state
 * (an address space's mappings: half of an idle shell's ~1,300 values), where zod's parse
 * costs a schema run, a result and an issue list per value. `plain` must accept only values
 * `schema` accepts unchanged (it has no transforms or defaults), so that what is validated
 * stays exactly what `schema` says; anything less common, or wrong, goes to `schema`.
 */
export function withFastPath<S extends z.ZodType>(schema: S, plain: (v: unknown) => boolean): z.ZodType<z.infer<S>> {
  return z.custom<z.infer<S>>().superRefine((v, ctx) => {
    if (plain(v)) return;
    const r = built(schema).safeParse(v, { jitless: true });
    if (!r.success) for (const i of r.error.issues) ctx.addIssue({ code: "custom", message: i.message, path: [...i.path] });
  }) as unknown as z.ZodType<z.infer<S>>;
}

/** Whether v is a safe integer in [min, max] (what `intIn(min, max)` accepts). */
export function isIntIn(v: unknown, min: number, max: number): v is number {
  return Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
}

/** Whether v is a plain object whose own keys are all in `keys` (what a strict object allows). */
export function onlyKeys(v: unknown, keys: ReadonlySet<string>): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v) || Object.getPrototypeOf(v) !== Object.prototype) return false;
  for (const k of Object.keys(v)) if (!keys.has(k)) return false;
  return true;
}
