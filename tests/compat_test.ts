/**
 * Edges of the syscall ABI found by gVisor's syscall suite (issue #15), each checked against
 * the same program run natively: see tests/c/compat_edges.c for the list.
 */

import assert from "node:assert/strict";
import { assertSameAsNative, C_DIR, compileC, runNative, runSentry } from "./_harness.ts";

Deno.test("getdents, readv, lseek, O_DIRECT, statx, brk, MAP_32BIT, clone3, futex keys and SO_PASSCRED edges behave as natively (tests/c/compat_edges.c)", async () => {
  await assertSameAsNative([await compileC("compat_edges")]);
});

Deno.test("PI futexes lock, hand over to waiters, time out and pass on an owner's death as natively (tests/c/futex_pi.c)", async () => {
  await assertSameAsNative([await compileC("futex_pi")]);
});

Deno.test("PI futexes taken in turns by many threads with trylock, lock and user space's cmpxchg, under signals, have one owner at a time, named by the word, as natively (tests/c/futex_pi_stress.c)", async () => {
  await assertSameAsNative([await compileC("futex_pi_stress")]);
});

Deno.test("a write or send from a buffer unreadable part way takes the whole units before the fault (EFAULT when none) on pipes, TCP and Unix sockets, as natively (tests/c/send_fault.c)", async () => {
  await assertSameAsNative([await compileC("send_fault")]);
});

Deno.test("inotify watches belong to inodes: two hard links give one watch descriptor and either name's events reach it, as natively (tests/c/inotify_links.c)", async () => {
  await assertSameAsNative([await compileC("inotify_links")]);
});

Deno.test("pipes and sockets keep their times through reads and writes, take futimens' and fchmod's, as natively (tests/c/pipe_times.c)", async () => {
  await assertSameAsNative([await compileC("pipe_times")]);
});

Deno.test("/proc/PID/mem reads and writes another address space, and /proc/PID/comm renames a thread, as natively (tests/c/proc_mem.c)", async () => {
  await assertSameAsNative([await compileC("proc_mem")]);
});

Deno.test("anonymous memory names in /proc/self/maps: /dev/zero (deleted) for shared memory and PR_SET_VMA_ANON_NAME as Linux (tests/c/vma_names.c)", async () => {
  const prog = await compileC("vma_names");
  const native = await runNative([prog]);
  if (!native.stdout.includes("name it = -1 EINVAL")) {
    // The host names anonymous memory (CONFIG_ANON_VMA_NAME): the sentry must do as it does.
    await assertSameAsNative([prog]);
    return;
  }
  // This host's kernel is built without CONFIG_ANON_VMA_NAME (every prctl is EINVAL): compare
  // with what a kernel with it prints (tests/c/vma_names.expected, Linux's madvise_set_anon_name
  // and get_vma_name), and with the host on what does not depend on the option.
  const sentry = await runSentry([prog]);
  const expected = await Deno.readTextFile(`${C_DIR}/vma_names.expected`);
  assert.equal(sentry.stdout, expected);
  assert.equal(sentry.code, native.code);
  const unnamed = (s: string) => s.split("\n").filter((l) => l.includes("/dev/zero") || l.startsWith("unaligned") || l.startsWith("a name with"));
  assert.deepEqual(unnamed(sentry.stdout).slice(0, 4), unnamed(native.stdout).slice(0, 4));
});

Deno.test("netdevice ioctls about lo answer on Unix, UDP and netlink sockets as natively (tests/c/netdevice.c)", async () => {
  await assertSameAsNative([await compileC("netdevice")]);
});

Deno.test("/proc/PID/io, ns/, coredump_filter, task/TID/children, task/ links and /proc/TID behave as natively (tests/c/proc_task.c)", async () => {
  await assertSameAsNative([await compileC("proc_task")]);
});

Deno.test("poll and epoll on /proc/sys/kernel/hostname and domainname report each change once, as natively (tests/c/uts_poll.c)", async () => {
  const prog = await compileC("uts_poll");
  // Natively in a UTS namespace of its own (sethostname there leaves the host's name alone;
  // the program sets the names it reads anyway). unshare needs root.
  const native = await runNative(["unshare", "--uts", prog]);
  if (native.code !== 0 && native.stdout === "") {
    console.log(`skipped: unshare --uts failed natively (${native.stderr.trim()}); it needs root`);
    return;
  }
  const sentry = await runSentry([prog]);
  assert.equal(sentry.stdout, native.stdout);
  assert.equal(sentry.code, native.code);
});

Deno.test("writes to read-only /proc files, a reaped process's task/, /proc/devices and randomize_va_space behave as natively (tests/c/proc_misc.c)", async () => {
  await assertSameAsNative([await compileC("proc_misc")]);
});

Deno.test("writes to oom_score_adj and coredump_filter parse as Linux's kstrto* of the C string written (tests/c/proc_numbers.c)", async () => {
  await assertSameAsNative([await compileC("proc_numbers")]);
});

Deno.test("the vsyscall page is listed last in /proc/self/maps when the host has one, and answers as natively (tests/c/vsyscall.c)", async () => {
  await assertSameAsNative([await compileC("vsyscall")]);
});

Deno.test("membarrier's commands, flags, registrations across fork and execve (tests/c/membarrier.c)", async () => {
  await assertSameAsNative([await compileC("membarrier")]);
});

Deno.test("fstatfs of pipes, sockets, anonymous inodes, memfds and pidfds names their pseudo filesystems; a socket's fchmod and fchown change its inode, and bind makes its file with that mode (tests/c/pseudo_fs.c)", async () => {
  await assertSameAsNative([await compileC("pseudo_fs")]);
});

Deno.test("mremap growing a shared anonymous mapping keeps it shared with a forked child and leaves the object its size: the new tail is SIGBUS to touch and EFAULT to a syscall, as natively (tests/c/mremap_shared_grow.c)", async () => {
  await assertSameAsNative([await compileC("mremap_shared_grow")]);
});

Deno.test("mremap with old_size 0 duplicates shared anonymous and shared file mappings, as natively (tests/c/mremap_dup.c)", async () => {
  await assertSameAsNative([await compileC("mremap_dup")]);
});

Deno.test("execve's limits: five nested scripts and no sixth (ELOOP); interpreters that are no ELF, for another machine, with a bad table (ELIBBAD), short (EIO) or of another type (SIGSEGV), as natively (tests/c/exec_limits.c)", async () => {
  await assertSameAsNative([await compileC("exec_limits")]);
});

Deno.test("getpriority and setpriority find a zombie until it is reaped, as natively (tests/c/zombie_priority.c)", async () => {
  await assertSameAsNative([await compileC("zombie_priority")]);
});

Deno.test("/proc/sys/fs/nr_open is writable by root and bounds RLIMIT_NOFILE and descriptors (tests/c/nr_open.c)", async () => {
  // Not run natively: nr_open is one value for the whole host, which the program would change.
  // The expected lines are Linux's (proc_dointvec_minmax's range, setrlimit's and dup3's checks).
  const r = await runSentry([await compileC("nr_open")]);
  assert.equal(r.code, 0);
  assert.equal(
    r.stdout,
    [
      "default: 1048576",
      "write 4194304 = 7 ",
      "write 10 (below the minimum) = -1 EINVAL",
      "write junk = -1 EINVAL",
      "RLIMIT_NOFILE above nr_open = -1 EPERM",
      "RLIMIT_NOFILE at nr_open = 0 ",
      "dup3 to nr_open = -1 EBADF",
      "dup3 to nr_open - 1 = 4194303 ",
      "restore the default = 8 ",
      "",
    ].join("\n"),
  );
});

Deno.test("unshare and clone with CLONE_NEWUTS give a process names of its own; unshare's checks as natively (tests/c/uts_ns.c)", async () => {
  const prog = await compileC("uts_ns");
  // Natively in a UTS namespace of its own, so that its sethostname leaves the host's name alone.
  const native = await runNative(["unshare", "--uts", prog]);
  if (native.code !== 0 && native.stdout === "") {
    console.log(`skipped: unshare --uts failed natively (${native.stderr.trim()}); it needs root`);
    return;
  }
  const sentry = await runSentry([prog]);
  assert.equal(sentry.stdout, native.stdout);
  assert.equal(sentry.code, native.code);
});

Deno.test("execveat: empty paths, AT_SYMLINK_NOFOLLOW, O_PATH descriptors and scripts named /dev/fd/N, as natively (tests/c/execveat.c)", async () => {
  await assertSameAsNative([await compileC("execveat")]);
});

Deno.test("personality(2) is kept, inherited and partly cleared by exec, as natively (tests/c/personality.c)", async () => {
  await assertSameAsNative([await compileC("personality")]);
});

Deno.test("fallocate refuses by file type and honours RLIMIT_FSIZE, and extends a memfd, as natively (tests/c/fallocate.c)", async () => {
  await assertSameAsNative([await compileC("fallocate")]);
});

Deno.test("splice, sendfile and copy_file_range honour RLIMIT_FSIZE and notify inotify, as natively (tests/c/splice_limits.c)", async () => {
  await assertSameAsNative([await compileC("splice_limits")]);
});

Deno.test("the descriptor array's size: select ignores bits beyond it, FDSize shows it, it grows, never shrinks, and fork sizes it for the open descriptors, as natively (tests/c/fd_array.c)", async () => {
  await assertSameAsNative([await compileC("fd_array")]);
});

Deno.test("a POSIX timer's standard signal queues beside the same signal pending from tgkill, with its overruns, and tgkill's thread group id must be positive, as natively (tests/c/timer_pending.c)", async () => {
  await assertSameAsNative([await compileC("timer_pending")]);
});

Deno.test("following a symlink and readlink(2) move its atime under relatime, lstat does not, as natively (tests/c/symlink_atime.c)", async () => {
  await assertSameAsNative([await compileC("symlink_atime")]);
});

Deno.test("a signal during vfork's wait for its child does not interrupt it: vfork returns the pid and the handler runs after, as natively (tests/c/vfork_signal.c)", async () => {
  await assertSameAsNative([await compileC("vfork_signal")]);
});

Deno.test("rseq(2) registers, checks and unregisters as Linux, keeps its CPU fields, passes to a fork's child, and aborts critical sections on signals and preemption (tests/c/rseq.c)", async () => {
  await assertSameAsNative([await compileC("rseq")]);
});

Deno.test("io_uring: setup's checks and offsets, the rings' mmap, NOP, file reads and writes, registered buffers, links, a pipe read that waits, polls, cancels, timeouts, the probe, a full CQ ring, epoll and EINTR, as natively (tests/c/io_uring.c)", async () => {
  await assertSameAsNative([await compileC("io_uring")]);
});
