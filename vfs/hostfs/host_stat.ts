/**
 * Decoding the host's struct stat (x86-64, 144 bytes) into a {@linkcode Stat}.
 *
 * @module
 */

import { STAT, STAT_SIZE } from "../../abi/linux/file.ts";
import type { Stat } from "../file_description.ts";

/** A struct stat buffer and its view, reused by the synchronous host calls that fill it. */
export class HostStatBuffer {
  readonly bytes = new Uint8Array(STAT_SIZE);
  readonly #v = new DataView(this.bytes.buffer);

  get mode(): number {
    return this.#v.getUint32(STAT.mode, true);
  }

  get uid(): number {
    return this.#v.getUint32(STAT.uid, true);
  }

  get gid(): number {
    return this.#v.getUint32(STAT.gid, true);
  }

  get dev(): number {
    return this.#u64(STAT.dev);
  }

  get ino(): number {
    return this.#u64(STAT.ino);
  }

  get size(): number {
    return this.#u64(STAT.size);
  }

  /** The whole structure. */
  decode(): Stat {
    const v = this.#v;
    return {
      dev: this.#u64(STAT.dev),
      ino: this.#u64(STAT.ino),
      mode: v.getUint32(STAT.mode, true),
      nlink: this.#u64(STAT.nlink),
      uid: v.getUint32(STAT.uid, true),
      gid: v.getUint32(STAT.gid, true),
      rdev: this.#u64(STAT.rdev),
      size: this.#u64(STAT.size),
      blksize: this.#u64(STAT.blksize),
      blocks: this.#u64(STAT.blocks),
      atimeNs: this.#timeNs(STAT.atime, STAT.atimeNsec),
      mtimeNs: this.#timeNs(STAT.mtime, STAT.mtimeNsec),
      ctimeNs: this.#timeNs(STAT.ctime, STAT.ctimeNsec),
    };
  }

  #u64(o: number): number {
    return this.#v.getUint32(o + 4, true) * 0x1_0000_0000 + this.#v.getUint32(o, true);
  }

  #timeNs(sec: number, nsec: number): bigint {
    return this.#v.getBigInt64(sec, true) * 1_000_000_000n + this.#v.getBigInt64(nsec, true);
  }
}
