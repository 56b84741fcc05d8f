/**
 * The foundation's acceptance tests: each program runs natively and in the sentry, and the two
 * must print the same and end the same way. Each test first checks the native run against what
 * the program is known to do, so a broken fixture or host fails loudly instead of comparing
 * garbage. `SENTRY_TEST_TARGET=native deno test -A tests/` runs the native side alone.
 */

import assert from "node:assert/strict";
import {
  assertSameAsNative,
  BUILD_DIR,
  C_DIR,
  compileC,
  type RunOptions,
} from "./_harness.ts";

/** A fixed environment for both sides, so that locale and PATH cannot differ. */
const FIXED_ENV: RunOptions = { clearEnv: true, env: { PATH: "/usr/bin:/bin" } };

Deno.test("A dynamically linked hello world prints its greeting in the sentry as natively", async () => {
  const hello = await compileC("hello");
  const native = await assertSameAsNative([hello], FIXED_ENV);
  assert.deepEqual(native, { stdout: "Hello, world!\n", stderr: "", code: 0 });
});

Deno.test("A statically linked hello world prints its greeting in the sentry as natively", async () => {
  const hello = await compileC("hello", { static: true });
  const native = await assertSameAsNative([hello], FIXED_ENV);
  assert.deepEqual(native, { stdout: "Hello, world!\n", stderr: "", code: 0 });
});

Deno.test("A program that calls exit(3) ends with exit status 3", async () => {
  const exit3 = await compileC("exit3");
  const native = await assertSameAsNative([exit3], FIXED_ENV);
  assert.deepEqual(native, { stdout: "", stderr: "", code: 3 });
});

Deno.test("A store through a NULL pointer kills the program with SIGSEGV, seen as status 139", async () => {
  const nullderef = await compileC("nullderef");
  const native = await assertSameAsNative([nullderef], FIXED_ENV);
  assert.deepEqual(native, { stdout: "before\n", stderr: "", code: 139 });
});

Deno.test("Syscalls given bad user pointers fail with the same errors as natively", async () => {
  const efault = await compileC("efault");
  const native = await assertSameAsNative([efault], FIXED_ENV);
  assert.equal(native.code, 0);
  assert.equal(native.stderr, "");
  const lines = native.stdout.trimEnd().split("\n");
  assert.ok(lines.filter((l) => l.endsWith("= -1 EFAULT")).length >= 25, native.stdout);
  assert.ok(lines.includes("syscall(SYS_wait4, -1, BAD, 0, NULL) = -1 ECHILD"));
  assert.ok(lines.includes("syscall(SYS_read, zero, two + 4096 - 5, 10) = 5"));
});

Deno.test("File syscalls and their error cases behave the same as natively", async () => {
  const fileio = await compileC("fileio");
  const native = await assertSameAsNative([fileio, `${C_DIR}/fileio_data`], FIXED_ENV);
  assert.equal(native.code, 0);
  assert.equal(native.stderr, "");
  assert.match(native.stdout, /^read: hello$/m);
  assert.match(native.stdout, /^readlink: hello\.txt$/m);
  assert.match(native.stdout, /^dirent: sub type=4$/m);
  assert.match(native.stdout, /^fcntl\(fd, F_GETFL\) = 32768$/m, "O_LARGEFILE is always set");
  assert.match(native.stdout, /^cwd: .*\/tests\/c\/fileio_data\/sub$/m);
});

for (const linking of ["dynamic", "static"] as const) {
  Deno.test(`A ${linking} program sees the same argv, envp and auxv as natively`, async () => {
    const prog = await compileC("args_auxv", { static: linking === "static" });
    const native = await assertSameAsNative([prog, "one", "two words", ""], {
      clearEnv: true,
      env: { FOO: "bar", PATH: "/usr/bin:/bin" },
    });
    assert.equal(native.code, 0);
    assert.equal(native.stderr, "");
    assert.doesNotMatch(native.stdout, /: NO$/m, "every layout check holds natively");
    assert.match(native.stdout, /^argv\[2\]="two words"$/m);
    assert.match(native.stdout, /^argv\[3\]=""$/m);
    assert.match(native.stdout, /^envp\[0\]="FOO=bar"$/m);
    assert.match(native.stdout, /^AT_PAGESZ=4096$/m);
    assert.match(native.stdout, new RegExp(`^AT_EXECFN="${prog}"$`, "m"));
    assert.match(native.stdout, /^AT_PLATFORM="x86_64"$/m);
    assert.match(
      native.stdout,
      new RegExp(`^AT_BASE=${linking === "dynamic" ? "nonzero" : "0"}$`, "m"),
    );
  });
}

Deno.test("A #! script runs through its interpreter with the script's path as an argument", async () => {
  await Deno.mkdir(BUILD_DIR, { recursive: true });
  const script = `${BUILD_DIR}/shebang.sh`;
  await Deno.writeTextFile(script, '#!/bin/sh -e\necho "0=$0" "$@"\n');
  await Deno.chmod(script, 0o755);
  const native = await assertSameAsNative([script, "a b", "c"], FIXED_ENV);
  assert.deepEqual(native, { stdout: `0=${script} a b c\n`, stderr: "", code: 0 });
});

Deno.test("Output written right before exit_group all reaches the stdout pipe, as natively", async () => {
  const prog = await compileC("write_exit");
  const native = await assertSameAsNative([prog], FIXED_ENV);
  assert.equal(native.code, 0);
  assert.equal(native.stdout.length, 1000 + (1 << 20) + 14);
  assert.ok(native.stdout.endsWith("\none two three\n"));
});

Deno.test("ls -la /usr/bin lists the same directory as natively", async () => {
  const native = await assertSameAsNative(["/bin/ls", "-la", "/usr/bin"], FIXED_ENV);
  assert.equal(native.code, 0);
  assert.match(native.stdout, /^total \d+\n/);
  assert.match(native.stdout, / ls\n/);
});

Deno.test("cat /etc/os-release prints the file as natively", async () => {
  const native = await assertSameAsNative(["/usr/bin/cat", "/etc/os-release"], FIXED_ENV);
  assert.equal(native.stdout, await Deno.readTextFile("/etc/os-release"));
  assert.equal(native.code, 0);
});

Deno.test("sha256sum /bin/ls hashes the same bytes as natively", async () => {
  const native = await assertSameAsNative(["/usr/bin/sha256sum", "/bin/ls"], FIXED_ENV);
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", await Deno.readFile("/bin/ls")),
  );
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  assert.equal(native.stdout, `${hex}  /bin/ls\n`);
});

Deno.test("sort orders lines from stdin as natively", async () => {
  const native = await assertSameAsNative(["/usr/bin/sort"], {
    ...FIXED_ENV,
    stdin: "pear\napple\nfig\nbanana\napple\n",
  });
  assert.equal(native.stdout, "apple\napple\nbanana\nfig\npear\n");
});

Deno.test("wc counts lines, words and bytes from stdin as natively", async () => {
  const native = await assertSameAsNative(["/usr/bin/wc"], {
    ...FIXED_ENV,
    stdin: "one two\nthree\n\nfour five six\n",
  });
  assert.equal(native.stdout.trim().split(/\s+/).join(" "), "4 6 29");
});

Deno.test("env prints exactly the environment it was given", async () => {
  const native = await assertSameAsNative(["/usr/bin/env"], {
    clearEnv: true,
    env: { FOO: "bar", PATH: "/usr/bin:/bin" },
  });
  assert.deepEqual(native.stdout.trimEnd().split("\n").sort(), ["FOO=bar", "PATH=/usr/bin:/bin"]);
});

// TODO(uname): the sentry reports its own utsname (like gVisor's "4.4.0"); this exact comparison
// holds only while the sentry reports the host's values. Decide what to report, then compare
// just the fields that must match (machine, operating system).
Deno.test("uname -a reports the same system as natively", async () => {
  const native = await assertSameAsNative(["/usr/bin/uname", "-a"], FIXED_ENV);
  assert.match(native.stdout, /^Linux .* x86_64 GNU\/Linux\n$/);
});

Deno.test("id reports the same user and groups as natively", async () => {
  const native = await assertSameAsNative(["/usr/bin/id"], FIXED_ENV);
  assert.match(native.stdout, /^uid=\d+\(.*\) gid=\d+/);
});

Deno.test("python3 computes sum(range(10**6)) as natively", async () => {
  const native = await assertSameAsNative(
    ["/usr/bin/python3", "-c", "print(sum(range(10**6)))"],
    FIXED_ENV,
  );
  assert.deepEqual(native, { stdout: "499999500000\n", stderr: "", code: 0 });
});
