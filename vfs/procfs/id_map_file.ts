/**
 * /proc/PID/{uid,gid,projid}_map and /proc/PID/setgroups: the user namespace of the process,
 * as it was when the file was opened (Linux's proc_id_map_open and proc_setgroups_open hold
 * it), read and written through kernel/user_namespace.ts with the opener's credentials and the
 * writer's. Reads render the file again each time (a seq_file), from the file offset.
 *
 * @module
 */

import { EACCES, EINVAL, ESPIPE } from "../../kernel/errno.ts";
import { readContents } from "../file_description.ts";
import type { Credentials } from "../../kernel/creds.ts";
import {
  type IdMapKind,
  renderIdMap,
  renderSetgroups,
  type UserNamespace,
  writeIdMap,
  writeSetgroups,
} from "../../kernel/user_namespace.ts";
import { CAP_SYS_ADMIN } from "../../abi/linux/capability.ts";
import { O_ACCMODE, O_RDONLY, SEEK_CUR, SEEK_SET } from "../../abi/linux/file.ts";
import { LocatedFile } from "../located_file.ts";
import type { Location } from "../mount.ts";

const encoder = new TextEncoder();

/**
 * @savable (refused: an open /proc file is not saved) An open map or setgroups file.
 * `kind` "setgroups" is the setgroups file, whose open for writing needs CAP_SYS_ADMIN in the
 * namespace (EACCES).
 */
export class IdMapFile extends LocatedFile {
  readonly #ns: UserNamespace;
  readonly #kind: IdMapKind | "setgroups";
  readonly #opener: Credentials;
  readonly #writer: () => Credentials;

  constructor(
    loc: Location,
    flags: number,
    ns: UserNamespace,
    kind: IdMapKind | "setgroups",
    opener: Credentials,
    writer: () => Credentials,
  ) {
    if (kind === "setgroups" && (flags & O_ACCMODE) !== O_RDONLY && !opener.capableIn(ns, CAP_SYS_ADMIN)) throw EACCES;
    super(loc, flags);
    this.#ns = ns;
    this.#kind = kind;
    this.#opener = opener;
    this.#writer = writer;
  }

  override read(dst: Uint8Array, offset: number | null): number {
    const off = offset ?? this.offset;
    if (off < 0) throw EINVAL;
    const text = this.#kind === "setgroups" ? renderSetgroups(this.#ns) : renderIdMap(this.#ns, this.#kind, this.#opener);
    const data = encoder.encode(text);
    return readContents(this, dst, offset, data);
  }

  override write(src: Uint8Array, offset: number | null): number {
    // A seq_file: pwrite(2) is ESPIPE (seq_open clears FMODE_PWRITE); pread(2) works.
    if (offset !== null) throw ESPIPE;
    const off = this.offset;
    if (this.#kind === "setgroups") writeSetgroups(this.#ns, src, off);
    else writeIdMap(this.#ns, this.#kind, src, off, this.#opener, this.#writer());
    // Linux sets the position to the count written (*ppos = count).
    this.offset = src.length;
    return src.length;
  }

  override seek(offset: number, whence: number): number {
    let pos: number;
    if (whence === SEEK_SET) pos = offset;
    else if (whence === SEEK_CUR) pos = this.offset + offset;
    else throw EINVAL; // seq_lseek knows no SEEK_END
    if (pos < 0) throw EINVAL;
    this.offset = pos;
    return pos;
  }
}
