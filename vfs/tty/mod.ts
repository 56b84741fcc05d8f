/**
 * Terminals: the line discipline, pseudo-terminal pairs, devpts, and the placeholders for
 * /dev/tty, /dev/console and /dev/ptmx. Design notes in docs/tty.md.
 *
 * @module
 */

export { INPUT_BUFFER_SIZE, LineDiscipline, OUTPUT_BUFFER_SIZE } from "./line_discipline.ts";
export { Termios } from "./termios.ts";
export { decodeWinsize, encodeWinsize, Terminal, type TtyHost, type WindowSize } from "./terminal.ts";
export { encodeDev, PtyMasterFile, PtySlaveFile, SETTING_REQUESTS, TtyFile } from "./tty_file.ts";
export { DevptsFilesystem, makedev, TTY_GID } from "./devpts.ts";
export { TtyDeviceFile, type TtyDeviceKind, ttyDeviceKind } from "./device_file.ts";
