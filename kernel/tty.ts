/**
 * The kernel's side of terminals: controlling terminals of sessions and the job-control rules
 * that need the process table. Analogous to Linux's drivers/tty/tty_jobctrl.c and gVisor's
 * kernel/tty.go. The terminals themselves are vfs/tty/.
 *
 * - Every process (ThreadGroup) has `tty`, its controlling terminal or null; fork copies it,
 *   setsid clears it. A terminal records the session it controls and its foreground group.
 * - {@linkcode TtySupport} implements {@linkcode TtyHost} for the terminals (signals to a process
 *   group, hangup) and owns the sandbox's devpts instance and its console (`run -t`).
 * - {@linkcode checkTtyAccess} is Linux's __tty_check_change: a background process that reads
 *   its terminal (or, with TOSTOP, writes it, or changes its settings) gets SIGTTIN/SIGTTOU.
 * - {@linkcode sessionLeaderExited}: the leader's exit sends SIGHUP to the foreground group
 *   and every process of the session loses its controlling terminal (disassociate_ctty).
 *
 * Process groups, their signals and orphaning are kernel/job_control.ts's (there the sandbox's
 * init counts as an ordinary parent, as a container's init does, so `bash` as init keeps job
 * control).
 *
 * @module
 */

import type { Kernel } from "./kernel.ts";
import type { ThreadGroup } from "./thread_group.ts";
import type { Task } from "./task.ts";
import { EIO, SentryBugError } from "./errno.ts";
import { SI_KERNEL, SIGCONT, SIGHUP } from "../abi/linux/signal.ts";
import { sigBit } from "./signals.ts";
import { DevptsFilesystem, type Terminal, type TtyHost, type WindowSize } from "../vfs/tty/mod.ts";
import { Location } from "../vfs/mount.ts";
import { O_LARGEFILE, O_RDWR } from "../abi/linux/file.ts";
import type { Mount, VirtualFilesystem } from "../vfs/mod.ts";
import type { FileDescription } from "../vfs/file_description.ts";
import { Credentials } from "./creds.ts";
import { isOrphanedProcessGroup, processGroupMembers, signalProcessGroup } from "./job_control.ts";


/** @savable The terminals of one kernel. */
export class TtySupport implements TtyHost {
  /** @nosave Immutable. */
  readonly #kernel: Kernel;
  /** The sandbox's ptys. */
  readonly devpts: DevptsFilesystem;
  /** Where devpts is mounted (normally /dev/pts), for descriptions opened without a path. */
  devptsMount: Mount | null = null;
  /**
   * Set once mount(2) made a devpts instance of its own (a container's /dev/pts): a checkpoint
   * refuses then (its ptys are not saved yet).
   */
  otherInstances = false;
  /** The console of `run -t`: init's terminal, whose master the host side drives. */
  console: Terminal | null = null;

  constructor(kernel: Kernel) {
    this.#kernel = kernel;
    this.devpts = new DevptsFilesystem(this);
  }

  /**
   * Mounts devpts on /dev/pts when the tree has that directory (the host's under `sentry do`).
   * Without it, ptys still work through /dev/ptmx and TIOCGPTPEER.
   */
  mountDevpts(vfs: VirtualFilesystem): void {
    const root = vfs.root();
    const creds = new Credentials(0, 0, 0, 0, 0, 0, 0, 0, []);
    let at;
    try {
      at = vfs.lookupDir({ root, creds }, root, "/dev/pts");
    } catch {
      return;
    }
    this.devptsMount = vfs.mount(at, this.devpts, { readonly: false });
  }

  /** A new devpts instance (mount -t devpts: one per mount since Linux 4.7), its ptys its own. */
  newInstance(): DevptsFilesystem {
    this.otherInstances = true;
    return new DevptsFilesystem(this);
  }

  signalProcessGroup(pgid: number, signo: number): void {
    signalProcessGroup(this.#kernel, pgid, signo, { code: SI_KERNEL });
  }

  signalSessionLeader(sid: number, signo: number): void {
    const tg = this.#kernel.threadGroups.get(sid);
    if (tg && !tg.zombie && tg.sid === sid) this.#kernel.sendSignal(tg, signo, { code: SI_KERNEL });
  }

  detachSession(sid: number, t: Terminal): void {
    for (const tg of this.#kernel.threadGroups.values()) if (tg.sid === sid && tg.tty === t) tg.tty = null;
  }

  /**
   * Gives init a console (`run -t`): a new pty whose slave becomes init's stdin, stdout and
   * stderr and its controlling terminal, with init in the foreground. The master has no
   * description: its one opener is the caller (boot's bridge to the user's terminal), which
   * drives it through the Terminal's master methods and wait queue.
   * Preconditions: init exists and has not run yet. A restored sandbox's console (a checkpoint
   * taken with one) is there already: it is returned, with the caller's window size (a change
   * sends SIGWINCH to its foreground group, which redraws for the new terminal).
   */
  attachConsole(winsize: WindowSize): Terminal {
    if (this.console !== null) {
      this.console.setWindowSize(winsize);
      return this.console;
    }
    const init = this.#kernel.init;
    const task = init?.leader;
    if (!init || !task) throw new SentryBugError("Cannot attach a console: there is no init");
    const t = this.allocateTerminal(winsize);
    this.console = t;
    for (const fd of [0, 1, 2]) task.fdTable.installAt(fd, this.openSlave(t), false);
    // The runtime makes init a session leader to give it the terminal (runc's setsid and
    // TIOCSCTTY before it execs init).
    if (init.sid !== init.tgid) init.sid = init.pgid = init.tgid;
    this.setControllingTerminal(init, t);
    return t;
  }

  /**
   * A new pty whose master belongs to the caller (a bridge outside the sandbox: no description,
   * driven through the Terminal's master methods and wait queue), unlocked and sized.
   */
  allocateTerminal(winsize: WindowSize): Terminal {
    const t = this.devpts.allocate();
    t.locked = false;
    t.masterOpens = 1;
    t.winsize = { ...winsize };
    return t;
  }

  /** A new description of t's slave side, open for reading and writing (as /dev/pts/N). */
  openSlave(t: Terminal): FileDescription {
    const d = this.devpts.slaveDentry(t.index);
    const loc = this.devptsMount !== null && d !== null ? new Location(this.devptsMount, d) : null;
    return this.devpts.openSlave(t, O_RDWR | O_LARGEFILE, loc);
  }

  /** The session of process group pgid (its live members'), or 0 when it has none. */
  sessionOfGroup(pgid: number): number {
    return processGroupMembers(this.#kernel, pgid)[0]?.sid ?? 0;
  }

  /** Linux's is_current_pgrp_orphaned; see kernel/job_control.ts. */
  isOrphanedGroup(pgid: number): boolean {
    return isOrphanedProcessGroup(this.#kernel, pgid);
  }

  /** Makes t the controlling terminal of tg's session (Linux's __proc_set_tty). */
  setControllingTerminal(tg: ThreadGroup, t: Terminal): void {
    t.attach(tg.sid, tg.pgid);
    tg.tty = t;
  }

  /**
   * Linux's disassociate_ctty for a pty: SIGHUP (and, when the leader gives it up by
   * TIOCNOTTY, SIGCONT) to the foreground group; the terminal forgets the session and every
   * process of the session forgets the terminal.
   */
  disassociate(tg: ThreadGroup, onExit: boolean): void {
    const t = tg.tty;
    if (t === null) return;
    const fg = t.foregroundPgrp;
    if (fg !== 0) {
      this.signalProcessGroup(fg, SIGHUP);
      if (!onExit) this.signalProcessGroup(fg, SIGCONT);
    }
    const sid = t.session;
    t.detach();
    if (sid !== 0) this.detachSession(sid, t);
    tg.tty = null;
    t.settingsChanged();
  }
}

/** A process group leader's exit: see {@linkcode TtySupport.disassociate}. Call once per group. */
export function sessionLeaderExited(k: Kernel, tg: ThreadGroup): void {
  if (tg.tgid !== tg.sid || tg.tty === null) return;
  if (tg.tty.session !== tg.sid) {
    tg.tty = null;
    return;
  }
  k.tty.disassociate(tg, true);
}

/** Whether t ignores or blocks signo (Linux's is_ignored in tty_jobctrl.c). */
function ignoredOrBlocked(t: Task, signo: number): boolean {
  return (t.sigmask & sigBit(signo)) !== 0n || t.tg.handlers.get(signo).handler === 1n;
}

/**
 * Linux's __tty_check_change: may t's process use terminal term as a foreground process?
 * Returns "ok"; or "stop" after sending signo to the caller's process group (the syscall waits
 * and runs again, Linux's ERESTARTSYS); or throws EIO (SIGTTIN ignored or blocked, or an
 * orphaned group). For SIGTTOU, ignoring or blocking it lets the call go on.
 */
export function checkTtyAccess(t: Task, term: Terminal, signo: number): "ok" | "stop" {
  const tg = t.tg;
  if (tg.tty !== term) return "ok";
  const fg = term.foregroundPgrp;
  if (fg === 0 || tg.pgid === fg) return "ok";
  if (ignoredOrBlocked(t, signo)) {
    if (signo === 21 /* SIGTTIN */) throw EIO;
    return "ok";
  }
  if (t.kernel.tty.isOrphanedGroup(tg.pgid)) throw EIO;
  t.kernel.tty.signalProcessGroup(tg.pgid, signo);
  return "stop";
}
