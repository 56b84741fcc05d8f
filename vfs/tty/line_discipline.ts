/**
 * The line discipline: Linux's n_tty (drivers/tty/n_tty.c) as plain data. It sits between the
 * "hardware" side of a terminal (a pty master, the user's keyboard) and the programs reading
 * and writing the terminal.
 *
 * - Input ({@linkcode LineDiscipline.receive}): bytes typed on the hardware side. IXON
 *   start/stop, ISIG (^C ^\ ^Z become signals for the foreground process group, queued in
 *   {@linkcode LineDiscipline.signals} for the terminal to send), IGNCR/ICRNL/INLCR, and in
 *   canonical mode line editing (ERASE, KILL, WERASE, LNEXT, REPRINT, EOF, EOL, EOL2); echo
 *   (ECHO, ECHOE, ECHOK, ECHOKE, ECHONL, ECHOCTL) into the output queue.
 * - Reading ({@linkcode LineDiscipline.read}): one line per read in canonical mode (an EOF at
 *   the start of a line reads as 0 bytes); in non-canonical mode what is there, with VMIN and
 *   VTIME decided by the caller (the syscall layer owns clocks).
 * - Output ({@linkcode LineDiscipline.write}): OPOST with ONLCR, OCRNL, ONOCR, ONLRET, OLCUC
 *   and tab expansion (XTABS), keeping the column for erase and tabs; the result is what the
 *   hardware side reads ({@linkcode LineDiscipline.readOutput}).
 *
 * Nothing here blocks or signals: callers look at the return values and queue lengths.
 *
 * @module
 */

import {
  ECHO, ECHOCTL, ECHOE, ECHOK, ECHOKE, ECHONL, ICANON, ICRNL, IEXTEN, IGNCR, INLCR, ISIG,
  ISTRIP, IUCLC, IUTF8, IXANY, IXON, NOFLSH, OCRNL, OLCUC, ONLCR, ONLRET, ONOCR, OPOST, TABDLY,
  VEOF, VEOL, VEOL2, VERASE, VINTR, VKILL, VLNEXT, VMIN, VQUIT, VREPRINT, VSTART, VSTOP, VSUSP,
  VTIME, VWERASE, XTABS,
} from "../../abi/linux/tty.ts";
import { SIGINT, SIGQUIT, SIGTSTP } from "../../abi/linux/signal.ts";
import { Termios } from "./termios.ts";

/** Linux's N_TTY_BUF_SIZE: the input buffer; a canonical line holds one byte less. */
export const INPUT_BUFFER_SIZE = 4096;
/**
 * Linux's TTYB_DEFAULT_MEM_LIMIT: typed bytes the terminal holds in its flip buffer while the
 * input buffer has no room; the hardware side's writes are refused (EAGAIN) only beyond it.
 */
export const FLIP_BUFFER_SIZE = 65536;
/** How much output may wait for the hardware side before writers are told to wait. */
export const OUTPUT_BUFFER_SIZE = 16384;

/** A growable byte queue with a moving head (compacted when the head passes half). */
class ByteQueue {
  bytes: number[] = [];
  head = 0;

  get length(): number {
    return this.bytes.length - this.head;
  }

  push(b: number): void {
    this.bytes.push(b);
  }

  at(i: number): number {
    return this.bytes[this.head + i]!;
  }

  /** Moves up to dst.length bytes into dst; returns the count. */
  take(dst: Uint8Array, max = dst.length): number {
    const n = Math.min(max, this.length);
    for (let i = 0; i < n; i++) dst[i] = this.bytes[this.head + i]!;
    this.drop(n);
    return n;
  }

  drop(n: number): void {
    this.head += n;
    if (this.head === this.bytes.length) {
      this.bytes = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.bytes.length) {
      this.bytes = this.bytes.slice(this.head);
      this.head = 0;
    }
  }

  clear(): void {
    this.bytes = [];
    this.head = 0;
  }
}

function isCntrl(c: number): boolean {
  return c < 0x20 || c === 0x7f;
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/**
 * A line discipline's state as plain data (a checkpoint's, kernel/checkpoint/ttys.ts). Line
 * ends are offsets into `input` (the counts of bytes ever committed and read are not kept:
 * only their difference means anything).
 */
export interface SavedLineDiscipline {
  termios: SavedTermios;
  input: Uint8Array<ArrayBuffer>;
  delims: Array<{ at: number; eof: boolean }>;
  line: Uint8Array<ArrayBuffer>;
  output: Uint8Array<ArrayBuffer>;
  /** Typed bytes not yet taken by the discipline (absent: none). */
  flip?: Uint8Array<ArrayBuffer> | undefined;
  column: number;
  lineColumn: number;
  lnext: boolean;
  stopped: boolean;
}

/** struct ktermios as plain data. */
export interface SavedTermios {
  iflag: number;
  oflag: number;
  cflag: number;
  lflag: number;
  line: number;
  cc: number[];
  ispeed: number;
  ospeed: number;
}

/** @savable The state of one terminal's line discipline. */
export class LineDiscipline {
  termios = new Termios();
  /** Input readable now (committed lines, or every byte in non-canonical mode). */
  readonly #input = new ByteQueue();
  /**
   * Line ends inside #input, as absolute counts of bytes ever committed; `eof` ends are not
   * bytes of the line (the EOF character is not read).
   */
  #delims: Array<{ at: number; eof: boolean }> = [];
  /** Bytes ever committed to #input, and ever read from it. */
  #committed = 0;
  #consumed = 0;
  /** The canonical line being edited, not yet readable. */
  #line: number[] = [];
  /** Typed bytes waiting for room in the input buffer (Linux's flip buffer), in order. */
  readonly #flip = new ByteQueue();
  /** Output for the hardware side (processed writes and echoes). */
  readonly #output = new ByteQueue();
  /** The output column, for tabs and erasing. */
  column = 0;
  /** The column where the line being edited started, for erasing tabs. */
  #lineColumn = 0;
  /** The next input byte is literal (after LNEXT). */
  #lnext = false;
  /** Output stopped by STOP (IXON) or TCOOFF. */
  stopped = false;
  /** Signals the last input raised, for the terminal to send to its foreground group. */
  signals: number[] = [];

  get canonical(): boolean {
    return (this.termios.lflag & ICANON) !== 0;
  }

  /** Bytes waiting for the hardware side. */
  get outputLength(): number {
    return this.#output.length;
  }

  /** Bytes in the input buffer, committed or being edited. */
  get inputLength(): number {
    return this.#input.length + this.#line.length;
  }

  /**
   * FIONREAD: bytes a read could return: in canonical mode the committed lines without their
   * EOF markers, else everything.
   */
  get readableBytes(): number {
    return this.#input.length;
  }

  /** Whether a read would return now (poll's POLLIN). forPoll: VMIN counts when VTIME is 0. */
  inputReady(forPoll: boolean): boolean {
    if (this.canonical) return this.#delims.length > 0 || this.#input.length > 0;
    const cc = this.termios.cc;
    const amt = forPoll && cc[VTIME] === 0 && cc[VMIN]! > 0 ? cc[VMIN]! : 1;
    return this.#input.length >= amt;
  }

  /** How many more bytes the hardware side may send now (room in the flip buffer). */
  get inputRoom(): number {
    return FLIP_BUFFER_SIZE - this.#flip.length;
  }

  /** Typed bytes waiting for room in the input buffer. */
  get pendingInput(): number {
    return this.#flip.length;
  }

  /** Changes the settings; a switch out of canonical mode makes the edited line readable. */
  setTermios(t: Termios): void {
    const wasCanon = this.canonical;
    this.termios = t;
    if (wasCanon && !this.canonical) {
      this.#commitLine(null);
      this.#delims = [];
    } else if (!wasCanon && this.canonical && this.#input.length > 0) {
      // What was typed raw is pushed as one line, as Linux does.
      this.#delims.push({ at: this.#committed, eof: false });
    }
    if ((t.iflag & IXON) === 0 && this.stopped) this.stopped = false;
  }

  // ---- input (hardware side → readers) ------------------------------------------------------

  /**
   * Bytes from the hardware side: as many as the flip buffer has room for are taken (fewer
   * than given, 0 meaning "wait", only when it is full), then processed while the input buffer
   * has room; the rest waits there, in order, for {@linkcode drainPending} (after a read or a
   * change of settings), as Linux's pty keeps a throttled discipline's input.
   */
  receive(src: Uint8Array): number {
    const k = Math.min(src.length, this.inputRoom);
    for (let i = 0; i < k; i++) this.#flip.push(src[i]!);
    this.drainPending();
    return k;
  }

  /**
   * Processes waiting typed bytes while the input buffer has room: as n_tty, it keeps one byte
   * of its N_TTY_BUF_SIZE free (4095 readable bytes at most).
   */
  drainPending(): void {
    while (this.#flip.length > 0 && this.#input.length < INPUT_BUFFER_SIZE - 1) {
      const c = this.#flip.at(0);
      this.#flip.drop(1);
      this.#receiveByte(c);
    }
  }

  #receiveByte(c: number): void {
    const t = this.termios;
    const cc = t.cc;
    if (t.iflag & ISTRIP) c &= 0x7f;
    if (t.iflag & IUCLC && (t.lflag & IEXTEN) && c >= 0x41 && c <= 0x5a) c += 0x20;
    if (this.#lnext) {
      this.#lnext = false;
      if (t.lflag & ECHO) {
        // Take back the "^\b" shown for LNEXT.
        this.#echoChar(c);
      }
      this.#put(c);
      return;
    }
    if (t.iflag & IXON) {
      if (c === cc[VSTART] && c !== 0) {
        this.stopped = false;
        return;
      }
      if (c === cc[VSTOP] && c !== 0) {
        this.stopped = true;
        return;
      }
    }
    if (t.lflag & ISIG) {
      const sig = c === 0 ? 0 : c === cc[VINTR] ? SIGINT : c === cc[VQUIT] ? SIGQUIT : c === cc[VSUSP] ? SIGTSTP : 0;
      if (sig !== 0) {
        this.signals.push(sig);
        if ((t.lflag & NOFLSH) === 0) {
          // n_tty's reset_buffer_flags: what was typed after the character still comes.
          this.#resetInput();
          this.flushOutput();
        }
        if (t.iflag & IXON) this.stopped = false;
        if (t.lflag & ECHO) this.#echoChar(c);
        return;
      }
    }
    if (this.stopped && (t.iflag & (IXON | IXANY)) === (IXON | IXANY)) this.stopped = false;
    if (c === 0x0d) {
      if (t.iflag & IGNCR) return;
      if (t.iflag & ICRNL) c = 0x0a;
    } else if (c === 0x0a && (t.iflag & INLCR)) {
      c = 0x0d;
    }
    if (this.canonical) {
      if (c !== 0 && (c === cc[VERASE] || c === cc[VKILL] || (c === cc[VWERASE] && (t.lflag & IEXTEN)))) {
        this.#erase(c);
        return;
      }
      if (c !== 0 && c === cc[VLNEXT] && (t.lflag & IEXTEN)) {
        this.#lnext = true;
        if ((t.lflag & (ECHO | ECHOCTL)) === (ECHO | ECHOCTL)) {
          this.#output.push(0x5e);
          this.#output.push(0x08);
        }
        return;
      }
      if (c !== 0 && c === cc[VREPRINT] && (t.lflag & (ECHO | IEXTEN)) === (ECHO | IEXTEN)) {
        this.#echoChar(c);
        this.#echoRaw(0x0a);
        this.#lineColumn = this.column;
        for (const b of this.#line) this.#echoChar(b);
        return;
      }
      if (c === 0x0a) {
        if (t.lflag & (ECHO | ECHONL)) this.#echoRaw(0x0a);
        this.#commitLine(c);
        return;
      }
      if (c !== 0 && c === cc[VEOF]) {
        this.#commitLine(null);
        return;
      }
      if (c !== 0 && (c === cc[VEOL] || (c === cc[VEOL2] && (t.lflag & IEXTEN)))) {
        if (t.lflag & ECHO) this.#echoChar(c);
        this.#commitLine(c);
        return;
      }
    }
    if (t.lflag & ECHO) {
      if (c === 0x0a) this.#echoRaw(0x0a);
      else {
        if (this.#line.length === 0) this.#lineColumn = this.column;
        this.#echoChar(c);
      }
    }
    this.#put(c);
  }

  /** Adds a byte: to the edited line (canonical) or straight to the readable input. */
  #put(c: number): void {
    if (this.canonical) {
      // A full line keeps room for its terminator only (Linux drops the rest).
      if (this.#input.length + this.#line.length < INPUT_BUFFER_SIZE - 1) this.#line.push(c);
    } else {
      this.#input.push(c);
      this.#committed++;
    }
  }

  /** Ends the edited line: with terminator byte c, or with null for EOF (no byte). */
  #commitLine(c: number | null): void {
    for (const b of this.#line) this.#input.push(b);
    this.#committed += this.#line.length;
    this.#line = [];
    if (c !== null) {
      this.#input.push(c);
      this.#committed++;
    }
    if (this.canonical) this.#delims.push({ at: this.#committed, eof: c === null });
  }

  /** ERASE, WERASE and KILL, with their echoes (Linux's eraser()). */
  #erase(c: number): void {
    const t = this.termios;
    if (this.#line.length === 0) return;
    const kind = c === t.cc[VERASE] ? "erase" : c === t.cc[VWERASE] ? "werase" : "kill";
    if (kind === "kill") {
      if ((t.lflag & ECHO) === 0) {
        this.#line = [];
        return;
      }
      if ((t.lflag & (ECHOK | ECHOKE | ECHOE)) !== (ECHOK | ECHOKE | ECHOE)) {
        this.#line = [];
        this.#echoChar(c);
        if (t.lflag & ECHOK) this.#echoRaw(0x0a);
        return;
      }
    }
    const utf8 = (t.iflag & IUTF8) !== 0;
    let seenAlnum = 0;
    while (this.#line.length > 0) {
      // One possibly multibyte character.
      let start = this.#line.length - 1;
      while (utf8 && start > 0 && (this.#line[start]! & 0xc0) === 0x80) start--;
      const ch = this.#line[start]!;
      if (utf8 && (ch & 0xc0) === 0x80) break;
      if (kind === "werase") {
        if (isAlnum(ch) || ch === 0x5f) seenAlnum++;
        else if (seenAlnum > 0) break;
      }
      this.#line.length = start;
      if (t.lflag & ECHO) {
        if (kind === "erase" && (t.lflag & ECHOE) === 0) {
          this.#echoChar(t.cc[VERASE]!);
        } else if (ch === 0x09) {
          // Back to the column the tab started at: replay the rest of the line.
          let col = this.#lineColumn;
          for (const b of this.#line) {
            if (b === 0x09) col = (col | 7) + 1;
            else if (isCntrl(b)) col += (t.lflag & ECHOCTL) ? 2 : 0;
            else if (!utf8 || (b & 0xc0) !== 0x80) col++;
          }
          const n = Math.max(0, this.column - col);
          for (let i = 0; i < n; i++) this.#echoRaw(0x08);
        } else {
          const times = isCntrl(ch) ? ((t.lflag & ECHOCTL) ? 2 : 0) : 1;
          for (let i = 0; i < times; i++) {
            this.#echoRaw(0x08);
            this.#echoRaw(0x20);
            this.#echoRaw(0x08);
          }
        }
      }
      if (kind === "erase") break;
    }
  }

  /** Echoes a typed character: control characters as ^X with ECHOCTL (Linux's echo_char). */
  #echoChar(c: number): void {
    if ((this.termios.lflag & ECHOCTL) && isCntrl(c) && c !== 0x09) {
      this.#output.push(0x5e);
      this.#output.push(c ^ 0x40);
      this.column += 2;
      return;
    }
    this.#echoRaw(c);
  }

  /** Echoes a byte through output processing. */
  #echoRaw(c: number): void {
    this.#outputByte(c);
  }

  /**
   * Reads into dst. Canonical: up to the end of the first line (0 at an EOF that starts a line);
   * non-canonical: what is there, up to dst.length. Returns null when there is nothing to read
   * (the caller decides whether that means wait, 0, or EOF).
   */
  read(dst: Uint8Array): number | null {
    if (this.canonical) {
      const d = this.#delims[0];
      if (d === undefined) {
        if (this.#input.length === 0) return null;
        // Data committed before a switch into canonical mode, with no end: read it.
        return this.#take(dst, this.#input.length);
      }
      const lineLen = d.at - this.#consumed;
      const n = this.#take(dst, Math.min(dst.length, lineLen));
      if (this.#consumed === d.at) this.#delims.shift();
      return n;
    }
    if (this.#input.length === 0) return null;
    return this.#take(dst, dst.length);
  }

  #take(dst: Uint8Array, max: number): number {
    const n = this.#input.take(dst, max);
    this.#consumed += n;
    return n;
  }

  /** TCIFLUSH: drops every byte of input, committed, being edited or waiting. */
  flushInput(): void {
    this.#flip.clear();
    this.#resetInput();
  }

  /** Drops the input buffer: committed lines and the line being edited. */
  #resetInput(): void {
    this.#input.clear();
    this.#consumed = this.#committed;
    this.#delims = [];
    this.#line = [];
    this.#lnext = false;
  }

  // ---- output (writers → hardware side) -----------------------------------------------------

  /**
   * Processes bytes a program writes. Returns how many were taken: fewer when the output
   * buffer is full (or output is stopped), 0 meaning "wait".
   */
  write(src: Uint8Array): number {
    let i = 0;
    for (; i < src.length; i++) {
      if (this.stopped || this.#output.length >= OUTPUT_BUFFER_SIZE) break;
      this.#outputByte(src[i]!);
    }
    return i;
  }

  /** Linux's do_output_char. */
  #outputByte(c: number): void {
    const t = this.termios;
    const o = this.#output;
    if ((t.oflag & OPOST) === 0) {
      o.push(c);
      return;
    }
    switch (c) {
      case 0x0a:
        if (t.oflag & ONLRET) this.column = 0;
        if (t.oflag & ONLCR) {
          this.column = 0;
          o.push(0x0d);
        }
        o.push(0x0a);
        return;
      case 0x0d:
        if ((t.oflag & ONOCR) && this.column === 0) return;
        if (t.oflag & OCRNL) {
          if (t.oflag & ONLRET) this.column = 0;
          o.push(0x0a);
          return;
        }
        this.column = 0;
        o.push(0x0d);
        return;
      case 0x09: {
        const spaces = 8 - (this.column & 7);
        this.column += spaces;
        if ((t.oflag & TABDLY) === XTABS) {
          for (let i = 0; i < spaces; i++) o.push(0x20);
        } else {
          o.push(0x09);
        }
        return;
      }
      case 0x08:
        if (this.column > 0) this.column--;
        o.push(0x08);
        return;
      default:
        if (!isCntrl(c)) {
          if ((t.oflag & OLCUC) && c >= 0x61 && c <= 0x7a) c -= 0x20;
          if ((t.iflag & IUTF8) === 0 || (c & 0xc0) !== 0x80) this.column++;
        }
        o.push(c);
    }
  }

  /** The hardware side reads processed output. Returns 0 when there is none. */
  readOutput(dst: Uint8Array): number {
    return this.#output.take(dst);
  }

  /** TCOFLUSH: drops output not yet read by the hardware side. */
  flushOutput(): void {
    this.#output.clear();
  }

  /** The state as plain data (signals are sent as input raises them: none wait between calls). */
  save(): SavedLineDiscipline {
    const t = this.termios;
    return {
      termios: { iflag: t.iflag, oflag: t.oflag, cflag: t.cflag, lflag: t.lflag, line: t.line, cc: [...t.cc], ispeed: t.ispeed, ospeed: t.ospeed },
      input: Uint8Array.from(this.#input.bytes.slice(this.#input.head)),
      delims: this.#delims.map((d) => ({ at: d.at - this.#consumed, eof: d.eof })),
      line: Uint8Array.from(this.#line),
      output: Uint8Array.from(this.#output.bytes.slice(this.#output.head)),
      ...(this.#flip.length > 0 ? { flip: Uint8Array.from(this.#flip.bytes.slice(this.#flip.head)) } : {}),
      column: this.column,
      lineColumn: this.#lineColumn,
      lnext: this.#lnext,
      stopped: this.stopped,
    };
  }

  /**
   * A discipline from saved state. Throws a plain Error naming what does not hold together
   * (line ends outside the input or out of order, more input than the buffer holds).
   */
  static load(s: SavedLineDiscipline): LineDiscipline {
    if (s.input.length + s.line.length > INPUT_BUFFER_SIZE) throw new Error("more input than a terminal holds");
    let prev = 0;
    for (const d of s.delims) {
      if (d.at < prev || d.at > s.input.length) throw new Error("a line end outside its input");
      prev = d.at;
    }
    const ld = new LineDiscipline();
    const t = new Termios();
    Object.assign(t, { ...s.termios, cc: [...s.termios.cc] });
    ld.termios = t;
    for (const b of s.input) ld.#input.push(b);
    ld.#committed = s.input.length;
    ld.#consumed = 0;
    ld.#delims = s.delims.map((d) => ({ ...d }));
    ld.#line = [...s.line];
    for (const b of s.output) ld.#output.push(b);
    if ((s.flip?.length ?? 0) > FLIP_BUFFER_SIZE) throw new Error("more typed input than a terminal holds");
    for (const b of s.flip ?? []) ld.#flip.push(b);
    ld.column = s.column;
    ld.#lineColumn = s.lineColumn;
    ld.#lnext = s.lnext;
    ld.stopped = s.stopped;
    return ld;
  }

  /** Takes the signals the input raised since the last call. */
  takeSignals(): number[] {
    const s = this.signals;
    this.signals = [];
    return s;
  }
}
