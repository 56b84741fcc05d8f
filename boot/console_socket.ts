/**
 * runc's `--console-socket`: a container engine (conmon, containerd's shim) listens on an
 * AF_UNIX stream socket and receives, in one message, the master side of the pseudoterminal
 * the container's process uses as its terminal: the payload is the master's name (conmon
 * ignores it), the descriptor travels as SCM_RIGHTS.
 *
 * The sandbox's terminals live in the sentry (vfs/tty) and have no host descriptor, and the
 * application never gets a host descriptor either. So the sentry opens a host pty, sends its
 * master to the engine, keeps its slave in raw mode (the sandbox's own terminal already did the
 * line discipline: a second one would echo twice and turn "\n" into "\r\r\n"), and copies bytes
 * between that slave and the sandbox's terminal (boot/fd_terminal_bridge.ts). The engine's
 * window size changes arrive on the slave; see {@linkcode HostPty.windowSize}.
 *
 * @module
 */

import { O_CLOEXEC, O_NOCTTY, O_RDWR } from "../abi/linux/file.ts";
import {
  BRKINT, CS8, CSIZE, ECHO, ECHONL, ICANON, ICRNL, IEXTEN, IGNBRK, IGNCR, INLCR, ISIG, ISTRIP, IXON, OPOST,
  PARMRK, TCGETS, TCSETS, TERMIOS_SIZE, TIOCGPTN, TIOCGWINSZ, TIOCSPTLCK, TIOCSWINSZ, WINSIZE_SIZE,
} from "../abi/linux/tty.ts";
import { hostClose, hostIoctl, hostOpen, hostSendWithFds, hostUnixConnect } from "../platform/ptrace/_ffi.ts";
import type { WindowSize } from "../vfs/tty/mod.ts";
import { Termios } from "../vfs/tty/termios.ts";
import { BootError } from "./errors.ts";
import { quote } from "./flags.ts";

/** termios c_cflag's parity bit (cfmakeraw clears it). */
const PARENB = 0o400;

/** The name sent with the master, as runc sends its master's file name. */
const MASTER_NAME = "/dev/ptmx";

/** A host pseudoterminal pair; the sentry keeps the slave once the master is sent. */
export class HostPty {
  private constructor(readonly master: number, readonly slave: number) {}

  /**
   * Opens a new host pty. controlling: the slave becomes the caller's controlling terminal
   * (a session leader without one, after setsid): then the engine's resize of the master
   * reaches the sentry as SIGWINCH, and its hang-up as SIGHUP, as they would reach a process
   * runc started on that terminal.
   */
  static open(controlling: boolean): HostPty {
    const m = hostOpen("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) throw new BootError(`--console-socket: cannot open a pseudoterminal: errno ${-m}`);
    const n = new Uint8Array(4);
    let s = hostIoctl(m, TIOCSPTLCK, n); // unlock (n holds 0)
    if (s === 0) s = hostIoctl(m, TIOCGPTN, n);
    if (s === 0) s = hostOpen(`/dev/pts/${new DataView(n.buffer).getUint32(0, true)}`, O_RDWR | O_CLOEXEC | (controlling ? 0 : O_NOCTTY));
    if (s < 0) {
      hostClose(m);
      throw new BootError(`--console-socket: cannot open a pseudoterminal: errno ${-s}`);
    }
    makeRaw(s);
    return new HostPty(m, s);
  }

  /** The slave's window size (set by the engine on the master); 0 x 0 when unknown. */
  windowSize(): WindowSize {
    const b = new Uint8Array(WINSIZE_SIZE);
    if (hostIoctl(this.slave, TIOCGWINSZ, b) < 0) return { rows: 0, cols: 0, xpixel: 0, ypixel: 0 };
    const v = new DataView(b.buffer);
    return { rows: v.getUint16(0, true), cols: v.getUint16(2, true), xpixel: v.getUint16(4, true), ypixel: v.getUint16(6, true) };
  }

  /** Sets the window size on the master (tests; an engine does it on its side). */
  setWindowSize(ws: WindowSize): void {
    const b = new Uint8Array(WINSIZE_SIZE);
    const v = new DataView(b.buffer);
    v.setUint16(0, ws.rows, true);
    v.setUint16(2, ws.cols, true);
    hostIoctl(this.master, TIOCSWINSZ, b);
  }

  /**
   * Connects to the engine's socket at path and sends the master; closes the sentry's copy.
   * Throws the one-line error when the socket cannot be reached.
   */
  sendMaster(path: string): void {
    const fd = hostUnixConnect(path);
    if (fd < 0) {
      throw new BootError(`--console-socket ${quote(path)}: cannot connect: ${fd === -36 ? "path too long" : `errno ${-fd}`}`);
    }
    try {
      const r = hostSendWithFds(fd, new TextEncoder().encode(MASTER_NAME), [this.master]);
      if (r < 0) throw new BootError(`--console-socket ${quote(path)}: cannot send the terminal: errno ${-r}`);
    } finally {
      hostClose(fd);
    }
    hostClose(this.master);
  }
}

/** cfmakeraw(3) on fd: no input or output processing, no echo, no signals, 8-bit bytes. */
function makeRaw(fd: number): void {
  const b = new Uint8Array(TERMIOS_SIZE);
  if (hostIoctl(fd, TCGETS, b) < 0) return;
  const t = Termios.decode(b);
  t.iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
  t.oflag &= ~OPOST;
  t.lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  t.cflag = (t.cflag & ~(CSIZE | PARENB)) | CS8;
  hostIoctl(fd, TCSETS, t.encode());
}
