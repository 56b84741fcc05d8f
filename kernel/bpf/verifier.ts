/**
 * The eBPF verifier for BPF_PROG_TYPE_CGROUP_DEVICE programs: what Linux's kernel/bpf/verifier.c
 * refuses, with its errno and (the last line of) its log message, for a privileged loader.
 *
 * The passes, in Linux's order:
 * 1. check_subprogs: every jump lands inside the program; the last instruction is an exit or a
 *    jump. bpf-to-bpf calls (subprograms) are refused (EINVAL): not implemented.
 * 2. resolve_pseudo_ldimm64: every opcode is one Linux knows; LDX's reserved fields; ld_imm64
 *    pairs. A map reference is EBADF or EINVAL: the sentry has no maps.
 * 3. check_cfg: every instruction is reachable; no jump into the middle of an ld_imm64.
 * 4. do_check: every path is walked with an abstract state: registers are uninitialised, a
 *    scalar with an unsigned range [lo, hi], the context pointer or the stack pointer (each with
 *    a constant offset, or a variable one); the 512-byte stack records spilled registers and
 *    written bytes. Reads of uninitialised registers (EACCES), writes to R10 (EACCES), context
 *    accesses bpf_cgroup_dev_ctx does not allow (EACCES), stack accesses out of bounds or
 *    misaligned (EACCES), reserved fields (EINVAL), division by a zero constant and bad shifts
 *    (EINVAL), helper calls (EINVAL: this type's helpers are not implemented), and a return value
 *    that may be outside [0, 1] (EINVAL) are refused. Loops are walked like any path (Linux's
 *    bounded loops for bpf_capable): a state met again on the same path is an infinite loop
 *    (EINVAL), more than BPF_COMPLEXITY_LIMIT_INSNS processed instructions is E2BIG. A state met
 *    before at a jump target is not walked again (pruning by equality; Linux prunes by a
 *    weaker "is contained in", so a program it accepts with many paths can be E2BIG here).
 *
 * The interpreter (interpreter.ts) never relies on this for memory safety: it checks every
 * access itself. What it relies on is termination, and the step bound catches a mistake.
 *
 * @module
 */

import {
  BPF_ABS, BPF_ADD, BPF_ALU, BPF_ALU64, BPF_AND, BPF_ARSH, BPF_ATOMIC, BPF_CALL, BPF_COMPLEXITY_LIMIT_INSNS, BPF_DIV,
  BPF_DW, BPF_END, BPF_EXIT, BPF_IMM, BPF_IND, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JMP,
  BPF_JMP32, BPF_JNE, BPF_JSET, BPF_JSGE, BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_LD, BPF_LDX, BPF_LSH, BPF_MEM, BPF_MEMSX,
  BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OR, BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX,
  BPF_PSEUDO_MAP_IDX_VALUE, BPF_PSEUDO_MAP_VALUE, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_X, BPF_XOR,
  DEV_CTX_SIZE, MAX_BPF_STACK,
} from "../../abi/linux/bpf.ts";
import { E2BIG, EACCES, EBADF, EINVAL, type LinuxError } from "../errno.ts";
import { aluOp, HELPERS, immOperand, type Insns, jumpTaken, s64, sizeBytes, U32, U64, VALID_OPCODES } from "./insn.ts";

/** A refusal: the errno bpf(2) returns and the line the verifier log gets. */
export class VerifierReject {
  /** Instructions processed before the refusal (the log's last line). */
  processed = 0;
  constructor(readonly errno: LinuxError, readonly message: string) {}
}

/** What the verifier asks of the caller. */
export interface VerifierEnv {
  /** Whether fd is open in the loader's table (a map reference: EBADF if not, else EINVAL). */
  fdIsOpen(fd: number): boolean;
}

const NOT_INIT = 0, SCALAR = 1, PTR_CTX = 2, PTR_STACK = 3;
const TYPE_NAMES = ["?", "scalar", "ctx", "fp"];

/** A register's abstract value. Immutable. */
interface Reg {
  readonly t: number;
  /** SCALAR: unsigned bounds. */
  readonly lo: bigint;
  readonly hi: bigint;
  /** SCALAR: the known bits (Linux's tnum): tv their values, tm the unknown ones. */
  readonly tv: bigint;
  readonly tm: bigint;
  /** Pointers: the constant offset; varOff: a variable part was added. */
  readonly off: number;
  readonly varOff: boolean;
  /** Its part of a state's key, once computed. */
  key?: string;
}

const UNINIT: Reg = { t: NOT_INIT, lo: 0n, hi: 0n, tv: 0n, tm: 0n, off: 0, varOff: false };
const UNKNOWN: Reg = { t: SCALAR, lo: 0n, hi: U64, tv: 0n, tm: U64, off: 0, varOff: false };
const UNKNOWN32: Reg = { t: SCALAR, lo: 0n, hi: U32, tv: 0n, tm: U32, off: 0, varOff: false };

/** tnum_range: the bits all of [lo, hi] share. */
function tnumRange(lo: bigint, hi: bigint): [bigint, bigint] {
  const chi = lo ^ hi;
  if (chi === 0n) return [lo, 0n];
  const delta = bitMask(chi);
  return [lo & ~delta & U64, delta];
}

/** A scalar in [lo, hi] with known bits (tv, tm), each narrowed by the other (reg_bounds_sync). */
function scalar(lo: bigint, hi: bigint, tv?: bigint, tm?: bigint): Reg {
  const [rv, rm] = tnumRange(lo, hi);
  let v = rv, m = rm;
  if (tv !== undefined && tm !== undefined) {
    m = rm & tm;
    v = (rv | tv) & ~m & U64;
  }
  const nlo = lo > v ? lo : v;
  const nhi = hi < (v | m) ? hi : v | m;
  if (nlo > nhi) return { t: SCALAR, lo, hi, tv: rv, tm: rm, off: 0, varOff: false };
  return { t: SCALAR, lo: nlo, hi: nhi, tv: v, tm: m, off: 0, varOff: false };
}
function known(v: bigint): Reg {
  return { t: SCALAR, lo: v, hi: v, tv: v, tm: 0n, off: 0, varOff: false };
}
function isConst(r: Reg): boolean {
  return r.t === SCALAR && r.lo === r.hi;
}

/** One path's state at an instruction. */
interface State {
  regs: Reg[];
  /** A spilled register per 8-byte stack slot (index 0: bytes -512..-505). */
  spills: (Reg | null)[];
  /** Per stack byte: 0 never written, 1 written. */
  written: Uint8Array;
  /** The stack's part of the state's key, until the stack changes. */
  stackKey: string | null;
}

function copyState(s: State): State {
  return { regs: s.regs.slice(), spills: s.spills.slice(), written: s.written.slice(), stackKey: s.stackKey };
}

function regKey(r: Reg): string {
  return r.key ??= r.t === SCALAR ? `s${r.lo}-${r.hi}-${r.tv}-${r.tm}` : r.t === NOT_INIT ? "u" : `${r.t}:${r.off}${r.varOff ? "v" : ""}`;
}

function stateKey(s: State): string {
  let k = s.stackKey ??= stackKey(s);
  for (const r of s.regs) k += "," + regKey(r);
  return k;
}

function stackKey(s: State): string {
  let k = "";
  for (let i = 0; i < s.spills.length; i++) {
    const sp = s.spills[i];
    if (sp) k += `|${i}=${regKey(sp)}`;
    let b = 0;
    for (let j = 0; j < 8; j++) b |= s.written[i * 8 + j]! << j;
    if (b !== 0) k += `|${i}w${b}`;
  }
  return k;
}

/**
 * A path's history of states at loop heads: an identical one met again is an infinite loop. A
 * skew-binary jump pointer makes "is this node on my path" O(log depth).
 */
interface PathNode {
  readonly prev: PathNode | null;
  readonly jump: PathNode | null;
  readonly depth: number;
}

function pathPush(prev: PathNode | null): PathNode {
  if (prev === null) return { prev: null, jump: null, depth: 0 };
  const j = prev.jump;
  const jump = j !== null && j.jump !== null && prev.depth - j.depth === j.depth - j.jump.depth ? j.jump : prev;
  return { prev, jump, depth: prev.depth + 1 };
}

/** Whether node a is on the path that ends at c. */
function onPath(a: PathNode, c: PathNode | null): boolean {
  while (c !== null && c.depth > a.depth) c = c.jump !== null && c.jump.depth >= a.depth ? c.jump : c.prev;
  return c === a;
}

/** FNV-1a over a string's UTF-16 units. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** States remembered for pruning, at most: past it, paths are walked again (costlier, never wrong). */
const MAX_REMEMBERED = 1 << 16;

/** BPF_COMPLEXITY_LIMIT_JMP_SEQ: paths waiting to be walked. */
const JMP_SEQ_LIMIT = 8192;
/** __BPF_FUNC_MAX_ID in Linux 6.18. */
const FUNC_MAX_ID = 212;

function reject(errno: LinuxError, message: string): never {
  throw new VerifierReject(errno, message);
}

/** The target of a jump at pc (JMP32's BPF_JA takes its offset from imm: gotol). */
export function jumpTarget(p: Insns, pc: number): number {
  const code = p.code[pc]!;
  return (code === (BPF_JMP32 | BPF_JA) ? p.imm[pc]! : p.off[pc]!) + pc + 1;
}

function isLdImm64(p: Insns, i: number): boolean {
  return p.code[i] === (BPF_LD | BPF_IMM | BPF_DW);
}

/** Verifies p; returns the number of instructions processed. Throws VerifierReject. */
export function verify(p: Insns, env: VerifierEnv): number {
  const stats = { processed: 0 };
  try {
    checkSubprogs(p);
    resolvePseudoLdimm64(p, env);
    doCheck(p, checkCfg(p), stats);
    return stats.processed;
  } catch (e) {
    if (e instanceof VerifierReject) e.processed = stats.processed;
    throw e;
  }
}

function checkSubprogs(p: Insns): void {
  for (let i = 0; i < p.n; i++) {
    const code = p.code[i]!;
    if (code === (BPF_JMP | BPF_CALL) && (p.src[i] === BPF_PSEUDO_CALL || p.src[i] === BPF_PSEUDO_KFUNC_CALL)) {
      reject(EINVAL, "bpf-to-bpf and kernel function calls are not supported");
    }
  }
  for (let i = 0; i < p.n; i++) {
    const code = p.code[i]!;
    const cls = code & 7;
    if (cls === BPF_JMP || cls === BPF_JMP32) {
      const op = code & 0xf0;
      if (op !== BPF_CALL && op !== BPF_EXIT) {
        const t = jumpTarget(p, i);
        if (t < 0 || t >= p.n) reject(EINVAL, `jump out of range from insn ${i} to ${t}`);
      }
    }
    if (i === p.n - 1 && code !== (BPF_JMP | BPF_EXIT) && code !== (BPF_JMP32 | BPF_JA) && code !== (BPF_JMP | BPF_JA)) {
      reject(EINVAL, "last insn is not an exit or jmp");
    }
  }
}

function resolvePseudoLdimm64(p: Insns, env: VerifierEnv): void {
  for (let i = 0; i < p.n; i++) {
    const code = p.code[i]!;
    if (!VALID_OPCODES.has(code)) reject(EINVAL, `unknown opcode ${code.toString(16).padStart(2, "0")}`);
    if ((code & 7) === BPF_LDX && (((code & 0xe0) !== BPF_MEM && (code & 0xe0) !== BPF_MEMSX) || p.imm[i] !== 0)) {
      reject(EINVAL, "BPF_LDX uses reserved fields");
    }
    if (isLdImm64(p, i)) {
      if (i === p.n - 1 || p.code[i + 1] !== 0 || p.dst[i + 1] !== 0 || p.src[i + 1] !== 0 || p.off[i + 1] !== 0) {
        reject(EINVAL, "invalid bpf_ld_imm64 insn");
      }
      const src = p.src[i]!;
      if (src !== 0) {
        const mapFd = src === BPF_PSEUDO_MAP_FD || src === BPF_PSEUDO_MAP_IDX;
        const mapValue = src === BPF_PSEUDO_MAP_VALUE || src === BPF_PSEUDO_MAP_IDX_VALUE;
        if (!(mapValue || (mapFd && p.imm[i + 1] === 0))) reject(EINVAL, "unrecognized bpf_ld_imm64 insn");
        if (src === BPF_PSEUDO_MAP_IDX || src === BPF_PSEUDO_MAP_IDX_VALUE) reject(EINVAL, "fd_idx without fd_array is invalid");
        // No fd is a map here: a closed one is EBADF (fdget), an open one EINVAL (not bpf_map_fops).
        if (!env.fdIsOpen(p.imm[i]!)) reject(EBADF, `fd ${p.imm[i]} is not pointing to valid bpf_map`);
        reject(EINVAL, `fd ${p.imm[i]} is not pointing to valid bpf_map`);
      }
      i++;
    }
  }
}

/** check_cfg: reachability; returns where states are compared (jump targets, branch fall-throughs). */
function checkCfg(p: Insns): Uint8Array {
  const seen = new Uint8Array(p.n + 1);
  const pruneAt = new Uint8Array(p.n);
  const stack = [0];
  seen[0] = 1;
  const visit = (from: number, to: number): void => {
    if (to < 0 || to >= p.n) reject(EINVAL, `jump out of range from insn ${from} to ${to}`);
    if (!seen[to]) {
      seen[to] = 1;
      stack.push(to);
    }
  };
  while (stack.length > 0) {
    const i = stack.pop()!;
    const code = p.code[i]!;
    const cls = code & 7;
    const op = code & 0xf0;
    if (cls === BPF_JMP || cls === BPF_JMP32) {
      if (op === BPF_EXIT) continue;
      if (op === BPF_CALL) {
        visit(i, i + 1);
        continue;
      }
      const t = jumpTarget(p, i);
      pruneAt[t] = 1;
      if (op === BPF_JA) {
        visit(i, t);
        continue;
      }
      pruneAt[i + 1] = 1;
      visit(i, i + 1);
      visit(i, t);
      continue;
    }
    visit(i, isLdImm64(p, i) ? i + 2 : i + 1);
  }
  for (let i = 0; i < p.n; i++) {
    if (!seen[i]) reject(EINVAL, `unreachable insn ${i}`);
    if (isLdImm64(p, i)) {
      if (seen[i + 1]) reject(EINVAL, `jump into the middle of ldimm64 insn ${i}`);
      i++;
    }
  }
  return pruneAt;
}

const OP_NAMES: Record<number, string> = {
  [BPF_ADD]: "+=", [BPF_SUB]: "-=", [BPF_MUL]: "*=", [BPF_DIV]: "/=", [BPF_OR]: "|=", [BPF_AND]: "&=",
  [BPF_LSH]: "<<=", [BPF_RSH]: ">>=", [BPF_NEG]: "neg", [BPF_MOD]: "%=", [BPF_XOR]: "^=", [BPF_MOV]: "=",
  [BPF_ARSH]: "s>>=", [BPF_END]: "endian",
};

function doCheck(p: Insns, pruneAt: Uint8Array, stats: { processed: number }): void {
  const init: State = {
    regs: Array.from({ length: 11 }, () => UNINIT),
    spills: new Array<Reg | null>(MAX_BPF_STACK / 8).fill(null),
    written: new Uint8Array(MAX_BPF_STACK),
    stackKey: null,
  };
  init.regs[1] = { t: PTR_CTX, lo: 0n, hi: 0n, tv: 0n, tm: 0n, off: 0, varOff: false };
  init.regs[10] = { t: PTR_STACK, lo: 0n, hi: 0n, tv: 0n, tm: 0n, off: 0, varOff: false };
  const pending: Array<{ pc: number; st: State; path: PathNode | null }> = [{ pc: 0, st: init, path: null }];
  // Each state met at a prune point, with its place on the path that met it; by a hash of its
  // key (a Map of long, fresh strings costs several µs a lookup).
  const visited = new Map<number, Array<{ key: string; node: PathNode }>>();
  let remembered = 0;

  while (pending.length > 0) {
    const item = pending.pop()!;
    let { pc, st, path } = item;
    for (;;) {
      if (++stats.processed > BPF_COMPLEXITY_LIMIT_INSNS) {
        reject(E2BIG, `BPF program is too large. Processed ${stats.processed} insn`);
      }
      if (pruneAt[pc]) {
        const key = `${pc}|${stateKey(st)}`;
        const h = hashString(key);
        const bucket = visited.get(h);
        const seen = bucket?.find((e) => e.key === key)?.node;
        if (seen !== undefined) {
          // Met on this very path: the loop never changes the state. Else walked already.
          if (onPath(seen, path)) reject(EINVAL, `infinite loop detected at insn ${pc}`);
          break;
        }
        path = pathPush(path);
        if (remembered < MAX_REMEMBERED) {
          remembered++;
          if (bucket === undefined) visited.set(h, [{ key, node: path }]);
          else bucket.push({ key, node: path });
        }
      }
      const r = step(p, pc, st);
      if (r === null) break; // exit
      if (typeof r === "number") {
        pc = r;
        continue;
      }
      // A conditional jump with both outcomes possible: walk the fall-through, queue the target.
      if (pending.length >= JMP_SEQ_LIMIT) reject(E2BIG, `The sequence of ${JMP_SEQ_LIMIT} jumps is too complex.`);
      pending.push({ pc: r.taken, st: r.takenState, path });
      pc = pc + 1;
      st = r.fallState;
    }
  }
}

/** What a conditional jump leaves: both outcomes, each with its refined state. */
interface Branch {
  taken: number;
  takenState: State;
  fallState: State;
}

function readReg(st: State, r: number): Reg {
  if (r >= 11) reject(EINVAL, `R${r} is invalid`);
  const v = st.regs[r]!;
  if (v.t === NOT_INIT) reject(EACCES, `R${r} !read_ok`);
  return v;
}

function checkDst(r: number): void {
  if (r >= 11) reject(EINVAL, `R${r} is invalid`);
  if (r === 10) reject(EACCES, "frame pointer is read only");
}

/** Executes instruction pc on st (changing it): the next pc, null at exit, or a two-way branch. */
function step(p: Insns, pc: number, st: State): number | null | Branch {
  const code = p.code[pc]!;
  const cls = code & 7;
  const dst = p.dst[pc]!, src = p.src[pc]!, off = p.off[pc]!, imm = p.imm[pc]!;
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64:
      checkAlu(code, dst, src, off, imm, st);
      return pc + 1;
    case BPF_LDX: {
      readReg(st, src);
      checkDst(dst);
      const size = sizeBytes(code & 0x18);
      st.regs[dst] = memAccess(st, src, off, size, false, null, (code & 0xe0) === BPF_MEMSX);
      return pc + 1;
    }
    case BPF_STX: {
      if ((code & 0xe0) === BPF_ATOMIC) reject(EINVAL, "BPF_ATOMIC instructions are not supported");
      if ((code & 0xe0) !== BPF_MEM || imm !== 0) reject(EINVAL, "BPF_STX uses reserved fields");
      const v = readReg(st, src);
      readReg(st, dst);
      memAccess(st, dst, off, sizeBytes(code & 0x18), true, v, false);
      return pc + 1;
    }
    case BPF_ST: {
      if ((code & 0xe0) !== BPF_MEM || src !== 0) reject(EINVAL, "BPF_ST uses reserved fields");
      readReg(st, dst);
      const size = sizeBytes(code & 0x18);
      memAccess(st, dst, off, size, true, size === 8 ? known(immOperand(imm)) : UNKNOWN, false);
      return pc + 1;
    }
    case BPF_LD: {
      const mode = code & 0xe0;
      if (mode === BPF_ABS || mode === BPF_IND) {
        reject(EINVAL, "BPF_LD_[ABS|IND] instructions not allowed for this program type");
      }
      if ((code & 0x18) !== BPF_DW) reject(EINVAL, "invalid BPF_LD_IMM insn");
      if (off !== 0) reject(EINVAL, "BPF_LD_IMM64 uses reserved fields");
      checkDst(dst);
      st.regs[dst] = known((BigInt(p.imm[pc + 1]! >>> 0) << 32n) | BigInt(imm >>> 0));
      return pc + 2;
    }
    default: // BPF_JMP, BPF_JMP32
      return checkJmp(p, pc, code, dst, src, off, imm, st);
  }
}

function checkAlu(code: number, dst: number, src: number, off: number, imm: number, st: State): void {
  const is64 = (code & 7) === BPF_ALU64;
  const op = code & 0xf0;
  const x = (code & BPF_X) !== 0;
  if (op === BPF_NEG || op === BPF_END) {
    if (op === BPF_NEG) {
      if (x || src !== 0 || off !== 0 || imm !== 0) reject(EINVAL, "BPF_NEG uses reserved fields");
    } else if (src !== 0 || off !== 0 || (imm !== 16 && imm !== 32 && imm !== 64) || (is64 && x)) {
      reject(EINVAL, "BPF_END uses reserved fields");
    }
    const v = readReg(st, dst);
    checkDst(dst);
    st.regs[dst] = isConst(v) ? known(aluOp(op, is64, v.lo, 0n, 0, imm, code & BPF_X)) : UNKNOWN;
    if (!is64 && op === BPF_NEG && !isConst(v)) st.regs[dst] = UNKNOWN32;
    return;
  }
  if (op === BPF_MOV) {
    let v: Reg;
    if (x) {
      const okOff = is64 ? [0, 8, 16, 32] : [0, 8, 16];
      if (!okOff.includes(off) || imm !== 0) reject(EINVAL, "BPF_MOV uses reserved fields");
      v = readReg(st, src);
    } else {
      if (src !== 0 || off !== 0) reject(EINVAL, "BPF_MOV uses reserved fields");
      v = known(immOperand(imm));
    }
    checkDst(dst);
    if (v.t !== SCALAR) {
      // A pointer copied whole stays one; cut or sign-extended, a privileged loader gets a scalar.
      st.regs[dst] = is64 && off === 0 ? v : is64 ? UNKNOWN : UNKNOWN32;
    } else if (isConst(v)) {
      st.regs[dst] = known(aluOp(BPF_MOV, is64, 0n, v.lo, off, 0, 0));
    } else if (off === 0 && (is64 || v.hi <= U32)) {
      st.regs[dst] = v;
    } else if (off === 0) {
      st.regs[dst] = scalar(0n, U32, v.tv & U32, v.tm & U32);
    } else {
      st.regs[dst] = is64 ? UNKNOWN : UNKNOWN32;
    }
    return;
  }
  if (x) {
    if (imm !== 0 || (off !== 0 && off !== 1) || (off === 1 && op !== BPF_MOD && op !== BPF_DIV)) {
      reject(EINVAL, "BPF_ALU uses reserved fields");
    }
  } else if (src !== 0 || (off !== 0 && off !== 1) || (off === 1 && op !== BPF_MOD && op !== BPF_DIV)) {
    reject(EINVAL, "BPF_ALU uses reserved fields");
  }
  const s = x ? readReg(st, src) : known(is64 ? immOperand(imm) : BigInt(imm >>> 0));
  const d = readReg(st, dst);
  if ((op === BPF_MOD || op === BPF_DIV) && !x && imm === 0) reject(EINVAL, "div by zero");
  if ((op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH) && !x && (imm < 0 || imm >= (is64 ? 64 : 32))) {
    reject(EINVAL, `invalid shift ${imm}`);
  }
  checkDst(dst);
  st.regs[dst] = d.t !== SCALAR || s.t !== SCALAR ? pointerAlu(op, is64, dst, d, s) : scalarAlu(op, is64, d, s, off);
}

/** adjust_ptr_min_max_vals for a privileged loader. */
function pointerAlu(op: number, is64: boolean, dst: number, d: Reg, s: Reg): Reg {
  if (d.t !== SCALAR && s.t !== SCALAR) {
    if (op === BPF_SUB) return is64 ? UNKNOWN : UNKNOWN32;
    reject(EACCES, `R${dst} pointer ${OP_NAMES[op]} pointer prohibited`);
  }
  if (!is64) {
    if (op === BPF_SUB) return UNKNOWN;
    reject(EACCES, `R${dst} 32-bit pointer arithmetic prohibited`);
  }
  const ptr = d.t !== SCALAR ? d : s;
  const k = d.t !== SCALAR ? s : d;
  if (op === BPF_SUB && d.t === SCALAR) reject(EACCES, `R${dst} tried to subtract pointer from scalar`);
  if (op === BPF_AND || op === BPF_OR || op === BPF_XOR) {
    reject(EACCES, `R${dst} bitwise operator ${OP_NAMES[op]} on pointer prohibited`);
  }
  if (op !== BPF_ADD && op !== BPF_SUB) reject(EACCES, `R${dst} pointer arithmetic with ${OP_NAMES[op]} operator prohibited`);
  if (!isConst(k)) return { t: ptr.t, lo: 0n, hi: 0n, tv: 0n, tm: 0n, off: ptr.off, varOff: true };
  const v = s64(k.lo);
  const BPF_MAX_VAR_OFF = 1n << 29n;
  if (v >= BPF_MAX_VAR_OFF || v <= -BPF_MAX_VAR_OFF) {
    reject(EACCES, `R${dst} value ${v} makes ${TYPE_NAMES[ptr.t]} pointer be out of bounds`);
  }
  const off = ptr.off + (op === BPF_ADD ? Number(v) : -Number(v));
  if (off >= 2 ** 29 || off <= -(2 ** 29)) reject(EACCES, `R${dst} ${TYPE_NAMES[ptr.t]} pointer offset ${off} is not allowed`);
  return { t: ptr.t, lo: 0n, hi: 0n, tv: 0n, tm: 0n, off, varOff: ptr.varOff };
}

/** The smallest 2^n - 1 at or above v. */
function bitMask(v: bigint): bigint {
  let m = 0n;
  while (m < v) m = (m << 1n) | 1n;
  return m;
}

/**
 * Scalar arithmetic on unsigned ranges, never more precise than Linux's
 * adjust_scalar_min_max_vals (so nothing it refuses passes here): constants fold; ADD, SUB, MUL,
 * AND, OR, XOR and shifts by a constant below the width keep a range when nothing wraps;
 * division, modulo, shifts by a register that is not such a constant, and the rest are unknown
 * (is_safe_to_compute_dst_reg_range).
 */
function scalarAlu(op: number, is64: boolean, d: Reg, s: Reg, _off: number): Reg {
  const full = is64 ? UNKNOWN : UNKNOWN32;
  const max = is64 ? U64 : U32;
  const bits = is64 ? 64n : 32n;
  // Untracked: Linux marks the register unknown and returns before zero-extending a 32-bit
  // result's bounds, so even w0 /= 2 is an unknown 64-bit value to it.
  if (op === BPF_DIV || op === BPF_MOD) return UNKNOWN;
  const shift = op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH;
  if (shift && !(isConst(s) && (s.lo & max) < bits)) return UNKNOWN;
  if (isConst(d) && isConst(s)) return known(aluOp(op, is64, d.lo, s.lo, 0, 0, 0));
  // The operands as this width sees them: a 32-bit operation uses the low halves.
  const view = (r: Reg): [bigint, bigint, bigint, bigint] =>
    is64 || r.hi <= U32 ? [r.lo, r.hi, r.tv & max, r.tm & max]
      : isConst(r) ? [r.lo & U32, r.lo & U32, r.lo & U32, 0n] : [0n, U32, r.tv & U32, r.tm & U32];
  const [dLo, dHi, av, am] = view(d);
  const [sLo, sHi, bv, bm] = view(s);
  const k = sLo;
  let lo = 0n, hi = max, v = 0n, m = max;
  switch (op) {
    case BPF_ADD: {
      if (dHi + sHi <= max) [lo, hi] = [dLo + sLo, dHi + sHi];
      const sm = am + bm, sv = av + bv, chi = (sm + sv) ^ sv, mu = chi | am | bm;
      [v, m] = [sv & ~mu & max, mu & max];
      break;
    }
    case BPF_SUB: {
      if (dLo >= sHi) [lo, hi] = [dLo - sHi, dHi - sLo];
      const dv = (av - bv) & max, alpha = (dv + am) & max, beta = (dv - bm) & max;
      const mu = (alpha ^ beta) | am | bm;
      [v, m] = [dv & ~mu & max, mu & max];
      break;
    }
    case BPF_MUL:
      if (sHi <= U32 && dHi <= U32 && dHi * sHi <= max) [lo, hi] = [dLo * sLo, dHi * sHi];
      break;
    case BPF_AND:
      hi = dHi < sHi ? dHi : sHi;
      v = av & bv;
      m = (av | am) & (bv | bm) & ~v & max;
      break;
    case BPF_OR:
      [lo, hi] = [dLo > sLo ? dLo : sLo, bitMask(dHi > sHi ? dHi : sHi)];
      v = av | bv;
      m = (am | bm) & ~v & max;
      break;
    case BPF_XOR:
      hi = bitMask(dHi > sHi ? dHi : sHi);
      m = am | bm;
      v = (av ^ bv) & ~m & max;
      break;
    case BPF_LSH:
      if (dHi <= (1n << (bits - 1n - k))) [lo, hi] = [dLo << k, dHi << k];
      [v, m] = [(av << k) & max, (am << k) & max];
      break;
    case BPF_RSH:
      [lo, hi] = [dLo >> k, dHi >> k];
      [v, m] = [av >> k, am >> k];
      break;
    case BPF_ARSH: {
      if (dHi < 1n << (bits - 1n)) [lo, hi] = [dLo >> k, dHi >> k];
      const n = Number(bits);
      [v, m] = [BigInt.asUintN(n, BigInt.asIntN(n, av) >> k), BigInt.asUintN(n, BigInt.asIntN(n, am) >> k)];
      break;
    }
    default:
      return full;
  }
  return scalar(lo, hi, v, m);
}

/** check_mem_access for the context and the stack. Returns what a load yields. */
function memAccess(st: State, regno: number, insnOff: number, size: number, write: boolean, value: Reg | null, signExt: boolean): Reg {
  const base = st.regs[regno]!;
  if (base.t === PTR_CTX) {
    if (base.varOff) reject(EACCES, `variable ctx access var_off=(0x0; 0xffffffffffffffff) disallowed`);
    if (base.off !== 0) reject(EACCES, `dereference of modified ctx ptr R${regno} off=${base.off} disallowed`);
    const o = insnOff;
    if (write || !devCtxAccessOk(o, size)) reject(EACCES, `invalid bpf_context access off=${o} size=${size}`);
    if (signExt) return UNKNOWN;
    return scalar(0n, size === 4 ? U32 : (1n << BigInt(size * 8)) - 1n);
  }
  if (base.t !== PTR_STACK) reject(EACCES, `R${regno} invalid mem access '${TYPE_NAMES[base.t]}'`);
  if (base.varOff) reject(EACCES, `R${regno} variable stack access is not supported`);
  const o = base.off + insnOff;
  if (o % size !== 0) {
    reject(EACCES, `misaligned stack access off 0+${base.off}+${insnOff} size ${size}`);
  }
  if (o < -MAX_BPF_STACK || o + size > 0) {
    reject(EACCES, `invalid ${write ? "write to" : "read from"} stack R${regno} off=${o} size=${size}`);
  }
  const at = o + MAX_BPF_STACK;
  const slot = at >>> 3;
  if (write) {
    st.stackKey = null;
    if (value !== null && value.t !== SCALAR && size !== 8) reject(EACCES, "invalid size of register spill");
    if (size === 8 && value !== null) {
      st.spills[slot] = value;
    } else {
      st.spills[slot] = null;
    }
    st.written.fill(1, at, at + size);
    return UNINIT;
  }
  const spill = st.spills[slot];
  if (spill) {
    if (size === 8) return signExt ? UNKNOWN : spill;
    if (spill.t !== SCALAR) reject(EACCES, "invalid size of register fill");
  }
  // Uninitialised stack is readable by a privileged loader (allow_uninit_stack): any value.
  if (signExt) return UNKNOWN;
  return size === 8 ? UNKNOWN : scalar(0n, (1n << BigInt(size * 8)) - 1n);
}

/** cgroup_dev_is_valid_access: reads only; access_type in 1, 2 or 4 aligned bytes, major and minor whole. */
export function devCtxAccessOk(off: number, size: number): boolean {
  if (off < 0 || off + size > DEV_CTX_SIZE) return false;
  if (off % size !== 0) return false;
  if (off < 4) return size === 1 || size === 2 || size === 4;
  return size === 4;
}

function checkJmp(p: Insns, pc: number, code: number, dst: number, src: number, off: number, imm: number, st: State): number | null | Branch {
  const cls = code & 7;
  const op = code & 0xf0;
  const x = (code & BPF_X) !== 0;
  if (op === BPF_JA) {
    if (x || src !== 0 || dst !== 0 || (cls === BPF_JMP && imm !== 0) || (cls === BPF_JMP32 && off !== 0)) {
      reject(EINVAL, "BPF_JA uses reserved fields");
    }
    return jumpTarget(p, pc);
  }
  if (op === BPF_EXIT) {
    if (x || imm !== 0 || src !== 0 || dst !== 0 || cls === BPF_JMP32) reject(EINVAL, "BPF_EXIT uses reserved fields");
    const r0 = readReg(st, 0);
    if (r0.t !== SCALAR) {
      reject(EINVAL, `At program exit the register R0 is not a known value (${TYPE_NAMES[r0.t]})`);
    }
    if (r0.hi > 1n) {
      if (r0.lo === 0n && (r0.hi === U64 || r0.hi === U32)) {
        reject(EINVAL, "At program exit the register R0 has unknown scalar value should have been in [0, 1]");
      }
      const smin = r0.hi < (1n << 63n) ? r0.lo : -(1n << 63n);
      const smax = r0.hi < (1n << 63n) ? r0.hi : (1n << 63n) - 1n;
      reject(EINVAL, `At program exit the register R0 has smin=${smin} smax=${smax} should have been in [0, 1]`);
    }
    return null;
  }
  if (op === BPF_CALL) {
    if (x || off !== 0 || src !== 0 || dst !== 0 || cls === BPF_JMP32) reject(EINVAL, "BPF_CALL uses reserved fields");
    if (imm < 0 || imm >= FUNC_MAX_ID) reject(EINVAL, `invalid func unknown#${imm}`);
    const name = HELPERS.get(imm);
    if (name === undefined) reject(EINVAL, `program of this type cannot use helper #${imm}`);
    // A helper without arguments: R1-R5 are clobbered, R0 is its (unknown) result.
    for (let r = 1; r <= 5; r++) st.regs[r] = UNINIT;
    st.regs[0] = imm === 7 || imm === 8 || imm === 42 ? UNKNOWN32 : UNKNOWN;
    return pc + 1;
  }
  // check_cond_jmp_op's order: the destination is read first, then the reserved fields.
  const d = readReg(st, dst);
  if (x) {
    if (imm !== 0) reject(EINVAL, "BPF_JMP/JMP32 uses reserved fields");
    readReg(st, src);
  } else if (src !== 0) {
    reject(EINVAL, "BPF_JMP/JMP32 uses reserved fields");
  }
  const s = x ? st.regs[src]! : known(immOperand(imm));
  const target = jumpTarget(p, pc);
  const bits = cls === BPF_JMP32 ? 32 : 64;
  // A pointer compared with anything (even the never-null context with 0) leaves both sides
  // to walk, as Linux 6.18 does for these pointers.
  const outcome = d.t === SCALAR && s.t === SCALAR ? decide(op, bits, d, s) : -1;
  if (outcome === 1) return target;
  if (outcome === 0) return pc + 1;
  const takenState = copyState(st);
  if (d.t === SCALAR && isConst(s) && (bits === 64 || d.hi <= U32)) {
    const k = bits === 64 ? s.lo : s.lo & U32;
    const t = refine(op, d, k, true, bits), f = refine(op, d, k, false, bits);
    if (t === null) return pc + 1;
    if (f === null) return target;
    takenState.regs[dst] = t;
    st.regs[dst] = f;
  }
  return { taken: target, takenState, fallState: st };
}

/** A scalar as a comparison of `bits` sees it: unsigned bounds and known bits. */
function cmpView(r: Reg, bits: 32 | 64): [bigint, bigint, bigint, bigint] {
  if (bits === 64) return [r.lo, r.hi, r.tv, r.tm];
  if (r.hi <= U32) return [r.lo, r.hi, r.tv & U32, r.tm & U32];
  if (isConst(r)) return [r.lo & U32, r.lo & U32, r.lo & U32, 0n];
  return [0n, U32, r.tv & U32, r.tm & U32];
}

/** Signed bounds from unsigned ones that do not straddle the sign bit (else the whole range). */
function signedView(lo: bigint, hi: bigint, bits: 32 | 64): [bigint, bigint] {
  const half = 1n << BigInt(bits - 1);
  if (hi < half) return [lo, hi];
  if (lo >= half) return [lo - 2n * half, hi - 2n * half];
  return [-half, half - 1n];
}

/** A comparison of two scalars decided by their ranges and known bits: 1 always taken, 0 never, -1 either. */
function decide(op: number, bits: 32 | 64, a: Reg, b: Reg): number {
  if (isConst(a) && isConst(b)) {
    const m = bits === 32 ? U32 : U64;
    return jumpTaken(op, bits, a.lo & m, b.lo & m) ? 1 : 0;
  }
  const [alo, ahi, av, am] = cmpView(a, bits);
  const [blo, bhi, bv, bm] = cmpView(b, bits);
  const mask = bits === 32 ? U32 : U64;
  const differ = (~am & ~bm & mask & (av ^ bv)) !== 0n || ahi < blo || bhi < alo;
  const [sal, sah] = signedView(alo, ahi, bits);
  const [sbl, sbh] = signedView(blo, bhi, bits);
  switch (op) {
    case BPF_JEQ: return differ ? 0 : -1;
    case BPF_JNE: return differ ? 1 : -1;
    case BPF_JSET: return (av & bv) !== 0n ? 1 : ((av | am) & (bv | bm)) === 0n ? 0 : -1;
    case BPF_JGT: return alo > bhi ? 1 : ahi <= blo ? 0 : -1;
    case BPF_JGE: return alo >= bhi ? 1 : ahi < blo ? 0 : -1;
    case BPF_JLT: return ahi < blo ? 1 : alo >= bhi ? 0 : -1;
    case BPF_JLE: return ahi <= blo ? 1 : alo > bhi ? 0 : -1;
    case BPF_JSGT: return sal > sbh ? 1 : sah <= sbl ? 0 : -1;
    case BPF_JSGE: return sal >= sbh ? 1 : sah < sbl ? 0 : -1;
    case BPF_JSLT: return sah < sbl ? 1 : sal >= sbh ? 0 : -1;
    case BPF_JSLE: return sah <= sbl ? 1 : sal > sbh ? 0 : -1;
    default: return -1;
  }
}

/** The range of a compared against constant k where the jump is (taken) or is not; null: impossible. */
function refine(op: number, a: Reg, k: bigint, taken: boolean, bits: 32 | 64): Reg | null {
  let lo = a.lo, hi = a.hi;
  // A signed test of a range and a constant on the same side of the sign bit is the unsigned one.
  const half = 1n << BigInt(bits - 1);
  if ((hi < half && k < half) || (lo >= half && k >= half)) {
    const unsigned: Record<number, number> = { [BPF_JSGT]: BPF_JGT, [BPF_JSGE]: BPF_JGE, [BPF_JSLT]: BPF_JLT, [BPF_JSLE]: BPF_JLE };
    op = unsigned[op] ?? op;
  }
  const max = (x: bigint, y: bigint) => (x > y ? x : y);
  const min = (x: bigint, y: bigint) => (x < y ? x : y);
  let o = op;
  if (!taken) {
    // The fall-through of a test is the taken branch of its negation.
    const neg: Record<number, number> = {
      [BPF_JEQ]: BPF_JNE, [BPF_JNE]: BPF_JEQ, [BPF_JGT]: BPF_JLE, [BPF_JLE]: BPF_JGT, [BPF_JGE]: BPF_JLT, [BPF_JLT]: BPF_JGE,
    };
    const n = neg[op];
    if (op === BPF_JSET) {
      // Not taken: every bit of k is 0.
      return scalar(lo, hi, a.tv & ~k & U64, a.tm & ~k & U64);
    }
    if (n === undefined) return a;
    o = n;
  } else if (op === BPF_JSET) {
    // Taken with a single bit: that bit is 1.
    return k !== 0n && (k & (k - 1n)) === 0n ? scalar(lo, hi, a.tv | k, a.tm & ~k & U64) : a;
  }
  switch (o) {
    case BPF_JEQ: lo = max(lo, k); hi = min(hi, k); break;
    case BPF_JNE:
      if (lo === k) lo++;
      if (hi === k) hi--;
      break;
    case BPF_JGT: lo = max(lo, k + 1n); break;
    case BPF_JGE: lo = max(lo, k); break;
    case BPF_JLT: hi = min(hi, k - 1n); break;
    case BPF_JLE: hi = min(hi, k); break;
    default: return a;
  }
  return lo > hi ? null : scalar(lo, hi, a.tv, a.tm);
}

/** The log line Linux's verifier ends with on success (BPF_LOG_LEVEL1). */
export function successLog(processed: number): string {
  return `processed ${processed} insns (limit ${BPF_COMPLEXITY_LIMIT_INSNS}) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n`;
}

