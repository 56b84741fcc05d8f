/**
 * Administration calls, as a container's root sees them: the sandbox has its own hostname and
 * domain name (its UTS namespace), which root may change; the clock and the kernel log are the
 * host's, which the sandbox may not touch.
 *
 * - sethostname(2), setdomainname(2): root only (CAP_SYS_ADMIN over the sandbox's namespace);
 *   uname(2) and /proc/sys/kernel/{hostname,domainname} show the new name. The host's name
 *   never changes.
 * - settimeofday(2), clock_settime(2): checked as Linux does, then EPERM, as for a container
 *   without CAP_SYS_TIME (runsc does the same): `date -s` says "Operation not permitted".
 * - syslog(2) (dmesg): the sandbox's kernel log, which is empty; root may read it, others get
 *   EPERM (dmesg_restrict). A blocking read waits for a message that never comes.
 * - vhangup(2): CAP_SYS_TTY_CONFIG (else EPERM) hangs up the caller's controlling terminal, if
 *   it has one (Terminal.vhangup: its descriptions open now are hung up, its session loses it).
 *
 * @module
 */

import { EINVAL, EPERM } from "../../errno.ts";
import { block, supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import { CAP_SYS_ADMIN, CAP_SYS_TTY_CONFIG, CAP_SYSLOG } from "../../../abi/linux/capability.ts";

/** __NEW_UTS_LEN: the longest hostname or domain name. */
const UTS_LEN = 64;

function setUtsName(which: "hostname" | "domainname"): SyscallFn {
  return (t, a) => {
    // CAP_SYS_ADMIN in the user namespace that owns the caller's UTS namespace.
    if (!t.creds.capableIn(t.uts.owner, CAP_SYS_ADMIN)) throw EPERM;
    const len = a.int(1);
    if (len < 0 || len > UTS_LEN) throw EINVAL;
    const bytes = t.copyIn(a.pointer(0), len);
    // The name is the bytes up to the first NUL, as utsname's C strings read back.
    const nul = bytes.indexOf(0);
    const name = new TextDecoder().decode(nul < 0 ? bytes : bytes.subarray(0, nul));
    // In the caller's namespace; pollers of its /proc/sys/kernel file see it (uts_proc_notify).
    t.uts.set(which, name);
    return 0;
  };
}

const CLOCK_REALTIME = 0;
const NSEC_PER_SEC = 1_000_000_000, USEC_PER_SEC = 1_000_000;

/** Implements settimeofday(2): a bad pointer is EFAULT and a bad value EINVAL before EPERM. */
const sysSettimeofday: SyscallFn = (t, a) => {
  const tv = a.pointer(0), tz = a.pointer(1);
  let sec = 0n;
  if (tv !== 0) {
    const b = new DataView(t.copyIn(tv, 16).buffer);
    sec = b.getBigInt64(0, true);
    const usec = b.getBigInt64(8, true);
    // Linux lets usec == 10^6 through here; as nanoseconds it then fails the validity check.
    if (usec < 0n || usec > BigInt(USEC_PER_SEC)) throw EINVAL;
    if (usec === BigInt(USEC_PER_SEC)) sec = -1n;
  }
  if (tz !== 0) t.copyIn(tz, 8);
  if (sec < 0n) throw EINVAL;
  throw EPERM;
};

/** Implements clock_settime(2): only CLOCK_REALTIME can be set at all (EINVAL for the others). */
const sysClockSettime: SyscallFn = (t, a) => {
  if (a.int(0) !== CLOCK_REALTIME) throw EINVAL;
  const b = new DataView(t.copyIn(a.pointer(1), 16).buffer);
  const sec = b.getBigInt64(0, true), nsec = b.getBigInt64(8, true);
  if (sec < 0n || nsec < 0n || nsec >= BigInt(NSEC_PER_SEC)) throw EINVAL;
  throw EPERM;
};

const SYSLOG_ACTION_CLOSE = 0, SYSLOG_ACTION_OPEN = 1, SYSLOG_ACTION_READ = 2;
const SYSLOG_ACTION_READ_ALL = 3, SYSLOG_ACTION_READ_CLEAR = 4, SYSLOG_ACTION_CLEAR = 5;
const SYSLOG_ACTION_CONSOLE_OFF = 6, SYSLOG_ACTION_CONSOLE_ON = 7;
const SYSLOG_ACTION_CONSOLE_LEVEL = 8, SYSLOG_ACTION_SIZE_UNREAD = 9, SYSLOG_ACTION_SIZE_BUFFER = 10;
/** log_buf_len with Linux's default CONFIG_LOG_BUF_SHIFT (17). */
const LOG_BUF_LEN = 1 << 17;

/** Implements syslog(2) over an empty log. */
const sysSyslog: SyscallFn = (t, a) => {
  const type = a.int(0), buf = a.pointer(1), len = a.int(2);
  // dmesg_restrict: every action needs CAP_SYSLOG.
  if (!t.creds.hasCap(CAP_SYSLOG)) throw EPERM;
  switch (type) {
    case SYSLOG_ACTION_CLOSE:
    case SYSLOG_ACTION_OPEN:
    case SYSLOG_ACTION_CLEAR:
    case SYSLOG_ACTION_CONSOLE_OFF:
    case SYSLOG_ACTION_CONSOLE_ON:
      return 0;
    case SYSLOG_ACTION_READ:
      if (buf === 0 || len < 0) throw EINVAL;
      if (len === 0) return 0;
      return block([], 0);
    case SYSLOG_ACTION_READ_ALL:
    case SYSLOG_ACTION_READ_CLEAR:
      if (buf === 0 || len < 0) throw EINVAL;
      return 0;
    case SYSLOG_ACTION_CONSOLE_LEVEL:
      if (len < 1 || len > 8) throw EINVAL;
      return 0;
    case SYSLOG_ACTION_SIZE_UNREAD:
      return 0;
    case SYSLOG_ACTION_SIZE_BUFFER:
      return LOG_BUF_LEN;
    default:
      throw EINVAL;
  }
};

/** Implements vhangup(2) (Linux's tty_vhangup_self). */
const sysVhangup: SyscallFn = (t) => {
  if (!t.creds.hasCap(CAP_SYS_TTY_CONFIG)) throw EPERM;
  t.tg.tty?.vhangup();
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  103: supported("syslog", sysSyslog),
  153: supported("vhangup", sysVhangup),
  164: supported("settimeofday", sysSettimeofday),
  170: supported("sethostname", setUtsName("hostname")),
  171: supported("setdomainname", setUtsName("domainname")),
  227: supported("clock_settime", sysClockSettime),
};
