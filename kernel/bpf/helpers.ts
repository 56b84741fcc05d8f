/**
 * The eBPF helpers a cgroup device program may call (insn.ts's HELPERS), answered for the task
 * whose access runs the program, as Linux's bpf_get_current_* and bpf_ktime_get_* do: ids in
 * the kernel's numbering (the sandbox's first namespaces), times on the monotonic clock (a
 * sandbox never suspends: boot time is the same).
 *
 * @module
 */

import type { Task } from "../task.ts";
import { monotonicNs } from "../time.ts";

/** The value of helper `id` for task t. */
export function bpfHelper(t: Task, id: number): bigint {
  switch (id) {
    case 5: // ktime_get_ns
    case 125: // ktime_get_boot_ns
    case 160: // ktime_get_coarse_ns
      return BigInt(Math.floor(monotonicNs()));
    case 7: // get_prandom_u32
      return BigInt(Math.floor(Math.random() * 0x1_0000_0000));
    case 8: // get_smp_processor_id
    case 42: // get_numa_node_id
      return 0n;
    case 14: // get_current_pid_tgid
      return (BigInt(t.tg.tgid) << 32n) | BigInt(t.tid);
    case 15: // get_current_uid_gid
      return (BigInt(t.creds.gid >>> 0) << 32n) | BigInt(t.creds.uid >>> 0);
    case 80: // get_current_cgroup_id: the cgroup directory's inode number (kernfs node id)
      return BigInt(t.kernel.cgroups.cgroupOf(t.tg).stat().ino);
    default:
      return 0n;
  }
}
