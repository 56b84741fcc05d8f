import assert from "node:assert/strict";
import { BootError } from "./errors.ts";
import { DEFAULT_MOUNTS, planMounts, withDefaults } from "./mount_plan.ts";
import { MS_NODEV, MS_NOEXEC, MS_NOSUID } from "../abi/linux/mount.ts";

function planError(mounts: Parameters<typeof planMounts>[0], bundle = "/"): string {
  try {
    planMounts(mounts, bundle);
  } catch (e) {
    assert.ok(e instanceof BootError);
    return e.message;
  }
  throw new Error("planMounts accepted the mounts");
}

Deno.test("planMounts maps OCI types to filesystems and options to flags", () => {
  const plan = planMounts([
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["newinstance", "ptmxmode=0666"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["ro"] },
    { destination: "/tmp/", type: "tmpfs", options: ["size=1g"] },
    { destination: "/data", type: "none", source: "/usr", options: ["rbind", "ro", "rprivate"] },
  ], "/");
  assert.deepEqual(plan.map((p) => p.kind), ["proc", "devfs", "skip", "sysfs", "tmpfs", "bind"]);
  assert.equal(plan[0]!.flags, MS_NOSUID | MS_NOEXEC | MS_NODEV);
  assert.equal(plan[1]!.sizeBytes, 65536 * 1024);
  assert.equal(plan[3]!.readonly, true);
  assert.equal(plan[4]!.destination, "/tmp");
  assert.equal(plan[4]!.sizeBytes, 1 << 30);
  assert.equal(plan[5]!.hostSource, Deno.realPathSync("/usr"));
  assert.equal(plan[5]!.readonly, true);
});

Deno.test("bind sources are relative to the bundle and must be host directories or regular files", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.mkdirSync(`${dir}/data`);
    Deno.writeTextFileSync(`${dir}/file`, "x");
    assert.equal(planMounts([{ destination: "/d", type: "bind", source: "data" }], dir)[0]!.hostSource, Deno.realPathSync(`${dir}/data`));
    assert.equal(
      planError([{ destination: "/d", type: "bind", source: "missing" }], dir),
      `config.json: mounts[0].source: "${dir}/missing": No such file or directory`,
    );
    const file = planMounts([{ destination: "/d", options: ["bind", "ro"], source: "file" }], dir)[0]!;
    assert.equal(file.kind, "bindFile");
    assert.equal(file.hostSource, Deno.realPathSync(`${dir}/file`));
    assert.equal(file.readonly, true);
    Deno.symlinkSync("file", `${dir}/link`);
    assert.equal(planMounts([{ destination: "/d", type: "bind", source: "link" }], dir)[0]!.hostSource, Deno.realPathSync(`${dir}/file`));
    assert.equal(planMounts([{ destination: "/d", type: "bind", source: "data" }], dir)[0]!.kind, "bind");
    assert.equal(
      planError([{ destination: "/d", type: "bind", source: "/dev/null" }], dir),
      `config.json: mounts[0].source: "/dev/null" is neither a directory nor a regular file`,
    );
    assert.equal(
      planError([{ destination: "/d", type: "bind" }], dir),
      "config.json: mounts[0].source: expected a host directory or file to bind",
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("unknown types and options are one line naming the entry", () => {
  assert.equal(
    planError([{ destination: "/p", type: "proc" }, { destination: "/x", type: "ext4", source: "/dev/sda" }]),
    `config.json: mounts[1].type: "ext4" is not supported (expected proc, sysfs, tmpfs, devpts, mqueue, cgroup or bind)`,
  );
  assert.equal(planError([{ destination: "/x", type: "tmpfs", options: ["bogus"] }]), `config.json: mounts[0].options: unknown option "bogus"`);
  assert.match(planError([{ destination: "/x", type: "tmpfs", options: ["size=lots"] }]), /expected a size/);
  assert.match(planError([{ destination: "/x" }]), /mounts\[0\]\.type: missing/);
});

Deno.test("withDefaults puts /proc, /dev and /sys first unless config.json mounts there", () => {
  assert.deepEqual(withDefaults([]), DEFAULT_MOUNTS);
  const plan = planMounts([{ destination: "/proc", type: "tmpfs" }, { destination: "/dev/shm", type: "tmpfs" }], "/");
  assert.deepEqual(withDefaults(plan).map((p) => p.destination), ["/dev", "/sys", "/proc", "/dev/shm"]);
});
