import assert from "node:assert/strict";
import * as posix from "node:path/posix";
import { RLIMIT_NOFILE } from "../abi/linux/limits.ts";
import { doConfig, loadBundle, setOverlayUpper, writeDefaultSpec } from "./bundle.ts";
import { BootError } from "./errors.ts";
import { defaultSpec, loadSpecSchema } from "./spec.ts";

await loadSpecSchema(); // loadBundle's precondition when a config.json exists (boot/mod.ts)

function withTempDir(fn: (dir: string) => void): void {
  const dir = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "sentry-bundle-test-" }));
  try {
    fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

function bootErrorOf(fn: () => unknown): BootError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof BootError, `expected a BootError, got ${err}`);
    assert.ok(!err.message.includes("\n"));
    return err;
  }
  assert.fail("no BootError");
}

const minimal = { process: { args: ["/bin/app", "-v"], cwd: "/srv", env: ["A=1"] }, root: { path: "rootfs" } };

Deno.test("loadBundle() reads config.json and resolves root.path against the bundle", () => {
  withTempDir((dir) => {
    Deno.mkdirSync(`${dir}/rootfs`);
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify({
      ...minimal,
      process: { ...minimal.process, user: { uid: 7, gid: 8, additionalGids: [9] } },
      hostname: "h",
      root: { path: "rootfs", readonly: true },
    }));
    const c = loadBundle(posix.basename(dir), { cwd: posix.dirname(dir), command: null, id: null });
    assert.deepEqual(c, {
      argv: ["/bin/app", "-v"],
      envp: ["A=1"],
      cwd: "/srv",
      uid: 7,
      gid: 8,
      additionalGids: [9],
      caps: null,
      noNewPrivs: false,
      umask: null,
      rlimits: new Map(),
      hostname: "h",
      rootHostPath: `${dir}/rootfs`,
      readonly: true,
      upperHostPath: null,
      mounts: [],
      annotations: {},
      hooks: {},
      idMap: null,
      sysctl: {},
      maskedPaths: [],
      readonlyPaths: [],
      resources: { memoryBytes: null, pids: null, cpus: null, cpuPeriodNs: null },
      netnsPath: null,
      sharesRuntimeNetwork: false,
      terminal: false,
      seccomp: null,
    });
  });
});

Deno.test("loadBundle() applies OCI defaults: writable root, uid 0, hostname from the id", () => {
  withTempDir((dir) => {
    Deno.mkdirSync(`${dir}/rootfs`);
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(minimal));
    const c = loadBundle(dir, { cwd: "/", command: null, id: "c42" });
    assert.equal(c.readonly, false);
    assert.equal(c.uid, 0);
    assert.equal(c.gid, 0);
    assert.equal(c.hostname, "c42");
    assert.equal(loadBundle(dir, { cwd: "/", command: null, id: null }).hostname, "sentry");
  });
});

Deno.test("loadBundle() lets a command after -- replace process.args", () => {
  withTempDir((dir) => {
    Deno.mkdirSync(`${dir}/rootfs`);
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(minimal));
    const c = loadBundle(dir, { cwd: "/", command: ["echo", "hi"], id: null });
    assert.deepEqual(c.argv, ["echo", "hi"]);
    assert.equal(c.cwd, "/srv");
  });
});

Deno.test("loadBundle() accepts an absolute root.path and follows symlinks to it", () => {
  withTempDir((dir) => {
    Deno.mkdirSync(`${dir}/real`);
    Deno.symlinkSync(`${dir}/real`, `${dir}/link`);
    Deno.mkdirSync(`${dir}/b`);
    Deno.writeTextFileSync(`${dir}/b/config.json`, JSON.stringify({ ...minimal, root: { path: `${dir}/link` } }));
    assert.equal(loadBundle(`${dir}/b`, { cwd: "/", command: null, id: null }).rootHostPath, `${dir}/real`);
  });
});

Deno.test("loadBundle() takes a directory without config.json as a read-only bare root filesystem", () => {
  withTempDir((dir) => {
    const c = loadBundle(dir, { cwd: "/", command: null, id: null });
    assert.deepEqual(c.argv, ["/bin/sh"]);
    assert.equal(c.rootHostPath, dir);
    assert.equal(c.readonly, true);
    assert.equal(c.cwd, "/");
    assert.equal(c.uid, 0);
    assert.deepEqual(c.envp, defaultSpec().process.env);
    assert.deepEqual(c.rlimits, new Map([[RLIMIT_NOFILE, { cur: 1024n, max: 1024n }]]));
    assert.deepEqual(loadBundle(dir, { cwd: "/", command: ["/bin/ls", "/"], id: null }).argv, ["/bin/ls", "/"]);
  });
});

Deno.test("loadBundle() reports a missing bundle, a missing root and a bad config.json in one line", () => {
  withTempDir((dir) => {
    assert.equal(
      bootErrorOf(() => loadBundle("nope", { cwd: dir, command: null, id: null })).message,
      `--bundle "nope": No such file or directory`,
    );
    Deno.writeTextFileSync(`${dir}/file`, "");
    assert.equal(
      bootErrorOf(() => loadBundle("file", { cwd: dir, command: null, id: null })).message,
      `--bundle "file": Not a directory`,
    );
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(minimal));
    assert.equal(
      bootErrorOf(() => loadBundle(dir, { cwd: "/", command: null, id: null })).message,
      `config.json: root.path "rootfs": No such file or directory`,
    );
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify({ ...minimal, process: { cwd: "/" } }));
    const err = bootErrorOf(() => loadBundle(dir, { cwd: "/", command: ["sh"], id: null }));
    assert.equal(err.message, "config.json: process.args: expected a non-empty array of strings");
    assert.equal(err.exitCode, 125);
  });
});

Deno.test("doConfig() sets RLIMIT_NOFILE's soft and hard limit to the open-files limit it is given", () => {
  const c = doConfig(["sh"], { cwd: "/", env: {}, hostname: "h", openFiles: 20000n });
  assert.deepEqual(c.rlimits, new Map([[RLIMIT_NOFILE, { cur: 20000n, max: 20000n }]]));
});

Deno.test("doConfig() runs in the caller's directory and environment on an overlay of the host root", () => {
  const c = doConfig(["ls", "-l"], { cwd: "/home/u", env: { PATH: "/bin", X: "a=b" }, hostname: "host1" });
  assert.deepEqual(c, {
    argv: ["ls", "-l"],
    envp: ["PATH=/bin", "X=a=b"],
    cwd: "/home/u",
    uid: 0,
    gid: 0,
    additionalGids: [],
    caps: null,
    noNewPrivs: false,
    umask: null,
    rlimits: new Map(),
    hostname: "host1",
    rootHostPath: "/",
    readonly: false,
    upperHostPath: null,
    mounts: [],
    annotations: {},
      hooks: {},
      idMap: null,
      sysctl: {},
      maskedPaths: [],
    readonlyPaths: [],
    resources: { memoryBytes: null, pids: null, cpus: null, cpuPeriodNs: null },
    netnsPath: null,
    sharesRuntimeNetwork: false,
    terminal: false,
    seccomp: null,
  });
});

Deno.test("writeDefaultSpec() writes the default spec and leaves no temporary file", () => {
  withTempDir((dir) => {
    const path = writeDefaultSpec(".", { cwd: dir });
    assert.equal(path, `${dir}/config.json`);
    assert.deepEqual(JSON.parse(Deno.readTextFileSync(path)), defaultSpec());
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["config.json"]);
  });
});

Deno.test("writeDefaultSpec() refuses to replace an existing config.json, even a dangling symlink", () => {
  withTempDir((dir) => {
    Deno.writeTextFileSync(`${dir}/config.json`, "mine");
    assert.equal(
      bootErrorOf(() => writeDefaultSpec(dir, { cwd: "/" })).message,
      `${dir}/config.json already exists; remove it to write a new one`,
    );
    assert.equal(Deno.readTextFileSync(`${dir}/config.json`), "mine");
    Deno.removeSync(`${dir}/config.json`);
    Deno.symlinkSync(`${dir}/nowhere`, `${dir}/config.json`);
    bootErrorOf(() => writeDefaultSpec(dir, { cwd: "/" }));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["config.json"]);
  });
});

Deno.test("writeDefaultSpec() reports a missing directory in one line", () => {
  withTempDir((dir) => {
    assert.equal(
      bootErrorOf(() => writeDefaultSpec(`${dir}/missing`, { cwd: "/" })).message,
      `--bundle "${dir}/missing": No such file or directory`,
    );
  });
});

Deno.test("setOverlayUpper() takes a host directory, and refuses one that is or holds the root, or a read-only root", () => {
  withTempDir((dir) => {
    Deno.mkdirSync(`${dir}/rootfs`);
    Deno.mkdirSync(`${dir}/up`);
    const launch = () => ({ ...doConfig(["sh"], { cwd: "/", env: {}, hostname: "h" }), rootHostPath: `${dir}/rootfs` });
    const ok = launch();
    setOverlayUpper(ok, "up", dir);
    assert.equal(ok.upperHostPath, `${dir}/up`);
    assert.match(bootErrorOf(() => setOverlayUpper(launch(), dir, "/")).message, /must not be the root directory/);
    assert.match(bootErrorOf(() => setOverlayUpper(launch(), `${dir}/rootfs`, "/")).message, /must not be the root/);
    assert.match(bootErrorOf(() => setOverlayUpper(launch(), `${dir}/none`, "/")).message, /--overlay-upper/);
    assert.match(
      bootErrorOf(() => setOverlayUpper({ ...launch(), readonly: true }, "up", dir)).message,
      /the root is read-only/,
    );
  });
});
