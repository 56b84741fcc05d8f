/**
 * `sentry check`: what this host allows of what the sentry needs, one line each
 * (platform/ptrace/host_check.ts probes), and status 0 when every required feature is there.
 *
 * @module
 */

import { checkHost } from "../platform/ptrace/host_check.ts";
import { writeAllSync } from "../kernel/write_all.ts";

/** Prints the check; returns the exit status (0: all required features present, else 1). */
export function check(): number {
  const features = checkHost();
  const width = Math.max(...features.map((f) => f.name.length));
  let missing = 0;
  let text = "";
  for (const f of features) {
    const mark = f.ok ? "ok     " : f.required ? "MISSING" : "no     ";
    if (!f.ok && f.required) missing++;
    text += `${mark} ${f.name.padEnd(width)}  ${f.detail}\n`;
  }
  text += missing === 0
    ? "This host has everything the sentry requires.\n"
    : `This host lacks ${missing} required feature${missing === 1 ? "" : "s"}: the sentry cannot run here.\n`;
  writeAllSync(Deno.stdout, new TextEncoder().encode(text));
  return missing === 0 ? 0 : 1;
}
