import assert from "node:assert/strict";
import { compileC, runNative, withoutDeathReport } from "./_harness.ts";

Deno.test("compileC() builds a fixture once and returns the cached executable after", async () => {
  const first = await compileC("exit3");
  const again = await compileC("exit3");
  assert.equal(again, first);
  assert.match(first, /\/tests\/\.build\/exit3-[0-9a-f]{16}$/);
  assert.notEqual(await compileC("exit3", { static: true }), first);
  assert.equal((await runNative([first])).code, 3);
});

Deno.test("runNative() reports a death by signal N as exit status 128+N", async () => {
  const r = await runNative(["/bin/sh", "-c", "kill -TERM $$"]);
  assert.equal(r.code, 128 + 15);
  const segv = await runNative(["/bin/sh", "-c", "kill -SEGV $$"]);
  assert.equal(segv.code, 128 + 11);
});

Deno.test("runNative() feeds stdin and captures stdout, stderr and the exit status", async () => {
  const r = await runNative(["/bin/sh", "-c", "tr a-z A-Z; echo oops >&2; exit 7"], {
    stdin: "shout\n",
  });
  assert.deepEqual(r, { stdout: "SHOUT\n", stderr: "oops\n", code: 7 });
});

Deno.test("runNative() with clearEnv gives the program exactly the environment passed", async () => {
  const r = await runNative(["/usr/bin/env"], { clearEnv: true, env: { ONLY: "this" } });
  assert.equal(r.stdout, "ONLY=this\n");
});

Deno.test("runNative() tolerates a program that exits without reading its stdin", async () => {
  const r = await runNative(["/bin/true"], { stdin: "x".repeat(1 << 20) });
  assert.equal(r.code, 0);
});

Deno.test("withoutDeathReport() removes only the sentry's last line for the matching signal", () => {
  const report = "sentry: init (pid 1) killed by SIGSEGV (fault at 0x0)\n";
  assert.equal(withoutDeathReport(report, 139), "");
  assert.equal(withoutDeathReport(`guest said\n${report}`, 139), "guest said\n");
  assert.equal(withoutDeathReport("sentry: init (pid 1) killed by SIGTERM\n", 143), "");
  assert.equal(withoutDeathReport(report, 134), report, "another signal");
  assert.equal(withoutDeathReport(report, 0), report, "not a death by signal");
  assert.equal(withoutDeathReport(`x${report}`, 139), `x${report}`, "not a line of its own");
  assert.equal(withoutDeathReport(`${report}more\n`, 139), `${report}more\n`, "not the last line");
});
