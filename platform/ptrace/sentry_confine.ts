/**
 * The sentry confined after start-up (issue #14, docs/confinement.md "The sentry"): once the
 * sandbox is assembled (root, binds, overlay upper directory, memory file, the first stub, host
 * sockets, the control socket are open), the sentry gives up what it no longer needs, on every
 * thread of the Deno process:
 *
 * 1. Namespaces: new IPC and UTS namespaces, and a new network namespace when the sandbox has
 *    no host network (`--network none`: every host socket it uses, the control socket's and
 *    `--publish`'s listeners, is open already); and a mount namespace of its own, a slave of
 *    the host's (host mounts still appear; nothing the sentry mounts reaches the host).
 * 2. Capabilities: only those it uses to serve the sandbox's files as the host's root does
 *    (SENTRY_CAPS), dropped from the effective, permitted, inheritable and bounding sets,
 *    ambient cleared.
 * 3. The seccomp filter (sentry_seccomp.ts), on every thread at once (TSYNC), with no_new_privs.
 *
 * Namespaces and capabilities belong to each thread, and Deno's threads (tokio's, V8's) exist
 * before any JavaScript runs, so 1 and 2 are system calls every thread makes itself
 * (`onEveryThread`, a signal to each, as libcap's psx does). Threads started afterwards inherit
 * from the thread that starts them. A mount namespace cannot be joined by a thread that shares
 * its filesystem context with others (Linux refuses setns(CLONE_NEWNS) then), so each thread
 * makes its own (unshare(CLONE_NEWNS)): copies of the same tree, all of them other than the
 * host's. The IPC, UTS and network namespaces are made once, by the JavaScript thread, and the
 * others join them (setns).
 *
 * A host that refuses a step (a sentry not run as root has no capability to drop and may make
 * no namespace) leaves that step out: the result says what was given and why not.
 *
 * @module
 */

import * as ffi from "./_ffi.ts";
import { installSentryFilter, STUB_SITES } from "./sentry_seccomp.ts";
import { STUB_BASE, STUB_SIZE } from "./stub_elf.ts";

const SYS_mount = 165, SYS_prctl = 157, SYS_capset = 126, SYS_unshare = 272, SYS_setns = 308;
const CLONE_NEWNS = 0x20000, CLONE_NEWUTS = 0x4000000, CLONE_NEWIPC = 0x8000000, CLONE_NEWNET = 0x40000000;
const MS_REC = 0x4000, MS_SLAVE = 0x80000;
const PR_CAPBSET_DROP = 24, PR_CAP_AMBIENT = 47, PR_CAP_AMBIENT_CLEAR_ALL = 4;
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
const CAP_SETPCAP = 8, CAP_SYS_PTRACE = 19, CAP_SYS_ADMIN = 21;

/**
 * The capabilities the sentry keeps, by number: what a root sentry needs to serve the
 * sandbox's files as the host's root would (its own permission checks are in TypeScript; the
 * host's must not refuse what they allow): CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER,
 * FSETID (ownership and modes in the overlay's upper directory and writable binds), MKNOD
 * (device nodes a sandbox root makes there). Not SYS_PTRACE: the stubs are the sentry's
 * descendants, traced from birth, in a user namespace it owns, and have no capability.
 */
export const SENTRY_CAPS: ReadonlyMap<number, string> = new Map([
  [0, "CHOWN"], [1, "DAC_OVERRIDE"], [2, "DAC_READ_SEARCH"], [3, "FOWNER"], [4, "FSETID"], [27, "MKNOD"],
]);

/** What confineSentry gave, for the debug log and the tests. */
export interface SentryConfinement {
  /** The new namespaces every thread is in ("mnt" is one per thread). */
  namespaces: string[];
  /** The capabilities kept (names). */
  capabilities: string[];
  /** Threads that ran the namespace and capability steps. */
  threads: number;
  /** Whether the seccomp filter is on (every thread). */
  filter: boolean;
  /** One line per protection this host did not give, and why. */
  refused: string[];
}

/** A capability set of /proc/thread-self/status's text. */
function capSet(status: string, name: string): bigint {
  const m = new RegExp(`^${name}:\\s+([0-9a-f]+)$`, "m").exec(status);
  return m ? BigInt("0x" + m[1]) : 0n;
}

function lastCap(): number {
  try {
    const n = Number(Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim());
    if (Number.isInteger(n) && n >= 0 && n < 64) return n;
  } catch { /* below */ }
  return 40;
}

/**
 * Yama's ptrace_scope, 0 without Yama. Opened through the host's open(2), which reports a
 * missing file as -ENOENT: Deno throws an error for it, and a start's first error from a Deno
 * call costs ~0.4 ms of cold code (most hosts here have no Yama).
 */
function yamaScope(): number {
  const fd = ffi.hostOpen("/proc/sys/kernel/yama/ptrace_scope", 0o2000000); // O_RDONLY | O_CLOEXEC
  if (fd < 0) return 0;
  try {
    const buf = new Uint8Array(16);
    const n = ffi.hostRead(fd, buf);
    return n > 0 ? Number(new TextDecoder().decode(buf.subarray(0, n)).trim()) : 0;
  } finally {
    ffi.hostClose(fd);
  }
}

/**
 * Confines the sentry as the module doc says. `hostNetwork`: the sandbox's network reaches the
 * host's (`--network sandbox`), so no network namespace. `filter`: false leaves the seccomp
 * filter out (SENTRY_UNSAFE_NO_SECCOMP=1, for measuring it).
 */
export function confineSentry(opts: { hostNetwork: boolean; filter: boolean }): SentryConfinement {
  const out: SentryConfinement = { namespaces: [], capabilities: [], threads: 0, filter: false, refused: [] };
  // The stub's pages, reserved in the sentry's own address space: the filter lets a few calls
  // through only from the stub's injection site, so no code of the sentry's may sit there.
  const reserved = ffi.reserveRange(STUB_BASE, STUB_SIZE);
  if (!reserved) out.refused.push("the stub's address range is in use in the sentry: a later zygote confines itself less");

  // 1. Namespaces: made here by the JavaScript thread; every thread's own steps run below with
  // the capabilities' in one round (see 2).
  const status = Deno.readTextFileSync("/proc/thread-self/status");
  const eff = capSet(status, "CapEff"), prm = capSet(status, "CapPrm");
  const nsCalls: { nr: number; args: number[] }[] = [];
  const fds: number[] = [];
  const slash = new Uint8Array([0x2f, 0]);
  if ((eff >> BigInt(CAP_SYS_ADMIN)) & 1n) {
    const wanted: [number, string][] = [[CLONE_NEWIPC, "ipc"], [CLONE_NEWUTS, "uts"]];
    if (!opts.hostNetwork) wanted.push([CLONE_NEWNET, "net"]);
    for (const [flag, name] of wanted) {
      const r = ffi.rawSyscall(SYS_unshare, BigInt(flag));
      if (r < 0) {
        out.refused.push(`${name} namespace: unshare failed with errno ${-r}`);
        continue;
      }
      const fd = ffi.hostOpen(`/proc/thread-self/ns/${name}`, 0o2000000); // O_RDONLY | O_CLOEXEC
      if (fd < 0) {
        out.refused.push(`${name} namespace: cannot open it (errno ${-fd})`);
        continue;
      }
      fds.push(fd);
      out.namespaces.push(name);
    }
    nsCalls.push(
      ...fds.map((fd) => ({ nr: SYS_setns, args: [fd, 0] })),
      { nr: SYS_unshare, args: [CLONE_NEWNS] },
      { nr: SYS_mount, args: [0, ffi.bufferAddress(slash), 0, MS_REC | MS_SLAVE, 0] },
    );
  } else {
    out.refused.push("namespaces: the sentry has no CAP_SYS_ADMIN (not run as root)");
  }

  // 2. Capabilities.
  const keep = new Map(SENTRY_CAPS);
  if (yamaScope() >= 2) keep.set(CAP_SYS_PTRACE, "SYS_PTRACE"); // Yama's admin-only attach
  let mask = 0n;
  for (const cap of keep.keys()) if ((prm >> BigInt(cap)) & 1n) mask |= 1n << BigInt(cap);
  out.capabilities = [...keep].filter(([cap]) => (mask >> BigInt(cap)) & 1n).map(([, n]) => n);
  // struct __user_cap_header_struct {version, pid 0 (the calling thread)}, then two
  // __user_cap_data_struct {effective, permitted, inheritable} (low 32 bits, then high).
  const capArgs = new Uint8Array(8 + 24);
  const cv = new DataView(capArgs.buffer);
  cv.setUint32(0, LINUX_CAPABILITY_VERSION_3, true);
  cv.setUint32(8, Number(mask & 0xffffffffn), true);
  cv.setUint32(12, Number(mask & 0xffffffffn), true);
  cv.setUint32(20, Number(mask >> 32n), true);
  cv.setUint32(24, Number(mask >> 32n), true);
  const capCalls = [{ nr: SYS_prctl, args: [PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0] }];
  if ((eff >> BigInt(CAP_SETPCAP)) & 1n) {
    const last = lastCap(); // a read of /proc/sys/kernel/cap_last_cap: once, not once a capability
    for (let cap = 0; cap <= last; cap++) {
      if (!keep.has(cap)) capCalls.push({ nr: SYS_prctl, args: [PR_CAPBSET_DROP, cap, 0, 0, 0] });
    }
  } else {
    out.refused.push("the bounding set: no CAP_SETPCAP (not run as root)");
  }
  capCalls.push({ nr: SYS_capset, args: [ffi.bufferAddress(capArgs), ffi.bufferAddress(capArgs) + 8] });

  // One round over every thread, each making its namespace calls, then its capability calls
  // (both are per thread: a thread that dropped its capabilities stops no other thread's
  // setns): every round waits until each thread has been scheduled, which on a loaded host was
  // several milliseconds of a start. The round reports one error for all its calls, so a
  // failure is reported against both steps.
  const r = ffi.onEveryThread([...nsCalls, ...capCalls]);
  for (const fd of fds) ffi.hostClose(fd);
  out.threads = r.ran;
  const failed = r.error !== 0 || r.missing !== 0;
  const how = `${r.missing} threads missed, errno ${-r.error}`;
  if (nsCalls.length > 0) {
    if (!failed) out.namespaces.unshift("mnt");
    else {
      out.refused.push(`namespaces on every thread: ${how}`);
      out.namespaces = [];
    }
  }
  if (failed) out.refused.push(`capabilities on every thread: ${how}`);

  // 3. The filter (TSYNC: every thread, no_new_privs with it).
  if (opts.filter) {
    const why = installSentryFilter(reserved ? STUB_SITES : []);
    out.filter = why === null;
    if (why !== null) out.refused.push(`the seccomp filter: ${why}`);
  }
  return out;
}
