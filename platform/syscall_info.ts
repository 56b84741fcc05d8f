/**
 * The number and arguments of a syscall at a syscall stop, laid out as Linux's
 * `struct ptrace_syscall_info` (op, arch, instruction and stack pointers, nr, args[6]). Reading
 * this is much cheaper than reading every register, and it is all most handlers need.
 *
 * @module
 */

const OFF = { op: 0, arch: 4, ip: 8, sp: 16, nr: 24, args: 32 } as const;
export const SYSCALL_INFO_SIZE = 80;

export class SyscallInfo {
  readonly bytes = new Uint8Array(SYSCALL_INFO_SIZE);
  readonly #v = new DataView(this.bytes.buffer);

  /** The syscall number (orig_rax). */
  get nr(): number {
    return this.#v.getUint32(OFF.nr, true);
  }

  /** The instruction pointer after the `syscall` instruction. */
  get ip(): number {
    return this.#num(OFF.ip);
  }

  /** The instruction pointer as a full 64-bit value (a vsyscall entry's is past 2^53). */
  get ip64(): bigint {
    return this.#v.getBigUint64(OFF.ip, true);
  }

  get sp(): number {
    return this.#num(OFF.sp);
  }

  /** Argument i (0-5) as an unsigned number; exact below 2^53. */
  arg(i: number): number {
    return this.#num(OFF.args + 8 * i);
  }

  /** Argument i as a full 64-bit unsigned value. */
  arg64(i: number): bigint {
    return this.#v.getBigUint64(OFF.args + 8 * i, true);
  }

  /** Low 32 bits of argument i, signed (a C int). */
  argInt(i: number): number {
    return this.#v.getInt32(OFF.args + 8 * i, true);
  }

  /** Low 32 bits of argument i, unsigned. */
  argUint(i: number): number {
    return this.#v.getUint32(OFF.args + 8 * i, true);
  }

  /** Fills the structure from registers (for platforms that read all registers anyway). */
  setFrom(nr: number, args: readonly bigint[], ip: number | bigint, sp: number): void {
    this.#v.setUint8(OFF.op, 1);
    this.#v.setBigUint64(OFF.ip, BigInt(ip), true);
    this.#v.setBigUint64(OFF.sp, BigInt(sp), true);
    this.#v.setBigUint64(OFF.nr, BigInt(nr), true);
    args.forEach((a, i) => this.#v.setBigUint64(OFF.args + 8 * i, BigInt.asUintN(64, a), true));
  }

  #num(o: number): number {
    return this.#v.getUint32(o + 4, true) * 0x1_0000_0000 + this.#v.getUint32(o, true);
  }
}
