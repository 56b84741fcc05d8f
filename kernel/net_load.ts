/**
 * The network's code, loaded at its first use: the netstack, the socket families, netfilter and
 * nf_tables, the socket syscalls, /proc/net's renderers and TUN (kernel/net_modules.ts, ~30% of
 * the kernel's code) are not imported when a sandbox starts, only when a program first needs
 * them. A `do -- /bin/true` never does, and module loading is most of a start's CPU.
 *
 * The kernel itself stays synchronous: a syscall handler (or anything it calls) that reaches
 * the network before its modules are there gets {@linkcode NET_NOT_LOADED} thrown from
 * {@linkcode netModules}, and the dispatcher (Kernel's #syscall) puts the task to sleep on
 * {@linkcode netLoadQueue} until the import is done; the handler then runs again from the
 * start, as every woken handler does. So each place that reaches the network must do so
 * before it changes anything (a Net's stack, built at first use, the socket syscalls' stubs,
 * /proc/net). Such a sleep is not saved by a checkpoint (none is: the syscall runs again
 * after a restore), and the checkpoint and restore paths load the modules first.
 *
 * What sets up the network at start (`--network sandbox`, `--publish`, `--pcap`) loads them
 * before the kernel is made (boot/mod.ts).
 *
 * @module
 */

import type * as Modules from "./net_modules.ts";
import { EVENT_IN, WaitQueue } from "../waiter/mod.ts";

export type NetModules = typeof Modules;

/**
 * Thrown by {@linkcode netModules} while the modules are not loaded: not a LinuxError, so no
 * handler mistakes it for a result; the dispatcher turns it into a sleep.
 */
export class NetNotLoaded extends Error {
  constructor() {
    super("the network's modules are not loaded yet");
    this.name = "NetNotLoaded";
  }
}

/** The one instance thrown (no stack trace is captured per throw). */
export const NET_NOT_LOADED: NetNotLoaded = (() => {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new NetNotLoaded();
  } finally {
    Error.stackTraceLimit = limit;
  }
})();

/** @nosave Notified (EVENT_IN) when the import ends, loaded or failed. */
export const netLoadQueue = new WaitQueue();

let loaded: NetModules | null = null;
let failure: unknown = null;
let loading: Promise<NetModules> | null = null;

/** Starts the import (once); resolves when the modules are there. */
export function loadNetModules(): Promise<NetModules> {
  loading ??= import("./net_modules.ts").then(
    (m) => {
      loaded = m;
      netLoadQueue.notify(EVENT_IN);
      return m;
    },
    (err) => {
      // A bundle removed under a running sentry: the handlers that wait fail (logged as the
      // sentry's bug, EINVAL to the program) rather than sleep for ever.
      failure = err ?? new Error("the network's modules failed to load");
      netLoadQueue.notify(EVENT_IN);
      throw err;
    },
  );
  return loading;
}

/**
 * The network's modules. Not loaded yet: starts loading them and throws NET_NOT_LOADED (see
 * the module's comment); failed to load: throws why.
 */
export function netModules(): NetModules {
  if (loaded !== null) return loaded;
  if (failure !== null) throw failure;
  loadNetModules().catch(() => {});
  throw NET_NOT_LOADED;
}

/** The modules if they are loaded, else null (for instanceof checks: no object of theirs exists before). */
export function netModulesIfLoaded(): NetModules | null {
  return loaded;
}
