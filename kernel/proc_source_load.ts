/**
 * The kernel's side of /proc (kernel/proc_source.ts, with what only it imports: ~39 KB of
 * source), loaded at its first use like /proc's entries (vfs/procfs/procfs.ts procTree): a start
 * that never reads /proc nor lists the sandbox's processes does not load it (issue #16).
 *
 * @module
 */

import { LazyModule } from "./lazy_module.ts";
import type { Kernel } from "./kernel.ts";
import type { ProcSource } from "../vfs/procfs/source.ts";

export const procSourceModule = new LazyModule("the kernel's /proc source", () => import("./proc_source.ts"));

/**
 * Kernel k's ProcSource for a /proc mount made at start (boot/loader.ts): made at its first use,
 * which (reached from a syscall, after /proc's entries loaded) throws ModuleNotLoaded until the
 * module is there; every property is the real source's.
 */
export function lazyProcSource(k: Kernel): ProcSource {
  let real: ProcSource | null = null;
  const source = (): ProcSource => real ??= new (procSourceModule.get().KernelProcSource)(k);
  return new Proxy({} as ProcSource, {
    get(_, key) {
      const s = source();
      const v = Reflect.get(s, key, s);
      return typeof v === "function" ? v.bind(s) : v;
    },
    has: (_, key) => Reflect.has(source(), key),
  });
}
