import assert from "node:assert/strict";
import { EACCES, EINVAL, EIO, ELOOP, ENOENT, ENOTDIR, EROFS } from "../../kernel/errno.ts";
import { Credentials } from "../../kernel/creds.ts";
import { O_CREAT, O_NOFOLLOW, O_PATH, O_RDONLY, O_TRUNC, O_WRONLY, S_IFDIR, S_IFIFO, S_IFMT } from "../../abi/linux/file.ts";
import type { FileDescription } from "../file_description.ts";
import { newPipe, PipeEnd } from "../pipe.ts";
import { walk } from "../path_walk.ts";
import { type TestTree, withTree } from "../_test_tree.ts";
import { ProcFilesystem, procTree } from "./procfs.ts";
import { FakeProcess, FakeSource } from "./_fake_source.ts";
import { DevFilesystem } from "../devfs/devfs.ts";
import { TtyDeviceFile } from "../tty/device_file.ts";

// /proc's entries load at their first use (procfs.ts procTree); these tests walk it directly.
await procTree.load();

interface ProcTree extends TestTree {
  src: FakeSource;
  init: FakeProcess;
}

/** A test tree with procfs at /mnt, process 1 as the caller, its fd 3 open on /etc. */
function withProc(fn: (t: ProcTree) => void): void {
  withTree((t) => {
    const src = new FakeSource();
    const mnt = walk(t.ctx, t.vfs.root(), "/mnt", true);
    t.vfs.mount(mnt, new ProcFilesystem(src), { readonly: false });
    src.mountList = t.vfs.mounts();
    const init = src.add(new FakeProcess(1));
    init.rootLoc = t.vfs.root();
    init.cwdLoc = walk(t.ctx, t.vfs.root(), "/usr", true);
    init.exeLoc = walk(t.ctx, t.vfs.root(), "/usr/bin/sh", true);
    const etc = t.vfs.openAt(t.ctx, t.vfs.root(), "/etc", O_RDONLY, 0);
    init.setFd(3, etc);
    src.callerPid = 1;
    try {
      fn({ ...t, src, init });
    } finally {
      etc.decRef();
    }
  });
}

function readAll(f: FileDescription): string {
  const buf = new Uint8Array(65536);
  let out = "";
  for (;;) {
    const n = f.read(buf, null);
    if (n === 0) return out;
    out += new TextDecoder().decode(buf.subarray(0, n));
  }
}

function cat(t: TestTree, path: string): string {
  const f = t.vfs.openAt(t.ctx, t.vfs.root(), path, O_RDONLY, 0);
  try {
    return readAll(f);
  } finally {
    f.decRef();
  }
}

Deno.test("/proc lists the fixed files and one directory per process", () => {
  withProc((t) => {
    t.src.add(new FakeProcess(7));
    const d = t.vfs.openAt(t.ctx, t.vfs.root(), "/mnt", O_RDONLY, 0);
    const names: string[] = [];
    d.readdir(0, (e) => (names.push(e.name), true));
    d.decRef();
    for (const n of [".", "..", "self", "thread-self", "meminfo", "stat", "uptime", "vmstat", "diskstats", "sys", "1", "7"]) {
      assert.ok(names.includes(n), `${n} is listed`);
    }
    assert.equal(t.vfs.statAt(t.ctx, t.vfs.root(), "/mnt/7", { follow: true, emptyPath: false }).mode & S_IFMT, S_IFDIR);
  });
});

Deno.test("/proc/self is the caller's PID directory and fails outside a system call", () => {
  withProc((t) => {
    assert.equal(t.vfs.readlinkAt(t.ctx, t.vfs.root(), "/mnt/self"), "1");
    assert.equal(t.vfs.readlinkAt(t.ctx, t.vfs.root(), "/mnt/thread-self"), "1/task/1");
    assert.ok(cat(t, "/mnt/self/status").includes("Pid:\t1\n"));
    t.src.callerPid = null;
    assert.throws(() => t.vfs.readlinkAt(t.ctx, t.vfs.root(), "/mnt/self"), ENOENT);
  });
});

Deno.test("the directory of a process that is gone, and a closed fd, are ENOENT", () => {
  withProc((t) => {
    const p = t.src.add(new FakeProcess(9));
    assert.ok(cat(t, "/mnt/9/stat").startsWith("9 (init) S "));
    t.src.procs.delete(p.pid);
    assert.throws(() => cat(t, "/mnt/9/stat"), ENOENT);
    assert.throws(() => t.vfs.readlinkAt(t.ctx, t.vfs.root(), "/mnt/1/fd/5"), ENOENT);
    assert.throws(() => cat(t, "/mnt/1/fd/5"), ENOENT);
  });
});

Deno.test("fd links show the path and lead to the open file's location, even a directory", () => {
  withProc((t) => {
    assert.equal(t.vfs.readlinkAt(t.ctx, t.vfs.root(), "/mnt/self/fd/3"), "/etc");
    assert.equal(cat(t, "/mnt/self/fd/3/passwd"), "root:x:0:0::/root:/bin/sh\n");
    const loc = walk(t.ctx, t.vfs.root(), "/mnt/self/fd/3", true);
    assert.equal(loc.path(), "/etc");
    // O_NOFOLLOW stops at the link, as on Linux.
    assert.throws(() => t.vfs.openAt(t.ctx, t.vfs.root(), "/mnt/self/fd/3", O_RDONLY | O_NOFOLLOW, 0), ELOOP);
    const ls: string[] = [];
    const d = t.vfs.openAt(t.ctx, t.vfs.root(), "/mnt/self/fd", O_RDONLY, 0);
    d.readdir(0, (e) => (ls.push(e.name), true));
    d.decRef();
    assert.deepEqual(ls.slice(2), ["3"]);
    assert.equal(cat(t, "/mnt/self/fdinfo/3"), `pos:\t0\nflags:\t0100000\nmnt_id:\t1\nino:\t${loc.dentry.ino}\n`);
  });
});

Deno.test("a pipe's fd link reads pipe:[ino] and opening it gives a new end of the same pipe", () => {
  withProc((t) => {
    const [r, w] = newPipe(0);
    t.init.setFd(4, r);
    assert.equal(t.vfs.readlinkAt(t.ctx, t.vfs.root(), "/mnt/1/fd/4"), `pipe:[${r.pipe.ino}]`);
    const st = t.vfs.statAt(t.ctx, t.vfs.root(), "/mnt/1/fd/4", { follow: true, emptyPath: false });
    assert.equal(st.mode & S_IFMT, S_IFIFO);
    const w2 = t.vfs.openAt(t.ctx, t.vfs.root(), "/mnt/1/fd/4", O_WRONLY, 0);
    assert.ok(w2 instanceof PipeEnd && !w2.isReader);
    w2.write(new TextEncoder().encode("hi"), null);
    const buf = new Uint8Array(8);
    assert.equal(r.read(buf, null), 2);
    // O_PATH of it has a path and a stat, and nothing breaks.
    const op = t.vfs.openAt(t.ctx, t.vfs.root(), "/mnt/1/fd/4", O_PATH, 0);
    assert.equal(op.stat().mode & S_IFMT, S_IFIFO);
    assert.equal(op.path(), `/pipe:[${r.pipe.ino}]`);
    for (const f of [op, w2, w, r]) f.decRef();
  });
});

Deno.test("root, cwd and exe are magic links inside the sandbox; '..' from root stays at the root", () => {
  withProc((t) => {
    assert.equal(t.vfs.readlinkAt(t.ctx, t.vfs.root(), "/mnt/1/root"), "/");
    assert.equal(t.vfs.readlinkAt(t.ctx, t.vfs.root(), "/mnt/1/cwd"), "/usr");
    assert.equal(t.vfs.readlinkAt(t.ctx, t.vfs.root(), "/mnt/1/exe"), "/usr/bin/sh");
    assert.equal(walk(t.ctx, t.vfs.root(), "/mnt/self/root/../../..", true).path(), "/");
    assert.equal(cat(t, "/mnt/self/root/../../../etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    assert.throws(() => cat(t, "/mnt/self/root/../../../outside/secret"), ENOENT);
    assert.equal(cat(t, "/mnt/1/cwd/bin/sh"), "#!sh\n");
    assert.throws(() => walk(t.ctx, t.vfs.root(), "/mnt/1/exe/x", true), ENOTDIR);
  });
});

Deno.test("a chrooted reader sees paths from its own root", () => {
  withProc((t) => {
    t.src.callerRoot = walk(t.ctx, t.vfs.root(), "/usr", true);
    assert.equal(t.vfs.readlinkAt(t.ctx, t.vfs.root(), "/mnt/1/exe"), "/bin/sh");
    // A file outside the reader's root shows its full path.
    assert.equal(t.vfs.readlinkAt(t.ctx, t.vfs.root(), "/mnt/1/fd/3"), "/etc");
  });
});

Deno.test("another user's fd links and environ are EACCES; its status is readable", () => {
  withProc((t) => {
    const other = t.src.add(new FakeProcess(5));
    other.rootLoc = t.vfs.root();
    other.creds = new Credentials(0, 0);
    t.init.creds = new Credentials(1000, 1000);
    const ctx = { root: t.vfs.root(), creds: t.init.creds };
    assert.throws(() => t.vfs.readlinkAt(ctx, t.vfs.root(), "/mnt/5/root"), EACCES);
    assert.throws(() => t.vfs.openAt(ctx, t.vfs.root(), "/mnt/5/environ", O_RDONLY, 0), EACCES);
    assert.throws(() => walk(ctx, t.vfs.root(), "/mnt/5/fd/0", true), EACCES);
    const f = t.vfs.openAt(ctx, t.vfs.root(), "/mnt/5/status", O_RDONLY, 0);
    assert.ok(readAll(f).includes("Pid:\t5\n"));
    f.decRef();
  });
});

Deno.test("cmdline and environ come from the process's memory; oom_score_adj is writable", () => {
  withProc((t) => {
    t.init.memoryBase = 0x1000;
    t.init.memoryBytes = new TextEncoder().encode("sh\0-c\0A=1\0");
    t.init.mem = {
      vmas: [], brkStart: 0, brk: 0, stackStart: 0, argStart: 0x1000, argEnd: 0x1006, envStart: 0x1006, envEnd: 0x100a,
    };
    assert.equal(cat(t, "/mnt/1/cmdline"), "sh\0-c\0");
    assert.equal(cat(t, "/mnt/1/environ"), "A=1\0");
    // A shell's `echo -500 > .../oom_score_adj` opens with O_TRUNC, which truncates nothing.
    const f = t.vfs.openAt(t.ctx, t.vfs.root(), "/mnt/1/oom_score_adj", O_WRONLY | O_TRUNC, 0);
    f.write(new TextEncoder().encode("-500\n"), null);
    f.decRef();
    assert.equal(t.init.oomScoreAdj, -500);
    assert.equal(cat(t, "/mnt/1/oom_score_adj"), "-500\n");
    // Root opens a read-only /proc file for writing, as on Linux; the write fails (proc_reg_write: EIO).
    const m = t.vfs.openAt(t.ctx, t.vfs.root(), "/mnt/meminfo", O_WRONLY, 0);
    assert.throws(() => m.write(new Uint8Array(1), null), EIO);
    m.decRef();
  });
});

Deno.test("mounts and mountinfo list the tree from the process's root", () => {
  withProc((t) => {
    const mounts = cat(t, "/mnt/1/mounts").split("\n");
    assert.equal(mounts[0], "hostfs / hostfs ro,relatime 0 0");
    assert.equal(mounts[1], "proc /mnt proc rw,relatime 0 0");
    assert.equal(cat(t, "/mnt/mounts"), cat(t, "/mnt/self/mounts"));
    const info = cat(t, "/mnt/1/mountinfo").split("\n")[1]!.split(" ");
    assert.deepEqual([info[0], info[1], info[3], info[4], info[6], info[7]], ["2", "1", "/", "/mnt", "-", "proc"]);
  });
});

Deno.test("/proc/sys/kernel files hold the hostname and fixed limits", () => {
  withProc((t) => {
    assert.equal(cat(t, "/mnt/sys/kernel/hostname"), "box\n");
    assert.equal(cat(t, "/mnt/sys/kernel/ostype"), "Linux\n");
    assert.equal(cat(t, "/mnt/sys/kernel/pid_max"), "4194304\n");
    assert.equal(cat(t, "/mnt/sys/vm/overcommit_memory"), "0\n");
  });
});

Deno.test("devfs offers the memory devices, a placeholder for tty (the open syscall resolves it), and stdio links through /proc/self/fd", () => {
  withProc((t) => {
    // devfs over /secret (any directory will do); its stdio links are absolute
    // (/proc/self/fd/N), so only their targets are checked here.
    const at = walk(t.ctx, t.vfs.root(), "/secret", true);
    t.vfs.mount(at, new DevFilesystem(), { readonly: false });
    const z = t.vfs.openAt(t.ctx, t.vfs.root(), "/secret/zero", O_RDONLY, 0);
    const b = new Uint8Array(4).fill(7);
    assert.equal(z.read(b, null), 4);
    assert.deepEqual([...b], [0, 0, 0, 0]);
    z.decRef();
    assert.equal(cat(t, "/secret/null"), "");
    const tty = t.vfs.openAt(t.ctx, t.vfs.root(), "/secret/tty", O_RDONLY, 0);
    assert.ok(tty instanceof TtyDeviceFile && tty.kind === "tty");
    tty.decRef();
    assert.equal(t.vfs.readlinkAt(t.ctx, t.vfs.root(), "/secret/stdout"), "/proc/self/fd/1");
    assert.equal(t.vfs.readlinkAt(t.ctx, t.vfs.root(), "/secret/fd"), "/proc/self/fd");
    // nodev makes every device EACCES.
    const m2 = t.vfs.mount(walk(t.ctx, t.vfs.root(), "/secret/pts", true), new DevFilesystem(), { readonly: false, flags: 4 });
    assert.ok(m2.nodev);
    assert.throws(() => t.vfs.openAt(t.ctx, t.vfs.root(), "/secret/pts/null", O_RDONLY, 0), EACCES);
  });
});

Deno.test("a generated /proc file without a write handler opens for writing as root and refuses the write (EINVAL); the host root stays EROFS", () => {
  withProc((t) => {
    const f = t.vfs.openAt(t.ctx, t.vfs.root(), "/mnt/1/stat", O_WRONLY, 0);
    assert.throws(() => f.write(new Uint8Array(1), null), EINVAL);
    f.decRef();
    // Another user is stopped by the mode (0444).
    const other = { root: t.vfs.root(), creds: new Credentials(1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000) };
    assert.throws(() => t.vfs.openAt(other, t.vfs.root(), "/mnt/1/stat", O_WRONLY, 0), EACCES);
    // The host root stays read-only.
    assert.throws(() => t.vfs.openAt(t.ctx, t.vfs.root(), "/etc/passwd", O_WRONLY, 0), EROFS);
  });
});

Deno.test("creating a file or directory under /proc is ENOENT, as Linux's proc lookups fail first", () => {
  withProc((t) => {
    assert.throws(() => t.vfs.openAt(t.ctx, t.vfs.root(), "/mnt/newfile", O_WRONLY | O_CREAT, 0o644), ENOENT);
    assert.throws(() => t.vfs.openAt(t.ctx, t.vfs.root(), "/mnt/1/newfile", O_WRONLY | O_CREAT, 0o644), ENOENT);
    assert.throws(() => t.vfs.mkdirAt(t.ctx, t.vfs.root(), "/mnt/d", 0o755), ENOENT);
  });
});
