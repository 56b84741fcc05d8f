import assert from "node:assert/strict";
import { EBUSY, EEXIST, EINVAL, ELOOP, ENOENT, ENOTDIR, EOPNOTSUPP, ESTALE, EROFS, LinuxError } from "../../kernel/errno.ts";
import { Credentials } from "../../kernel/creds.ts";
import { O_APPEND, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, S_IFIFO } from "../../abi/linux/file.ts";
import { VirtualFilesystem } from "../vfs.ts";
import { HostFilesystem } from "./hostfs.ts";
import { hostFds } from "../host_fds.ts";
import type { PathContext } from "../path_walk.ts";

const enc = new TextEncoder(), dec = new TextDecoder();

/** A writable hostfs over <tmp>/root, with <tmp>/outside/secret beside it. */
function withWritable(fn: (t: { base: string; root: string; vfs: VirtualFilesystem; ctx: PathContext }) => void): void {
  const base = Deno.makeTempDirSync({ prefix: "sentry_hostfs_" });
  const root = `${base}/root`;
  Deno.mkdirSync(`${root}/d`, { recursive: true });
  Deno.mkdirSync(`${base}/outside`);
  Deno.writeTextFileSync(`${base}/outside/secret`, "host secret\n");
  Deno.chmodSync(`${base}/outside/secret`, 0o600);
  Deno.writeTextFileSync(`${root}/f`, "old\n");
  const vfs = VirtualFilesystem.withRoot(HostFilesystem.open(root, { writable: true }));
  try {
    fn({ base, root, vfs, ctx: { root: vfs.root(), creds: Credentials.root() } });
  } finally {
    vfs.release();
    Deno.removeSync(base, { recursive: true });
  }
}

function write(vfs: VirtualFilesystem, ctx: PathContext, path: string, data: string, flags = O_WRONLY | O_CREAT | O_TRUNC): void {
  const f = vfs.openAt(ctx, vfs.root(), path, flags, 0o644);
  try {
    f.write(enc.encode(data), null);
  } finally {
    f.decRef();
  }
}

function read(vfs: VirtualFilesystem, ctx: PathContext, path: string): string {
  const f = vfs.openAt(ctx, vfs.root(), path, O_RDONLY, 0);
  try {
    const b = new Uint8Array(4096);
    return dec.decode(b.subarray(0, f.read(b, null)));
  } finally {
    f.decRef();
  }
}

/** The host directory outside the root is exactly as the helper made it. */
function assertOutsideUntouched(base: string): void {
  const names = [...Deno.readDirSync(`${base}/outside`)].map((e) => e.name);
  assert.deepEqual(names, ["secret"]);
  assert.equal(Deno.readTextFileSync(`${base}/outside/secret`), "host secret\n");
  assert.equal(Deno.statSync(`${base}/outside/secret`).mode! & 0o7777, 0o600);
}

Deno.test("a read-only hostfs refuses every change with EROFS", () => {
  const base = Deno.makeTempDirSync({ prefix: "sentry_hostfs_" });
  const vfs = VirtualFilesystem.withRoot(HostFilesystem.open(base));
  try {
    const ctx = { root: vfs.root(), creds: Credentials.root() };
    assert.throws(() => vfs.mkdirAt(ctx, vfs.root(), "x", 0o755), EROFS);
    assert.throws(() => vfs.openAt(ctx, vfs.root(), "x", O_WRONLY | O_CREAT, 0o644), EROFS);
    assert.deepEqual([...Deno.readDirSync(base)], []);
  } finally {
    vfs.release();
    Deno.removeSync(base, { recursive: true });
  }
});

Deno.test("a writable hostfs creates, writes, appends, links, renames and removes files on the host", () => {
  withWritable(({ root, vfs, ctx }) => {
    const r = vfs.root();
    vfs.mkdirAt(ctx, r, "d/sub", 0o750);
    write(vfs, ctx, "d/sub/a", "hello ");
    write(vfs, ctx, "d/sub/a", "world\n", O_WRONLY | O_APPEND);
    assert.equal(Deno.readTextFileSync(`${root}/d/sub/a`), "hello world\n");
    assert.equal(Deno.statSync(`${root}/d/sub`).mode! & 0o7777, 0o750);
    assert.equal(Deno.statSync(`${root}/d/sub/a`).mode! & 0o7777, 0o644);
    vfs.linkAt(ctx, vfs.resolve(ctx, r, "d/sub/a", { follow: false }), r, "hard");
    assert.equal(Deno.statSync(`${root}/hard`).nlink, 2);
    vfs.symlinkAt(ctx, "d/sub/a", r, "sym");
    assert.equal(Deno.readLinkSync(`${root}/sym`), "d/sub/a");
    assert.equal(read(vfs, ctx, "sym"), "hello world\n");
    vfs.renameAt(ctx, r, "d/sub", r, "moved", 0);
    assert.equal(read(vfs, ctx, "moved/a"), "hello world\n");
    assert.throws(() => Deno.statSync(`${root}/d/sub`));
    // The moved directory's held descriptor still works: a create lands in the new place.
    write(vfs, ctx, "moved/b", "b");
    assert.equal(Deno.readTextFileSync(`${root}/moved/b`), "b");
    assert.throws(() => vfs.mkdirAt(ctx, r, "moved", 0o755), EEXIST);
    vfs.unlinkAt(ctx, r, "moved/a");
    vfs.unlinkAt(ctx, r, "moved/b");
    vfs.rmdirAt(ctx, r, "moved");
    assert.throws(() => Deno.statSync(`${root}/moved`));
    assert.throws(() => vfs.statAt(ctx, r, "moved", { follow: false, emptyPath: false }), ENOENT);
    assert.equal(Deno.readTextFileSync(`${root}/hard`), "hello world\n");
  });
});

Deno.test("a writable hostfs sets owners, modes, times and sizes, and stat reports them", () => {
  withWritable(({ root, vfs, ctx }) => {
    const r = vfs.root();
    const f = vfs.resolve(ctx, r, "f", { follow: false });
    vfs.chown(ctx, f, 1234, 5678);
    vfs.chmod(ctx, f, 0o4751);
    vfs.truncate(ctx, f, 2);
    vfs.utimes(ctx, f, 1_000_000_000_000_000_000n, 2_000_000_000_000_000_000n);
    const st = vfs.statAt(ctx, r, "f", { follow: false, emptyPath: false });
    assert.equal(st.uid, 1234);
    assert.equal(st.gid, 5678);
    assert.equal(st.mode & 0o7777, 0o751); // set-user-ID never reaches a host file
    assert.equal(st.atimeNs, 1_000_000_000_000_000_000n);
    assert.equal(st.mtimeNs, 2_000_000_000_000_000_000n);
    assert.equal(st.size, 2);
    const host = Deno.statSync(`${root}/f`);
    assert.equal(host.uid, 1234);
    assert.equal(host.mode! & 0o7777, 0o751);
    assert.equal(Deno.readTextFileSync(`${root}/f`), "ol");
    // A new file gets the caller's owner, the mode given (no host umask).
    const user = { root: r, creds: new Credentials(1000, 1000) };
    vfs.chmod(ctx, vfs.resolve(ctx, r, "d", { follow: false }), 0o777);
    const n = vfs.openAt(user, r, "d/mine", O_RDWR | O_CREAT, 0o666);
    n.decRef();
    const mine = Deno.statSync(`${root}/d/mine`);
    assert.deepEqual([mine.uid, mine.gid, mine.mode! & 0o7777], [1000, 1000, 0o666]);
  });
});

Deno.test("a FIFO made in a writable hostfs is an in-sentry pipe", () => {
  withWritable(({ root, vfs, ctx }) => {
    vfs.mknodAt(ctx, vfs.root(), "fifo", S_IFIFO | 0o600, 0);
    assert.ok(Deno.lstatSync(`${root}/fifo`).isFifo);
    const rd = vfs.openAt(ctx, vfs.root(), "fifo", O_RDWR, 0);
    rd.write(enc.encode("through"), null);
    const b = new Uint8Array(16);
    assert.equal(dec.decode(b.subarray(0, rd.read(b, null))), "through");
    rd.decRef();
  });
});

// The sandbox cannot race its own synchronous calls, but something on the host could swap a
// name between two of them. These tests do that swap between two VFS calls.

Deno.test("a directory swapped for a symlink to the outside before it is searched makes creates fail", () => {
  withWritable(({ base, root, vfs, ctx }) => {
    const r = vfs.root();
    // The walk caches "d" as a directory, without searching it yet.
    assert.ok(vfs.statAt(ctx, r, "d", { follow: false, emptyPath: false }).mode & 0o40000);
    Deno.renameSync(`${root}/d`, `${root}/d_moved`);
    Deno.symlinkSync(`${base}/outside`, `${root}/d`);
    assert.throws(() => write(vfs, ctx, "d/planted", "x"), (e) => e === ENOTDIR || e === ELOOP);
    assert.throws(() => vfs.mkdirAt(ctx, r, "d/planted_dir", 0o755), (e) => e instanceof LinuxError);
    assert.throws(() => vfs.symlinkAt(ctx, "x", r, "d/planted_link"), (e) => e instanceof LinuxError);
    assertOutsideUntouched(base);
  });
});

Deno.test("a searched directory swapped for a symlink keeps taking writes where it really is", () => {
  withWritable(({ base, root, vfs, ctx }) => {
    const r = vfs.root();
    write(vfs, ctx, "d/first", "1");
    Deno.renameSync(`${root}/d`, `${root}/d_moved`);
    Deno.symlinkSync(`${base}/outside`, `${root}/d`);
    write(vfs, ctx, "d/second", "2");
    vfs.renameAt(ctx, r, "d/first", r, "d/renamed", 0);
    vfs.unlinkAt(ctx, r, "d/renamed");
    assert.equal(Deno.readTextFileSync(`${root}/d_moved/second`), "2");
    assertOutsideUntouched(base);
  });
});

Deno.test("a file swapped for a symlink to a host secret is neither written, truncated nor chmodded", () => {
  withWritable(({ base, root, vfs, ctx }) => {
    const r = vfs.root();
    const f = vfs.resolve(ctx, r, "f", { follow: false });
    Deno.removeSync(`${root}/f`);
    Deno.symlinkSync(`${base}/outside/secret`, `${root}/f`);
    assert.throws(() => vfs.openAt(ctx, r, "f", O_WRONLY, 0), ELOOP);
    assert.throws(() => vfs.openAt(ctx, r, "f", O_RDONLY, 0), ELOOP);
    assert.throws(() => vfs.truncate(ctx, f, 0), ELOOP);
    assert.throws(() => vfs.chmod(ctx, f, 0o777), (e) => e === EOPNOTSUPP || e === ELOOP || e === ENOENT);
    assert.throws(() => vfs.utimes(ctx, f, 0n, 0n), ENOENT);
    // Linking the name links the symlink itself, never its target.
    vfs.linkAt(ctx, f, r, "f2");
    assert.ok(Deno.lstatSync(`${root}/f2`).isSymlink);
    assertOutsideUntouched(base);
  });
});

/** The sentry's open descriptors now (from /proc/self/fd). */
function openFdCount(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

Deno.test("hostfs keeps at most its cache's worth of directory descriptors and re-walks evicted ones", () => {
  const base = Deno.makeTempDirSync({ prefix: "sentry_hostfs_" });
  // 40 directories of 5 levels each: 200 directories, more than the cache of 8 holds.
  for (let i = 0; i < 40; i++) {
    Deno.mkdirSync(`${base}/t${i}/a/b/c/d`, { recursive: true });
    Deno.writeTextFileSync(`${base}/t${i}/a/b/c/d/f`, `file ${i}\n`);
  }
  const fs = HostFilesystem.open(base);
  fs.dirFds.cap = 8;
  const vfs = VirtualFilesystem.withRoot(fs);
  try {
    const ctx = { root: vfs.root(), creds: Credentials.root() };
    const before = openFdCount();
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 40; i++) {
        hostFds.beginOperation();
        assert.equal(read(vfs, ctx, `/t${i}/a/b/c/d/f`), `file ${i}\n`);
        assert.ok(fs.dirFds.size <= 8 + 5, `cache holds ${fs.dirFds.size}`);
      }
    }
    hostFds.beginOperation();
    assert.equal(read(vfs, ctx, "/t0/a/b/c/d/f"), "file 0\n");
    assert.ok(fs.dirFds.size <= 8, `cache holds ${fs.dirFds.size}`);
    assert.ok(openFdCount() - before <= 8, `${openFdCount() - before} more descriptors`);
    // Everything walked so far is cached as dentries: getdents of an evicted directory re-opens it.
    const dir = vfs.openAt(ctx, vfs.root(), "/t1/a/b", O_RDONLY, 0);
    try {
      assert.deepEqual(dir.stat().ino, Deno.statSync(`${base}/t1/a/b`).ino);
    } finally {
      dir.decRef();
    }
  } finally {
    vfs.release();
    Deno.removeSync(base, { recursive: true });
  }
});

Deno.test("an evicted directory replaced on the host is ESTALE, a symlink in its place never followed", () => {
  const base = Deno.makeTempDirSync({ prefix: "sentry_hostfs_" });
  const root = `${base}/root`;
  for (let i = 0; i < 4; i++) Deno.mkdirSync(`${root}/pad${i}/x`, { recursive: true });
  Deno.mkdirSync(`${root}/d/e`, { recursive: true });
  Deno.mkdirSync(`${root}/s/e`, { recursive: true });
  Deno.writeTextFileSync(`${root}/d/e/f`, "in\n");
  Deno.writeTextFileSync(`${root}/s/e/f`, "in s\n");
  Deno.mkdirSync(`${base}/outside/e`, { recursive: true });
  Deno.writeTextFileSync(`${base}/outside/e/f`, "host secret\n");
  const fs = HostFilesystem.open(root);
  fs.dirFds.cap = 1;
  const vfs = VirtualFilesystem.withRoot(fs);
  try {
    const ctx = { root: vfs.root(), creds: Credentials.root() };
    hostFds.beginOperation();
    assert.equal(read(vfs, ctx, "/d/e/f"), "in\n");
    hostFds.beginOperation();
    assert.equal(read(vfs, ctx, "/s/e/f"), "in s\n");
    // Walking other directories evicts d, d/e, s and s/e.
    for (let i = 0; i < 4; i++) {
      hostFds.beginOperation();
      vfs.statAt(ctx, vfs.root(), `/pad${i}/x/.`, { follow: true, emptyPath: false });
    }
    // d is replaced by another directory, s by a symlink leading outside the root.
    Deno.renameSync(`${root}/d`, `${root}/old`);
    Deno.mkdirSync(`${root}/d/e`, { recursive: true });
    Deno.writeTextFileSync(`${root}/d/e/f`, "replaced\n");
    Deno.renameSync(`${root}/s`, `${root}/old_s`);
    Deno.symlinkSync(`${base}/outside`, `${root}/s`);
    hostFds.beginOperation();
    assert.throws(() => read(vfs, ctx, "/d/e/f"), (e) => e === ESTALE);
    hostFds.beginOperation();
    assert.throws(
      () => read(vfs, ctx, "/s/e/f"),
      (e) => e === ELOOP || e === ENOTDIR,
    );
  } finally {
    vfs.release();
    Deno.removeSync(base, { recursive: true });
  }
});

Deno.test("a single-file hostfs mounted on a file: read and written through, ro refused with EROFS, never followed", () => {
  const base = Deno.makeTempDirSync({ prefix: "sentry_hostfs_" });
  const root = `${base}/root`;
  Deno.mkdirSync(`${root}/etc`, { recursive: true });
  Deno.writeTextFileSync(`${root}/etc/hosts`, "rootfs hosts\n");
  Deno.writeTextFileSync(`${root}/etc/hostname`, "rootfs name\n");
  Deno.mkdirSync(`${base}/outside`);
  Deno.writeTextFileSync(`${base}/outside/secret`, "host secret\n");
  Deno.chmodSync(`${base}/outside/secret`, 0o600);
  Deno.writeTextFileSync(`${base}/hosts`, "127.0.0.1 localhost\n");
  Deno.writeTextFileSync(`${base}/hostname`, "box\n");
  const vfs = VirtualFilesystem.withRoot(HostFilesystem.open(root, { writable: true }));
  const rw = HostFilesystem.openFile(`${base}/hosts`, { writable: true });
  const ro = HostFilesystem.openFile(`${base}/hostname`);
  try {
    const ctx = { root: vfs.root(), creds: Credentials.root() };
    const at = (p: string) => vfs.resolve(ctx, vfs.root(), p, { follow: true });
    vfs.mount(at("/etc/hosts"), rw, { readonly: false });
    vfs.mount(at("/etc/hostname"), ro, { readonly: true });
    // A file cannot cover a directory, nor a directory a file.
    const file = HostFilesystem.openFile(`${base}/hosts`), dir = HostFilesystem.open(`${base}/outside`);
    assert.throws(() => vfs.mount(at("/etc"), file, { readonly: true }), (e) => e === ENOTDIR);
    assert.throws(() => vfs.mount(at("/etc/hosts"), dir, { readonly: true }), (e) => e === ENOTDIR);
    file.release();
    dir.release();

    assert.equal(read(vfs, ctx, "/etc/hosts"), "127.0.0.1 localhost\n");
    assert.equal(read(vfs, ctx, "/etc/hostname"), "box\n");
    write(vfs, ctx, "/etc/hosts", "10.0.0.1 db\n", O_WRONLY | O_APPEND);
    assert.equal(Deno.readTextFileSync(`${base}/hosts`), "127.0.0.1 localhost\n10.0.0.1 db\n");
    assert.equal(Deno.readTextFileSync(`${root}/etc/hosts`), "rootfs hosts\n");
    // stat shows the bound file; /proc-style paths name the mount point.
    assert.equal(vfs.statAt(ctx, vfs.root(), "/etc/hosts", { follow: true, emptyPath: false }).ino, Deno.statSync(`${base}/hosts`).ino);
    assert.equal(at("/etc/hosts").path(), "/etc/hosts");
    assert.equal(at("/etc/hosts").parent().path(), "/etc");

    // Read-only: every write is EROFS, the host file is unchanged.
    assert.throws(() => write(vfs, ctx, "/etc/hostname", "evil\n", O_WRONLY), (e) => e === EROFS);
    assert.throws(() => write(vfs, ctx, "/etc/hostname", "evil\n", O_RDWR), (e) => e === EROFS);
    assert.throws(() => vfs.truncate(ctx, at("/etc/hostname"), 0), (e) => e === EROFS);
    assert.throws(() => vfs.chmod(ctx, at("/etc/hostname"), 0o777), (e) => e === EROFS);
    assert.equal(Deno.readTextFileSync(`${base}/hostname`), "box\n");
    // A mount point cannot be removed or renamed over.
    assert.throws(() => vfs.unlinkAt(ctx, vfs.root(), "/etc/hosts"), (e) => e === EBUSY);
    // Writable: truncate and chmod reach the host file itself.
    vfs.truncate(ctx, at("/etc/hosts"), 9);
    vfs.chmod(ctx, at("/etc/hosts"), 0o640);
    assert.equal(Deno.readTextFileSync(`${base}/hosts`), "127.0.0.1");
    assert.equal(Deno.statSync(`${base}/hosts`).mode! & 0o7777, 0o640);

    // The host file replaced by a symlink leading outside: ELOOP, never followed.
    Deno.removeSync(`${base}/hosts`);
    Deno.symlinkSync(`${base}/outside/secret`, `${base}/hosts`);
    hostFds.beginOperation();
    assert.throws(() => read(vfs, ctx, "/etc/hosts"), (e) => e === ELOOP);
    assert.throws(() => write(vfs, ctx, "/etc/hosts", "x", O_WRONLY), (e) => e === ELOOP);
    assert.throws(() => vfs.chmod(ctx, at("/etc/hosts"), 0o777), (e) => e instanceof LinuxError);
    assertOutsideUntouched(base);
    // Not a regular file: refused.
    assert.throws(() => HostFilesystem.openFile(`${base}/outside`), (e) => e === EINVAL);
    assert.throws(() => HostFilesystem.openFile(`${base}/missing`), (e) => e === ENOENT);
  } finally {
    vfs.release(); // releases the mounted rw and ro too
    Deno.removeSync(base, { recursive: true });
  }
});
