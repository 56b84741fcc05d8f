/**
 * A block device over bytes in memory: for drivers' unit tests (no kernel, no loop device).
 *
 * @module
 */

import { ENOSPC, EROFS } from "../../kernel/errno.ts";
import type { BlockDevice } from "./device.ts";

export class MemoryBlockDevice implements BlockDevice {
  readonly name: string;
  readonly dev: number;
  readonly logicalBlockSize = 512;
  readOnly: boolean;
  readonly bytes: Uint8Array;
  flushes = 0;

  constructor(bytes: Uint8Array, options: { name?: string; dev?: number; readOnly?: boolean } = {}) {
    this.bytes = bytes;
    this.name = options.name ?? "loop0";
    this.dev = options.dev ?? 0x700;
    this.readOnly = options.readOnly ?? false;
  }

  get size(): number {
    return this.bytes.length - (this.bytes.length % 512);
  }

  read(offset: number, length: number): Uint8Array {
    const end = Math.min(this.size, offset + length);
    return end <= offset ? new Uint8Array(0) : this.bytes.slice(offset, end);
  }

  write(offset: number, data: Uint8Array): void {
    if (this.readOnly) throw EROFS;
    if (offset + data.length > this.size) throw ENOSPC;
    this.bytes.set(data, offset);
  }

  flush(): void {
    this.flushes++;
  }
}
