/**
 * /dev/tty, /dev/console and /dev/ptmx met in a tree that is not devfs (the host's /dev under
 * `sentry do`, a device node in an image). What they open depends on the caller (its
 * controlling terminal) or on the kernel's devpts instance, which the VFS does not know: the
 * VFS returns this placeholder and the open syscall replaces it
 * (kernel/syscalls/linux/_tty.ts). Used alone, it refuses every operation with EIO.
 *
 * @module
 */

import { EIO } from "../../kernel/errno.ts";
import { TTYAUX_MAJOR } from "../../abi/linux/tty.ts";
import { LocatedFile } from "../located_file.ts";
import type { Location } from "../mount.ts";

export type TtyDeviceKind = "tty" | "console" | "ptmx";

/** The terminal device a (major, minor) names, or null. */
export function ttyDeviceKind(major: number, minor: number): TtyDeviceKind | null {
  if (major !== TTYAUX_MAJOR) return null;
  return minor === 0 ? "tty" : minor === 1 ? "console" : minor === 2 ? "ptmx" : null;
}

/** @savable A terminal device node, opened but not yet resolved. */
export class TtyDeviceFile extends LocatedFile {
  /** Immutable. */
  readonly kind: TtyDeviceKind;

  constructor(loc: Location, flags: number, kind: TtyDeviceKind) {
    super(loc, flags);
    this.kind = kind;
  }

  /** The node's Location, for the description that replaces this one. */
  get nodeLocation(): Location {
    return this.loc;
  }

  override read(): number {
    throw EIO;
  }

  override write(): number {
    throw EIO;
  }
}
