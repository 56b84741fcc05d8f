/**
 * struct termios as plain data, with the layouts the ioctls copy: the kernel's termios (36
 * bytes, what TCGETS fills; glibc converts), termios2 (TCGETS2, with speeds) and the old termio
 * (TCGETA). Defaults are Linux's tty_std_termios for a pty slave.
 *
 * @module
 */

import {
  B38400, CREAD, CS8, ECHO, ECHOCTL, ECHOE, ECHOK, ECHOKE, ICANON, ICRNL, IEXTEN, ISIG,
  IXON, NCCS, ONLCR, OPOST, TERMIO_SIZE, TERMIOS2_SIZE, TERMIOS_SIZE, VEOF, VERASE, VINTR, VKILL,
  VLNEXT, VMIN, VQUIT, VREPRINT, VSTART, VSTOP, VSUSP, VTIME, VWERASE, VDISCARD,
} from "../../abi/linux/tty.ts";

/** Linux's INIT_C_CC: ^C ^\ DEL ^U ^D, VTIME 0, VMIN 1, ^Q ^S ^Z, ^R ^O ^W ^V. */
function defaultCc(): number[] {
  const cc = new Array<number>(NCCS).fill(0);
  cc[VINTR] = 0x03;
  cc[VQUIT] = 0x1c;
  cc[VERASE] = 0x7f;
  cc[VKILL] = 0x15;
  cc[VEOF] = 0x04;
  cc[VTIME] = 0;
  cc[VMIN] = 1;
  cc[VSTART] = 0x11;
  cc[VSTOP] = 0x13;
  cc[VSUSP] = 0x1a;
  cc[VREPRINT] = 0x12;
  cc[VDISCARD] = 0x0f;
  cc[VWERASE] = 0x17;
  cc[VLNEXT] = 0x16;
  return cc;
}

/**
 * @savable Terminal settings (Linux's struct ktermios); new ones are a pty slave's
 * (tty_std_termios without HUPCL: the pty driver's init_termios).
 */
export class Termios {
  iflag = ICRNL | IXON;
  oflag = OPOST | ONLCR;
  cflag = B38400 | CS8 | CREAD;
  lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN;
  line = 0;
  cc: number[] = defaultCc();
  ispeed = 38400;
  ospeed = 38400;

  clone(): Termios {
    const t = new Termios();
    t.iflag = this.iflag;
    t.oflag = this.oflag;
    t.cflag = this.cflag;
    t.lflag = this.lflag;
    t.line = this.line;
    t.cc = [...this.cc];
    t.ispeed = this.ispeed;
    t.ospeed = this.ospeed;
    return t;
  }

  /** The kernel's struct termios (TCGETS) or termios2 (TCGETS2, with speeds). */
  encode(withSpeeds = false): Uint8Array {
    const b = new Uint8Array(withSpeeds ? TERMIOS2_SIZE : TERMIOS_SIZE);
    const v = new DataView(b.buffer);
    v.setUint32(0, this.iflag >>> 0, true);
    v.setUint32(4, this.oflag >>> 0, true);
    v.setUint32(8, this.cflag >>> 0, true);
    v.setUint32(12, this.lflag >>> 0, true);
    b[16] = this.line;
    for (let i = 0; i < NCCS; i++) b[17 + i] = this.cc[i]!;
    if (withSpeeds) {
      v.setUint32(36, this.ispeed, true);
      v.setUint32(40, this.ospeed, true);
    }
    return b;
  }

  /** Reads a struct termios or termios2 (by length). */
  static decode(b: Uint8Array): Termios {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const t = new Termios();
    t.iflag = v.getUint32(0, true);
    t.oflag = v.getUint32(4, true);
    t.cflag = v.getUint32(8, true);
    t.lflag = v.getUint32(12, true);
    t.line = b[16]!;
    t.cc = Array.from(b.subarray(17, 17 + NCCS));
    if (b.length >= TERMIOS2_SIZE) {
      t.ispeed = v.getUint32(36, true);
      t.ospeed = v.getUint32(40, true);
    }
    return t;
  }

  /** struct termio (TCGETA): the low 16 bits of each flag word and the first 8 c_cc. */
  encodeTermio(): Uint8Array {
    const b = new Uint8Array(TERMIO_SIZE);
    const v = new DataView(b.buffer);
    v.setUint16(0, this.iflag & 0xffff, true);
    v.setUint16(2, this.oflag & 0xffff, true);
    v.setUint16(4, this.cflag & 0xffff, true);
    v.setUint16(6, this.lflag & 0xffff, true);
    b[8] = this.line;
    for (let i = 0; i < 8; i++) b[9 + i] = this.cc[i]!;
    return b;
  }

  /** TCSETA: replaces the low 16 bits of each flag word and the first 8 c_cc. */
  withTermio(b: Uint8Array): Termios {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const t = this.clone();
    t.iflag = (t.iflag & ~0xffff) | v.getUint16(0, true);
    t.oflag = (t.oflag & ~0xffff) | v.getUint16(2, true);
    t.cflag = (t.cflag & ~0xffff) | v.getUint16(4, true);
    t.lflag = (t.lflag & ~0xffff) | v.getUint16(6, true);
    t.line = b[8]!;
    for (let i = 0; i < 8; i++) t.cc[i] = b[9 + i]!;
    return t;
  }

  /** The settings of a pty master (Linux's pty driver init_termios): raw, 8 bits. */
  static master(): Termios {
    const t = new Termios();
    t.iflag = 0;
    t.oflag = 0;
    t.cflag = B38400 | CS8 | CREAD;
    t.lflag = 0;
    return t;
  }
}
