/**
 * RLIMIT_MSGQUEUE: the bytes of the POSIX message queues a user made, counted while the queues
 * live (kernel/ucounts.ts), and the charge of a new one (mq_open, or creat(2) in an mqueue
 * mount: kernel/syscalls/linux/sys_mqueue.ts, sys_mount.ts).
 *
 * @module
 */

import { EMFILE } from "./errno.ts";
import { RLIMIT_MSGQUEUE } from "../abi/linux/limits.ts";
import type { Task } from "./task.ts";
import { type MessageQueue, MqueueDescription } from "../vfs/mqueue.ts";
import { type RlimitCharge, rlimitOverlimit, UCOUNT_RLIMIT_MSGQUEUE } from "./ucounts.ts";

/**
 * What every user holds of RLIMIT_MSGQUEUE: the bytes of each queue that lives, named in an IPC
 * namespace some task is in, or unlinked and still open (a queue goes once its name and its
 * last descriptor are gone, Linux's mqueue_evict_inode).
 */
function* msgqueueCharges(k: Task["kernel"]): Generator<RlimitCharge> {
  const seen = new Set<MessageQueue>();
  function* one(q: MessageQueue): Generator<RlimitCharge> {
    if (q.charge === null || seen.has(q)) return;
    seen.add(q);
    yield [q.charge[0], q.charge[1], q.chargedBytes];
  }
  const namespaces = new Set([k.ipc]);
  for (const task of k.tasks.values()) namespaces.add(task.ipc);
  for (const ns of namespaces) for (const f of ns.mqueue.root.queues.values()) yield* one(f.queue);
  const tables = new Set<Task["fdTable"]>();
  for (const task of k.tasks.values()) tables.add(task.fdTable);
  for (const table of tables) {
    for (const fd of table.fds()) {
      const f = table.get(fd);
      if (f instanceof MqueueDescription) yield* one(f.queue);
    }
  }
}

/**
 * mqueue_get_inode's charge of a new queue's bytes to its creator's user: EMFILE when they would
 * pass the caller's RLIMIT_MSGQUEUE (no capability exempts; the sandbox's root is held to it too).
 */
export function chargeQueue(t: Task, q: MessageQueue): void {
  const c = t.creds;
  const limit = t.tg.limits.soft(RLIMIT_MSGQUEUE);
  if (rlimitOverlimit(msgqueueCharges(t.kernel), c.userNs, c.uid, q.chargedBytes, limit, UCOUNT_RLIMIT_MSGQUEUE)) throw EMFILE;
  q.charge = [c.userNs, c.uid];
}
