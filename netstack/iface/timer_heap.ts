/**
 * A binary min-heap of (deadline, item) pairs with lazy cancellation, used to
 * find the sockets whose timers are due without visiting every socket.
 *
 * Each item has at most one live deadline: `schedule` replaces it, and stale
 * heap entries are skipped when they surface. The heap is rebuilt when stale
 * entries outnumber live ones, so its size stays proportional to the number
 * of scheduled items.
 *
 * @module
 */

interface Entry<T> {
  at: number;
  item: T;
}

/** @savable */
export class TimerHeap<T> {
  #heap: Entry<T>[] = [];
  /** The live deadline of each scheduled item. */
  #live = new Map<T, number>();

  /** Items with a live deadline. */
  get size(): number {
    return this.#live.size;
  }

  /** Sets (or with null, cancels) the deadline of `item`. */
  schedule(item: T, at: number | null): void {
    if (at === null) {
      this.#live.delete(item);
      return;
    }
    if (this.#live.get(item) === at) return;
    this.#live.set(item, at);
    this.#push({ at, item });
    if (this.#heap.length > 64 && this.#heap.length > 4 * this.#live.size) this.#rebuild();
  }

  cancel(item: T): void {
    this.#live.delete(item);
  }

  /** The live deadline of `item`, if any. */
  deadline(item: T): number | null {
    return this.#live.get(item) ?? null;
  }

  /** The earliest live deadline, or null. */
  peek(): number | null {
    this.#dropStale();
    return this.#heap[0]?.at ?? null;
  }

  /** Removes and returns every item due at or before `now`. */
  popDue(now: number): T[] {
    const out: T[] = [];
    for (;;) {
      this.#dropStale();
      const top = this.#heap[0];
      if (!top || top.at > now) return out;
      this.#pop();
      this.#live.delete(top.item);
      out.push(top.item);
    }
  }

  #dropStale(): void {
    for (;;) {
      const top = this.#heap[0];
      if (!top || this.#live.get(top.item) === top.at) return;
      this.#pop();
    }
  }

  #rebuild(): void {
    const entries = [...this.#live].map(([item, at]) => ({ at, item }));
    this.#heap = [];
    for (const e of entries) this.#push(e);
  }

  #push(e: Entry<T>): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= e.at) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      let mAt = last.at;
      if (l < h.length && h[l]!.at < mAt) m = l, mAt = h[l]!.at;
      if (r < h.length && h[r]!.at < mAt) m = r;
      if (m === i) break;
      h[i] = h[m]!;
      i = m;
    }
    h[i] = last;
  }
}
