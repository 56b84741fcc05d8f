/**
 * Writing the sentry's own output (strace lines, the debug log, its one-line errors) through
 * Deno's synchronous writes, whole and in spite of EINTR.
 *
 * Why EINTR: the JavaScript thread gets the wake-up alarm's signal (platform/ptrace/_ffi.ts,
 * `armWakeAlarm`), installed without SA_RESTART so that a blocking waitpid returns at the
 * kernel's next deadline. The alarm stays armed across stops, so it may fire while the thread
 * is blocked in any other host call: a write to a full pipe (stderr read slowly, `--strace
 * 2>&1 | less`) then fails with EINTR having written nothing, and Deno's writeSync reports that
 * as `Deno.errors.Interrupted` instead of retrying. Linux's pipe_write returns the bytes
 * written so far when a signal arrives after some went out, so an Interrupted write wrote
 * nothing and is simply run again.
 *
 * @module
 */

/** Something with Deno's synchronous write: Deno.stdout, Deno.stderr, a Deno.FsFile. */
export interface SyncWriter {
  writeSync(b: Uint8Array): number;
}

/**
 * Runs f, a Deno call that has no effect when a signal interrupts it (a write that wrote
 * nothing, a tcsetattr waiting for output to drain), again for as long as it throws
 * Deno.errors.Interrupted. Other errors are thrown.
 */
export function retryInterrupted<T>(f: () => T): T {
  for (;;) {
    try {
      return f();
    } catch (err) {
      if (!(err instanceof Deno.errors.Interrupted)) throw err;
    }
  }
}

/**
 * Writes all of b to w: continues after short writes and runs a write again when a signal
 * interrupted it (Deno.errors.Interrupted). Other errors (BrokenPipe...) are thrown.
 */
export function writeAllSync(w: SyncWriter, b: Uint8Array): void {
  for (let off = 0; off < b.length;) off += retryInterrupted(() => w.writeSync(b.subarray(off)));
}

/** Like {@linkcode writeAllSync} for Deno's asynchronous write (the `-t` console bridge). */
export async function writeAllAsync(w: { write(b: Uint8Array): Promise<number> }, b: Uint8Array): Promise<void> {
  let off = 0;
  while (off < b.length) {
    try {
      off += await w.write(b.subarray(off));
    } catch (err) {
      if (!(err instanceof Deno.errors.Interrupted)) throw err;
    }
  }
}
