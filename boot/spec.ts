/**
 * The subset of the OCI runtime specification (config.json) that the sentry reads, its
 * validation, and the default spec that `sentry spec` writes.
 *
 * Validation reports the first problem as one line naming the field in JSON-path form
 * (`process.rlimits[0].hard: expected a non-negative integer`). Fields the sentry does not
 * know are ignored, as the OCI spec asks of runtimes; `mounts` is validated and kept for the
 * mount support that follows.
 *
 * @module
 */

import type { Spec, SpecCapabilities, SpecRlimit } from "./spec_schema.ts";
import type { SeccompProfile } from "./seccomp_profile.ts";
import { CAP_NAMES } from "../abi/linux/capability.ts";
import type { ProcessCaps } from "../kernel/creds.ts";
import { RLIM_INFINITY, RLIMIT_NAMES, RLIMIT_NOFILE } from "../abi/linux/limits.ts";
import { BootError, firstLine } from "./errors.ts";

/** The version of the OCI runtime spec whose fields this file follows. */
export const OCI_VERSION = "1.0.2";

/** The PATH of the default spec and of a process without one (execvp's default, as runc's). */
import { DEFAULT_PATH } from "../kernel/loader/exec_path.ts";
export { DEFAULT_PATH };

/** Ids are 32-bit; (uid_t)-1 means "no change" to set*id and is no one's id. */
export const MAX_ID = 0xffff_fffe;

/** What each field must be, by path with array indices written `[]`. */
const EXPECTED: Record<string, string> = {
  "": "a JSON object",
  "ociVersion": "a string",
  "process": "an object",
  "process.terminal": "a boolean",
  "process.args": "a non-empty array of strings",
  "process.env": `an array of "NAME=value" strings`,
  "process.cwd": "an absolute path",
  "process.user": "an object with uid and gid",
  "process.user.uid": `an integer from 0 to ${MAX_ID}`,
  "process.user.gid": `an integer from 0 to ${MAX_ID}`,
  "process.user.additionalGids": `an array of integers from 0 to ${MAX_ID}`,
  "process.user.umask": "an integer from 0 to 511 (0o777)",
  "process.rlimits": "an array of {type, hard, soft} objects",
  "process.rlimits[]": "an object with type, hard and soft",
  "process.rlimits[].type": "a resource limit name such as RLIMIT_NOFILE",
  "process.rlimits[].hard": "a non-negative integer",
  "process.rlimits[].soft": "a non-negative integer",
  "process.capabilities": "an object of capability sets (bounding, effective, inheritable, permitted, ambient)",
  "process.capabilities.bounding": "an array of capability names",
  "process.capabilities.effective": "an array of capability names",
  "process.capabilities.inheritable": "an array of capability names",
  "process.capabilities.permitted": "an array of capability names",
  "process.capabilities.ambient": "an array of capability names",
  "process.noNewPrivileges": "a boolean",
  "hostname": "a string",
  "root": "an object with a path",
  "root.path": "a non-empty path",
  "root.readonly": "a boolean",
  "mounts": "an array of mount objects",
  "mounts[]": "an object with a destination",
  "mounts[].destination": "an absolute path",
  "mounts[].source": "a string",
  "mounts[].type": "a string",
  "mounts[].options": "an array of strings",
  "annotations": "an object of string values",
  "hooks": "an object of hook lists (prestart, createRuntime, createContainer, startContainer, poststart, poststop)",
  "hooks.prestart[]": "a hook {path, args, env, timeout}",
  "hooks.createRuntime[]": "a hook {path, args, env, timeout}",
  "hooks.createContainer[]": "a hook {path, args, env, timeout}",
  "hooks.startContainer[]": "a hook {path, args, env, timeout}",
  "hooks.poststart[]": "a hook {path, args, env, timeout}",
  "hooks.poststop[]": "a hook {path, args, env, timeout}",
  "linux": "an object",
  "linux.namespaces": "an array of {type, path} objects",
  "linux.namespaces[]": "an object {type, path}",
  "linux.namespaces[].type": "a namespace type such as network",
  "linux.namespaces[].path": "a path of a namespace file",
  "linux.sysctl": "an object of string values",
  "linux.uidMappings": "an array of {containerID, hostID, size}",
  "linux.uidMappings[]": "an object {containerID, hostID, size} of integers",
  "linux.gidMappings": "an array of {containerID, hostID, size}",
  "linux.gidMappings[]": "an object {containerID, hostID, size} of integers",
  "linux.maskedPaths": "an array of absolute paths",
  "linux.readonlyPaths": "an array of absolute paths",
  "linux.resources": "an object",
  "linux.resources.memory": "an object",
  "linux.resources.memory.limit": "an integer (bytes; -1: no limit)",
  "linux.resources.pids": "an object",
  "linux.resources.pids.limit": "an integer (0 or -1: no limit)",
  "linux.resources.cpu": "an object",
  "linux.resources.cpu.quota": "an integer (microseconds per period; -1: no limit)",
  "linux.resources.cpu.period": "an integer from 1000 to 1000000 (microseconds)",
};

export type { Spec, SpecCapabilities, SpecMount, SpecRlimit } from "./spec_schema.ts";

/**
 * The zod schemas (spec_schema.ts), loaded by {@linkcode loadSpecSchema}: importing zod costs
 * ~18 ms of every start, and only a config.json needs it (`sentry do` never reads one).
 */
let schema: typeof import("./spec_schema.ts") | null = null;

/**
 * linux.seccomp's compiler (seccomp_profile.ts, ~7 KB of the bundle), loaded with the schemas:
 * only a config.json has a profile, and `sentry do` never reads one.
 */
let seccompProfile: typeof import("./seccomp_profile.ts") | null = null;

/** Loads what parseSpec, validateSpec and specSeccomp need; call (once is enough) before any. */
export async function loadSpecSchema(): Promise<void> {
  [schema, seccompProfile] = await Promise.all([
    schema ?? import("./spec_schema.ts"),
    seccompProfile ?? import("./seccomp_profile.ts"),
  ]);
}

/** linux.seccomp compiled to a cBPF filter (seccomp_profile.ts's compileSeccomp); null: none. */
export function specSeccomp(section: unknown): SeccompProfile | null {
  if (section === undefined || section === null) return null; // loadBundle without a config.json
  if (seccompProfile === null) throw new Error("specSeccomp before loadSpecSchema");
  return seccompProfile.compileSeccomp(section);
}

/** A resource limit as the kernel takes it. */
export interface Rlimit {
  cur: bigint;
  max: bigint;
}

/**
 * Parses and validates the text of a config.json.
 *
 * Throws {@linkcode BootError} whose message is `config.json: FIELD: expected ...` (or
 * `config.json: not valid JSON: ...`).
 */
export function parseSpec(text: string): Spec {
  let json: unknown;
  try {
    // linux.seccomp's argument values are uint64: a JSON number above 2^53 would lose bits as
    // a double, so `value` and `valueTwo` are read exactly, from their source text.
    json = JSON.parse(text, (key, v, ctx?: { source?: string }) =>
      (key === "value" || key === "valueTwo") && typeof v === "number" && ctx?.source !== undefined &&
        /^\d+$/.test(ctx.source)
        ? BigInt(ctx.source)
        : v);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new BootError(`config.json: not valid JSON: ${firstLine(msg)}`);
  }
  return validateSpec(json);
}

/** Validates an already-parsed config.json. Throws {@linkcode BootError} as parseSpec. */
export function validateSpec(json: unknown): Spec {
  if (schema === null) throw new Error("validateSpec before loadSpecSchema");
  const r = schema.specSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue?.path ?? [];
    throw new BootError(`config.json: ${describeField(path)}`);
  }
  checkRlimits(r.data.process.rlimits ?? []);
  return r.data;
}

/**
 * Names the field at `path` (or the nearest enclosing field that has a description) and what
 * it must be, e.g. `process.args: expected a non-empty array of strings`.
 */
function describeField(path: readonly PropertyKey[]): string {
  for (let n = path.length; n >= 0; n--) {
    const prefix = path.slice(0, n);
    const expected = EXPECTED[patternOf(prefix)];
    if (expected !== undefined) {
      return n === 0 ? `expected ${expected}` : `${formatPath(prefix)}: expected ${expected}`;
    }
  }
  return `${formatPath(path)}: invalid value`;
}

/** `["process", "rlimits", 0, "hard"]` → `process.rlimits[].hard`. */
function patternOf(path: readonly PropertyKey[]): string {
  return formatPath(path.map((p) => (typeof p === "number" ? -1 : p)));
}

/** `["process", "rlimits", 0, "hard"]` → `process.rlimits[0].hard` (index -1 prints `[]`). */
export function formatPath(path: readonly PropertyKey[]): string {
  let s = "";
  for (const p of path) {
    if (typeof p === "number") s += p < 0 ? "[]" : `[${p}]`;
    else s += s === "" ? String(p) : `.${String(p)}`;
  }
  return s;
}

function checkRlimits(rlimits: readonly SpecRlimit[]): void {
  const seen = new Set<string>();
  rlimits.forEach((r, i) => {
    if (seen.has(r.type)) {
      throw new BootError(`config.json: process.rlimits[${i}].type: ${r.type} is given twice`);
    }
    seen.add(r.type);
    if (r.soft > r.hard) {
      throw new BootError(`config.json: process.rlimits[${i}]: soft limit exceeds hard limit`);
    }
  });
}

/** A JSON limit as a 64-bit value; 2^64 and above (RLIM_INFINITY after rounding) is infinity. */
export function limitValue(n: number): bigint {
  return n >= 2 ** 64 ? RLIM_INFINITY : BigInt(n);
}

/** process.rlimits as the kernel takes them: resource number → {cur, max}. */
export function rlimitsOf(spec: Spec): Map<number, Rlimit> {
  const m = new Map<number, Rlimit>();
  for (const r of spec.process.rlimits ?? []) {
    m.set(RLIMIT_NAMES[r.type]!, { cur: limitValue(r.soft), max: limitValue(r.hard) });
  }
  return m;
}

/**
 * process.capabilities as the kernel takes them (null when absent: every capability, as runc
 * changes none). A set left out is empty, and an unknown name (a newer kernel's) is ignored,
 * as runc does.
 */
export function capsOf(caps: SpecCapabilities | undefined): ProcessCaps | null {
  if (caps === undefined) return null;
  const set = (names: readonly string[] | undefined) => {
    let bits = 0n;
    for (const n of names ?? []) {
      const i = CAP_NAMES.indexOf(n.toUpperCase().startsWith("CAP_") ? n.toUpperCase() : `CAP_${n.toUpperCase()}`);
      if (i >= 0) bits |= 1n << BigInt(i);
    }
    return bits;
  };
  return {
    bounding: set(caps.bounding),
    effective: set(caps.effective),
    inheritable: set(caps.inheritable),
    permitted: set(caps.permitted),
    ambient: set(caps.ambient),
  };
}

/** linux.resources as limits (null: none); a flag of the same limit wins (boot/mod.ts). */
export interface SpecResources {
  memoryBytes: number | null;
  pids: number | null;
  cpus: number | null;
  cpuPeriodNs: number | null;
}

/**
 * linux.resources: memory.limit in bytes, pids.limit, cpu.quota/cpu.period (microseconds) as a
 * number of CPUs. A limit of 0 or below is none, as runc takes -1 and an unset value.
 */
export function resourcesOf(spec: Spec): SpecResources {
  const r = spec.linux?.resources;
  const positive = (n: number | undefined) => (n === undefined || n <= 0 ? null : n);
  const period = r?.cpu?.period ?? 100_000;
  const quota = positive(r?.cpu?.quota);
  if (r?.memory?.limit !== undefined && r.memory.limit > 0 && r.memory.limit < 4096) {
    throw new BootError(`config.json: linux.resources.memory.limit: ${r.memory.limit} bytes is less than a page`);
  }
  return {
    memoryBytes: positive(r?.memory?.limit),
    pids: positive(r?.pids?.limit),
    cpus: quota === null ? null : quota / period,
    cpuPeriodNs: r?.cpu?.period === undefined ? null : period * 1000,
  };
}

/**
 * The spec `sentry spec` writes, and the base of a bare root filesystem's spec: /bin/sh as
 * root in a read-only rootfs/ beside config.json, with runc's RLIMIT_NOFILE of 1024.
 */
export function defaultSpec(): Spec {
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ["sh"],
      env: [`PATH=${DEFAULT_PATH}`, "TERM=xterm"],
      cwd: "/",
      rlimits: [{ type: nameOf(RLIMIT_NOFILE), hard: 1024, soft: 1024 }],
    },
    root: { path: "rootfs", readonly: true },
    hostname: "sentry",
    mounts: [],
  };
}

function nameOf(resource: number): string {
  for (const [name, n] of Object.entries(RLIMIT_NAMES)) if (n === resource) return name;
  throw new Error(`no name for resource ${resource}`);
}
