/**
 * execve(2): replaces a task's program. Analogous to Linux's fs/exec.c and gVisor's
 * task_exec.go.
 *
 * The new image is built in a fresh stub first; until it is complete the old process is
 * untouched, so any error is returned to the old program. After that point (Linux's "point of
 * no return"): the other threads die (de_thread), the old address space is dropped,
 * close-on-exec descriptors close, handled signals go back to their default.
 *
 * de_thread may have to wait: a traced thread with PTRACE_O_TRACEEXIT stops for its tracer
 * (PTRACE_EVENT_EXIT) before it dies, and a traced thread other than the leader that has died
 * stays a zombie until its tracer waits for it. The execve then sleeps (killable) on the
 * group's thread-exit queue as plain data: `t.syscallState` says the other threads were
 * killed, the image built the first time is released, and the woken syscall builds it again
 * (argv and envp are read again from the old memory, which nothing else uses any more); an
 * error then is past the point of no return and kills the process with SIGSEGV, as Linux's
 * bprm_execve. A checkpoint of such a sleep (only a traced process has one, and is refused)
 * would run the execve again from its start.
 *
 * @module
 */

import { armOpenPerm, ExecPermHold, fanPermActive } from "./fanotify_hooks.ts";
import type { PermRequest } from "./fanotify.ts";
import type { Dentry } from "../vfs/dentry.ts";
import { EVENT_IN } from "../waiter/mod.ts";
import { onExec as ptraceOnExec } from "./ptrace.ts";
import type { Task } from "./task.ts";
import { MemoryManager } from "./mm/mm.ts";
import { ExecFatalError, type ExecOpen, loadExecutable, type LoadTarget } from "./loader/load.ts";
import { freezeTaskCpu, unchargedHostCpu } from "./cpu_time.ts";
import type { ExecString } from "./loader/stack.ts";
import { SS_DISABLE } from "./task_signals.ts";
import { EPERM, LinuxError } from "./errno.ts";
import { block, NORETURN, type SyscallResult } from "./syscalls/linux/support.ts";

export interface ExecRequest {
  path: string;
  /** Bytes as read from application memory (kernel/loader/exec_strings.ts), or strings. */
  argv: readonly ExecString[];
  envp: readonly ExecString[];
  /** execveat's way to the file (kernel/loader/load.ts). */
  open?: ExecOpen;
}

/**
 * t.syscallState of an execve held by fanotify permission events: the request, the executables
 * allowed by earlier runs, and the one asked now.
 */
interface ExecPermState {
  fanPerm: PermRequest;
  allowed: Set<Dentry>;
  dentry: Dentry;
}

/** t.syscallState of an execve asleep in de_thread: the other threads were told to die. */
interface DeThreadState {
  execDeThread: true;
}

const SIGSEGV = 11;

/** Whether t's execve is past its point of no return, waiting for the other threads to go. */
export function inDeThread(t: Task): boolean {
  return (t.syscallState as Partial<DeThreadState> | null)?.execDeThread === true;
}

/**
 * An execve past its point of no return failed (reading its arguments or its file again after
 * de_thread's sleep): the process dies of SIGSEGV, as Linux's bprm_execve forces it.
 */
export function execFailedLate(t: Task): SyscallResult {
  t.kernel.killGroup(t.tg, SIGSEGV);
  return NORETURN;
}

interface Image {
  target: LoadTarget;
  /** The image could not be completed (ExecFatalError): the process dies once committed. */
  fatal: boolean;
}

/** Builds the new image in a fresh stub. Throws a LinuxError before the point of no return. */
function buildImage(t: Task, req: ExecRequest): Image {
  const ctx = t.kernel.platform.newAddressSpace();
  const mm = new MemoryManager(ctx.addressSpace);
  const target: LoadTarget = { mm, ctx };
  try {
    loadExecutable(t, req, target);
  } catch (e) {
    if (!(e instanceof ExecFatalError)) {
      dropImage(target);
      throw e;
    }
    return { target, fatal: true };
  }
  return { target, fatal: false };
}

function dropImage(target: LoadTarget): void {
  target.mm.releaseAll();
  target.ctx.addressSpace.release();
}

/** Runs execve for t. Throws a LinuxError before the point of no return. */
export function execTask(t: Task, req: ExecRequest): SyscallResult {
  const k = t.kernel;
  if (inDeThread(t)) {
    // Woken in de_thread's sleep: still waiting, or past it with an image to build again.
    if (!k.otherThreadsGone(t)) return block([t.tg.threadExitQueue], EVENT_IN, null, "killable");
    let image: Image;
    try {
      image = buildImage(t, req);
    } catch (e) {
      if (e instanceof LinuxError) return execFailedLate(t);
      throw e;
    }
    commitExec(t, req, image);
    return NORETURN;
  }
  // The loader names the task after the new program; a de_thread sleep must not show that yet.
  const { name, personality } = t;
  // fanotify permission events on the executables (kernel/fanotify.ts): a held open makes the
  // call wait (killable) and run again, the files allowed so far not asked again.
  const st = t.syscallState as ExecPermState | null;
  let allowed: Set<Dentry> | null = null;
  if (st !== null && st.fanPerm !== undefined) {
    if (!st.fanPerm.done) return block([st.fanPerm.queue], EVENT_IN, null, "killable");
    t.syscallState = null;
    if (st.fanPerm.denied) throw EPERM;
    allowed = st.allowed;
    allowed.add(st.dentry);
  }
  const perm = fanPermActive();
  if (perm) armOpenPerm(t, allowed);
  let image: Image;
  try {
    image = buildImage(t, req);
  } catch (e) {
    if (!(e instanceof ExecPermHold)) throw e;
    t.name = name;
    t.personality = personality;
    t.syscallState = { fanPerm: e.req, allowed: allowed ?? new Set(), dentry: e.dentry } satisfies ExecPermState;
    return block([e.req.queue], EVENT_IN, null, "killable");
  } finally {
    if (perm) armOpenPerm(null);
  }

  // Point of no return.
  k.killOtherThreads(t);
  if (!k.otherThreadsGone(t)) {
    dropImage(image.target);
    t.name = name;
    t.personality = personality;
    t.syscallState = { execDeThread: true } satisfies DeThreadState;
    return block([t.tg.threadExitQueue], EVENT_IN, null, "killable");
  }
  commitExec(t, req, image);
  return NORETURN;
}

/** Everything after de_thread: t, the group's only thread, takes the new image. */
function commitExec(t: Task, req: ExecRequest, image: Image): void {
  const k = t.kernel;
  const { target } = image;
  const { mm, ctx } = target;
  const oldTid = t.tid;
  const oldTidForTracer = t.ptrace?.tracer.vnr(oldTid) ?? 0;
  k.takeLeaderId(t);
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
  // TIF_NOTSC survives exec; the new image's stub is a fresh one, without it.
  if (t.tscSigsegv) t.ctx.addressSpace.setTscFaulting?.(t.ctx, true);
  // exec_task_namespaces: the task enters the time namespace its children would (the new
  // image's vDSO was mapped for it), whose offsets are then fixed.
  if (t.timeNs !== t.timeNsForChildren) {
    t.timeNs = t.timeNsForChildren;
    t.timeNs.frozen = true;
  }
  if (t.tg.handlers !== undefined) {
    t.tg.handlers = t.tg.handlers.clone();
    t.tg.handlers.resetForExec();
  }
  t.tg.execed = true;
  t.clearChildTid = 0;
  t.robustList = 0;
  t.rseq = null; // rseq_execve: the area was in the old memory
  t.rseqResume = false;
  t.altStack = { sp: 0, size: 0, flags: SS_DISABLE }; // the old stack is in the dropped memory
  t.debugRegs = null; // flush_ptrace_hw_breakpoint (the new stub's host thread has none armed)
  // prepare_exec_creds: no thread keyring and a new (absent) process keyring; the session
  // keyring stays.
  t.threadKeyring = null;
  t.tg.processKeyring = null;
  // Dumpability as begin_new_exec judges it, on the ids from before the exec (Linux's own
  // comment calls that wrong, and keeps it): then the new credentials, whose commit makes a
  // set-id exec not dumpable.
  const c = t.creds;
  t.tg.dumpable = c.euid === c.uid && c.egid === c.gid && !target.unreadable ? 1 : 0;
  // Set-id bits and capabilities(7)'s transformation; saved ids follow the effective ones.
  t.commitCreds(target.creds ?? t.creds.afterExec().creds);
  k.vforkDone(t.tg);
  ptraceOnExec(t, oldTidForTracer);
  // An exec by another thread than the leader took the leader's id: its own id is gone.
  if (oldTid !== t.tid) t.tg.threadExitQueue.notify(EVENT_IN);
  if (image.fatal) k.killGroup(t.tg, SIGSEGV);
}
