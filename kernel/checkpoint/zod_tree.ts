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
