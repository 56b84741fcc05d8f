/**
 * Time namespaces (Linux's kernel/time/namespace.c): per-namespace offsets of CLOCK_MONOTONIC
 * (with its RAW and COARSE forms) and CLOCK_BOOTTIME (with BOOTTIME_ALARM), added to what a task
 * in the namespace reads and taken off the absolute times it sets (clock_nanosleep, timerfd and
 * POSIX timers with TIMER_ABSTIME, futex timeouts), and to its uptime (sysinfo, /proc/uptime).
 *
 * A task holds two (Linux's nsproxy): the one it is in, `timeNs`, and the one its children
 * start in, `timeNsForChildren`. unshare(CLONE_NEWTIME) and clone3 make a new namespace for
 * children, a copy of the creator's offsets; the creator itself never moves, its children do (not
 * a CLONE_VM child, which shares the memory and so the vDSO page), and so does the creator at its
 * next execve (exec_task_namespaces) or a setns into it. Offsets are written through
 * /proc/PID/timens_offsets, only until a task first enters the namespace (`frozen`).
 *
 * The vDSO reads the offsets of the task's namespace from its second [vvar] page
 * (kernel/vdso/vdso.ts), so a task that enters one gets that page mapped again.
 *
 * @module
 */

import { EACCES, EINVAL, EPERM, ERANGE } from "./errno.ts";
import { INIT_USER_NS, type UserNamespace } from "./user_namespace.ts";
import type { Credentials } from "./creds.ts";
import { CAP_SYS_TIME } from "../abi/linux/capability.ts";

/** The nsfs inode of the sandbox's first time namespace (PROC_TIME_INIT_INO). */
export const TIME_NS_INIT_INO = 4026531834;

const CLOCK_MONOTONIC = 1, CLOCK_MONOTONIC_RAW = 4, CLOCK_MONOTONIC_COARSE = 6, CLOCK_BOOTTIME = 7,
  CLOCK_BOOTTIME_ALARM = 9;
const NSEC_PER_SEC = 1_000_000_000n;
/** KTIME_SEC_MAX: the largest second count a ktime_t holds. */
const KTIME_SEC_MAX = 9_223_372_036n;

/** @savable One time namespace. */
export class TimeNamespace {
  /** CLOCK_MONOTONIC's offset, ns (a timespec64 in Linux: seconds and nanoseconds, any sign of seconds). */
  monotonicNs = 0n;
  /** CLOCK_BOOTTIME's offset, ns. */
  boottimeNs = 0n;
  /** Set when a task first enters it (timens_commit): its offsets can no longer be written (EACCES). */
  frozen = false;

  constructor(
    /** The user namespace that owns it: setns and the offsets' writes need capabilities there. */
    readonly owner: UserNamespace = INIT_USER_NS,
    /** Its nsfs inode number (/proc/PID/ns/time). */
    readonly ino: number = TIME_NS_INIT_INO,
  ) {}

  /** A new namespace with the same offsets (clone_time_ns), owned by `owner`. */
  copy(owner: UserNamespace, ino: number): TimeNamespace {
    const n = new TimeNamespace(owner, ino);
    n.monotonicNs = this.monotonicNs;
    n.boottimeNs = this.boottimeNs;
    return n;
  }

  /** The offset this namespace adds to `clock` (0 for the clocks it leaves alone). */
  offsetOf(clock: number): bigint {
    switch (clock) {
      case CLOCK_MONOTONIC:
      case CLOCK_MONOTONIC_RAW:
      case CLOCK_MONOTONIC_COARSE:
        return this.monotonicNs;
      case CLOCK_BOOTTIME:
      case CLOCK_BOOTTIME_ALARM:
        return this.boottimeNs;
      default:
        return 0n;
    }
  }

  /** Whether it changes any clock (a namespace with zero offsets reads as the first one). */
  get shifted(): boolean {
    return this.monotonicNs !== 0n || this.boottimeNs !== 0n;
  }

  /** /proc/PID/timens_offsets (proc_timens_show_offsets: "%-10s %10lld %9ld"). */
  render(): string {
    const line = (name: string, ns: bigint) => {
      // A timespec64: tv_nsec in [0, 1e9), tv_sec floored.
      let sec = ns / NSEC_PER_SEC, nsec = ns % NSEC_PER_SEC;
      if (nsec < 0n) {
        nsec += NSEC_PER_SEC;
        sec -= 1n;
      }
      return `${name.padEnd(10)} ${String(sec).padStart(10)} ${String(nsec).padStart(9)}\n`;
    };
    return line("monotonic", this.monotonicNs) + line("boottime", this.boottimeNs);
  }

  /**
   * A write of /proc/PID/timens_offsets at file position `pos` (timens_offsets_write and
   * proc_timens_set_offset): at most two lines "CLOCK SECONDS NANOSECONDS", the clock by name
   * (monotonic, boottime) or number (1, 7); EINVAL for a malformed one, a position other than 0
   * or a page or more; EPERM without CAP_SYS_TIME over the namespace's owner (the opener's
   * credentials); ERANGE for an offset that would put the clock (`nowNs` of each, in the
   * sandbox's first namespace) below 0 or past KTIME_SEC_MAX / 2 seconds; EACCES once a task
   * entered. Returns the count taken: the bytes up to the end of the second line.
   */
  writeOffsets(data: Uint8Array, pos: number, opener: Credentials, nowNs: (clock: number) => bigint): number {
    if (pos !== 0 || data.length >= 4096) throw EINVAL;
    let count = data.length;
    // memdup_user_nul: the text ends at the first NUL.
    const nul = data.indexOf(0);
    const text = new TextDecoder("latin1").decode(nul < 0 ? data : data.subarray(0, nul));
    const offsets: { clock: number; sec: bigint; nsec: bigint }[] = [];
    let at = 0;
    for (let rest: string | null = text; rest !== null;) {
      const nl: number = rest.indexOf("\n");
      const line: string = nl < 0 ? rest : rest.slice(0, nl);
      let next: string | null = nl < 0 ? null : rest.slice(nl + 1);
      if (next === "") next = null;
      const o = scanOffset(line);
      if (o === null) throw EINVAL;
      offsets.push(o);
      at += nl < 0 ? rest.length : nl + 1;
      if (offsets.length === 2) {
        if (next !== null) count = at;
        break;
      }
      rest = next;
    }
    if (!opener.capableIn(this.owner, CAP_SYS_TIME)) throw EPERM;
    for (const o of offsets) {
      if (o.sec > KTIME_SEC_MAX || o.sec < -KTIME_SEC_MAX) throw ERANGE;
      const t = nowNs(o.clock) + o.sec * NSEC_PER_SEC + o.nsec;
      if (t < 0n || t / NSEC_PER_SEC > KTIME_SEC_MAX / 2n) throw ERANGE;
    }
    if (this.frozen) throw EACCES;
    for (const o of offsets) {
      const ns = o.sec * NSEC_PER_SEC + o.nsec;
      if (o.clock === CLOCK_MONOTONIC) this.monotonicNs = ns;
      else this.boottimeNs = ns;
    }
    return count;
  }
}

/**
 * One line of timens_offsets as sscanf("%9s %lld %lu") reads it: a word of at most nine
 * characters (a longer one goes on into the number), then two integers; the nanoseconds below a
 * second; the clock by name or number. null when Linux's parser refuses the line.
 */
function scanOffset(line: string): { clock: number; sec: bigint; nsec: bigint } | null {
  const ws = /\s/;
  let i = 0;
  const skip = () => {
    while (i < line.length && ws.test(line[i]!)) i++;
  };
  const int = (): bigint | null => {
    skip();
    const m = /^[+-]?\d+/.exec(line.slice(i));
    if (m === null) return null;
    i += m[0].length;
    return BigInt(m[0]);
  };
  skip();
  const w0 = i;
  while (i < line.length && i - w0 < 9 && !ws.test(line[i]!)) i++;
  const word = line.slice(w0, i);
  if (word === "") return null;
  const sec = int(), rawNsec = int();
  if (sec === null || rawNsec === null) return null;
  // %lu of a negative number wraps; strtoll saturates.
  const nsec = BigInt.asUintN(64, rawNsec);
  if (nsec >= NSEC_PER_SEC) return null;
  let clock: number;
  if (word === "monotonic" || word === "1") clock = CLOCK_MONOTONIC;
  else if (word === "boottime" || word === "7") clock = CLOCK_BOOTTIME;
  else return null;
  const max = 0x7fff_ffff_ffff_ffffn, min = -0x8000_0000_0000_0000n;
  return { clock, sec: sec > max ? max : sec < min ? min : sec, nsec };
}

/** The sandbox's first time namespace: no offsets, never written (its offsets are frozen). */
export const INIT_TIME_NS = new TimeNamespace();
INIT_TIME_NS.frozen = true;
