/**
 * Loop devices and /dev/loop-control (kernel/loop.ts, vfs/block/, vfs/sysfs/block.ts):
 * tests/c/loop_device.c natively (as root; it binds a free loop device of the host to a file
 * of its own in /tmp and lets it go) and in the sentry, with the same output.
 */

import assert from "node:assert/strict";
import { compileC, runNative, runSentry } from "./_harness.ts";
import { refusedOn } from "./_checkpoint.ts";

Deno.test("loop devices: loop-control, LOOP_* and BLK* ioctls with their errnos, I/O through the backing file, O_EXCL, sysfs, the deferred clear, as natively (tests/c/loop_device.c)", async () => {
  const bin = await compileC("loop_device");
  const r = await runSentry([bin]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.match(r.stdout, /SET_FD\(img\) = 0 \n/);
  assert.match(r.stdout, /backing at 512: HELLO\n/);
  assert.match(r.stdout, /open in rundown: ENXIO\n/);
  if (Deno.uid() !== 0) return;
  const native = await runNative([bin]);
  assert.equal(native.code, 0, native.stderr);
  assert.equal(r.stdout, native.stdout);
});

Deno.test("mount(2) and the mount API from a loop device formatted by mkfs.ext2: ENOTBLK, ENODEV, EINVAL, ENOENT, ENOTDIR, EBUSY (O_EXCL, another type or read-only flag), EACCES (read-only device), a shared superblock, statfs, LOOP_CLR_FD while mounted taking effect at umount, as natively (tests/c/loop_mount.c)", async () => {
  const bin = await compileC("loop_mount");
  const r = await runSentry([bin]);
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  assert.match(r.stdout, /read back = 12 \n  'through ext2'\n/);
  if (Deno.uid() !== 0) return;
  const native = await runNative([bin]);
  assert.equal(native.code, 0, native.stderr);
  assert.equal(r.stdout, native.stdout);
});

Deno.test("loop devices: a checkpoint refuses a sandbox with a bound loop device, or a filesystem mounted from one, in one line, and the sandbox goes on", async () => {
  const bound = await refusedOn("bound\n", [
    "/bin/sh", "-c", "dd if=/dev/zero of=/tmp/img bs=1k count=256 2>/dev/null && losetup /dev/loop0 /tmp/img && echo bound && { read -r go || :; } && losetup -d /dev/loop0 && echo done",
  ]);
  assert.deepEqual([bound.code, bound.stdout, bound.stderr, bound.refusal], [0, "bound\ndone\n", "", "checkpoint: a loop device is bound to a file (LOOP_SET_FD, LOOP_CONFIGURE): not saved yet"]);
  const mounted = await refusedOn("mounted\n", [
    "/bin/sh", "-c", "dd if=/dev/zero of=/tmp/img bs=1k count=1024 2>/dev/null && losetup /dev/loop0 /tmp/img && mkfs.ext2 -q /dev/loop0 && mkdir -p /tmp/m && mount /dev/loop0 /tmp/m && echo mounted && { read -r go || :; } && umount /tmp/m && losetup -d /dev/loop0 && echo done",
  ]);
  assert.deepEqual([mounted.code, mounted.stdout, mounted.stderr, mounted.refusal], [0, "mounted\ndone\n", "", "checkpoint: a filesystem is mounted from a block device (a loop device): not saved yet"]);
});
