import assert from "node:assert/strict";
import { RLIM_INFINITY, RLIMIT_CORE, RLIMIT_NOFILE } from "../abi/linux/limits.ts";
import { BootError } from "./errors.ts";
import {
  defaultSpec, formatPath, limitValue, loadSpecSchema, parseSpec, rlimitsOf, validateSpec,
} from "./spec.ts";

await loadSpecSchema();

/** A valid spec to break one field of. */
function good(): Record<string, unknown> & { process: Record<string, unknown>; root: Record<string, unknown> } {
  return {
    ociVersion: "1.0.2",
    process: {
      args: ["/bin/sh", "-c", "true"],
      env: ["PATH=/bin", "EMPTY="],
      cwd: "/",
      user: { uid: 1000, gid: 1000, additionalGids: [4, 24] },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 4096, soft: 1024 }],
    },
    hostname: "box",
    root: { path: "rootfs", readonly: true },
    mounts: [{ destination: "/proc", type: "proc", source: "proc", options: ["nosuid"] }],
  };
}

function messageOf(spec: unknown): string {
  try {
    validateSpec(spec);
  } catch (err) {
    assert.ok(err instanceof BootError, `expected a BootError, got ${err}`);
    assert.equal(err.exitCode, 125);
    assert.ok(!err.message.includes("\n"), "one line");
    return err.message;
  }
  assert.fail("validateSpec() accepted a bad spec");
}

Deno.test("validateSpec() accepts a complete spec and keeps its fields", () => {
  const s = validateSpec(good());
  assert.deepEqual(s.process.args, ["/bin/sh", "-c", "true"]);
  assert.deepEqual(s.process.user, { uid: 1000, gid: 1000, additionalGids: [4, 24] });
  assert.equal(s.hostname, "box");
  assert.deepEqual(s.root, { path: "rootfs", readonly: true });
  assert.deepEqual(s.mounts, [{ destination: "/proc", type: "proc", source: "proc", options: ["nosuid"] }]);
});

Deno.test("validateSpec() ignores fields it does not know, as the OCI spec asks", () => {
  const spec = { ...good(), linux: { namespaces: [] }, annotations: { a: "b" } };
  assert.doesNotThrow(() => validateSpec(spec));
});

Deno.test("validateSpec() accepts a spec with only the required fields", () => {
  const s = validateSpec({ process: { args: ["x"], cwd: "/" }, root: { path: "/r" } });
  assert.equal(s.process.user, undefined);
  assert.equal(s.root.readonly, undefined);
});

Deno.test("validateSpec() names each missing or malformed field in one line", () => {
  const cases: Array<[(s: ReturnType<typeof good>) => unknown, string]> = [
    [() => [], "config.json: expected a JSON object"],
    [() => null, "config.json: expected a JSON object"],
    [(s) => ({ ...s, ociVersion: 1 }), "config.json: ociVersion: expected a string"],
    [(s) => ({ ...s, process: undefined }), "config.json: process: expected an object"],
    [(s) => ({ ...s, process: "sh" }), "config.json: process: expected an object"],
    [(s) => ({ ...s, process: { ...s.process, args: undefined } }), "config.json: process.args: expected a non-empty array of strings"],
    [(s) => ({ ...s, process: { ...s.process, args: [] } }), "config.json: process.args: expected a non-empty array of strings"],
    [(s) => ({ ...s, process: { ...s.process, args: ["sh", 1] } }), "config.json: process.args: expected a non-empty array of strings"],
    [(s) => ({ ...s, process: { ...s.process, args: "sh" } }), "config.json: process.args: expected a non-empty array of strings"],
    [(s) => ({ ...s, process: { ...s.process, terminal: "no" } }), "config.json: process.terminal: expected a boolean"],
    [(s) => ({ ...s, process: { ...s.process, env: ["PATH"] } }), `config.json: process.env: expected an array of "NAME=value" strings`],
    [(s) => ({ ...s, process: { ...s.process, env: ["=x"] } }), `config.json: process.env: expected an array of "NAME=value" strings`],
    [(s) => ({ ...s, process: { ...s.process, env: "A=b" } }), `config.json: process.env: expected an array of "NAME=value" strings`],
    [(s) => ({ ...s, process: { ...s.process, cwd: undefined } }), "config.json: process.cwd: expected an absolute path"],
    [(s) => ({ ...s, process: { ...s.process, cwd: "home" } }), "config.json: process.cwd: expected an absolute path"],
    [(s) => ({ ...s, process: { ...s.process, user: 0 } }), "config.json: process.user: expected an object with uid and gid"],
    [(s) => ({ ...s, process: { ...s.process, user: { gid: 0 } } }), "config.json: process.user.uid: expected an integer from 0 to 4294967294"],
    [(s) => ({ ...s, process: { ...s.process, user: { uid: -1, gid: 0 } } }), "config.json: process.user.uid: expected an integer from 0 to 4294967294"],
    [(s) => ({ ...s, process: { ...s.process, user: { uid: 0, gid: 1.5 } } }), "config.json: process.user.gid: expected an integer from 0 to 4294967294"],
    [(s) => ({ ...s, process: { ...s.process, user: { uid: 0, gid: 4294967295 } } }), "config.json: process.user.gid: expected an integer from 0 to 4294967294"],
    [(s) => ({ ...s, process: { ...s.process, user: { uid: 0, gid: 0, additionalGids: [1, "2"] } } }), "config.json: process.user.additionalGids: expected an array of integers from 0 to 4294967294"],
    [(s) => ({ ...s, process: { ...s.process, user: { uid: 0, gid: 0, umask: 0o1000 } } }), "config.json: process.user.umask: expected an integer from 0 to 511 (0o777)"],
    [(s) => ({ ...s, process: { ...s.process, rlimits: {} } }), "config.json: process.rlimits: expected an array of {type, hard, soft} objects"],
    [(s) => ({ ...s, process: { ...s.process, rlimits: [5] } }), "config.json: process.rlimits[0]: expected an object with type, hard and soft"],
    [(s) => ({ ...s, process: { ...s.process, rlimits: [{ type: "NOFILE", hard: 1, soft: 1 }] } }), "config.json: process.rlimits[0].type: expected a resource limit name such as RLIMIT_NOFILE"],
    [(s) => ({ ...s, process: { ...s.process, rlimits: [{ type: "RLIMIT_CORE", hard: 0, soft: 0 }, { type: "RLIMIT_NOFILE", soft: 1 }] } }), "config.json: process.rlimits[1].hard: expected a non-negative integer"],
    [(s) => ({ ...s, process: { ...s.process, rlimits: [{ type: "RLIMIT_NOFILE", hard: 1, soft: -1 }] } }), "config.json: process.rlimits[0].soft: expected a non-negative integer"],
    [(s) => ({ ...s, process: { ...s.process, rlimits: [{ type: "RLIMIT_NOFILE", hard: 1, soft: 0.5 }] } }), "config.json: process.rlimits[0].soft: expected a non-negative integer"],
    [(s) => ({ ...s, process: { ...s.process, rlimits: [{ type: "RLIMIT_NOFILE", hard: 1, soft: 2 }] } }), "config.json: process.rlimits[0]: soft limit exceeds hard limit"],
    [(s) => ({ ...s, process: { ...s.process, rlimits: [{ type: "RLIMIT_NOFILE", hard: 1, soft: 1 }, { type: "RLIMIT_NOFILE", hard: 2, soft: 2 }] } }), "config.json: process.rlimits[1].type: RLIMIT_NOFILE is given twice"],
    [(s) => ({ ...s, hostname: 7 }), "config.json: hostname: expected a string"],
    [(s) => ({ ...s, root: undefined }), "config.json: root: expected an object with a path"],
    [(s) => ({ ...s, root: { readonly: true } }), "config.json: root.path: expected a non-empty path"],
    [(s) => ({ ...s, root: { path: "" } }), "config.json: root.path: expected a non-empty path"],
    [(s) => ({ ...s, root: { path: "r", readonly: "yes" } }), "config.json: root.readonly: expected a boolean"],
    [(s) => ({ ...s, mounts: {} }), "config.json: mounts: expected an array of mount objects"],
    [(s) => ({ ...s, mounts: ["/proc"] }), "config.json: mounts[0]: expected an object with a destination"],
    [(s) => ({ ...s, mounts: [{ destination: "proc" }] }), "config.json: mounts[0].destination: expected an absolute path"],
    [(s) => ({ ...s, mounts: [{ destination: "/p", options: "ro" }] }), "config.json: mounts[0].options: expected an array of strings"],
    [(s) => ({ ...s, mounts: [{ destination: "/p", source: 1 }] }), "config.json: mounts[0].source: expected a string"],
    [(s) => ({ ...s, mounts: [{ destination: "/p", type: false }] }), "config.json: mounts[0].type: expected a string"],
  ];
  for (const [mutate, expected] of cases) {
    assert.equal(messageOf(mutate(good())), expected);
  }
});

Deno.test("parseSpec() reports text that is not JSON in one line", () => {
  assert.throws(() => parseSpec(`{"process": `), (err: unknown) => {
    assert.ok(err instanceof BootError);
    assert.match(err.message, /^config\.json: not valid JSON: .+$/);
    return true;
  });
});

Deno.test("rlimitsOf() maps names to resource numbers and reads 2^64-1 as RLIM_INFINITY", () => {
  const s = parseSpec(JSON.stringify({
    process: { args: ["x"], cwd: "/", rlimits: [] },
    root: { path: "r" },
  }).replace(`"rlimits":[]`, `"rlimits":[{"type":"RLIMIT_NOFILE","hard":4096,"soft":1024},` +
    `{"type":"RLIMIT_CORE","hard":18446744073709551615,"soft":0}]`));
  assert.deepEqual(rlimitsOf(s), new Map([
    [RLIMIT_NOFILE, { cur: 1024n, max: 4096n }],
    [RLIMIT_CORE, { cur: 0n, max: RLIM_INFINITY }],
  ]));
});

Deno.test("limitValue() keeps exact integers and saturates at RLIM_INFINITY", () => {
  assert.equal(limitValue(0), 0n);
  assert.equal(limitValue(2 ** 53), 9007199254740992n);
  assert.equal(limitValue(2 ** 64), RLIM_INFINITY);
  assert.equal(limitValue(2 ** 70), RLIM_INFINITY);
});

Deno.test("defaultSpec() is valid and runs sh as root in a read-only rootfs/", () => {
  const s = defaultSpec();
  assert.deepEqual(validateSpec(JSON.parse(JSON.stringify(s))), s);
  assert.deepEqual(s.process.args, ["sh"]);
  assert.deepEqual(s.process.user, { uid: 0, gid: 0 });
  assert.equal(s.process.cwd, "/");
  assert.deepEqual(s.root, { path: "rootfs", readonly: true });
  assert.ok(s.process.env?.some((e) => e.startsWith("PATH=/")));
  assert.deepEqual(rlimitsOf(s), new Map([[RLIMIT_NOFILE, { cur: 1024n, max: 1024n }]]));
});

Deno.test("formatPath() writes JSON paths with dots and indices", () => {
  assert.equal(formatPath(["process", "rlimits", 0, "hard"]), "process.rlimits[0].hard");
  assert.equal(formatPath(["mounts", -1]), "mounts[]");
  assert.equal(formatPath([]), "");
});
