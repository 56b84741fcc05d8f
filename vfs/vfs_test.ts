import assert from "node:assert/strict";
import {
  EACCES, EBADF, EEXIST, EINVAL, EISDIR, ELOOP, ENOENT, ENOTDIR, EROFS, ENXIO,
} from "../kernel/errno.ts";
import { Credentials } from "../kernel/creds.ts";
import {
  AT_EACCESS, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, DT_DIR, DT_LNK, DT_REG, O_CLOEXEC, O_CREAT,
  O_DIRECTORY, O_EXCL, O_LARGEFILE, O_NOFOLLOW, O_PATH, O_RDONLY, O_RDWR, O_TMPFILE, O_TRUNC,
  O_WRONLY, R_OK, S_IFDIR, S_IFLNK, S_IFMT, SEEK_CUR, SEEK_END, SEEK_SET, W_OK, X_OK,
} from "../abi/linux/file.ts";
import type { DirEntry, FileDescription } from "./file_description.ts";
import { HostFilesystem } from "./hostfs/hostfs.ts";
import { NOBODY, withTree } from "./_test_tree.ts";

const decoder = new TextDecoder();

function readAll(f: FileDescription): string {
  const buf = new Uint8Array(4096);
  const n = f.read(buf, null);
  return decoder.decode(buf.subarray(0, n));
}

function listing(f: FileDescription): DirEntry[] {
  const out: DirEntry[] = [];
  f.readdir(0, (e) => {
    out.push(e);
    return true;
  });
  return out;
}

Deno.test("openAt() opens a regular file whose reads, pread and lseek work", () => {
  withTree(({ vfs, ctx }) => {
    const f = vfs.openAt(ctx, vfs.root(), "/etc/passwd", O_RDONLY | O_CLOEXEC, 0);
    try {
      assert.equal(f.flags, O_RDONLY | O_LARGEFILE);
      assert.equal(f.path(), "/etc/passwd");
      assert.equal(f.location()?.path(), "/etc/passwd");
      assert.equal(readAll(f), "root:x:0:0::/root:/bin/sh\n");
      assert.equal(f.read(new Uint8Array(10), null), 0);
      const b = new Uint8Array(4);
      assert.equal(f.read(b, 5), 4);
      assert.equal(decoder.decode(b), "x:0:");
      assert.equal(f.seek(0, SEEK_END), 26);
      assert.equal(f.seek(-7, SEEK_CUR), 19);
      assert.equal(readAll(f), "bin/sh\n");
      assert.throws(() => f.seek(-1, SEEK_SET), (e) => e === EINVAL);
      assert.throws(() => f.read(b, -1), (e) => e === EINVAL);
      assert.notEqual(f.hostFdForMmap(), null);
      assert.equal(f.stat().size, 26);
    } finally {
      f.decRef();
    }
  });
});

Deno.test("openAt() refuses to write or create on the read-only root", () => {
  withTree(({ vfs, ctx }) => {
    const root = vfs.root();
    for (const flags of [O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC]) {
      assert.throws(() => vfs.openAt(ctx, root, "etc/passwd", flags, 0), (e) => e === EROFS);
    }
    assert.throws(() => vfs.openAt(ctx, root, "etc/new", O_CREAT | O_WRONLY, 0o644), (e) => e === EROFS);
    assert.throws(() => vfs.openAt(ctx, root, "etc/passwd", O_CREAT | O_EXCL | O_WRONLY, 0), (e) => e === EEXIST);
    assert.throws(() => vfs.openAt(ctx, root, "passwd_link", O_CREAT | O_EXCL, 0), (e) => e === EEXIST);
    assert.throws(() => vfs.openAt(ctx, root, "nodir/new", O_CREAT | O_WRONLY, 0), (e) => e === ENOENT);
    assert.throws(() => vfs.openAt(ctx, root, "etc/new/", O_CREAT, 0), (e) => e === EISDIR);
    assert.throws(() => vfs.openAt(ctx, root, "etc", O_CREAT, 0), (e) => e === EISDIR);
    assert.throws(() => vfs.openAt(ctx, root, "etc", O_WRONLY, 0), (e) => e === EISDIR);
    assert.throws(() => vfs.openAt(ctx, root, "etc", O_TMPFILE | O_RDWR, 0), (e) => e === EROFS);
    assert.throws(() => vfs.openAt(ctx, root, "etc", O_TMPFILE | O_RDONLY, 0), (e) => e === EINVAL);
    assert.throws(() => vfs.openAt(ctx, root, "etc", O_CREAT | O_DIRECTORY, 0), (e) => e === EINVAL);
    // O_CREAT of an existing file for reading is fine.
    vfs.openAt(ctx, root, "etc/passwd", O_CREAT | O_RDONLY, 0).decRef();
  });
});

Deno.test("openAt() honours O_NOFOLLOW, O_DIRECTORY and O_PATH", () => {
  withTree(({ vfs, ctx }) => {
    const root = vfs.root();
    assert.throws(() => vfs.openAt(ctx, root, "passwd_link", O_RDONLY | O_NOFOLLOW, 0), (e) => e === ELOOP);
    assert.throws(() => vfs.openAt(ctx, root, "etc/passwd", O_RDONLY | O_DIRECTORY, 0), (e) => e === ENOTDIR);
    assert.throws(() => vfs.openAt(ctx, root, "passwd_link/", O_RDONLY, 0), (e) => e === ENOTDIR);
    // O_NOFOLLOW only concerns the last component.
    vfs.openAt(ctx, root, "bin/sh", O_RDONLY | O_NOFOLLOW, 0).decRef();

    const p = vfs.openAt(ctx, root, "passwd_link", O_PATH | O_NOFOLLOW | O_WRONLY | O_TRUNC, 0);
    try {
      assert.equal(p.flags, O_PATH | O_NOFOLLOW);
      assert.equal((p.stat().mode & S_IFMT), S_IFLNK);
      assert.equal(p.location()?.path(), "/passwd_link");
      assert.equal(p.readable, false);
      assert.throws(() => p.read(new Uint8Array(1), null), (e) => e === EBADF);
      assert.throws(() => p.readdir(0, () => true), (e) => e === EBADF);
    } finally {
      p.decRef();
    }
    const d = vfs.openAt(ctx, root, "etc", O_PATH | O_DIRECTORY, 0);
    assert.equal(d.location()?.isDir, true);
    d.decRef();
    assert.throws(() => vfs.openAt(ctx, root, "etc/passwd", O_PATH | O_DIRECTORY, 0), (e) => e === ENOTDIR);
    // O_PATH needs no permission on the file, only search on the way.
    const nobody = { root, creds: NOBODY };
    vfs.openAt(nobody, root, "secret", O_PATH, 0).decRef();
    assert.throws(() => vfs.openAt(nobody, root, "secret", O_RDONLY, 0), (e) => e === EACCES);
  });
});

Deno.test("openAt() checks read permission from the mode bits, owner and groups", () => {
  withTree(({ root: hostRoot, vfs, ctx }) => {
    Deno.chmodSync(`${hostRoot}/etc/passwd`, 0o640);
    Deno.chownSync(`${hostRoot}/etc/passwd`, 0, 42);
    const root = vfs.root();
    const member = new Credentials(12345, 12345, 12345, 12345, 12345, 12345, 12345, 12345, [42]);
    vfs.openAt({ root, creds: member }, root, "etc/passwd", O_RDONLY, 0).decRef();
    assert.throws(() => vfs.openAt({ root, creds: NOBODY }, root, "etc/passwd", O_RDONLY, 0), (e) => e === EACCES);
    vfs.openAt(ctx, root, "etc/passwd", O_RDONLY, 0).decRef(); // root overrides
  });
});

Deno.test("openAt() of host FIFOs and sockets is refused without blocking", () => {
  withTree(({ root: hostRoot, vfs, ctx }) => {
    new Deno.Command("mkfifo", { args: [`${hostRoot}/fifo`] }).outputSync();
    assert.throws(() => vfs.openAt(ctx, vfs.root(), "fifo", O_RDONLY, 0), (e) => e === EACCES || e === ENXIO);
  });
});

Deno.test("statAt() reports the host's attributes and lstat semantics", () => {
  withTree(({ root: hostRoot, vfs, ctx }) => {
    const root = vfs.root();
    const st = vfs.statAt(ctx, root, "etc/passwd", { follow: true, emptyPath: false });
    const host = Deno.statSync(`${hostRoot}/etc/passwd`);
    assert.equal(st.ino, host.ino);
    assert.equal(st.dev, host.dev);
    assert.equal(st.size, 26);
    assert.equal(st.mode, host.mode);
    assert.equal(st.nlink, 1);
    assert.equal(st.uid, host.uid);
    assert.equal(Number(st.mtimeNs / 1_000_000n), host.mtime?.getTime());
    assert.equal(vfs.statAt(ctx, root, "passwd_link", { follow: true, emptyPath: false }).ino, host.ino);
    const l = vfs.statAt(ctx, root, "passwd_link", { follow: false, emptyPath: false });
    assert.equal(l.mode & S_IFMT, S_IFLNK);
    assert.equal(l.size, "etc/passwd".length);
    const etc = vfs.statAt(ctx, root, "etc", { follow: true, emptyPath: false });
    assert.equal(etc.mode & S_IFMT, S_IFDIR);
    // Empty paths: the start directory itself with AT_EMPTY_PATH, ENOENT without.
    const usr = vfs.lookupDir(ctx, root, "usr");
    assert.equal(vfs.statAt(ctx, usr, "", { follow: true, emptyPath: true }).ino, Deno.statSync(`${hostRoot}/usr`).ino);
    assert.throws(() => vfs.statAt(ctx, usr, "", { follow: true, emptyPath: false }), (e) => e === ENOENT);
  });
});

Deno.test("readlinkAt() returns symlink targets and EINVAL for other files", () => {
  withTree(({ vfs, ctx }) => {
    const root = vfs.root();
    assert.equal(vfs.readlinkAt(ctx, root, "abs"), "/etc");
    assert.equal(vfs.readlinkAt(ctx, root, "escape"), "../../../..");
    assert.throws(() => vfs.readlinkAt(ctx, root, "etc"), (e) => e === EINVAL);
    assert.throws(() => vfs.readlinkAt(ctx, root, "abs/"), (e) => e === EINVAL);
    assert.throws(() => vfs.readlinkAt(ctx, root, ""), (e) => e === ENOENT);
    const link = vfs.openAt(ctx, root, "abs", O_PATH | O_NOFOLLOW, 0);
    assert.equal(vfs.readlinkAt(ctx, link.location()!, ""), "/etc");
    link.decRef();
  });
});

Deno.test("accessAt() checks real or effective ids and reports EROFS for W_OK", () => {
  withTree(({ vfs, ctx }) => {
    const root = vfs.root();
    vfs.accessAt(ctx, root, "usr/bin/sh", X_OK | R_OK, 0);
    vfs.accessAt(ctx, root, "dangling", 0, AT_SYMLINK_NOFOLLOW);
    assert.throws(() => vfs.accessAt(ctx, root, "dangling", 0, 0), (e) => e === ENOENT);
    assert.throws(() => vfs.accessAt(ctx, root, "usr/bin/noexec", X_OK, 0), (e) => e === EACCES);
    assert.throws(() => vfs.accessAt(ctx, root, "etc/passwd", W_OK, 0), (e) => e === EROFS);
    // Effective root, real nobody: access() uses the real ids unless AT_EACCESS.
    const setuid = new Credentials(12345, 12345, 0, 0, 0, 0, 0, 0);
    const sctx = { root, creds: setuid };
    assert.throws(() => vfs.accessAt(sctx, root, "secret/key", R_OK, 0), (e) => e === EACCES);
    vfs.accessAt(sctx, root, "secret/key", R_OK, AT_EACCESS);
    const usr = vfs.lookupDir(ctx, root, "usr");
    vfs.accessAt(ctx, usr, "", R_OK, AT_EMPTY_PATH);
  });
});

Deno.test("lookupDir() and checkChdir() need a searchable directory", () => {
  withTree(({ vfs, ctx }) => {
    const root = vfs.root();
    assert.equal(vfs.lookupDir(ctx, root, "bin").path(), "/usr/bin");
    assert.throws(() => vfs.lookupDir(ctx, root, "etc/passwd"), (e) => e === ENOTDIR);
    assert.throws(() => vfs.lookupDir(ctx, root, "nothing"), (e) => e === ENOENT);
    assert.throws(() => vfs.lookupDir({ root, creds: NOBODY }, root, "secret"), (e) => e === EACCES);
  });
});

Deno.test("openExecutable() opens executable regular files for reading and mmap", () => {
  withTree(({ root: hostRoot, vfs, ctx }) => {
    const root = vfs.root();
    const exe = vfs.openExecutable(ctx, root, "/bin/sh");
    try {
      assert.equal(exe.location.path(), "/usr/bin/sh");
      assert.equal(exe.hostPath, `${hostRoot}/usr/bin/sh`);
      assert.notEqual(exe.file.hostFdForMmap(), null);
      const b = new Uint8Array(4);
      assert.equal(exe.file.read(b, 0), 4);
      assert.equal(decoder.decode(b), "#!sh");
    } finally {
      exe.file.decRef();
    }
    assert.throws(() => vfs.openExecutable(ctx, root, "/usr/bin/noexec"), (e) => e === EACCES);
    assert.throws(() => vfs.openExecutable(ctx, root, "/usr/bin"), (e) => e === EACCES);
    assert.throws(() => vfs.openExecutable(ctx, root, "/usr/bin/none"), (e) => e === ENOENT);
    // Execute-only files can be executed (and so read by the loader).
    Deno.chmodSync(`${hostRoot}/usr/bin/sh`, 0o111);
    vfs.openExecutable({ root, creds: NOBODY }, root, "/bin/sh").file.decRef();
  });
});

Deno.test("readdir() lists '.', '..' and the children with types, resumable by cookie", () => {
  withTree(({ root: hostRoot, vfs, ctx }) => {
    const root = vfs.root();
    const f = vfs.openAt(ctx, root, "/", O_RDONLY | O_DIRECTORY, 0);
    try {
      const all = listing(f);
      assert.deepEqual(all.slice(0, 2).map((e) => e.name), [".", ".."]);
      const byName = new Map(all.map((e) => [e.name, e]));
      assert.equal(byName.get("etc")?.type, DT_DIR);
      assert.equal(byName.get("abs")?.type, DT_LNK);
      assert.equal(byName.get(".")?.ino, Deno.statSync(hostRoot).ino);
      // At the root, ".." is the root itself, not the host's parent.
      assert.equal(byName.get("..")?.ino, Deno.statSync(hostRoot).ino);
      const names = all.map((e) => e.name).sort();
      const host = [...Deno.readDirSync(hostRoot)].map((e) => e.name);
      assert.deepEqual(names, [".", "..", ...host].sort());
      // Two entries at a time, continuing from the returned cookie.
      const seen: string[] = [];
      let cookie = 0;
      for (;;) {
        let n = 0;
        const next = f.readdir(cookie, (e) => {
          if (n === 2) return false;
          n++;
          seen.push(e.name);
          return true;
        });
        if (next === cookie) break;
        cookie = next;
      }
      assert.deepEqual(seen, all.map((e) => e.name));
      assert.throws(() => f.read(new Uint8Array(1), null), (e) => e === EISDIR);
    } finally {
      f.decRef();
    }
    const etc = vfs.openAt(ctx, root, "etc", O_RDONLY, 0);
    const e = listing(etc);
    assert.deepEqual(e.map((x) => [x.name, x.type]), [[".", DT_DIR], ["..", DT_DIR], ["passwd", DT_REG]]);
    assert.equal(e[1]?.ino, Deno.statSync(hostRoot).ino);
    etc.decRef();
    const file = vfs.openAt(ctx, root, "etc/passwd", O_RDONLY, 0);
    assert.throws(() => file.readdir(0, () => true), (e) => e === ENOTDIR);
    file.decRef();
  });
});

Deno.test("mount() grafts a filesystem: walks cross into it and '..' climbs back out", () => {
  withTree(({ base, vfs, ctx }) => {
    const root = vfs.root();
    const other = HostFilesystem.open(`${base}/outside`);
    const mnt = vfs.lookupDir(ctx, root, "mnt");
    const m = vfs.mount(mnt, other, { readonly: true });
    const secret = vfs.statAt(ctx, root, "/mnt/secret", { follow: true, emptyPath: false });
    assert.equal(secret.ino, Deno.statSync(`${base}/outside/secret`).ino);
    const inside = vfs.lookupDir(ctx, root, "/mnt");
    assert.equal(inside.mount, m);
    assert.equal(inside.path(), "/mnt");
    assert.equal(vfs.lookupDir(ctx, inside, "..").path(), "/");
    assert.equal(vfs.lookupDir(ctx, root, "/mnt/../etc").path(), "/etc");
    const f = vfs.openAt(ctx, root, "/mnt/secret", O_RDONLY, 0);
    assert.equal(f.path(), "/mnt/secret");
    assert.equal(readAll(f), "host secret\n");
    f.decRef();
    // A chroot inside the mount cannot climb out of it.
    const jail = { root: inside, creds: ctx.creds };
    assert.ok(vfs.lookupDir(jail, inside, "../..").equals(inside));
    assert.equal(vfs.mounts().length, 2);
  });
});
