import assert from "node:assert/strict";
import { EAGAIN, EBADF, EFAULT, EINVAL, EISDIR, ESPIPE } from "../../errno.ts";
import { O_NONBLOCK, O_PATH, O_RDONLY, O_RDWR, SEEK_CUR, SEEK_END } from "../../../abi/linux/file.ts";
import * as ffi from "../../../platform/ptrace/_ffi.ts";
import { hostFile, type VirtualFilesystem } from "../../../vfs/mod.ts";
import { withTree } from "../../../vfs/_test_tree.ts";
import { BAD_ADDR, MEM_BASE, MEM_SIZE, makeTask, type TestTask } from "./_test_task.ts";
import { table } from "./sys_read_write.ts";

const SYS_read = 0, SYS_write = 1, SYS_lseek = 8, SYS_pread64 = 17, SYS_readv = 19, SYS_writev = 20;
const BUF = MEM_BASE + 0x1000, IOV = MEM_BASE + 0x100;
const PASSWD = "root:x:0:0::/root:/bin/sh\n";

function openPasswd(vfs: VirtualFilesystem, tt: TestTask, flags = O_RDONLY): number {
  const f = vfs.openAt({ root: vfs.root(), creds: tt.t.creds }, vfs.root(), "/etc/passwd", flags, 0);
  return tt.t.fdTable.install(f);
}

function putIovecs(tt: TestTask, iovs: [number, number][]): void {
  const v = new DataView(tt.mem.bytes.buffer);
  iovs.forEach(([base, len], i) => {
    v.setBigUint64(IOV - MEM_BASE + 16 * i, BigInt.asUintN(64, BigInt(base)), true);
    v.setBigUint64(IOV - MEM_BASE + 16 * i + 8, BigInt.asUintN(64, BigInt(len)), true);
  });
}

Deno.test("read() copies file data out and advances the offset", () => {
  withTree(({ vfs }) => {
    const tt = makeTask(vfs);
    const fd = openPasswd(vfs, tt);
    assert.equal(tt.call(table, SYS_read, fd, BUF, 5), 5);
    assert.equal(tt.mem.string(BUF, 5), "root:");
    assert.equal(tt.call(table, SYS_read, fd, BUF, 4096), PASSWD.length - 5);
    assert.equal(tt.call(table, SYS_read, fd, BUF, 4096), 0);
    assert.equal(tt.call(table, SYS_read, fd, BUF, 0), 0);
    assert.equal(tt.call(table, SYS_read, 77, BUF, 1), -EBADF.errno);
  });
});

Deno.test("read() into a bad buffer is EFAULT and consumes nothing; a partial buffer returns what landed", () => {
  withTree(({ vfs }) => {
    const tt = makeTask(vfs);
    const fd = openPasswd(vfs, tt);
    assert.equal(tt.call(table, SYS_read, fd, BAD_ADDR, 10), -EFAULT.errno);
    assert.equal(tt.t.fdTable.get(fd).offset, 0);
    const nearEnd = MEM_BASE + MEM_SIZE - 3;
    assert.equal(tt.call(table, SYS_read, fd, nearEnd, 10), 3);
    assert.equal(tt.t.fdTable.get(fd).offset, 3);
    assert.equal(tt.call(table, SYS_read, fd, BUF, 2), 2);
    assert.equal(tt.mem.string(BUF, 2), "t:");
  });
});

Deno.test("read() of a directory is EISDIR and write() to a read-only description is EBADF", () => {
  withTree(({ vfs }) => {
    const tt = makeTask(vfs);
    const dir = vfs.openAt({ root: vfs.root(), creds: tt.t.creds }, vfs.root(), "/etc", O_RDONLY, 0);
    const dfd = tt.t.fdTable.install(dir);
    assert.equal(tt.call(table, SYS_read, dfd, BUF, 10), -EISDIR.errno);
    const fd = openPasswd(vfs, tt);
    assert.equal(tt.call(table, SYS_write, fd, BUF, 10), -EBADF.errno);
    const p = vfs.openAt({ root: vfs.root(), creds: tt.t.creds }, vfs.root(), "/etc/passwd", O_PATH, 0);
    const pfd = tt.t.fdTable.install(p);
    assert.equal(tt.call(table, SYS_read, pfd, BUF, 10), -EBADF.errno);
    assert.equal(tt.call(table, SYS_lseek, pfd, 0, 0), -EBADF.errno);
  });
});

Deno.test("pread64() and lseek() check offsets and whence", () => {
  withTree(({ vfs }) => {
    const tt = makeTask(vfs);
    const fd = openPasswd(vfs, tt);
    assert.equal(tt.call(table, SYS_pread64, fd, BUF, 4, 5), 4);
    assert.equal(tt.mem.string(BUF, 4), "x:0:");
    assert.equal(tt.t.fdTable.get(fd).offset, 0);
    assert.equal(tt.call(table, SYS_pread64, fd, BUF, 4, -1), -EINVAL.errno);
    assert.equal(tt.call(table, SYS_lseek, fd, 0, SEEK_END), PASSWD.length);
    assert.equal(tt.call(table, SYS_lseek, fd, -3, SEEK_CUR), PASSWD.length - 3);
    assert.equal(tt.call(table, SYS_lseek, fd, -100, SEEK_CUR), -EINVAL.errno);
    assert.equal(tt.call(table, SYS_lseek, fd, 0, 5), -EINVAL.errno);
  });
});

Deno.test("readv() scatters across iovecs and validates the array", () => {
  withTree(({ vfs }) => {
    const tt = makeTask(vfs);
    const fd = openPasswd(vfs, tt);
    putIovecs(tt, [[BUF, 5], [BUF + 100, 0], [BUF + 200, 2]]);
    assert.equal(tt.call(table, SYS_readv, fd, IOV, 3), 7);
    assert.equal(tt.mem.string(BUF, 5), "root:");
    assert.equal(tt.mem.string(BUF + 200, 2), "x:");
    assert.equal(tt.call(table, SYS_readv, fd, IOV, 1025), -EINVAL.errno);
    assert.equal(tt.call(table, SYS_readv, fd, IOV, 0), 0);
    assert.equal(tt.call(table, SYS_readv, fd, BAD_ADDR, 1), -EFAULT.errno);
    putIovecs(tt, [[BUF, -1]]);
    assert.equal(tt.call(table, SYS_readv, fd, IOV, 1), -EINVAL.errno);
    // A bad second buffer: the first one's bytes count.
    putIovecs(tt, [[BUF, 3], [BAD_ADDR, 3]]);
    assert.equal(tt.call(table, SYS_readv, fd, IOV, 2), 3);
  });
});

/** A FIFO opened read-write on the host (never blocks), wrapped as a host file. */
function withFifo(fn: (hostFd: number) => void): void {
  const dir = Deno.makeTempDirSync({ prefix: "sentry_fifo_" });
  new Deno.Command("mkfifo", { args: [`${dir}/p`] }).outputSync();
  const fd = ffi.hostOpen(`${dir}/p`, O_RDWR | O_NONBLOCK | ffi.O_CLOEXEC);
  try {
    fn(fd);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("read() of an empty stream blocks on the file's queue, or is EAGAIN with O_NONBLOCK", async () => {
  await new Promise<void>((resolve, reject) => {
    withTree(({ vfs }) => {
      withFifo((hostFd) => {
        const tt = makeTask(vfs);
        const file = hostFile(hostFd, { owned: true });
        const fd = tt.t.fdTable.install(file);
        const r = tt.call(table, SYS_read, fd, BUF, 10);
        assert.equal(typeof r, "object");
        assert.ok(typeof r === "object" && r.ctl === "block" && r.queues[0] === file.waitQueue);
        file.flags |= O_NONBLOCK;
        assert.equal(tt.call(table, SYS_read, fd, BUF, 10), -EAGAIN.errno);
        assert.equal(tt.call(table, SYS_pread64, fd, BUF, 10, 0), -ESPIPE.errno);
        assert.equal(tt.call(table, SYS_lseek, fd, 0, 0), -ESPIPE.errno);
        // Data written by the host makes it readable.
        tt.mem.bytes.set(new TextEncoder().encode("hello"), BUF - MEM_BASE);
        putIovecs(tt, [[BUF, 2], [BUF + 2, 3]]);
        assert.equal(tt.call(table, SYS_writev, fd, IOV, 2), 5);
        assert.equal(tt.call(table, SYS_read, fd, BUF + 500, 10), 5);
        assert.equal(tt.mem.string(BUF + 500, 5), "hello");
        const pending = file.pendingWait;
        tt.t.fdTable.removeAll();
        (pending ?? Promise.resolve()).then(() => resolve(), reject);
      });
    });
  });
});
