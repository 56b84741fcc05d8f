import assert from "node:assert/strict";
import { EACCES, EBADF, EFAULT, EINVAL, ENOENT, EROFS } from "../../errno.ts";
import {
  AT_EMPTY_PATH, AT_FDCWD, AT_STATX_SYNC_TYPE, AT_SYMLINK_NOFOLLOW, O_PATH, O_RDONLY, R_OK, S_IFLNK,
  S_IFMT, S_IFREG, STAT, STATX, STATX_BASIC_STATS, W_OK, X_OK,
} from "../../../abi/linux/file.ts";
import { withTree } from "../../../vfs/_test_tree.ts";
import { BAD_ADDR, MEM_BASE, makeTask } from "./_test_task.ts";
import { devMajorMinor, table } from "./sys_stat.ts";

const SYS_stat = 4, SYS_fstat = 5, SYS_lstat = 6, SYS_access = 21, SYS_readlink = 89;
const SYS_newfstatat = 262, SYS_readlinkat = 267, SYS_faccessat = 269, SYS_statx = 332;
const SYS_faccessat2 = 439;
const PATH = MEM_BASE, BUF = MEM_BASE + 0x1000;

Deno.test("stat(), lstat() and fstat() fill struct stat at Linux's offsets", () => {
  withTree(({ root: hostRoot, vfs }) => {
    const { t, mem, call } = makeTask(vfs);
    const v = new DataView(mem.bytes.buffer, BUF - MEM_BASE);
    const host = Deno.statSync(`${hostRoot}/etc/passwd`);
    mem.putString(PATH, "/passwd_link");
    assert.equal(call(table, SYS_stat, PATH, BUF), 0);
    assert.equal(Number(v.getBigUint64(STAT.ino, true)), host.ino);
    assert.equal(Number(v.getBigUint64(STAT.dev, true)), host.dev);
    assert.equal(v.getUint32(STAT.mode, true), host.mode);
    assert.equal(Number(v.getBigInt64(STAT.size, true)), 26);
    assert.equal(Number(v.getBigUint64(STAT.nlink, true)), 1);
    assert.equal(Number(v.getBigInt64(STAT.mtime, true)), Math.floor(host.mtime!.getTime() / 1000));
    assert.equal(call(table, SYS_lstat, PATH, BUF), 0);
    assert.equal(v.getUint32(STAT.mode, true) & S_IFMT, S_IFLNK);
    const fd = t.fdTable.install(vfs.openAt({ root: vfs.root(), creds: t.creds }, vfs.root(), "/abs", O_PATH | 0o400000, 0));
    assert.equal(call(table, SYS_fstat, fd, BUF), 0);
    assert.equal(v.getUint32(STAT.mode, true) & S_IFMT, S_IFLNK);
    assert.equal(call(table, SYS_fstat, 99, BUF), -EBADF.errno);
    assert.equal(call(table, SYS_stat, PATH, BAD_ADDR), -EFAULT.errno);
    assert.equal(call(table, SYS_stat, BAD_ADDR, BUF), -EFAULT.errno);
  });
});

Deno.test("newfstatat() handles dirfd, AT_EMPTY_PATH and invalid flags", () => {
  withTree(({ vfs }) => {
    const { t, mem, call } = makeTask(vfs);
    const v = new DataView(mem.bytes.buffer, BUF - MEM_BASE);
    const etc = t.fdTable.install(vfs.openAt({ root: vfs.root(), creds: t.creds }, vfs.root(), "/etc", O_RDONLY, 0));
    mem.putString(PATH, "passwd");
    assert.equal(call(table, SYS_newfstatat, etc, PATH, BUF, 0), 0);
    assert.equal(v.getUint32(STAT.mode, true) & S_IFMT, S_IFREG);
    mem.putString(PATH, "");
    assert.equal(call(table, SYS_newfstatat, etc, PATH, BUF, 0), -ENOENT.errno);
    assert.equal(call(table, SYS_newfstatat, etc, PATH, BUF, AT_EMPTY_PATH), 0);
    assert.equal(v.getUint32(STAT.mode, true) & S_IFMT, 0o040000);
    assert.equal(call(table, SYS_newfstatat, etc, 0, BUF, AT_EMPTY_PATH), 0);
    assert.equal(call(table, SYS_newfstatat, AT_FDCWD, PATH, BUF, AT_EMPTY_PATH), 0);
    assert.equal(call(table, SYS_newfstatat, etc, PATH, BUF, 0x8), -EINVAL.errno);
    mem.putString(PATH, "abs");
    assert.equal(call(table, SYS_newfstatat, AT_FDCWD, PATH, BUF, AT_SYMLINK_NOFOLLOW), 0);
    assert.equal(v.getUint32(STAT.mode, true) & S_IFMT, S_IFLNK);
  });
});

Deno.test("statx() fills struct statx and validates flags and mask", () => {
  withTree(({ root: hostRoot, vfs }) => {
    const { mem, call } = makeTask(vfs);
    const v = new DataView(mem.bytes.buffer, BUF - MEM_BASE);
    const host = Deno.statSync(`${hostRoot}/etc/passwd`);
    mem.putString(PATH, "/etc/passwd");
    assert.equal(call(table, SYS_statx, AT_FDCWD, PATH, 0, STATX_BASIC_STATS, BUF), 0);
    assert.equal(v.getUint32(STATX.mask, true) & STATX_BASIC_STATS, STATX_BASIC_STATS);
    assert.equal(v.getUint16(STATX.mode, true), host.mode);
    assert.equal(Number(v.getBigUint64(STATX.ino, true)), host.ino);
    assert.equal(Number(v.getBigUint64(STATX.size, true)), 26);
    assert.equal(Number(v.getBigInt64(STATX.mtime, true)), Math.floor(host.mtime!.getTime() / 1000));
    const [major, minor] = devMajorMinor(host.dev);
    assert.equal(v.getUint32(STATX.devMajor, true), major);
    assert.equal(v.getUint32(STATX.devMinor, true), minor);
    assert.equal(call(table, SYS_statx, AT_FDCWD, PATH, AT_STATX_SYNC_TYPE, 0, BUF), -EINVAL.errno);
    assert.equal(call(table, SYS_statx, AT_FDCWD, PATH, 0, 0x8000_0000, BUF), -EINVAL.errno);
    assert.equal(call(table, SYS_statx, AT_FDCWD, PATH, 0x4, 0, BUF), -EINVAL.errno);
  });
});

Deno.test("devMajorMinor() decodes the kernel's dev_t encoding", () => {
  assert.deepEqual(devMajorMinor(0x0803), [8, 3]);
  assert.deepEqual(devMajorMinor(0x10300 + 0x45), [0x103, 0x45]);
  assert.deepEqual(devMajorMinor(0x00100000), [0, 0x100]);
});

Deno.test("access() and faccessat2() validate mode and flags and check permissions", () => {
  withTree(({ vfs }) => {
    const { mem, call } = makeTask(vfs);
    mem.putString(PATH, "/usr/bin/sh");
    assert.equal(call(table, SYS_access, PATH, X_OK | R_OK), 0);
    assert.equal(call(table, SYS_access, PATH, W_OK), -EROFS.errno);
    assert.equal(call(table, SYS_access, PATH, 8), -EINVAL.errno);
    assert.equal(call(table, SYS_faccessat, AT_FDCWD, PATH, 0), 0);
    assert.equal(call(table, SYS_faccessat2, AT_FDCWD, PATH, 0, 0x8), -EINVAL.errno);
    mem.putString(PATH, "/usr/bin/noexec");
    assert.equal(call(table, SYS_faccessat2, AT_FDCWD, PATH, X_OK, 0), -EACCES.errno);
    mem.putString(PATH, "/nothing");
    assert.equal(call(table, SYS_access, PATH, 0), -ENOENT.errno);
  });
});

Deno.test("readlink() copies the target without NUL, cut at bufsiz", () => {
  withTree(({ vfs }) => {
    const { t, mem, call } = makeTask(vfs);
    mem.putString(PATH, "/abs");
    mem.bytes.fill(0xa5, BUF - MEM_BASE, BUF - MEM_BASE + 16);
    assert.equal(call(table, SYS_readlink, PATH, BUF, 100), 4);
    assert.equal(mem.string(BUF, 4), "/etc");
    assert.equal(mem.bytes[BUF - MEM_BASE + 4], 0xa5);
    assert.equal(call(table, SYS_readlink, PATH, BUF, 2), 2);
    assert.equal(call(table, SYS_readlink, PATH, BUF, 0), -EINVAL.errno);
    assert.equal(call(table, SYS_readlink, PATH, BAD_ADDR, 10), -EFAULT.errno);
    mem.putString(PATH, "/etc");
    assert.equal(call(table, SYS_readlink, PATH, BUF, 10), -EINVAL.errno);
    // readlinkat() with an empty path reads the O_PATH symlink descriptor itself.
    const fd = t.fdTable.install(vfs.openAt({ root: vfs.root(), creds: t.creds }, vfs.root(), "/abs", O_PATH | 0o400000, 0));
    mem.putString(PATH, "");
    assert.equal(call(table, SYS_readlinkat, fd, PATH, BUF, 10), 4);
    assert.equal(call(table, SYS_readlinkat, AT_FDCWD, PATH, BUF, 10), -ENOENT.errno);
  });
});
