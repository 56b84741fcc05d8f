/**
 * System V IPC: commands, flags and the default limits of Linux (include/uapi/linux/ipc.h,
 * shm.h, sem.h, msg.h), which /proc/sys/kernel reports.
 *
 * @module
 */

export const IPC_PRIVATE = 0;
export const IPC_CREAT = 0o1000;
export const IPC_EXCL = 0o2000;
export const IPC_NOWAIT = 0o4000;

export const IPC_RMID = 0;
export const IPC_SET = 1;
export const IPC_STAT = 2;
export const IPC_INFO = 3;
/** The 64-bit layouts: ipc(2) multiplexers add it; x86-64's direct calls accept and ignore it. */
export const IPC_64 = 0x100;

/** Limits (Linux's defaults since 3.16 / 4.x). */
export const SHMMIN = 1;
export const SHMMNI = 4096;
export const SHMMAX = 0xffff_ffff_feff_ffffn; // ULONG_MAX - 2^24
export const SHMALL = 0xffff_ffff_feff_ffffn;
export const SEMMSL = 32000;
export const SEMMNS = 1024000000;
export const SEMOPM = 500;
export const SEMMNI = 32000;
export const SEMVMX = 32767;
export const MSGMAX = 8192;
export const MSGMNB = 16384;
export const MSGMNI = 32000;
