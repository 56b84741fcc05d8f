/**
 * Whether a fault was a write: a SIGSEGV stop tells the address, not the access (x86's page
 * fault error code reaches only a signal frame). userfaultfd's UFFD_PAGEFAULT_FLAG_WRITE needs
 * it, so the faulting instruction is decoded, as far as the stores a program really makes: mov
 * to memory (general, SSE, AVX), string stores (the destination is rdi), read-modify-write
 * arithmetic, xchg, cmpxchg, xadd, setcc, bit-test-and-change. Anything else counts as a read.
 *
 * @module
 */

import type { Task } from "./task.ts";

/** One-byte opcodes with a ModRM memory operand that they write. */
const STORE_1 = new Set([
  0x00, 0x01, 0x08, 0x09, 0x10, 0x11, 0x18, 0x19, 0x20, 0x21, 0x28, 0x29, 0x30, 0x31, 0x86, 0x87, 0x88, 0x89, 0xc6, 0xc7,
  0xc0, 0xc1, 0xd0, 0xd1, 0xd2, 0xd3,
]);
/** Two-byte (0F xx) opcodes, legacy or VEX-encoded, that write their ModRM memory operand. */
const STORE_0F = new Set([0x11, 0x13, 0x17, 0x29, 0x2b, 0x7f, 0xd6, 0xe7, 0xb0, 0xb1, 0xc0, 0xc1, 0xc3, 0xab, 0xb3, 0xbb]);

/** True when t's instruction at rip writes memory (at `addr` for string stores). */
export function faultIsWrite(t: Task, addr: number): boolean {
  const regs = t.ctx.regs;
  const code = new Uint8Array(15);
  const n = t.mm.read(Number(regs.get("rip")), code);
  let i = 0;
  let op66 = false;
  while (i < n) {
    const b = code[i]!;
    if (b === 0x66) op66 = true;
    else if (![0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65].includes(b) && (b & 0xf0) !== 0x40) break;
    i++;
  }
  if (i >= n) return false;
  const op = code[i]!;
  const modrmMem = (at: number) => at < n && (code[at]! >> 6) !== 3;
  const reg = (at: number) => at < n ? (code[at]! >> 3) & 7 : -1;
  // String stores write at rdi.
  if (op === 0xaa || op === 0xab || op === 0xa4 || op === 0xa5) {
    const rdi = Number(regs.get("rdi"));
    return Math.floor(rdi / 4096) === Math.floor(addr / 4096);
  }
  if (STORE_1.has(op)) return modrmMem(i + 1);
  if (op === 0x80 || op === 0x81 || op === 0x83) return modrmMem(i + 1) && reg(i + 1) !== 7;
  if (op === 0xfe || op === 0xff) return modrmMem(i + 1) && reg(i + 1) <= 1;
  if (op === 0xf6 || op === 0xf7) return modrmMem(i + 1) && (reg(i + 1) === 2 || reg(i + 1) === 3);
  let op2 = -1, at = -1, pp66 = op66;
  if (op === 0x0f && i + 1 < n) {
    op2 = code[i + 1]!;
    at = i + 2;
  } else if (op === 0xc5 && i + 2 < n) {
    pp66 = (code[i + 1]! & 3) === 1;
    op2 = code[i + 2]!;
    at = i + 3;
  } else if (op === 0xc4 && i + 3 < n && (code[i + 1]! & 0x1f) === 1) {
    pp66 = (code[i + 2]! & 3) === 1;
    op2 = code[i + 3]!;
    at = i + 4;
  }
  if (op2 < 0) return false;
  if (STORE_0F.has(op2) || (op2 >= 0x90 && op2 <= 0x9f) || (op2 === 0x7e && pp66)) return modrmMem(at);
  return false;
}
