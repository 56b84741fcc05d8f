/**
 * The sentry's host descriptors stay bounded whatever the sandbox does (vfs/host_fds.ts):
 * walking thousands of host directories and creating tens of thousands of files in the
 * overlay's memory. The test samples /proc/SENTRY/fd while the sandbox works and once more
 * while the sandbox waits, its work done (the sandbox reads stdin until the test lets it go).
 */

import assert from "node:assert/strict";
import { REPO_ROOT } from "./_harness.ts";

/** Most descriptors the sentry may hold here: caches (256 directories), stubs, stdio, epoll. */
const BOUND = 1000;

/** The number of descriptors process pid holds now (0 once it is gone). */
function fdCount(pid: number): number {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) n++;
    return n;
  } catch {
    return 0;
  }
}

/**
 * Runs the shell script in `sentry do`; it must print "done" and then read a line from stdin.
 * Returns its stdout and stderr, and the most descriptors the sentry held in samples taken
 * every 20 ms and once after "done".
 */
async function runSampled(script: string): Promise<{ stdout: string; stderr: string; code: number; maxFds: number }> {
  const p = new Deno.Command(`${REPO_ROOT}/sentry`, {
    args: ["do", "--", "/bin/sh", "-c", script],
    cwd: REPO_ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let maxFds = 0;
  const timer = setInterval(() => maxFds = Math.max(maxFds, fdCount(p.pid)), 20);
  const dec = new TextDecoder();
  let stdout = "";
  const reader = p.stdout.getReader();
  try {
    while (!/^done$/m.test(stdout)) {
      const { value, done } = await reader.read();
      if (done) break;
      stdout += dec.decode(value, { stream: true });
    }
    maxFds = Math.max(maxFds, fdCount(p.pid));
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode("go\n"));
    await w.close();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      stdout += dec.decode(value, { stream: true });
    }
  } finally {
    clearInterval(timer);
    reader.releaseLock();
  }
  const [status, stderr] = await Promise.all([p.status, new Response(p.stderr).text()]);
  return { stdout, stderr, code: status.code, maxFds };
}

Deno.test("walking thousands of host directories keeps the sentry's descriptors bounded", async () => {
  const dirs = (await new Deno.Command("find", { args: ["/usr/share", "-xdev", "-type", "d"] }).output()).stdout;
  const native = new TextDecoder().decode(dirs).split("\n").length - 1;
  assert.ok(native > 2 * BOUND, `/usr/share has ${native} directories: too few to show a bound`);
  const r = await runSampled("find /usr/share -xdev -type d | wc -l; echo done; read x");
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  const [count] = r.stdout.split("\n");
  // Other processes may change /usr/share meanwhile, but not by much.
  assert.ok(Math.abs(Number(count) - native) < 50, `find saw ${count} directories, natively ${native}`);
  assert.ok(r.maxFds > 0 && r.maxFds < BOUND, `the sentry held up to ${r.maxFds} descriptors`);
});

Deno.test("20,000 files in the overlay's /tmp, then a walk of /usr, keep the sentry's descriptors bounded", async () => {
  const n = 20_000;
  // dash's echo is a builtin: each file is an open, a write and a close.
  const script = `set -e
mkdir /tmp/many && cd /tmp/many
i=0; while [ $i -lt ${n} ]; do echo "file $i" > f$i; i=$((i+1)); done
cat f0 f${n - 1}
find /usr/share -xdev | wc -l
ls /tmp/many | wc -l
cat /etc/hostname > /dev/null && echo host file readable
echo done; read x`;
  const r = await runSampled(script);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  const lines = r.stdout.split("\n");
  assert.equal(lines[0], "file 0");
  assert.equal(lines[1], `file ${n - 1}`);
  assert.ok(Number(lines[2]) > 2 * BOUND, `find saw ${lines[2]} entries`);
  assert.equal(lines[3], String(n));
  assert.equal(lines[4], "host file readable");
  assert.ok(r.maxFds > 0 && r.maxFds < BOUND, `the sentry held up to ${r.maxFds} descriptors`);
});

Deno.test("hundreds of execs of a dynamically linked program keep the sentry's descriptors bounded", async () => {
  // mkdir maps libc, libselinux and libpcre2 through ld.so, each first over the library's whole
  // span and then segment by segment over that (MAP_FIXED): 400 runs are 1,200 library maps.
  // A directory of the test's own: the sandbox's /tmp is the host's under an overlay, and a
  // host file at a common name (/tmp/x) would make mkdir -p fail.
  const r = await runSampled("i=0; while [ $i -lt 400 ]; do /bin/mkdir -p /tmp/.sentry-host-fds-test/x; i=$((i+1)); done; echo ran $i; echo done; read x");
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^ran 400\n/);
  assert.ok(r.maxFds > 0 && r.maxFds < BOUND, `the sentry held up to ${r.maxFds} descriptors`);
});
