/**
 * What this host allows of what the sentry uses (`sentry check`): each feature probed on its own
 * where it can be without changing the host, then the platform started for real (a zygote and a
 * stub, confined, stopped at a system call by PTRACE_SYSEMU), which is the proof of the rest.
 * A required feature missing means `sentry run` cannot work here; an optional one only weakens
 * the confinement (docs/confinement.md).
 *
 * @module
 */

import * as ffi from "./_ffi.ts";
import { PtracePlatform } from "./ptrace.ts";
import { confineSentry } from "./sentry_confine.ts";

/** One line of the check. */
export interface HostFeature {
  name: string;
  required: boolean;
  ok: boolean;
  /** What was seen: a version, an errno, the namespaces given. */
  detail: string;
}

const SYS_seccomp = 317, SYS_pidfd_open = 434, SYS_pidfd_getfd = 438;
const PR_GET_SECCOMP = 21, PR_GET_NO_NEW_PRIVS = 39;
const SECCOMP_GET_ACTION_AVAIL = 2, SECCOMP_GET_NOTIF_SIZES = 3;
const SECCOMP_RET_KILL_PROCESS = 0x80000000, SECCOMP_RET_USER_NOTIF = 0x7fc00000, SECCOMP_RET_ERRNO = 0x00050000;

const ERRNO_NAMES: Record<number, string> = { 1: "EPERM", 22: "EINVAL", 38: "ENOSYS", 95: "EOPNOTSUPP", 13: "EACCES" };
const errName = (r: number) => ERRNO_NAMES[-r] ?? `errno ${-r}`;

function kernelRelease(): [number, number, string] {
  try {
    const s = Deno.readTextFileSync("/proc/sys/kernel/osrelease").trim();
    const m = /^(\d+)\.(\d+)/.exec(s);
    return m ? [Number(m[1]), Number(m[2]), s] : [0, 0, s];
  } catch {
    return [0, 0, "unknown"];
  }
}

function actionAvailable(action: number): number {
  const a = new Uint8Array(4);
  new DataView(a.buffer).setUint32(0, action, true);
  return ffi.rawSyscall(SYS_seccomp, BigInt(SECCOMP_GET_ACTION_AVAIL), 0n, BigInt(ffi.bufferAddress(a)));
}

function readSysctl(path: string): string | null {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return null;
  }
}

/** Probes the host; never throws. */
export function checkHost(): HostFeature[] {
  const out: HostFeature[] = [];
  const add = (name: string, required: boolean, ok: boolean, detail: string) => out.push({ name, required, ok, detail });
  const [major, minor, release] = kernelRelease();
  const atLeast = (M: number, m: number) => major > M || (major === M && minor >= m);
  add("Linux x86-64, 5.9 or later", true, Deno.build.arch === "x86_64" && atLeast(5, 9), `${Deno.build.arch}, ${release}`);

  const mode = ffi.hostPrctl(PR_GET_SECCOMP);
  add("seccomp", true, mode >= 0, mode >= 0 ? `this process's mode ${mode}` : errName(mode));
  const filter = actionAvailable(SECCOMP_RET_ERRNO), kill = actionAvailable(SECCOMP_RET_KILL_PROCESS);
  add("seccomp filters (SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS)", true, filter === 0 && kill === 0,
    filter === 0 && kill === 0 ? "available" : errName(filter < 0 ? filter : kill));
  const notif = actionAvailable(SECCOMP_RET_USER_NOTIF);
  const sizes = new Uint8Array(6);
  const sz = ffi.rawSyscall(SYS_seccomp, BigInt(SECCOMP_GET_NOTIF_SIZES), 0n, BigInt(ffi.bufferAddress(sizes)));
  add("seccomp user notification (SECCOMP_RET_USER_NOTIF, a listener)", true, notif === 0 && sz === 0,
    notif === 0 && sz === 0 ? "available" : errName(notif < 0 ? notif : sz));
  // ADDFD cannot be asked for without a listener: the platform start below uses it.
  add("seccomp listener ADDFD (SECCOMP_IOCTL_NOTIF_ADDFD, Linux 5.9)", true, atLeast(5, 9) && notif === 0,
    atLeast(5, 9) ? "the kernel has it" : `kernel ${release}`);
  add("seccomp TSYNC (a filter on every thread of the sentry, Linux 3.17)", true, atLeast(3, 17) && filter === 0,
    atLeast(3, 17) ? "the kernel has it" : `kernel ${release}`);
  const nnp = ffi.hostPrctl(PR_GET_NO_NEW_PRIVS);
  add("no_new_privs", true, nnp >= 0, nnp >= 0 ? "available" : errName(nnp));

  const pidfd = ffi.rawSyscall(SYS_pidfd_open, BigInt(Deno.pid), 0n, 0n);
  add("pidfd_open (Linux 5.3)", true, pidfd >= 0, pidfd >= 0 ? "available" : errName(pidfd));
  if (pidfd >= 0) {
    const fd = ffi.rawSyscall(SYS_pidfd_getfd, BigInt(pidfd), 0n, 0n);
    add("pidfd_getfd (Linux 5.6)", true, fd >= 0, fd >= 0 ? "available" : errName(fd));
    if (fd >= 0) ffi.hostClose(fd);
    ffi.hostClose(pidfd);
  } else {
    add("pidfd_getfd (Linux 5.6)", true, false, "no pidfd");
  }

  const scope = readSysctl("/proc/sys/kernel/yama/ptrace_scope");
  add("ptrace allowed (Yama ptrace_scope below 3)", true, scope === null || scope !== "3",
    scope === null ? "no Yama" : `ptrace_scope ${scope}`);

  // The real thing: a zygote and a stub, confined, and an application system call stopped.
  let platformOk = false, detail = "", namespaces: string[] = [], emptyRoot = false;
  const p = new PtracePlatform();
  try {
    const ctx = p.newAddressSpace();
    const CODE = 0x10000;
    if (ctx.addressSpace.mapAnonymous(ctx, CODE, 4096, 7, false) !== 0) throw new Error("mmap in a stub failed");
    // mov eax, 39 (getpid); syscall
    ctx.addressSpace.write(CODE, new Uint8Array([0xb8, 39, 0, 0, 0, 0x0f, 0x05]));
    ctx.regs.set("rip", CODE);
    ctx.markRegsDirty();
    p.resume(ctx);
    const s = p.waitStop(5e9);
    platformOk = s?.reason.kind === "syscall" && s.ctx.syscall.nr === 39;
    detail = platformOk ? "a stub stopped at its system call" : `unexpected stop: ${JSON.stringify(s?.reason ?? null)}`;
    namespaces = p.confinement?.namespaces ?? [];
    emptyRoot = p.confinement?.emptyRoot ?? false;
    ctx.addressSpace.release();
  } catch (e) {
    detail = e instanceof Error ? e.message : String(e);
  } finally {
    try {
      p.shutdown();
    } catch { /* best effort */ }
  }
  add("ptrace PTRACE_SYSEMU stubs, confined (seccomp listener, ADDFD, pidfd_getfd)", true, platformOk, detail);
  const stubNs = "stub namespaces: mount, PID, network, IPC, UTS, cgroup";
  const stubRoot = "stub empty root (pivot_root into an empty read-only tmpfs)";
  const stubUser = "stub user namespace (no capability in the host's namespaces)";
  if (!platformOk) {
    for (const name of [stubNs, stubRoot, stubUser]) add(name, false, false, "unknown: no stub started");
    return out;
  }
  const others = ["mnt", "pid", "net", "ipc", "uts", "cgroup"];
  add(stubNs, false, others.every((n) => namespaces.includes(n)),
    namespaces.length > 0 ? `given: ${namespaces.join(", ")}` : "refused: stubs share the host's");
  add(stubRoot, false, emptyRoot, emptyRoot ? "given" : "refused: stubs see the host's tree");
  const userns = readSysctl("/proc/sys/user/max_user_namespaces");
  add(stubUser, false, namespaces.includes("user"),
    namespaces.includes("user") ? "given" : `refused (max_user_namespaces ${userns ?? "unknown"})`);

  // The sentry's own confinement after start-up, done for real on this process (it ends next).
  const c = confineSentry({ hostNetwork: false, filter: true });
  const why = (what: string) => c.refused.filter((r) => r.startsWith(what)).join("; ");
  add("sentry namespaces after start-up: mount, IPC, UTS, network (with --network none)", false,
    ["mnt", "ipc", "uts", "net"].every((n) => c.namespaces.includes(n)),
    c.namespaces.length > 0 ? `given on ${c.threads} threads: ${c.namespaces.join(", ")}` : why("namespaces") || "refused");
  const capsOk = !c.refused.some((r) => r.startsWith("capabilities") || r.startsWith("the bounding set"));
  add("sentry capabilities dropped on every thread to those it uses", false, capsOk,
    capsOk ? `kept: ${c.capabilities.join(", ") || "none"}` : why("capabilities") || why("the bounding set"));
  const siteOk = !c.refused.some((r) => r.startsWith("the stub's address range"));
  add("sentry seccomp filter with argument checks (ptrace, clone, a later stub's calls by site)", false, c.filter && siteOk,
    c.filter ? (siteOk ? "installed on every thread" : why("the stub's address range")) : why("the seccomp filter"));
  return out;
}
