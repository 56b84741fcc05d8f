/**
 * What stands for Linux's page cache where a test can see it: /proc/sys/vm/drop_caches drops
 * it, and a read with RWF_NOWAIT (preadv2) of file data not read or written since is EAGAIN,
 * as filemap_read's IOCB_NOWAIT finds pages not uptodate. The sentry keeps no clean cache, so
 * only the generation of the last drop is kept here; a disk filesystem (vfs/ext2) tracks, per
 * file, which blocks were read or written since. Before any drop everything counts as cached.
 *
 * @module
 */

/** Drops so far (0: none). */
let dropGeneration = 0;

/** A write to /proc/sys/vm/drop_caches of 1 or 3 (the page cache). */
export function dropPageCaches(): void {
  dropGeneration++;
}

/** The number of drops so far: a file's cached blocks from an older generation are gone. */
export function pageCacheGeneration(): number {
  return dropGeneration;
}
