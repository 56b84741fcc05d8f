/**
 * Open terminals: the master and slave descriptions of a pty, and the ioctls that need no
 * knowledge of the caller (termios, window size, queue sizes, flushing, pty numbers). The
 * requests that depend on the calling process (TIOCSCTTY, TIOCNOTTY, TIOCGPGRP, TIOCSPGRP,
 * TIOCGSID, TIOCGPTPEER, and the job-control check before TCSETS and friends) are the kernel's
 * (kernel/syscalls/linux/_tty.ts), which then calls {@linkcode TtyFile.ioctl} for the rest.
 *
 * As in Linux, most requests on a master act on its slave's terminal (tty_pair_get_tty): the
 * pair shares one {@linkcode Terminal} here.
 *
 * @module
 */

import { EAGAIN, EINVAL, EIO, ENOTTY } from "../../kernel/errno.ts";
import { S_IFCHR } from "../../abi/linux/file.ts";
import { EVENT_ERR, EVENT_HUP, EVENT_IN, EVENT_OUT, EVENT_RDNORM, EVENT_WRNORM } from "../../waiter/mod.ts";
import {
  FIONREAD, TCFLSH, TCGETA, TCGETS, TCGETS2, TCIFLUSH, TCIOFF, TCIOFLUSH, TCION, TCOFLUSH, TCOOFF,
  TCOON, TCSBRK, TCSBRKP, TCSETA, TCSETAF, TCSETAW, TCSETS, TCSETS2, TCSETSF, TCSETSF2, TCSETSW,
  TCSETSW2, TCXONC, TERMIO_SIZE, TERMIOS2_SIZE, TERMIOS_SIZE, TIOCEXCL, TIOCGDEV, TIOCGETD,
  TIOCGEXCL, TIOCGPTLCK, TIOCGPTN, TIOCGWINSZ, TIOCNXCL, TIOCOUTQ, TIOCSETD, TIOCSPTLCK,
  TIOCGPKT, TIOCPKT, TIOCPKT_FLUSHREAD, TIOCPKT_FLUSHWRITE, TIOCSWINSZ, TTYAUX_MAJOR, UNIX98_PTY_SLAVE_MAJOR, VMIN,
  VTIME, WINSIZE_SIZE,
} from "../../abi/linux/tty.ts";
import { FileDescription, type MemoryIO, type Stat } from "../file_description.ts";
import type { Location } from "../mount.ts";
import { decodeWinsize, encodeWinsize, type Terminal } from "./terminal.ts";
import { Termios } from "./termios.ts";

/** Linux's new_encode_dev: a dev_t as the 32 bits TIOCGDEV returns. */
export function encodeDev(major: number, minor: number): number {
  return ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

/** Requests that change the terminal's settings: a background process is stopped first. */
export const SETTING_REQUESTS: ReadonlySet<number> = new Set([
  TCSETS, TCSETSW, TCSETSF, TCSETS2, TCSETSW2, TCSETSF2, TCSETA, TCSETAW, TCSETAF, TCFLSH, TCXONC,
]);

/** @savable An open terminal, either side. */
export abstract class TtyFile extends FileDescription {
  override get supportsAsync(): boolean {
    return true;
  }
  /** Immutable. */
  readonly terminal: Terminal;
  /** Immutable. Where it was opened, if in the tree. */
  readonly #loc: Location | null;

  constructor(terminal: Terminal, flags: number, loc: Location | null, isMaster: boolean) {
    super(flags, isMaster ? terminal.masterQueue : terminal.slaveQueue);
    this.terminal = terminal;
    this.#loc = loc;
  }

  abstract get isMaster(): boolean;

  override get isStream(): boolean {
    return true;
  }

  override location(): Location | null {
    return this.#loc;
  }

  /** A character device's attributes: the node it was opened by, else synthesized. */
  stat(): Stat {
    if (this.#loc !== null) return this.#loc.dentry.stat();
    const [major, minor] = this.deviceNumber();
    return {
      dev: 0x16, ino: 3 + this.terminal.index, mode: S_IFCHR | 0o620, nlink: 1, uid: 0, gid: 5,
      rdev: major * 256 + minor, size: 0, blksize: 1024, blocks: 0, atimeNs: 0n, mtimeNs: 0n, ctimeNs: 0n,
    };
  }

  /** (major, minor) of this side: 5:2 for a master (ptmx), 136:N for a slave. */
  abstract deviceNumber(): [number, number];

  override ioctl(cmd: number, arg: number, io: MemoryIO): number {
    const term = this.terminal;
    const ld = term.ld;
    switch (cmd) {
      case TCGETS:
        io.copyOut(arg, ld.termios.encode());
        return 0;
      case TCGETS2:
        io.copyOut(arg, ld.termios.encode(true));
        return 0;
      case TCGETA:
        io.copyOut(arg, ld.termios.encodeTermio());
        return 0;
      case TCSETS:
      case TCSETSW:
      case TCSETSF:
        this.#setTermios(Termios.decode(io.copyIn(arg, TERMIOS_SIZE)), cmd === TCSETSF);
        return 0;
      case TCSETS2:
      case TCSETSW2:
      case TCSETSF2:
        this.#setTermios(Termios.decode(io.copyIn(arg, TERMIOS2_SIZE)), cmd === TCSETSF2);
        return 0;
      case TCSETA:
      case TCSETAW:
      case TCSETAF:
        this.#setTermios(ld.termios.withTermio(io.copyIn(arg, TERMIO_SIZE)), cmd === TCSETAF);
        return 0;
      case TIOCGWINSZ:
        io.copyOut(arg, encodeWinsize(term.winsize));
        return 0;
      case TIOCSWINSZ:
        term.setWindowSize(decodeWinsize(io.copyIn(arg, WINSIZE_SIZE)));
        return 0;
      case FIONREAD:
        io.copyOut(arg, u32(this.isMaster ? ld.outputLength : ld.readableBytes));
        return 0;
      case TIOCOUTQ:
        // A pty keeps no driver-side output (Linux's pty has no chars_in_buffer).
        io.copyOut(arg, u32(0));
        return 0;
      case TCFLSH:
        this.#flush(arg);
        return 0;
      case TCXONC:
        this.#flowControl(arg);
        return 0;
      case TCSBRK:
      case TCSBRKP:
        return 0; // Output is "sent" as soon as it is queued.
      case TIOCGETD:
        io.copyOut(arg, u32(0)); // N_TTY
        return 0;
      case TIOCSETD: {
        const v = new DataView(io.copyIn(arg, 4).buffer).getInt32(0, true);
        if (v !== 0) throw EINVAL;
        return 0;
      }
      case TIOCEXCL:
        term.exclusive = true;
        return 0;
      case TIOCNXCL:
        term.exclusive = false;
        return 0;
      case TIOCGEXCL:
        io.copyOut(arg, u32(term.exclusive ? 1 : 0));
        return 0;
      case TIOCGDEV: {
        const [major, minor] = this.isMaster ? [UNIX98_PTY_SLAVE_MAJOR, term.index] : this.deviceNumber();
        io.copyOut(arg, u32(encodeDev(major, minor)));
        return 0;
      }
      default:
        return this.ioctlSide(cmd, arg, io);
    }
  }

  /** Requests of one side only (the master's pty numbering). */
  protected ioctlSide(_cmd: number, _arg: number, _io: MemoryIO): number {
    throw ENOTTY;
  }

  #setTermios(t: Termios, flushInput: boolean): void {
    if (flushInput) this.terminal.ld.flushInput();
    this.terminal.ld.setTermios(t);
    this.terminal.settingsChanged();
  }

  /** TCXONC: suspend or restart output; TCIOFF/TCION (send STOP/START) have no line to send on. */
  #flowControl(action: number): void {
    const ld = this.terminal.ld;
    switch (action) {
      case TCOOFF:
        if (!ld.stopped) this.terminal.outputFlow(true);
        ld.stopped = true;
        return;
      case TCOON:
        if (ld.stopped) this.terminal.outputFlow(false);
        ld.stopped = false;
        this.terminal.settingsChanged();
        return;
      case TCIOFF:
      case TCION:
        return;
      default:
        throw EINVAL;
    }
  }

  /** TCFLSH: which queues a side flushes, as seen from that side. */
  #flush(which: number): void {
    if (which !== TCIFLUSH && which !== TCOFLUSH && which !== TCIOFLUSH) throw EINVAL;
    const ld = this.terminal.ld;
    const input = which === TCIFLUSH || which === TCIOFLUSH;
    const output = which === TCOFLUSH || which === TCIOFLUSH;
    // The master's input is the slave's output, and the other way round.
    if (this.isMaster ? output : input) ld.flushInput();
    if (this.isMaster ? input : output) ld.flushOutput();
    // A slave's flush is news for a packet-mode master; its own flushes are not.
    if (!this.isMaster) this.terminal.packetEvent((input ? TIOCPKT_FLUSHREAD : 0) | (output ? TIOCPKT_FLUSHWRITE : 0));
    this.terminal.settingsChanged();
  }
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

/** What the master side owner does when the last master description goes. */
export interface PtyOwner {
  masterGone(t: Terminal): void;
}

/** @savable The master side of a pty, as /dev/ptmx opens it. */
export class PtyMasterFile extends TtyFile {
  readonly #owner: PtyOwner | null;

  constructor(terminal: Terminal, flags: number, loc: Location | null, owner: PtyOwner | null) {
    super(terminal, flags, loc, true);
    this.#owner = owner;
    terminal.masterOpens++;
  }

  get isMaster(): boolean {
    return true;
  }

  path(): string {
    return "/dev/ptmx";
  }

  deviceNumber(): [number, number] {
    return [TTYAUX_MAJOR, 2];
  }

  override read(dst: Uint8Array, _offset: number | null): number {
    return this.terminal.masterRead(dst);
  }

  override write(src: Uint8Array, _offset: number | null): number {
    return this.terminal.masterWrite(src);
  }

  override readiness(mask: number): number {
    return this.terminal.masterReadiness(mask);
  }

  protected override ioctlSide(cmd: number, arg: number, io: MemoryIO): number {
    switch (cmd) {
      case TIOCGPTN:
        io.copyOut(arg, u32(this.terminal.index));
        return 0;
      case TIOCSPTLCK:
        this.terminal.locked = new DataView(io.copyIn(arg, 4).buffer).getInt32(0, true) !== 0;
        return 0;
      case TIOCGPTLCK:
        io.copyOut(arg, u32(this.terminal.locked ? 1 : 0));
        return 0;
      case TIOCPKT: {
        const on = new DataView(io.copyIn(arg, 4).buffer).getInt32(0, true) !== 0;
        if (on !== this.terminal.packet) this.terminal.pktStatus = 0;
        this.terminal.packet = on;
        return 0;
      }
      case TIOCGPKT:
        io.copyOut(arg, u32(this.terminal.packet ? 1 : 0));
        return 0;
      default:
        throw ENOTTY;
    }
  }

  protected override release(): void {
    this.terminal.masterClosed();
    if (this.terminal.masterOpens === 0) this.#owner?.masterGone(this.terminal);
  }
}

/** @savable The slave side: the terminal programs use. */
export class PtySlaveFile extends TtyFile {
  /** The terminal's vhangup count when this was opened: a later vhangup hangs this up. */
  #hangups: number;

  constructor(terminal: Terminal, flags: number, loc: Location | null, vhungUp = false) {
    super(terminal, flags, loc, false);
    terminal.slaveOpened();
    this.#hangups = vhungUp ? terminal.hangups - 1 : terminal.hangups;
  }

  /** Hung up: by the master's last close, or by a vhangup(2) since this was opened. */
  get hungUp(): boolean {
    return this.terminal.hungUp || this.#hangups !== this.terminal.hangups;
  }

  /** Hung up by a vhangup(2) (the terminal itself is not), as a checkpoint saves it. */
  get vhungUp(): boolean {
    return this.#hangups !== this.terminal.hangups;
  }

  get isMaster(): boolean {
    return false;
  }

  path(): string {
    return `/dev/pts/${this.terminal.index}`;
  }

  deviceNumber(): [number, number] {
    return [UNIX98_PTY_SLAVE_MAJOR, this.terminal.index];
  }

  /**
   * A read as read(2) without a clock: canonical mode waits for a line; non-canonical waits
   * for min(VMIN, dst.length) bytes, or returns at once when VMIN and VTIME are 0. VTIME's
   * timers are the syscall layer's (see kernel/syscalls/linux/_tty.ts), which uses
   * {@linkcode PtySlaveFile.readAvailable} when a timer ran out.
   */
  override read(dst: Uint8Array, _offset: number | null): number {
    const term = this.terminal;
    if (dst.length === 0 || this.vhungUp) return 0;
    if (!term.hungUp && !term.ld.canonical) {
      const cc = term.ld.termios.cc;
      const need = Math.min(cc[VMIN]!, dst.length);
      if (term.ld.readableBytes < need) throw EAGAIN;
      if (need === 0 && cc[VTIME] === 0 && term.ld.readableBytes === 0) return 0;
    }
    const n = term.slaveRead(dst);
    if (n === null) throw EAGAIN;
    return n;
  }

  /** Whatever is readable now, 0 if nothing (VTIME ran out). */
  readAvailable(dst: Uint8Array): number {
    if (this.vhungUp) return 0;
    return this.terminal.slaveRead(dst) ?? 0;
  }

  override write(src: Uint8Array, _offset: number | null): number {
    if (this.vhungUp) throw EIO;
    return this.terminal.slaveWrite(src);
  }

  override readiness(mask: number): number {
    if (this.vhungUp) return (EVENT_IN | EVENT_OUT | EVENT_RDNORM | EVENT_WRNORM) & mask | EVENT_HUP | EVENT_ERR;
    return this.terminal.slaveReadiness(mask);
  }

  override ioctl(cmd: number, arg: number, io: MemoryIO): number {
    // A hung-up terminal answers nothing (Linux's hung_up_tty_ioctl).
    if (this.hungUp) throw EIO;
    return super.ioctl(cmd, arg, io);
  }

  protected override release(): void {
    this.terminal.slaveClosedOne();
  }
}
