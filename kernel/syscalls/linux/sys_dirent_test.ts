import assert from "node:assert/strict";
import { EBADF, EINVAL, ENOTDIR } from "../../errno.ts";
import { DT_DIR, DT_LNK, DT_REG, O_PATH, O_RDONLY } from "../../../abi/linux/file.ts";
import type { VirtualFilesystem } from "../../../vfs/mod.ts";
import { withTree } from "../../../vfs/_test_tree.ts";
import { MEM_BASE, makeTask, type TestTask } from "./_test_task.ts";
import { table } from "./sys_dirent.ts";

const SYS_getdents = 78, SYS_getdents64 = 217;
const BUF = MEM_BASE + 0x1000;

interface Rec {
  ino: number;
  off: number;
  reclen: number;
  type: number;
  name: string;
}

function parse64(tt: TestTask, n: number): Rec[] {
  const b = tt.mem.get(BUF, n);
  const v = new DataView(b.buffer);
  const out: Rec[] = [];
  for (let o = 0; o < n;) {
    const reclen = v.getUint16(o + 16, true);
    const end = b.indexOf(0, o + 19);
    out.push({
      ino: Number(v.getBigUint64(o, true)), off: Number(v.getBigInt64(o + 8, true)), reclen,
      type: v.getUint8(o + 18), name: new TextDecoder().decode(b.subarray(o + 19, end)),
    });
    o += reclen;
  }
  return out;
}

function open(vfs: VirtualFilesystem, tt: TestTask, path: string, flags = O_RDONLY): number {
  return tt.t.fdTable.install(vfs.openAt({ root: vfs.root(), creds: tt.t.creds }, vfs.root(), path, flags, 0));
}

Deno.test("getdents64() lists a directory in 8-byte aligned records with d_off cookies", () => {
  withTree(({ root: hostRoot, vfs }) => {
    const tt = makeTask(vfs);
    const fd = open(vfs, tt, "/");
    const n = tt.call(table, SYS_getdents64, fd, BUF, 4096) as number;
    assert.ok(n > 0);
    const recs = parse64(tt, n);
    for (const r of recs) assert.equal(r.reclen % 8, 0);
    assert.deepEqual(recs.map((r) => r.off), recs.map((_, i) => i + 1));
    const names = recs.map((r) => r.name).sort();
    assert.deepEqual(names, [".", "..", ...[...Deno.readDirSync(hostRoot)].map((e) => e.name)].sort());
    const byName = new Map(recs.map((r) => [r.name, r]));
    assert.equal(byName.get("etc")?.type, DT_DIR);
    assert.equal(byName.get("bin")?.type, DT_LNK);
    assert.equal(byName.get("etc")?.ino, Deno.statSync(`${hostRoot}/etc`).ino);
    assert.equal(tt.call(table, SYS_getdents64, fd, BUF, 4096), 0);
  });
});

Deno.test("getdents64() continues across calls and rejects a buffer too small for one record", () => {
  withTree(({ vfs }) => {
    const tt = makeTask(vfs);
    const fd = open(vfs, tt, "/etc");
    assert.equal(tt.call(table, SYS_getdents64, fd, BUF, 10), -EINVAL.errno);
    assert.equal(tt.call(table, SYS_getdents64, fd, BUF, 24), 24);
    assert.equal(parse64(tt, 24)[0]?.name, ".");
    const n = tt.call(table, SYS_getdents64, fd, BUF, 56) as number;
    assert.deepEqual(parse64(tt, n).map((r) => [r.name, r.type]), [["..", DT_DIR], ["passwd", DT_REG]]);
    assert.equal(tt.call(table, SYS_getdents64, fd, BUF, 4096), 0);
  });
});

Deno.test("getdents64() of a file is ENOTDIR and of an O_PATH descriptor EBADF", () => {
  withTree(({ vfs }) => {
    const tt = makeTask(vfs);
    assert.equal(tt.call(table, SYS_getdents64, open(vfs, tt, "/etc/passwd"), BUF, 4096), -ENOTDIR.errno);
    assert.equal(tt.call(table, SYS_getdents64, open(vfs, tt, "/etc", O_PATH), BUF, 4096), -EBADF.errno);
    assert.equal(tt.call(table, SYS_getdents64, 99, BUF, 4096), -EBADF.errno);
  });
});

Deno.test("getdents() puts d_type in the last byte of each record", () => {
  withTree(({ vfs }) => {
    const tt = makeTask(vfs);
    const fd = open(vfs, tt, "/etc");
    const n = tt.call(table, SYS_getdents, fd, BUF, 4096) as number;
    const b = tt.mem.get(BUF, n);
    const v = new DataView(b.buffer);
    const types: number[] = [];
    const names: string[] = [];
    for (let o = 0; o < n;) {
      const reclen = v.getUint16(o + 16, true);
      names.push(new TextDecoder().decode(b.subarray(o + 18, b.indexOf(0, o + 18))));
      types.push(b[o + reclen - 1]!);
      o += reclen;
    }
    assert.deepEqual(names, [".", "..", "passwd"]);
    assert.deepEqual(types, [DT_DIR, DT_DIR, DT_REG]);
  });
});
