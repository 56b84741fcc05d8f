/**
 * ELF64 executable headers, parsed for execve(2) as Linux's fs/binfmt_elf.c reads them. Pure:
 * the caller reads the file and hands in bytes; nothing here touches a file or memory.
 *
 * How the caller uses it, in Linux's order:
 *
 * 1. Read the first page (or the whole file if shorter). {@linkcode readElfHeader} checks the
 *    ELF header and says where the program header table is (`phoff`, `phdrsSize`). If the
 *    first page does not hold it, read `phdrsSize` bytes at `phoff` (never the file from 0 to
 *    `phdrsEnd`: e_phoff is untrusted). A table cut short by EOF fails with ENOEXEC, as on
 *    Linux.
 * 2. {@linkcode parseElf} (given the first page, and the table if read separately) returns the
 *    program headers and the facts exec needs: PT_INTERP's place in the file, PT_GNU_STACK,
 *    where the headers appear in memory (AT_PHDR).
 * 3. Read `interp.size` bytes at `interp.offset` and pass them, with that size, to
 *    {@linkcode parseInterpPath}. Open and parse the interpreter the same way (Linux ignores
 *    the interpreter's own PT_INTERP).
 * 4. Past the point of no return, {@linkcode loadExtent} and {@linkcode loadPlan} turn the
 *    PT_LOAD segments into page-aligned mapping steps. Their EINVAL comes after the old image
 *    is gone; Linux then kills the task with SIGSEGV, and so must the caller.
 *
 * elf_test.ts checks each of these outcomes against the host kernel's execve(2) on crafted
 * files.
 *
 * All errors are {@linkcode LinuxError} singletons with the errno Linux returns for the same
 * file. Every u64 field is returned as a number; values beyond 2^53 lose precision, but all of
 * them are far beyond {@linkcode TASK_SIZE} and fail the range checks in {@linkcode loadPlan}.
 *
 * ELF64 file header (64 bytes), little-endian, per elf(5):
 *
 * ```
 *  0               4       5       6       7                16
 * +-------+-------+-------+-------+-------+-------+ ... -----+
 * | 7f 'E' 'L' 'F'| CLASS | DATA  |VERSION| OSABI | (pad)    |  e_ident[16]
 * +---------------+-------+-------+-------+-------+ ... -----+
 * 16 e_type:u16  18 e_machine:u16  20 e_version:u32
 * 24 e_entry:u64  32 e_phoff:u64  40 e_shoff:u64
 * 48 e_flags:u32  52 e_ehsize:u16  54 e_phentsize:u16  56 e_phnum:u16
 * 58 e_shentsize:u16  60 e_shnum:u16  62 e_shstrndx:u16
 * ```
 *
 * ELF64 program header (56 bytes):
 *
 * ```
 *  0 p_type:u32  4 p_flags:u32  8 p_offset:u64  16 p_vaddr:u64  24 p_paddr:u64
 * 32 p_filesz:u64  40 p_memsz:u64  48 p_align:u64
 * ```
 *
 * @module
 */

import { decodePath } from "../../abi/path_bytes.ts";
import { EACCES, EINVAL, EIO, ENOEXEC } from "../errno.ts";
import { PATH_MAX } from "../../abi/linux/file.ts";
import { PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE, TASK_SIZE } from "../../abi/linux/mm.ts";

/** ELF identification and header constants (elf(5)). */
export const ELFMAG = [0x7f, 0x45, 0x4c, 0x46] as const;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;
export const EM_X86_64 = 62;

/** Program header types. */
export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_SHLIB = 5;
export const PT_PHDR = 6;
export const PT_TLS = 7;
export const PT_GNU_EH_FRAME = 0x6474e550;
export const PT_GNU_STACK = 0x6474e551;
export const PT_GNU_RELRO = 0x6474e552;
export const PT_GNU_PROPERTY = 0x6474e553;

/** Program header flags. */
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

/** Size of the ELF64 file header. */
export const EHDR_SIZE = 64;
/** Size of one ELF64 program header: the only e_phentsize Linux accepts. */
export const PHDR_SIZE = 56;
/** Linux refuses a program header table larger than this many bytes. */
export const MAX_PHDRS_BYTES = 65536;
/** Segments must end at or below the end of the user address space. */
export { TASK_SIZE };

/** Field offsets of the ELF64 file header. */
const EH = {
  type: 16,
  machine: 18,
  entry: 24,
  phoff: 32,
  phentsize: 54,
  phnum: 56,
} as const;

/** Field offsets of an ELF64 program header. */
const PH = {
  type: 0,
  flags: 4,
  offset: 8,
  vaddr: 16,
  filesz: 32,
  memsz: 40,
  align: 48,
} as const;

/** The ELF file header fields exec needs, checked. */
export interface ElfHeader {
  type: "exec" | "dyn";
  entry: number;
  phoff: number;
  phentsize: number;
  phnum: number;
  /** The size of the program header table: phnum * 56, at most 64 KiB. */
  phdrsSize: number;
  /** File offset just past the program header table. */
  phdrsEnd: number;
}

/** One program header, as elf(5) names its fields (minus p_paddr, which Linux ignores). */
export interface ProgramHeader {
  type: number;
  /** PF_R | PF_W | PF_X. */
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  align: number;
}

/** What execve needs to know about an ELF file before it maps anything. */
export interface ElfInfo extends ElfHeader {
  phdrs: ProgramHeader[];
  /** Where the interpreter's path lies in the file (the first PT_INTERP), or null. */
  interp: { offset: number; size: number } | null;
  /** True if the last PT_GNU_STACK has PF_X; false if it lacks PF_X or there is none. */
  gnuStackExec: boolean;
  /**
   * The unbiased virtual address of the program headers, for AT_PHDR: computed from the first
   * PT_LOAD whose file-backed bytes contain e_phoff (as Linux ≥ 5.18 does), else PT_PHDR's
   * p_vaddr, else null.
   */
  phdrVaddr: number | null;
}

/**
 * Checks the ELF file header at the start of prefix and returns its fields.
 *
 * A prefix shorter than 64 bytes is read as if zero-padded, as Linux's bprm buffer is, so a
 * truncated header fails with ENOEXEC.
 *
 * Throws ENOEXEC if the bytes do not start with the ELF magic, if e_machine is not x86-64, if
 * e_type is not ET_EXEC or ET_DYN (ET_REL and ET_CORE are refused), if e_phentsize is not 56,
 * or if the program header table is empty or larger than 64 KiB.
 *
 * Like Linux's 64-bit loader, it does not look at EI_CLASS, EI_DATA, EI_VERSION or EI_OSABI:
 * the host kernel runs an otherwise valid file whatever they say. An ELF32 or big-endian file
 * still fails, on e_machine or e_phentsize.
 */
export function readElfHeader(prefix: Uint8Array): ElfHeader {
  const b = new Uint8Array(EHDR_SIZE);
  b.set(prefix.subarray(0, EHDR_SIZE));
  const v = new DataView(b.buffer);
  for (let i = 0; i < ELFMAG.length; i++) {
    if (b[i] !== ELFMAG[i]) throw ENOEXEC;
  }
  const type = v.getUint16(EH.type, true);
  if (type !== ET_EXEC && type !== ET_DYN) throw ENOEXEC;
  if (v.getUint16(EH.machine, true) !== EM_X86_64) throw ENOEXEC;
  const phentsize = v.getUint16(EH.phentsize, true);
  if (phentsize !== PHDR_SIZE) throw ENOEXEC;
  const phnum = v.getUint16(EH.phnum, true);
  const size = phnum * PHDR_SIZE;
  if (size === 0 || size > MAX_PHDRS_BYTES) throw ENOEXEC;
  const phoff = u64(v, EH.phoff);
  return {
    type: type === ET_EXEC ? "exec" : "dyn",
    entry: u64(v, EH.entry),
    phoff,
    phentsize,
    phnum,
    phdrsSize: size,
    phdrsEnd: phoff + size,
  };
}

/**
 * Parses the ELF header and program headers of a file.
 *
 * The program header table comes from `table` when given: the bytes read at e_phoff, at most
 * {@linkcode ElfHeader.phdrsSize} of them. Otherwise it comes from bytes, which must then reach
 * {@linkcode ElfHeader.phdrsEnd} unless the file itself is shorter. Prefer `table` when the
 * table lies beyond the first page: e_phoff is untrusted and may be huge, so reading the file
 * from 0 to phdrsEnd could mean allocating terabytes.
 *
 * Throws what {@linkcode readElfHeader} throws; ENOEXEC if the table is cut short (Linux turns
 * that short read into ENOEXEC), or if the first PT_INTERP's size is below 2 or above PATH_MAX.
 */
export function parseElf(bytes: Uint8Array, table?: Uint8Array): ElfInfo {
  const hdr = readElfHeader(bytes);
  let base = hdr.phoff;
  if (table !== undefined) {
    bytes = table;
    base = 0;
  }
  if (bytes.length < base + hdr.phdrsSize) throw ENOEXEC;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  const phdrs: ProgramHeader[] = [];
  for (let i = 0; i < hdr.phnum; i++) {
    const o = base + i * PHDR_SIZE;
    phdrs.push({
      type: v.getUint32(o + PH.type, true),
      flags: v.getUint32(o + PH.flags, true),
      offset: u64(v, o + PH.offset),
      vaddr: u64(v, o + PH.vaddr),
      filesz: u64(v, o + PH.filesz),
      memsz: u64(v, o + PH.memsz),
      align: u64(v, o + PH.align),
    });
  }

  let interp: ElfInfo["interp"] = null;
  let gnuStackExec = false;
  let phdrPhdr: number | null = null;
  let phdrFromLoad: number | null = null;
  for (const p of phdrs) {
    switch (p.type) {
      case PT_INTERP:
        // Linux uses the first PT_INTERP and stops looking.
        if (interp !== null) break;
        if (p.filesz > PATH_MAX || p.filesz < 2) throw ENOEXEC;
        interp = { offset: p.offset, size: p.filesz };
        break;
      case PT_GNU_STACK:
        gnuStackExec = (p.flags & PF_X) !== 0;
        break;
      case PT_PHDR:
        phdrPhdr ??= p.vaddr;
        break;
      case PT_LOAD:
        if (phdrFromLoad === null && p.offset <= hdr.phoff && hdr.phoff < p.offset + p.filesz) {
          phdrFromLoad = hdr.phoff - p.offset + p.vaddr;
        }
        break;
    }
  }

  return { ...hdr, phdrs, interp, gnuStackExec, phdrVaddr: phdrFromLoad ?? phdrPhdr };
}

/**
 * Decodes the interpreter path that PT_INTERP points at: the bytes read at `interp.offset`,
 * `size` of them asked for (`interp.size`).
 *
 * Throws EIO if the file ended before `size` bytes (Linux's short read); ENOEXEC unless the
 * last byte is NUL; EACCES if the path is empty (Linux opens "", which names the working
 * directory, and a directory is not executable). The path ends at the first NUL.
 */
export function parseInterpPath(raw: Uint8Array, size: number = raw.length): string {
  if (raw.length < size) throw EIO;
  raw = raw.subarray(0, size);
  if (raw.length === 0 || raw[raw.length - 1] !== 0) throw ENOEXEC;
  const end = raw.indexOf(0);
  if (end === 0) throw EACCES;
  return decodePath(raw.subarray(0, end));
}

/** Protection bits (PROT_*) for a segment's p_flags (PF_*). */
export function protFromFlags(flags: number): number {
  return ((flags & PF_R) ? PROT_READ : 0) | ((flags & PF_W) ? PROT_WRITE : 0) |
    ((flags & PF_X) ? PROT_EXEC : 0);
}

/** How one PT_LOAD segment becomes memory. All addresses include the load bias. */
export interface LoadStep {
  /** PROT_* bits for every range of this segment. */
  prot: number;
  /**
   * A private file mapping of the pages that hold [vaddr, vaddr+filesz), or null when
   * filesz is 0. start and length are page-aligned; fileOffset is page-aligned.
   */
  file: { start: number; length: number; fileOffset: number } | null;
  /**
   * Zero the tail of the last file-backed page after the segment's file bytes, or null. Only
   * when memsz > filesz, the file bytes end inside a page, and the segment is writable (Linux
   * tries on read-only segments too, but the write faults and it ignores the error).
   */
  zero: { start: number; length: number } | null;
  /** Anonymous zero pages for the bss beyond the file-backed pages, or null. Page-aligned. */
  anon: { start: number; length: number } | null;
  /**
   * The bss pages' protection: read and write whatever the segment says, execute if it does
   * (Linux's elf_load maps them with vm_brk_flags, VM_DATA_DEFAULT_FLAGS plus VM_EXEC).
   */
  anonProt: number;
}

/** The mapping steps for an ELF image at a load bias. */
export interface LoadPlan {
  /** One step per PT_LOAD with a non-empty memory size, in program header order. */
  steps: LoadStep[];
  /** The lowest page of the image. */
  start: number;
  /** The page-aligned end of the highest segment: where Linux starts the heap (before ASLR). */
  end: number;
  /** e_entry plus the bias. */
  entry: number;
  /** AT_PHDR: phdrVaddr plus the bias, or null if the headers are not in memory. */
  phdr: number | null;
}

/**
 * The span of virtual addresses the PT_LOAD segments cover, without a bias: from the page of the
 * lowest segment to the end of the highest one, in whatever order they are listed (Linux runs
 * files whose PT_LOADs are not sorted). Exec reserves this much for an ET_DYN image before
 * choosing its bias. Throws EINVAL if there is no PT_LOAD or the segments cover nothing; Linux
 * fails there past its point of no return, so the task dies of SIGSEGV.
 */
export function loadExtent(info: ElfInfo): { start: number; end: number } {
  let start = Infinity;
  let end = -Infinity;
  for (const p of info.phdrs) {
    if (p.type !== PT_LOAD) continue;
    start = Math.min(start, pageDown(p.vaddr));
    end = Math.max(end, p.vaddr + p.memsz);
  }
  if (start === Infinity || end <= start) throw EINVAL;
  return { start, end };
}

/**
 * Turns the PT_LOAD segments of info into page-aligned mapping steps at load bias `bias` (0 for
 * ET_EXEC). The caller performs the steps in order with MAP_FIXED semantics, so a segment that
 * shares a page with the one before it replaces that page, as on Linux.
 *
 * Throws EINVAL, as Linux's mapping loop does, if there is no PT_LOAD, if p_filesz > p_memsz,
 * if a segment reaches beyond {@linkcode TASK_SIZE}, or if a segment with file bytes has
 * p_offset and p_vaddr differing modulo the page size (mmap's offset check). Linux accepts
 * PT_LOADs out of p_vaddr order and overlapping ones, and so does this.
 */
export function loadPlan(info: ElfInfo, bias: number): LoadPlan {
  const steps: LoadStep[] = [];
  let start = Infinity;
  let end = 0;
  for (const p of info.phdrs) {
    if (p.type !== PT_LOAD) continue;
    const k = bias + p.vaddr;
    if (k >= TASK_SIZE || p.filesz > p.memsz || p.memsz > TASK_SIZE || TASK_SIZE - p.memsz < k) {
      throw EINVAL;
    }
    // Only a file mapping has an offset to align: Linux 6.x maps a bss-only segment
    // anonymously.
    if (p.filesz > 0 && p.offset % PAGE_SIZE !== p.vaddr % PAGE_SIZE) throw EINVAL;
    start = Math.min(start, pageDown(k));
    end = Math.max(end, k + p.memsz);
    if (p.memsz === 0) continue;

    const prot = protFromFlags(p.flags);
    const fileEnd = k + p.filesz;
    const memEnd = k + p.memsz;
    let file: LoadStep["file"] = null;
    let zero: LoadStep["zero"] = null;
    let anonStart = pageDown(k);
    if (p.filesz > 0) {
      const mapStart = pageDown(k);
      anonStart = pageUp(fileEnd);
      file = { start: mapStart, length: anonStart - mapStart, fileOffset: pageDown(p.offset) };
      if (p.memsz > p.filesz && fileEnd % PAGE_SIZE !== 0 && (prot & PROT_WRITE) !== 0) {
        zero = { start: fileEnd, length: anonStart - fileEnd };
      }
    }
    const anonEnd = pageUp(memEnd);
    const anon = anonEnd > anonStart ? { start: anonStart, length: anonEnd - anonStart } : null;
    steps.push({ prot, file, zero, anon, anonProt: PROT_READ | PROT_WRITE | (prot & PROT_EXEC) });
  }
  if (start === Infinity) throw EINVAL;
  return {
    steps,
    start,
    end: pageUp(end),
    entry: info.entry + bias,
    phdr: info.phdrVaddr === null ? null : info.phdrVaddr + bias,
  };
}

function u64(v: DataView, off: number): number {
  return Number(v.getBigUint64(off, true));
}

function pageDown(n: number): number {
  return n - (n % PAGE_SIZE);
}

function pageUp(n: number): number {
  const r = n % PAGE_SIZE;
  return r === 0 ? n : n + PAGE_SIZE - r;
}
