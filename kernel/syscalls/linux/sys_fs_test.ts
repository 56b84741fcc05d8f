import assert from "node:assert/strict";
import { EACCES, EFAULT, ENOENT, ENOTDIR, ERANGE } from "../../errno.ts";
import { O_PATH, O_RDONLY } from "../../../abi/linux/file.ts";
import { NOBODY, withTree } from "../../../vfs/_test_tree.ts";
import { BAD_ADDR, MEM_BASE, makeTask } from "./_test_task.ts";
import { table } from "./sys_fs.ts";

const SYS_getcwd = 79, SYS_chdir = 80, SYS_fchdir = 81;
const PATH = MEM_BASE, BUF = MEM_BASE + 0x1000;

Deno.test("getcwd() returns the length with the NUL and ERANGE for a small buffer", () => {
  withTree(({ vfs }) => {
    const { mem, call } = makeTask(vfs);
    assert.equal(call(table, SYS_getcwd, BUF, 100), 2);
    assert.equal(mem.string(BUF, 2), "/\0");
    mem.putString(PATH, "bin");
    assert.equal(call(table, SYS_chdir, PATH), 0);
    assert.equal(call(table, SYS_getcwd, BUF, 100), 9);
    assert.equal(mem.string(BUF, 9), "/usr/bin\0");
    assert.equal(call(table, SYS_getcwd, BUF, 8), -ERANGE.errno);
    assert.equal(call(table, SYS_getcwd, BUF, 0), -ERANGE.errno);
    assert.equal(call(table, SYS_getcwd, BAD_ADDR, 100), -EFAULT.errno);
  });
});

Deno.test("getcwd() marks a cwd outside the root as unreachable", () => {
  withTree(({ vfs }) => {
    const { t, mem, call } = makeTask(vfs);
    t.fs.root = vfs.lookupDir({ root: vfs.root(), creds: t.creds }, vfs.root(), "/usr");
    assert.equal(call(table, SYS_getcwd, BUF, 100), "(unreachable)/".length + 1);
    assert.equal(mem.string(BUF, 14), "(unreachable)/");
  });
});

Deno.test("chdir() and fchdir() change the cwd and check the target", () => {
  withTree(({ vfs }) => {
    const { t, mem, call } = makeTask(vfs);
    mem.putString(PATH, "/etc/passwd");
    assert.equal(call(table, SYS_chdir, PATH), -ENOTDIR.errno);
    mem.putString(PATH, "/nothing");
    assert.equal(call(table, SYS_chdir, PATH), -ENOENT.errno);
    const ctx = { root: vfs.root(), creds: t.creds };
    const dir = t.fdTable.install(vfs.openAt(ctx, vfs.root(), "/usr", O_PATH, 0));
    assert.equal(call(table, SYS_fchdir, dir), 0);
    assert.equal(t.fs.cwd.path(), "/usr");
    const file = t.fdTable.install(vfs.openAt(ctx, vfs.root(), "/etc/passwd", O_RDONLY, 0));
    assert.equal(call(table, SYS_fchdir, file), -ENOTDIR.errno);
    // Relative paths start at the new cwd.
    mem.putString(PATH, "bin");
    assert.equal(call(table, SYS_chdir, PATH), 0);
    assert.equal(t.fs.cwd.path(), "/usr/bin");
  });
});

Deno.test("chdir() into a directory without search permission is EACCES", () => {
  withTree(({ vfs }) => {
    const { mem, call } = makeTask(vfs, NOBODY);
    mem.putString(PATH, "/secret");
    assert.equal(call(table, SYS_chdir, PATH), -EACCES.errno);
  });
});
