/**
 * Terminals in the syscall layer: what needs the calling process. Opening /dev/tty,
 * /dev/ptmx and /dev/console (and acquiring a controlling terminal on open), job control on
 * read and write (SIGTTIN, SIGTTOU with TOSTOP), VMIN/VTIME timers, and the ioctls that depend
 * on the caller: TIOCSCTTY, TIOCNOTTY, TIOCGPGRP, TIOCSPGRP, TIOCGSID, TIOCGPTPEER, and the
 * SIGTTOU check before settings change. Everything else is the file's own ioctl
 * (vfs/tty/tty_file.ts).
 *
 * @module
 */

import { EAGAIN, EINVAL, EIO, ENOTTY, ENXIO, EPERM, ESRCH } from "../../errno.ts";
import type { Task } from "../../task.ts";
import { checkTtyAccess } from "../../tty.ts";
import { monotonicNs } from "../../time.ts";
import { O_ACCMODE, O_CLOEXEC, O_LARGEFILE, O_NOCTTY, O_NONBLOCK } from "../../../abi/linux/file.ts";
import { SIGTTIN, SIGTTOU } from "../../../abi/linux/signal.ts";
import {
  TIOCGPGRP, TIOCGPTPEER, TIOCGSID, TIOCNOTTY, TIOCSCTTY, TIOCSPGRP, TOSTOP, VMIN, VTIME,
} from "../../../abi/linux/tty.ts";
import { FileDescription, type Stat } from "../../../vfs/mod.ts";
import { PtyMasterFile, PtySlaveFile, SETTING_REQUESTS, type Terminal, TtyDeviceFile, TtyFile } from "../../../vfs/tty/mod.ts";
import { Location } from "../../../vfs/mount.ts";
import { EVENT_IN, EVENT_OUT } from "../../../waiter/mod.ts";
import { type IoSegment, readToUser, retryOrBlock, writeFromUser } from "./_file_io.ts";
import { block, type SyscallResult } from "./support.ts";
import { CAP_SYS_ADMIN } from "../../../abi/linux/capability.ts";

/** The wait of a process stopped by SIGTTIN/SIGTTOU: it runs again when woken. */
function waitForeground(term: Terminal): SyscallResult {
  return block([term.slaveQueue], EVENT_IN | EVENT_OUT, null, "sys");
}

/** The location of /dev/pts/N when devpts is mounted, for descriptions opened without a path. */
function slaveLocation(t: Task, term: Terminal): Location | null {
  const m = t.kernel.tty.devptsMount;
  const d = t.kernel.tty.devpts.slaveDentry(term.index);
  return m !== null && d !== null ? new Location(m, d) : null;
}

/**
 * After the VFS opened a file for open(2)/openat(2): resolves the terminal placeholders and
 * makes a terminal the caller's controlling terminal when Linux's tty_open would (a session
 * leader without one, no O_NOCTTY, a slave nobody controls). Takes the reference to file.
 */
export function resolveTtyOpen(t: Task, file: FileDescription, openFlags: number): FileDescription {
  if (file instanceof TtyDeviceFile) {
    const loc = file.nodeLocation;
    const flags = file.flags;
    file.decRef();
    switch (file.kind) {
      case "ptmx":
        return t.kernel.tty.devpts.openMaster(flags, loc);
      case "tty": {
        const ctty = t.tg.tty;
        if (ctty === null || ctty.hungUp) throw ENXIO;
        return t.kernel.tty.devpts.openSlave(ctty, flags, loc);
      }
      case "console": {
        const c = t.kernel.tty.console;
        if (c === null) throw ENXIO;
        return t.kernel.tty.devpts.openSlave(c, flags, loc);
      }
    }
  }
  if (file instanceof PtySlaveFile && (openFlags & O_NOCTTY) === 0) {
    const tg = t.tg;
    if (tg.tgid === tg.sid && tg.tty === null && file.terminal.session === 0) {
      t.kernel.tty.setControllingTerminal(tg, file.terminal);
    }
  }
  return file;
}

/** A view of a slave that reads whatever is there: VTIME ran out. */
class AvailableInput extends FileDescription {
  constructor(readonly slave: PtySlaveFile) {
    super(slave.flags);
  }
  path(): string {
    return this.slave.path();
  }
  stat(): Stat {
    return this.slave.stat();
  }
  override get isStream(): boolean {
    return true;
  }
  override read(dst: Uint8Array): number {
    return this.slave.readAvailable(dst);
  }
}

/** Progress of a non-canonical read with VTIME: when its timer runs out. */
interface VtimeState {
  deadlineNs: number | null;
  /** Bytes that were readable when the inter-byte timer was (re)started. */
  seen: number;
}

/**
 * read(2) of a terminal: job control first (a background reader gets SIGTTIN), then the
 * line discipline's rules; VTIME's timers live here, in t.syscallState.
 */
export function ttyRead(t: Task, file: TtyFile, segs: IoSegment[], offset: number | null): SyscallResult {
  if (!(file instanceof PtySlaveFile)) return retryOrBlock(file, EVENT_IN, () => readToUser(t, file, segs, offset));
  const term = file.terminal;
  if (checkTtyAccess(t, term, SIGTTIN) === "stop") return waitForeground(term);
  const cc = term.ld.termios.cc;
  if (term.hungUp || term.ld.canonical || cc[VTIME] === 0) {
    return retryOrBlock(file, EVENT_IN, () => readToUser(t, file, segs, offset));
  }
  try {
    return readToUser(t, file, segs, offset);
  } catch (e) {
    if (e !== EAGAIN || (file.flags & O_NONBLOCK)) throw e;
  }
  const now = monotonicNs();
  const timeNs = cc[VTIME]! * 100_000_000;
  const avail = term.ld.readableBytes;
  let st = t.syscallState as VtimeState | null;
  if (cc[VMIN] === 0) {
    // A timer for the whole read, from its start.
    st ??= { deadlineNs: now + timeNs, seen: 0 };
  } else if (avail === 0) {
    // The inter-byte timer starts with the first byte.
    st = { deadlineNs: null, seen: 0 };
  } else if (st === null || st.seen !== avail || st.deadlineNs === null) {
    st = { deadlineNs: now + timeNs, seen: avail };
  }
  if (st.deadlineNs !== null && now >= st.deadlineNs) {
    return readToUser(t, new AvailableInput(file), segs, offset);
  }
  t.syscallState = st;
  return block([file.waitQueue], EVENT_IN, st.deadlineNs, "sys");
}

/** write(2) of a terminal: with TOSTOP, a background writer gets SIGTTOU. */
export function ttyWrite(t: Task, file: TtyFile, segs: IoSegment[], offset: number | null): SyscallResult {
  const term = file.terminal;
  if (!file.isMaster && (term.ld.termios.lflag & TOSTOP) && !term.hungUp) {
    if (checkTtyAccess(t, term, SIGTTOU) === "stop") return waitForeground(term);
  }
  return retryOrBlock(file, EVENT_OUT, () => writeFromUser(t, file, segs, offset));
}

function readInt(t: Task, addr: number): number {
  return t.copyInU32(addr) | 0;
}

/** ioctl(2) of a terminal: the requests that depend on the caller, then the file's own. */
export function ttyIoctl(t: Task, file: TtyFile, cmd: number, arg: number): SyscallResult {
  const term = file.terminal;
  const tg = t.tg;
  const k = t.kernel;
  const isCtty = tg.tty === term;
  if (!file.isMaster && term.hungUp) throw cmd === TIOCSPGRP ? ENOTTY : EIO;
  switch (cmd) {
    case TIOCSCTTY: {
      if (tg.tgid === tg.sid && term.session === tg.sid) return 0;
      if (tg.tgid !== tg.sid || tg.tty !== null) throw EPERM;
      if (term.session !== 0) {
        // Stealing another session's terminal takes arg 1 and CAP_SYS_ADMIN.
        if (arg === 1 && t.creds.hasCap(CAP_SYS_ADMIN)) k.tty.detachSession(term.session, term);
        else throw EPERM;
      }
      if (!file.readable && !t.creds.hasCap(CAP_SYS_ADMIN)) throw EPERM;
      k.tty.setControllingTerminal(tg, term);
      return 0;
    }
    case TIOCNOTTY:
      if (file.isMaster || !isCtty) throw ENOTTY;
      if (tg.tgid === tg.sid) k.tty.disassociate(tg, false);
      else tg.tty = null;
      return 0;
    case TIOCGPGRP:
      if (!file.isMaster && !isCtty) throw ENOTTY;
      t.copyOutU32(arg, t.vnr(term.foregroundPgrp));
      return 0;
    case TIOCGSID:
      if (!file.isMaster && !isCtty) throw ENOTTY;
      if (term.session === 0) throw ENOTTY;
      t.copyOutU32(arg, t.vnr(term.session));
      return 0;
    case TIOCSPGRP: {
      let r: "ok" | "stop";
      try {
        r = checkTtyAccess(t, term, SIGTTOU);
      } catch (e) {
        if (e === EIO) throw ENOTTY;
        throw e;
      }
      if (r === "stop") return waitForeground(term);
      if (!isCtty || term.session !== tg.sid) throw ENOTTY;
      const given = readInt(t, arg);
      if (given < 0) throw EINVAL;
      const pgrp = t.pidNs.global(given) ?? 0; // 0: no group (ESRCH below)
      const sid = k.tty.sessionOfGroup(pgrp);
      if (sid === 0) throw ESRCH;
      if (sid !== tg.sid) throw EPERM;
      term.foregroundPgrp = pgrp;
      // Background processes waiting to be foreground look again.
      term.settingsChanged();
      return 0;
    }
    case TIOCGPTPEER: {
      if (!(file instanceof PtyMasterFile)) throw ENOTTY;
      if (arg & ~(O_ACCMODE | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) throw EINVAL;
      if (term.locked) throw EIO;
      // As an open of the slave: it may become the caller's controlling terminal (tty_open).
      const slave = resolveTtyOpen(t, k.tty.devpts.openSlave(term, (arg & ~(O_NOCTTY | O_CLOEXEC)) | O_LARGEFILE, slaveLocation(t, term)), arg);
      try {
        return t.fdTable.install(slave, (arg & O_CLOEXEC) !== 0);
      } catch (e) {
        slave.decRef();
        throw e;
      }
    }
    default:
      if (SETTING_REQUESTS.has(cmd) && checkTtyAccess(t, term, SIGTTOU) === "stop") return waitForeground(term);
      return file.ioctl(cmd, arg, t);
  }
}
