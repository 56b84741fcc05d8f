/**
 * FIFOs (named pipes): a {@linkcode Pipe} that lives in a filesystem's inode and is reached by
 * open(2) on a path. Analogous to Linux's fifo_open() in fs/pipe.c.
 *
 * Opening rules (Linux's): O_RDWR never waits. A reader without O_NONBLOCK waits until some
 * writer has opened since it started waiting; a writer without O_NONBLOCK waits for a reader;
 * a writer with O_NONBLOCK and no reader fails with ENXIO. The waiting end is already counted
 * (as Linux counts it), so two opens that wait for each other both succeed.
 *
 * Waiting is the syscall layer's business (open must block on the pipe's queue and run
 * again): {@linkcode openFifo} returns the counted end, and {@linkcode FifoEnd.waitingForPartner}
 * says whether the open must still wait.
 *
 * @module
 */

import { ENXIO } from "../kernel/errno.ts";
import { O_ACCMODE, O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY } from "../abi/linux/file.ts";
import { EVENT_IN, EVENT_OUT } from "../waiter/mod.ts";
import type { Stat } from "./file_description.ts";
import type { Location } from "./mount.ts";
import { type Pipe, PipeEnd } from "./pipe.ts";

/** @savable One open end of a FIFO (O_RDONLY, O_WRONLY or O_RDWR). */
export class FifoEnd extends PipeEnd {
  /** Immutable. */
  readonly #loc: Location;
  /** Immutable. The partner side's open count when this end was opened. */
  readonly #partnerOpens: number;
  readonly #rdwr: boolean;
  /**
   * Immutable. For an O_RDONLY|O_NONBLOCK end opened while no writer was there: the writer
   * open count then. POLLHUP stays hidden until a writer opened (Linux's f_version against
   * w_counter in fifo_open and pipe_poll). Null otherwise.
   */
  readonly #hupAfter: number | null;

  constructor(pipe: Pipe, loc: Location, flags: number) {
    const acc = flags & O_ACCMODE;
    // O_RDWR: a reader end whose flags allow writing, also counted as a writer.
    super(pipe, acc !== O_WRONLY, flags & ~O_ACCMODE | (acc === O_RDWR ? O_RDWR : 0));
    this.#loc = loc;
    this.#rdwr = acc === O_RDWR;
    if (this.#rdwr) pipe.writers++;
    if (acc !== O_WRONLY) pipe.readOpens++;
    if (acc !== O_RDONLY) pipe.writeOpens++;
    this.#partnerOpens = acc === O_WRONLY ? pipe.readOpens : pipe.writeOpens;
    this.#hupAfter = acc === O_RDONLY && (flags & O_NONBLOCK) && pipe.writers === 0 ? pipe.writeOpens : null;
    pipe.queue.notify(EVENT_IN | EVENT_OUT);
  }

  /** True while a blocking open must still wait for the other side (see the module doc). */
  waitingForPartner(): boolean {
    if (this.#rdwr || (this.flags & O_NONBLOCK)) return false;
    const p = this.pipe;
    if (this.isReader) return p.writers === 0 && p.writeOpens === this.#partnerOpens;
    return p.readers === 0 && p.readOpens === this.#partnerOpens;
  }

  override readiness(mask: number): number {
    const p = this.pipe;
    return p.readiness(mask, this.readable, this.writable, this.#hupAfter === null || p.writeOpens !== this.#hupAfter);
  }

  override path(): string {
    return this.#loc.path();
  }

  override location(): Location {
    return this.#loc;
  }

  override stat(): Stat {
    return this.#loc.dentry.stat();
  }

  protected override release(): void {
    if (this.#rdwr) this.pipe.writers--;
    super.release();
  }
}

/** Opens pipe (a FIFO's) at loc with open(2) flags. ENXIO: O_WRONLY|O_NONBLOCK without a reader. */
export function openFifo(pipe: Pipe, loc: Location, flags: number): FifoEnd {
  if ((flags & O_ACCMODE) === O_WRONLY && (flags & O_NONBLOCK) && pipe.readers === 0) throw ENXIO;
  return new FifoEnd(pipe, loc, flags);
}
