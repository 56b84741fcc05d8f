/**
 * eventfd: a 64-bit counter as a file, Linux's fs/eventfd.c.
 *
 * - read(2) needs 8 bytes: it returns the counter and zeroes it, or (EFD_SEMAPHORE) returns 1
 *   and decrements it; with the counter at zero it would block (EAGAIN).
 * - write(2) adds an 8-byte value (exactly 8 bytes); 2^64-1 is EINVAL; a sum above 2^64-2 would block until a
 *   read makes room.
 * - Readable while the counter is non-zero, writable while it is below 2^64-2.
 *
 * @module
 */

import { AnonInodeFile } from "./anon_file.ts";
import { EAGAIN, EINVAL } from "../kernel/errno.ts";
import { O_RDWR } from "../abi/linux/file.ts";
import { EVENT_ERR, EVENT_IN, EVENT_OUT, EVENT_RDNORM, EVENT_WRNORM } from "../waiter/mod.ts";

export const EFD_SEMAPHORE = 1;
/** ULLONG_MAX: the counter never reaches it. */
const COUNTER_LIMIT = 0xffff_ffff_ffff_ffffn;

/** @savable */
export class EventFd extends AnonInodeFile {
  counter: bigint;
  readonly semaphore: boolean;

  constructor(initval: number, semaphore: boolean, flags: number) {
    super("anon_inode:[eventfd]", O_RDWR | flags);
    this.counter = BigInt(initval);
    this.semaphore = semaphore;
  }

  override read(dst: Uint8Array, _offset: number | null): number {
    if (dst.length < 8) throw EINVAL;
    if (this.counter === 0n) throw EAGAIN;
    const v = this.semaphore ? 1n : this.counter;
    this.counter -= v;
    new DataView(dst.buffer, dst.byteOffset, 8).setBigUint64(0, v, true);
    this.waitQueue.notify(EVENT_OUT | EVENT_WRNORM);
    return 8;
  }

  /** Exactly 8 bytes, as Linux 6.x (earlier kernels took more and used the first 8). */
  override write(src: Uint8Array, _offset: number | null): number {
    if (src.length !== 8) throw EINVAL;
    const v = new DataView(src.buffer, src.byteOffset, 8).getBigUint64(0, true);
    if (v === COUNTER_LIMIT) throw EINVAL;
    if (COUNTER_LIMIT - this.counter <= v) throw EAGAIN;
    this.counter += v;
    if (v !== 0n) this.waitQueue.notify(EVENT_IN | EVENT_RDNORM);
    return 8;
  }

  /**
   * Linux's eventfd_signal, from inside the kernel (an aio completion with IOCB_FLAG_RESFD):
   * adds n, stopping at the limit rather than failing.
   */
  signal(n: bigint): void {
    if (COUNTER_LIMIT - this.counter < n) n = COUNTER_LIMIT - this.counter;
    this.counter += n;
    if (n !== 0n) this.waitQueue.notify(EVENT_IN | EVENT_RDNORM);
  }

  override readiness(mask: number): number {
    let r = 0;
    if (this.counter > 0n) r |= EVENT_IN | EVENT_RDNORM;
    if (this.counter < COUNTER_LIMIT - 1n) r |= EVENT_OUT | EVENT_WRNORM;
    if (this.counter === COUNTER_LIMIT) r |= EVENT_ERR;
    return r & (mask | EVENT_ERR);
  }
}
