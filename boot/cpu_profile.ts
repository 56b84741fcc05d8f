/**
 * A V8 CPU profile of the sentry's own JavaScript, for finding hot spots: with
 * `SENTRY_CPU_PROF=FILE` in the environment the sentry samples itself from start to exit and
 * writes FILE in the `.cpuprofile` format (open it in Chrome DevTools' Performance panel, or
 * summarise it with `deno run -A bench/cpu_profile_top.ts FILE`). The sampling interval is
 * `SENTRY_CPU_PROF_INTERVAL_US` (default 100 µs).
 *
 * It uses the in-process inspector (node:inspector): no port is opened. Sampling adds a little
 * CPU of its own; compare profiles with each other, not with unprofiled timings.
 *
 * @module
 */

/** A running profile: stop() writes it. */
export interface CpuProfile {
  stop(): Promise<void>;
}

/** Starts profiling if SENTRY_CPU_PROF names a file; null otherwise. */
export async function startCpuProfile(): Promise<CpuProfile | null> {
  const file = Deno.env.get("SENTRY_CPU_PROF");
  if (!file) return null;
  const interval = Number(Deno.env.get("SENTRY_CPU_PROF_INTERVAL_US") ?? "100");
  // Loaded only when asked for: a run without profiling pays nothing for it.
  const { Session } = await import("node:inspector");
  const session = new Session();
  session.connect();
  const post = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params, (err: Error | null, res: unknown) => err ? reject(err) : resolve(res))
    );
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: Number.isFinite(interval) && interval > 0 ? interval : 100 });
  await post("Profiler.start");
  return {
    async stop() {
      const r = await post("Profiler.stop") as { profile: unknown };
      Deno.writeTextFileSync(file, JSON.stringify(r.profile));
      session.disconnect();
    },
  };
}
