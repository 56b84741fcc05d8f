/**
 * The vsyscall page: Linux maps it at 0xffffffffff600000 in every x86-64 process unless booted
 * with vsyscall=none, and /proc/PID/maps lists it last as [vsyscall] (its gate VMA). A task of
 * the sandbox calls it in its stub, where the host's own emulation of time, gettimeofday and
 * getcpu answers (platform/ptrace/stub_seccomp.ts lets it through), so the sandbox has the page
 * exactly when the host does, with the host's permissions (--xp for vsyscall=xonly, r-xp for
 * the old vsyscall=emulate).
 *
 * @module
 */

import { PROT_EXEC, PROT_READ } from "../../abi/linux/mm.ts";

export const VSYSCALL_START = 0xffff_ffff_ff60_0000;
export const VSYSCALL_END = 0xffff_ffff_ff60_1000;

let cached: number | null | undefined;

/** The protection of the host's vsyscall page, or null when the host has none. Read once. */
export function hostVsyscallProt(): number | null {
  if (cached !== undefined) return cached;
  cached = null;
  try {
    const line = Deno.readTextFileSync("/proc/self/maps").split("\n").find((l) => l.endsWith("[vsyscall]"));
    const perms = line?.split(" ")[1];
    if (perms !== undefined && perms[2] === "x") cached = PROT_EXEC | (perms[0] === "r" ? PROT_READ : 0);
  } catch {
    // Unreadable: shown as vsyscall=none.
  }
  return cached;
}
