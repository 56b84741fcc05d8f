/**
 * /proc/PID/timens_offsets: the clock offsets of the time namespace the process's children start
 * in (kernel/time_namespace.ts), read as Linux's proc_timens_show_offsets prints them and
 * written, before any task enters that namespace, with the opener's credentials (Linux's
 * timens_offsets_write checks file_ns_capable, the credentials the file was opened with).
 *
 * @module
 */

import { EINVAL, ESPIPE, ESRCH } from "../../kernel/errno.ts";
import { readContents } from "../file_description.ts";
import type { Credentials } from "../../kernel/creds.ts";
import type { TimeNamespace } from "../../kernel/time_namespace.ts";
import { clockNs } from "../../kernel/time.ts";
import { SEEK_CUR, SEEK_SET } from "../../abi/linux/file.ts";
import { LocatedFile } from "../located_file.ts";
import type { Location } from "../mount.ts";

const encoder = new TextEncoder();

/** @savable (refused: an open /proc file is not saved) An open timens_offsets. */
export class TimensOffsetsFile extends LocatedFile {
  constructor(
    loc: Location,
    flags: number,
    /** The process's namespace for children now (null: the process is gone, ESRCH). */
    readonly namespace: () => TimeNamespace | null,
    readonly opener: Credentials,
  ) {
    super(loc, flags);
  }

  #ns(): TimeNamespace {
    const ns = this.namespace();
    if (ns === null) throw ESRCH;
    return ns;
  }

  override read(dst: Uint8Array, offset: number | null): number {
    const off = offset ?? this.offset;
    if (off < 0) throw EINVAL;
    const data = encoder.encode(this.#ns().render());
    return readContents(this, dst, offset, data);
  }

  override write(src: Uint8Array, offset: number | null): number {
    // A seq_file: pwrite(2) is ESPIPE. The position is not moved (timens_offsets_write leaves *ppos).
    if (offset !== null) throw ESPIPE;
    if (this.offset !== 0 || src.length >= 4096) throw EINVAL;
    return this.#ns().writeOffsets(src, this.offset, this.opener, (clock) => clockNs(clock)!);
  }

  override seek(offset: number, whence: number): number {
    let pos: number;
    if (whence === SEEK_SET) pos = offset;
    else if (whence === SEEK_CUR) pos = this.offset + offset;
    else throw EINVAL;
    if (pos < 0) throw EINVAL;
    this.offset = pos;
    return pos;
  }
}
