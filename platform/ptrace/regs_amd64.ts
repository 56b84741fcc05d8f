/**
 * x86-64 general registers as the host's `struct user_regs_struct` (what PTRACE_GETREGS fills),
 * held in one byte buffer so that a stop costs a single copy and no allocation.
 *
 * Values are read as JavaScript numbers where they fit (addresses, syscall arguments: two 32-bit
 * halves, exact below 2^53) and as bigint where every bit matters.
 *
 * @module
 */

/** Byte offsets of `struct user_regs_struct` fields. */
export const REG = {
  r15: 0, r14: 8, r13: 16, r12: 24, rbp: 32, rbx: 40, r11: 48, r10: 56, r9: 64, r8: 72,
  rax: 80, rcx: 88, rdx: 96, rsi: 104, rdi: 112, orig_rax: 120, rip: 128, cs: 136,
  eflags: 144, rsp: 152, ss: 160, fs_base: 168, gs_base: 176, ds: 184, es: 192, fs: 200,
  gs: 208,
} as const;
export type RegName = keyof typeof REG;
export const USER_REGS_SIZE = 216;

/** Size of the FXSAVE area PTRACE_GETFPREGS fills. */
export const FPREGS_SIZE = 512;

/** @savable (as its bytes) */
export class Registers {
  readonly bytes: Uint8Array;
  readonly #view: DataView;

  constructor(bytes?: Uint8Array) {
    this.bytes = bytes ?? new Uint8Array(USER_REGS_SIZE);
    this.#view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  /** The register as an unsigned number; exact below 2^53, approximate above. */
  get(r: RegName): number {
    const o = REG[r];
    return this.#view.getUint32(o + 4, true) * 0x1_0000_0000 + this.#view.getUint32(o, true);
  }

  /** The register as a full 64-bit unsigned value. */
  get64(r: RegName): bigint {
    return this.#view.getBigUint64(REG[r], true);
  }

  /**
   * Sets a register from an integer (negative values are stored as two's complement, values
   * beyond 64 bits are cut to their low 64 bits). Not an integer: a RangeError, and the register
   * keeps its value.
   */
  set(r: RegName, v: number): void {
    const o = REG[r];
    if (v >= 0 && v < 0x1_0000_0000) {
      this.#view.setUint32(o, v, true);
      this.#view.setUint32(o + 4, 0, true);
    } else if (v < 0 && v >= -0x8000_0000) {
      this.#view.setInt32(o, v, true);
      this.#view.setInt32(o + 4, -1, true);
    } else {
      this.#view.setBigUint64(o, BigInt.asUintN(64, BigInt(v)), true);
    }
  }

  set64(r: RegName, v: bigint): void {
    this.#view.setBigUint64(REG[r], BigInt.asUintN(64, v), true);
  }

  /** Low 32 bits, signed. */
  getInt32(r: RegName): number {
    return this.#view.getInt32(REG[r], true);
  }

  copyFrom(other: Registers): void {
    this.bytes.set(other.bytes);
  }

  clone(): Registers {
    return new Registers(this.bytes.slice());
  }
}

/** The default FXSAVE image: x87 control word 0x37f, MXCSR 0x1f80, everything else zero. */
export function defaultFpState(): Uint8Array {
  const fp = new Uint8Array(FPREGS_SIZE);
  const v = new DataView(fp.buffer);
  v.setUint16(0, 0x37f, true);
  v.setUint32(24, 0x1f80, true);
  v.setUint32(28, 0xffff, true); // MXCSR_MASK
  return fp;
}
