/**
 * execve(2): replaces a task's program. Analogous to Linux's fs/exec.c and gVisor's
 * task_exec.go.
 *
 * The new image is built in a fresh stub first; until it is complete the old process is
 * untouched, so any error is returned to the old program. After that point (Linux's "point of
 * no return"): the other threads die, the old address space is dropped, close-on-exec
 * descriptors close, handled signals go back to their default.
 *
 * @module
 */

import { EVENT_IN } from "../waiter/mod.ts";
import { onExec as ptraceOnExec } from "./ptrace.ts";
import type { Task } from "./task.ts";
import { MemoryManager } from "./mm/mm.ts";
import { ExecFatalError, type ExecOpen, loadExecutable, type LoadTarget } from "./loader/load.ts";
import { freezeTaskCpu, unchargedHostCpu } from "./cpu_time.ts";
import type { ExecString } from "./loader/stack.ts";
import { SS_DISABLE } from "./task_signals.ts";

export interface ExecRequest {
  path: string;
  /** Bytes as read from application memory (kernel/loader/exec_strings.ts), or strings. */
  argv: readonly ExecString[];
  envp: readonly ExecString[];
  /** execveat's way to the file (kernel/loader/load.ts). */
  open?: ExecOpen;
}

/** Runs execve for t. Throws a LinuxError before the point of no return. */
export function execTask(t: Task, req: ExecRequest): void {
  const k = t.kernel;
  const ctx = k.platform.newAddressSpace();
  const mm = new MemoryManager(ctx.addressSpace);
  const target: LoadTarget = { mm, ctx };
  let fatal = false;
  try {
    loadExecutable(t, req, target);
  } catch (e) {
    if (!(e instanceof ExecFatalError)) {
      mm.releaseAll();
      ctx.addressSpace.release();
      throw e;
    }
    fatal = true;
  }

  // Point of no return.
  const oldTid = t.tid;
  k.killOtherThreads(t);
  k.resources.activity?.processExec(t.tg, req.path, req.argv);
  const old = t.tg.mm;
  const oldCtx = t.ctx;
  const lastUser = --old.users === 0;
  if (!lastUser) {
    // A vfork parent still uses the old address space: read our host thread's time and the
    // old stub's peak RSS (Linux folds the old mm's high-water mark in at exec) while they exist.
    freezeTaskCpu(t);
    t.tg.maxRssKb = Math.max(t.tg.maxRssKb, oldCtx.addressSpace.peakRssKb());
  }
  k.replaceContext(t, ctx);
  t.tg.mm = mm;
  if (lastUser) {
    old.releaseAll();
    // The stub dies with us: its lifetime usage, less what exited threads took, is ours.
    const u = oldCtx.addressSpace.releaseAndReap();
    const rest = unchargedHostCpu(old, u);
    t.cpuBase = { userNs: t.cpuBase.userNs + rest.userNs, sysNs: t.cpuBase.sysNs + rest.sysNs };
    t.tg.maxRssKb = Math.max(t.tg.maxRssKb, u.maxRssKb);
  } else {
    // End only our host thread in the old address space.
    oldCtx.release();
  }
  t.cpuFrozen = false;
  if (t.fdTable.users > 1) {
    t.fdTable.users--;
    t.fdTable = t.fdTable.fork();
  }
  t.fdTable.closeOnExec();
  if (t.tg.handlers !== undefined) {
    t.tg.handlers = t.tg.handlers.clone();
    t.tg.handlers.resetForExec();
  }
  t.tg.execed = true;
  t.clearChildTid = 0;
  t.robustList = 0;
  t.altStack = { sp: 0, size: 0, flags: SS_DISABLE }; // the old stack is in the dropped memory
  // Dumpability as begin_new_exec judges it, on the ids from before the exec (Linux's own
  // comment calls that wrong, and keeps it): then the new credentials, whose commit makes a
  // set-id exec not dumpable.
  const c = t.creds;
  t.tg.dumpable = c.euid === c.uid && c.egid === c.gid && !target.unreadable ? 1 : 0;
  // Set-id bits and capabilities(7)'s transformation; saved ids follow the effective ones.
  t.commitCreds(target.creds ?? t.creds.afterExec().creds);
  k.vforkDone(t.tg);
  ptraceOnExec(t, oldTid);
  // An exec by another thread than the leader took the leader's id: its own id is gone.
  if (oldTid !== t.tid) t.tg.threadExitQueue.notify(EVENT_IN);
  if (fatal) k.killGroup(t.tg, 11);
}
