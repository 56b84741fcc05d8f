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
