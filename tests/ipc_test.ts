/**
 * System V IPC (kernel/ipc.ts, kernel/syscalls/linux/sys_ipc.ts), run natively and in the
 * sentry: the output and exit status must be the same. See tests/c/sysv_ipc.c.
 */

import assert from "node:assert/strict";
import { assertSameAsNative, compileC } from "./_harness.ts";

Deno.test("System V shared memory, semaphores and message queues behave as natively: sleeps woken by another process, SEM_UNDO at exit, EIDRM at removal, another user refused", async () => {
  const r = await assertSameAsNative([await compileC("sysv_ipc")]);
  // The whole story ran, to its last check.
  assert.match(r.stdout, /child: mprotect\(RDONLY attach, WRITE\) = -1 EACCES\n/);
  assert.match(r.stdout, /GETVAL 1 after the child's exit = 2 \n/);
  assert.match(r.stdout, /removed-msg child's msgsnd to the full queue \(99: EIDRM\): exit 99\n$/);
});

Deno.test("/proc/sysvipc/{shm,sem,msg} list a segment, a semaphore set and a message queue with Linux's header and columns, a segment's rss agreeing with SHM_INFO, as natively (tests/c/sysvipc_proc.c)", async () => {
  const r = await assertSameAsNative([await compileC("sysvipc_proc")]);
  assert.match(r.stdout, /16 fields: key 0 perms 640 size 10000 nattch 1 uid 0 gid 0 rss is SHM_INFO's, swap 0\n/);
  assert.match(r.stdout, /14 fields: key 0 perms 604 cbytes 8 qnum 2 uid 0\n/);
});

Deno.test("the System V limits of /proc/sys/kernel (shmmax, shmall, shmmni, msgmax, msgmnb, msgmni, sem) are written per IPC namespace and honoured by msgget, msgsnd, shmget, semget, semop and *_INFO, as natively (tests/c/ipc_sysctl.c)", async () => {
  const r = await assertSameAsNative([await compileC("ipc_sysctl")]);
  assert.match(r.stdout, /a new IPC namespace:\nshmmax: 18446744073692774399\n/);
});

Deno.test("/proc/sys/kernel/{msg,shm,sem}_next_id give the next object its id (slot from the id's up, its sequence number), then read -1; MSG_COPY copies by index; writers need CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE, as natively (tests/c/ipc_next_id.c)", async () => {
  const r = await assertSameAsNative([await compileC("ipc_next_id")]);
  assert.match(r.stdout, /made 5000, reads -1\n/);
});

Deno.test("POSIX message queues behave as natively, in an IPC namespace of their own: priorities, EMSGSIZE, EAGAIN, timeouts, a receiver woken by another process, mq_notify's signal, mq_getsetattr, poll, the status line, the mqueue filesystem (tests/c/mqueue.c)", async () => {
  await assertSameAsNative([await compileC("mqueue")]);
});

Deno.test("mq_notify's SIGEV_THREAD: glibc's helper thread calls the function, and the raw cookie reaches the netlink socket with NOTIFY_WOKENUP or NOTIFY_REMOVED; EFAULT, EBADF, ENOTSOCK, EINVAL, EBUSY, as natively (tests/c/mqueue_thread.c)", async () => {
  const r = await assertSameAsNative([await compileC("mqueue_thread")]);
  assert.match(r.stdout, /after a message: 32 bytes, "xyz", last byte 1\n/);
});
