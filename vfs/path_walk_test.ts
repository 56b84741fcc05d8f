import assert from "node:assert/strict";
import { EACCES, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR } from "../kernel/errno.ts";
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from "../abi/linux/file.ts";
import { walk, walkOrMissing } from "./path_walk.ts";
import { Location } from "./mount.ts";
import { CHAIN, NOBODY, withTree } from "./_test_tree.ts";

function typeOf(loc: Location): number {
  return loc.dentry.mode & S_IFMT;
}

Deno.test("walk() resolves plain paths, '.', '..' and repeated slashes", () => {
  withTree(({ vfs, ctx }) => {
    const root = vfs.root();
    assert.equal(walk(ctx, root, "/etc/passwd", true).path(), "/etc/passwd");
    assert.equal(walk(ctx, root, "//usr///bin/./sh", true).path(), "/usr/bin/sh");
    assert.equal(walk(ctx, root, "usr/bin/../../etc/./passwd", true).path(), "/etc/passwd");
    assert.equal(walk(ctx, root, "/", true).path(), "/");
    assert.equal(walk(ctx, root, ".", true).path(), "/");
  });
});

Deno.test("walk() is relative to the start directory unless the path is absolute", () => {
  withTree(({ vfs, ctx }) => {
    const usr = walk(ctx, vfs.root(), "usr", true);
    assert.equal(walk(ctx, usr, "bin/sh", true).path(), "/usr/bin/sh");
    assert.equal(walk(ctx, usr, "/etc", true).path(), "/etc");
    assert.equal(walk(ctx, usr, "..", true).path(), "/");
  });
});

Deno.test("walk() keeps '..' at the sandbox root", () => {
  withTree(({ vfs, ctx }) => {
    const root = vfs.root();
    assert.ok(walk(ctx, root, "..", true).equals(root));
    assert.equal(walk(ctx, root, "/../../../etc/passwd", true).path(), "/etc/passwd");
    // The host's sibling of the root is not reachable by climbing.
    assert.throws(() => walk(ctx, root, "../outside/secret", true), (e) => e === ENOENT);
    assert.throws(() => walk(ctx, root, "/../../outside", true), (e) => e === ENOENT);
  });
});

Deno.test("walk() resolves relative symlinks that climb out inside the sandbox root", () => {
  withTree(({ vfs, ctx }) => {
    const root = vfs.root();
    assert.ok(walk(ctx, root, "escape", true).equals(root));
    assert.equal(walk(ctx, root, "escape/etc/passwd", true).path(), "/etc/passwd");
    assert.throws(() => walk(ctx, root, "escape_outside/secret", true), (e) => e === ENOENT);
  });
});

Deno.test("walk() resolves absolute symlinks against the sandbox root", () => {
  withTree(({ vfs, ctx }) => {
    const root = vfs.root();
    assert.equal(walk(ctx, root, "abs/passwd", true).path(), "/etc/passwd");
    assert.equal(walk(ctx, root, "abs", true).path(), "/etc");
    assert.equal(walk(ctx, root, "bin/sh", true).path(), "/usr/bin/sh");
  });
});

Deno.test("walk() resolves absolute symlinks against a chroot's root", () => {
  withTree(({ vfs, ctx }) => {
    const usr = walk(ctx, vfs.root(), "usr", true);
    const jail = { root: usr, creds: ctx.creds };
    assert.equal(walk(jail, usr, "/bin/sh", true).path(), "/usr/bin/sh");
    assert.equal(walk(jail, usr, "/../../bin", true).path(), "/usr/bin");
    assert.equal(walk(jail, usr, "bin/sh", true).pathFrom(usr), "/bin/sh");
    assert.equal(vfs.root().pathFrom(usr), null);
  });
});

Deno.test("walk() follows a final symlink only when asked", () => {
  withTree(({ vfs, ctx }) => {
    const root = vfs.root();
    assert.equal(typeOf(walk(ctx, root, "passwd_link", true)), S_IFREG);
    const link = walk(ctx, root, "passwd_link", false);
    assert.equal(typeOf(link), S_IFLNK);
    assert.equal(link.path(), "/passwd_link");
    // Symlinks in the middle are always followed.
    assert.equal(typeOf(walk(ctx, root, "bin/sh", false)), S_IFREG);
  });
});

Deno.test("walk() reports ELOOP for symlink loops and for more than 40 links", () => {
  withTree(({ vfs, ctx }) => {
    const root = vfs.root();
    assert.throws(() => walk(ctx, root, "loop1", true), (e) => e === ELOOP);
    assert.throws(() => walk(ctx, root, "loop1/x", false), (e) => e === ELOOP);
    assert.equal(typeOf(walk(ctx, root, "loop1", false)), S_IFLNK);
    // l0 needs CHAIN + 1 = 40 follows: the limit exactly.
    assert.equal(walk(ctx, root, "chain/l0", true).path(), "/etc/passwd");
    // One more link in front is too many.
    assert.throws(() => walk(ctx, root, "escape/chain/l0", true), (e) => e === ELOOP);
    assert.equal(CHAIN + 1, 40);
  });
});

Deno.test("walk() treats a trailing slash as 'must be a directory' and follows the link", () => {
  withTree(({ vfs, ctx }) => {
    const root = vfs.root();
    assert.throws(() => walk(ctx, root, "etc/passwd/", true), (e) => e === ENOTDIR);
    assert.throws(() => walk(ctx, root, "passwd_link/", false), (e) => e === ENOTDIR);
    assert.equal(typeOf(walk(ctx, root, "abs/", false)), S_IFDIR);
    assert.equal(walk(ctx, root, "etc/", true).path(), "/etc");
    // A target ending in "/" at the end of the path also requires a directory.
    assert.equal(walk(ctx, root, "etc_link", true).path(), "/etc");
  });
});

Deno.test("walk() reports ENOTDIR for a file in the middle and ENOENT for missing names", () => {
  withTree(({ vfs, ctx }) => {
    const root = vfs.root();
    assert.throws(() => walk(ctx, root, "etc/passwd/x", true), (e) => e === ENOTDIR);
    assert.throws(() => walk(ctx, root, "etc/nothing", true), (e) => e === ENOENT);
    assert.throws(() => walk(ctx, root, "nothing/passwd", true), (e) => e === ENOENT);
    assert.throws(() => walk(ctx, root, "dangling", true), (e) => e === ENOENT);
    assert.throws(() => walk(ctx, root, "", true), (e) => e === ENOENT);
    // Relative to a file: ENOTDIR.
    const passwd = walk(ctx, root, "etc/passwd", true);
    assert.throws(() => walk(ctx, passwd, "x", true), (e) => e === ENOTDIR);
  });
});

Deno.test("walk() rejects components longer than NAME_MAX bytes", () => {
  withTree(({ vfs, ctx }) => {
    const root = vfs.root();
    assert.throws(() => walk(ctx, root, "etc/" + "a".repeat(256), true), (e) => e === ENAMETOOLONG);
    assert.throws(() => walk(ctx, root, "é".repeat(128), true), (e) => e === ENAMETOOLONG);
    assert.throws(() => walk(ctx, root, "a".repeat(255), true), (e) => e === ENOENT);
  });
});

Deno.test("walk() needs search permission on every directory it passes", () => {
  withTree(({ vfs, ctx }) => {
    const root = vfs.root();
    const nobody = { root, creds: NOBODY };
    assert.throws(() => walk(nobody, root, "secret/key", true), (e) => e === EACCES);
    // The directory itself can be named; only searching it is refused.
    assert.equal(walk(nobody, root, "secret", true).path(), "/secret");
    assert.equal(walk(ctx, root, "secret/key", true).path(), "/secret/key");
  });
});

Deno.test("walkOrMissing() returns the parent and name of a missing final component", () => {
  withTree(({ vfs, ctx }) => {
    const root = vfs.root();
    const r = walkOrMissing(ctx, root, "etc/newfile", true);
    assert.ok(!(r instanceof Location));
    assert.equal(r.parent.path(), "/etc");
    assert.equal(r.name, "newfile");
    assert.equal(r.mustBeDir, false);
    // Through a dangling symlink: the target is what would be created.
    const d = walkOrMissing(ctx, root, "dangling", true);
    assert.ok(!(d instanceof Location));
    assert.equal(d.name, "nowhere");
    assert.throws(() => walkOrMissing(ctx, root, "nodir/newfile", true), (e) => e === ENOENT);
  });
});
