/**
 * seccomp for applications: strict mode and classic-BPF filters (seccomp(2),
 * prctl(PR_SET_SECCOMP)), run by the sentry on every syscall of a filtered task before the
 * syscall's handler. Analogous to Linux's kernel/seccomp.c and gVisor's kernel/seccomp.go.
 *
 * A task's filters are an immutable list shared with the threads and children that inherit it
 * (fork, clone, exec keep them); adding a filter makes a new list. Every filter runs and the
 * action of highest precedence wins (KILL_PROCESS, KILL_THREAD, TRAP, ERRNO, USER_NOTIF, TRACE,
 * LOG, ALLOW). The program is checked as Linux checks it before it is kept: only the
 * instructions seccomp allows, loads of the 64-byte seccomp_data at aligned offsets, jumps that
 * stay inside, a return at the end. Without backward jumps a run ends within its length.
 *
 * Not done: SECCOMP_FILTER_FLAG_NEW_LISTENER (user notification) is EINVAL; a tracer cannot
 * change or skip a syscall at SECCOMP_RET_TRACE's event (which comes after the syscall).
 *
 * @module
 */

import { EINVAL } from "./errno.ts";

export const SECCOMP_MODE_DISABLED = 0;
export const SECCOMP_MODE_STRICT = 1;
export const SECCOMP_MODE_FILTER = 2;

export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_KILL_THREAD = 0x00000000;
export const SECCOMP_RET_TRAP = 0x00030000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_USER_NOTIF = 0x7fc00000;
export const SECCOMP_RET_TRACE = 0x7ff00000;
export const SECCOMP_RET_LOG = 0x7ffc0000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const SECCOMP_RET_ACTION_FULL = 0xffff0000;
export const SECCOMP_RET_DATA = 0x0000ffff;

export const AUDIT_ARCH_X86_64 = 0xc000003e;
/** What an `int 0x80` (the i386 syscall ABI) in a 64-bit program is, for seccomp and ptrace. */
export const AUDIT_ARCH_I386 = 0x40000003;
/** sizeof(struct seccomp_data): nr, arch, instruction_pointer, args[6]. */
export const SECCOMP_DATA_SIZE = 64;
/** BPF_MAXINSNS. */
export const MAX_INSNS = 4096;
/** Linux's MAX_INSNS_PER_PATH: the sum of every filter's length, each plus 4. */
export const MAX_TOTAL_INSNS = 32768;

/** The actions Linux knows (SECCOMP_GET_ACTION_AVAIL), user notification aside. */
export const KNOWN_ACTIONS: ReadonlySet<number> = new Set([
  SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP, SECCOMP_RET_ERRNO, SECCOMP_RET_TRACE,
  SECCOMP_RET_LOG, SECCOMP_RET_ALLOW,
]);

/** A task's seccomp state: the mode and the filters, newest first. @savable (kernel/checkpoint/seccomp.ts) */
export interface SeccompState {
  readonly mode: number;
  readonly filters: readonly Uint8Array[];
}

// Classic BPF opcodes seccomp accepts (linux/filter.h), by their 16-bit code.
const LD_W_ABS = 0x20, LD_W_LEN = 0x80, LDX_W_LEN = 0x81, LD_IMM = 0x00, LDX_IMM = 0x01;
const LD_MEM = 0x60, LDX_MEM = 0x61, ST = 0x02, STX = 0x03, TAX = 0x07, TXA = 0x87;
const RET_K = 0x06, RET_A = 0x16, JA = 0x05;
const ALU = new Set([0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c, 0x94, 0x9c, 0x44, 0x4c, 0x54, 0x5c, 0xa4, 0xac, 0x64, 0x6c, 0x74, 0x7c, 0x84]);
const JMP_COND = new Set([0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x45, 0x4d]);

/**
 * Checks a filter program (8-byte sock_filter instructions) as Linux's seccomp_check_filter and
 * bpf_check_classic do; EINVAL when it would not be accepted.
 */
export function checkFilter(prog: Uint8Array): void {
  const n = prog.length / 8;
  if (!Number.isInteger(n) || n === 0 || n > MAX_INSNS) throw EINVAL;
  const v = new DataView(prog.buffer, prog.byteOffset, prog.byteLength);
  for (let pc = 0; pc < n; pc++) {
    const code = v.getUint16(pc * 8, true), jt = v.getUint8(pc * 8 + 2), jf = v.getUint8(pc * 8 + 3);
    const k = v.getUint32(pc * 8 + 4, true);
    if (code === LD_W_ABS) {
      if (k >= SECCOMP_DATA_SIZE || k % 4 !== 0) throw EINVAL;
    } else if (code === LD_MEM || code === LDX_MEM || code === ST || code === STX) {
      if (k >= 16) throw EINVAL;
    } else if (ALU.has(code)) {
      if ((code === 0x34 || code === 0x94) && k === 0) throw EINVAL; // division by a constant 0
      if ((code === 0x64 || code === 0x74) && k >= 32) throw EINVAL;
    } else if (code === JA) {
      if (pc + 1 + k >= n) throw EINVAL;
    } else if (JMP_COND.has(code)) {
      if (pc + 1 + jt >= n || pc + 1 + jf >= n) throw EINVAL;
    } else if (
      code !== LD_W_LEN && code !== LDX_W_LEN && code !== LD_IMM && code !== LDX_IMM && code !== TAX &&
      code !== TXA && code !== RET_K && code !== RET_A
    ) {
      throw EINVAL;
    }
  }
  const last = v.getUint16((n - 1) * 8, true);
  if (last !== RET_K && last !== RET_A) throw EINVAL;
}

/** A checked program split into typed arrays, once: the interpreter then reads no DataView. */
interface Decoded {
  code: Uint16Array;
  jt: Uint8Array;
  jf: Uint8Array;
  k: Uint32Array;
  /** Whether it uses the scratch memory (most filters never do: no allocation per run). */
  mem: boolean;
}

/**
 * Decoded programs by identity: a task's filters are immutable and shared (OCI profiles, one
 * per container, run on every syscall of every process), so each is decoded once.
 */
const decodedCache = new WeakMap<Uint8Array, Decoded>();

function decode(prog: Uint8Array): Decoded {
  let d = decodedCache.get(prog);
  if (d !== undefined) return d;
  const v = new DataView(prog.buffer, prog.byteOffset, prog.byteLength);
  const n = prog.length / 8;
  d = { code: new Uint16Array(n), jt: new Uint8Array(n), jf: new Uint8Array(n), k: new Uint32Array(n), mem: false };
  for (let pc = 0; pc < n; pc++) {
    const o = pc * 8;
    const code = v.getUint16(o, true);
    d.code[pc] = code;
    d.jt[pc] = v.getUint8(o + 2);
    d.jf[pc] = v.getUint8(o + 3);
    d.k[pc] = v.getUint32(o + 4, true);
    if (code === LD_MEM || code === LDX_MEM || code === ST || code === STX) d.mem = true;
  }
  decodedCache.set(prog, d);
  return d;
}

/** Runs one checked filter over seccomp_data (64 bytes); returns its 32-bit result. */
export function runFilter(prog: Uint8Array, data: DataView): number {
  const { code: codes, jt: jts, jf: jfs, k: ks, mem: usesMem } = decode(prog);
  const n = codes.length;
  const mem = usesMem ? new Uint32Array(16) : EMPTY_MEM;
  let a = 0, x = 0;
  for (let pc = 0; pc < n; pc++) {
    const code = codes[pc]!, k = ks[pc]!;
    switch (code) {
      case LD_W_ABS:
        a = data.getUint32(k, true);
        break;
      // Conditional jumps, K then X operand (unsigned compares: a and x stay in 0..2^32-1).
      case 0x15:
        pc += a === k ? jts[pc]! : jfs[pc]!;
        break;
      case 0x25:
        pc += a > k ? jts[pc]! : jfs[pc]!;
        break;
      case 0x35:
        pc += a >= k ? jts[pc]! : jfs[pc]!;
        break;
      case 0x45:
        pc += (a & k) !== 0 ? jts[pc]! : jfs[pc]!;
        break;
      case 0x1d:
        pc += a === x ? jts[pc]! : jfs[pc]!;
        break;
      case 0x2d:
        pc += a > x ? jts[pc]! : jfs[pc]!;
        break;
      case 0x3d:
        pc += a >= x ? jts[pc]! : jfs[pc]!;
        break;
      case 0x4d:
        pc += (a & x) !== 0 ? jts[pc]! : jfs[pc]!;
        break;
      case RET_K:
        return k;
      case RET_A:
        return a >>> 0;
      case JA:
        pc += k;
        break;
      case LD_W_LEN:
        a = SECCOMP_DATA_SIZE;
        break;
      case LDX_W_LEN:
        x = SECCOMP_DATA_SIZE;
        break;
      case LD_IMM:
        a = k;
        break;
      case LDX_IMM:
        x = k;
        break;
      case LD_MEM:
        a = mem[k]!;
        break;
      case LDX_MEM:
        x = mem[k]!;
        break;
      case ST:
        mem[k] = a;
        break;
      case STX:
        mem[k] = x;
        break;
      case TAX:
        x = a;
        break;
      case TXA:
        a = x;
        break;
      default:
        a = alu(code & 0xf0, a, (code & 0x08) !== 0 ? x : k) >>> 0;
    }
  }
  return SECCOMP_RET_KILL_PROCESS; // unreachable for a checked program
}

const EMPTY_MEM = new Uint32Array(0);

function alu(op: number, a: number, b: number): number {
  switch (op) {
    case 0x00:
      return a + b;
    case 0x10:
      return a - b;
    case 0x20:
      return Math.imul(a, b);
    case 0x30:
      return b === 0 ? 0 : Math.floor(a / b); // a division by X = 0 ends in 0, as the kernel's
    case 0x90:
      return b === 0 ? 0 : a % b;
    case 0x40:
      return a | b;
    case 0x50:
      return a & b;
    case 0xa0:
      return a ^ b;
    case 0x60:
      return b >= 32 ? 0 : a << b;
    case 0x70:
      return b >= 32 ? 0 : a >>> b;
    case 0x80:
      return -a;
    default:
      return a;
  }
}

/** Every filter's result; the one whose action comes first in Linux's precedence. */
export function evaluate(filters: readonly Uint8Array[], data: DataView): number {
  let ret = SECCOMP_RET_ALLOW;
  for (const f of filters) {
    const r = runFilter(f, data);
    // Actions compare as signed 32-bit numbers: the smallest wins (KILL_PROCESS is negative).
    if (((r & SECCOMP_RET_ACTION_FULL) | 0) < ((ret & SECCOMP_RET_ACTION_FULL) | 0)) ret = r;
  }
  return ret;
}

/** The syscalls strict mode allows: read, write, exit, rt_sigreturn. */
export const STRICT_SYSCALLS: ReadonlySet<number> = new Set([0, 1, 60, 15]);

/** x86-64's execve. */
const NR_EXECVE = 59;

/**
 * What a filter installed right before execve (runc's order for OCI linux.seccomp) does to
 * that execve, judged with zero arguments (runc's own pointers, which no profile can know):
 * null when it runs, an errno to fail it with, or "kill" when the filter kills the caller
 * (KILL_*, TRAP: SIGSYS). TRACE without a tracer is ENOSYS, as the kernel's.
 */
export function execveVerdict(filter: Uint8Array): number | "kill" | null {
  const data = new DataView(new ArrayBuffer(SECCOMP_DATA_SIZE));
  data.setInt32(0, NR_EXECVE, true);
  data.setUint32(4, AUDIT_ARCH_X86_64, true);
  const ret = evaluate([filter], data);
  switch ((ret & SECCOMP_RET_ACTION_FULL) >>> 0) {
    case SECCOMP_RET_ALLOW:
    case SECCOMP_RET_LOG:
      return null;
    case SECCOMP_RET_ERRNO:
      return Math.min(ret & SECCOMP_RET_DATA, 4095);
    case SECCOMP_RET_TRACE:
    case SECCOMP_RET_USER_NOTIF:
      return 38; // ENOSYS
    default:
      return "kill";
  }
}
