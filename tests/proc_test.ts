/**
 * procfs, devfs and mounts as programs meet them: ps, free, ls, readlink and C fixtures, run
 * natively and in the sentry where the output can be compared (numbers that differ between
 * two runs, such as PIDs, inode numbers and sizes, are compared by structure), and in the
 * sentry alone where a native run would change the host (mount) or cannot show the sandbox's
 * boundary (hostile paths in a small root filesystem).
 */

import assert from "node:assert/strict";
import { assertSameAsNative, compileC, REPO_ROOT, runNative, runSentry } from "./_harness.ts";

const SENTRY = `${REPO_ROOT}/sentry`;

async function sentryRun(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  const out = await new Deno.Command(SENTRY, { args, stdin: "null", stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr), code: out.code };
}

Deno.test("ps aux lists the sandbox's processes with procps's columns", async () => {
  // Wait until the background child has exec'd sleep, so that ps sees its final command line.
  const script = "sleep 30 & while [ \"$(cat /proc/$!/comm)\" != sleep ]; do :; done; ps aux; kill $!";
  const native = await runNative(["/bin/sh", "-c", script]);
  const r = await runSentry(["/bin/sh", "-c", script]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  const lines = r.stdout.trimEnd().split("\n");
  assert.equal(lines[0], native.stdout.split("\n")[0]); // the same header
  const rows = lines.slice(1).map((l) => l.trim().split(/\s+/));
  // Exactly the sandbox's processes: the shell (init), sleep and ps (cat ran in between).
  assert.deepEqual(rows.map((c) => [c[0], c.slice(10).join(" ")]), [
    ["root", `/bin/sh -c ${script}`],
    ["root", "sleep 30"],
    ["root", "ps aux"],
  ]);
  assert.deepEqual(rows.slice(0, 2).map((c) => c[1]), ["1", "2"]);
  for (const c of rows) {
    assert.match(c[2]!, /^\d+\.\d$/); // %CPU
    assert.match(c[4]!, /^[1-9]\d*$/); // VSZ
    assert.equal(c[6], "?"); // no terminal
    assert.match(c[7]!, /^[RSZ]/); // STAT
    assert.match(c[9]!, /^\d+:\d\d$/); // TIME
  }
});

Deno.test("free -m prints its header, Mem and Swap lines", async () => {
  const native = await runNative(["/usr/bin/free", "-m"]);
  const r = await runSentry(["/usr/bin/free", "-m"]);
  assert.equal(r.code, 0, r.stderr);
  const shape = (s: string) => s.trimEnd().split("\n").map((l) => l.trim().split(/\s+/).map((w) => /^\d+$/.test(w) ? "N" : w));
  assert.deepEqual(shape(r.stdout), shape(native.stdout));
  const mem = r.stdout.split("\n")[1]!.trim().split(/\s+/).slice(1).map(Number);
  assert.ok(mem[0]! > 0 && mem[1]! >= 0 && mem[2]! > 0, r.stdout); // total, used, free
});

Deno.test("/proc/config.gz is the sandbox's kernel configuration: zcat reads it, it names uname's release, what the sandbox has and what it lacks", async () => {
  const r = await runSentry(["/bin/sh", "-c", "gzip -t /proc/config.gz && zcat /proc/config.gz && uname -r"]);
  assert.equal(r.code, 0, r.stderr);
  const release = r.stdout.trimEnd().split("\n").at(-1)!;
  assert.ok(r.stdout.includes(`# Linux/x86 ${release} Kernel Configuration`), r.stdout);
  for (const on of ["EVENTFD", "USERFAULTFD", "USER_NS", "PID_NS", "NET_NS", "SECCOMP_FILTER", "SYSVIPC"]) assert.match(r.stdout, new RegExp(`^CONFIG_${on}=y$`, "m"));
  for (const off of ["NUMA", "HAVE_ARCH_USERFAULTFD_MINOR", "IO_URING"]) assert.match(r.stdout, new RegExp(`^# CONFIG_${off} is not set$`, "m"));
});

Deno.test("/proc/self/smaps: sizes, resident and private counts, Anonymous, Locked and VmFlags of shared, private, file, locked and MADV_DONTFORK mappings, as natively (tests/c/smaps.c)", async () => {
  await assertSameAsNative([await compileC("smaps")]);
});

Deno.test("/proc/self/maps shows the program's code, data, heap, stack, libraries and mmap changes", async () => {
  await assertSameAsNative([await compileC("proc_maps")]);
});

Deno.test("ioctl(PROCMAP_QUERY) on /proc/self/maps: the covering or next mapping, filtered by permissions and file backing, its bounds, flags, offset, inode, device and name, and the argument checks, as natively (tests/c/procmap_query.c)", async () => {
  const r = await assertSameAsNative([await compileC("procmap_query")]);
  assert.match(r.stdout, /name of the file into 4 bytes = -1 ENAMETOOLONG\n/);
});

Deno.test("ls /proc/self/fd shows 0, 1, 2 and the directory being listed; the links show pipes", async () => {
  // Natively the test runner's own descriptors leak into the child: compare 0 to 3 only.
  const r = await runSentry(["/bin/ls", "/proc/self/fd"], { stdin: "" });
  assert.equal(r.stdout, "0\n1\n2\n3\n");
  const normalise = "ls -l /proc/self/fd | awk 'NR > 1 && $9 <= 3 {print $1, $9, $10, $11}' | sed -E 's/[0-9]+]/N]/; s#/proc/[0-9]+/#/proc/PID/#'";
  await assertSameAsNative(["/bin/sh", "-c", normalise], { stdin: "" });
});

Deno.test("readlink /proc/self/exe, cwd and a directory fd name the files", async () => {
  await assertSameAsNative(["/bin/readlink", "/proc/self/exe"]);
  await assertSameAsNative(["/bin/sh", "-c", "cd /usr/bin && readlink /proc/self/cwd; exec 5</etc; readlink /proc/self/fd/5; ls /proc/self/fd/5/ | grep -c passwd"]);
});

Deno.test("/proc/self/status has the caller's Pid, its parent's PPid and uid 0", async () => {
  const script = 'echo "$$"; grep -E "^(Pid|PPid|Uid|Name|State)" /proc/self/status';
  const r = await runSentry(["/bin/sh", "-c", script]);
  assert.equal(r.code, 0, r.stderr);
  const [shellPid, ...fields] = r.stdout.trimEnd().split("\n");
  assert.equal(shellPid, "1");
  assert.deepEqual(fields, ["Name:\tgrep", "State:\tR (running)", "Pid:\t2", "PPid:\t1", "Uid:\t0\t0\t0\t0"]);
});

Deno.test("/dev has the memory devices, the stdio links and devtmpfs's eight loop devices, and host stdio still works", async () => {
  await assertSameAsNative(["/bin/sh", "-c", "echo out > /dev/stdout; echo err > /dev/stderr; head -c 4 /dev/zero | od -An -tx1; cat /dev/null; cat /dev/stdin"], { stdin: "in\n" });
  const r = await runSentry(["/bin/sh", "-c", "ls /dev; cat /dev/tty"]);
  assert.equal(r.stdout, "console\ncore\nfd\nfull\nloop-control\nloop0\nloop1\nloop2\nloop3\nloop4\nloop5\nloop6\nloop7\nmqueue\nnet\nnull\nptmx\npts\nrandom\nshm\nstderr\nstdin\nstdout\ntty\nurandom\nuserfaultfd\nzero\n");
  assert.match(r.stderr, /cat: \/dev\/tty: No such device or address/);
});

Deno.test("shell redirections into /proc files and fd links work; a socket's fd link cannot be opened", async () => {
  const py = [
    "import socket, os",
    "s = socket.socket(socket.AF_UNIX)",
    "p = '/proc/self/fd/%d' % s.fileno()",
    "print(os.readlink(p).startswith('socket:['))",
    "try: open(p)",
    "except OSError as e: print(e.errno)",
  ].join("\n");
  const script = `echo -3 > /proc/self/oom_score_adj; cat /proc/self/oom_score_adj; echo out > /proc/self/fd/1; python3 -c "${py}"`;
  const r = await runSentry(["/bin/sh", "-c", script]);
  assert.equal(r.stderr, "");
  assert.equal(r.stdout, "-3\nout\nTrue\n6\n"); // inherited across fork; ENXIO
});

Deno.test("/proc/mounts lists the root, /proc, /dev, /dev/shm, /dev/pts and /sys; /sys tells glibc the CPU count", async () => {
  const r = await runSentry(["/bin/sh", "-c", "cat /proc/mounts; cat /sys/devices/system/cpu/online; nproc --all"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assert.deepEqual(lines.slice(0, 6).map((l) => l.split(" ").slice(1, 3).join(" ")), [
    "/ overlay", "/proc proc", "/dev devtmpfs", "/dev/shm tmpfs", "/dev/pts devpts", "/sys sysfs",
  ]);
  // glibc counts the cpuN directories; the online range must agree with them.
  const n = Number(lines[7]);
  assert.equal(lines[6], n > 1 ? `0-${n - 1}` : "0");
});

Deno.test("mount, umount2 and chroot work as root in the sandbox, with EBUSY and MNT_DETACH; umount of / remounts the root read-only (do_umount_root)", async () => {
  const r = await runSentry([await compileC("mounts"), "/tmp"]);
  assert.equal(r.stderr, "");
  assert.equal(r.stdout, [
    "mount proc: ok", "status visible: 1", "mount ext4: No such device",
    "umount while a file is open: Device or resource busy", "umount: ok", "status visible: 0",
    "umount again: Invalid argument", "mount tmpfs: ok", "write 4096: 4096", "write up to the size: 4096",
    "write past the size: -1 No space left on device", "mount tmpfs bad option: Invalid argument",
    "umount tmpfs: ok", "file visible: 0", "bind /etc: ok", "passwd visible: 1", "remount ro: ok",
    "chdir into it: ok", "umount busy cwd: Device or resource busy", "umount detach: ok", "chdir /: ok",
    "passwd visible: 0", "bind file on dir: Not a directory", "bind dir on file: Not a directory",
    "bind file on file: ok", "bound file reads: 5 root:", "unlink bound file: Device or resource busy",
    "umount file: ok", "after umount size: 0", "umount bad flags: Invalid argument", "umount /: ok",
    "chroot /etc: ok", "passwd at /passwd: 1", "",
  ].join("\n"));
});

/** A bundle whose rootfs holds `files`, with a host file "secret" beside the rootfs. */
async function withBundle(
  config: Record<string, unknown> | null,
  files: Record<string, string>,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "sentry-proc-test-" }));
  try {
    for (const d of ["rootfs/proc", "rootfs/dev", "rootfs/sys", "rootfs/mnt", "data"]) {
      Deno.mkdirSync(`${dir}/${d}`, { recursive: true });
    }
    Deno.writeTextFileSync(`${dir}/secret`, "host secret\n");
    Deno.writeTextFileSync(`${dir}/rootfs/secret`, "rootfs secret\n");
    Deno.writeTextFileSync(`${dir}/rootfs/inside`, "in\n");
    for (const [name, src] of Object.entries(files)) {
      Deno.copyFileSync(src, `${dir}/${name}`);
      Deno.chmodSync(`${dir}/${name}`, 0o755);
    }
    if (config !== null) Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(config));
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("hostile paths through /proc never leave the sandbox's root", async () => {
  const prog = await compileC("proc_hostile", { static: true });
  await withBundle(null, { "rootfs/prog": prog }, async (dir) => {
    const r = await sentryRun(["run", "--bundle", `${dir}/rootfs`, "--", "/prog"]);
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
    assert.ok(!r.stdout.includes("host secret"), r.stdout);
    const lines = r.stdout.split("\n").filter((l) => l !== "");
    assert.deepEqual(lines, [
      "readlink /proc/self/root: /",
      "open /proc/self/root/../../../secret: read 14 bytes: rootfs secret",
      "open /proc/1/root/../secret: read 14 bytes: rootfs secret",
      "open /proc/self/cwd/../../secret: read 14 bytes: rootfs secret",
      "readlink /proc/self/fd/9: No such file or directory",
      "open /proc/self/fd/9: No such file or directory",
      "readlink /proc/self/fd/3: /",
      "open /proc/self/fd/3/../../secret: read 14 bytes: rootfs secret",
      "open /proc/self/fd/3/inside: read 3 bytes: in",
      "cwd after chdir /proc/self/root/../..: /",
      "open secret: read 14 bytes: rootfs secret",
      "open ../secret: read 14 bytes: rootfs secret",
      "readlink /self/root: /",
      "open /self/root/../../secret: No such file or directory",
      "open /../secret: No such file or directory",
    ]);
  });
});

/** A config.json running /prog in rootfs with the given mounts. */
function spec(mounts: unknown[], args = ["/prog"], readonly = true): Record<string, unknown> {
  return {
    ociVersion: "1.0.2",
    process: { args, cwd: "/", env: ["PATH=/usr/bin:/bin"] },
    root: { path: "rootfs", readonly },
    mounts,
  };
}

Deno.test("config.json tmpfs mounts are writable with their size limit; missing mount points are created", async () => {
  const mounts = [
    { destination: "/work/scratch", type: "tmpfs", source: "tmpfs", options: ["size=64k", "mode=700"] },
    { destination: "/data", type: "bind", source: "data", options: ["bind", "ro"] },
  ];
  const script = "echo hi > /work/scratch/f && cat /work/scratch/f && stat -c '%a %U' /work/scratch && " +
    "head -c 100000 /dev/zero > /work/scratch/big; echo big=$?; echo x > /data/f; echo bind=$?; grep -c ' /work/scratch tmpfs ' /proc/mounts";
  await withBundle(spec(mounts, ["/bin/sh", "-c", script], false), {}, async (dir) => {
    // The root is the host's / under the in-memory overlay, so that sh and coreutils run.
    const cfg = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`));
    cfg.root.path = "/";
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(cfg));
    const r = await sentryRun(["run", "--bundle", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /No space left on device/);
    assert.match(r.stderr, /Read-only file system/);
    assert.equal(r.stdout, "hi\n700 root\nbig=1\nbind=2\n1\n"); // dash: 2 for a failed redirection
  });
});

Deno.test("config.json bind mounts show the host directory; noexec makes execve EACCES", async () => {
  const hello = await compileC("hello", { static: true });
  const mounts = [
    { destination: "/mnt", type: "bind", source: "data", options: ["rbind", "ro", "noexec"] },
  ];
  await withBundle(spec(mounts, ["/prog"]), { "rootfs/prog": hello, "data/hello": hello }, async (dir) => {
    const ok = await sentryRun(["run", "--bundle", dir]);
    assert.equal(ok.code, 0, ok.stderr);
    const native = await runNative([hello]);
    assert.equal(ok.stdout, native.stdout);
    // The same binary through the noexec bind mount cannot be run.
    const r = await sentryRun(["run", "--bundle", dir, "--", "/mnt/hello"]);
    assert.equal(r.code, 126, r.stderr);
    assert.equal(r.stderr, `sentry: cannot run "/mnt/hello": Permission denied\n`);
  });
});

Deno.test("config.json file bind mounts: read and written through, ro refused with EROFS, missing targets created", async () => {
  const mounts = [
    { destination: "/etc/hostname", type: "bind", source: "data/hostname", options: ["rbind", "ro", "nosuid", "nodev"] },
    { destination: "/etc/sentry-rw", type: "bind", source: "data/rw", options: ["bind", "rw"] },
    { destination: "/run/new/.containerenv", type: "bind", source: "data/env", options: ["bind", "ro"] },
  ];
  const script = "cat /etc/hostname /etc/sentry-rw /run/new/.containerenv; echo more >> /etc/sentry-rw; cat /etc/sentry-rw; " +
    "echo evil > /etc/hostname; echo ro=$?; rm /etc/sentry-rw; echo rm=$?; " +
    "grep -c -e ' /etc/hostname hostfs ro,nosuid,nodev' -e ' /etc/sentry-rw hostfs rw' /proc/mounts; " +
    "stat -c %s /etc/hostname; ls -A /run/new";
  await withBundle(spec(mounts, ["/bin/sh", "-c", script], false), {}, async (dir) => {
    const cfg = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`));
    cfg.root.path = "/";
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(cfg));
    Deno.writeTextFileSync(`${dir}/data/hostname`, "box\n");
    Deno.writeTextFileSync(`${dir}/data/rw`, "rw\n");
    Deno.writeTextFileSync(`${dir}/data/env`, "engine=test\n");
    const r = await sentryRun(["run", "--bundle", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Read-only file system/);
    assert.match(r.stderr, /Device or resource busy/);
    assert.equal(r.stdout, "box\nrw\nengine=test\nrw\nmore\nro=2\nrm=1\n2\n4\n.containerenv\n");
    // Written through to the host file; the read-only one unchanged.
    assert.equal(Deno.readTextFileSync(`${dir}/data/rw`), "rw\nmore\n");
    assert.equal(Deno.readTextFileSync(`${dir}/data/hostname`), "box\n");
  });
  // A file cannot cover a directory.
  const hello = await compileC("hello", { static: true });
  const cases: [unknown[], string][] = [
    [[{ destination: "/mnt", type: "bind", source: "secret", options: ["bind"] }], `sentry: config.json: mounts[0].destination: "/mnt" is a directory (the source is a file)\n`],
  ];
  for (const [mounts, err] of cases) {
    await withBundle(spec(mounts), { "rootfs/prog": hello }, async (dir) => {
      const r = await sentryRun(["run", "--bundle", dir]);
      assert.equal(r.code, 125, r.stderr);
      assert.equal(r.stderr, err);
    });
  }
  // On a read-only root an existing file can be covered.
  await withBundle(spec([{ destination: "/inside", type: "bind", source: "secret", options: ["bind", "ro"] }], ["/prog"]), { "rootfs/prog": hello }, async (dir) => {
    const r = await sentryRun(["run", "--bundle", dir]);
    assert.equal(r.code, 0, r.stderr);
  });
});

Deno.test("a read-only root lacking config.json's mount points gets them in memory, as runc makes them, and stays read-only; the host tree is unchanged", async () => {
  // podman run --read-only mounts tmpfs on /run and files on /etc/hosts, which images may lack.
  const tag = `sentry-ro-mp-${Deno.pid}-${Date.now()}`;
  const mounts = [
    { destination: `/${tag}/run`, type: "tmpfs", source: "tmpfs", options: ["nosuid"] },
    { destination: `/${tag}/run/sub`, type: "tmpfs", source: "tmpfs", options: [] },
    { destination: `/etc/${tag}`, type: "bind", source: "data/f", options: ["bind", "ro"] },
    { destination: `/${tag}-proc`, type: "proc", source: "proc", options: [] },
  ];
  const script = `echo x > /${tag}/run/f && cat /${tag}/run/f; echo y > /${tag}/run/sub/g && cat /${tag}/run/sub/g; ` +
    `cat /etc/${tag}; test -e /${tag}-proc/self/status; echo proc=$?; echo z > /${tag}/new; echo root=$?; ` +
    `mkdir /${tag}/d; echo mkdir=$?; grep -c ' / [a-z]* ro' /proc/mounts`;
  await withBundle(spec(mounts, ["/bin/sh", "-c", script], true), {}, async (dir) => {
    const cfg = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`));
    cfg.root.path = "/";
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(cfg));
    Deno.writeTextFileSync(`${dir}/data/f`, "bound\n");
    const r = await sentryRun(["run", "--bundle", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "x\ny\nbound\nproc=0\nroot=2\nmkdir=1\n1\n");
    for (const p of [`/${tag}`, `/etc/${tag}`, `/${tag}-proc`]) assert.throws(() => Deno.lstatSync(p), Deno.errors.NotFound);
  });
});

Deno.test("linux.maskedPaths hides directories under an empty read-only tmpfs and files under /dev/null, linux.readonlyPaths makes paths read-only, as runc does", async () => {
  const script = "ls -A /usr/share/doc | wc -l; wc -c < /etc/passwd; echo x > /usr/share/doc/f; echo dir=$?; " +
    "echo y > /var/tmp/f; echo ro=$?; echo z > /etc/passwd; echo file=$?; echo w > /var/tmp-ok; echo root=$?; " +
    "grep -E ' /(usr/share/doc|var/tmp|etc/passwd) ' /proc/mounts | cut -d' ' -f2-4 | sed 's/,.*//'";
  await withBundle(spec([], ["/bin/sh", "-c", script], false), {}, async (dir) => {
    const cfg = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`));
    cfg.root.path = "/";
    cfg.linux = { maskedPaths: ["/usr/share/doc", "/etc/passwd", "/no/such/path"], readonlyPaths: ["/var/tmp", "/no/such/dir"] };
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(cfg));
    const r = await sentryRun(["run", "--bundle", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      // runc's order: read-only paths first, then masks.
      "0\n0\ndir=2\nro=2\nfile=0\nroot=0\n/var/tmp overlay ro\n/usr/share/doc tmpfs ro\n/etc/passwd devtmpfs rw\n",
    );
  });
});

Deno.test("linux.sysctl is written into the sandbox's /proc/sys before init runs, as runc writes it; a refused value is one line and status 125", async () => {
  const script = "cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/ip_local_port_range";
  for (const [sysctl, code, out, err] of [
    [{ "net.ipv4.ip_forward": "1", "net.ipv4.ip_local_port_range": "2000 3000", "kernel.no_such_sysctl": "1" }, 0, "1\n2000\t3000\n", ""],
    [{ "net.ipv4.ip_forward": "yes" }, 125, "", `sentry: config.json: linux.sysctl: "net.ipv4.ip_forward" = "yes": Invalid argument\n`],
    [{ "net..x": "1" }, 125, "", `sentry: config.json: linux.sysctl: "net..x" is not a sysctl name\n`],
  ] as const) {
    await withBundle(spec([], ["/bin/sh", "-c", script], false), {}, async (dir) => {
      const cfg = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`));
      cfg.root.path = "/";
      cfg.linux = { sysctl };
      Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(cfg));
      const r = await sentryRun(["run", "--bundle", dir]);
      assert.equal(r.code, code, r.stderr);
      assert.equal(r.stdout, out);
      assert.equal(r.stderr, err);
    });
  }
});

Deno.test("statfs(2) of a bind mount shows the host filesystem's type, block size and size, as on Linux (df of a volume showed 0 blocks)", async () => {
  const fmt = "%t %S %b %c";
  await withBundle(spec([{ destination: "/data", type: "bind", source: "data", options: ["rbind", "ro"] }], ["/bin/sh", "-c", `stat -f -c '${fmt}' /data`], false), {}, async (dir) => {
    const cfg = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`));
    cfg.root.path = "/";
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(cfg));
    const r = await sentryRun(["run", "--bundle", dir]);
    assert.equal(r.code, 0, r.stderr);
    const native = await new Deno.Command("stat", { args: ["-f", "-c", fmt, `${dir}/data`] }).output();
    assert.equal(r.stdout, new TextDecoder().decode(native.stdout));
  });
});

Deno.test("linux.uidMappings and gidMappings: host files show their container owners (65534 outside the ranges), and a chown sets the mapped host owner, as in a runtime's user namespace", async () => {
  const script = "stat -c '%u %g' /data/host-root /data/mapped /; chown 9:10 /data/mapped; stat -c '%u %g' /data/mapped";
  await withBundle(spec([{ destination: "/data", type: "bind", source: "data", options: ["rbind", "rw"] }], ["/bin/sh", "-c", script], false), {}, async (dir) => {
    const cfg = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`));
    cfg.root.path = "/";
    cfg.linux = {
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 200000, size: 65536 }],
    };
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(cfg));
    Deno.writeTextFileSync(`${dir}/data/host-root`, "");
    Deno.writeTextFileSync(`${dir}/data/mapped`, "");
    Deno.chownSync(`${dir}/data/host-root`, 0, 0);
    Deno.chownSync(`${dir}/data/mapped`, 100007, 200008);
    const r = await sentryRun(["run", "--bundle", dir]);
    assert.equal(r.code, 0, r.stderr);
    // The root's own files (the host's /, owned by host root) are outside the ranges too.
    assert.equal(r.stdout, "65534 65534\n7 8\n65534 65534\n9 10\n");
    const st = Deno.statSync(`${dir}/data/mapped`);
    assert.deepEqual([st.uid, st.gid], [100009, 200010]);
  });
});

Deno.test("linux.uidMappings: root's capabilities stop at host files whose owner or group the mapping leaves out (shown as 65534), as Linux's capable_wrt_inode_uidgid in runc's user namespace", async () => {
  const say = (what: string, cmd: string) => `if ${cmd} 2>/dev/null; then echo "${what} ok"; else echo "${what} refused"; fi`;
  const script = [
    "stat -c '%n %u %g' /data/unmapped-file /data/unmapped-dir /data/mapped-file",
    say("read unmapped (other r)", "cat /data/unmapped-file >/dev/null"),
    say("write unmapped", "sh -c 'echo x >> /data/unmapped-file'"),
    say("chmod unmapped", "chmod 666 /data/unmapped-file"),
    say("chown unmapped", "chown 0:0 /data/unmapped-file"),
    say("utimes unmapped", "touch -d 2001-01-01 /data/unmapped-file"),
    say("list unmapped dir", "ls /data/unmapped-dir"),
    say("create in unmapped dir", "sh -c ': > /data/unmapped-dir/new'"),
    say("create in /data (host root's)", "sh -c ': > /data/new'"),
    say("write mapped (another user's 0600)", "sh -c 'echo x >> /data/mapped-file'"),
    say("chmod mapped", "chmod 644 /data/mapped-file"),
    say("create in mapped dir", "sh -c ': > /data/mapped-dir/new'"),
  ].join("; ");
  await withBundle(spec([{ destination: "/data", type: "bind", source: "data", options: ["rbind", "rw"] }], ["/bin/sh", "-c", script], false), {}, async (dir) => {
    const cfg = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`));
    cfg.root.path = "/";
    cfg.linux = {
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 200000, size: 65536 }],
    };
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(cfg));
    const file = (name: string, uid: number, gid: number, mode: number) => {
      Deno.writeTextFileSync(`${dir}/data/${name}`, "data\n");
      Deno.chownSync(`${dir}/data/${name}`, uid, gid);
      Deno.chmodSync(`${dir}/data/${name}`, mode);
    };
    file("unmapped-file", 4242, 4242, 0o644);
    file("mapped-file", 100007, 200008, 0o600);
    Deno.mkdirSync(`${dir}/data/unmapped-dir`, { mode: 0o700 });
    Deno.mkdirSync(`${dir}/data/mapped-dir`, { mode: 0o700 });
    Deno.chownSync(`${dir}/data/mapped-dir`, 100005, 200005);
    const r = await sentryRun(["run", "--bundle", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, [
      "/data/unmapped-file 65534 65534", "/data/unmapped-dir 65534 65534", "/data/mapped-file 7 8",
      "read unmapped (other r) ok", "write unmapped refused", "chmod unmapped refused", "chown unmapped refused",
      "utimes unmapped refused", "list unmapped dir refused", "create in unmapped dir refused", "create in /data (host root's) refused",
      "write mapped (another user's 0600) ok", "chmod mapped ok", "create in mapped dir ok", "",
    ].join("\n"));
    // The host files are as they were, but for what the mapped owner's files allowed.
    assert.equal(Deno.readTextFileSync(`${dir}/data/unmapped-file`), "data\n");
    assert.equal(Deno.statSync(`${dir}/data/unmapped-file`).mode! & 0o7777, 0o644);
    assert.equal(Deno.readTextFileSync(`${dir}/data/mapped-file`), "data\nx\n");
    assert.deepEqual([...Deno.readDirSync(`${dir}/data/unmapped-dir`)], []);
  });
});

Deno.test("a bad mount entry in config.json is one line and status 125", async () => {
  const cases: [unknown[], string][] = [
    [[{ destination: "/mnt", type: "ext4", source: "/dev/sda" }], `sentry: config.json: mounts[0].type: "ext4" is not supported (expected proc, sysfs, tmpfs, devpts, mqueue, cgroup or bind)\n`],
    [[{ destination: "/mnt", type: "bind", source: "nowhere" }], "No such file or directory\n"],
    [[{ destination: "/inside", type: "proc" }], `sentry: config.json: mounts[0].destination: "/inside" is not a directory\n`],
  ];
  const hello = await compileC("hello", { static: true });
  for (const [mounts, err] of cases) {
    await withBundle(spec(mounts), { "rootfs/prog": hello }, async (dir) => {
      const r = await sentryRun(["run", "--bundle", dir]);
      assert.equal(r.code, 125, r.stderr);
      assert.equal(r.stdout, "");
      assert.ok(r.stderr.endsWith(err) && r.stderr.split("\n").length === 2, r.stderr);
    });
  }
});

Deno.test("/proc/self/auxv holds the auxiliary vector getauxval reads, and another user's is refused, as natively", async () => {
  await assertSameAsNative([await compileC("proc_auxv")]);
});

Deno.test("/proc/sys refuses writes beyond a file's mode, root included; sysctls programs read and /proc/net/unix are there, as natively (tests/c/proc_sys.c)", async () => {
  const r = await assertSameAsNative([await compileC("proc_sys")]);
  // The fixture checks what it came for: W_OK of a read-only sysctl refused even for root,
  // ip_local_port_range readable, a listener and an abstract name found in /proc/net/unix.
  assert.match(r.stdout, /^euid 0\n/);
  assert.match(r.stdout, /access\(random\/boot_id, W_OK\) = -1 EACCES\n/);
  assert.match(r.stdout, /net\/ipv4\/ip_local_port_range: reg=1 W_OK as mode, O_WRONLY as mode, X_OK EACCES, 2 numbers\n/);
  assert.match(r.stdout, /\/proc\/net\/unix header 1 found 1\n/);
  assert.match(r.stdout, /abstract found 1\n/);
});

Deno.test("opening /proc/self/fd/N gives a new description for files, a new end of a pipe, ENXIO for sockets and anonymous inodes, as natively", async () => {
  await assertSameAsNative([await compileC("proc_fd_reopen")]);
});

Deno.test("pivot_root checks as Linux (EINVAL to no mount point, EBUSY on the root's own mount, EINVAL for a new_root that is no mount point or a put_old outside it) and pivots from a chroot into a mount (sandbox only: natively it would change the host)", async () => {
  const r = await runSentry([await compileC("pivot_root")]);
  assert.equal(r.stdout, [
    "mount tmpfs on /tmp/pr: ok",
    "pivot from the sandbox's root to no mount point: EINVAL",
    "chroot into the tmpfs: ok",
    "new_root on the root's own mount: EBUSY",
    "mount tmpfs on /new: ok",
    "put_old on the root's own mount: EBUSY",
    "put_old outside new_root: EINVAL",
    "new_root that is no mount point: EINVAL",
    "pivot: ok",
    "old root at put_old: 1; new root empty of the marker: 1",
    "",
  ].join("\n"), r.stderr);
});

Deno.test("/sys/kernel/mm/ksm: KSM built in and not running, as the host kernel is (LTP madvise02 skips its no-KSM cases on it), and MADV_MERGEABLE/UNMERGEABLE accepted, as natively (tests/c/ksm_sysfs.c)", async () => {
  await assertSameAsNative([await compileC("ksm_sysfs")]);
});

Deno.test("/proc/sys/fs/pipe-max-size: root writes it, rounded up to a power of two of at least a page (EINVAL above 2^31 or for a non-number), and F_SETPIPE_SZ without CAP_SYS_RESOURCE stops at it, as natively (tests/c/pipe_max_size.c)", async () => {
  await assertSameAsNative([await compileC("pipe_max_size")]);
});

Deno.test("writes of /proc/sys/kernel/hostname and domainname set the caller's UTS namespace's names (up to a newline or NUL, at most 64 bytes), EACCES for a user other than root, as natively (tests/c/proc_uts.c)", async () => {
  await assertSameAsNative([await compileC("proc_uts")]);
});
