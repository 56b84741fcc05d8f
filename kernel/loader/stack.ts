/**
 * The initial process stack that execve(2) leaves for a new program, laid out as Linux's
 * fs/exec.c (the strings) and fs/binfmt_elf.c create_elf_tables() (the tables) do, per the
 * System V x86-64 ABI. Pure: it returns bytes and addresses; the caller writes the bytes into
 * the new address space.
 *
 * From the top (highest address) down:
 *
 * ```
 *  top ->  +---------------------------+
 *          | 8 zero bytes (end marker) |
 *          | execfn\0                  |  <- AT_EXECFN
 *          | envp[envc-1]\0 ...        |
 *          | envp[0]\0                 |  <- env_start (= arg_end)
 *          | argv[argc-1]\0 ...        |
 *          | argv[0]\0                 |  <- arg_start
 *          | (alignOffset, then down to 16-byte alignment)
 *          | "x86_64\0"                |  <- AT_PLATFORM
 *          | 16 random bytes           |  <- AT_RANDOM
 *          | (0..15 bytes of padding so that sp is 16-byte aligned)
 *          | auxv pairs ... AT_NULL, 0 |
 *          | NULL                      |
 *          | envp pointers             |  <- envpAddr
 *          | NULL                      |
 *          | argv pointers             |  <- argvAddr
 *  sp  ->  | argc                      |
 *          +---------------------------+
 * ```
 *
 * @module
 */

import { encodePath } from "../../abi/path_bytes.ts";
import { E2BIG, SentryBugError } from "../errno.ts";
import { AT_EXECFN, AT_NULL, AT_PLATFORM, AT_RANDOM } from "../../abi/linux/aux.ts";
import { PAGE_SIZE } from "../../abi/linux/mm.ts";

/** Linux's MAX_ARG_STRLEN: the longest argument or environment string, NUL included. */
export const MAX_ARG_STRLEN = 32 * PAGE_SIZE;
/** Linux's ARG_MAX: the least room exec allows for strings and pointers, whatever the rlimit. */
export const ARG_MAX = 32 * PAGE_SIZE;
/** Linux's _STK_LIM: the default RLIMIT_STACK (8 MiB); exec never allows more than 3/4 of it. */
export const STK_LIM = 8 * 1024 * 1024;

/** A string for the new program: a JS string (encoded as UTF-8) or raw bytes without a NUL. */
export type ExecString = string | Uint8Array;

/** What the new program's stack holds. */
export interface StackOptions {
  /** The highest address of the stack, exclusive (Linux's STACK_TOP). */
  top: number;
  /** The arguments; an empty list becomes [""] as on Linux ≥ 5.18. */
  argv: readonly ExecString[];
  envp: readonly ExecString[];
  /** The path given to execve, for AT_EXECFN. */
  execfn: ExecString;
  /** AT_PLATFORM's string. */
  platform: "x86_64";
  /** AT_RANDOM's 16 bytes. */
  random: Uint8Array;
  /**
   * Auxiliary vector entries without AT_NULL, in the order the program will see them. Entries
   * keyed AT_RANDOM, AT_EXECFN or AT_PLATFORM get their value replaced by the address placed
   * here; those missing are appended in that order.
   */
  auxv: readonly (readonly [number, number | bigint])[];
  /** Room for strings and pointers, from {@linkcode execArgLimit}. */
  limit: number;
  /**
   * Bytes to leave below the strings before aligning (Linux's arch_align_stack subtracts a
   * random amount below 8 KiB when address space randomization is on). Default 0.
   */
  alignOffset?: number;
}

/** The stack image and where things landed. */
export interface StackImage {
  /** The bytes from start to top. */
  bytes: Uint8Array;
  /** The address of bytes[0]; equal to sp. */
  start: number;
  /** The initial %rsp: 16-byte aligned, pointing at argc. */
  sp: number;
  argc: number;
  /** The address of argv[0]'s pointer (sp + 8). */
  argvAddr: number;
  /** The address of envp[0]'s pointer. */
  envpAddr: number;
  /** The address of the first auxv pair. */
  auxvAddr: number;
  execfnAddr: number;
  platformAddr: number;
  randomAddr: number;
  /** Linux's mm->arg_start, arg_end, env_start, env_end (for /proc/[pid]/cmdline and environ). */
  argStart: number;
  argEnd: number;
  envStart: number;
  envEnd: number;
}

/**
 * Room exec allows for argument and environment strings plus their pointers, given the soft
 * RLIMIT_STACK: a quarter of it, at most 3/4 of {@linkcode STK_LIM}, at least
 * {@linkcode ARG_MAX}. Analogous to Linux's bprm_stack_limits().
 */
export function execArgLimit(rlimitStackCur: number | bigint): number {
  const quarter = typeof rlimitStackCur === "bigint"
    ? Number(rlimitStackCur / 4n)
    : Math.floor(rlimitStackCur / 4);
  return Math.max(Math.min((STK_LIM / 4) * 3, quarter), ARG_MAX);
}

/**
 * Checks the strings against Linux's limits and returns them encoded. Exec calls this before
 * its point of no return; {@linkcode buildInitialStack} calls it again.
 *
 * Throws E2BIG if one string (with its NUL) is longer than {@linkcode MAX_ARG_STRLEN}, or if
 * the pointers (max(argc, 1) + envc) and all strings (execfn included) need more than limit.
 */
export function checkArgLimits(
  argv: readonly ExecString[],
  envp: readonly ExecString[],
  opts: { execfn: ExecString; limit: number },
): { argv: Uint8Array[]; envp: Uint8Array[]; execfn: Uint8Array } {
  const ptrBytes = (Math.max(argv.length, 1) + envp.length) * 8;
  if (opts.limit <= ptrBytes) throw E2BIG;
  let room = opts.limit - ptrBytes;
  const take = (s: ExecString): Uint8Array => {
    const b = encode(s);
    if (b.length + 1 > MAX_ARG_STRLEN) throw E2BIG;
    room -= b.length + 1;
    if (room < 0) throw E2BIG;
    return b;
  };
  // Linux copies execfn, then envp, then argv; the order only decides which string fails.
  const execfn = take(opts.execfn);
  const env = envp.map(take);
  const args = argv.length === 0 ? [take("")] : argv.map(take);
  return { argv: args, envp: env, execfn };
}

/**
 * Lays out the initial stack.
 *
 * Throws E2BIG as {@linkcode checkArgLimits} does. Throws SentryBugError for a string with a
 * NUL in it, random bytes that are not 16, or an AT_NULL in opts.auxv.
 */
export function buildInitialStack(opts: StackOptions): StackImage {
  if (opts.random.length !== 16) throw new SentryBugError("AT_RANDOM needs exactly 16 bytes");
  const { argv, envp, execfn } = checkArgLimits(opts.argv, opts.envp, opts);
  const platform = encode(opts.platform);

  // Strings, from the top down: end marker, execfn, envp, argv.
  let p = opts.top - 8;
  p -= execfn.length + 1;
  const execfnAddr = p;
  const envLen = envp.reduce((n, s) => n + s.length + 1, 0);
  const argLen = argv.reduce((n, s) => n + s.length + 1, 0);
  const envStart = p - envLen;
  const argStart = envStart - argLen;
  p = argStart;

  p = alignDown(p - (opts.alignOffset ?? 0), 16);
  p -= platform.length + 1;
  const platformAddr = p;
  p -= 16;
  const randomAddr = p;

  const auxv = withPlacedEntries(opts.auxv, { randomAddr, execfnAddr, platformAddr });
  const auxvWords = (auxv.length + 1) * 2;
  const tableWords = 1 + (argv.length + 1) + (envp.length + 1);
  const sp = alignDown(p - auxvWords * 8 - tableWords * 8, 16);

  const bytes = new Uint8Array(opts.top - sp);
  const view = new DataView(bytes.buffer);
  const put64 = (addr: number, v: number | bigint) =>
    view.setBigUint64(addr - sp, typeof v === "bigint" ? v : BigInt(v), true);
  const putStrings = (at: number, strs: Uint8Array[], ptrAt: number): number => {
    for (const s of strs) {
      bytes.set(s, at - sp);
      put64(ptrAt, at);
      ptrAt += 8;
      at += s.length + 1;
    }
    return ptrAt;
  };

  bytes.set(execfn, execfnAddr - sp);
  bytes.set(platform, platformAddr - sp);
  bytes.set(opts.random, randomAddr - sp);

  put64(sp, argv.length);
  const argvAddr = sp + 8;
  const envpAddr = putStrings(argStart, argv, argvAddr) + 8;
  const auxvAddr = putStrings(envStart, envp, envpAddr) + 8;
  let a = auxvAddr;
  for (const [key, value] of auxv) {
    put64(a, key);
    put64(a + 8, value);
    a += 16;
  }
  // The AT_NULL pair, the NULL pointers and the end marker are already zero.

  return {
    bytes,
    start: sp,
    sp,
    argc: argv.length,
    argvAddr,
    envpAddr,
    auxvAddr,
    execfnAddr,
    platformAddr,
    randomAddr,
    argStart,
    argEnd: envStart,
    envStart,
    envEnd: execfnAddr,
  };
}

function withPlacedEntries(
  given: readonly (readonly [number, number | bigint])[],
  at: { randomAddr: number; execfnAddr: number; platformAddr: number },
): [number, number | bigint][] {
  const placed = new Map<number, number>([
    [AT_RANDOM, at.randomAddr],
    [AT_EXECFN, at.execfnAddr],
    [AT_PLATFORM, at.platformAddr],
  ]);
  const out: [number, number | bigint][] = [];
  for (const [key, value] of given) {
    if (key === AT_NULL) {
      throw new SentryBugError("Cannot build auxv: AT_NULL is added by buildInitialStack");
    }
    const v = placed.get(key);
    out.push([key, v ?? value]);
  }
  for (const [key, v] of placed) {
    if (!given.some(([k]) => k === key)) out.push([key, v]);
  }
  return out;
}


function encode(s: ExecString): Uint8Array {
  const b = typeof s === "string" ? encodePath(s) : s;
  if (b.includes(0)) throw new SentryBugError("Cannot place an exec string: it contains a NUL");
  return b;
}

function alignDown(n: number, a: number): number {
  return n - (((n % a) + a) % a);
}
