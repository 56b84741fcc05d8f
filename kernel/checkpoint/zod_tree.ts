/**
 * zod for the checkpoint's schemas, with its cycle support off. zod 4 wraps each container
 * schema made while its memoizer is installed (the default), so that input with reference
 * cycles and shared references parses, each object once; the first parse then walks every
 * schema looking for recursion, which cost an idle shell's restore ~10-20 ms. An image's state
 * is a tree: cbor_plain.ts makes nothing else, and what cbor-x decodes is checked to be one
 * (image.ts) before any schema sees it. Every checkpoint module takes `z` from here, so the
 * setting is made before any of their schemas is built; it is global, and schemas made after
 * it elsewhere in the same process (boot's, for JSON, a tree too) are made without it as well.
 *
 * @module
 */

import { z } from "zod";

z.config({ memoizer: undefined });

export { z };
