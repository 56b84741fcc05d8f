/**
 * Behaviour tests through `sentry run --bundle` with a temporary rootfs (not /): hostile paths
 * never read or write outside the bundle's rootfs and its rw bind mount, with the root overlay's
 * upper layer in memory or in a host directory; and file permissions hold for a non-root user
 * set in config.json.
 *
 * @module
 */

import assert from "node:assert/strict";
import { compileC, REPO_ROOT } from "./_harness.ts";

const SENTRY = `${REPO_ROOT}/sentry`;

async function sentryRun(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  const out = await new Deno.Command(SENTRY, { args, stdin: "null", stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr), code: out.code };
}

/** Every file under dir (relative paths, "/" after directories, "-> target" after symlinks), sorted, with contents. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(`${dir}/${rel}`)) {
      const p = rel === "" ? e.name : `${rel}/${e.name}`;
      const st = Deno.lstatSync(`${dir}/${p}`);
      const mode = (st.mode! & 0o7777).toString(8);
      if (e.isSymlink) out.push(`${p} -> ${Deno.readLinkSync(`${dir}/${p}`)}`);
      else if (e.isDirectory) {
        out.push(`${p}/ ${mode}`);
        walk(p);
      } else out.push(`${p} ${mode} ${JSON.stringify(Deno.readTextFileSync(`${dir}/${p}`))}`);
    }
  };
  walk("");
  return out.sort();
}

/**
 * A bundle: rootfs/{prog, secret, inside, proc/, dev/, sys/, data/}, a host directory data/
 * bound read-write at /data, and a host file "secret" beside the rootfs.
 */
async function withBundle(
  config: (dir: string) => Record<string, unknown>,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const prog = await compileC("hostile_write", { static: true });
  const dir = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "sentry-hostile-" }));
  try {
    for (const d of ["rootfs/proc", "rootfs/dev", "rootfs/sys", "rootfs/data", "data", "upper"]) {
      Deno.mkdirSync(`${dir}/${d}`, { recursive: true });
    }
    Deno.writeTextFileSync(`${dir}/secret`, "host secret\n");
    Deno.chmodSync(`${dir}/secret`, 0o600);
    Deno.writeTextFileSync(`${dir}/rootfs/secret`, "rootfs secret\n");
    Deno.chmodSync(`${dir}/rootfs/secret`, 0o600);
    Deno.writeTextFileSync(`${dir}/rootfs/inside`, "in\n");
    Deno.chmodSync(`${dir}/rootfs/inside`, 0o644);
    Deno.copyFileSync(prog, `${dir}/rootfs/prog`);
    Deno.chmodSync(`${dir}/rootfs/prog`, 0o755);
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(config(dir)));
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

function spec(args: string[], user = { uid: 0, gid: 0 }): Record<string, unknown> {
  return {
    ociVersion: "1.0.2",
    process: { args, cwd: "/", env: ["PATH=/bin"], user },
    root: { path: "rootfs", readonly: false },
    mounts: [{ destination: "/data", type: "bind", source: "data", options: ["rbind", "rw"] }],
  };
}

/** What the hostile program prints: nothing outside the sandbox is ever reached. */
const EXPECTED = [
  "symlink /rootlink -> /: ok",
  "symlink /up -> ../../../..: ok",
  "symlink /hostabs -> BUNDLE/secret: ok",
  "symlink /data/hostlink -> BUNDLE/secret: ok",
  "symlink /data/uplink -> ../../..: ok",
  "read /../../../secret: rootfs secret",
  "read /rootlink/../secret: rootfs secret",
  "read /up/secret: rootfs secret",
  "read /up/up/secret: rootfs secret",
  "read /hostabs: No such file or directory",
  "read /data/hostlink: No such file or directory",
  "read /data/uplink/secret: rootfs secret",
  "read /data/../../secret: rootfs secret",
  "read /proc/self/root/../secret: rootfs secret",
  "read BUNDLE/secret: No such file or directory",
  "read openat(/, ../../secret): rootfs secret",
  "create openat(/, ../../made_by_openat): ok",
  "read /proc/PID/fd/N (closed): No such file or directory",
  "read /proc/self/fd/ROOT/../secret: rootfs secret",
  "create /hostabs: No such file or directory",
  "create /data/hostlink: No such file or directory",
  "create BUNDLE/pwned: No such file or directory",
  "create /up/made_via_up: ok",
  "create /data/uplink/made_via_data_uplink: ok",
  "create /data/../../made_via_data_dotdot: ok",
  "create /proc/self/root/../made_via_proc_root: ok",
  "mkdir /rootlink/../../dir_via_rootlink: ok",
  "rename /inside -> /up/../../renamed: ok",
  "link /renamed -> /data/../../linked: ok",
  "rename /renamed -> /data/renamed (EXDEV): Invalid cross-device link",
  "truncate /data/hostlink: No such file or directory",
  "chmod /data/hostlink: No such file or directory",
  "chmod /hostabs: No such file or directory",
  "create /data/ok: ok",
  "read /data/ok: pwned",
  "read /secret: rootfs secret",
];

for (const upper of ["memory", "host directory"] as const) {
  Deno.test(`hostile paths neither read nor write outside the rootfs and its rw bind mount (overlay upper: ${upper})`, async () => {
    await withBundle((dir) => spec(["/prog", "hostile", dir]), async (dir) => {
      const rootfsBefore = snapshot(`${dir}/rootfs`);
      const args = ["run", "--bundle", dir];
      if (upper === "host directory") args.push("--overlay-upper", `${dir}/upper`);
      const r = await sentryRun(args);
      assert.equal(r.stderr, "");
      assert.equal(r.code, 0);
      assert.ok(!r.stdout.includes("host secret"));
      assert.deepEqual(r.stdout.replaceAll(dir, "BUNDLE").split("\n").filter((l) => l !== ""), EXPECTED);
      // The host: the secret, the rootfs (the overlay's lower layer) and the bundle are as they were.
      assert.equal(Deno.readTextFileSync(`${dir}/secret`), "host secret\n");
      assert.equal(Deno.statSync(`${dir}/secret`).mode! & 0o7777, 0o600);
      assert.deepEqual(snapshot(`${dir}/rootfs`), rootfsBefore);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["config.json", "data", "rootfs", "secret", "upper"]);
      // The bind mount got exactly what was written through it.
      assert.deepEqual(snapshot(`${dir}/data`), [
        `hostlink -> ${dir}/secret`,
        'ok 644 "pwned\\n"',
        "uplink -> ../../..",
      ]);
      const up = snapshot(`${dir}/upper`);
      if (upper === "memory") assert.deepEqual(up, []);
      else {
        // Everything the sandbox made in its root, and nothing else.
        assert.deepEqual(up, [
          "dir_via_rootlink/ 755",
          `hostabs -> ${dir}/secret`,
          'linked 644 "in\\n"',
          'made_by_openat 644 "pwned\\n"',
          'made_via_data_dotdot 644 "pwned\\n"',
          'made_via_data_uplink 644 "pwned\\n"',
          'made_via_proc_root 644 "pwned\\n"',
          'made_via_up 644 "pwned\\n"',
          'renamed 644 "in\\n"',
          "rootlink -> /",
          "up -> ../../../..",
        ]);
      }
    });
  });
}

Deno.test("a non-root user from config.json cannot read a 0600 root-owned file; root in the sandbox can", async () => {
  await withBundle(() => spec(["/prog", "read", "/secret"]), async (dir) => {
    const asRoot = await sentryRun(["run", "--bundle", dir]);
    assert.equal(asRoot.code, 0, asRoot.stderr);
    assert.equal(asRoot.stdout, "read /secret: rootfs secret\n");
    const cfg = spec(["/prog", "read", "/secret"], { uid: 1000, gid: 1000 });
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(cfg));
    const asUser = await sentryRun(["run", "--bundle", dir]);
    assert.equal(asUser.code, 0, asUser.stderr);
    assert.equal(asUser.stdout, "read /secret: Permission denied\n");
    // A file the user may read is read as usual.
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(spec(["/prog", "read", "/inside"], { uid: 1000, gid: 1000 })));
    const other = await sentryRun(["run", "--bundle", dir]);
    assert.equal(other.stdout, "read /inside: in\n");
  });
});

Deno.test("an unprivileged user's write and truncate clear set-user-ID and set-group-ID bits", async () => {
  await withBundle(() => spec(["/prog", "setid"], { uid: 1000, gid: 1000 }), async (dir) => {
    for (const [name, mode] of [["suid_write", 0o6777], ["suid_trunc", 0o6777], ["sgid_noexec", 0o2666]] as const) {
      Deno.writeTextFileSync(`${dir}/rootfs/${name}`, "x");
      Deno.chmodSync(`${dir}/rootfs/${name}`, mode);
    }
    const r = await sentryRun(["run", "--bundle", dir]);
    assert.equal(r.code, 0, r.stderr);
    // The values Linux 6.x gives (set-group-ID without group execute goes too when the writer
    // is not in the file's group).
    assert.equal(
      r.stdout,
      "write /suid_write: ok\nempty write /suid_write: ok\ntruncate /suid_trunc: ok\nwrite /sgid_noexec: ok\nmodes 777 777 666\n",
    );
    // Only the overlay's copies changed.
    assert.equal(Deno.statSync(`${dir}/rootfs/suid_write`).mode! & 0o7777, 0o6777);
  });
});

Deno.test("a file the sandbox makes set-user-ID or set-group-ID in a host directory (--overlay-upper) never carries those bits on the host", async () => {
  const upper = Deno.makeTempDirSync({ prefix: "sentry-upper-" });
  try {
    const r = await sentryRun([
      "do", "--overlay-upper", upper, "--", "/bin/sh", "-c",
      "cp /bin/true /tmp/t1 && chmod 4755 /tmp/t1 && cp /bin/true /tmp/t2 && chmod 2755 /tmp/t2 && mkdir /tmp/d && chmod 2755 /tmp/d && stat -c '%a' /tmp/t1 /tmp/t2 /tmp/d",
    ]);
    assert.equal(r.code, 0, r.stderr);
    // What the sandbox sees is what the host holds: the bits of the files are gone; a
    // directory keeps set-group-ID (group inheritance, harmless).
    assert.equal(r.stdout, "755\n755\n2755\n");
    assert.equal(Deno.statSync(`${upper}/tmp/t1`).mode! & 0o7777, 0o755);
    assert.equal(Deno.statSync(`${upper}/tmp/t2`).mode! & 0o7777, 0o755);
    assert.equal(Deno.statSync(`${upper}/tmp/d`).mode! & 0o7777, 0o2755);
  } finally {
    Deno.removeSync(upper, { recursive: true });
  }
});

Deno.test("one host file seen through two views (--overlay-upper inside the root) and truncated through one: reads through the other see the new size, a mapped page past the end is SIGBUS to the program, and the sentry lives on (tests/c/two_views_truncate.c)", async () => {
  const prog = await compileC("two_views_truncate");
  const upper = Deno.makeTempDirSync({ prefix: "sentry-upper-" });
  try {
    const r = await sentryRun(["do", "--overlay-upper", upper, "--", prog, upper]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "other view opens: 1\nmapped: 1, byte x\ntruncate through the overlay: 0\nread through the other view: 0\n" +
        "a child touching the mapping past the end: SIGBUS\nthe sentry is still here: 1\n",
    );
    assert.doesNotMatch(r.stderr, /internal error|BUG/);
  } finally {
    Deno.removeSync(upper, { recursive: true });
  }
});
