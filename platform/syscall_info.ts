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

  /**
   * The syscall's AUDIT_ARCH_*: x86-64's for `syscall`, i386's for `int 0x80` (whose number is
   * i386's and whose arguments are ebx, ecx, edx, esi, edi, ebp). 0 when the platform does not say.
   */
  get arch(): number {
    return this.#v.getUint32(OFF.arch, true);
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

  /**
   * Makes an `int 0x80` the x86-64 call `nr`, its arguments cut to 32 bits as
   * do_int80_syscall_32 takes them; a run again of the call (after a sleep) sees that call.
   */
  asX86_64(nr: number): void {
    this.#v.setUint32(OFF.arch, 0xc000003e /* AUDIT_ARCH_X86_64 */, true);
    this.#v.setBigUint64(OFF.nr, BigInt(nr), true);
    for (let i = 0; i < 6; i++) this.#v.setBigUint64(OFF.args + 8 * i, this.arg64(i) & 0xffff_ffffn, true);
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
