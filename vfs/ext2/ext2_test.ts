/**
 * The ext2 driver on images the host's mke2fs makes, checked by the host's e2fsck -fn after the
 * driver wrote them (it must find nothing to fix) and by debugfs reading back what was written.
 * Skipped where mke2fs is missing.
 */

import nodeAssert from "node:assert/strict";

const assert = (c: unknown, msg?: string) => nodeAssert.ok(c, msg ?? "assertion failed");
const assertEquals = (a: unknown, b: unknown, msg?: string) => nodeAssert.deepStrictEqual(a, b, msg ?? "not equal");
const assertThrows = (fn: () => unknown, cls: new (...a: never[]) => unknown) => nodeAssert.throws(fn, cls);
import { MemoryBlockDevice } from "../block/memory_device.ts";
import { type Ext2Dentry, type Ext2Filesystem, mountBlockFilesystem } from "./ext2.ts";
import { EEXIST, EFBIG, ENOSPC, ENOTEMPTY, EUCLEAN, EINVAL, LinuxError } from "../../kernel/errno.ts";
import { RENAME_EXCHANGE, S_IFCHR, S_IFIFO, S_IFMT, S_IFREG, XATTR_CREATE } from "../../abi/linux/file.ts";
import type { Location } from "../mount.ts";

const MKFS = ["/usr/sbin/mkfs.ext2", "/sbin/mkfs.ext2"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});
const E2FSCK = MKFS?.replace("mkfs.ext2", "e2fsck");
const DEBUGFS = MKFS?.replace("mkfs.ext2", "debugfs");
const ignore = MKFS === undefined;

function run(cmd: string, args: string[]): { code: number; out: string } {
  const r = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  return { code: r.code, out: new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr) };
}

/** A fresh image made by mkfs.ext2 with the given options, as bytes. */
function makeImage(size: string, opts: string[] = []): { path: string; bytes: Uint8Array } {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/img`;
  const r = run(MKFS!, ["-F", "-q", ...opts, path, size]);
  assertEquals(r.code, 0, r.out);
  return { path, bytes: Deno.readFileSync(path) };
}

/** Writes bytes back and runs e2fsck -fn: it must find nothing. */
function fsck(path: string, bytes: Uint8Array): void {
  Deno.writeFileSync(path, bytes);
  const r = run(E2FSCK!, ["-fn", path]);
  assertEquals(r.code, 0, r.out);
}

function debugfs(path: string, cmd: string): string {
  return run(DEBUGFS!, ["-R", cmd, path]).out;
}

function mount(bytes: Uint8Array, type = "ext2"): { fs: Ext2Filesystem; root: Ext2Dentry } {
  const fs = mountBlockFilesystem(new MemoryBlockDevice(bytes), { type, readonly: false });
  return { fs, root: fs.root };
}

const attrs = (mode: number) => ({ mode, uid: 1000, gid: 1000 });
const enc = new TextEncoder();

function errno(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof LinuxError) return e.symbol;
    throw e;
  }
  return "ok";
}

/** An open regular file of d (the driver's description, without a mount). */
function open(d: Ext2Dentry) {
  return d.open({ mount: { flags: 0, readonly: false } } as unknown as Location, 2) as unknown as {
    read(b: Uint8Array, off: number | null): number;
    write(b: Uint8Array, off: number | null): number;
    decRef(): void;
  };
}

for (const bs of ["1024", "4096"]) {
  Deno.test({ name: `ext2 (${bs}-byte blocks): files, directories, links, symlinks, nodes, then e2fsck is clean`, ignore }, () => {
    const img = makeImage("16M", ["-b", bs]);
    const { fs, root } = mount(img.bytes);
    assertEquals(fs.blockSize, Number(bs));
    const free0 = fs.statfs().bfree;
    const a = root.create("a.txt", attrs(0o644));
    const f = open(a);
    assertEquals(f.write(enc.encode("hello ext2\n"), 0), 11);
    // A sparse write far out: the double-indirect range.
    const far = 12 * Number(bs) + (Number(bs) / 4) * Number(bs) + 5000;
    assertEquals(f.write(enc.encode("far"), far), 3);
    const back = new Uint8Array(11);
    assertEquals(f.read(back, 0), 11);
    assertEquals(new TextDecoder().decode(back), "hello ext2\n");
    const hole = new Uint8Array(100);
    f.read(hole, 4096 * 3);
    assert(hole.every((x) => x === 0));
    assertEquals(a.stat().size, far + 3);
    f.decRef();
    // A big file across the indirect blocks, then cut back.
    const big = root.create("big", attrs(0o600));
    const g = open(big);
    const chunk = new Uint8Array(300_000).map((_, k) => k & 0xff);
    assertEquals(g.write(chunk, 0), chunk.length);
    const chk = new Uint8Array(chunk.length);
    assertEquals(g.read(chk, 0), chunk.length);
    assertEquals(chk, chunk);
    big.setattr({ size: 70_001 });
    assertEquals(big.stat().size, 70_001);
    g.decRef();

    const d = root.mkdir("dir", attrs(0o755));
    assertEquals(root.stat().nlink, 4); // ".", "..", lost+found, dir
    const sub = d.mkdir("sub", attrs(0o700));
    for (let k = 0; k < 200; k++) d.create(`file-with-a-longish-name-${k}`, attrs(0o644));
    for (let k = 0; k < 200; k += 2) d.unlink(`file-with-a-longish-name-${k}`, d.lookup(`file-with-a-longish-name-${k}`)!);
    assertEquals(d.children().length, 101);
    assertEquals(errno(() => root.rmdir("dir", d)), "ENOTEMPTY");
    d.symlink("short", "a.txt", attrs(0o777));
    const longTarget = "x/".repeat(100) + "end";
    d.symlink("long", longTarget, attrs(0o777));
    assertEquals(d.lookup("long")!.readlink(), longTarget);
    assertEquals(d.lookup("short")!.readlink(), "a.txt");
    d.link("hard", a);
    assertEquals(a.stat().nlink, 2);
    d.mknod("fifo", { ...attrs(S_IFIFO | 0o644) });
    d.mknod("null", { ...attrs(S_IFCHR | 0o666), rdev: (1 << 8) | 3 });
    d.mknod("big-dev", { ...attrs(S_IFCHR | 0o666), rdev: (300 << 8) | 70000 % 256 | ((70000 >> 8) << 20) });
    assertEquals(d.lookup("null")!.stat().rdev, (1 << 8) | 3);
    // Rename: a directory to another parent (its ".." follows), over a file, exchange.
    root.rename("dir", d, root, "dir2", null, 0);
    d.rename("sub", sub, root, "sub", null, 0);
    assertEquals(sub.parent, root);
    const b = root.create("b", attrs(0o644));
    root.rename("b", b, d, "hard", d.lookup("hard"), 0);
    assertEquals(a.stat().nlink, 1);
    root.rename("sub", sub, d, "fifo", d.lookup("fifo"), RENAME_EXCHANGE);
    assertEquals(root.lookup("sub")!.stat().mode & S_IFMT, S_IFIFO);
    assertEquals(d.lookup("fifo"), sub);
    assertEquals(sub.lookup("..") ?? sub.parent, d);
    fs.release();
    fsck(img.path, img.bytes);
    assertEquals(free0 > 0, true);
  });
}

Deno.test({ name: "ext2: the whole life of a tree leaves e2fsck clean and debugfs reads it back", ignore }, () => {
  const img = makeImage("16M");
  const { fs, root } = mount(img.bytes);
  const a = root.create("a.txt", attrs(0o644));
  const f = open(a);
  f.write(enc.encode("hello ext2\n"), 0);
  f.decRef();
  const d = root.mkdir("dir", attrs(0o755));
  const sub = d.mkdir("sub", attrs(0o700));
  for (let k = 0; k < 300; k++) d.create(`n${k}-${"y".repeat(k % 40)}`, attrs(0o644));
  for (let k = 0; k < 300; k += 3) d.unlink(`n${k}-${"y".repeat(k % 40)}`, d.lookup(`n${k}-${"y".repeat(k % 40)}`)!);
  d.symlink("long", "z".repeat(300), attrs(0o777));
  d.symlink("short", "a.txt", attrs(0o777));
  d.link("hard", a);
  d.mknod("fifo", attrs(S_IFIFO | 0o644));
  root.rename("dir", d, root, "dir2", null, 0);
  d.rename("sub", sub, root, "sub", null, 0);
  sub.mkdir("deeper", attrs(0o755));
  root.rename("sub", sub, d, "sub-back", null, 0);
  const x = root.create("x", attrs(0o644));
  x.setxattr("user.one", enc.encode("1"), XATTR_CREATE);
  x.setxattr("trusted.two", enc.encode("value two"), 0);
  x.setxattr("security.three", new Uint8Array(0), 0);
  assertEquals(x.listxattr().sort(), ["security.three", "trusted.two", "user.one"]);
  assertEquals(new TextDecoder().decode(x.getxattr("trusted.two")), "value two");
  assertEquals(errno(() => x.setxattr("user.one", enc.encode("2"), XATTR_CREATE)), "EEXIST");
  x.removexattr("user.one");
  assertEquals(errno(() => x.getxattr("user.one")), "ENODATA");
  const y = root.create("y", attrs(0o644));
  y.setxattr("user.only", enc.encode("v"), 0);
  y.removexattr("user.only");
  assertEquals(y.stat().blocks, 0);
  x.setattr({ mode: 0o600, uid: 70000, gid: 80000, mtimeNs: 1_234_567_890_123_456_789n });
  assertEquals(x.stat().uid, 70000);
  assertEquals(x.stat().mtimeNs, 1_234_567_890_123_456_789n);
  fs.release();
  fsck(img.path, img.bytes);
  const ls = debugfs(img.path, "ls -l /dir2");
  assert(ls.includes("sub-back") && ls.includes("long") && ls.includes("fifo"), ls);
  assert(debugfs(img.path, "cat /a.txt").includes("hello ext2"));
  assert(debugfs(img.path, "stat /x").includes("70000"));
  // Mounted again, the driver sees the same tree.
  const again = mount(Deno.readFileSync(img.path));
  assertEquals(again.root.lookup("dir2")!.lookup("long")!.readlink(), "z".repeat(300));
  assertEquals(again.root.lookup("x")!.stat().mtimeNs, 1_234_567_890_123_456_789n);
  assertEquals(again.root.lookup("dir2")!.lookup("sub-back")!.lookup("deeper")!.stat().mode & S_IFMT, 0o040000);
  again.fs.release();
});

Deno.test({ name: "ext2: ENOSPC when the blocks run out, a partial write first, and e2fsck stays clean", ignore }, () => {
  const img = makeImage("2M");
  const { fs, root } = mount(img.bytes);
  const a = root.create("fill", attrs(0o644));
  const f = open(a);
  const buf = new Uint8Array(64 * 1024);
  let total = 0;
  for (;;) {
    let n: number;
    try {
      n = f.write(buf, total);
    } catch (e) {
      assertEquals(e, ENOSPC);
      break;
    }
    total += n;
    if (n < buf.length) {
      assertThrows(() => f.write(buf, total), LinuxError);
      break;
    }
  }
  assertEquals(fs.statfs().bfree, 0);
  assertEquals(errno(() => root.mkdir("d", attrs(0o755))), "ENOSPC");
  f.decRef();
  root.unlink("fill", a);
  assert(fs.statfs().bfree > 1500);
  fs.release();
  fsck(img.path, img.bytes);
  void EEXIST, EFBIG, ENOTEMPTY, EINVAL, EUCLEAN, S_IFREG;
});

Deno.test({ name: "ext2: an unlinked open file lives until its last close", ignore }, () => {
  const img = makeImage("4M");
  const { fs, root } = mount(img.bytes);
  const free0 = fs.statfs().bfree;
  const a = root.create("tmp", attrs(0o644));
  const f = open(a);
  f.write(new Uint8Array(50_000).fill(7), 0);
  root.unlink("tmp", a);
  const back = new Uint8Array(10);
  assertEquals(f.read(back, 49_990), 10);
  assertEquals(back[0], 7);
  f.decRef();
  assertEquals(fs.statfs().bfree, free0);
  fs.release();
  fsck(img.path, img.bytes);
});

Deno.test({ name: "ext2: a mount makes the state not clean and the unmount clean again, counting mounts", ignore }, () => {
  const img = makeImage("4M");
  const { fs } = mount(img.bytes);
  Deno.writeFileSync(img.path, img.bytes);
  assert(debugfs(img.path, "stats").includes("not clean"));
  fs.release();
  Deno.writeFileSync(img.path, img.bytes);
  const s = debugfs(img.path, "stats");
  assert(/Filesystem state:\s+clean/.test(s), s);
  assert(/Mount count:\s+1/.test(s), s);
});

Deno.test({ name: "ext2: a corrupted image gives EUCLEAN or EINVAL, never a crash or a hang", ignore }, () => {
  const img = makeImage("4M");
  // Not ext2 at all.
  assertEquals(errno(() => mountBlockFilesystem(new MemoryBlockDevice(new Uint8Array(1 << 20)), { type: "ext2", readonly: false })), "EINVAL");
  // Random damage in the metadata of group 0 (inode table, bitmaps): whatever happens is an errno.
  for (let seed = 1; seed <= 40; seed++) {
    const b = img.bytes.slice();
    let s = seed;
    const rnd = () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let k = 0; k < 200; k++) b[1024 + Math.floor(rnd() * 300 * 1024)] = Math.floor(rnd() * 256);
    try {
      const fs = mountBlockFilesystem(new MemoryBlockDevice(b), { type: "ext2", readonly: false });
      const walk = (d: Ext2Dentry, depth: number) => {
        if (depth > 4) return;
        for (const e of d.children()) {
          const c = d.lookup(e.name);
          if (c === null) continue;
          if (c.isDir) walk(c, depth + 1);
          else if (c.isSymlink) c.readlink();
          else if (c.isRegular) open(c).read(new Uint8Array(4096), 0);
        }
      };
      try {
        walk(fs.root, 0);
        fs.root.create("new", attrs(0o644));
        fs.root.mkdir("newdir", attrs(0o755));
      } catch (e) {
        assert(e instanceof LinuxError, String(e));
      }
      fs.release();
    } catch (e) {
      assert(e instanceof LinuxError, String(e));
    }
  }
});

Deno.test({ name: "ext2: an htree directory is read linearly and loses its index flag when changed; e2fsck stays clean", ignore }, () => {
  const src = Deno.makeTempDirSync();
  Deno.mkdirSync(`${src}/big`);
  for (let k = 0; k < 400; k++) Deno.writeFileSync(`${src}/big/file-number-${k}-with-a-long-name`, new Uint8Array(0));
  const img = makeImage("8M", ["-d", src]);
  // e2fsck -D indexes every directory of more than one block.
  run(E2FSCK!, ["-fyD", img.path]);
  assert(debugfs(img.path, "stat /big").includes("Flags: 0x1000"));
  const bytes = Deno.readFileSync(img.path);
  const { fs, root } = mount(bytes);
  const big = root.lookup("big")!;
  assertEquals(big.children().length, 400);
  assert(big.lookup("file-number-399-with-a-long-name") !== null);
  big.create("new-one", attrs(0o644));
  big.unlink("file-number-7-with-a-long-name", big.lookup("file-number-7-with-a-long-name")!);
  fs.release();
  fsck(img.path, bytes);
  assert(!debugfs(img.path, "stat /big").includes("Flags: 0x1000"));
  Deno.removeSync(src, { recursive: true });
});

Deno.test({ name: "ext2: a clean ext3 mounts as ext3 (the journal left alone); e2fsck stays clean", ignore }, () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/img`;
  assertEquals(run(MKFS!.replace("mkfs.ext2", "mkfs.ext3"), ["-F", "-q", path, "16M"]).code, 0);
  const bytes = Deno.readFileSync(path);
  const { fs, root } = mount(bytes, "ext3");
  assertEquals(fs.name, "ext3");
  const d = root.mkdir("d", attrs(0o755));
  open(d.create("f", attrs(0o644))).write(enc.encode("journal-less"), 0);
  fs.release();
  fsck(path, bytes);
  // ext4's features (extents, 64bit, metadata_csum) are refused.
  assertEquals(run(MKFS!.replace("mkfs.ext2", "mkfs.ext4"), ["-F", "-q", path, "16M"]).code, 0);
  assertEquals(errno(() => mount(Deno.readFileSync(path), "ext4")), "EINVAL");
});

Deno.test({ name: "ext2: statfs as Linux's ext2_statfs; EFBIG past the largest file", ignore }, () => {
  const img = makeImage("16M");
  const { fs, root } = mount(img.bytes);
  const s = fs.statfs();
  assertEquals(s.type, 0xef53);
  assertEquals(s.bsize, 1024);
  assertEquals(s.namelen, 255);
  assertEquals(s.files, 4096);
  assertEquals(s.ffree, 4085);
  assertEquals(s.bavail, s.bfree - 819);
  const a = root.create("a", attrs(0o644));
  assertEquals(errno(() => a.setattr({ size: fs.maxFileSize + 1 })), "EFBIG");
  a.setattr({ size: fs.maxFileSize });
  assertEquals(errno(() => open(a).write(enc.encode("x"), fs.maxFileSize)), "EFBIG");
  a.setattr({ size: 0 });
  fs.release();
  fsck(img.path, img.bytes);
});

Deno.test({ name: "ext2: a mapped file's memfd follows reads, writes and truncation, and goes back to the blocks", ignore }, async () => {
  const ffi = await import("../../platform/ptrace/_ffi.ts");
  const img = makeImage("4M");
  const { fs, root } = mount(img.bytes);
  const a = root.create("m", attrs(0o644));
  const f = open(a) as ReturnType<typeof open> & { hostFdForMmap(): number };
  f.write(enc.encode("0123456789"), 0);
  f.write(enc.encode("far"), 20_000);
  const fd = f.hostFdForMmap();
  const b = new Uint8Array(3);
  assertEquals(ffi.hostPread(fd, b, 20_000), 3);
  assertEquals(new TextDecoder().decode(b), "far");
  // What a mapping writes (here: the memfd directly) reads back, and lands in the blocks at the last close.
  ffi.hostPwrite(fd, enc.encode("MAPPED"), 5000);
  const r = new Uint8Array(6);
  f.read(r, 5000);
  assertEquals(new TextDecoder().decode(r), "MAPPED");
  f.write(enc.encode("xy"), 1);
  assertEquals(ffi.hostPread(fd, b, 0), 3);
  assertEquals(new TextDecoder().decode(b), "0xy");
  f.decRef();
  fs.release();
  fsck(img.path, img.bytes);
  const again = mount(Deno.readFileSync(img.path));
  const g = open(again.root.lookup("m")!);
  g.read(r, 5000);
  assertEquals(new TextDecoder().decode(r), "MAPPED");
  g.decRef();
  again.fs.release();
});

Deno.test({ name: "ext2: a read-only mount writes nothing; remounted read-write and back, the state and mount count follow", ignore }, () => {
  const img = makeImage("4M");
  const before = img.bytes.slice();
  const fs = mountBlockFilesystem(new MemoryBlockDevice(img.bytes), { type: "ext2", readonly: true });
  assertEquals(errno(() => fs.root.create("x", attrs(0o644))), "EROFS");
  assertEquals(fs.root.lookup("lost+found")!.children().length, 0);
  assertEquals(img.bytes, before);
  fs.reconfigure(false);
  fs.root.create("x", attrs(0o644));
  Deno.writeFileSync(img.path, img.bytes);
  assert(debugfs(img.path, "stats").includes("not clean"));
  fs.reconfigure(true);
  assertEquals(errno(() => fs.root.create("y", attrs(0o644))), "EROFS");
  fsck(img.path, img.bytes);
  const s = debugfs(img.path, "stats");
  assert(/Filesystem state:\s+clean/.test(s) && /Mount count:\s+1/.test(s), s);
  fs.release();
});

Deno.test({ name: "ext2: POSIX ACLs stored in ext2's on-disk form, read back after a remount; e2fsck clean", ignore }, () => {
  const img = makeImage("4M");
  const { fs, root } = mount(img.bytes);
  const f = root.create("f", attrs(0o664));
  const acl = [
    { tag: 0x01, perm: 6, id: 0xffffffff }, { tag: 0x02, perm: 6, id: 1234 }, { tag: 0x04, perm: 4, id: 0xffffffff },
    { tag: 0x10, perm: 6, id: 0xffffffff }, { tag: 0x20, perm: 4, id: 0xffffffff },
  ];
  f.setAcl("access", acl);
  f.setxattr("user.x", enc.encode("y"), 0);
  assertEquals(f.acl, acl);
  fs.release();
  fsck(img.path, img.bytes);
  assert(debugfs(img.path, "ea_list /f").includes("system.posix_acl_access (28) = 01 00 00 00 01 00 06 00 02 00 06 00 d2 04 00 00"));
  const again = mount(Deno.readFileSync(img.path));
  assertEquals(again.root.lookup("f")!.acl, acl);
  again.root.lookup("f")!.setAcl("access", null);
  assertEquals(again.root.lookup("f")!.listxattr(), ["user.x"]);
  again.fs.release();
});

Deno.test({ name: "ext2: SEEK_DATA/SEEK_HOLE and mmap of a sparse file of gigabytes skip its holes by the block map", ignore }, async () => {
  const ffi = await import("../../platform/ptrace/_ffi.ts");
  const img = makeImage("4M");
  const { fs, root } = mount(img.bytes);
  const a = root.create("sparse", attrs(0o644));
  const f = open(a) as ReturnType<typeof open> & { hostFdForMmap(): number; seek(o: number, w: number): number };
  const far = 10 * 2 ** 30;
  f.write(enc.encode("data"), 5000);
  f.write(enc.encode("far"), far);
  const t0 = Date.now();
  assertEquals(f.seek(6000, 3 /* SEEK_DATA */), far - (far % 1024));
  assertEquals(f.seek(0, 4 /* SEEK_HOLE */), 0);
  assertEquals(f.seek(5000, 4 /* SEEK_HOLE */), 5120);
  const fd = f.hostFdForMmap();
  const b = new Uint8Array(3);
  assertEquals(ffi.hostPread(fd, b, far), 3);
  assertEquals(new TextDecoder().decode(b), "far");
  assert(Date.now() - t0 < 20_000, "walked the holes block by block");
  f.decRef();
  fs.release();
  fsck(img.path, img.bytes);
});

Deno.test({ name: "ext2: times past 2038 are clamped as ext2's s_time_max (ext3: ext4's 2446)", ignore }, () => {
  const img = makeImage("4M");
  const { fs, root } = mount(img.bytes);
  const a = root.create("a", attrs(0o644));
  a.setattr({ mtimeNs: 5_000_000_000n * 1_000_000_000n, atimeNs: -(2n ** 40n) * 1_000_000_000n });
  assertEquals(a.stat().mtimeNs, (2n ** 31n - 1n) * 1_000_000_000n);
  assertEquals(a.stat().atimeNs, -(2n ** 31n) * 1_000_000_000n);
  fs.release();
  const again = mount(img.bytes, "ext3");
  const b = again.root.lookup("a")!;
  assertEquals(b.stat().mtimeNs, (2n ** 31n - 1n) * 1_000_000_000n);
  b.setattr({ mtimeNs: 5_000_000_000n * 1_000_000_000n + 7n });
  again.fs.release();
  const third = mount(img.bytes, "ext3");
  assertEquals(third.root.lookup("a")!.stat().mtimeNs, 5_000_000_000n * 1_000_000_000n + 7n);
  third.fs.release();
  fsck(img.path, img.bytes);
});
