/**
 * Programs for the interpreter's and the verifier's tests, written as struct bpf_insn tuples
 * `[code, dst, src, off, imm]` (Linux's layout: the registers share a byte, src high).
 *
 * @module
 */

import { decodeInsns, type Insns } from "./insn.ts";

/** One instruction: [code, dst_reg, src_reg, off, imm]. */
export type I = [number, number, number, number, number];

/** Encodes the instructions as struct bpf_insn and decodes them as a loaded program is. */
export function prog(...insns: I[]): Insns {
  const raw = new Uint8Array(insns.length * 8);
  const v = new DataView(raw.buffer);
  insns.forEach(([code, dst, src, off, imm], i) => {
    raw[i * 8] = code;
    raw[i * 8 + 1] = (src << 4) | dst;
    v.setInt16(i * 8 + 2, off, true);
    v.setInt32(i * 8 + 4, imm, true);
  });
  return decodeInsns(raw);
}

/** BPF_JMP | BPF_EXIT. */
export const EXIT: I = [0x95, 0, 0, 0, 0];
/** BPF_ALU64 | BPF_MOV | BPF_K: dst = imm (sign-extended). */
export const movK = (d: number, imm: number): I => [0xb7, d, 0, 0, imm];
/** BPF_ALU64 | op | BPF_X: dst op= src (off 1: the signed form of div and mod). */
export const alu64X = (op: number, d: number, s: number, off = 0): I => [0x0f | op, d, s, off, 0];
/** BPF_ALU | op | BPF_X: the 32-bit form. */
export const alu32X = (op: number, d: number, s: number, off = 0): I => [0x0c | op, d, s, off, 0];
