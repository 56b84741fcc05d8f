/**
 * /proc/config.gz: the sandbox's kernel configuration (Linux's CONFIG_IKCONFIG_PROC), as the
 * features the sentry implements, not the host's. Test suites (LTP's tst_kconfig) read it to
 * skip what a kernel lacks: a missing file breaks every test that asks, and the host's file
 * would claim features the sandbox has not (NUMA, userfaultfd, io_uring), turning a clean skip
 * into a failure. An option is "y" only when its syscalls and files exist here; keep this list
 * true as features come and go (README's limitations say what is left out).
 *
 * The gzip stream uses stored (uncompressed) deflate blocks: zcat reads it, and no compressor
 * is loaded for a file of a few hundred bytes.
 *
 * @module
 */

import { BLOCK_FILESYSTEMS } from "../block/filesystems.ts";

/** Options the sandbox has ("y"), in the order a Kconfig dump would group them. */
const ENABLED = [
  "64BIT", "X86_64", "X86", "MMU", "SMP", "MULTIUSER", "SYSVIPC", "POSIX_MQUEUE",
  "POSIX_TIMERS", "HIGH_RES_TIMERS", "FUTEX", "FUTEX_PI", "EPOLL", "SIGNALFD", "TIMERFD",
  "EVENTFD", "SHMEM", "AIO", "ADVISE_SYSCALLS", "MEMBARRIER", "BINFMT_ELF", "BINFMT_SCRIPT",
  "CGROUPS", "CGROUP_BPF", "CGROUP_DEVICE", "NAMESPACES", "UTS_NS", "IPC_NS",
  "USER_NS", "PID_NS", "NET_NS", "TIME_NS", "CHECKPOINT_RESTORE", "SECCOMP", "SECCOMP_FILTER", "SECURITY_LANDLOCK", "FILE_LOCKING",
  "INOTIFY_USER", "PROC_FS", "PROC_SYSCTL", "SYSFS", "TMPFS", "TMPFS_XATTR",
  "MEMFD_CREATE", "UNIX98_PTYS", "TTY", "NET", "INET", "IPV6", "UNIX", "PACKET", "NETFILTER",
  "NF_TABLES", "TUN", "VETH", "BRIDGE", "CROSS_MEMORY_ATTACH", "FHANDLE", "DNOTIFY", "FANOTIFY",
  "FANOTIFY_ACCESS_PERMISSIONS", "KEYS", "BIG_KEYS",
  "USERFAULTFD", "HAVE_ARCH_USERFAULTFD_WP", "BLOCK", "BLK_DEV", "BLK_DEV_LOOP",
] as const;

/** Options Linux has that the sandbox does not, written as "is not set" so a reader sees why. */
const DISABLED = [
  "NUMA", "SWAP", "HAVE_ARCH_USERFAULTFD_MINOR", "IO_URING", "RSEQ", "KCMP",
  "MODULES", "BSD_PROCESS_ACCT", "HUGETLBFS", "FUSE_FS",
  "COREDUMP", "PERF_EVENTS", "BPF_SYSCALL", "QUOTA", "MANDATORY_FILE_LOCKING",
] as const;

/** The configuration as text, for a kernel release string like uname's. */
export function kernelConfigText(release: string): string {
  const lines = ["#", "# Automatically generated file; DO NOT EDIT.", `# Linux/x86 ${release} Kernel Configuration (sentry)`, "#"];
  for (const o of ENABLED) lines.push(`CONFIG_${o}=y`);
  // The disk filesystems whose drivers exist (vfs/block/filesystems.ts): CONFIG_EXT4_FS...
  for (const name of BLOCK_FILESYSTEMS.keys()) lines.push(`CONFIG_${name.toUpperCase()}_FS=y`);
  for (const o of DISABLED) lines.push(`# CONFIG_${o} is not set`);
  return lines.join("\n") + "\n";
}

let crcTable: Uint32Array | null = null;

/** CRC-32 (ISO 3309, the gzip trailer's). */
function crc32(data: Uint8Array): number {
  if (crcTable === null) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (const b of data) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A gzip member (RFC 1952) holding `data` in stored deflate blocks (RFC 1951 §3.2.4). */
export function gzipStored(data: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(data.length / 0xffff));
  const out = new Uint8Array(10 + blocks * 5 + data.length + 8);
  const v = new DataView(out.buffer);
  out.set([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]); // magic, deflate, no flags, no mtime, Unix
  let o = 10;
  for (let i = 0; i < blocks; i++) {
    const chunk = data.subarray(i * 0xffff, Math.min(data.length, (i + 1) * 0xffff));
    out[o] = i === blocks - 1 ? 1 : 0; // BFINAL on the last, BTYPE 00 (stored)
    v.setUint16(o + 1, chunk.length, true);
    v.setUint16(o + 3, ~chunk.length & 0xffff, true);
    out.set(chunk, o + 5);
    o += 5 + chunk.length;
  }
  v.setUint32(o, crc32(data), true);
  v.setUint32(o + 4, data.length >>> 0, true);
  return out;
}
