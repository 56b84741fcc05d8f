/**
 * The stub program: a tiny static ELF, generated here byte by byte so that no native code ships
 * beside the TypeScript. A stub process hosts one application address space.
 *
 * What the stub does on its own, before the sentry takes over:
 *   1. prctl(PR_SET_PDEATHSIG, SIGKILL): it dies if the sentry dies before seizing it.
 *   2. kill(getpid(), SIGSTOP): it waits, stopped, for the sentry's PTRACE_SEIZE.
 * After that it never runs code of its own again. The sentry points the instruction pointer at
 * {@linkcode STUB_INJECT_ADDR} (`syscall; int3`) to make the host run a syscall it has checked,
 * and otherwise runs application code in the stub's address space under PTRACE_SYSEMU.
 *
 * @module
 */

/** Where the stub's single page is loaded. Application mappings must avoid this page. */
export const STUB_BASE = 0x7ffa_0000_0000;
/** Size of the stub's mapping. */
export const STUB_SIZE = 0x1000;

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const CODE_OFFSET = EHDR_SIZE + PHDR_SIZE;

// x86-64 machine code, assembled by hand; see the module doc for what it does.
const CODE_START = [
  0xb8, 0x9d, 0x00, 0x00, 0x00, // mov eax, 157 (prctl)
  0xbf, 0x01, 0x00, 0x00, 0x00, // mov edi, 1 (PR_SET_PDEATHSIG)
  0xbe, 0x09, 0x00, 0x00, 0x00, // mov esi, 9 (SIGKILL)
  0x0f, 0x05, //                   syscall
  0xb8, 0x27, 0x00, 0x00, 0x00, // mov eax, 39 (getpid)
  0x0f, 0x05, //                   syscall
  0x89, 0xc7, //                   mov edi, eax
  0xb8, 0x3e, 0x00, 0x00, 0x00, // mov eax, 62 (kill)
  0xbe, 0x13, 0x00, 0x00, 0x00, // mov esi, 19 (SIGSTOP)
  0x0f, 0x05, //                   syscall
];
const CODE_INJECT = [
  0x0f, 0x05, //                   inject: syscall
  0xcc, //                         int3
  0xeb, 0xfb, //                   jmp inject
];

/** The address of the `syscall; int3` pair used to run injected syscalls. */
export const STUB_INJECT_ADDR = STUB_BASE + CODE_OFFSET + CODE_START.length;
/** Where the instruction pointer is after an injected syscall trapped on its int3. */
export const STUB_INJECT_TRAP_ADDR = STUB_INJECT_ADDR + 3;

/** Builds the stub executable's bytes. */
export function buildStubElf(): Uint8Array {
  const code = [...CODE_START, ...CODE_INJECT];
  const size = CODE_OFFSET + code.length;
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0); // \x7fELF, 64-bit, little-endian, v1, SysV
  v.setUint16(16, 2, true); // e_type = ET_EXEC
  v.setUint16(18, 62, true); // e_machine = EM_X86_64
  v.setUint32(20, 1, true); // e_version
  v.setBigUint64(24, BigInt(STUB_BASE + CODE_OFFSET), true); // e_entry
  v.setBigUint64(32, BigInt(EHDR_SIZE), true); // e_phoff
  v.setBigUint64(40, 0n, true); // e_shoff
  v.setUint32(48, 0, true); // e_flags
  v.setUint16(52, EHDR_SIZE, true); // e_ehsize
  v.setUint16(54, PHDR_SIZE, true); // e_phentsize
  v.setUint16(56, 1, true); // e_phnum
  v.setUint16(58, 64, true); // e_shentsize
  // Program header: one PT_LOAD, read + execute, covering the whole file.
  const ph = EHDR_SIZE;
  v.setUint32(ph + 0, 1, true); // p_type = PT_LOAD
  v.setUint32(ph + 4, 5, true); // p_flags = PF_R | PF_X
  v.setBigUint64(ph + 8, 0n, true); // p_offset
  v.setBigUint64(ph + 16, BigInt(STUB_BASE), true); // p_vaddr
  v.setBigUint64(ph + 24, BigInt(STUB_BASE), true); // p_paddr
  v.setBigUint64(ph + 32, BigInt(size), true); // p_filesz
  v.setBigUint64(ph + 40, BigInt(size), true); // p_memsz
  v.setBigUint64(ph + 48, 0x1000n, true); // p_align
  b.set(code, CODE_OFFSET);
  return b;
}
