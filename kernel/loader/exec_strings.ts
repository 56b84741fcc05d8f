/**
 * Reads execve's argv and envp out of application memory a page at a time. A shell's
 * environment is dozens of strings, mostly side by side on its stack or heap: reading each
 * pointer and each string on its own cost two host syscalls per string; a page cache makes it
 * one per page touched.
 *
 * The strings stay bytes, as Linux copies them: an argument that is not UTF-8 reaches the new
 * program unchanged, and no decoding or encoding is paid on the way (stack.ts takes bytes).
 *
 * @module
 */

import { decodePath } from "../../abi/path_bytes.ts";
import { E2BIG, EFAULT } from "../errno.ts";

const PAGE = 4096;
/** Linux's MAX_ARG_STRLEN: one string, NUL included, fits in 32 pages. */
const MAX_ARG_STRLEN = 32 * PAGE;

/** Copies whole pages of application memory in, each at most once per exec. */
export class PageReader {
  readonly #pages = new Map<number, Uint8Array | null>();

  constructor(readonly read: (addr: number, dst: Uint8Array) => number) {}

  /** The page at `base` (page-aligned), or null when it is not readable. */
  page(base: number): Uint8Array | null {
    let p = this.#pages.get(base);
    if (p === undefined) {
      p = new Uint8Array(PAGE);
      if (this.read(base, p) !== PAGE) p = null;
      this.#pages.set(base, p);
    }
    return p;
  }

  /** A little-endian u64 at addr (8-aligned reads never cross a page); EFAULT if unreadable. */
  u64(addr: number): number {
    if (!Number.isSafeInteger(addr) || addr < 0) throw EFAULT;
    const off = addr % PAGE;
    if (off + 8 > PAGE) return this.#u64Slow(addr);
    const p = this.page(addr - off);
    if (p === null) throw EFAULT;
    return Number(new DataView(p.buffer, off, 8).getBigUint64(0, true));
  }

  #u64Slow(addr: number): number {
    const b = new Uint8Array(8);
    for (let i = 0; i < 8; i++) b[i] = this.#byteAt(addr + i);
    return Number(new DataView(b.buffer).getBigUint64(0, true));
  }

  #byteAt(addr: number): number {
    const off = addr % PAGE;
    const p = this.page(addr - off);
    if (p === null) throw EFAULT;
    return p[off]!;
  }

  /** The NUL-terminated string at addr, as a path string (abi/path_bytes.ts); errors as {@linkcode bytes}. */
  string(addr: number): string {
    return decodePath(this.bytes(addr));
  }

  /**
   * The bytes of the NUL-terminated string at addr, without the NUL (a view of the page read
   * when the string lies in one page); E2BIG past MAX_ARG_STRLEN, EFAULT if unreadable.
   */
  bytes(addr: number): Uint8Array {
    if (!Number.isSafeInteger(addr) || addr < 0) throw EFAULT;
    const parts: Uint8Array[] = [];
    let total = 0;
    let a = addr;
    for (;;) {
      const off = a % PAGE;
      const p = this.page(a - off);
      if (p === null) throw EFAULT;
      const nul = p.indexOf(0, off);
      const end = nul < 0 ? PAGE : nul;
      parts.push(p.subarray(off, end));
      total += end - off;
      if (total + 1 > MAX_ARG_STRLEN) throw E2BIG;
      if (nul >= 0) break;
      a += PAGE - off;
    }
    if (parts.length === 1) return parts[0]!;
    const all = new Uint8Array(total);
    let o = 0;
    for (const part of parts) {
      all.set(part, o);
      o += part.length;
    }
    return all;
  }

  /**
   * A NULL-terminated array of string pointers (argv, envp), each string as bytes (see
   * {@linkcode bytes}); at most maxCount strings.
   */
  stringArray(addr: number, maxCount: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (addr === 0) return out;
    for (let i = 0; ; i++) {
      const p = this.u64(addr + 8 * i);
      if (p === 0) return out;
      if (i >= maxCount) throw E2BIG;
      out.push(this.bytes(p));
    }
  }
}
