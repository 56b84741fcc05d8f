/**
 * --strace: one line per syscall with decoded arguments and the result, prefixed with the
 * task's PID and TID, as gVisor's -strace does. Arguments are decoded when the syscall enters
 * (before execve replaces the memory they point to); the line is printed when it returns.
 *
 * @module
 */

import type { Task } from "./task.ts";
import { errnoName } from "./errno.ts";

/** How to show one argument. */
type ArgKind = "int" | "uint" | "hex" | "ptr" | "fd" | "dirfd" | "path" | "str" | "oflags" | "mode" | "size" | "signo";

const F: Record<string, ArgKind[]> = {
  read: ["fd", "ptr", "size"], write: ["fd", "str", "size"], open: ["path", "oflags", "mode"],
  close: ["fd"], stat: ["path", "ptr"], fstat: ["fd", "ptr"], lstat: ["path", "ptr"],
  lseek: ["fd", "int", "int"], mmap: ["hex", "size", "hex", "hex", "fd", "hex"],
  mprotect: ["hex", "size", "hex"], munmap: ["hex", "size"], brk: ["hex"],
  rt_sigaction: ["signo", "ptr", "ptr", "size"], rt_sigprocmask: ["int", "ptr", "ptr", "size"],
  ioctl: ["fd", "hex", "hex"], pread64: ["fd", "ptr", "size", "int"], pwrite64: ["fd", "str", "size", "int"],
  readv: ["fd", "ptr", "int"], writev: ["fd", "ptr", "int"], access: ["path", "int"],
  dup: ["fd"], dup2: ["fd", "fd"], getpid: [], exit: ["int"], exit_group: ["int"],
  uname: ["ptr"], fcntl: ["fd", "int", "hex"], getcwd: ["ptr", "size"], chdir: ["path"],
  fchdir: ["fd"], readlink: ["path", "ptr", "size"], getdents64: ["fd", "ptr", "size"],
  openat: ["dirfd", "path", "oflags", "mode"], newfstatat: ["dirfd", "path", "ptr", "hex"],
  readlinkat: ["dirfd", "path", "ptr", "size"], faccessat: ["dirfd", "path", "int"],
  faccessat2: ["dirfd", "path", "int", "hex"], statx: ["dirfd", "path", "hex", "hex", "ptr"],
  execve: ["path", "ptr", "ptr"], arch_prctl: ["hex", "hex"], set_tid_address: ["ptr"],
  kill: ["int", "signo"], tgkill: ["int", "int", "signo"], clock_gettime: ["int", "ptr"],
  nanosleep: ["ptr", "ptr"], prlimit64: ["int", "int", "ptr", "ptr"], getrandom: ["ptr", "size", "hex"],
  mremap: ["hex", "size", "size", "hex", "hex"], madvise: ["hex", "size", "int"],
};

const OFLAGS: [number, string][] = [
  [0o100, "O_CREAT"], [0o200, "O_EXCL"], [0o400, "O_NOCTTY"], [0o1000, "O_TRUNC"],
  [0o2000, "O_APPEND"], [0o4000, "O_NONBLOCK"], [0o200000, "O_DIRECTORY"],
  [0o400000, "O_NOFOLLOW"], [0o2000000, "O_CLOEXEC"], [0o10000000, "O_PATH"],
];

function oflags(v: number): string {
  const acc = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"][v & 3]!;
  const parts = [acc];
  for (const [bit, name] of OFLAGS) if (v & bit) parts.push(name);
  return parts.join("|");
}

function quote(s: string, max = 64): string {
  const cut = s.length > max ? s.slice(0, max) : s;
  return JSON.stringify(cut) + (s.length > max ? "..." : "");
}

function readStr(t: Task, addr: number, max: number): string {
  if (addr === 0) return "NULL";
  try {
    const buf = new Uint8Array(Math.min(max, 4096));
    const n = t.mm.read(addr, buf);
    if (n === 0) return `0x${addr.toString(16)}`;
    let end = buf.subarray(0, n).indexOf(0);
    if (end < 0) end = n;
    return quote(new TextDecoder().decode(buf.subarray(0, end)));
  } catch {
    return `0x${addr.toString(16)}`;
  }
}

/** Decodes the arguments of the syscall t is entering. */
export function straceEnter(t: Task, name: string): string {
  const info = t.ctx.syscall;
  const kinds = F[name];
  if (!kinds) {
    const raw = [0, 1, 2, 3, 4, 5].map((i) => "0x" + info.arg64(i).toString(16));
    return `${name}(${raw.join(", ")})`;
  }
  const shown = kinds.map((k, i) => {
    const v = info.arg(i);
    switch (k) {
      case "int":
        return String(Number(BigInt.asIntN(64, info.arg64(i))));
      case "uint":
      case "size":
        return String(v);
      case "hex":
      case "ptr":
        return "0x" + info.arg64(i).toString(16);
      case "fd":
        return String(info.argInt(i));
      case "dirfd":
        return info.argInt(i) === -100 ? "AT_FDCWD" : String(info.argInt(i));
      case "path":
        return readStr(t, v, 4096);
      case "str":
        return readStr(t, v, Math.min(info.arg(i + 1), 64));
      case "oflags":
        return oflags(info.argInt(i));
      case "mode":
        return "0o" + info.argUint(i).toString(8);
      case "signo":
        return String(info.argInt(i));
    }
  });
  return `${name}(${shown.join(", ")})`;
}

/** The line printed when the syscall returns. */
export function straceExit(t: Task, entry: string, result: number | string, elapsedUs: number): string {
  let r: string;
  if (typeof result === "string") r = result;
  else if (result < 0 && result >= -4095) r = `-1 ${errnoName(-result)}`;
  else r = result > 0xffff ? `${result} (0x${result.toString(16)})` : String(result);
  return `[${String(t.tg.tgid).padStart(4)}:${String(t.tid).padStart(4)}] ${t.name} ${entry} = ${r} (${elapsedUs.toFixed(1)}µs)`;
}
