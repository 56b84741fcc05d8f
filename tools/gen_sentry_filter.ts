/**
 * Writes platform/ptrace/sentry_filter_prog.ts: the sentry's seccomp filter as
 * sentry_seccomp.ts's sentryFilter("errno", STUB_SITES) assembles it, kept as bytes so that a
 * start does not assemble it (~1 ms of cold JavaScript). Run it after changing the filter
 * (SENTRY_SYSCALLS, its checks, bpf.ts, the stub's sites); platform/ptrace/sentry_seccomp_test.ts
 * fails until it is run.
 *
 *     deno run -A tools/gen_sentry_filter.ts
 *
 * @module
 */

import { encodeBase64 } from "../platform/ptrace/sentry_filter_prog.ts";
import { sentryFilter, STUB_SITES } from "../platform/ptrace/sentry_seccomp.ts";

const out = new URL("../platform/ptrace/sentry_filter_prog.ts", import.meta.url);
const text = Deno.readTextFileSync(out);
const b64 = encodeBase64(sentryFilter("errno", STUB_SITES));
const next = text.replace(/export const SENTRY_FILTER_ERRNO: string = "[^"]*";/, `export const SENTRY_FILTER_ERRNO: string = "${b64}";`);
if (next === text) console.log("sentry_filter_prog.ts: up to date");
else {
  Deno.writeTextFileSync(out, next);
  console.log("sentry_filter_prog.ts: written");
}
