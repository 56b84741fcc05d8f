/**
 * The mounts of a sandbox, planned from config.json before anything runs: each entry is
 * checked (type, options, the host source of a bind mount) so that a bad one stops the sentry
 * with one line and status 125, as the rest of the spec does. The loader applies the plan
 * (boot/mounts.ts) once the root filesystem exists.
 *
 * Every sandbox also gets /proc (proc), /dev (devfs), /dev/shm (tmpfs) and /sys (sysfs) unless
 * config.json mounts something else there ({@linkcode DEFAULT_MOUNTS}), as runsc does.
 *
 * @module
 */

import * as posix from "../abi/path.ts";
import { MS_NODEV, MS_NOEXEC, MS_NOSUID } from "../abi/linux/mount.ts";
import { BootError, describeFsError } from "./errors.ts";
import { quote } from "./flags.ts";
import type { SpecMount } from "./spec.ts";

/** What gets mounted. */
export type MountKind =
  /** procfs. */
  | "proc"
  /** The minimal sysfs. */
  | "sysfs"
  /** devfs (a "tmpfs" at /dev, as runsc treats it, or "devtmpfs"). */
  | "devfs"
  /** An in-memory filesystem. */
  | "tmpfs"
  /** A host directory, read-only or writable (vfs/hostfs writes through held descriptors). */
  | "bind"
  /** A single host regular file, read-only or writable, on a file of the sandbox (runc creates a missing one). */
  | "bindFile"
  /**
   * The sandbox's cgroup2 hierarchy (vfs/cgroupfs), its root being the container's cgroup with
   * the sandbox's limits: "cgroup" and "cgroup2" alike (a v1 host's engine writes "cgroup"; the
   * sentry has only the v2 hierarchy, which is what runc/crun give on a v2 host).
   */
  | "cgroup"
  /** Accepted and not mounted: devpts, mqueue (devfs provides the directories). */
  | "skip";

/** One mount, ready for the loader. Plain data. */
export interface PlannedMount {
  /** The index in config.json's mounts, or null for a default mount. */
  index: number | null;
  /** Absolute, normalised, inside the sandbox. */
  destination: string;
  kind: MountKind;
  /** The type as config.json gave it ("proc", "tmpfs", "bind", ...). */
  type: string;
  /** For bind mounts: the host directory or regular file, absolute and free of symlinks. */
  hostSource: string | null;
  /** What /proc/mounts shows as the source. */
  source: string;
  readonly: boolean;
  /** MS_NOSUID | MS_NODEV | MS_NOEXEC. */
  flags: number;
  /** tmpfs size limit in bytes (size=), or null. */
  sizeBytes: number | null;
  /** tmpfs root mode (mode=, octal), uid= and gid=, or null. */
  mode: number | null;
  uid: number | null;
  gid: number | null;
}

/** The mounts every sandbox gets unless config.json mounts something at their destination. */
export const DEFAULT_MOUNTS: readonly PlannedMount[] = [
  defaultMount("/proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, false),
  defaultMount("/dev", "devfs", "devtmpfs", MS_NOSUID, false),
  defaultMount("/dev/shm", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, false),
  defaultMount("/sys", "sysfs", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, true),
];

function defaultMount(destination: string, kind: MountKind, type: string, flags: number, ro: boolean): PlannedMount {
  return {
    index: null, destination, kind, type, hostSource: null, source: type, readonly: ro, flags, sizeBytes: null,
    mode: null, uid: null, gid: null,
  };
}

/** Options that only change propagation or atime behaviour: accepted, no effect here. */
const IGNORED_OPTIONS = new Set([
  "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable",
  "relatime", "norelatime", "noatime", "atime", "strictatime", "nostrictatime", "nodiratime",
  "diratime", "lazytime", "nolazytime", "sync", "async", "dirsync", "silent", "loud",
  "nosymfollow", "symfollow", "mand", "nomand", "newinstance", "tmpcopyup", "rro",
]);

/**
 * Checks config.json's mounts and returns them as a plan, in order. Relative bind sources are
 * relative to bundleDir. Throws {@linkcode BootError}: `config.json: mounts[2].type: ...`.
 */
export function planMounts(mounts: readonly SpecMount[], bundleDir: string): PlannedMount[] {
  return mounts.map((m, i) => planOne(m, i, bundleDir));
}

function planOne(m: SpecMount, i: number, bundleDir: string): PlannedMount {
  const field = (f: string) => `config.json: mounts[${i}].${f}`;
  const destination = posix.normalize(m.destination).replace(/(.)\/$/, "$1");
  const options = m.options ?? [];
  let readonly = false, flags = 0, bind = false, sizeBytes: number | null = null;
  let mode: number | null = null, uid: number | null = null, gid: number | null = null;
  for (const o of options) {
    switch (o) {
      case "ro": readonly = true; break;
      case "rw": readonly = false; break;
      case "nosuid": flags |= MS_NOSUID; break;
      case "suid": flags &= ~MS_NOSUID; break;
      case "nodev": flags |= MS_NODEV; break;
      case "dev": flags &= ~MS_NODEV; break;
      case "noexec": flags |= MS_NOEXEC; break;
      case "exec": flags &= ~MS_NOEXEC; break;
      case "bind":
      case "rbind": bind = true; break;
      default: {
        if (IGNORED_OPTIONS.has(o)) break;
        const eq = o.indexOf("=");
        if (eq <= 0) throw new BootError(`${field("options")}: unknown option ${quote(o)}`);
        const key = o.slice(0, eq), value = o.slice(eq + 1);
        if (key === "size") {
          sizeBytes = parseSize(value);
          if (sizeBytes === null) throw new BootError(`${field("options")}: ${quote(o)}: expected a size such as 64m`);
        } else if (key === "mode") {
          if (!/^[0-7]{1,4}$/.test(value)) throw new BootError(`${field("options")}: ${quote(o)}: expected an octal mode`);
          mode = parseInt(value, 8);
        } else if (key === "uid" || key === "gid") {
          if (!/^[0-9]{1,10}$/.test(value) || Number(value) > 0xffff_fffe) {
            throw new BootError(`${field("options")}: ${quote(o)}: expected an id`);
          }
          if (key === "uid") uid = Number(value);
          else gid = Number(value);
        }
        // Other key=value options (nr_inodes=, ptmxmode=, ...) are filesystem data: accepted.
      }
    }
  }
  const type = m.type ?? (bind ? "bind" : "");
  let kind: MountKind;
  if (bind || type === "bind") kind = "bind";
  else if (type === "proc") kind = "proc";
  else if (type === "sysfs") kind = "sysfs";
  else if (type === "devtmpfs" || (type === "tmpfs" && destination === "/dev")) kind = "devfs";
  else if (type === "tmpfs") kind = "tmpfs";
  else if (type === "cgroup" || type === "cgroup2") kind = "cgroup";
  else if (type === "devpts" || type === "mqueue") kind = "skip";
  else if (type === "") {
    throw new BootError(`${field("type")}: missing (expected proc, sysfs, tmpfs, devpts, mqueue, cgroup or bind)`);
  } else {
    throw new BootError(`${field("type")}: ${quote(type)} is not supported (expected proc, sysfs, tmpfs, devpts, mqueue, cgroup or bind)`);
  }
  let hostSource: string | null = null;
  if (kind === "bind") {
    if (m.source === undefined || m.source === "") {
      throw new BootError(`${field("source")}: expected a host directory or file to bind`);
    }
    const src = bindSource(posix.resolve(bundleDir, m.source), field("source"));
    hostSource = src.path;
    if (src.isFile) kind = "bindFile";
  }
  return {
    index: i, destination, kind, type: type === "" ? "bind" : type, hostSource,
    source: m.source ?? type, readonly, flags, sizeBytes, mode, uid, gid,
  };
}

/** A size with an optional k, m or g suffix (tmpfs's size=), or null. */
function parseSize(s: string): number | null {
  const m = /^([0-9]+)([kmgKMG]?)$/.exec(s);
  if (m === null) return null;
  const unit = { "": 1, k: 1024, m: 1 << 20, g: 1 << 30 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g"];
  return Number(m[1]) * unit;
}

/** The real path of a bind mount's host source, which must be a directory or a regular file. */
function bindSource(path: string, what: string): { path: string; isFile: boolean } {
  let real: string, st: Deno.FileInfo;
  try {
    real = Deno.realPathSync(path);
    st = Deno.statSync(real);
  } catch (err) {
    throw new BootError(`${what}: ${quote(path)}: ${describeFsError(err)}`);
  }
  if (!st.isDirectory && !st.isFile) {
    throw new BootError(`${what}: ${quote(path)} is neither a directory nor a regular file`);
  }
  return { path: real, isFile: st.isFile };
}

/**
 * The plan with the default mounts in front, minus the defaults that config.json replaces
 * (an entry whose destination is the same).
 */
export function withDefaults(plan: readonly PlannedMount[]): PlannedMount[] {
  const taken = new Set(plan.map((p) => p.destination));
  return [...DEFAULT_MOUNTS.filter((d) => !taken.has(d.destination)), ...plan];
}
