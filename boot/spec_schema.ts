/**
 * The zod schemas of the config.json fields the sentry reads (see spec.ts, which loads this
 * module only when a config.json is to be validated: importing zod is a large part of the
 * sentry's start-up).
 *
 * @module
 */

import * as z from "../kernel/zod.ts";
import { RLIMIT_NAMES } from "../abi/linux/limits.ts";
import { MAX_ID } from "./spec.ts";

const id = z.number().int().min(0).max(MAX_ID);
/** A 64-bit limit. JSON numbers are doubles: 18446744073709551615 (RLIM_INFINITY) reads as 2^64. */
const limit = z.number().min(0).refine(Number.isInteger);
const absolutePath = z.string().refine((s) => s.startsWith("/"));

export const rlimitSchema = z.object({
  type: z.string().refine((t) => Object.hasOwn(RLIMIT_NAMES, t)),
  hard: limit,
  soft: limit,
});

/** Names as runc takes them: unknown ones are ignored (runc warns), so any string is accepted. */
const capSet = z.array(z.string()).optional();
export const capabilitiesSchema = z.object({
  bounding: capSet,
  effective: capSet,
  inheritable: capSet,
  permitted: capSet,
  ambient: capSet,
});

const idMapping = z.object({ containerID: id, hostID: id, size: z.number().int().min(1).max(MAX_ID) });

const hookList = z.array(z.object({
  path: absolutePath,
  args: z.array(z.string()).optional(),
  env: z.array(z.string()).optional(),
  timeout: z.number().int().min(1).optional(),
})).optional();

export const mountSchema = z.object({
  destination: absolutePath,
  source: z.string().optional(),
  type: z.string().optional(),
  options: z.array(z.string()).optional(),
});

export const specSchema = z.object({
  ociVersion: z.string().optional(),
  process: z.object({
    terminal: z.boolean().optional(),
    args: z.array(z.string()).min(1),
    env: z.array(z.string().regex(/^[^=]+=/)).optional(),
    cwd: absolutePath,
    user: z.object({
      uid: id,
      gid: id,
      additionalGids: z.array(id).optional(),
      umask: z.number().int().min(0).max(0o777).optional(),
    }).optional(),
    rlimits: z.array(rlimitSchema).optional(),
    capabilities: capabilitiesSchema.optional(),
    noNewPrivileges: z.boolean().optional(),
  }),
  hostname: z.string().optional(),
  root: z.object({
    path: z.string().min(1),
    readonly: z.boolean().optional(),
  }),
  mounts: z.array(mountSchema).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  hooks: z.object({
    prestart: hookList,
    createRuntime: hookList,
    createContainer: hookList,
    startContainer: hookList,
    poststart: hookList,
    poststop: hookList,
  }).optional(),
  linux: z.object({
    namespaces: z.array(z.object({ type: z.string(), path: z.string().optional() })).optional(),
    sysctl: z.record(z.string(), z.string()).optional(),
    uidMappings: z.array(idMapping).optional(),
    gidMappings: z.array(idMapping).optional(),
    maskedPaths: z.array(absolutePath).optional(),
    readonlyPaths: z.array(absolutePath).optional(),
    /** Checked field by field where it is compiled (boot/seccomp_profile.ts), in runc's words. */
    seccomp: z.unknown().optional(),
    resources: z.object({
      memory: z.object({ limit: z.number().int().optional() }).optional(),
      pids: z.object({ limit: z.number().int().optional() }).optional(),
      cpu: z.object({
        quota: z.number().int().optional(),
        period: z.number().int().min(1000).max(1_000_000).optional(),
      }).optional(),
    }).optional(),
  }).optional(),
});

/** A config.json as written on disk (the fields the sentry reads). */
export type Spec = z.infer<typeof specSchema>;
/** One entry of process.rlimits. */
export type SpecRlimit = z.infer<typeof rlimitSchema>;
/** process.capabilities. */
export type SpecCapabilities = z.infer<typeof capabilitiesSchema>;
/** One entry of mounts. */
export type SpecMount = z.infer<typeof mountSchema>;
