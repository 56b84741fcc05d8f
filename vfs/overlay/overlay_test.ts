import assert from "node:assert/strict";
import { ENOENT } from "../../kernel/errno.ts";
import { O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } from "../../abi/linux/file.ts";
import type { FileDescription } from "../file_description.ts";
import { withTree } from "../_test_tree.ts";

const enc = new TextEncoder(), dec = new TextDecoder();

function readAll(f: FileDescription): string {
  const b = new Uint8Array(4096);
  try {
    return dec.decode(b.subarray(0, f.read(b, null)));
  } finally {
    f.decRef();
  }
}

function names(f: FileDescription): string[] {
  const out: string[] = [];
  f.readdir(0, (e) => (out.push(e.name), true));
  f.decRef();
  return out.filter((n) => n !== "." && n !== "..").sort();
}

const WRITABLE = { readonly: false };

Deno.test("overlay writes, truncates and removes files without changing the host tree", () => {
  withTree(({ vfs, ctx, root }) => {
    const r = vfs.root();
    const f = vfs.openAt(ctx, r, "/etc/passwd", O_WRONLY | O_TRUNC, 0);
    f.write(enc.encode("changed\n"), null);
    f.decRef();
    assert.equal(readAll(vfs.openAt(ctx, r, "/etc/passwd", O_RDONLY, 0)), "changed\n");
    const n = vfs.openAt(ctx, r, "/etc/new", O_WRONLY | O_CREAT, 0o600);
    n.write(enc.encode("new"), null);
    n.decRef();
    vfs.unlinkAt(ctx, r, "/usr/bin/noexec");
    vfs.mkdirAt(ctx, r, "/usr/lib", 0o755);
    assert.equal(Deno.readTextFileSync(`${root}/etc/passwd`), "root:x:0:0::/root:/bin/sh\n");
    assert.equal(Deno.readTextFileSync(`${root}/usr/bin/noexec`), "data\n");
    assert.throws(() => Deno.statSync(`${root}/etc/new`));
    assert.throws(() => Deno.statSync(`${root}/usr/lib`));
  }, WRITABLE);
});

Deno.test("copy-up keeps the lower file's inode number, mode, owner and mtime", () => {
  withTree(({ vfs, ctx }) => {
    const r = vfs.root();
    const before = vfs.statAt(ctx, r, "/usr/bin/sh", { follow: false, emptyPath: false });
    const dirBefore = vfs.statAt(ctx, r, "/usr/bin", { follow: false, emptyPath: false });
    const f = vfs.openAt(ctx, r, "/usr/bin/sh", O_RDWR, 0);
    assert.equal(readAll(f.incRef()), "#!sh\n");
    f.decRef();
    const after = vfs.statAt(ctx, r, "/usr/bin/sh", { follow: false, emptyPath: false });
    for (const k of ["ino", "dev", "mode", "uid", "gid", "size", "mtimeNs"] as const) {
      assert.equal(after[k], before[k], k);
    }
    // The parent keeps its mtime: a copy-up is not a change of the directory.
    const dirAfter = vfs.statAt(ctx, r, "/usr/bin", { follow: false, emptyPath: false });
    assert.equal(dirAfter.mtimeNs, dirBefore.mtimeNs);
    assert.equal(dirAfter.ino, dirBefore.ino);
  }, WRITABLE);
});

Deno.test("a removed lower file is hidden from lookup and readdir until a new one is made", () => {
  withTree(({ vfs, ctx }) => {
    const r = vfs.root();
    vfs.unlinkAt(ctx, r, "/etc/passwd");
    assert.throws(() => vfs.statAt(ctx, r, "/etc/passwd", { follow: false, emptyPath: false }), ENOENT);
    assert.deepEqual(names(vfs.openAt(ctx, r, "/etc", O_RDONLY, 0)), []);
    const f = vfs.openAt(ctx, r, "/etc/passwd", O_WRONLY | O_CREAT, 0o644);
    f.write(enc.encode("fresh"), null);
    f.decRef();
    assert.equal(readAll(vfs.openAt(ctx, r, "/etc/passwd", O_RDONLY, 0)), "fresh");
    assert.deepEqual(names(vfs.openAt(ctx, r, "/etc", O_RDONLY, 0)), ["passwd"]);
  }, WRITABLE);
});

Deno.test("rename of a lower directory moves its content and a directory made over a whiteout is empty", () => {
  withTree(({ vfs, ctx }) => {
    const r = vfs.root();
    vfs.renameAt(ctx, r, "/usr", r, "/opt", 0);
    assert.deepEqual(names(vfs.openAt(ctx, r, "/opt/bin", O_RDONLY, 0)), ["noexec", "sh"]);
    assert.throws(() => vfs.statAt(ctx, r, "/usr", { follow: false, emptyPath: false }), ENOENT);
    vfs.mkdirAt(ctx, r, "/usr", 0o755);
    assert.deepEqual(names(vfs.openAt(ctx, r, "/usr", O_RDONLY, 0)), []);
    // bin -> usr/bin now dangles.
    assert.throws(() => vfs.statAt(ctx, r, "/bin/sh", { follow: true, emptyPath: false }), ENOENT);
  }, WRITABLE);
});

Deno.test("creating through escaping symlinks and '..' stays inside the sandbox root", () => {
  withTree(({ vfs, ctx, base }) => {
    const r = vfs.root();
    // escape_outside -> ../outside resolves to /outside of the sandbox, which does not exist.
    assert.throws(() => vfs.openAt(ctx, r, "/escape_outside/secret", O_WRONLY | O_CREAT, 0o644), ENOENT);
    for (const p of ["/escape/created", "/../../../created2"]) {
      const f = vfs.openAt(ctx, r, p, O_WRONLY | O_CREAT | O_TRUNC, 0o644);
      f.write(enc.encode("inside"), null);
      f.decRef();
    }
    assert.equal(readAll(vfs.openAt(ctx, r, "/created", O_RDONLY, 0)), "inside");
    assert.equal(readAll(vfs.openAt(ctx, r, "/created2", O_RDONLY, 0)), "inside");
    assert.equal(Deno.readTextFileSync(`${base}/outside/secret`), "host secret\n");
    assert.deepEqual([...Deno.readDirSync(base)].map((e) => e.name).sort(), ["outside", "root"]);
  }, WRITABLE);
});

for (const hostUpper of [false, true]) {
  const upper = hostUpper ? "a host upper directory" : "the memory upper layer";

  Deno.test(`a read-only description opened before a copy-up reads what is written through the copy (${upper})`, () => {
    withTree(({ vfs, ctx }) => {
      const r = vfs.root();
      const reader = vfs.openAt(ctx, r, "/etc/passwd", O_RDONLY, 0);
      const b = new Uint8Array(5);
      assert.equal(dec.decode(b.subarray(0, reader.read(b, null))), "root:");
      const w = vfs.openAt(ctx, r, "/etc/passwd", O_WRONLY | O_TRUNC, 0);
      w.write(enc.encode("0123456789\n"), null);
      w.decRef();
      // The reader keeps its offset (5) and now reads the upper copy.
      assert.equal(readAll(reader), "56789\n");
      const again = vfs.openAt(ctx, r, "/etc/passwd", O_RDONLY, 0);
      const st = again.stat();
      assert.equal(st.size, 11);
      assert.equal(st.ino, vfs.statAt(ctx, r, "/etc/passwd", { follow: false, emptyPath: false }).ino);
      again.decRef();
    }, { readonly: false, hostUpper });
  });
}

Deno.test("an overlay with a host upper directory writes there and never to the lower tree", () => {
  withTree(({ vfs, ctx, root, base }) => {
    const r = vfs.root();
    const up = `${base}/upper`;
    const f = vfs.openAt(ctx, r, "/usr/bin/sh", O_WRONLY | O_TRUNC, 0);
    f.write(enc.encode("#!changed\n"), null);
    f.decRef();
    const n = vfs.openAt(ctx, r, "/etc/new", O_WRONLY | O_CREAT, 0o640);
    n.write(enc.encode("new\n"), null);
    n.decRef();
    vfs.unlinkAt(ctx, r, "/usr/bin/noexec");
    vfs.mkdirAt(ctx, r, "/tmpdir", 0o1777);
    vfs.renameAt(ctx, r, "/etc/new", r, "/tmpdir/moved", 0);
    // Copy-up kept the mode; the lower files are as they were.
    assert.equal(Deno.readTextFileSync(`${up}/usr/bin/sh`), "#!changed\n");
    assert.equal(Deno.statSync(`${up}/usr/bin/sh`).mode! & 0o7777, 0o755);
    assert.equal(Deno.readTextFileSync(`${up}/tmpdir/moved`), "new\n");
    assert.equal(Deno.statSync(`${up}/tmpdir`).mode! & 0o7777, 0o1777);
    assert.equal(Deno.readTextFileSync(`${root}/usr/bin/sh`), "#!sh\n");
    assert.equal(Deno.readTextFileSync(`${root}/usr/bin/noexec`), "data\n");
    assert.throws(() => Deno.statSync(`${root}/tmpdir`));
    assert.deepEqual(names(vfs.openAt(ctx, r, "/usr/bin", O_RDONLY, 0)), ["sh"]);
    assert.equal(readAll(vfs.openAt(ctx, r, "/tmpdir/moved", O_RDONLY, 0)), "new\n");
    assert.throws(() => vfs.openAt(ctx, r, "/etc/new", O_RDONLY, 0), ENOENT);
  }, { readonly: false, hostUpper: true });
});
