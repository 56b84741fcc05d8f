import assert from "node:assert/strict";
import { EACCES, EEXIST, EISDIR, ENODATA, ENOENT, ENOSPC, ENOTDIR, ENOTEMPTY, EOPNOTSUPP, EPERM } from "../../kernel/errno.ts";
import { Credentials } from "../../kernel/creds.ts";
import {
  O_APPEND, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, RENAME_EXCHANGE, S_IFIFO, XATTR_CREATE,
} from "../../abi/linux/file.ts";
import * as ffi from "../../platform/ptrace/_ffi.ts";
import { VirtualFilesystem } from "../vfs.ts";
import type { PathContext } from "../path_walk.ts";
import { TmpfsFilesystem } from "./tmpfs.ts";

const enc = new TextEncoder(), dec = new TextDecoder();

function withTmpfs(fn: (vfs: VirtualFilesystem, ctx: PathContext) => void, sizeLimit?: number): void {
  const vfs = VirtualFilesystem.withRoot(new TmpfsFilesystem(sizeLimit === undefined ? {} : { sizeLimit }));
  try {
    fn(vfs, { root: vfs.root(), creds: Credentials.root() });
  } finally {
    vfs.release();
  }
}

function writeFile(vfs: VirtualFilesystem, ctx: PathContext, path: string, data: string, flags = O_TRUNC): void {
  const f = vfs.openAt(ctx, vfs.root(), path, O_WRONLY | O_CREAT | flags, 0o644);
  try {
    f.write(enc.encode(data), null);
  } finally {
    f.decRef();
  }
}

function readFile(vfs: VirtualFilesystem, ctx: PathContext, path: string): string {
  const f = vfs.openAt(ctx, vfs.root(), path, O_RDONLY, 0);
  try {
    const b = new Uint8Array(1 << 16);
    return dec.decode(b.subarray(0, f.read(b, null)));
  } finally {
    f.decRef();
  }
}

const stat = (vfs: VirtualFilesystem, ctx: PathContext, p: string) =>
  vfs.statAt(ctx, vfs.root(), p, { follow: false, emptyPath: false });

Deno.test("tmpfs keeps link counts through create, link, mkdir, unlink and rmdir", () => {
  withTmpfs((vfs, ctx) => {
    const root = vfs.root();
    vfs.mkdirAt(ctx, root, "/d", 0o755);
    vfs.mkdirAt(ctx, root, "/d/e", 0o755);
    assert.equal(stat(vfs, ctx, "/d").nlink, 3);
    writeFile(vfs, ctx, "/d/f", "x");
    vfs.linkAt(ctx, vfs.resolve(ctx, root, "/d/f", { follow: false }), root, "/g");
    assert.equal(stat(vfs, ctx, "/g").nlink, 2);
    assert.equal(stat(vfs, ctx, "/g").ino, stat(vfs, ctx, "/d/f").ino);
    assert.throws(() => vfs.rmdirAt(ctx, root, "/d"), ENOTEMPTY);
    assert.throws(() => vfs.unlinkAt(ctx, root, "/d"), EISDIR);
    assert.throws(() => vfs.rmdirAt(ctx, root, "/g"), ENOTDIR);
    vfs.unlinkAt(ctx, root, "/d/f");
    assert.equal(stat(vfs, ctx, "/g").nlink, 1);
    assert.equal(readFile(vfs, ctx, "/g"), "x");
    vfs.rmdirAt(ctx, root, "/d/e");
    assert.equal(stat(vfs, ctx, "/d").nlink, 2);
    vfs.rmdirAt(ctx, root, "/d");
    assert.throws(() => stat(vfs, ctx, "/d"), ENOENT);
    assert.throws(() => vfs.mkdirAt(ctx, root, "/g", 0o755), EEXIST);
  });
});

Deno.test("tmpfs file data lives in the memfd that hostFdForMmap() returns", () => {
  withTmpfs((vfs, ctx) => {
    const f = vfs.openAt(ctx, vfs.root(), "/m", O_RDWR | O_CREAT, 0o644);
    try {
      assert.equal(f.write(enc.encode("shared bytes"), null), 12);
      const fd = f.hostFdForMmap()!;
      const b = new Uint8Array(12);
      assert.equal(ffi.hostPread(fd, b, 0), 12);
      assert.equal(dec.decode(b), "shared bytes");
      // A change made through the host descriptor (as a MAP_SHARED store would) is read back.
      ffi.hostPwrite(fd, enc.encode("SHARED"), 0);
      const r = new Uint8Array(12);
      assert.equal(f.read(r, 0), 12);
      assert.equal(dec.decode(r), "SHARED bytes");
    } finally {
      f.decRef();
    }
  });
});

Deno.test("tmpfs appends with O_APPEND, truncates with O_TRUNC and reads a hole as zeros", () => {
  withTmpfs((vfs, ctx) => {
    writeFile(vfs, ctx, "/a", "one");
    writeFile(vfs, ctx, "/a", "two", O_APPEND);
    assert.equal(readFile(vfs, ctx, "/a"), "onetwo");
    writeFile(vfs, ctx, "/a", "3");
    assert.equal(readFile(vfs, ctx, "/a"), "3");
    vfs.truncate(ctx, vfs.resolve(ctx, vfs.root(), "/a", { follow: true }), 4);
    assert.equal(readFile(vfs, ctx, "/a"), "3\0\0\0");
  });
});

Deno.test("tmpfs refuses to grow past its size limit with ENOSPC and frees space on unlink", () => {
  withTmpfs((vfs, ctx) => {
    const f = vfs.openAt(ctx, vfs.root(), "/big", O_WRONLY | O_CREAT, 0o644);
    try {
      assert.equal(f.write(new Uint8Array(10000), null), 8192);
      assert.throws(() => f.write(new Uint8Array(1), null), ENOSPC);
    } finally {
      f.decRef();
    }
    vfs.unlinkAt(ctx, vfs.root(), "/big");
    writeFile(vfs, ctx, "/small", "fits");
    assert.equal(readFile(vfs, ctx, "/small"), "fits");
  }, 8192);
});

Deno.test("tmpfs moves directory times on create and file times on write", () => {
  withTmpfs((vfs, ctx) => {
    const root = vfs.root();
    vfs.mkdirAt(ctx, root, "/d", 0o755);
    vfs.utimes(ctx, vfs.resolve(ctx, root, "/d", { follow: true }), 1_000_000_000n, 1_000_000_000n);
    writeFile(vfs, ctx, "/d/f", "x");
    assert.ok(stat(vfs, ctx, "/d").mtimeNs > 1_000_000_000n);
    const loc = vfs.resolve(ctx, root, "/d/f", { follow: true });
    vfs.utimes(ctx, loc, 5n, 7n);
    assert.equal(stat(vfs, ctx, "/d/f").mtimeNs, 7n);
    assert.equal(stat(vfs, ctx, "/d/f").atimeNs, 5n);
    writeFile(vfs, ctx, "/d/f", "y", O_APPEND);
    assert.ok(stat(vfs, ctx, "/d/f").mtimeNs > 7n);
    // relatime: a read moves an atime older than mtime.
    readFile(vfs, ctx, "/d/f");
    assert.ok(stat(vfs, ctx, "/d/f").atimeNs > 5n);
  });
});

Deno.test("rename replaces files, exchanges two names and refuses a non-empty directory target", () => {
  withTmpfs((vfs, ctx) => {
    const root = vfs.root();
    writeFile(vfs, ctx, "/a", "A");
    writeFile(vfs, ctx, "/b", "B");
    vfs.renameAt(ctx, root, "/a", root, "/b", RENAME_EXCHANGE);
    assert.equal(readFile(vfs, ctx, "/a"), "B");
    vfs.renameAt(ctx, root, "/a", root, "/b", 0);
    assert.equal(readFile(vfs, ctx, "/b"), "B");
    assert.throws(() => stat(vfs, ctx, "/a"), ENOENT);
    vfs.mkdirAt(ctx, root, "/d", 0o755);
    vfs.mkdirAt(ctx, root, "/e", 0o755);
    writeFile(vfs, ctx, "/e/x", "");
    assert.throws(() => vfs.renameAt(ctx, root, "/d", root, "/e", 0), ENOTEMPTY);
    vfs.renameAt(ctx, root, "/e", root, "/d", 0);
    assert.equal(readFile(vfs, ctx, "/d/x"), "");
    // An open file follows its dentry.
    const f = vfs.openAt(ctx, root, "/d/x", O_RDONLY, 0);
    vfs.renameAt(ctx, root, "/d", root, "/moved", 0);
    assert.equal(f.path(), "/moved/x");
    f.decRef();
  });
});

Deno.test("the sticky bit and directory permissions guard removal; FIFOs are created by mknod", () => {
  withTmpfs((vfs, ctx) => {
    const root = vfs.root();
    const user = { root, creds: new Credentials(1000, 1000) };
    vfs.mkdirAt(ctx, root, "/tmp", 0o777);
    vfs.chmod(ctx, vfs.resolve(ctx, root, "/tmp", { follow: true }), 0o1777);
    writeFile(vfs, ctx, "/tmp/roots", "r");
    assert.throws(() => vfs.unlinkAt(user, root, "/tmp/roots"), EPERM);
    vfs.mknodAt(user, root, "/tmp/fifo", S_IFIFO | 0o600, 0);
    assert.equal(stat(vfs, ctx, "/tmp/fifo").uid, 1000);
    vfs.unlinkAt(user, root, "/tmp/fifo");
    vfs.mkdirAt(ctx, root, "/private", 0o755);
    assert.throws(() => vfs.mkdirAt(user, root, "/private/x", 0o755), EACCES);
    assert.throws(() => vfs.chmod(user, vfs.resolve(ctx, root, "/private", { follow: true }), 0o777), EPERM);
  });
});

Deno.test("user extended attributes are kept; other namespaces are refused", () => {
  withTmpfs((vfs, ctx) => {
    writeFile(vfs, ctx, "/f", "");
    const loc = vfs.resolve(ctx, vfs.root(), "/f", { follow: true });
    vfs.setxattr(ctx, loc, "user.k", enc.encode("v"), 0);
    assert.throws(() => vfs.setxattr(ctx, loc, "user.k", enc.encode("w"), XATTR_CREATE), EEXIST);
    assert.equal(dec.decode(vfs.getxattr(ctx, loc, "user.k")), "v");
    assert.deepEqual(vfs.listxattr(ctx, loc), ["user.k"]);
    assert.throws(() => vfs.setxattr(ctx, loc, "os2.k", enc.encode("v"), 0), EOPNOTSUPP);
    vfs.removexattr(ctx, loc, "user.k");
    assert.throws(() => vfs.getxattr(ctx, loc, "user.k"), ENODATA);
  });
});
