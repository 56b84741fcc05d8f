/**
 * Checkpoint of seccomp (issue #13; docs/checkpoint.md): strict mode and classic-BPF filter
 * programs (kernel/seccomp.ts), so that a filtered task goes on filtered after a restore.
 *
 * A task's seccomp state is an immutable object shared with the threads and children that
 * inherit it, holding a list of filters (newest first) whose programs are shared too: Linux's
 * filters form a tree (each has one `prev`), and the sentry compares programs by identity
 * (TSYNC's ancestor check, kernel/syscalls/linux/sys_seccomp.ts). So both are saved in tables
 * of their own, each once: `seccompFilters` holds the programs, `seccompStates` the states as
 * lists of program indices, and a task names its state by index. The restore makes one
 * program and one state per index, so the sharing and the tree come back as they were, and a
 * TSYNC after the restore finds the other threads' filters its ancestors as before.
 *
 * The filter flags need nothing saved: TSYNC and TSYNC_ESRCH act as the filter is installed,
 * and LOG and SPEC_ALLOW change nothing the sentry does (it keeps no audit log and runs no
 * speculation mitigation); NEW_LISTENER is refused at install (EINVAL).
 *
 * The image is untrusted: every program is checked as seccomp(2) checks one before it is
 * kept (kernel/seccomp.ts checkFilter: a program that loads outside seccomp_data or jumps out
 * of itself never runs), each list is a chain of the tree (a program appears once in a list,
 * and is followed by the same programs in every list that holds it), a list's length is
 * bounded as seccomp(2) bounds it (MAX_INSNS_PER_PATH), strict mode holds no filter, and
 * nothing in the tables is unused.
 *
 * @module
 */

import { intIn, z } from "./zod_tree.ts";
import {
  checkFilter, MAX_INSNS, MAX_TOTAL_INSNS, SECCOMP_MODE_FILTER, SECCOMP_MODE_STRICT, type SeccompState,
} from "../seccomp.ts";

const u32 = intIn(0, 0xffff_ffff);

/** A filter program: 8-byte sock_filter instructions, 1 to BPF_MAXINSNS of them. */
export const seccompFilterSchema = z.lazy(() => z.instanceof(Uint8Array).refine(
  (b) => b.length > 0 && b.length % 8 === 0 && b.length <= MAX_INSNS * 8,
  "a seccomp filter is 1 to 4096 instructions of 8 bytes",
));

/** A seccomp state: strict mode, or filter mode with its programs (indices), newest first. */
export const seccompStateSchema = z.lazy(() => z.object({
  mode: z.union([z.literal(SECCOMP_MODE_STRICT), z.literal(SECCOMP_MODE_FILTER)]),
  filters: z.array(u32).max(Math.floor(MAX_TOTAL_INSNS / 5)),
}).strict());

export type SavedSeccompState = z.infer<typeof seccompStateSchema>;

/** The seccomp tables of the image, filled as tasks are saved. */
export class SeccompSaver {
  readonly filters: Uint8Array<ArrayBuffer>[] = [];
  readonly states: SavedSeccompState[] = [];
  readonly #filterIndex = new Map<Uint8Array, number>();
  readonly #stateIndex = new Map<SeccompState, number>();

  /** The index of a task's state, saved (with its programs) the first time it is seen. */
  ref(s: SeccompState): number {
    let i = this.#stateIndex.get(s);
    if (i !== undefined) return i;
    const filters = s.filters.map((p) => {
      let j = this.#filterIndex.get(p);
      if (j === undefined) {
        j = this.filters.length;
        this.#filterIndex.set(p, j);
        this.filters.push(p.slice());
      }
      return j;
    });
    i = this.states.length;
    this.#stateIndex.set(s, i);
    this.states.push({ mode: s.mode === SECCOMP_MODE_STRICT ? SECCOMP_MODE_STRICT : SECCOMP_MODE_FILTER, filters });
    return i;
  }
}

/**
 * What the schema cannot check: every program is one seccomp(2) would accept, every list is a
 * chain of one tree within seccomp(2)'s length, strict mode has no filter, filter mode at least
 * one, and every program and state is used (`used`: the state indices tasks name).
 */
export function checkSeccompShape(
  filters: readonly Uint8Array[], states: readonly SavedSeccompState[], used: ReadonlySet<number>, bad: (why: string) => Error,
): void {
  for (const [i, p] of filters.entries()) {
    try {
      checkFilter(p);
    } catch {
      throw bad(`seccomp filter ${i} is not a program seccomp(2) accepts`);
    }
  }
  // In a tree each program has one parent: what follows it is the same in every list.
  const tails = new Map<number, string>();
  const filtersUsed = new Set<number>();
  for (const [i, s] of states.entries()) {
    if ((s.mode === SECCOMP_MODE_STRICT) !== (s.filters.length === 0)) {
      throw bad(`seccomp state ${i}: strict mode has no filter, filter mode at least one`);
    }
    let insns = 0;
    const seen = new Set<number>();
    for (const [at, f] of s.filters.entries()) {
      const p = filters[f];
      if (p === undefined || seen.has(f)) throw bad(`seccomp state ${i} names filter ${f} twice or of ${filters.length}`);
      seen.add(f);
      filtersUsed.add(f);
      insns += p.length / 8 + 4;
      const tail = s.filters.slice(at + 1).join(",");
      if ((tails.get(f) ?? tail) !== tail) throw bad(`seccomp filter ${f} follows two different chains`);
      tails.set(f, tail);
    }
    if (insns > MAX_TOTAL_INSNS) throw bad(`seccomp state ${i}'s filters are longer than seccomp(2) allows`);
    if (!used.has(i)) throw bad(`seccomp state ${i} is used by no task`);
  }
  for (const u of used) if (u >= states.length) throw bad(`a task names seccomp state ${u} of ${states.length}`);
  if (filtersUsed.size !== filters.length) throw bad("a seccomp filter no state holds");
}

/** The restored states, one per index, their programs shared as the image shares them. */
export function makeSeccompStates(filters: readonly Uint8Array[], states: readonly SavedSeccompState[]): SeccompState[] {
  const programs = filters.map((p) => p.slice());
  return states.map((s) => ({ mode: s.mode, filters: s.filters.map((f) => programs[f]!) }));
}
