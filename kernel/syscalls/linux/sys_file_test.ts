import assert from "node:assert/strict";
import { EBADF, EFAULT, EINVAL, ENOENT, ENOTDIR, ENOTTY, EROFS } from "../../errno.ts";
import {
  AT_FDCWD, F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL, F_SETFD, F_SETFL, FD_CLOEXEC, FIOCLEX,
  FIONBIO, FIONREAD, O_CLOEXEC, O_DIRECTORY, O_LARGEFILE, O_NONBLOCK, O_PATH, O_RDONLY, O_WRONLY,
  TCGETS,
} from "../../../abi/linux/file.ts";
import { withTree } from "../../../vfs/_test_tree.ts";
import { BAD_ADDR, MEM_BASE, makeTask } from "./_test_task.ts";
import { table } from "./sys_file.ts";

const SYS_open = 2, SYS_close = 3, SYS_ioctl = 16, SYS_dup = 32, SYS_dup2 = 33, SYS_fcntl = 72;
const SYS_openat = 257, SYS_dup3 = 292;
const PATH = MEM_BASE, ARG = MEM_BASE + 0x1000;

Deno.test("open() and openat() return the lowest free descriptor; close() frees it", () => {
  withTree(({ vfs }) => {
    const { mem, call } = makeTask(vfs);
    mem.putString(PATH, "/etc/passwd");
    assert.equal(call(table, SYS_open, PATH, O_RDONLY), 0);
    assert.equal(call(table, SYS_openat, AT_FDCWD, PATH, O_RDONLY), 1);
    assert.equal(call(table, SYS_close, 0), 0);
    assert.equal(call(table, SYS_open, PATH, O_RDONLY), 0);
    assert.equal(call(table, SYS_close, 7), -EBADF.errno);
  });
});

Deno.test("openat() reports path errors as Linux does", () => {
  withTree(({ vfs }) => {
    const { mem, call } = makeTask(vfs);
    assert.equal(call(table, SYS_openat, AT_FDCWD, BAD_ADDR, O_RDONLY), -EFAULT.errno);
    mem.putString(PATH, "");
    assert.equal(call(table, SYS_openat, AT_FDCWD, PATH, O_RDONLY), -ENOENT.errno);
    mem.putString(PATH, "/etc/passwd");
    assert.equal(call(table, SYS_openat, AT_FDCWD, PATH, O_WRONLY), -EROFS.errno);
    // An absolute path ignores dirfd, even a bad one.
    assert.equal(call(table, SYS_openat, 99, PATH, O_RDONLY), 0);
    mem.putString(PATH, "passwd");
    assert.equal(call(table, SYS_openat, 99, PATH, O_RDONLY), -EBADF.errno);
    // Relative to a regular file: ENOTDIR.
    assert.equal(call(table, SYS_openat, 0, PATH, O_RDONLY), -ENOTDIR.errno);
    mem.putString(PATH + 100, "/etc");
    assert.equal(call(table, SYS_openat, AT_FDCWD, PATH + 100, O_RDONLY | O_DIRECTORY), 1);
    assert.equal(call(table, SYS_openat, 1, PATH, O_RDONLY), 2);
  });
});

Deno.test("fcntl() manages close-on-exec, status flags and duplication", () => {
  withTree(({ vfs }) => {
    const { t, mem, call } = makeTask(vfs);
    mem.putString(PATH, "/etc/passwd");
    assert.equal(call(table, SYS_open, PATH, O_RDONLY | O_CLOEXEC), 0);
    assert.equal(call(table, SYS_fcntl, 0, F_GETFD), FD_CLOEXEC);
    assert.equal(call(table, SYS_fcntl, 0, F_SETFD, 0), 0);
    assert.equal(call(table, SYS_fcntl, 0, F_GETFD), 0);
    assert.equal(call(table, SYS_fcntl, 0, F_GETFL), O_RDONLY | O_LARGEFILE);
    assert.equal(call(table, SYS_fcntl, 0, F_SETFL, O_NONBLOCK | O_WRONLY), 0);
    assert.equal(call(table, SYS_fcntl, 0, F_GETFL), O_RDONLY | O_LARGEFILE | O_NONBLOCK);
    assert.equal(call(table, SYS_fcntl, 0, F_DUPFD, 10), 10);
    assert.equal(call(table, SYS_fcntl, 0, F_DUPFD_CLOEXEC, 10), 11);
    assert.equal(call(table, SYS_fcntl, 11, F_GETFD), FD_CLOEXEC);
    assert.equal(t.fdTable.get(11), t.fdTable.get(0));
    assert.equal(call(table, SYS_fcntl, 0, F_DUPFD, -1), -EINVAL.errno);
    assert.equal(call(table, SYS_fcntl, 0, 9999), -EINVAL.errno);
    assert.equal(call(table, SYS_fcntl, 42, F_GETFD), -EBADF.errno);
    // O_PATH descriptors allow only the descriptor commands and F_GETFL.
    assert.equal(call(table, SYS_open, PATH, O_PATH), 1);
    assert.equal(call(table, SYS_fcntl, 1, F_GETFL), O_PATH);
    assert.equal(call(table, SYS_fcntl, 1, F_SETFL, O_NONBLOCK), -EBADF.errno);
  });
});

Deno.test("dup(), dup2() and dup3() share the description as Linux specifies", () => {
  withTree(({ vfs }) => {
    const { t, mem, call } = makeTask(vfs);
    mem.putString(PATH, "/etc/passwd");
    assert.equal(call(table, SYS_open, PATH, O_RDONLY), 0);
    assert.equal(call(table, SYS_dup, 0), 1);
    assert.equal(call(table, SYS_dup2, 0, 5), 5);
    assert.equal(call(table, SYS_dup2, 5, 5), 5);
    assert.equal(call(table, SYS_dup2, 6, 6), -EBADF.errno);
    assert.equal(call(table, SYS_dup2, 9, 3), -EBADF.errno);
    assert.equal(call(table, SYS_dup2, 0, -1), -EBADF.errno);
    assert.equal(call(table, SYS_dup3, 0, 0, 0), -EINVAL.errno);
    assert.equal(call(table, SYS_dup3, 0, 4, O_NONBLOCK), -EINVAL.errno);
    assert.equal(call(table, SYS_dup3, 0, 4, O_CLOEXEC), 4);
    assert.equal(t.fdTable.getCloexec(4), true);
    // All share one offset.
    t.fdTable.get(0).offset = 3;
    assert.equal(t.fdTable.get(4).offset, 3);
    assert.equal(call(table, SYS_dup, 99), -EBADF.errno);
  });
});

Deno.test("ioctl() handles descriptor requests and leaves terminal ones to the file", () => {
  withTree(({ vfs }) => {
    const { t, mem, call } = makeTask(vfs);
    mem.putString(PATH, "/etc/passwd");
    assert.equal(call(table, SYS_open, PATH, O_RDONLY), 0);
    assert.equal(call(table, SYS_ioctl, 0, FIOCLEX, 0), 0);
    assert.equal(t.fdTable.getCloexec(0), true);
    new DataView(mem.bytes.buffer).setUint32(ARG - MEM_BASE, 1, true);
    assert.equal(call(table, SYS_ioctl, 0, FIONBIO, ARG), 0);
    assert.equal(t.fdTable.get(0).flags & O_NONBLOCK, O_NONBLOCK);
    assert.equal(call(table, SYS_ioctl, 0, FIONBIO, BAD_ADDR), -EFAULT.errno);
    assert.equal(call(table, SYS_ioctl, 0, TCGETS, ARG), -ENOTTY.errno);
    assert.equal(call(table, SYS_ioctl, 0, FIONREAD, ARG), 0);
    assert.equal(new DataView(mem.bytes.buffer).getInt32(ARG - MEM_BASE, true), 26);
    assert.equal(call(table, SYS_open, PATH, O_PATH), 1);
    assert.equal(call(table, SYS_ioctl, 1, FIOCLEX, 0), -EBADF.errno);
  });
});
