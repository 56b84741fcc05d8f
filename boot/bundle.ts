/**
 * From a bundle directory (or `sentry do`'s host view) to a {@linkcode LaunchConfig}: the plain
 * description of the sandbox that the loader assembles. This file reads the host filesystem;
 * the spec itself is checked in spec.ts.
 *
 * A bundle is a directory with an OCI config.json, whose root.path is relative to the bundle
 * (or absolute). A directory without config.json is taken as a bare root filesystem: the
 * default spec applies with the directory itself as a read-only root.
 *
 * @module
 */

import * as posix from "../abi/path.ts";
import { RLIM_INFINITY, RLIMIT_NOFILE } from "../abi/linux/limits.ts";
import { BootError, describeFsError } from "./errors.ts";
import { quote } from "./flags.ts";
import { capsOf, defaultSpec, parseSpec, resourcesOf, type Rlimit, rlimitsOf, type Spec, type SpecResources, specSeccomp } from "./spec.ts";
import { type PlannedMount, planMounts } from "./mount_plan.ts";
import type { ProcessCaps } from "../kernel/creds.ts";
import type { Hooks } from "./hooks.ts";
import { HostIdMap } from "../vfs/hostfs/hostfs.ts";
import type { SeccompProfile } from "./seccomp_profile.ts";

/** The file name of the spec inside a bundle. */
export const CONFIG_JSON = "config.json";

/** The command a bare root filesystem runs when none is given after `--`. */
export const BARE_ROOTFS_COMMAND: readonly string[] = ["/bin/sh"];

/** Everything the loader needs to start the sandbox. Plain data. */
export interface LaunchConfig {
  argv: string[];
  envp: string[];
  /** The working directory, a path inside the sandbox. */
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  /** process.capabilities; null: every capability. */
  caps: ProcessCaps | null;
  /** process.noNewPrivileges. */
  noNewPrivs: boolean;
  /** process.user.umask; null: 022. */
  umask: number | null;
  rlimits: Map<number, Rlimit>;
  hostname: string;
  /** The host directory that becomes "/", absolute and free of symlinks. */
  rootHostPath: string;
  readonly: boolean;
  /**
   * The host directory that holds the root overlay's upper layer (`--overlay-upper`), absolute
   * and free of symlinks; null: the upper layer is memory.
   */
  upperHostPath: string | null;
  /** config.json's mounts, checked (the loader adds /proc, /dev and /sys). */
  mounts: PlannedMount[];
  /** config.json's annotations (the state shows them). */
  annotations: Record<string, string>;
  /** config.json's hooks (boot/hooks.ts). */
  hooks: Hooks;
  /** linux.uidMappings and gidMappings, applied to the owners of host files; null: none given. */
  idMap: HostIdMap | null;
  /** linux.sysctl: written into the sandbox's /proc/sys (boot/sysctl.ts). */
  sysctl: Record<string, string>;
  /** linux.maskedPaths: hidden once mounted (boot/mounts.ts applyPathRules). */
  maskedPaths: string[];
  /** linux.readonlyPaths: made read-only once mounted. */
  readonlyPaths: string[];
  /** config.json's linux.resources (flags of the same limits win). */
  resources: SpecResources;
  /**
   * The path of linux.namespaces' network entry (a network namespace a container engine
   * prepared: its devices become the sandbox's, boot/loader.ts), or null: none named.
   */
  netnsPath: string | null;
  /**
   * linux.namespaces is given without a network entry: the container shares the runtime's
   * network (runc's reading; podman's --network host). The sandbox never takes the host's own
   * devices, so it gets loopback only (boot/mod.ts warns).
   */
  sharesRuntimeNetwork: boolean;
  /**
   * process.terminal: init wants a terminal. A foreground run gives it one only with `-t`; a
   * created or detached one needs `--console-socket` (runc's rule).
   */
  terminal: boolean;
  /** linux.seccomp compiled to a cBPF filter, installed on init and exec'd processes; null: none. */
  seccomp: SeccompProfile | null;
}

/**
 * Reads the bundle at `dir` (relative to `cwd`). `command`, when given, replaces process.args.
 * `id` (the container id) names the hostname when the spec has none.
 *
 * Throws {@linkcode BootError} for a missing directory, an unreadable or invalid config.json,
 * or a root that is not a directory. Precondition: loadSpecSchema (spec.ts) has run.
 */
export function loadBundle(
  dir: string,
  opts: { cwd: string; command: readonly string[] | null; id: string | null },
): LaunchConfig {
  const bundleDir = realDirectory(posix.resolve(opts.cwd, dir), `--bundle ${quote(dir)}`);
  const configPath = posix.join(bundleDir, CONFIG_JSON);
  let text: string | null;
  try {
    text = Deno.readTextFileSync(configPath);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new BootError(`${configPath}: ${describeFsError(err)}`);
    }
    text = null;
  }

  let spec: Spec;
  let rootPath: string;
  if (text === null) {
    spec = defaultSpec();
    spec.process.args = [...(opts.command ?? BARE_ROOTFS_COMMAND)];
    spec.hostname = opts.id ?? "sentry";
    rootPath = bundleDir;
  } else {
    spec = parseSpec(text);
    if (opts.command !== null) spec.process.args = [...opts.command];
    rootPath = posix.resolve(bundleDir, spec.root.path);
  }
  const rootHostPath = realDirectory(rootPath, `config.json: root.path ${quote(spec.root.path)}`);

  return {
    argv: spec.process.args,
    envp: spec.process.env ?? [],
    cwd: spec.process.cwd,
    uid: spec.process.user?.uid ?? 0,
    gid: spec.process.user?.gid ?? 0,
    additionalGids: spec.process.user?.additionalGids ?? [],
    caps: capsOf(spec.process.capabilities),
    noNewPrivs: spec.process.noNewPrivileges === true,
    umask: spec.process.user?.umask ?? null,
    rlimits: rlimitsOf(spec),
    hostname: spec.hostname ?? opts.id ?? "sentry",
    rootHostPath,
    readonly: spec.root.readonly ?? false,
    upperHostPath: null,
    mounts: planMounts(spec.mounts ?? [], bundleDir),
    annotations: spec.annotations ?? {},
    hooks: spec.hooks ?? {},
    idMap: spec.linux?.uidMappings?.length || spec.linux?.gidMappings?.length
      ? new HostIdMap(spec.linux.uidMappings ?? [], spec.linux.gidMappings ?? [])
      : null,
    sysctl: spec.linux?.sysctl ?? {},
    maskedPaths: spec.linux?.maskedPaths ?? [],
    readonlyPaths: spec.linux?.readonlyPaths ?? [],
    resources: resourcesOf(spec),
    netnsPath: netnsPathOf(spec),
    sharesRuntimeNetwork: spec.linux?.namespaces !== undefined && !spec.linux.namespaces.some((n) => n.type === "network"),
    terminal: spec.process.terminal === true,
    seccomp: specSeccomp(spec.linux?.seccomp),
  };
}

/**
 * The configuration of `sentry do`: the host's / under a writable in-memory overlay (as
 * `runsc do`: the application may change anything, the host tree never changes), the
 * caller's working directory, environment and hostname, uid and gid 0. `openFiles`: the
 * sentry's own RLIMIT_NOFILE hard limit, which becomes the sandbox's soft and hard limit, as
 * `runsc do` gives (Deno, like Go, raises its soft limit to the hard one at start, so the
 * caller's soft limit is not known here); other limits are Linux's defaults.
 */
export function doConfig(
  command: readonly string[],
  host: { cwd: string; env: Record<string, string>; hostname: string; openFiles?: bigint | undefined },
): LaunchConfig {
  return {
    argv: [...command],
    envp: Object.entries(host.env).map(([k, v]) => `${k}=${v}`),
    cwd: host.cwd,
    uid: 0,
    gid: 0,
    additionalGids: [],
    caps: null,
    noNewPrivs: false,
    umask: null,
    rlimits: host.openFiles === undefined
      ? new Map()
      : new Map([[RLIMIT_NOFILE, { cur: host.openFiles, max: host.openFiles }]]),
    hostname: host.hostname,
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
  };
}

/**
 * Sets launch's upper layer to the host directory `dir` (`--overlay-upper`, relative to cwd).
 * Refused when the root is read-only (there is no overlay), and when the directory is the root
 * or contains it (copy-up would write into the lower tree). A directory inside the root is
 * allowed (`sentry do` has / as its root): the sandbox then also sees it through the lower
 * layer, as a tree that changes under it.
 *
 * Throws {@linkcode BootError}.
 */
export function setOverlayUpper(launch: LaunchConfig, dir: string, cwd: string): void {
  const what = `--overlay-upper ${quote(dir)}`;
  const upper = realDirectory(posix.resolve(cwd, dir), what);
  if (launch.readonly) {
    throw new BootError(`${what}: the root is read-only (root.readonly in config.json), so it has no overlay`);
  }
  const root = launch.rootHostPath;
  if (upper === root || upper === "/" || root.startsWith(upper + "/")) {
    throw new BootError(`${what}: the upper layer must not be the root directory ${quote(root)} or contain it`);
  }
  launch.upperHostPath = upper;
}

/**
 * Writes the default config.json into `dir`, refusing to replace an existing one. The file is
 * written beside its final name and then hard-linked into place, which fails atomically if
 * config.json appeared meanwhile; so a reader never sees half a file and nothing is replaced.
 * Where hard links are not supported, a rename (after a fresh existence check) stands in.
 *
 * Returns the path written. Throws {@linkcode BootError}.
 */
export function writeDefaultSpec(dir: string, opts: { cwd: string }): string {
  const bundleDir = realDirectory(posix.resolve(opts.cwd, dir), `--bundle ${quote(dir)}`);
  const target = posix.join(bundleDir, CONFIG_JSON);
  const exists = () => {
    try {
      Deno.lstatSync(target);
      return true;
    } catch {
      return false;
    }
  };
  if (exists()) throw new BootError(`${target} already exists; remove it to write a new one`);

  const text = JSON.stringify(defaultSpec(), null, "\t") + "\n";
  const tmp = posix.join(bundleDir, `.${CONFIG_JSON}.${crypto.randomUUID()}.tmp`);
  try {
    const f = Deno.openSync(tmp, { write: true, createNew: true, mode: 0o644 });
    try {
      const bytes = new TextEncoder().encode(text);
      let off = 0;
      while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
      f.syncSync();
    } finally {
      f.close();
    }
    try {
      Deno.linkSync(tmp, target);
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) {
        throw new BootError(`${target} already exists; remove it to write a new one`);
      }
      if (exists()) throw new BootError(`${target} already exists; remove it to write a new one`);
      Deno.renameSync(tmp, target);
    }
  } catch (err) {
    if (err instanceof BootError) throw err;
    throw new BootError(`${target}: ${describeFsError(err)}`);
  } finally {
    try {
      Deno.removeSync(tmp);
    } catch {
      // Already renamed into place, or never created.
    }
  }
  return target;
}

/** The real path of a directory, or a BootError naming `what`. */
function realDirectory(path: string, what: string): string {
  let real: string;
  try {
    real = Deno.realPathSync(path);
  } catch (err) {
    throw new BootError(`${what}: ${describeFsError(err)}`);
  }
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(real);
  } catch (err) {
    throw new BootError(`${what}: ${describeFsError(err)}`);
  }
  if (!st.isDirectory) throw new BootError(`${what}: Not a directory`);
  return real;
}

/**
 * The hard RLIMIT_NOFILE of this process, from /proc/self/limits ("unlimited" as
 * RLIM_INFINITY); undefined when it cannot be read.
 */
export function ownOpenFilesLimit(): bigint | undefined {
  try {
    const m = /^Max open files\s+\S+\s+(\S+)/m.exec(Deno.readTextFileSync("/proc/self/limits"));
    if (!m) return undefined;
    return m[1] === "unlimited" ? RLIM_INFINITY : BigInt(m[1]!);
  } catch {
    return undefined;
  }
}

/** linux.namespaces' network entry's path, or null (no entry, or one without a path: a new, empty namespace). */
function netnsPathOf(spec: Spec): string | null {
  const entries = (spec.linux?.namespaces ?? []).filter((n) => n.type === "network");
  if (entries.length > 1) throw new BootError("config.json: linux.namespaces: network is given twice");
  const path = entries[0]?.path;
  if (path === undefined || path === "") return null;
  if (!path.startsWith("/")) throw new BootError(`config.json: linux.namespaces: network path ${quote(path)}: expected an absolute path`);
  return path;
}
