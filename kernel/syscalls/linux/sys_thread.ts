/** Thread setup: arch_prctl(2), set_robust_list(2), get_robust_list(2), rseq(2). */

import { mayAttach } from "./sys_process_vm.ts";
import { EINVAL, ENODEV, EPERM, ESRCH } from "../../errno.ts";
import { rseqSyscall } from "../../rseq.ts";
import { checkTlsBase } from "../../task_clone.ts";
import { partial, supported, type SyscallEntry, type SyscallFn } from "./support.ts";

const ARCH_SET_GS = 0x1001, ARCH_SET_FS = 0x1002, ARCH_GET_FS = 0x1003, ARCH_GET_GS = 0x1004;
const ARCH_GET_CPUID = 0x1011, ARCH_SET_CPUID = 0x1012;

/**
 * Implements arch_prctl(2) for the FS and GS bases, and CPUID faulting as Linux on a CPU without
 * it (the sandbox's /proc/cpuinfo does not list cpuid_fault): the CPUID instruction always
 * works (ARCH_GET_CPUID 1) and ARCH_SET_CPUID is ENODEV whatever it asks. The stubs' host
 * threads could fault for real, but only through an arch_prctl their seccomp filter does not
 * let them make. CET and the rest are EINVAL.
 */
const sysArchPrctl: SyscallFn = (t, a) => {
  const code = a.int(0);
  switch (code) {
    case ARCH_SET_FS:
    case ARCH_SET_GS: {
      const v = a.u64(1);
      checkTlsBase(v);
      t.ctx.regs.set64(code === ARCH_SET_FS ? "fs_base" : "gs_base", v);
      t.ctx.markRegsDirty();
      return 0;
    }
    case ARCH_GET_FS:
    case ARCH_GET_GS:
      t.copyOutU64(a.pointer(1), t.ctx.regs.get64(code === ARCH_GET_FS ? "fs_base" : "gs_base"));
      return 0;
    case ARCH_GET_CPUID:
      return 1;
    case ARCH_SET_CPUID:
      throw ENODEV;
    default:
      throw EINVAL;
  }
};

/** Implements set_robust_list(2): the list is walked when the thread exits. */
const sysSetRobustList: SyscallFn = (t, a) => {
  if (a.sizeT(1) !== 24) throw EINVAL;
  t.robustList = a.pointer(0);
  return 0;
};

/** Implements get_robust_list(2): the head a thread registered, for itself or one it may ptrace-read. */
const sysGetRobustList: SyscallFn = (t, a) => {
  const pid = a.int(0);
  const target = pid === 0 ? t : t.findTask(pid);
  if (!target) throw ESRCH;
  // ptrace_may_access(PTRACE_MODE_READ_REALCREDS), as Linux's get_robust_list.
  if (!mayAttach(t, target)) throw EPERM;
  t.copyOutU64(a.pointer(1), target.robustList);
  t.copyOutU64(a.pointer(2), 24);
  return 0;
};

/** Implements rseq(2) (kernel/rseq.ts). */
const sysRseq: SyscallFn = (t, a) => rseqSyscall(t, a.u64(0), a.uint(1), a.int(2), a.uint(3));

export const table: Record<number, SyscallEntry> = {
  158: supported("arch_prctl", sysArchPrctl),
  273: supported("set_robust_list", sysSetRobustList),
  274: supported("get_robust_list", sysGetRobustList),
  334: partial("rseq", sysRseq, "preemption is seen at the sentry's own stops (kernel/rseq.ts)"),
};
