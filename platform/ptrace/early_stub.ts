/**
 * A zygote's stub process started before the platform exists (boot/mod.ts starts it right
 * before the kernel's modules load): the host execs the stub and runs it to its SIGSTOP on
 * another CPU while the sentry compiles the kernel, instead of the sentry waiting for that
 * inside Loader.create (~1 ms on an idle machine, several under load). PtracePlatform takes it
 * as its first zygote's stub (PtraceOptions.stub).
 *
 * Nothing of the sandbox's runs in it before the platform has seized and confined it, as for a
 * stub the platform starts itself. Until then it only waits, stopped; it dies with the sentry
 * (the stub's own PR_SET_PDEATHSIG, stub_elf.ts), and a platform that never used it kills and
 * reaps it at shutdown.
 *
 * @module
 */

import { kill, spawnClean, waitpid, __WALL } from "./_ffi.ts";
import { buildStubElf } from "./stub_elf.ts";

/** A stub process started ahead of its platform, and the private directory of its binary. */
export interface EarlyStub {
  readonly dir: string;
  readonly path: string;
  readonly pid: number;
}

/** Writes the stub binary into a new private temporary directory and starts it. */
export function startEarlyStub(): EarlyStub {
  const dir = Deno.makeTempDirSync({ prefix: "sentry-stub-" });
  const path = `${dir}/stub`;
  try {
    Deno.writeFileSync(path, buildStubElf(), { mode: 0o500 });
    return { dir, path, pid: spawnClean(path, ["sentry-stub"]) };
  } catch (err) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* gone */ }
    throw err;
  }
}

/** Ends an early stub no platform took (killed and reaped), and removes its directory. */
export function discardEarlyStub(s: EarlyStub): void {
  kill(s.pid, 9);
  for (;;) {
    try {
      const w = waitpid(s.pid, __WALL);
      if (w !== "eintr") break;
    } catch {
      break; // already reaped
    }
  }
  try {
    Deno.removeSync(s.dir, { recursive: true });
  } catch { /* gone */ }
}
