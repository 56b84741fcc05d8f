/**
 * Whom getpriority/setpriority (sys_sched.ts) and ioprio_get/ioprio_set (sys_advice.ts) name.
 *
 * @module
 */

import { ESRCH } from "../../errno.ts";
import type { Task } from "../../task.ts";

/** Whom a (which, who) pair of getpriority/setpriority or ioprio_get/ioprio_set names. */
export type WhoKind = "process" | "pgrp" | "user";

/**
 * The tasks (kind, who) names, who 0 meaning the caller's own pid, process group or uid, as
 * Linux's getpriority(2) and ioprio_get(2) share them; ESRCH when none.
 */
export function tasksNamedBy(t: Task, kind: WhoKind, who: number): Task[] {
  const k = t.kernel;
  let out: Task[];
  switch (kind) {
    case "process":
      out = who === 0 ? [t] : [t.findTask(who)].filter((x): x is Task => x !== undefined);
      break;
    case "pgrp": {
      const pgid = who === 0 ? t.tg.pgid : t.pidNs.global(who) ?? -1;
      out = [...k.tasks.values()].filter((x) => x.tg.pgid === pgid);
      break;
    }
    case "user": {
      const uid = who === 0 ? t.creds.uid : who;
      out = [...k.tasks.values()].filter((x) => x.creds.uid === uid);
      break;
    }
  }
  if (out.length === 0) throw ESRCH;
  return out;
}
