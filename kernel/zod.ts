/**
 * The parts of zod the sentry uses, named one by one: `import * as z from "kernel/zod.ts"` reads
 * as zod's own `z`, but a bundle (boot/launch.ts, dist/sentry) then carries only these and what
 * they need, ~145 KB. zod's `z` is a namespace of all of zod, its JSON-schema tools and its 60
 * locales, which a bundler must keep whole: 760 KB of JavaScript that every sentry validating
 * a config.json, a control request or a checkpoint image compiled or read from V8's code cache
 * (~10 ms of CPU a start, more under load). zod registers its English messages itself (at the
 * first schema made), which the one-line errors of config.json and images quote.
 *
 * Add a name here when a schema needs one.
 *
 * @module
 */

export {
  array,
  boolean,
  config,
  custom,
  discriminatedUnion,
  enum,
  instanceof,
  lazy,
  literal,
  number,
  object,
  record,
  string,
  tuple,
  union,
  unknown,
  ZodError,
  ZodType,
} from "zod";
export type { infer, ZodLazy } from "zod";
