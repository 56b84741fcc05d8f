/**
 * zod for the checkpoint's schemas, with its cycle support off. zod 4 wraps each container
 * schema made while its memoizer is installed (the default), so that input with reference
 * cycles and shared references parses, each object once; the first parse then walks every
 * schema looking for recursion, which cost an idle shell's restore ~10-20 ms. An image's state
 * is a tree: cbor_plain.ts makes nothing else, and what cbor-x decodes is checked to be one
 * (image.ts) before any schema sees it. The memoizer is replaced by one that does nothing:
 * zod installs its own again at the next schema it builds when there is none. Every checkpoint module takes `z` from here, so the
 * setting is made before any of their schemas is built; it is global, and schemas made after
 * it elsewhere in the same process (boot's, for JSON, a tree too) are made without it as well.
 *
 * @module
 */

import * as z from "../zod.ts";

/** A memoizer that does nothing: zod installs its own in place of none at all. */
const noMemoizer: NonNullable<NonNullable<Parameters<typeof z.config>[0]>["memoizer"]> = {
  attach() {},
  guard() {},
  alloc: (_inst, _payload, empty) => empty,
};
z.config({ memoizer: noMemoizer });

export { z };

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
  const s = z.lazy(() => {
    const t = build();
    if (t._zod.propValues?.kind?.has(kind) !== true || t._zod.propValues.kind.size !== 1) {
      throw new Error(`lazyKind: the schema of ${JSON.stringify(kind)} is not of that kind`);
    }
    return t;
  });
  Object.defineProperty(s._zod, "propValues", { value: { kind: new Set([kind]) } });
  return s;
}

/**
 * An object schema built at the first value a parse meets, not when its module loads, for a
 * part of an image most images lack (System V IPC, message queues) that is an optional member
 * of the state: a plain `z.lazy` there would be built at the state's first parse all the same,
 * as the state's object reads whether each member may be absent. This one says it itself (an
 * object is not optional: its `.optional()` is), and its schema is checked to agree once built.
 */
export function lazyObject<T extends z.ZodType>(build: () => T): z.ZodLazy<T> {
  const s = z.lazy(() => {
    const t = build();
    if (t._zod.optin !== undefined || t._zod.optout !== undefined) throw new Error("lazyObject: the schema built may be absent");
    return t;
  });
  Object.defineProperty(s._zod, "optin", { value: undefined });
  Object.defineProperty(s._zod, "optout", { value: undefined });
  return s;
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
    const r = schema.safeParse(v, { jitless: true });
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
