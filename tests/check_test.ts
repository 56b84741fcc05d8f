/**
 * `sentry check` (boot/check.ts, platform/ptrace/host_check.ts): one line per feature, status 0
 * on a host that has everything required (this one: the whole suite runs here), and status 1
 * with the missing feature named when the host lacks one (taken away with a seccomp filter by
 * tests/c/deny_syscall.c, as a kernel without it would answer).
 *
 * @module
 */

import assert from "node:assert/strict";
import { compileC, REPO_ROOT } from "./_harness.ts";

const FEATURES = [
  "seccomp", "seccomp filters", "seccomp user notification", "seccomp listener ADDFD", "seccomp TSYNC", "no_new_privs",
  "pidfd_open", "pidfd_getfd", "ptrace allowed", "ptrace PTRACE_SYSEMU stubs", "stub namespaces", "stub empty root",
  "stub user namespace", "sentry namespaces after start-up", "sentry capabilities dropped", "sentry seccomp filter",
];

async function check(prefix: string[] = []): Promise<{ code: number; lines: string[]; stderr: string }> {
  const argv = [...prefix, `${REPO_ROOT}/sentry`, "check"];
  const out = await new Deno.Command(argv[0]!, { args: argv.slice(1), stdin: "null", stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, lines: dec.decode(out.stdout).trimEnd().split("\n"), stderr: dec.decode(out.stderr) };
}

function lineFor(lines: string[], feature: string): string {
  const l = lines.find((x) => x.slice(8).startsWith(feature));
  assert.ok(l !== undefined, `no line for ${feature}:\n${lines.join("\n")}`);
  return l;
}

Deno.test("sentry check lists every feature on a line of its own, all present here: status 0", async () => {
  const r = await check();
  assert.equal(r.code, 0, r.lines.join("\n") + r.stderr);
  assert.equal(r.stderr, "");
  for (const f of FEATURES) assert.match(lineFor(r.lines, f), /^ok /);
  for (const l of r.lines.slice(0, -1)) assert.match(l, /^(ok {5}|MISSING|no {5}) \S/);
  assert.equal(r.lines.at(-1), "This host has everything the sentry requires.");
});

Deno.test("sentry check on a host without pidfd_open: that line and the stub's say MISSING, status 1", async () => {
  const deny = await compileC("deny_syscall");
  const r = await check([deny, "434", "38"]); // pidfd_open: ENOSYS
  assert.equal(r.code, 1, r.lines.join("\n") + r.stderr);
  assert.match(lineFor(r.lines, "pidfd_open"), /^MISSING .* ENOSYS$/);
  assert.match(lineFor(r.lines, "ptrace PTRACE_SYSEMU stubs"), /^MISSING .*pidfd_open of the stub failed with errno 38$/);
  assert.match(lineFor(r.lines, "seccomp user notification"), /^ok /);
  assert.match(r.lines.at(-1)!, /^This host lacks \d+ required features?: the sentry cannot run here\.$/);
});
