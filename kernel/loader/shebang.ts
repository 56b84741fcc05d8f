/**
 * `#!` interpreter lines, parsed as Linux's binfmt_script does. Pure.
 *
 * The rules (Linux ≥ 5.1):
 * - Only the first {@linkcode BINPRM_BUF_SIZE} bytes are looked at, as if zero-padded. The line
 *   ends at the first newline; a NUL before it hides the newline.
 * - Without a newline the line is the first 255 bytes, and the interpreter name must be followed
 *   by a space, tab or NUL inside them, or the name might be truncated: ENOEXEC.
 * - Spaces and tabs (only those: not `\r`) after `#!` and at the end of the line are dropped.
 * - The interpreter runs to the first space, tab or NUL. A line with nothing after `#!` but
 *   spaces and tabs is ENOEXEC; a NUL right after them gives an empty name: EACCES (exec
 *   would open "", the working directory).
 * - After spaces and tabs, the rest of the line is one optional argument, internal spaces kept,
 *   cut at a NUL.
 *
 * The new argv is `[interp, arg?, path, ...argv.slice(1)]` ({@linkcode shebangArgv}); exec then
 * starts over with interp, at most a few levels deep (Linux fails deeper nesting with ELOOP).
 *
 * @module
 */

import { decodePath } from "../../abi/path_bytes.ts";
import { EACCES, ENOEXEC } from "../errno.ts";
import type { ExecString } from "./stack.ts";

/** Linux's BINPRM_BUF_SIZE: how much of a file exec reads to recognise its format. */
export const BINPRM_BUF_SIZE = 256;

/** A parsed `#!` line. */
export interface Shebang {
  /** The interpreter path, as written (a relative path is relative to the working directory). */
  interp: string;
  /** The optional argument, or null. */
  arg: string | null;
}

const SPACE = 0x20;
const TAB = 0x09;
const NL = 0x0a;
const NUL = 0;

function isSpaceTab(c: number | undefined): boolean {
  return c === SPACE || c === TAB;
}

/**
 * Parses the `#!` line at the start of a file.
 *
 * Returns null if the file does not start with `#!` (another format may claim it). Throws
 * ENOEXEC if the line has no interpreter, or if 256 bytes hold no newline and the interpreter
 * name reaches the end of the 255 bytes considered; EACCES if a NUL starts the name.
 */
export function parseShebang(prefix: Uint8Array): Shebang | null {
  const buf = new Uint8Array(BINPRM_BUF_SIZE);
  buf.set(prefix.subarray(0, BINPRM_BUF_SIZE));
  if (buf[0] !== 0x23 /* # */ || buf[1] !== 0x21 /* ! */) return null;

  // Find the line's end: the newline, if one comes before any NUL.
  let end = -1;
  for (let i = 2; i < BINPRM_BUF_SIZE && buf[i] !== NUL; i++) {
    if (buf[i] === NL) {
      end = i;
      break;
    }
  }
  if (end < 0) {
    // No newline: the interpreter must end with a space, tab or NUL within the 255 bytes.
    const last = BINPRM_BUF_SIZE - 1;
    let name = 2;
    while (name <= last && isSpaceTab(buf[name])) name++;
    if (name > last) throw ENOEXEC;
    let term = name;
    while (term <= last && !isSpaceTab(buf[term]) && buf[term] !== NUL) term++;
    if (term > last) throw ENOEXEC;
    end = last;
  }
  while (isSpaceTab(buf[end - 1])) end--;

  let name = 2;
  while (name < end && isSpaceTab(buf[name])) name++;
  if (name >= end) throw ENOEXEC;

  let sep = name;
  while (sep < end && !isSpaceTab(buf[sep]) && buf[sep] !== NUL) sep++;
  // A name that starts with a NUL is empty. Linux goes on to open "", which names the working
  // directory, and a directory is not executable.
  if (sep === name) throw EACCES;

  let arg: string | null = null;
  if (sep < end && buf[sep] !== NUL) {
    let a = sep;
    while (a < end && isSpaceTab(buf[a])) a++;
    if (a < end) {
      let argEnd = buf.subarray(a, end).indexOf(NUL);
      argEnd = argEnd < 0 ? end : a + argEnd;
      arg = decode(buf.subarray(a, argEnd));
    }
  }
  return { interp: decode(buf.subarray(name, sep)), arg };
}

/**
 * The argv the interpreter gets: its own path, the optional argument, the script's path as
 * given to execve (not argv[0]), and the original arguments after argv[0].
 */
export function shebangArgv(sb: Shebang, path: string, argv: readonly ExecString[]): ExecString[] {
  return [sb.interp, ...(sb.arg === null ? [] : [sb.arg]), path, ...argv.slice(1)];
}

function decode(b: Uint8Array): string {
  return decodePath(b);
}
