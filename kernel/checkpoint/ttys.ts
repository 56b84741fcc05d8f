/**
 * Checkpoint of terminals (issue #13; docs/checkpoint.md, docs/tty.md): every pseudo-terminal
 * pair the sandbox holds, with its line discipline (termios, the input typed and not yet read,
 * the line being edited, the output not yet taken by the master side, the column), its window
 * size, the session it controls and its foreground process group; the descriptions of either
 * side; and the console of `-t` (a pty whose master is the sentry's bridge to the user's
 * terminal, not a description in the sandbox).
 *
 * On restore each terminal goes back into the new kernel's devpts at its own number, and its
 * open counts are recounted as its descriptions are made again. The console is attached to the
 * restoring caller's terminal (`restore -t`, or the console socket of `restore -d`): boot gives
 * it a new bridge, as a fresh `-t` would. The terminal of an `exec -t` session (its master the
 * bridge to an exec client, which does not follow a restore) is saved as any other and hung up
 * once the restored sandbox runs, as when the client goes away ({@linkcode hangUpExecTerminal}).
 *
 * @module
 */

import { intIn, lazyKind, z } from "./zod_tree.ts";
import type { Kernel } from "../kernel.ts";
import { LineDiscipline, PtyMasterFile, PtySlaveFile, Terminal, TtyFile } from "../../vfs/tty/mod.ts";
import { NCCS } from "../../abi/linux/tty.ts";
import { FLIP_BUFFER_SIZE } from "../../vfs/tty/line_discipline.ts";
import { Credentials } from "../creds.ts";
import type { Location } from "../../vfs/mount.ts";
import type { FileDescription } from "../../vfs/file_description.ts";
import { ImageError } from "./image.ts";

const u32 = intIn(0, 0xffff_ffff);
const u16 = intIn(0, 0xffff);
const u8 = intIn(0, 0xff);
/** A process or group id, or 0 for none. */
const idOrNone = intIn(0, 1 << 22);
/** Linux's default pty limit (devpts's PTY_MAX). */
const PTY_MAX = 4096;
/** Output waiting for the master side: the line discipline stops writers at 16 KiB, echoes may pass it a little. */
const MAX_OUTPUT = 1 << 20;

const bytes = (max: number) => z.instanceof(Uint8Array).refine((b) => b.length <= max, `at most ${max} bytes`);

// Both built at the first terminal an image holds (z.lazy, zod_tree.ts lazyKind).
export const terminalSchema = z.lazy(() => z.object({
  index: intIn(0, PTY_MAX - 1),
  ld: z.object({
    termios: z.object({
      iflag: u32, oflag: u32, cflag: u32, lflag: u32, line: u8, cc: z.array(u8).length(NCCS), ispeed: u32, ospeed: u32,
    }).strict(),
    input: bytes(4096),
    delims: z.array(z.object({ at: intIn(0, 4096), eof: z.boolean() }).strict()).max(4096),
    line: bytes(4096),
    output: bytes(MAX_OUTPUT),
    flip: bytes(FLIP_BUFFER_SIZE).optional(),
    column: intIn(0, 1 << 30),
    lineColumn: intIn(0, 1 << 30),
    lnext: z.boolean(),
    stopped: z.boolean(),
  }).strict(),
  winsize: z.object({ rows: u16, cols: u16, xpixel: u16, ypixel: u16 }).strict(),
  /** The session it is the controlling terminal of, and its foreground group; 0 for none. */
  session: idOrNone,
  foregroundPgrp: idOrNone,
  slaveEverOpened: z.boolean(),
  hungUp: z.boolean(),
  locked: z.boolean(),
  exclusive: z.boolean(),
  /** TIOCPKT and the status the master has yet to read (absent: off, none). */
  packet: z.boolean().optional(),
  pktStatus: intIn(0, 0xff).optional(),
}).strict());

/**
 * A description of one side of terminals[terminal]; `node`: the path it was opened by
 * (/dev/pts/N, /dev/tty, /dev/console, /dev/ptmx), null when it was made without one.
 */
export const ttyFileSchema = lazyKind("tty", () => z.object({
  kind: z.literal("tty"),
  terminal: u32,
  master: z.boolean(),
  flags: u32,
  /** A slave description hung up by vhangup(2) (its terminal was not). */
  vhungUp: z.literal(true).optional(),
  node: z.string().max(4096).refine((p) => p.startsWith("/"), "must be absolute").nullable(),
}).strict());

export type SavedTerminal = z.infer<typeof terminalSchema>;
export type SavedTtyFile = z.infer<typeof ttyFileSchema>;

export function saveTerminal(t: Terminal): SavedTerminal {
  return {
    index: t.index,
    ld: t.ld.save(),
    winsize: { ...t.winsize },
    session: t.session,
    foregroundPgrp: t.foregroundPgrp,
    slaveEverOpened: t.slaveEverOpened,
    hungUp: t.hungUp,
    locked: t.locked,
    exclusive: t.exclusive,
    ...(t.packet ? { packet: true, pktStatus: t.pktStatus } : {}),
  };
}

/** A terminal's description, or null when f is not one; ref saves its terminal once. */
export function saveTtyFile(f: FileDescription, ref: (t: Terminal) => number): SavedTtyFile | null {
  if (!(f instanceof TtyFile)) return null;
  return {
    kind: "tty", terminal: ref(f.terminal), master: f.isMaster, flags: f.flags,
    ...(f instanceof PtySlaveFile && f.vhungUp ? { vhungUp: true as const } : {}),
    node: f.location()?.path() ?? null,
  };
}

/**
 * The saved terminals in the new kernel: each back in devpts at its number (a hung-up one, whose
 * master is gone, stays out of it as it was), its open counts at zero until its descriptions
 * are made. `console`: the index of the console, whose master is the restoring caller's bridge.
 */
export function makeTerminals(k: Kernel, saved: readonly SavedTerminal[], console: number | null, exec: readonly number[]): Terminal[] {
  const seen = new Set<number>();
  return saved.map((s, i) => {
    if (seen.has(s.index)) throw new ImageError(`restore: the image does not hold together: pty ${s.index} twice`);
    seen.add(s.index);
    let ld: LineDiscipline;
    try {
      ld = LineDiscipline.load(s.ld);
    } catch (err) {
      throw new ImageError(`restore: the image does not hold together: pty ${s.index}: ${(err as Error).message}`);
    }
    const t = new Terminal(s.index, k.tty, ld);
    t.winsize = { ...s.winsize };
    t.session = s.session;
    t.foregroundPgrp = s.foregroundPgrp;
    t.slaveEverOpened = s.slaveEverOpened;
    t.hungUp = s.hungUp;
    t.locked = s.locked;
    t.exclusive = s.exclusive;
    t.packet = s.packet === true;
    t.pktStatus = s.pktStatus ?? 0;
    if (i === console) {
      if (s.hungUp) throw new ImageError("restore: the image does not hold together: the console is hung up");
      t.masterOpens = 1; // the bridge's
      k.tty.console = t;
    }
    if (exec.includes(i)) {
      if (s.hungUp) throw new ImageError("restore: the image does not hold together: an exec session's terminal is hung up");
      t.masterOpens = 1; // the gone bridge's, given back by hangUpExecTerminal
    }
    if (!s.hungUp) k.tty.devpts.adopt(t);
    return t;
  });
}

/** A description of a restored terminal, opened by the path it had. */
export function makeTtyFile(k: Kernel, f: SavedTtyFile, terminals: readonly Terminal[]): FileDescription {
  const t = terminals[f.terminal]!;
  let loc: Location | null = null;
  if (f.node !== null) {
    const ctx = { root: k.vfs.root(), creds: Credentials.root() };
    try {
      loc = k.vfs.resolve(ctx, ctx.root, f.node, { follow: false });
    } catch {
      // /dev/pts/N of a hung-up terminal is gone, as it was; any other node must be there.
      if (!t.hungUp) throw new ImageError(`restore: the terminal node ${f.node} is gone from the root filesystem`);
    }
  }
  return f.master ? new PtyMasterFile(t, f.flags, loc, k.tty.devpts) : new PtySlaveFile(t, f.flags, loc, f.vhungUp ?? false);
}

/**
 * An `exec -t` session's terminal once the restored sandbox is adopted: its client's bridge is
 * given back as the exec client's going away gives it (kernel/control.ts releaseTerminal): the
 * terminal hangs up, its session's leader gets SIGHUP and SIGCONT, and its number is free
 * once the slave side is closed too.
 */
export function hangUpExecTerminal(k: Kernel, t: Terminal): void {
  t.masterClosed();
  if (t.masterOpens === 0) k.tty.devpts.masterGone(t);
}

/** What the schema cannot check: indices into the image's terminals. */
export function checkTtyShape(
  files: readonly { kind: string; terminal?: number; master?: boolean }[], terminals: readonly SavedTerminal[],
  console: number | null, ttys: readonly (number | null)[], bad: (why: string) => ImageError, exec: readonly number[] = [],
): void {
  if (console !== null && console >= terminals.length) throw bad(`the console names pty ${console} of ${terminals.length}`);
  for (const [j, i] of exec.entries()) {
    if (i >= terminals.length || i === console || exec.indexOf(i) !== j) throw bad(`an exec session names pty ${i}`);
    if (files.some((f) => f.kind === "tty" && f.master && f.terminal === i)) throw bad("a master description of an exec session's terminal");
  }
  const used = new Set<number>();
  for (const f of files) {
    if (f.kind !== "tty") continue;
    if (f.terminal! >= terminals.length) throw bad(`a terminal file names pty ${f.terminal} of ${terminals.length}`);
    used.add(f.terminal!);
    // The console's master is the bridge: a description of it in the sandbox would count twice.
    if (f.master && f.terminal === console) throw bad("a master description of the console");
  }
  for (const t of ttys) {
    if (t === null) continue;
    if (t >= terminals.length) throw bad(`a controlling terminal names pty ${t} of ${terminals.length}`);
    used.add(t);
  }
  if (console !== null) used.add(console);
  for (const i of exec) used.add(i);
  if (used.size !== terminals.length) throw bad("a terminal nothing holds");
}

