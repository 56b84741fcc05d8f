/**
 * The writable file API, natively and in the sentry. Natively a program runs in a fresh
 * directory under /tmp; in the sentry the same program runs in another fresh (and empty) host
 * directory, where it writes to the overlay: afterwards that host directory must still be
 * empty. stdout, stderr and the exit status must be the same.
 */

import assert from "node:assert/strict";
import { nativeOutput, refusedOn, roundTrip } from "./_checkpoint.ts";
import { assertSameAsNative, compileC, REPO_ROOT, runNative, runSentry, type RunResult } from "./_harness.ts";

/** Runs argv natively and in the sentry, each in a scratch directory, and compares. */
async function assertSameInScratch(argv: readonly string[]): Promise<RunResult> {
  const nativeDir = Deno.makeTempDirSync({ prefix: "sentry-files-native-" });
  const sentryDir = Deno.makeTempDirSync({ prefix: "sentry-files-sandbox-" });
  try {
    const native = await runNative(argv, { cwd: nativeDir });
    const sentry = await runSentry(argv, { cwd: sentryDir });
    const what = argv.join(" ");
    assert.equal(sentry.stdout, native.stdout, `stdout of ${what} differs (actual: sentry)`);
    assert.equal(sentry.stderr, native.stderr, `stderr of ${what} differs (actual: sentry)`);
    assert.equal(sentry.code, native.code, `exit status of ${what} differs (actual: sentry)`);
    if (Deno.env.get("SENTRY_TEST_TARGET") !== "native") {
      assert.deepEqual([...Deno.readDirSync(sentryDir)], [], "the sandbox wrote to the host directory");
    }
    return native;
  } finally {
    Deno.removeSync(nativeDir, { recursive: true });
    Deno.removeSync(sentryDir, { recursive: true });
  }
}

function sh(script: string): string[] {
  return ["/bin/sh", "-c", "set -e\n" + script];
}

Deno.test("the file API and its error cases behave as natively (tests/c/fileapi.c)", async () => {
  await assertSameInScratch([await compileC("fileapi")]);
});

Deno.test("large reads of a host file (copied to the app from a mapping) give the same bytes as natively", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "sentry-files-big-" });
  try {
    const data = new Uint8Array(3 << 20);
    for (let o = 0; o < data.length; o += 65536) crypto.getRandomValues(data.subarray(o, o + 65536));
    // The native run appends to its copy; the sentry's appends go to the overlay.
    Deno.mkdirSync(`${dir}/native`);
    Deno.mkdirSync(`${dir}/sentry`);
    Deno.writeFileSync(`${dir}/native/big`, data);
    Deno.writeFileSync(`${dir}/sentry/big`, data);
    // Whole-file reads, reads at odd offsets and sizes, the tail (past the mapping's reach is
    // pread), and a description that keeps reading after the file grew (in the sentry: after
    // the append copied it up, the description follows the copy).
    const script = `md5sum big; dd if=big bs=100000 skip=7 2>/dev/null | md5sum; tail -c 70001 big | md5sum
      dd if=big bs=65536 count=3 skip=47 2>/dev/null | md5sum
      exec 3<big; dd bs=1048576 count=2 <&3 2>/dev/null | md5sum; echo appended >> big; cat <&3 | md5sum`;
    const native = await runNative(sh(script), { cwd: `${dir}/native` });
    const sentry = await runSentry(sh(script), { cwd: `${dir}/sentry` });
    assert.equal(native.code, 0, native.stderr);
    assert.deepEqual(sentry, native);
    assert.deepEqual(Deno.readFileSync(`${dir}/sentry/big`), data);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("set-ID bits on write and chown, RLIMIT_FSIZE with SIGXFSZ, and O_TMPFILE behave as natively", async () => {
  const native = await assertSameInScratch([await compileC("file_limits")]);
  assert.match(native.stdout, /write at the limit = -1 File too large\nSIGXFSZ seen: 1\n/);
  assert.match(native.stdout, /linkat AT_SYMLINK_FOLLOW = 0\nnlink after link 1\nnamed: hidden\n/);
});

Deno.test("tar -xzf of a tarball then tar -c of the extracted tree gives back the same archive", async () => {
  const r = await assertSameInScratch(sh(`
    mkdir -p src/d/e src/empty
    echo hello > src/a
    seq 1 20000 > src/big
    ln -s a src/link
    ln src/a src/hard
    chmod 750 src/d
    chmod 4755 src/a
    touch -d '2020-01-02 03:04:05' src/a src/big src/d/e src/empty src/d src
    tar --sort=name -czf t.tgz src
    mkdir out
    tar -xzf t.tgz -C out
    tar --sort=name -cf one.tar src
    tar --sort=name -cf two.tar -C out src
    cmp one.tar two.tar && echo same archive
    stat -c '%n %a %s %F %h %Y' out/src/a out/src/big out/src/hard
    stat -c '%n %a %F %h %Y' out/src/d out/src/d/e
    stat -c '%n %s %F' out/src/link
    ls -R out | sort
  `));
  assert.match(r.stdout, /same archive/);
});

Deno.test("cp -a, mv, ln -s, chmod, touch -d, stat, find -newer, du, sed -i and flock behave as natively", async () => {
  await assertSameInScratch(sh(`
    mkdir -p d1/sub
    echo one > d1/f
    head -c 10000 /dev/zero > d1/z
    chmod 640 d1/f
    touch -d '2021-05-06 07:08:09' d1/f d1/sub
    cp -a d1 d2
    stat -c '%n %a %s %F %Y' d2/f
    stat -c '%n %a %F %Y' d2/sub
    stat -c '%n %a %s' d2/z
    mv d2 d3
    mv d3/f d3/g
    ls d3
    ln -s ../d1/f d3/lnk
    readlink d3/lnk
    cat d3/lnk
    stat -c '%n %a %F' d3/lnk
    chmod u+x,g-r,o+t d3/g
    stat -c '%a' d3/g
    touch -d '2000-01-01' old
    touch -d '2030-01-01' future
    find . -newer old -name 'g' | sort
    find . ! -newer old | sort
    du -sk d1/z
    printf 'alpha\\nbeta\\n' > s
    sed -i 's/alpha/ALPHA/' s
    cat s
    stat -c '%a %s %F' s
    rm -r d3
    exec 9>lk
    flock 9
    flock -n lk -c 'echo got it' || echo "busy: $?"
    flock -u 9
    flock -n lk -c 'echo free now'
    flock -s lk -c 'flock -s -n lk -c "echo two shared"'
    ls
  `));
});

Deno.test("mkfifo, ln, rm -rf, mv of a populated directory and chmod -R behave as natively", async () => {
  await assertSameInScratch(sh(`
    mkfifo p
    (echo through the fifo > p) &
    cat p
    wait
    mkdir -p a/b/c
    for i in 1 2 3; do echo $i > a/b/c/f$i; done
    ln a/b/c/f1 a/hard
    stat -c '%h' a/hard
    mv a z
    find z | sort
    chmod -R go-rwx z
    find z -printf '%p %m\\n' | sort
    rm -rf z
    ls -A
  `));
});

Deno.test("host files are unchanged after rm -rf /usr /etc and echo x > /bin/ls in the sandbox", async () => {
  const files = ["/bin/ls", "/etc/passwd", "/usr/bin/env"];
  const before = files.map((f) => Deno.readFileSync(f));
  const r = await runSentry(sh(`
    rm -rf /usr /etc 2>/dev/null || true
    echo x > /bin/ls 2>/dev/null || echo "cannot write /bin/ls"
    ls /usr /etc 2>&1 || true
  `));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /cannot write \/bin\/ls/); // /bin -> usr/bin is gone with /usr
  const r2 = await runSentry(sh("echo x > /bin/ls; cat /bin/ls; echo y >> /etc/passwd; tail -1 /etc/passwd"));
  assert.equal(r2.stdout, "x\ny\n");
  files.forEach((f, i) => assert.deepEqual(Deno.readFileSync(f), before[i], `${f} changed on the host`));
  assert.ok(Deno.statSync("/usr/bin").isDirectory);
});

Deno.test("a config.json root with readonly true refuses writes with EROFS", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "sentry-files-ro-" });
  try {
    Deno.mkdirSync(`${dir}/rootfs/bin`, { recursive: true });
    const prog = await compileC("fileapi", { static: true });
    Deno.copyFileSync(prog, `${dir}/rootfs/bin/fileapi`);
    Deno.chmodSync(`${dir}/rootfs/bin/fileapi`, 0o755);
    for (const readonly of [true, false]) {
      Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify({
        process: { args: ["/bin/fileapi"], cwd: "/" },
        root: { path: "rootfs", readonly },
      }));
      const r = await new Deno.Command(`${REPO_ROOT}/sentry`, {
        args: ["run", "--bundle", dir], stdout: "piped", stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(r.stdout);
      if (readonly) assert.match(out, /^fd >= 0 = 0$/m, "creat on a read-only root must fail");
      if (readonly) assert.match(out, /mkdir\("d", 0777\) = -1 EROFS/);
      else assert.match(out, /mkdir\("d", 0777\) = 0/);
    }
    assert.deepEqual([...Deno.readDirSync(`${dir}/rootfs`)].map((e) => e.name), ["bin"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("tmpfs file data: shared mappings in two processes, truncation, sparse files and holes, as natively (tests/c/tmpfs_data.c)", async () => {
  const r = await assertSameInScratch([await compileC("tmpfs_data")]);
  assert.match(r.stdout, /done\n$/);
});

Deno.test("read and write of /dev/null, /dev/zero and /dev/full with bad buffers answer as natively (/dev/null never touches the buffer)", async () => {
  await assertSameAsNative([await compileC("dev_bad_buffers")]);
});

Deno.test("xattrs of special files (LTP fgetxattr02): a FIFO, /dev/null's numbers, a loop block device node (which opens) and a socket give ENODATA for a user.* get and EPERM for a user.* set or remove; a pipe's trusted.* set is EOPNOTSUPP; sockets have sockfs's system.sockprotoname (the protocol's name, listed), as natively (tests/c/xattr_special_files.c)", async () => {
  await assertSameAsNative([await compileC("xattr_special_files")]);
});

Deno.test("file_getattr(2)/file_setattr(2) on tmpfs: argument checks in order, the path (ENOTDIR for a file as dirfd: LTP file_attr04; AT_EMPTY_PATH, O_PATH EBADF, symlinks EOPNOTSUPP), the inode flags as FS_XFLAG_* set and read back (also through FS_IOC_GETFLAGS), what tmpfs does not keep EOPNOTSUPP or EINVAL by file type, a pipe EOPNOTSUPP, as natively (tests/c/file_attr.c)", async () => {
  await assertSameAsNative([await compileC("file_attr")]);
});

Deno.test("chattr's inode flags on tmpfs (LTP setxattr03): FS_IOC_GETFLAGS/SETFLAGS keep only what tmpfs keeps (EOPNOTSUPP), the owner sets them and immutable/append-only need CAP_LINUX_IMMUTABLE; immutable and append-only files and directories refuse writes, truncation, chmod/chown/utimes, xattrs, unlink, rename and link as natively (tests/c/inode_flags.c)", async () => {
  await assertSameAsNative([await compileC("inode_flags")]);
});

Deno.test("random(4)'s ioctls on /dev/urandom and /dev/random: RNDGETENTCNT agrees with entropy_avail, the writers' EPERM, EINVAL and EFAULT, unknown commands EINVAL, /dev/null ENOTTY, as natively (tests/c/random_ioctl.c)", async () => {
  await assertSameAsNative([await compileC("random_ioctl")]);
});

Deno.test("a read or write blocked while another thread closes its descriptor keeps the file and completes, as natively (tests/c/close_blocked.c)", async () => {
  const r = await assertSameAsNative([await compileC("close_blocked")]);
  // The blocked calls finish with the data, not EBADF: the fixture's whole story ran.
  assert.match(r.stdout, /pipe read: ret=5 err=- data=hello\n/);
  assert.match(r.stdout, /dgram read: ret=5 err=- data=dgram\n$/);
});

Deno.test("a file on a noexec tmpfs never maps executable (mmap EPERM, mprotect EACCES), a mapped or open file keeps its mount busy, and umount2(\".\") takes the topmost of mounts stacked over the cwd, as natively", async () => {
  await assertSameAsNative([await compileC("mount_noexec")]);
});

Deno.test("a mapping's first touch of a page of a size-limited tmpfs file allocates it, and is SIGBUS once the mount is full (shared and private mappings, a forked child, read(2) into a mapping, mprotect), as natively (tests/c/tmpfs_size_mmap.c)", async () => {
  await assertSameAsNative([await compileC("tmpfs_size_mmap")]);
});

Deno.test("tmpfs's size= counts allocated pages (ftruncate allocates none, fallocate all or none, a write stops at the first page that does not fit, a long symlink takes a page), /proc/self/mounts shows size= and mode=, statfs carries the mount flags and MS_NOATIME keeps atime, as natively (tests/c/tmpfs_size.c)", async () => {
  await assertSameAsNative([await compileC("tmpfs_size")]);
});

Deno.test("POSIX ACLs on tmpfs: set, read back, validated, folded into the mode, rewritten by chmod, inherited from a directory's default ACL instead of the umask, enforced for named users and groups under the mask, owner-only, none on symlinks; a write removes security.capability; as natively (tests/c/posix_acl.c)", async () => {
  await assertSameAsNative([await compileC("posix_acl")]);
});

Deno.test("mount -t overlay over tmpfs directories merges them, copies up on change (data, set-group-ID, user xattrs, ACLs) without touching the lower layer, hides removed lower files and refuses bad options, as natively (tests/c/overlay_mount.c)", async () => {
  await assertSameAsNative([await compileC("overlay_mount")]);
});

Deno.test("opening through a mounted overlay opens the layer's real file and directory: the lower layer's inotify watch and fanotify inode and filesystem marks hear the open and close, a mount mark on the layer does not, a copied-up file is heard on the upper layer, as natively (tests/c/overlay_fsnotify.c)", async () => {
  await assertSameAsNative([await compileC("overlay_fsnotify")]);
});

Deno.test("the mount API (fsopen, fsconfig, fsmount, move_mount, open_tree) and mount(2)'s MS_MOVE: detached mounts usable as dirfds, attached and moved, never under themselves; clones with and without submounts; unmounted mounts neither cloned nor bound; no move under a shared parent; as natively (tests/c/mount_api.c)", async () => {
  await assertSameAsNative([await compileC("mount_api")]);
});

Deno.test("mount_setattr(2): its checks in Linux's order, attributes set and cleared on a mount or recursively, the atime modes, propagation, AT_EMPTY_PATH, EPERM without CAP_SYS_ADMIN, as natively (tests/c/mount_setattr.c)", async () => {
  await assertSameAsNative([await compileC("mount_setattr")]);
});

Deno.test("move_mount's MOVE_MOUNT_BENEATH: a clone or an attached mount goes beneath the mount at a path, uncovered once it is unmounted; EINVAL beneath the root, a non-root path, a file, or its own parent, as natively (tests/c/move_mount_beneath.c)", async () => {
  await assertSameAsNative([await compileC("move_mount_beneath")]);
});

Deno.test("mount(2)'s MS_MOVE (with its submounts; EINVAL for no mount point or a shared parent or an unbindable tree onto a shared one, ELOOP under itself or for the root, EPERM without CAP_SYS_ADMIN) and pivot_root(2) (ENOTDIR, ENOENT, EINVAL, EBUSY as Linux; the old root at put_old; pivot_root(\".\", \".\") then umount2(\".\", MNT_DETACH); other tasks' root and cwd moved) in a mount namespace of its own, then a devpts instance of its own there (options checked, its first pty 0), as natively (tests/c/pivot_move.c)", async () => {
  await assertSameAsNative([await compileC("pivot_move")]);
});

Deno.test("a tmpfs mounted in a user namespace belongs to the mounter's fsuid and fsgid, its uid= and gid= are ids of that namespace (EINVAL unmapped), as natively (tests/c/tmpfs_owner.c)", async () => {
  await assertSameAsNative([await compileC("tmpfs_owner")]);
});

Deno.test("a program run from a sealed memfd (fexecve, as crun re-executes itself) finds its /proc/self/exe: the memfd's name, opening to the memfd with its seals, as natively (tests/c/memfd_exe.c)", async () => {
  await assertSameAsNative([await compileC("memfd_exe")]);
});

Deno.test("shared subtrees and mount namespaces: mounts and unmounts propagate between peers and from masters to slaves (never back), MS_SLAVE/MS_SHARED/MS_PRIVATE/MS_UNBINDABLE with and without MS_REC, propagated mounts tucked under what is there, unshare(CLONE_NEWNS) copies keep shared mounts propagating and private ones apart, setns back, mountinfo polls, as natively (tests/c/mount_propagation.c)", async () => {
  await assertSameAsNative([await compileC("mount_propagation")]);
});

Deno.test("binds of / onto / in a shared chroot stack on the topmost mount and double by propagation, an unmount of / takes every tucked copy, and unmounting the caller's root remounts it read-only, as natively (tests/c/mount_stack.c)", async () => {
  await assertSameAsNative([await compileC("mount_stack")]);
});

Deno.test("a mount namespace made with a new user namespace is locked: copied submounts stay (umount EINVAL, non-recursive bind EINVAL), locked flags stay (remount EPERM), shared mounts come as slaves, a tree propagated in keeps its locked part and hides what it covered after a lazy unmount, devtmpfs is EPERM there, as natively (tests/c/mount_locked.c)", async () => {
  await assertSameAsNative([await compileC("mount_locked")]);
});

Deno.test("deep mount trees: a chain of 15000 shared slaves propagates a mount and its unmount to the bottom, 15000 nested mounts are copied by unshare(CLONE_NEWNS) and unmounted, as natively (tests/c/mount_deep.c)", async () => {
  await assertSameAsNative([await compileC("mount_deep")]);
});

Deno.test("a checkpoint refuses, in one line, a sandbox with a shared mount, a task in a mount namespace of its own or a root changed by pivot_root, and the sandbox goes on", async () => {
  const cases: Array<[string, string]> = [
    [
      "mkdir -p /tmp/p && mount -t tmpfs t /tmp/p && mount --make-shared /tmp/p && echo ready && { read -r go || :; } && echo done",
      "a mount is shared, a slave or unbindable (mount propagation): not saved yet",
    ],
    [
      "unshare -m sh -c 'echo ready; read -r go || :' && echo done",
      "a task is in a mount namespace of its own (unshare or clone with CLONE_NEWNS): not saved yet",
    ],
    [
      // echo and read are the shell's own: the new root holds no program.
      "mkdir -p /tmp/n && mount -t tmpfs t /tmp/n && mkdir /tmp/n/old && cd /tmp/n && pivot_root . old && echo ready && { read -r go || :; } && echo done",
      "the sandbox's root was changed by pivot_root: not saved yet",
    ],
  ];
  for (const [script, why] of cases) {
    const out = await refusedOn("ready\n", ["/bin/sh", "-c", script]);
    assert.deepEqual([out.code, out.stdout, out.stderr, out.refusal], [0, "ready\ndone\n", "", `checkpoint: ${why}`], script);
  }
});

Deno.test("Landlock (ABI 3): reads, writes, listings, making and removing files, execution, renames across directories (REFER, EXDEV) and truncation are confined to the granted trees, layers intersect, forks inherit, descriptors keep the rights they were opened with, as natively (tests/c/landlock.c)", async () => {
  await assertSameAsNative([await compileC("landlock")]);
});

Deno.test("Landlock (ABI 4 to 6): TCP bind and connect by port, ioctl on devices by the rights of the open, and the scopes of signals and abstract unix sockets, as natively (tests/c/landlock_net_scope.c)", async () => {
  await assertSameAsNative([await compileC("landlock_net_scope")]);
});

Deno.test("preadv2 and pwritev2: offset -1 uses the file offset, RWF_APPEND, RWF_NOAPPEND, RWF_NOWAIT, and their errors, as natively (tests/c/rwv2.c)", async () => {
  await assertSameAsNative([await compileC("rwv2")]);
});

Deno.test("sendfile from a file onto its own end repeats the bytes between the offset and the end, as natively (and in whole chunks: gVisor's SendFileToSelf timed out)", async () => {
  await assertSameAsNative([await compileC("sendfile_self")]);
});

Deno.test("native AIO: the ring programs read themselves, reads, writes, fsync and polls, eventfd, errors, mremap and io_destroy behave as natively (tests/c/aio.c)", async () => {
  await assertSameAsNative([await compileC("aio")]);
});

Deno.test("openat2: open_how's size, flag, mode and resolve checks, and each RESOLVE_* flag (BENEATH, IN_ROOT, NO_SYMLINKS, NO_MAGICLINKS, NO_XDEV with nd_jump_root's unset-root quirk, CACHED) behave as natively (tests/c/openat2.c)", async () => {
  const r = await assertSameAsNative([await compileC("openat2")]);
  assert.match(r.stdout, /IN_ROOT \.\.\/\.\.\/\.\.\/f\s+ok file/);
  assert.match(r.stdout, /BENEATH \.\.\/outside\s+EXDEV/);
});

Deno.test("ETXTBSY: a running program (or its fork) refuses open for writing, O_TRUNC, creat and truncate, and a file open for writing refuses execve, until the last holder goes, as natively (tests/c/etxtbsy.c)", async () => {
  await assertSameAsNative([await compileC("etxtbsy")]);
});

Deno.test("the lowest free descriptor among thousands open (after closes, dup2 high, F_DUPFD, in a forked child), as natively (tests/c/fd_lowest.c)", async () => {
  await assertSameAsNative([await compileC("fd_lowest")]);
});

Deno.test("lseek SEEK_DATA/SEEK_HOLE on tmpfs, an overlay over tmpfs (lower and upper), a memfd (mapped and not) and a host file: written pages are data, unwritten, punched and fallocated ones holes, ENXIO at the end and for a negative offset, as natively (tests/c/seek_hole.c)", async () => {
  await assertSameAsNative([await compileC("seek_hole")]);
});

Deno.test("name_to_handle_at and open_by_handle_at on a tmpfs: the EOVERFLOW size probe, errors in Linux's order, AT_HANDLE_FID on procfs, files, directories and symlinks opened by handle, another link, an unlinked open file, ESTALE once deleted or for another filesystem, EPERM without CAP_DAC_READ_SEARCH, as natively (tests/c/fhandle.c)", async () => {
  await assertSameAsNative([await compileC("fhandle")]);
});

Deno.test("fcntl F_NOTIFY (dnotify): which operations signal which DN_* watchers of a directory and of its entries, DN_RENAME only within one directory, si_fd/si_code/si_band or plain SIGIO, one shot and DN_MULTISHOT, added masks, removal by a zero mask or a close, as natively (tests/c/dnotify.c)", async () => {
  await assertSameAsNative([await compileC("dnotify")]);
});

Deno.test("a checkpoint refuses, in one line, a sandbox with a directory watched by F_NOTIFY, and the sandbox goes on", async () => {
  const out = await refusedOn("watching\n", [await compileC("dnotify"), "hold"]);
  assert.deepEqual(
    [out.code, out.stdout, out.stderr, out.refusal],
    [0, "watching\ndone\n", "", "checkpoint: a directory is watched with F_NOTIFY (dnotify): not saved yet"],
  );
});

Deno.test("sysfs(2) numbers the registered filesystem types and ustat(2) finds a mount by device, errors in Linux's order, as natively (tests/c/sysfs_ustat.c)", async () => {
  await assertSameAsNative([await compileC("sysfs_ustat")]);
});

Deno.test("lsm_list_modules(2) names capabilities and Landlock; lsm_get_self_attr(2) and lsm_set_self_attr(2) check their arguments in Linux's order, then EOPNOTSUPP, as natively (tests/c/lsm.c)", async () => {
  await assertSameAsNative([await compileC("lsm")]);
});

Deno.test("cachestat(2) on tmpfs counts written pages and a mapping's writes, not holes, over the range asked, with errors in Linux's order, as natively (tests/c/cachestat.c)", async () => {
  await assertSameAsNative([await compileC("cachestat")]);
});

Deno.test("listing a directory moves its atime under relatime as natively: after a create, not again at once, never through O_NOATIME (tests/c/dir_atime.c)", async () => {
  await assertSameAsNative([await compileC("dir_atime")]);
});

Deno.test("names are bytes: names that are not UTF-8 are created, listed, renamed, linked, read back, bound and exec'd through exactly, on the overlay, tmpfs and a host directory, with getcwd, readlink, inotify, comm and NAME_MAX counting bytes, as natively (tests/c/name_bytes.c)", async () => {
  const host = Deno.makeTempDirSync({ prefix: "sentry-name-bytes-" });
  try {
    const made = await runNative(sh(
      `cd '${host}'; printf one > "$(printf 'h\\377')"; printf two > "$(printf 'h\\303\\251')"; ` +
        `printf three > "$(printf '\\357\\273\\277h')"; ln -s "$(printf '\\376')" "$(printf 's\\375')"`,
    ));
    assert.equal(made.code, 0, made.stderr);
    await assertSameAsNative([await compileC("name_bytes"), host]);
  } finally {
    Deno.removeSync(host, { recursive: true });
  }
  // Through a checkpoint and restore the name keeps its bytes (kernel/checkpoint/escaped_text.ts).
  const exe = await compileC("name_bytes");
  assert.equal(await nativeOutput(exe, ["--wait"]), "made: 1\nkept: 1\n");
  const dir = Deno.makeTempDirSync();
  try {
    await roundTrip({ argv: [exe, "--wait"], ready: "made: 1\n", image: `${dir}/image.cbor`, before: "made: 1\n", expected: "made: 1\nkept: 1\n" });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
