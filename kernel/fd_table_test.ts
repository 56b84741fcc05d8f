import assert from "node:assert/strict";
import { FdTable } from "./fd_table.ts";
import { FileDescription, type Stat } from "../vfs/file_description.ts";
import { EBADF, EMFILE } from "./errno.ts";

class Counted extends FileDescription {
  released = 0;
  path(): string {
    return "counted";
  }
  stat(): Stat {
    throw EBADF;
  }
  protected override release(): void {
    this.released++;
  }
}

Deno.test("FdTable.install() returns the lowest free descriptor", () => {
  const t = new FdTable();
  assert.equal(t.install(new Counted(0)), 0);
  assert.equal(t.install(new Counted(0)), 1);
  t.remove(0);
  assert.equal(t.install(new Counted(0)), 0);
  assert.equal(t.install(new Counted(0), false, 10), 10);
});

Deno.test("closing the last descriptor of a description releases it once", () => {
  const t = new FdTable();
  const f = new Counted(0);
  const a = t.install(f);
  const b = t.install(f.incRef());
  t.remove(a);
  assert.equal(f.released, 0);
  t.remove(b);
  assert.equal(f.released, 1);
  assert.throws(() => t.remove(b), (e) => e === EBADF);
});

Deno.test("the descriptor limit gives EMFILE", () => {
  const t = new FdTable();
  t.limit = 2;
  t.install(new Counted(0));
  t.install(new Counted(0));
  assert.throws(() => t.install(new Counted(0)), (e) => e === EMFILE);
});

Deno.test("exec closes exactly the close-on-exec descriptors", () => {
  const t = new FdTable();
  t.install(new Counted(0), true);
  t.install(new Counted(0), false);
  t.closeOnExec();
  assert.deepEqual(t.fds(), [1]);
});

Deno.test("the lowest-free search hint never skips a free descriptor (random installs, closes, dup2s and forks against a plain scan)", () => {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  let t = new FdTable();
  t.limit = 300;
  const open = new Set<number>();
  const lowest = (min: number) => {
    let fd = min;
    while (open.has(fd)) fd++;
    return fd;
  };
  for (let step = 0; step < 20000; step++) {
    const op = rand(10);
    if (op < 5) {
      const min = rand(4) === 0 ? rand(200) : 0;
      const want = lowest(min);
      if (want >= t.limit) {
        assert.throws(() => t.install(new Counted(0), false, min));
        continue;
      }
      assert.equal(t.install(new Counted(0), false, min), want, `step ${step}`);
      open.add(want);
    } else if (op < 8) {
      const fd = [...open][rand(open.size || 1)];
      if (fd === undefined) continue;
      t.remove(fd);
      open.delete(fd);
    } else if (op === 8) {
      const fd = rand(250);
      t.installAt(fd, new Counted(0), false);
      open.add(fd);
    } else {
      t = t.fork();
    }
    if (open.size < t.limit) assert.equal(t.lowestFree(), lowest(0));
  }
});
