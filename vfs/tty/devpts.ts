/**
 * devpts: the filesystem of pty slaves, /dev/pts/N, and the pty allocator behind /dev/ptmx.
 * Analogous to Linux's fs/devpts and gVisor's fsimpl/devpts.
 *
 * - {@linkcode DevptsFilesystem.openMaster} allocates the lowest free pty number and returns
 *   its master (what opening /dev/ptmx does). The slave starts locked (TIOCSPTLCK), as Linux's
 *   ptmx_open leaves it; glibc's unlockpt clears the lock, grantpt has nothing to do.
 * - The root lists `ptmx` (mode 0, as Linux mounts devpts without ptmxmode) and one character
 *   device per live pty, numbered 136:N, mode 0620, group tty (5).
 * - Opening /dev/pts/N opens the slave: EIO while locked, ENOENT once the master has closed
 *   (the entry is removed then, as devpts_pty_kill does).
 *
 * @module
 */

import { EIO, ENOENT, ENOSPC } from "../../kernel/errno.ts";
import { DT_CHR, S_IFCHR, S_IFDIR } from "../../abi/linux/file.ts";
import { TTYAUX_MAJOR, UNIX98_PTY_SLAVE_MAJOR } from "../../abi/linux/tty.ts";
import { Dentry, type Filesystem } from "../dentry.ts";
import type { DirEntry, FileDescription, Stat } from "../file_description.ts";
import type { Location } from "../mount.ts";
import { Terminal, type TtyHost } from "./terminal.ts";
import { PtyMasterFile, type PtyOwner, PtySlaveFile } from "./tty_file.ts";

/** The device number of the devpts instance itself (st_dev of its files). */
const DEVPTS_DEV = 0x16;
/** The gid devpts gives slaves (the tty group), as `mount -t devpts -o gid=5`. */
export const TTY_GID = 5;
/** Linux's default limit of ptys (/proc/sys/kernel/pty/max). */
const PTY_MAX = 4096;

/** The dev_t of (major, minor) as stat reports it (Linux's huge_encode_dev / makedev). */
export function makedev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) + (major & ~0xfff) * 0x1_0000_0000;
}

function charStat(ino: number, mode: number, rdev: number, uid: number, gid: number, timeNs: bigint): Stat {
  return {
    dev: DEVPTS_DEV, ino, mode, nlink: 1, uid, gid, rdev, size: 0, blksize: 1024, blocks: 0,
    atimeNs: timeNs, mtimeNs: timeNs, ctimeNs: timeNs,
  };
}

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** @savable The directory /dev/pts. */
class DevptsRoot extends Dentry {
  readonly #fs: DevptsFilesystem;
  readonly #timeNs = nowNs();

  constructor(fs: DevptsFilesystem) {
    super(null, "");
    this.#fs = fs;
  }

  get fs(): Filesystem {
    return this.#fs;
  }
  get mode(): number {
    return S_IFDIR | 0o755;
  }
  get uid(): number {
    return 0;
  }
  get gid(): number {
    return 0;
  }
  get ino(): number {
    return 1;
  }

  stat(): Stat {
    return { ...charStat(1, this.mode, 0, 0, 0, this.#timeNs), nlink: 2, size: 0 };
  }

  lookup(name: string): Dentry | null {
    if (name === "ptmx") return this.#fs.ptmxDentry;
    if (!/^(0|[1-9][0-9]*)$/.test(name)) return null;
    return this.#fs.slaveDentry(Number(name));
  }

  children(): DirEntry[] {
    return [
      { name: "ptmx", ino: 2, type: DT_CHR },
      ...this.#fs.indices().map((i) => ({ name: String(i), ino: 3 + i, type: DT_CHR })),
    ];
  }
}

/** @savable /dev/pts/ptmx: opening it allocates a pty, like /dev/ptmx. */
class PtmxDentry extends Dentry {
  readonly #fs: DevptsFilesystem;
  readonly #timeNs = nowNs();

  constructor(fs: DevptsFilesystem, parent: Dentry) {
    super(parent, "ptmx");
    this.#fs = fs;
  }

  get fs(): Filesystem {
    return this.#fs;
  }
  get mode(): number {
    return S_IFCHR; // mode 000, as Linux's default ptmxmode
  }
  get uid(): number {
    return 0;
  }
  get gid(): number {
    return 0;
  }
  get ino(): number {
    return 2;
  }
  stat(): Stat {
    return charStat(2, this.mode, makedev(TTYAUX_MAJOR, 2), 0, 0, this.#timeNs);
  }
  lookup(): Dentry | null {
    return null;
  }
  children(): DirEntry[] {
    return [];
  }
  override open(loc: Location, flags: number): FileDescription {
    return this.#fs.openMaster(flags, loc);
  }
}

/** @savable /dev/pts/N. */
class SlaveDentry extends Dentry {
  readonly #fs: DevptsFilesystem;
  readonly terminal: Terminal;
  readonly #timeNs = nowNs();

  constructor(fs: DevptsFilesystem, parent: Dentry, terminal: Terminal) {
    super(parent, String(terminal.index));
    this.#fs = fs;
    this.terminal = terminal;
  }

  get fs(): Filesystem {
    return this.#fs;
  }
  get mode(): number {
    return S_IFCHR | 0o620;
  }
  get uid(): number {
    return 0;
  }
  get gid(): number {
    return TTY_GID;
  }
  get ino(): number {
    return 3 + this.terminal.index;
  }
  stat(): Stat {
    return charStat(this.ino, this.mode, makedev(UNIX98_PTY_SLAVE_MAJOR, this.terminal.index), 0, TTY_GID, this.#timeNs);
  }
  lookup(): Dentry | null {
    return null;
  }
  children(): DirEntry[] {
    return [];
  }
  override open(loc: Location, flags: number): FileDescription {
    const t = this.terminal;
    if (t.hungUp || this.#fs.slaveDentry(t.index) !== this) throw ENOENT;
    if (t.locked) throw EIO;
    return new PtySlaveFile(t, flags, loc);
  }
}

/** @savable One devpts instance: the sandbox's ptys. */
export class DevptsFilesystem implements Filesystem, PtyOwner {
  readonly name = "devpts";
  readonly readonly = false;
  readonly root: Dentry;
  readonly ptmxDentry: Dentry;
  /** Who receives the terminals' signals: the kernel, once it exists. */
  host: TtyHost | null;
  readonly #slaves = new Map<number, SlaveDentry>();

  constructor(host: TtyHost | null = null) {
    this.host = host;
    this.root = new DevptsRoot(this);
    this.ptmxDentry = new PtmxDentry(this, this.root);
  }

  /** Live pty numbers, ascending. */
  indices(): number[] {
    return [...this.#slaves.keys()].sort((a, b) => a - b);
  }

  slaveDentry(index: number): SlaveDentry | null {
    return this.#slaves.get(index) ?? null;
  }

  /** The terminal of /dev/pts/N, or null. */
  terminal(index: number): Terminal | null {
    return this.#slaves.get(index)?.terminal ?? null;
  }

  /** Allocates a pty with the lowest free number; ENOSPC when all are taken. */
  allocate(): Terminal {
    let i = 0;
    while (this.#slaves.has(i)) i++;
    if (i >= PTY_MAX) throw ENOSPC;
    const t = new Terminal(i, this.host);
    this.#slaves.set(i, new SlaveDentry(this, this.root, t));
    return t;
  }

  /**
   * Puts a restored terminal back at its own number (a checkpoint's restore): Error when the
   * number is out of range or taken.
   */
  adopt(t: Terminal): void {
    if (t.index < 0 || t.index >= PTY_MAX || this.#slaves.has(t.index)) throw new Error(`pty ${t.index} twice or out of range`);
    this.#slaves.set(t.index, new SlaveDentry(this, this.root, t));
  }

  /** What opening /dev/ptmx does: a new pty, its master open. loc: the node opened. */
  openMaster(flags: number, loc: Location | null): PtyMasterFile {
    return new PtyMasterFile(this.allocate(), flags, loc, this);
  }

  /** The slave of t as a new description (TIOCGPTPEER, the console). */
  openSlave(t: Terminal, flags: number, loc: Location | null): PtySlaveFile {
    if (t.hungUp) throw EIO;
    return new PtySlaveFile(t, flags, loc);
  }

  /** The last master closed: /dev/pts/N disappears. */
  masterGone(t: Terminal): void {
    if (this.#slaves.get(t.index)?.terminal === t) this.#slaves.delete(t.index);
  }

  release(): void {}
}
