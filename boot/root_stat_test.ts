import assert from "node:assert/strict";
import { statInRoot } from "./root_stat.ts";

function withRoot(fn: (root: string) => void): void {
  const root = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "sentry-root-test-" }));
  try {
    Deno.mkdirSync(`${root}/usr/bin`, { recursive: true });
    Deno.writeTextFileSync(`${root}/usr/bin/tool`, "#!/bin/sh\n");
    Deno.chmodSync(`${root}/usr/bin/tool`, 0o755);
    Deno.writeTextFileSync(`${root}/usr/bin/data`, "");
    Deno.chmodSync(`${root}/usr/bin/data`, 0o640);
    fn(root);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
}

Deno.test("statInRoot() stats files and directories under the root", () => {
  withRoot((root) => {
    assert.deepEqual(statInRoot(root, "/usr/bin/tool"), { isFile: true, mode: 0o755 });
    assert.deepEqual(statInRoot(root, "/usr/bin/data"), { isFile: true, mode: 0o640 });
    assert.equal(statInRoot(root, "/usr/bin")?.isFile, false);
    assert.equal(statInRoot(root, "/")?.isFile, false);
    assert.equal(statInRoot(root, "/usr/bin/missing"), null);
    assert.equal(statInRoot(root, "/usr/bin/tool/x"), null);
  });
});

Deno.test("statInRoot() follows absolute symlinks from the root, not the host's /", () => {
  withRoot((root) => {
    Deno.symlinkSync("usr/bin", `${root}/bin`); // relative, as in merged-/usr systems
    Deno.mkdirSync(`${root}/sbin`);
    Deno.symlinkSync("/usr/bin/tool", `${root}/sbin/tool`);
    Deno.symlinkSync("/etc/passwd", `${root}/sbin/passwd`); // exists on the host, not in the root
    assert.deepEqual(statInRoot(root, "/bin/tool"), { isFile: true, mode: 0o755 });
    assert.deepEqual(statInRoot(root, "/sbin/tool"), { isFile: true, mode: 0o755 });
    assert.equal(statInRoot(root, "/sbin/passwd"), null);
  });
});

Deno.test("statInRoot() stops .. at the root and gives up on symlink loops", () => {
  withRoot((root) => {
    assert.deepEqual(statInRoot(root, "/../../usr/bin/tool"), { isFile: true, mode: 0o755 });
    Deno.symlinkSync("../../../../usr/bin/tool", `${root}/usr/bin/up`);
    assert.deepEqual(statInRoot(root, "/usr/bin/up"), { isFile: true, mode: 0o755 });
    Deno.symlinkSync("loop", `${root}/loop`);
    assert.equal(statInRoot(root, "/loop"), null);
  });
});
