/**
 * Readiness files and the calls that move data or locks between files, run natively and in the
 * sentry: the output and exit status must be the same.
 */

import assert from "node:assert/strict";
import { assertSameAsNative, compileC, runSentry } from "./_harness.ts";

Deno.test("epoll: level, edge and one-shot triggering, nesting, errors, timeouts and EINTR behave as natively", async () => {
  await assertSameAsNative([await compileC("epoll")]);
});

Deno.test("eventfd: counter and semaphore modes, overflow, short buffers and blocking behave as natively", async () => {
  await assertSameAsNative([await compileC("eventfd")]);
});

Deno.test("timerfd: one-shot and periodic timers on three clocks, absolute times, gettime and errors behave as natively", async () => {
  await assertSameAsNative([await compileC("timerfd")]);
});

Deno.test("signalfd: pending signals read as signalfd_siginfo, mask changes, epoll and blocking reads behave as natively", async () => {
  await assertSameAsNative([await compileC("signalfd")]);
});

Deno.test("pidfd: exit readiness, pidfd_send_signal with and without siginfo, and pidfd_getfd behave as natively", async () => {
  await assertSameAsNative([await compileC("pidfd")]); // PIDFD_THREAD cases at its end
});

Deno.test("memfd: reads, writes, a MAP_SHARED mapping across fork and seals behave as natively", async () => {
  await assertSameAsNative([await compileC("memfd")]);
});

Deno.test("a memfd grows to 2^63 - 1 bytes (ftruncate, fstat exact), a read at that end is EINVAL, as natively (tests/c/memfd_maxsize.c)", async () => {
  await assertSameAsNative([await compileC("memfd_maxsize")]);
});

Deno.test("file locks: flock, POSIX record locks (split, merge, close, SETLKW, EDEADLK) and OFD locks behave as natively across processes", async () => {
  await assertSameAsNative([await compileC("locks")]);
});

Deno.test("splice, tee, vmsplice, sendfile, copy_file_range and close_range move data and fail as natively", async () => {
  await assertSameAsNative([await compileC("splice")]);
});

Deno.test("splice with a directory, eventfd, timerfd, signalfd, epoll, inotify or a message queue is EINVAL (or EBADF) at once, even from an empty pipe, as natively (tests/c/splice_ops.c)", async () => {
  await assertSameAsNative([await compileC("splice_ops")]);
});

Deno.test("pipes: page slots, PIPE_BUF atomicity, a 1 MiB write, signals and SIGPIPE mid-write, F_SETPIPE_SZ, O_DIRECT packets and FIONREAD behave as natively", async () => {
  await assertSameAsNative([await compileC("pipes")]);
});

Deno.test("inotify's per-user limits: max_user_instances instances then EMFILE for a user with none, as natively; in the sandbox both sysctls are writable (bad values EINVAL) and bound instances (EMFILE) and watches (ENOSPC) (tests/c/inotify_limits.c)", async () => {
  const bin = await compileC("inotify_limits");
  await assertSameAsNative([bin]);
  const r = await runSentry([bin, "write"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /write -1: EINVAL, x: EINVAL, 3: ok\nreads back 3\n/);
  assert.match(r.stdout, /root's 4th instance: EMFILE\n/);
  assert.match(r.stdout, /watch 4: ok\nwatch 5: ENOSPC\nwatch 6: ENOSPC\nwatch 1 again: ok\n/);
  assert.match(r.stdout, /after closing an instance with 3 watches, a watch: ok\n/);
});

Deno.test("per-user limits as Linux's ucounts: /proc/sys/user's files, a new user namespace's own limits (INT_MAX, written by its root, 0..INT_MAX), inotify instances (EMFILE) and watches (ENOSPC) and new user, UTS, IPC, network, mount, PID and cgroup namespaces (ENOSPC) held to them, as natively (tests/c/ucounts.c)", async () => {
  const r = await assertSameAsNative([await compileC("ucounts")]);
  assert.match(r.stdout, /inotify_init1 3: EMFILE\n/);
  assert.match(r.stdout, /watch 2: ENOSPC\n/);
  assert.match(r.stdout, /first nested namespace: ok, second while the first lives: ENOSPC\n/);
  assert.match(r.stdout, /max_mnt_namespaces 1: ok\n {2}first: ok, second while the first lives: ENOSPC\n/);
});

Deno.test("inotify: file and directory events with names and cookies, watch flags, IN_IGNORED, coalescing, overflow, short reads and readiness behave as natively", async () => {
  await assertSameAsNative([await compileC("inotify")]);
});

// fanotify needs CAP_SYS_ADMIN natively.
Deno.test({
  name:
    "fanotify: init and mark errors, inode, directory, mount and filesystem marks, merging, ignore masks, event descriptors, FAN_REPORT_TID, flush, FIONREAD, fdinfo, and FAN_OPEN_PERM/FAN_ACCESS_PERM answered and released as natively (tests/c/fanotify.c)",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    await assertSameAsNative([await compileC("fanotify")]);
  },
});

Deno.test({
  name:
    "fanotify with file handles: FID, DIR_FID, NAME and TARGET_FID records of name, attribute and self events and FAN_RENAME on directory and filesystem marks, name_to_handle_at's handles and statfs's fsid, open_by_handle_at, FAN_REPORT_PIDFD, overflow and FAN_UNLIMITED_QUEUE as natively (tests/c/fanotify_fid.c)",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    await assertSameAsNative([await compileC("fanotify_fid")]);
  },
});

Deno.test("O_ASYNC (F_SETFL, FIOASYNC), F_SETOWN(_EX), F_SETSIG and sockets' FIOSETOWN send SIGIO or the chosen signal with si_code, si_band and si_fd as natively", async () => {
  await assertSameAsNative([await compileC("sigio")]);
});

Deno.test("file leases: F_SETLEASE/F_GETLEASE refusals, owner rule, breaks by open, O_NONBLOCK open and truncate with the F_SETSIG signal, waits ended by downgrade, release, a signal or lease-break-time, leases-enable, as natively (tests/c/leases.c)", async () => {
  await assertSameAsNative([await compileC("leases")]);
});

Deno.test("descriptor kinds: fsync/fdatasync EINVAL without an fsync operation, O_PATH EBADF in socket calls and epoll_ctl, epoll_ctl EPERM on the memory devices but /dev/random, F_CREATED_QUERY, F_DUPFD_QUERY, bind below port 1024 without CAP_NET_BIND_SERVICE, as natively (tests/c/fd_kinds_errnos.c)", async () => {
  await assertSameAsNative([await compileC("fd_kinds_errnos")]);
});

Deno.test("MSG_OOB on UDP: sendmsg over IPv4 or to an IPv4-mapped destination is EOPNOTSUPP, over IPv6 ignored, recvmsg ignores it, as natively (tests/c/udp_msg_oob.c)", async () => {
  await assertSameAsNative([await compileC("udp_msg_oob")]);
});
