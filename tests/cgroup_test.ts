/**
 * The cgroup v2 filesystem (vfs/cgroupfs): tests/c/cgroup2.c natively and in the sentry, and a
 * checkpoint's refusal of a sandbox whose hierarchy is mounted or changed.
 */

import assert from "node:assert/strict";
import { assertSameAsNative, compileC, REPO_ROOT } from "./_harness.ts";

Deno.test("cgroup2: mount, mkdir/rmdir with cgroup.max.* and EBUSY, interface files, migration through cgroup.procs and /proc/PID/cgroup, cgroup.events' populated and its poll, cgroup.kill, zombies, removed cgroups' files (ENODEV, ENOENT), as natively (tests/c/cgroup2.c)", async () => {
  await assertSameAsNative([await compileC("cgroup2")]);
});

Deno.test("cgroup2: a checkpoint refuses a sandbox with the hierarchy mounted, in one line, and the sandbox goes on", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const image = `${dir}/image.cbor`;
    const out = await new Deno.Command(`${REPO_ROOT}/sentry`, {
      args: [
        "do", "--checkpoint-image", image, "--checkpoint-after", "1", "--", "/bin/sh", "-c",
        "mkdir -p /tmp/cg && mount -t cgroup2 none /tmp/cg && mkdir /tmp/cg/x && sleep 2 && rmdir /tmp/cg/x && echo done",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    assert.equal(dec.decode(out.stdout), "done\n");
    assert.equal(dec.decode(out.stderr), "sentry: checkpoint: a cgroup2 filesystem is mounted: not saved yet; the sandbox goes on\n");
    assert.equal(out.code, 0);
    assert.throws(() => Deno.statSync(image));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
