import assert from "node:assert/strict";
import { compileC } from "../../tests/_harness.ts";
import * as ffi from "./_ffi.ts";

const S_IFIFO = 0o010000;

// The wake-up alarm's signal has no SA_RESTART (a blocking waitpid must return at a deadline)
// and stays armed across stops, so it can land in any host call of the JavaScript thread. A
// FIFO's open is a host call that sleeps until a writer comes: interrupted there, the wrapper
// must run it again rather than report EINTR (an open, stat or getdents of a FUSE or NFS root
// sleeps the same way).
Deno.test("a host open interrupted by the wake-up alarm's signal runs again until it completes", async () => {
  const helper = await compileC("interrupt_open");
  const dir = Deno.makeTempDirSync({ prefix: "sentry-ffi-eintr-" });
  const dirFd = ffi.hostOpen(dir, ffi.O_PATH | ffi.O_DIRECTORY | ffi.O_CLOEXEC);
  let fd = -1;
  try {
    assert.ok(dirFd >= 0);
    assert.equal(ffi.hostMknodat(dirFd, "fifo", S_IFIFO | 0o600, 0), 0);
    ffi.armWakeAlarm(0); // installs the signal's handler (a bare return), armed for nothing
    const child = new Deno.Command(helper, {
      args: [String(Deno.pid), String(ffi.hostTid()), String(ffi.WAKE_SIGNAL), `${dir}/fifo`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Blocks this thread until the helper opens the other end, after its signal.
    fd = ffi.hostOpen(`${dir}/fifo`, ffi.O_RDONLY | ffi.O_CLOEXEC);
    const out = await child.output();
    assert.ok(fd >= 0, `open failed with errno ${-fd}`);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const b = new Uint8Array(4);
    assert.equal(ffi.hostRead(fd, b), 1);
    assert.equal(b[0], "x".charCodeAt(0));
  } finally {
    if (fd >= 0) ffi.hostClose(fd);
    if (dirFd >= 0) ffi.hostClose(dirFd);
    Deno.removeSync(dir, { recursive: true });
  }
});

// The loop checks the alarm, then enters waitpid: a host that preempts the thread in between
// can let the alarm fire first. Its signal is then spent outside the wait, and an application
// spinning without system calls gives waitpid nothing else to return for: the whole loop
// would hang (seen under load: SIGTERM to the sentry never reached a spinning init). The
// alarm repeats, so the wait still ends within a period.
Deno.test("a wake-up alarm that fired before waitpid still ends the wait", async () => {
  const child = new Deno.Command("sleep", { args: ["5"], stdin: "null", stdout: "null", stderr: "null" }).spawn();
  let w: ReturnType<typeof ffi.waitpid> = "eintr";
  try {
    ffi.armWakeAlarm(5e6);
    // The alarm fires (and its signal is handled) here, outside any wait.
    const until = performance.now() + 20;
    while (performance.now() < until) { /* spin */ }
    w = ffi.waitpid(child.pid, 0);
    assert.equal(w, "eintr", "waitpid blocked until the child ended: the alarm fired only once");
  } finally {
    ffi.armWakeAlarm(0);
    // When the wait did reap the child, Deno no longer can.
    if (w === "eintr") {
      child.kill("SIGKILL");
      await child.status;
    }
  }
});

// The alarm repeats every 2 ms or more while a wait needs it. A timed poll interrupted by it
// must go on for what is left of its timeout: restarted in full each time, a 20 ms poll never
// timed out, and the descriptor fetch that polls the stubs' listener (watching for a stop in
// between) spun forever while its stub sat in a signal stop. Run in a process of its own, which
// the old code never left: killed after 20 s, the test fails instead of hanging.
Deno.test("a timed host poll interrupted by the repeating wake-up alarm still times out", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "sentry-ffi-poll-" });
  try {
    const ffiUrl = new URL("./_ffi.ts", import.meta.url).href;
    const code = [
      `import * as ffi from ${JSON.stringify(ffiUrl)};`,
      `const dirFd = ffi.hostOpen(${JSON.stringify(dir)}, ffi.O_PATH | ffi.O_DIRECTORY | ffi.O_CLOEXEC);`,
      `if (ffi.hostMknodat(dirFd, "fifo", ${S_IFIFO} | 0o600, 0) !== 0) throw new Error("mknod");`,
      // O_RDWR: a FIFO with a writer (itself) and nothing written is never readable.
      `const fd = ffi.hostOpen(${JSON.stringify(dir)} + "/fifo", 2 | ffi.O_CLOEXEC);`,
      `ffi.armWakeAlarm(1e6);`,
      `const t0 = performance.now();`,
      `const polls = [0, 0, 0].map(() => ffi.hostPoll(fd, ffi.POLLIN, 20));`,
      `const ms = performance.now() - t0;`,
      `ffi.armWakeAlarm(0);`,
      `console.log(JSON.stringify({ polls, atLeast60: ms >= 60 }));`,
    ].join("\n");
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-config", code],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const out = await child.output();
    clearTimeout(timer);
    assert.equal(out.code, 0, `the polls never ended (status ${out.code}): ${new TextDecoder().decode(out.stderr)}`);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), { polls: [0, 0, 0], atLeast60: true });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
