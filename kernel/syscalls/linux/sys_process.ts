/** Process identity and exit: getpid(2), gettid(2), exit(2), exit_group(2), umask(2), ... */

import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const sysExit: SyscallFn = (_t, a) => ({ ctl: "exit", status: a.int(0), group: false });
const sysExitGroup: SyscallFn = (_t, a) => ({ ctl: "exit", status: a.int(0), group: true });
// Ids as the caller's PID namespace numbers them (a parent outside it is 0).
const sysGetpid: SyscallFn = (t) => t.vnr(t.tg.tgid);
const sysGettid: SyscallFn = (t) => t.vnr(t.tid);
const sysGetppid: SyscallFn = (t) => (t.tg.parent === null ? 0 : t.vnr(t.tg.parent.tgid));
const sysGetpgrp: SyscallFn = (t) => t.vnr(t.tg.pgid);

/** Implements set_tid_address(2): remembered for CLONE_CHILD_CLEARTID-style wake-up at exit. */
const sysSetTidAddress: SyscallFn = (t, a) => {
  t.clearChildTid = a.pointer(0);
  return t.vnr(t.tid);
};

/** Implements umask(2): returns the previous mask. */
const sysUmask: SyscallFn = (t, a) => {
  const old = t.fs.umask;
  t.fs.umask = a.uint(0) & 0o777;
  return old;
};

/**
 * Implements personality(2): returns the old persona and sets the new one, unless it is
 * 0xffffffff (a query). Kept and inherited (kernel/task.ts), not acted on.
 */
const sysPersonality: SyscallFn = (t, a) => {
  const old = t.personality;
  const p = a.uint(0);
  if (p !== 0xffffffff) t.personality = p;
  return old;
};

export const table: Record<number, SyscallEntry> = {
  135: supported("personality", sysPersonality),
  39: supported("getpid", sysGetpid),
  60: supported("exit", sysExit),
  95: supported("umask", sysUmask),
  110: supported("getppid", sysGetppid),
  111: supported("getpgrp", sysGetpgrp),
  186: supported("gettid", sysGettid),
  218: supported("set_tid_address", sysSetTidAddress),
  231: supported("exit_group", sysExitGroup),
};
