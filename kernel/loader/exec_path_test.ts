import assert from "node:assert/strict";
import { type ExecStat, pathOf, resolveExecutable } from "./exec_path.ts";

/** A filesystem as a table: path → stat. */
function fsOf(table: Record<string, ExecStat>) {
  const seen: string[] = [];
  const stat = (p: string) => {
    seen.push(p);
    return table[p] ?? null;
  };
  return { stat, seen };
}
const exe: ExecStat = { isFile: true, mode: 0o755 };
const plain: ExecStat = { isFile: true, mode: 0o644 };
const dir: ExecStat = { isFile: false, mode: 0o755 };

Deno.test("resolveExecutable() finds a bare name in the first PATH entry that has it", () => {
  const { stat, seen } = fsOf({ "/bin/ls": exe, "/usr/bin/ls": exe });
  const r = resolveExecutable("ls", { envp: ["PATH=/usr/local/bin:/usr/bin:/bin"], cwd: "/", stat });
  assert.deepEqual(r, { ok: true, path: "/usr/bin/ls" });
  assert.deepEqual(seen, ["/usr/local/bin/ls", "/usr/bin/ls"]);
});

Deno.test("resolveExecutable() skips directories and files without an execute bit", () => {
  const { stat } = fsOf({ "/a/tool": dir, "/b/tool": plain, "/c/tool": { isFile: true, mode: 0o001 } });
  assert.deepEqual(resolveExecutable("tool", { envp: ["PATH=/a:/b:/c"], cwd: "/", stat }), {
    ok: true,
    path: "/c/tool",
  });
});

Deno.test("resolveExecutable() tells not found from found but not executable", () => {
  const { stat } = fsOf({ "/b/tool": plain });
  assert.deepEqual(resolveExecutable("tool", { envp: ["PATH=/a:/b"], cwd: "/", stat }), {
    ok: false,
    reason: "notExecutable",
  });
  assert.deepEqual(resolveExecutable("nope", { envp: ["PATH=/a:/b"], cwd: "/", stat }), {
    ok: false,
    reason: "notFound",
  });
  assert.deepEqual(resolveExecutable("", { envp: [], cwd: "/", stat }), { ok: false, reason: "notFound" });
});

Deno.test("resolveExecutable() resolves names with a slash against cwd without looking", () => {
  const { stat, seen } = fsOf({});
  assert.deepEqual(resolveExecutable("./run.sh", { envp: [], cwd: "/home/u", stat }), {
    ok: true,
    path: "/home/u/run.sh",
  });
  assert.deepEqual(resolveExecutable("/bin/../bin/sh", { envp: [], cwd: "/x", stat }), {
    ok: true,
    path: "/bin/sh",
  });
  assert.deepEqual(seen, []);
});

Deno.test("resolveExecutable() reads empty and relative PATH entries against cwd", () => {
  const { stat, seen } = fsOf({ "/w/tool": exe });
  assert.deepEqual(resolveExecutable("tool", { envp: ["PATH=bin::/usr/bin"], cwd: "/w", stat }), {
    ok: true,
    path: "/w/tool",
  });
  assert.deepEqual(seen, ["/w/bin/tool", "/w/tool"]);
});

Deno.test("resolveExecutable() uses execvp's default PATH when the environment has none", () => {
  const { stat, seen } = fsOf({ "/bin/sh": exe });
  assert.deepEqual(resolveExecutable("sh", { envp: ["HOME=/"], cwd: "/", stat }), { ok: true, path: "/bin/sh" });
  assert.equal(seen.at(-1), "/bin/sh");
  assert.equal(seen[0], "/usr/local/sbin/sh");
});

Deno.test("pathOf() takes the last PATH of an environment, as getenv", () => {
  assert.equal(pathOf(["PATH=/a", "X=1", "PATH=/b"]), "/b");
  assert.equal(pathOf(["PATHX=/a"]), undefined);
  assert.equal(pathOf(["PATH="]), "");
});
