/**
 * The requests of the control socket, validated with zod (docs/control.md is their reference).
 * Loaded by the sentry holding a sandbox at its first request, never at start-up: importing zod
 * costs ~18 ms.
 *
 * @module
 */

import * as z from "../kernel/zod.ts";

/** Bounds that keep a request from making the sentry do unbounded work. */
const MAX_ARGS = 4096;
const MAX_STRING = 128 * 1024;
const MAX_GROUPS = 256;

const str = z.string().max(MAX_STRING);
const id32 = z.number().int().min(0).max(4294967294);
const pid = z.number().int().min(1).max(4194304);
const dim = z.number().int().min(0).max(65535);
const capNames = z.array(z.string().max(64)).max(128).optional();

export const requestSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("ps") }).strict(),
  z.object({ op: z.literal("stats") }).strict(),
  z.object({ op: z.literal("pause") }).strict(),
  /** Checkpoint into the image file `image` (an absolute path), then end the sandbox or resume it. */
  z.object({ op: z.literal("checkpoint"), image: str.regex(/^\//), leaveRunning: z.boolean() }).strict(),
  z.object({ op: z.literal("resume") }).strict(),
  z.object({ op: z.literal("start") }).strict(),
  z.object({
    op: z.literal("kill"),
    signal: z.number().int().min(0).max(64),
    all: z.boolean().optional(),
    pid: pid.optional(),
  }).strict(),
  z.object({ op: z.literal("wait"), pid: pid.optional() }).strict(),
  z.object({
    op: z.literal("exec"),
    argv: z.array(str).min(1).max(MAX_ARGS),
    env: z.array(str.regex(/^[^=]+=/)).max(MAX_ARGS).optional(),
    envAdd: z.array(str.regex(/^[^=]+=/)).max(MAX_ARGS).optional(),
    cwd: str.regex(/^\//).optional(),
    uid: id32.optional(),
    gid: id32.optional(),
    additionalGids: z.array(id32).max(MAX_GROUPS).optional(),
    /** OCI process.capabilities (absent: the container's). */
    capabilities: z.object({
      bounding: capNames, effective: capNames, inheritable: capNames, permitted: capNames, ambient: capNames,
    }).strict().optional(),
    noNewPrivileges: z.boolean().optional(),
    umask: z.number().int().min(0).max(0o777).optional(),
    terminal: z.boolean().optional(),
    rows: dim.optional(),
    cols: dim.optional(),
  }).strict(),
  z.object({ op: z.literal("resize"), pid, rows: dim, cols: dim }).strict(),
  /** New limits (runc's update): null removes one, absent keeps it. */
  z.object({
    op: z.literal("update"),
    memoryBytes: z.number().int().min(4096).max(2 ** 53).nullable().optional(),
    pids: z.number().int().min(1).max(4194304).nullable().optional(),
    cpus: z.number().positive().max(1e9).nullable().optional(),
    cpuPeriodNs: z.number().int().min(1_000_000).max(1_000_000_000).optional(),
  }).strict(),
]);

export type Request = z.infer<typeof requestSchema>;

/**
 * Validates a parsed request: the request, or one line saying what is wrong with it (the
 * first problem found, with its path).
 */
export function validateRequest(json: unknown): Request | string {
  const r = requestSchema.safeParse(json);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = (issue?.path ?? []).map(String).join(".");
  return `invalid request: ${path === "" ? "" : `${path}: `}${issue?.message ?? "rejected"}`;
}
