/**
 * The eBPF interpreter: runs a verified program over a context, as Linux's ___bpf_prog_run
 * (kernel/bpf/core.c). No JIT and no host eBPF: registers are bigints, the context and the
 * 512-byte stack are byte arrays behind two made-up base addresses, and every load and store is
 * checked against them, so a program the verifier should have refused still cannot touch
 * anything else (it is stopped and treated as returning 0). The number of steps is bounded too.
 *
 * @module
 */

import {
  BPF_ALU, BPF_ALU64, BPF_CALL, BPF_DW, BPF_EXIT, BPF_JA, BPF_JMP32, BPF_LD, BPF_LDX, BPF_MEMSX, BPF_ST, BPF_STX,
  BPF_X, MAX_BPF_STACK,
} from "../../abi/linux/bpf.ts";
import { aluOp, HELPERS, immOperand, type Insns, jumpTaken, sizeBytes, U32, U64 } from "./insn.ts";

/** Where the context and the stack seem to be, to the program. */
const CTX_BASE = 0x1000_0000_0000n;
const STACK_TOP = 0x2000_0000_0000n;
/** Steps a run may take: the verifier walked every path within BPF_COMPLEXITY_LIMIT_INSNS. */
const MAX_STEPS = 1_000_000;

/** Why a run stopped without an answer (a verifier gap; never the program's success). */
export class RunFault extends Error {}

/** The memory an address falls in, or a fault. */
function region(addr: bigint, size: number, ctx: Uint8Array, stack: Uint8Array, write: boolean): [Uint8Array, number] {
  if (addr >= CTX_BASE && addr + BigInt(size) <= CTX_BASE + BigInt(ctx.length) && !write) {
    return [ctx, Number(addr - CTX_BASE)];
  }
  const lo = STACK_TOP - BigInt(MAX_BPF_STACK);
  if (addr >= lo && addr + BigInt(size) <= STACK_TOP) return [stack, Number(addr - lo)];
  throw new RunFault(`access of ${size} bytes at 0x${addr.toString(16)} outside the context and the stack`);
}

function load(mem: Uint8Array, at: number, size: number): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(mem[at + i]!);
  return v;
}

function store(mem: Uint8Array, at: number, size: number, v: bigint): void {
  for (let i = 0; i < size; i++) {
    mem[at + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** Answers a helper call (HELPERS' numbers) for the task the program runs for. */
export type HelperFn = (id: number) => bigint;

const noHelpers: HelperFn = (id) => {
  throw new RunFault(`helper ${id} without a task`);
};

/** Runs p with R1 pointing at ctx (read-only); returns R0. Throws RunFault. */
export function run(p: Insns, ctx: Uint8Array, helper: HelperFn = noHelpers): bigint {
  const r: bigint[] = new Array<bigint>(11).fill(0n);
  const stack = new Uint8Array(MAX_BPF_STACK);
  r[1] = CTX_BASE;
  r[10] = STACK_TOP;
  let pc = 0;
  for (let steps = 0; steps < MAX_STEPS; steps++) {
    if (pc < 0 || pc >= p.n) throw new RunFault(`pc ${pc} out of the program`);
    const code = p.code[pc]!;
    const dst = p.dst[pc]!, src = p.src[pc]!, off = p.off[pc]!, imm = p.imm[pc]!;
    if (dst > 10 || src > 10) throw new RunFault(`bad register at ${pc}`);
    const cls = code & 7;
    switch (cls) {
      case BPF_ALU:
      case BPF_ALU64: {
        const is64 = cls === BPF_ALU64;
        const operand = (code & BPF_X) ? r[src]! : is64 ? immOperand(imm) : BigInt(imm >>> 0);
        r[dst] = aluOp(code & 0xf0, is64, r[dst]!, operand, off, imm, code & BPF_X);
        pc++;
        break;
      }
      case BPF_LDX: {
        const size = sizeBytes(code & 0x18);
        const [mem, at] = region((r[src]! + BigInt(off)) & U64, size, ctx, stack, false);
        let v = load(mem, at, size);
        if ((code & 0xe0) === BPF_MEMSX) v = BigInt.asUintN(64, BigInt.asIntN(size * 8, v));
        r[dst] = v;
        pc++;
        break;
      }
      case BPF_ST:
      case BPF_STX: {
        const size = sizeBytes(code & 0x18);
        const [mem, at] = region((r[dst]! + BigInt(off)) & U64, size, ctx, stack, true);
        store(mem, at, size, cls === BPF_ST ? immOperand(imm) : r[src]!);
        pc++;
        break;
      }
      case BPF_LD: {
        if ((code & 0x18) !== BPF_DW) throw new RunFault(`unexpected LD at ${pc}`);
        r[dst] = (BigInt(p.imm[pc + 1]! >>> 0) << 32n) | BigInt(imm >>> 0);
        pc += 2;
        break;
      }
      default: { // BPF_JMP, BPF_JMP32
        const op = code & 0xf0;
        if (op === BPF_EXIT) return r[0]!;
        if (op === BPF_CALL) {
          if (!HELPERS.has(imm)) throw new RunFault(`call of helper ${imm} at ${pc}`);
          r[0] = helper(imm) & U64;
          r[1] = r[2] = r[3] = r[4] = r[5] = 0n;
          pc++;
          break;
        }
        if (op === BPF_JA) {
          pc += (cls === BPF_JMP32 ? imm : off) + 1;
          break;
        }
        const bits = cls === BPF_JMP32 ? 32 : 64;
        const m = bits === 32 ? U32 : U64;
        const b = (code & BPF_X) ? r[src]! : immOperand(imm);
        pc += jumpTaken(op, bits, r[dst]! & m, b & m) ? off + 1 : 1;
      }
    }
  }
  throw new RunFault(`more than ${MAX_STEPS} steps`);
}
