/**
 * The network's code, loaded at its first use (kernel/lazy_module.ts): the netstack, the socket
 * families, netfilter and nf_tables, the socket syscalls, /proc/net's renderers and TUN
 * (kernel/net_modules.ts, ~30% of the kernel's code) are not imported when a sandbox starts,
 * only when a program first needs them. The places that reach them (a Net's stack, built at
 * first use, the socket syscalls' stubs, /proc/net, /dev/net/tun) do so before they change
 * anything; the checkpoint and restore paths load them first.
 *
 * What sets up the network at start (`--network sandbox`, `--publish`, `--pcap`) loads them
 * before the kernel is made (boot/mod.ts).
 *
 * @module
 */

import type * as Modules from "./net_modules.ts";
import { LazyModule } from "./lazy_module.ts";

export type NetModules = typeof Modules;

const network = new LazyModule<NetModules>("the network's modules", () => import("./net_modules.ts"));

/** Starts the import (once); resolves when the modules are there. */
export function loadNetModules(): Promise<NetModules> {
  return network.load();
}

/**
 * The network's modules. Not loaded yet: starts loading them and throws ModuleNotLoaded (the
 * calling syscall waits and runs again); failed to load: throws why.
 */
export function netModules(): NetModules {
  return network.get();
}

/** The modules if they are loaded, else null (for instanceof checks: no object of theirs exists before). */
export function netModulesIfLoaded(): NetModules | null {
  return network.ifLoaded;
}
