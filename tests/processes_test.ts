/**
 * Processes and signals, run natively and in the sentry: the output and exit status must be
 * the same.
 */

import assert from "node:assert/strict";
import { assertSameAsNative, compileC, REPO_ROOT, runNative, runSentry } from "./_harness.ts";

Deno.test("fork, wait, vfork+exec, pipes and SIGPIPE behave as natively", async () => {
  await assertSameAsNative([await compileC("processes")]);
});

Deno.test("signal handlers, masks, the alternate stack and EINTR/SA_RESTART behave as natively", async () => {
  await assertSameAsNative([await compileC("signals")]);
});

Deno.test("a static binary forks and signals as natively", async () => {
  await assertSameAsNative([await compileC("signals", { static: true })]);
});

Deno.test("a shell pipeline with command substitution and a subshell behaves as natively", async () => {
  await assertSameAsNative(["/bin/sh", "-c", 'x=$(echo hi | tr a-z A-Z); (echo "$x"; echo sub) | cat; exit 7']);
});

Deno.test("argument and environment bytes that are not UTF-8 reach an exec'd program unchanged, as natively", async () => {
  await assertSameAsNative([
    "/bin/sh", "-c", `x=$(printf 'A\\351\\377B'); Y="$x" /usr/bin/printenv Y | od -An -tx1; /bin/echo "$x" | od -An -tx1`,
  ]);
});

Deno.test("python3 runs 20 subprocesses and a pool of 8 threads as natively", async () => {
  const script = [
    "import subprocess, concurrent.futures as cf",
    'r = [subprocess.run(["/bin/echo", str(i)], capture_output=True).stdout for i in range(20)]',
    "print(len(r), r[-1])",
    "with cf.ThreadPoolExecutor(8) as ex: print(sum(ex.map(lambda x: x * x, range(1000))))",
  ].join("\n");
  await assertSameAsNative(["/usr/bin/python3", "-c", script]);
});

Deno.test("xargs -P4 and a find | sort | head pipeline behave as natively", async () => {
  await assertSameAsNative(["/bin/sh", "-c", "seq 1 40 | xargs -P4 -n1 echo | sort -n | tail -3"]);
  await assertSameAsNative(["/bin/sh", "-c", "find /usr/include -name '*.h' | sort | head"]);
});

Deno.test("8 pthreads contending on a mutex and a condition variable print the same totals as natively", async () => {
  await assertSameAsNative([await compileC("threads")]);
});

Deno.test("job control: stop, continue, wait WUNTRACED/WCONTINUED, SIGTSTP to a group, orphaned groups, and /proc states of stopped and zombie processes behave as natively", async () => {
  await assertSameAsNative([await compileC("jobcontrol")]);
});

Deno.test("core-dump signals report the core-dump bit only when Linux would dump, as natively", async () => {
  const prog = await compileC("coredump");
  await assertSameAsNative([prog]);
  // With an unlimited RLIMIT_CORE natively a core file is written in the working directory
  // (the sentry writes none but reports the same status): run both in a scratch directory.
  const dir = await Deno.makeTempDir({ prefix: "sentry-core-" });
  try {
    const native = await assertSameAsNative([prog, "dump"], { cwd: dir });
    assert.match(native.stdout, /abort, unlimited core: signaled=1 sig=6 core=1 waitid code=3/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("getrusage, times, CPU-time clocks and ITIMER_VIRTUAL/PROF account CPU time as natively", async () => {
  await assertSameAsNative([await compileC("cputime")]);
});

Deno.test("clock_nanosleep on the process CPU clock sleeps until the process used that much CPU, relative and absolute; on a thread clock it is EINVAL; as natively (tests/c/cpu_sleep.c)", async () => {
  await assertSameAsNative([await compileC("cpu_sleep")]);
});

Deno.test("keyctl session keyrings: anonymous and named, inherited by new threads, joined by name only while searchable, SETPERM and DESCRIBE with their permission checks and errors, as natively (tests/c/keyctl.c)", async () => {
  await assertSameAsNative([await compileC("keyctl")]);
});

Deno.test("ioctl(PIDFD_GET_INFO): ids and credentials of a live child and a zombie, the wait status once reaped (else ESRCH), EINVAL, ENOTTY and EREMOTE as natively (tests/c/pidfd_info.c)", async () => {
  await assertSameAsNative([await compileC("pidfd_info")]);
});

Deno.test("keys: add_key of keyring, user, logon keys, update, read, revoke, invalidate, link, search, timeouts, request_key's negative keys, /proc/keys and the quota of /proc/key-users, as natively (tests/c/keys.c)", async () => {
  await assertSameAsNative([await compileC("keys")]);
});

Deno.test("setns joins another process's UTS namespace through a pidfd, refuses bad flags and reaped processes, and takes /proc/self/ns files by type, as natively (tests/c/setns.c)", async () => {
  await assertSameAsNative([await compileC("setns")]);
});

Deno.test("POSIX timers: signals, thread targets, SIGEV_NONE, overruns, CPU clocks, deletion at fork and exec, as natively", async () => {
  await assertSameAsNative([await compileC("posixtimers")]);
});

Deno.test("a robust mutex whose owner thread or process died gives the next locker EOWNERDEAD, as natively", async () => {
  await assertSameAsNative([await compileC("robust")]);
});

Deno.test("futexes in shared memory wake across processes (semaphores, pshared mutex+condvar, a file mapped at two addresses) and private ops stay private, as natively", async () => {
  await assertSameAsNative([await compileC("futex_shared")]);
});

Deno.test("a shared futex op on an unmapped, PROT_NONE or past-the-end file page is EFAULT (WAKE, both words of CMP_REQUEUE); a private one is not, as natively (tests/c/futex_fault.c)", async () => {
  await assertSameAsNative([await compileC("futex_fault")]);
});

Deno.test("futex_waitv checks its arguments in Linux's order, times out on either clock, and returns the index of the futex a wake reached, as natively (tests/c/futex_waitv.c)", async () => {
  await assertSameAsNative([await compileC("futex_waitv")]);
});

Deno.test("python3 multiprocessing with a spawn Pool of 2 maps over a range and finishes, as natively", async () => {
  const script = [
    "import multiprocessing as mp",
    'with mp.get_context("spawn").Pool(2) as p: print(p.map(abs, range(-5, 5)))',
  ].join("\n");
  await assertSameAsNative(["/usr/bin/python3", "-c", script]);
});

/**
 * Runs argv natively, then in the sentry under tests/c/reaper.c (a child subreaper that counts
 * the host processes left behind once the sentry exited): same stdout and status, nothing left.
 */
async function assertSameAndNothingLeft(argv: string[]): Promise<void> {
  const reaper = await compileC("reaper");
  const native = await runNative(argv);
  const sentry = await runNative([reaper, `${REPO_ROOT}/sentry`, "do", "--", ...argv]);
  assert.equal(sentry.stdout, native.stdout, `stdout of ${argv.join(" ")} differs (actual: sentry)`);
  assert.equal(sentry.code, native.code, `exit status of ${argv.join(" ")} differs (actual: sentry)`);
  assert.equal(sentry.stderr, native.stderr + "leftover=0\n", "host processes outlived the sentry");
}

for (const [part, what] of [
  ["nproc", "RLIMIT_NPROC counts a user's tasks and zombies per user namespace and for each owner above (fork EAGAIN, CAP_SYS_ADMIN exempt), and set*uid to a user over it makes execve EAGAIN (PF_NPROC_EXCEEDED)"],
  ["sigpending", "RLIMIT_SIGPENDING counts a user's queued signals, standard ones and POSIX timers included: sigqueue EAGAIN, kill delivers without its siginfo, timer_create EAGAIN"],
  ["msgqueue", "RLIMIT_MSGQUEUE counts the bytes of a user's POSIX message queues while they live (mq_open EMFILE)"],
  ["memlock", "RLIMIT_MEMLOCK counts a user's SHM_LOCK'd segments (ENOMEM, EPERM at 0) and mlock per process"],
] as const) {
  Deno.test(`per-user limits as natively: ${what} (tests/c/rlimit_ucounts.c ${part})`, async () => {
    await assertSameAsNative([await compileC("rlimit_ucounts"), part]);
  });
}

Deno.test("mbind: a range takes a NUMA policy of its own (split and joined as natively, kept by fork, reported by get_mempolicy MPOL_F_ADDR), with Linux's errors (tests/c/mbind.c)", async () => {
  await assertSameAsNative([await compileC("mbind")]);
});

Deno.test("a 64-bit program's int 0x80 is i386's ABI: write, getpid and exit_group by i386's numbers, seccomp sees AUDIT_ARCH_I386, as natively (tests/c/int80.c)", async () => {
  await assertSameAsNative([await compileC("int80")]);
});

Deno.test("a process CPU timer's SIGPROF goes to the threads that ran, not to the main thread asleep in pthread_join, as natively (tests/c/itimer_prof_threads.c)", async () => {
  await assertSameAsNative([await compileC("itimer_prof_threads")]);
});

Deno.test("1000 fork/exit cycles and a fork bomb limited by RLIMIT_NPROC finish as natively, leaving no host process", async () => {
  await assertSameAndNothingLeft([await compileC("forks")]);
});

Deno.test("a background job still running when init exits leaves no host process", async () => {
  // Natively the sleeps outlive the shell for a few seconds (their output goes to /dev/null, so
  // that the run does not wait for them); in the sentry init's exit kills them.
  const bg = "sleep 5 >/dev/null 2>&1";
  await assertSameAndNothingLeft(["/bin/sh", "-c", `${bg} & (${bg} &) ; echo started; exit 3`]);
});

Deno.test("scheduling probes, nice values, prctl options and an interrupted nanosleep behave as natively", async () => {
  await assertSameAsNative([await compileC("sched")]);
});

Deno.test("sched_getattr and sched_setattr check sizes, flags, policies and privileges, keep policy or parameters and reset on fork, as natively (chrt)", async () => {
  await assertSameAsNative([await compileC("sched_attr")]);
});

Deno.test("sched_getscheduler and sched_getparam find a zombie child until it is reaped, reset by SCHED_RESET_ON_FORK, as natively (tests/c/sched_zombie.c)", async () => {
  await assertSameAsNative([await compileC("sched_zombie")]);
});

Deno.test("SCHED_DEADLINE is admitted within the CPUs' bandwidth, read back by sched_getattr, and keeps its task from forking unless reset on fork, as natively (tests/c/sched_deadline.c)", async () => {
  await assertSameAsNative([await compileC("sched_deadline")]);
});

Deno.test("signals sent to the sentry (SIGUSR1, SIGWINCH, SIGTERM) reach init's traps", async () => {
  const script = 'trap "echo usr1" USR1; trap "echo winch" WINCH; trap "echo term; exit 4" TERM; ' +
    "echo ready; while :; do sleep 0.05; done";
  const child = new Deno.Command(`${REPO_ROOT}/sentry`, {
    args: ["do", "--", "/bin/sh", "-c", script],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  /** Reads until the output ends with `line`. */
  const waitFor = async (line: string) => {
    while (!out.endsWith(line)) {
      const r = await reader.read();
      if (r.done) break;
      out += r.value;
    }
  };
  await waitFor("ready\n");
  child.kill("SIGUSR1");
  await waitFor("usr1\n");
  child.kill("SIGWINCH");
  await waitFor("winch\n");
  child.kill("SIGTERM");
  await waitFor("term\n");
  reader.releaseLock();
  const status = await child.status;
  await child.stderr.cancel();
  assert.equal(out, "ready\nusr1\nwinch\nterm\n");
  assert.equal(status.code, 4);
});

/**
 * A shell script with the job features CI scripts use. The shells' own reports on jobs
 * ("Terminated" from dash, "wait_for: No record of process N" from bash) depend on when the
 * shell happens to reap a child, natively too, and name pids: the script's stderr is dropped;
 * its output and the statuses it prints are compared. Output of parallel jobs is sorted.
 */
const JOBS_SCRIPT = `exec 2>/dev/null
trap 'echo "INT trapped"' INT
echo "pipeline: $(printf 'b\\na\\nc\\n' | sort | tr '\\n' ' ')"
x=$( (echo sub; exit 3) ); echo "subshell said $x, status $?"
( exit 5 ); echo "subshell status $?"
sleep 0.2 & p1=$!
(echo bg; exit 7) & p2=$!
wait $p2; echo "wait bg status $?"
sleep 30 & p3=$!
kill -TERM $p3; wait $p3; echo "killed job status $?"
wait $p1; echo "sleep status $?"
# Set only now: a child that bash forks gets SIGTERM before it execs runs an inherited EXIT trap.
trap 'echo "EXIT trap, status $?"' EXIT
kill -INT $$; echo "after INT"
false | true; echo "pipe status $?"
n=0; for i in 1 2 3; do n=$((n + i)); done; echo "loop $n"
(for i in 1 2 3; do (echo "job $i") & done; wait; echo "waited for all") | sort
exit 6
`;

Deno.test("dash and bash run pipelines, subshells, substitution, &/wait, traps and kill -TERM as natively", async () => {
  for (const shell of ["/bin/dash", "/bin/bash"]) {
    const native = await assertSameAsNative([shell, "-c", JOBS_SCRIPT]);
    assert.match(native.stdout, /killed job status 143\n/);
  }
});

Deno.test("make -j2 builds a four-file C project in a writable directory and its tests pass, as natively", async () => {
  // The sources are read from the repository; the build happens in a fresh directory (natively a
  // host temporary directory, removed after; in the sentry the overlay's /tmp).
  const script = `d=$(mktemp -d) && cp -r ${REPO_ROOT}/tests/c/makeproj/. "$d" && cd "$d" && ` +
    'make -s -j2 && make -s -j2 test && ls *.o calc; st=$?; rm -rf "$d"; exit $st';
  const native = await assertSameAsNative(["/bin/sh", "-c", script]);
  assert.match(native.stdout, /all tests passed/);
});

Deno.test("RLIMIT_CPU sends SIGXCPU at the soft limit and SIGKILL at the hard one, as natively", async () => {
  await assertSameAsNative([await compileC("rlimitcpu")]);
});

Deno.test("RLIMIT_AS makes mmap, mremap and brk that would exceed it fail with ENOMEM, as natively", async () => {
  await assertSameAsNative([await compileC("rlimit_as")]);
});

Deno.test("execve from a thread other than the leader leaves one thread whose id is the process id, as natively", async () => {
  await assertSameAsNative([await compileC("exec_thread")]);
});

Deno.test("execve in a multithreaded process waits, as Linux's de_thread, for a traced thread's PTRACE_EVENT_EXIT stop to end and a traced thread's zombie to be reaped; from a thread other than the leader it takes the leader's id, PTRACE_EVENT_EXEC giving the former tid, as natively (tests/c/exec_dethread.c)", async () => {
  await assertSameAsNative([await compileC("exec_dethread")]);
});

Deno.test("a process whose leader and then last thread end with exit(2) reports what Linux reports", async () => {
  await assertSameAsNative([await compileC("leader_exit")]);
});

Deno.test("the page where an executable's data ends and its bss begins holds the file's bytes, then zeros, and takes reads whole, before and after fork", async () => {
  await assertSameAsNative([await compileC("data_page")]);
});

Deno.test("fork copies heap, stack, brk and mmap'd memory on write, MADV_DONTNEED zeros, shared memory stays shared and mremap keeps contents, as natively", async () => {
  await assertSameAsNative([await compileC("cow")]);
});

Deno.test("MAP_GROWSDOWN memory grows down to a fault below it, by the CPU and the kernel, across fork, but not within the guard gap above another mapping, as natively", async () => {
  await assertSameAsNative([await compileC("growsdown")]);
});

Deno.test("a syscall's buffer or a signal frame below a MAP_GROWSDOWN mapping grows it (read, write, preadv, stat, getcwd, an alternate stack), not within the guard gap nor past RLIMIT_STACK, and mmap leaves the gap free, as natively", async () => {
  await assertSameAsNative([await compileC("growsdown_syscall")]);
});

Deno.test("pkey_alloc, pkey_free and pkey_mprotect check their arguments as natively, key -1 is plain mprotect, and mprotect takes PROT_SEM and PROT_GROWSDOWN as Linux (node probes pkey_alloc)", async () => {
  await assertSameAsNative([await compileC("pkeys")]);
});

Deno.test("mprotect that only adds rights (not told to the host until an access needs it) leaves reads, writes, execution, faults, fork, mremap, MADV_DONTNEED and signal frames on a flipped alternate stack as natively (tests/c/mprotect_lazy.c)", async () => {
  await assertSameAsNative([await compileC("mprotect_lazy")]);
});

Deno.test("userfaultfd: UFFDIO_API, REGISTER and their errors, missing pages resolved from another thread by COPY, ZEROPAGE and MOVE, DONTWAKE then WAKE, MADV_DONTNEED, a signal to a thread asleep in a fault, write protection, POISON, UFFD_FEATURE_SIGBUS, THREAD_ID, EXACT_ADDRESS, unregister, close, fork, minor faults of a memfd mapping (CONTINUE), remove/remap/unmap events and /dev/userfaultfd as natively (tests/c/userfaultfd.c)", async () => {
  await assertSameAsNative([await compileC("userfaultfd")]);
});

Deno.test("mincore and /proc/self/pagemap report pages resident once touched, mlocked or populated, not before; guard pages (MADV_GUARD_INSTALL/REMOVE) fault for the program, a fork's child and a syscall's copy, across mprotect, MADV_DONTNEED and mremap, as natively (tests/c/page_residency.c)", async () => {
  await assertSameAsNative([await compileC("page_residency")]);
});

Deno.test("adjacent private anonymous mappings alike are one VMA, so mremap of the whole range works after mprotect there and back, an adjacent mmap, and a copy-on-write fork with a discard, as natively", async () => {
  await assertSameAsNative([await compileC("vma_merge")]);
});

Deno.test("a traced sleep ended by a signal shows -ERESTARTNOHAND or -ERESTARTSYS at its syscall-exit stop, and becomes EINTR, a restart or what the tracer wrote in rax, as natively (tests/c/ptrace_restart.c)", async () => {
  await assertSameAsNative([await compileC("ptrace_restart")]);
});

Deno.test("PTRACE_O_TRACEEXIT stops an exiting tracee with PTRACE_EVENT_EXIT and its wait status (exit, a fatal signal passed on, SIGKILL in a stop) until its tracer resumes it, as natively (tests/c/ptrace_exit_event.c)", async () => {
  await assertSameAsNative([await compileC("ptrace_exit_event")]);
});

Deno.test("FUTEX_WAKE with a count of 0 wakes one waiter, negative requeue counts are EINVAL, and waitid without WEXITED and only a dead child is ECHILD, as natively", async () => {
  await assertSameAsNative([await compileC("wake_wait_edges")]);
});

Deno.test("a forked child inherits the alternate signal stack (its stack overflow runs the handler there), a thread does not, execve clears it, as natively", async () => {
  await assertSameAsNative([await compileC("altstack_inherit")]);
});

Deno.test("a signal handler starts with clean FP registers (xmm0 zero, MXCSR and the x87 control word at their defaults) and sigreturn restores the frame's, also in a child forked in the handler, as natively", async () => {
  await assertSameAsNative([await compileC("fpsig_clean")]);
});

Deno.test("nested SIGSEGV handlers on an alternate stack end in a SIGSEGV kill once the next frame would fall off its bottom, never running below it, as natively", async () => {
  await assertSameAsNative([await compileC("altstack_overflow")]);
});

Deno.test("ptrace between processes: TRACEME and signal-delivery-stops, registers, PEEKDATA/POKEDATA, a signal suppressed or passed on, PTRACE_SYSCALL stops, exec stops, PTRACE_O_TRACEFORK, ATTACH and DETACH, as natively", async () => {
  await assertSameAsNative([await compileC("ptrace_basic")]);
});

Deno.test("ptrace exits: a process traced by another is its tracer's to wait for before its parent's, and a traced thread's exit is waited for by its tid, as natively", async () => {
  await assertSameAsNative([await compileC("ptrace_exit_wait")]);
});

Deno.test("ptrace exits: a leader that ends before its thread stays its non-parent tracer's zombie until the group is empty and traced thread zombies are waited for, then its parent's; an execve by the thread drops it unreported, as natively (tests/c/ptrace_leader_exit.c)", async () => {
  await assertSameAsNative([await compileC("ptrace_leader_exit")]);
});

Deno.test("init starts outside any session of the sandbox (sid and pgrp 0), may setsid or make a group, as natively as PID 1 of unshare --pid --fork (tests/c/init_session.c)", async () => {
  const bin = await compileC("init_session");
  const native = await runNative(["unshare", "--pid", "--fork", bin]);
  assert.equal(native.code, 0, native.stderr);
  const sentry = await runSentry([bin]);
  assert.equal(sentry.stdout, native.stdout);
  assert.equal(sentry.code, 0);
});

Deno.test("seccomp filters in the sandbox: ERRNO, TRAP's SIGSYS, stacking, KILL_PROCESS, strict mode, malformed programs, PR_GET_SECCOMP and /proc status, as natively", async () => {
  await assertSameAsNative([await compileC("seccomp_filter")]);
});

Deno.test("a child that dropped root cannot signal its root parent by kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo or pidfd_send_signal (SIGCONT in the session can), and a thread id names its process for kill, as natively", async () => {
  await assertSameAsNative([await compileC("kill_perms")]);
});

Deno.test("process_vm_readv and process_vm_writev copy within a process and to and from a child, stop at faults and refuse bad flags, vectors, pids, zombies and other users' processes as natively", async () => {
  await assertSameAsNative([await compileC("process_vm")]);
});

Deno.test("a zombie still owns its pid: kill, tgkill and rt_sigqueueinfo find it, check permission and the signal is ignored; signal 0 to rt_sigqueueinfo only checks, as natively", async () => {
  await assertSameAsNative([await compileC("zombie_kill")]);
});

Deno.test("waitpid(WCONTINUED) right after kill(SIGCONT) reports the continue, not the exit of the woken child, as natively", async () => {
  await assertSameAsNative([await compileC("wake_order")]);
});

Deno.test("dash prints Terminated for a background job that kill ended, as natively (the kill takes effect after dash's next syscall)", async () => {
  await assertSameAsNative(["/bin/dash", "-c", "sleep 10 & kill $!; wait $!"]);
});

Deno.test("children reaped unwaited (SIGCHLD ignored, SA_NOCLDWAIT) make wait ECHILD and leave RUSAGE_CHILDREN alone; SA_NOCLDWAIT's handler still runs, as natively (tests/c/autoreap.c)", async () => {
  const r = await assertSameAsNative([await compileC("autoreap")]);
  assert.match(r.stdout, /SA_NOCLDWAIT: wait = -1 ECHILD, SIGCHLD delivered 1\n/);
  assert.match(r.stdout, /SIG_DFL: status 3, children's time grew 1\n$/);
});

Deno.test("wait with __WNOTHREAD sees only the calling thread's children, and an exited thread's children pass to its siblings, as natively (tests/c/wait_nothread.c)", async () => {
  const r = await assertSameAsNative([await compileC("wait_nothread")]);
  assert.match(r.stdout, /^other thread: waitpid\(__WNOTHREAD\) = -1 ECHILD\n/);
  assert.match(r.stdout, /creating thread: waitpid\(__WNOTHREAD\) = 1 \nstatus 5\n/);
});

Deno.test("a niced sentry's init inherits its nice value, as a niced program's child does", async () => {
  const run = async (cmd: string[]) => {
    const o = await new Deno.Command("nice", { args: ["-n", "7", ...cmd], stdout: "piped", stderr: "piped" }).output();
    return { code: o.code, out: new TextDecoder().decode(o.stdout) };
  };
  const probe = ["/bin/sh", "-c", "nice; sh -c nice"];
  const native = await run(probe);
  const sandboxed = await run([`${REPO_ROOT}/sentry`, "do", "--", ...probe]);
  // The suite may itself run niced: 7 more than its own, at most 19.
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const own = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
  const want = Math.min(19, own + 7);
  assert.equal(native.out, `${want}\n${want}\n`);
  assert.deepEqual(sandboxed, native);
});

Deno.test("strace -f runs inside the sandbox: it follows a fork and sees the child's execve and both exits", async () => {
  const strace = ["/usr/bin/strace", "/bin/strace"].find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
  if (strace === undefined) {
    console.log("skipped: strace is not installed (apt-get install strace)");
    return;
  }
  const r = await runSentry([strace, "-f", "-e", "trace=execve,exit_group", "/bin/sh", "-c", "/bin/true; exit 3"]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /execve\("\/bin\/sh", \["\/bin\/sh", "-c", "\/bin\/true; exit 3"\]/);
  assert.match(r.stderr, /\[pid +\d+\] execve\("\/bin\/true", \["\/bin\/true"\]/);
  assert.match(r.stderr, /\[pid +\d+\] \+\+\+ exited with 0 \+\+\+/);
  assert.match(r.stderr, /^\+\+\+ exited with 3 \+\+\+$/m);
});

Deno.test("dumpability after set*id and exec (set-user-ID, execute-only programs) and the parent-death signal of a thread's child behave as natively", async () => {
  await assertSameAsNative([await compileC("cred_dumpable")]);
});

Deno.test("SA_RESETHAND keeps the flags, sigwaitinfo takes an unblocked signal, wait4(INT_MIN) is ESRCH, timer_settime checks in Linux's order, an unwritable signal frame forces a SIGSEGV its handler takes, as natively (tests/c/signal_ltp_rules.c)", async () => {
  await assertSameAsNative([await compileC("signal_ltp_rules")]);
});

Deno.test("prctl's timer slack (and /proc/self/timerslack_ns, inherited by fork), THP_DISABLE, SPECULATION_CTRL and the argument checks of GET_NO_NEW_PRIVS and SET_SECCOMP behave as natively (tests/c/prctl_options.c)", async () => {
  await assertSameAsNative([await compileC("prctl_options")]);
});

Deno.test("prctl(PR_SET_TSC): rdtsc faults with SIGSEGV (SI_KERNEL) or works, per mode, inherited by fork and kept by execve, EINVAL and EFAULT, as natively (tests/c/prctl_tsc.c)", async () => {
  const r = await assertSameAsNative([await compileC("prctl_tsc")]);
  assert.match(r.stdout, /disabled:\n  signal 11, si_code 128, si_addr NULL: 1\n/);
});

Deno.test("clock_nanosleep's clocks (EOPNOTSUPP, EINVAL), EFAULT for the request and for an unwritable rem after a handler, clone3's struct size rules and set_tid checks, as natively (tests/c/sleep_clone3_errnos.c)", async () => {
  await assertSameAsNative([await compileC("sleep_clone3_errnos")]);
});

Deno.test("pidfd_send_signal takes a /proc/PID directory's descriptor as a pidfd (siginfo and all), not other /proc descriptors, ESRCH once the process is reaped, as natively (tests/c/pidfd_proc_dir.c)", async () => {
  await assertSameAsNative([await compileC("pidfd_proc_dir")]);
});

Deno.test("a descriptor table with a descriptor past a lowered fs.nr_open cannot be copied: unshare(CLONE_FILES) and fork are EMFILE, as Linux's dup_fd (tests/c/nr_open_copy.c; sandbox only: it writes a global sysctl)", async () => {
  if (Deno.env.get("SENTRY_TEST_TARGET") === "native") return; // never the host's nr_open
  const r = await runSentry([await compileC("nr_open_copy")]);
  assert.equal(r.stdout, [
    "unshare(CLONE_FILES) with fd 65, nr_open 64: -1 EMFILE",
    "fork: -1 EMFILE",
    "unshare(CLONE_FILES) with nr_open 128: 0 0",
    "",
  ].join("\n"));
});

Deno.test("RLIMIT_SIGPENDING: a real-time signal sent with its own siginfo (tgkill, sigqueue) past the limit is EAGAIN, kill(2)'s and a standard signal still go, an ignored one is dropped first, as natively (tests/c/sigpending_limit.c)", async () => {
  await assertSameAsNative([await compileC("sigpending_limit")]);
});

Deno.test("arch_prctl's CPUID faulting agrees with the cpuid_fault flag of /proc/cpuinfo (the sandbox's CPUs have none: ARCH_SET_CPUID is ENODEV), as natively (tests/c/arch_cpuid.c)", async () => {
  await assertSameAsNative([await compileC("arch_cpuid")]);
});

Deno.test("personality(STICKY_TIMEOUTS) keeps select's, pselect6's and ppoll's timeout as given, as natively (tests/c/sticky_timeouts.c)", async () => {
  await assertSameAsNative([await compileC("sticky_timeouts")]);
});

Deno.test("sysinfo's load averages agree with /proc/loadavg, as natively (tests/c/loadavg_agree.c)", async () => {
  await assertSameAsNative([await compileC("loadavg_agree")]);
});

Deno.test("ptrace's debug registers as Linux checks them (kernel or misaligned addresses, I/O and sized execute breakpoints EINVAL with DR7 put back, DR4/DR5 EIO, DR6 and DR7 read back), and armed for real: a write watchpoint and an execute breakpoint stop the tracee with SIGTRAP TRAP_HWBKPT and DR6 naming them, the kernel's own write does not, a single step sets DR_STEP, a fork's child has none, an armed one after detach kills with SIGTRAP; as natively (tests/c/ptrace_debugregs.c)", async () => {
  await assertSameAsNative([await compileC("ptrace_debugregs")]);
});

Deno.test("max_map_count: a process fills its map with ~65,000 mmaps (each as cheap as the first), then an munmap that would split a mapping is ENOMEM and changes nothing, a whole mapping's protection changes, and a freed slot maps again, as natively (tests/c/max_map_count.c)", async () => {
  await assertSameAsNative([await compileC("max_map_count")]);
});

Deno.test("memfd_secret(2): O_CLOEXEC only, a /secretmem file of mode 0600 without read, write, lseek or fallocate, its size set once, shared mappings only, counted as locked (VmLck), SIGBUS past the end, kept across fork, and out of other processes' reach (process_vm_readv EFAULT, PTRACE_PEEKDATA EIO); as natively (tests/c/memfd_secret.c)", async () => {
  await assertSameAsNative([await compileC("memfd_secret")]);
});

Deno.test("remap_file_pages(2): Linux's errors in order, a shared file window rearranged page by page (contents, writes reaching the file at the new offset, the VMAs /proc/self/maps shows, merged again when contiguous), a range over remapped VMAs of one file, another mapping or other rights beyond it EINVAL, a pgoff past the file SIGBUS; as natively (tests/c/remap_file_pages.c)", async () => {
  await assertSameAsNative([await compileC("remap_file_pages")]);
});

Deno.test("mseal(2): argument errors in order; a sealed mapping refuses munmap, mprotect, mremap, mmap(MAP_FIXED) over it and discarding madvise of read-only anonymous memory with EPERM; smaps shows sl; fork keeps the seal; as natively (tests/c/mseal.c)", async () => {
  await assertSameAsNative([await compileC("mseal")]);
});
