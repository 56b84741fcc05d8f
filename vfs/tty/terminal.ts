/**
 * A terminal: one pseudo-terminal pair as Linux's pair of tty_structs (the slave, which
 * programs use as their terminal, and the master, the "hardware" that types into it and shows
 * its output). Plain data around a {@linkcode LineDiscipline}: the window size, the session it
 * controls and its foreground process group, the open counts of both sides and two wait queues.
 *
 * The terminal knows processes only as numbers (session id, process group id). What needs the
 * process table goes through {@linkcode TtyHost}, which the kernel implements: sending a signal
 * to a process group, and hanging up the session when the master goes away. Permission checks
 * that depend on the caller (job control, TIOCSCTTY, TIOCSPGRP) are the kernel's too.
 *
 * Wait queues: {@linkcode Terminal.slaveQueue} fires EVENT_IN when a read of the slave may
 * succeed and EVENT_OUT when a write may; {@linkcode Terminal.masterQueue} the same for the
 * master side. Either fires EVENT_HUP when the other side closes.
 *
 * @module
 */

import { EAGAIN, EIO } from "../../kernel/errno.ts";
import { SIGCONT, SIGHUP, SIGWINCH } from "../../abi/linux/signal.ts";
import { EVENT_ERR, EVENT_HUP, EVENT_IN, EVENT_OUT, EVENT_PRI, EVENT_RDNORM, EVENT_WRNORM, WaitQueue } from "../../waiter/mod.ts";
import { Termios } from "./termios.ts";
import { LineDiscipline, OUTPUT_BUFFER_SIZE } from "./line_discipline.ts";
import { TIOCPKT_DATA, TIOCPKT_START, TIOCPKT_STOP, WINSIZE_SIZE } from "../../abi/linux/tty.ts";

/** What a terminal asks of the process table. Implemented by the kernel. */
export interface TtyHost {
  /** Sends signo to every process of process group pgid (a signal from the terminal). */
  signalProcessGroup(pgid: number, signo: number): void;
  /** Sends signo to the leader of session sid, if it lives. */
  signalSessionLeader(sid: number, signo: number): void;
  /** Every process of session sid loses t as its controlling terminal. */
  detachSession(sid: number, t: Terminal): void;
}

/** struct winsize. */
export interface WindowSize {
  rows: number;
  cols: number;
  xpixel: number;
  ypixel: number;
}

export function encodeWinsize(w: WindowSize): Uint8Array {
  const b = new Uint8Array(WINSIZE_SIZE);
  const v = new DataView(b.buffer);
  v.setUint16(0, w.rows, true);
  v.setUint16(2, w.cols, true);
  v.setUint16(4, w.xpixel, true);
  v.setUint16(6, w.ypixel, true);
  return b;
}

export function decodeWinsize(b: Uint8Array): WindowSize {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { rows: v.getUint16(0, true), cols: v.getUint16(2, true), xpixel: v.getUint16(4, true), ypixel: v.getUint16(6, true) };
}

/** @savable One pseudo-terminal pair. */
export class Terminal {
  /** Immutable. The pty number: the slave is /dev/pts/<index>. */
  readonly index: number;
  readonly ld: LineDiscipline;
  winsize: WindowSize = { rows: 0, cols: 0, xpixel: 0, ypixel: 0 };
  /** The session this is the controlling terminal of; 0 for none. */
  session = 0;
  /** The foreground process group; 0 for none. */
  foregroundPgrp = 0;
  /** Open master descriptions (0 once the master closed: the terminal is hung up). */
  masterOpens = 0;
  /** Open slave descriptions, and whether a slave was ever opened. */
  slaveOpens = 0;
  slaveEverOpened = false;
  /** The master closed: slave reads see end of file, writes EIO. */
  hungUp = false;
  /**
   * vhangup(2)s of this terminal so far: a slave description opened before the latest one is
   * hung up (PtySlaveFile), later opens are not, as Linux's per-file hung_up_tty_fops.
   */
  hangups = 0;
  /** TIOCSPTLCK: the slave cannot be opened while locked (a new pty starts locked). */
  locked = true;
  /** TIOCEXCL. */
  exclusive = false;
  /** TIOCPKT: master reads start with a status byte (TIOCPKT_DATA, or the events below). */
  packet = false;
  /** TIOCPKT_* events the master has yet to read (flushes, stop and start of output). */
  pktStatus = 0;
  readonly slaveQueue = new WaitQueue();
  readonly masterQueue = new WaitQueue();
  /** Who sends the signals; null in unit tests that need none. */
  host: TtyHost | null;

  /** ld: a restored discipline (a checkpoint's); a new one by default. */
  constructor(index: number, host: TtyHost | null, ld: LineDiscipline = new LineDiscipline()) {
    this.index = index;
    this.host = host;
    this.ld = ld;
  }

  // ---- the master side ----------------------------------------------------------------------

  /** Bytes typed into the terminal. Returns how many were taken; EAGAIN when none fit. */
  masterWrite(src: Uint8Array): number {
    if (src.length === 0) return 0;
    const wasStopped = this.ld.stopped;
    const n = this.ld.receive(src);
    // ^S / ^Q: a packet-mode master hears of output stopping and starting.
    if (this.ld.stopped !== wasStopped) this.outputFlow(this.ld.stopped);
    this.#sendSignals();
    if (n === 0) throw EAGAIN;
    this.#inputChanged();
    return n;
  }

  /**
   * Output of the terminal. EIO once every slave closed and nothing is left; else EAGAIN. In
   * packet mode a pending status comes alone, before any data; data comes after a
   * TIOCPKT_DATA byte (n_tty_read).
   */
  masterRead(dst: Uint8Array): number {
    if (dst.length === 0) return 0;
    if (this.packet && this.pktStatus !== 0) {
      dst[0] = this.pktStatus;
      this.pktStatus = 0;
      return 1;
    }
    const skip = this.packet && this.ld.outputLength > 0 ? 1 : 0;
    const n = this.ld.readOutput(dst.subarray(skip)) + skip;
    if (n > 0) {
      if (skip) dst[0] = TIOCPKT_DATA;
      this.slaveQueue.notify(EVENT_OUT | EVENT_WRNORM);
      return n;
    }
    if (this.slaveClosed) throw EIO;
    throw EAGAIN;
  }

  /** Every slave description that was opened has been closed. */
  get slaveClosed(): boolean {
    return this.slaveEverOpened && this.slaveOpens === 0;
  }

  masterReadiness(mask: number): number {
    let r = 0;
    if (this.ld.outputLength > 0) r |= EVENT_IN | EVENT_RDNORM;
    if (this.packet && this.pktStatus !== 0) r |= EVENT_IN | EVENT_RDNORM | EVENT_PRI;
    // POLLHUP without POLLIN once every slave closed (n_tty_poll); a read then sees EIO.
    if (this.slaveClosed) r |= EVENT_HUP;
    if (this.ld.inputRoom > 0) r |= EVENT_OUT | EVENT_WRNORM;
    return r & (mask | EVENT_HUP | EVENT_ERR);
  }

  /** A master description closed; the last one hangs the terminal up. */
  masterClosed(): void {
    if (--this.masterOpens > 0) return;
    this.hangup();
  }

  /**
   * Hangs up (Linux's tty_vhangup of the slave when the master closes): the session leader
   * gets SIGHUP and SIGCONT, the session loses its controlling terminal, readers and writers
   * wake to see end of file and EIO.
   */
  hangup(): void {
    if (this.hungUp) return;
    this.hungUp = true;
    this.#hangUpSession();
  }

  /**
   * vhangup(2) of this controlling terminal (Linux's tty_vhangup): the session effects of
   * {@linkcode hangup}, and the slave descriptions open now are hung up; the terminal stays,
   * and opening it again gives a working description, with the default settings and no input
   * (a pts driver has TTY_DRIVER_RESET_TERMIOS; the line discipline is closed and reopened).
   */
  vhangup(): void {
    if (this.hungUp) return;
    this.hangups++;
    this.ld.flushInput();
    this.ld.setTermios(new Termios());
    this.ld.stopped = false;
    this.#hangUpSession();
  }

  #hangUpSession(): void {
    const sid = this.session;
    if (sid !== 0 && this.host) {
      this.host.signalSessionLeader(sid, SIGHUP);
      this.host.signalSessionLeader(sid, SIGCONT);
      this.host.detachSession(sid, this);
    }
    this.session = 0;
    this.foregroundPgrp = 0;
    this.slaveQueue.notify(EVENT_IN | EVENT_OUT | EVENT_HUP | EVENT_ERR);
  }

  // ---- the slave side -----------------------------------------------------------------------

  /** A read of the slave: null when nothing is there (the caller waits or applies VMIN/VTIME). */
  slaveRead(dst: Uint8Array): number | null {
    if (this.hungUp) return 0;
    const n = this.ld.read(dst);
    if (n !== null && n > 0) {
      // Room again: typed bytes waiting in the flip buffer go in (and may raise signals).
      if (this.ld.pendingInput > 0) this.#takePending();
      this.masterQueue.notify(EVENT_OUT | EVENT_WRNORM);
    }
    return n;
  }

  /** A write to the slave: EIO once hung up, EAGAIN when the output buffer is full. */
  slaveWrite(src: Uint8Array): number {
    if (this.hungUp) throw EIO;
    if (src.length === 0) return 0;
    const n = this.ld.write(src);
    if (n === 0) throw EAGAIN;
    this.masterQueue.notify(EVENT_IN | EVENT_RDNORM);
    return n;
  }

  slaveReadiness(mask: number): number {
    if (this.hungUp) return (EVENT_IN | EVENT_OUT | EVENT_RDNORM | EVENT_WRNORM) & mask | EVENT_HUP | EVENT_ERR;
    let r = 0;
    if (this.ld.inputReady(true)) r |= EVENT_IN | EVENT_RDNORM;
    if (!this.ld.stopped && this.ld.outputLength < OUTPUT_BUFFER_SIZE) r |= EVENT_OUT | EVENT_WRNORM;
    return r & mask;
  }

  slaveOpened(): void {
    this.slaveOpens++;
    this.slaveEverOpened = true;
  }

  slaveClosedOne(): void {
    if (--this.slaveOpens === 0) this.masterQueue.notify(EVENT_HUP | EVENT_IN);
  }

  // ---- both sides ---------------------------------------------------------------------------

  /** TIOCSWINSZ: a change sends SIGWINCH to the foreground process group. */
  setWindowSize(w: WindowSize): void {
    const o = this.winsize;
    if (o.rows === w.rows && o.cols === w.cols && o.xpixel === w.xpixel && o.ypixel === w.ypixel) return;
    this.winsize = { ...w };
    if (this.foregroundPgrp !== 0) this.host?.signalProcessGroup(this.foregroundPgrp, SIGWINCH);
  }

  /** Settings changed (or input was flushed): readers and writers may be able to go on. */
  settingsChanged(): void {
    if (this.ld.pendingInput > 0) this.#takePending();
    this.#inputChanged();
    this.masterQueue.notify(EVENT_IN | EVENT_OUT);
    this.slaveQueue.notify(EVENT_OUT);
  }

  /**
   * A packet-mode event for the master (TIOCPKT_FLUSHREAD, _FLUSHWRITE, ...): it reads it
   * before any more data, and poll says POLLPRI. Nothing outside packet mode.
   */
  packetEvent(bits: number): void {
    if (!this.packet) return;
    this.pktStatus |= bits;
    this.masterQueue.notify(EVENT_IN | EVENT_RDNORM | EVENT_PRI);
  }

  /** Output stopped or started (^S/^Q, TCOOFF/TCOON): TIOCPKT_STOP or _START (stop_tty). */
  outputFlow(stopped: boolean): void {
    if (!this.packet) return;
    this.pktStatus = (this.pktStatus & ~(stopped ? TIOCPKT_START : TIOCPKT_STOP)) | (stopped ? TIOCPKT_STOP : TIOCPKT_START);
    this.masterQueue.notify(EVENT_IN | EVENT_RDNORM | EVENT_PRI);
  }

  /** The terminal is the controlling terminal of session sid, pgrp in the foreground. */
  attach(sid: number, pgrp: number): void {
    this.session = sid;
    this.foregroundPgrp = pgrp;
  }

  /** The session lost the terminal (its leader exited, TIOCNOTTY, or another took it). */
  detach(): void {
    this.session = 0;
    this.foregroundPgrp = 0;
  }

  /** Processes typed bytes that waited for room, then tells readers and sends signals. */
  #takePending(): void {
    this.ld.drainPending();
    this.#sendSignals();
    this.#inputChanged();
  }

  #inputChanged(): void {
    if (this.ld.inputReady(false)) this.slaveQueue.notify(EVENT_IN | EVENT_RDNORM);
    // Echoes are output too.
    if (this.ld.outputLength > 0) this.masterQueue.notify(EVENT_IN | EVENT_RDNORM);
  }

  #sendSignals(): void {
    const sigs = this.ld.takeSignals();
    if (sigs.length === 0) return;
    if (this.ld.outputLength > 0) this.masterQueue.notify(EVENT_IN | EVENT_RDNORM);
    if (this.foregroundPgrp === 0 || this.host === null) return;
    for (const s of sigs) this.host.signalProcessGroup(this.foregroundPgrp, s);
  }
}
