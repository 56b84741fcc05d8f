/**
 * How many CPUs the sandbox has: the kernel's answer wherever it counts them (sched_getaffinity,
 * sysinfo, /proc, /sys). Apart from sys_sched.ts, which loads at its first call.
 *
 * @module
 */

/** CPUs the sandbox reports: as many as the host gives the sentry. */
export function sandboxCpus(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/** The mask size in bytes Linux uses: whole 64-bit words covering the CPUs. */
export function maskBytes(): number {
  return Math.ceil(sandboxCpus() / 64) * 8;
}
