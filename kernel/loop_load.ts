/**
 * The loop driver (kernel/loop.ts), loaded at the first open of a loop device or of
 * /dev/loop-control: a start never loads it.
 *
 * @module
 */

import { LazyModule } from "./lazy_module.ts";

export const loopModule = new LazyModule("loop driver", () => import("./loop.ts"));
