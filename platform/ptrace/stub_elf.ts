/**
 * The stub program: a tiny static ELF, generated here byte by byte so that no native code ships
 * beside the TypeScript. A stub process hosts one application address space.
 *
 * What the stub does on its own, before the sentry takes over:
 *   1. prctl(PR_SET_PDEATHSIG, SIGKILL): it dies if the sentry dies before seizing it.
 *   2. rt_sigaction(SIGCHLD, SIG_IGN): stubs forked from it are reaped by the host as soon as
 *      the sentry has collected their exit (no zombie waits for a parent that never runs).
 *   3. kill(getpid(), SIGSTOP): it waits, stopped, for the sentry's PTRACE_SEIZE.
 * After that it never runs code of its own again. The sentry points the instruction pointer at
 * {@linkcode STUB_INJECT_ADDR} (`syscall; int3`) to make the host run one syscall it has
 * checked, or at {@linkcode STUB_BATCH_ADDR} to run a table of them (see below), and otherwise
 * runs application code in the stub's address space under PTRACE_SYSEMU.
 *
 * Two pages: the code (read + execute, never writable) and a data page (read + write) that
 * holds the batch table. Application threads can write the data page like any memory of their
 * address space, so the sentry runs a batch only while every thread of the stub is stopped, and
 * writes the table right before (see `StubAddressSpace.#runBatch`).
 *
 * The batch runner: rdi = table, rsi = entry count. Each entry is 8 little-endian quadwords:
 * nr, arg0..arg5, flags. It runs the entries in order, writes each result over its nr, and
 * ends with the first error (-4095..-1) of the batch in rax, or 0: the sentry reads the table
 * back only when it needs more than that.
 * Flags chain a descriptor from one syscall to the next without a round trip:
 *   {@linkcode BATCH_SAVE_RESULT}: keep the result in r12 (e.g. the fd pidfd_getfd returns);
 *   {@linkcode BATCH_ARG0_SAVED}: arg0 := r12 (close(fd)); {@linkcode BATCH_ARG4_SAVED}: arg4 :=
 *   r12 (mmap's fd).
 * It ends on an int3 at {@linkcode STUB_BATCH_TRAP_ADDR}.
 *
 * @module
 */

/** Where the stub's pages are loaded. Application mappings must avoid them. */
export const STUB_BASE = 0x7ffa_0000_0000;
/** Size of the stub's mappings (code page and data page). */
export const STUB_SIZE = 0x2000;
/** The data page: the batch table. */
export const STUB_DATA = STUB_BASE + 0x1000;
/** Bytes of one batch entry. */
export const BATCH_ENTRY_SIZE = 64;
/** Entries that fit in the data page. */
export const BATCH_MAX_ENTRIES = 0x1000 / BATCH_ENTRY_SIZE;
export const BATCH_SAVE_RESULT = 1;
export const BATCH_ARG0_SAVED = 2;
export const BATCH_ARG4_SAVED = 4;

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const PHNUM = 2;
const CODE_OFFSET = EHDR_SIZE + PHNUM * PHDR_SIZE;

// x86-64 machine code, assembled with GNU as (intel syntax) and pasted; see the module doc.
const CODE_START = [
  0xb8, 0x9d, 0x00, 0x00, 0x00, //       mov eax, 157 (prctl)
  0xbf, 0x01, 0x00, 0x00, 0x00, //       mov edi, 1 (PR_SET_PDEATHSIG)
  0xbe, 0x09, 0x00, 0x00, 0x00, //       mov esi, 9 (SIGKILL)
  0x0f, 0x05, //                         syscall
  0xb8, 0x0d, 0x00, 0x00, 0x00, //       mov eax, 13 (rt_sigaction)
  0xbf, 0x11, 0x00, 0x00, 0x00, //       mov edi, 17 (SIGCHLD)
  0x48, 0x8d, 0x35, 0x96, 0x00, 0x00, 0x00, // lea rsi, [rip + ign] (0x96 ahead)
  0x31, 0xd2, //                         xor edx, edx (no old action)
  0x41, 0xba, 0x08, 0x00, 0x00, 0x00, // mov r10d, 8 (sigset size)
  0x0f, 0x05, //                         syscall
  0xb8, 0x27, 0x00, 0x00, 0x00, //       mov eax, 39 (getpid)
  0x0f, 0x05, //                         syscall
  0x89, 0xc7, //                         mov edi, eax
  0xb8, 0x3e, 0x00, 0x00, 0x00, //       mov eax, 62 (kill)
  0xbe, 0x13, 0x00, 0x00, 0x00, //       mov esi, 19 (SIGSTOP)
  0x0f, 0x05, //                         syscall
];
const CODE_INJECT = [
  0x0f, 0x05, //                         inject: syscall
  0xcc, //                               int3
  0xeb, 0xfb, //                         jmp inject
];
const CODE_BATCH = [
  0x49, 0x89, 0xfd, //                   batch: mov r13, rdi        (cursor)
  0x49, 0x89, 0xf6, //                   mov r14, rsi               (entries left)
  0x45, 0x31, 0xff, //                   xor r15d, r15d             (first error)
  0x4d, 0x85, 0xf6, //                   next: test r14, r14
  0x74, 0x57, //                         jz done
  0x49, 0x8b, 0x45, 0x00, //             mov rax, [r13]             nr
  0x49, 0x8b, 0x7d, 0x08, //             mov rdi, [r13+8]           arg0
  0x49, 0x8b, 0x75, 0x10, //             mov rsi, [r13+16]
  0x49, 0x8b, 0x55, 0x18, //             mov rdx, [r13+24]
  0x4d, 0x8b, 0x55, 0x20, //             mov r10, [r13+32]
  0x4d, 0x8b, 0x45, 0x28, //             mov r8, [r13+40]           arg4
  0x4d, 0x8b, 0x4d, 0x30, //             mov r9, [r13+48]
  0x49, 0x8b, 0x5d, 0x38, //             mov rbx, [r13+56]          flags
  0xf6, 0xc3, 0x02, //                   test bl, BATCH_ARG0_SAVED
  0x74, 0x03, //                         jz 1f
  0x4c, 0x89, 0xe7, //                   mov rdi, r12
  0xf6, 0xc3, 0x04, //                   1: test bl, BATCH_ARG4_SAVED
  0x74, 0x03, //                         jz 2f
  0x4d, 0x89, 0xe0, //                   mov r8, r12
  0x0f, 0x05, //                         2: syscall
  0xf6, 0xc3, 0x01, //                   test bl, BATCH_SAVE_RESULT
  0x74, 0x03, //                         jz 3f
  0x49, 0x89, 0xc4, //                   mov r12, rax
  0x49, 0x89, 0x45, 0x00, //             3: mov [r13], rax          result over nr
  0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, // cmp rax, -4095
  0x72, 0x08, //                         jb 4f                      (not an error)
  0x4d, 0x85, 0xff, //                   test r15, r15
  0x75, 0x03, //                         jnz 4f                     (not the first)
  0x49, 0x89, 0xc7, //                   mov r15, rax
  0x49, 0x83, 0xc5, 0x40, //             4: add r13, 64
  0x49, 0xff, 0xce, //                   dec r14
  0xeb, 0xa4, //                         jmp next
  0x4c, 0x89, 0xf8, //                   done: mov rax, r15
  0xcc, //                               int3
  0xeb, 0x95, //                         jmp batch
  0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00, // nop (pads ign to 8 bytes)
];
// ign: struct kernel_sigaction { handler = SIG_IGN, flags = 0, restorer = 0, mask = 0 }.
const DATA_IGN = [1, 0, 0, 0, 0, 0, 0, 0, ...new Array<number>(24).fill(0)];

/** The address of the `syscall; int3` pair used to run injected syscalls. */
export const STUB_INJECT_ADDR = STUB_BASE + CODE_OFFSET + CODE_START.length;
/** Where the instruction pointer is after an injected syscall trapped on its int3. */
export const STUB_INJECT_TRAP_ADDR = STUB_INJECT_ADDR + 3;
/** The batch runner (rdi = table, rsi = count). */
export const STUB_BATCH_ADDR = STUB_INJECT_ADDR + CODE_INJECT.length;
/** Where the instruction pointer is after a batch trapped on its int3. */
export const STUB_BATCH_TRAP_ADDR = STUB_BATCH_ADDR + 0x69;
/**
 * The two host syscall sites of the stub, as the host reports them to a seccomp filter
 * (seccomp_data.instruction_pointer: the address right after the `syscall` instruction).
 * Nothing else in the stub's code may make a host syscall once it is confined.
 */
export const STUB_INJECT_SYSCALL_END = STUB_INJECT_ADDR + 2;
export const STUB_BATCH_SYSCALL_END = STUB_BATCH_ADDR + 64;

/**
 * A futex op's compare-and-exchange on application memory only the stub maps (host anonymous
 * memory, pages copied on write after a fork): rdi = the word, esi = expected, edx = new; eax
 * = the word found, at the int3. A fault leaves the thread on the cmpxchg (STUB_CAS_ADDR + 2).
 */
const CODE_CAS = [
  0x89, 0xf0, //                         cas: mov eax, esi
  0xf0, 0x0f, 0xb1, 0x17, //             lock cmpxchg [rdi], edx
  0xcc, //                               int3
];
/** The compare-and-exchange routine (after the data of CODE_BATCH's page). */
export const STUB_CAS_ADDR = STUB_BATCH_ADDR + CODE_BATCH.length + DATA_IGN.length;
/** The cmpxchg instruction, where a fault stops the thread. */
export const STUB_CAS_INSN_ADDR = STUB_CAS_ADDR + 2;
/** Where the instruction pointer is after the routine trapped on its int3. */
export const STUB_CAS_TRAP_ADDR = STUB_CAS_ADDR + CODE_CAS.length;

/** Builds the stub executable's bytes. */
export function buildStubElf(): Uint8Array {
  const code = [...CODE_START, ...CODE_INJECT, ...CODE_BATCH, ...DATA_IGN, ...CODE_CAS];
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
  v.setUint16(56, PHNUM, true); // e_phnum
  v.setUint16(58, 64, true); // e_shentsize
  // PT_LOAD 1: read + execute, covering the whole file (headers and code).
  let ph = EHDR_SIZE;
  v.setUint32(ph + 0, 1, true); // p_type = PT_LOAD
  v.setUint32(ph + 4, 5, true); // p_flags = PF_R | PF_X
  v.setBigUint64(ph + 8, 0n, true); // p_offset
  v.setBigUint64(ph + 16, BigInt(STUB_BASE), true); // p_vaddr
  v.setBigUint64(ph + 24, BigInt(STUB_BASE), true); // p_paddr
  v.setBigUint64(ph + 32, BigInt(size), true); // p_filesz
  v.setBigUint64(ph + 40, BigInt(size), true); // p_memsz
  v.setBigUint64(ph + 48, 0x1000n, true); // p_align
  // PT_LOAD 2: the data page, read + write, no file bytes (zero-filled anonymous memory).
  ph += PHDR_SIZE;
  v.setUint32(ph + 0, 1, true); // p_type = PT_LOAD
  v.setUint32(ph + 4, 6, true); // p_flags = PF_R | PF_W
  v.setBigUint64(ph + 8, 0n, true); // p_offset
  v.setBigUint64(ph + 16, BigInt(STUB_DATA), true); // p_vaddr
  v.setBigUint64(ph + 24, BigInt(STUB_DATA), true); // p_paddr
  v.setBigUint64(ph + 32, 0n, true); // p_filesz
  v.setBigUint64(ph + 40, 0x1000n, true); // p_memsz
  v.setBigUint64(ph + 48, 0x1000n, true); // p_align
  b.set(code, CODE_OFFSET);
  for (const end of [STUB_INJECT_SYSCALL_END, STUB_BATCH_SYSCALL_END]) {
    const at = end - STUB_BASE;
    if (b[at - 2] !== 0x0f || b[at - 1] !== 0x05) throw new Error("stub_elf: a syscall site moved");
  }
  return b;
}
