/**
 * eBPF instructions decoded, and the arithmetic the verifier and the interpreter share: one ALU
 * and one comparison, with Linux's semantics (kernel/bpf/core.c's ___bpf_prog_run after the
 * verifier's fix-ups: division by zero gives 0, modulo by zero leaves the dividend, signed
 * division by -1 negates, 32-bit operations zero the upper half).
 *
 * @module
 */

import {
  BPF_ADD, BPF_AND, BPF_ARSH, BPF_DIV, BPF_END, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JNE, BPF_JSET,
  BPF_JSGE, BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_LSH, BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OR, BPF_RSH, BPF_SUB,
  BPF_TO_BE, BPF_XOR,
} from "../../abi/linux/bpf.ts";

/** A program's instructions, one array per field (struct bpf_insn). Immutable once decoded. */
export interface Insns {
  readonly n: number;
  readonly code: Uint8Array;
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly off: Int16Array;
  readonly imm: Int32Array;
}

/** Splits raw struct bpf_insn bytes (a multiple of 8) into fields. */
export function decodeInsns(raw: Uint8Array): Insns {
  const n = raw.length >>> 3;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const code = new Uint8Array(n), dst = new Uint8Array(n), src = new Uint8Array(n);
  const off = new Int16Array(n), imm = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const b = i * 8;
    code[i] = raw[b]!;
    dst[i] = raw[b + 1]! & 0xf;
    src[i] = raw[b + 1]! >>> 4;
    off[i] = view.getInt16(b + 2, true);
    imm[i] = view.getInt32(b + 4, true);
  }
  return { n, code, dst, src, off, imm };
}

export const U64 = (1n << 64n) - 1n;
export const U32 = 0xffff_ffffn;

/** A 64-bit value as signed. */
export function s64(v: bigint): bigint {
  return BigInt.asIntN(64, v);
}

/** An instruction's imm as a 64-bit operand (sign-extended, as the ALU64 and JMP classes take it). */
export function immOperand(imm: number): bigint {
  return BigInt.asUintN(64, BigInt(imm));
}

/** Swaps the bytes of the low `bits` bits of v. */
function bswap(v: bigint, bits: number): bigint {
  let r = 0n;
  for (let i = 0; i < bits; i += 8) r = (r << 8n) | ((v >> BigInt(i)) & 0xffn);
  return r;
}

/**
 * One ALU operation (op: BPF_ADD ... BPF_END) on 64-bit operands; is64: the ALU64 class. off:
 * the instruction's offset (1: signed division or modulo; 8/16/32 on a move: sign extension).
 * For BPF_END, src is unused and imm is the width; srcBit says BPF_TO_BE (or bswap in ALU64).
 */
export function aluOp(op: number, is64: boolean, dst: bigint, src: bigint, off: number, imm: number, srcBit: number): bigint {
  if (op === BPF_END) {
    const low = dst & ((1n << BigInt(imm)) - 1n);
    return srcBit === BPF_TO_BE || is64 ? bswap(low, imm) : low;
  }
  if (!is64) {
    dst &= U32;
    src &= U32;
  }
  const mask = is64 ? U64 : U32;
  const bits = is64 ? 64 : 32;
  let r: bigint;
  switch (op) {
    case BPF_ADD: r = dst + src; break;
    case BPF_SUB: r = dst - src; break;
    case BPF_MUL: r = dst * src; break;
    case BPF_OR: r = dst | src; break;
    case BPF_AND: r = dst & src; break;
    case BPF_XOR: r = dst ^ src; break;
    case BPF_LSH: r = dst << (src & BigInt(bits - 1)); break;
    case BPF_RSH: r = dst >> (src & BigInt(bits - 1)); break;
    case BPF_ARSH: r = BigInt.asIntN(bits, dst) >> (src & BigInt(bits - 1)); break;
    case BPF_NEG: r = -dst; break;
    case BPF_DIV:
      if (src === 0n) r = 0n;
      else if (off === 1) {
        const a = BigInt.asIntN(bits, dst), b = BigInt.asIntN(bits, src);
        r = b === -1n ? -a : a / b;
      } else r = dst / src;
      break;
    case BPF_MOD:
      if (src === 0n) r = dst;
      else if (off === 1) {
        const a = BigInt.asIntN(bits, dst), b = BigInt.asIntN(bits, src);
        r = b === -1n ? 0n : a % b;
      } else r = dst % src;
      break;
    case BPF_MOV:
      r = off === 0 ? src : BigInt.asIntN(off, src);
      break;
    default:
      r = 0n;
  }
  return r & mask;
}

/** A conditional jump's test (op: BPF_JEQ ... BPF_JSLE) on operands already cut to `bits`. */
export function jumpTaken(op: number, bits: 32 | 64, a: bigint, b: bigint): boolean {
  switch (op) {
    case BPF_JEQ: return a === b;
    case BPF_JNE: return a !== b;
    case BPF_JGT: return a > b;
    case BPF_JGE: return a >= b;
    case BPF_JLT: return a < b;
    case BPF_JLE: return a <= b;
    case BPF_JSET: return (a & b) !== 0n;
    case BPF_JSGT: return BigInt.asIntN(bits, a) > BigInt.asIntN(bits, b);
    case BPF_JSGE: return BigInt.asIntN(bits, a) >= BigInt.asIntN(bits, b);
    case BPF_JSLT: return BigInt.asIntN(bits, a) < BigInt.asIntN(bits, b);
    case BPF_JSLE: return BigInt.asIntN(bits, a) <= BigInt.asIntN(bits, b);
    default: return false;
  }
}

/** bpf_opcode_in_insntable: the opcodes Linux accepts at all (others: "unknown opcode"). */
export const VALID_OPCODES: ReadonlySet<number> = (() => {
  const s = new Set<number>();
  const aluOps = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0];
  for (const cls of [0x04, 0x07]) {
    for (const op of aluOps) for (const src of [0x00, 0x08]) s.add(cls | op | src);
    s.add(cls | 0x80); // NEG
  }
  s.add(0x04 | 0xd0 | 0x00).add(0x04 | 0xd0 | 0x08).add(0x07 | 0xd0); // END (ALU: LE, BE; ALU64: bswap)
  const jmpOps = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0];
  for (const cls of [0x05, 0x06]) for (const op of jmpOps) for (const src of [0x00, 0x08]) s.add(cls | op | src);
  s.add(0x05).add(0x06).add(0x85).add(0x95); // JA, JMP32 JA (gotol), CALL, EXIT
  s.add(0x18); // LD IMM DW
  for (const sz of [0x00, 0x08, 0x10]) s.add(0x20 | sz).add(0x40 | sz); // LD ABS/IND W H B
  for (const sz of [0x00, 0x08, 0x10, 0x18]) s.add(0x61 | sz).add(0x62 | sz).add(0x63 | sz); // LDX/ST/STX MEM
  for (const sz of [0x00, 0x08, 0x10]) s.add(0x81 | sz); // LDX MEMSX
  s.add(0xc3).add(0xdb); // STX ATOMIC W DW
  return s;
})();

/** Bytes moved by a load or store of size field sz (BPF_W, BPF_H, BPF_B, BPF_DW). */
export function sizeBytes(sz: number): number {
  return sz === 0x00 ? 4 : sz === 0x08 ? 2 : sz === 0x10 ? 1 : 8;
}

/**
 * The helpers a cgroup device program may call that take no argument (cgroup_dev_func_proto's
 * share of bpf_base_func_proto and cgroup_current_func_proto), by BPF_FUNC_* number. Each
 * returns a scalar; the call clobbers R1-R5.
 */
export const HELPERS: ReadonlyMap<number, string> = new Map([
  [5, "ktime_get_ns"],
  [7, "get_prandom_u32"],
  [8, "get_smp_processor_id"],
  [14, "get_current_pid_tgid"],
  [15, "get_current_uid_gid"],
  [42, "get_numa_node_id"],
  [80, "get_current_cgroup_id"],
  [125, "ktime_get_boot_ns"],
  [160, "ktime_get_coarse_ns"],
]);
