/**
 * Applies a mount plan (boot/mount_plan.ts) to the sandbox's tree, in order: each destination
 * is resolved inside the sandbox (symlinks stay inside the root) and the filesystem mounted on
 * it. Called by the loader before init exists.
 *
 * Missing mount points are created (with their parents): a directory, or for a file bind mount
 * an empty file, as runc does. A writable root's overlay takes them; a read-only root whose
 * mount points are missing ({@linkcode rootLacksMountPoints}) gets an in-memory layer that
 * holds only them (VirtualFilesystem.create's mountPoints), as runc creates them in the rootfs
 * before remounting it read-only. A file is mounted on a file and a directory on a directory.
 *
 * @module
 */

import { S_IFREG } from "../abi/linux/file.ts";
import { Credentials } from "../kernel/creds.ts";
import { ENOENT, EROFS, LinuxError } from "../kernel/errno.ts";
import type { DebugLog } from "../kernel/log.ts";
import {
  type Filesystem, HostFilesystem, type HostIdMap, type Location, type PathContext, type VirtualFilesystem, walk,
} from "../vfs/mod.ts";
import { TmpfsFilesystem } from "../vfs/tmpfs/tmpfs.ts";
import { ProcFilesystem } from "../vfs/procfs/procfs.ts";
import type { ProcSource } from "../vfs/procfs/source.ts";
import { DevFilesystem } from "../vfs/devfs/devfs.ts";
import { SysFilesystem } from "../vfs/sysfs/sysfs.ts";
import type { CgroupContainerLimits, CgroupFilesystem } from "../vfs/cgroupfs/cgroupfs.ts";
import { BootError } from "./errors.ts";
import { quote } from "./flags.ts";
import type { PlannedMount } from "./mount_plan.ts";

/** What the filesystems need from the rest of the sandbox. */
export interface MountEnv {
  vfs: VirtualFilesystem;
  procSource: ProcSource;
  ncpus: number;
  log: DebugLog;
  /** linux.uidMappings/gidMappings for the owners of bind mounts' host files. */
  idMap?: HostIdMap | null;
  /** The sandbox's cgroup2 hierarchy and its limits, for config.json's cgroup mounts. */
  cgroups?: { fs: CgroupFilesystem; limits: () => CgroupContainerLimits };
}

/** Mounts every entry of plan. Throws {@linkcode BootError} for a config.json entry that fails. */
export function applyMounts(plan: readonly PlannedMount[], env: MountEnv): void {
  const root = env.vfs.root();
  const ctx = { root, creds: Credentials.root() };
  for (const p of plan) {
    const what = p.index === null ? `default mount ${p.destination}` : `config.json: mounts[${p.index}].destination`;
    if (p.kind === "skip") {
      env.log.debug(`mount: ${p.type} at ${p.destination} is provided by devfs/sysfs; skipped`);
      continue;
    }
    const wantDir = p.kind !== "bindFile";
    let at: Location;
    try {
      at = mountPoint(env.vfs, ctx, p.destination, wantDir);
    } catch (e) {
      if (!(e instanceof LinuxError)) throw e;
      if (p.index === null) {
        env.log.debug(`mount: ${what}: ${e.message}; skipped`);
        continue;
      }
      if (e === ENOENT || e === EROFS) {
        throw new BootError(
          `${what}: ${quote(p.destination)} does not exist in the root filesystem, which is read-only`,
        );
      }
      throw new BootError(`${what}: ${quote(p.destination)}: ${e.message}`);
    }
    if (at.isDir !== wantDir) {
      if (p.index === null) continue;
      throw new BootError(
        `${what}: ${quote(p.destination)} ${wantDir ? "is not a directory" : "is a directory (the source is a file)"}`,
      );
    }
    const fs = makeFilesystem(p, env);
    const readonly = p.readonly;
    const m = env.vfs.mount(at, fs, { readonly, flags: p.flags, source: p.source });
    // The bundle's cgroup mount is made again from the bundle at restore: a checkpoint keeps it.
    if (p.kind === "cgroup") env.cgroups!.fs.bootMounts.add(m);
    env.log.debug(`mount: ${p.type} (${p.kind}) at ${p.destination}${readonly ? " ro" : ""}`);
  }
}

/**
 * linux.maskedPaths and linux.readonlyPaths, applied once the mounts are, as runc does: a
 * masked directory is covered by an empty read-only tmpfs and a masked file by /dev/null; a
 * read-only path is bound onto itself read-only (the top mount: runc's bind remount). A path
 * that does not exist is left alone, as runc leaves it.
 */
export function applyPathRules(vfs: VirtualFilesystem, masked: readonly string[], readonlyPaths: readonly string[], log: DebugLog): void {
  const root = vfs.root();
  const ctx = { root, creds: Credentials.root() };
  const find = (p: string): Location | null => {
    try {
      return walk(ctx, root, p, true);
    } catch (e) {
      if (!(e instanceof LinuxError)) throw e;
      return null;
    }
  };
  for (const p of readonlyPaths) {
    const at = find(p);
    if (at === null) continue;
    vfs.bind(at, at, true).readonly = true;
    log.debug(`mount: ${p} read-only (linux.readonlyPaths)`);
  }
  for (const p of masked) {
    const at = find(p);
    if (at === null) continue;
    if (at.isDir) {
      vfs.mount(at, new TmpfsFilesystem({ mode: 0o755, uid: 0, gid: 0, sizeLimit: 0 }), { readonly: true, source: "tmpfs" });
    } else {
      const devNull = find("/dev/null");
      if (devNull === null || devNull.isDir) continue;
      vfs.bind(at, devNull, false);
    }
    log.debug(`mount: ${p} masked (linux.maskedPaths)`);
  }
}

/**
 * Whether a mount of plan lands on a path the root lacks (not counting paths under an earlier
 * mount of plan, which that mount provides or creates): a read-only root then needs a layer for
 * its mount points.
 */
export function rootLacksMountPoints(vfs: VirtualFilesystem, plan: readonly PlannedMount[]): boolean {
  const root = vfs.root();
  const ctx = { root, creds: Credentials.root() };
  const earlier: string[] = [];
  for (const p of plan) {
    if (p.kind === "skip") continue;
    const d = p.destination;
    const under = earlier.some((e) => d === e || d.startsWith(e === "/" ? "/" : e + "/"));
    earlier.push(d);
    if (under) continue;
    try {
      walk(ctx, root, d, true);
    } catch (e) {
      if (e === ENOENT) return true;
      if (!(e instanceof LinuxError)) throw e;
    }
  }
  return false;
}

/**
 * The file at path (followed inside the sandbox), created when missing with its missing parent
 * directories (mode 0755, as runc does) when the tree can be written: a directory if dir, else
 * an empty regular file; ENOENT or EROFS when it cannot.
 */
function mountPoint(vfs: VirtualFilesystem, ctx: PathContext, path: string, dir: boolean): Location {
  const root = ctx.root;
  try {
    return walk(ctx, root, path, true);
  } catch (e) {
    if (e !== ENOENT) throw e;
  }
  const names = path.split("/").filter((n) => n !== "");
  let prefix = "";
  for (const [i, name] of names.entries()) {
    prefix += "/" + name;
    try {
      walk(ctx, root, prefix, true);
    } catch (e) {
      if (e !== ENOENT) throw e;
      if (dir || i < names.length - 1) vfs.mkdirAt(ctx, root, prefix, 0o755);
      else vfs.mknodAt(ctx, root, prefix, S_IFREG | 0o755, 0);
    }
  }
  return walk(ctx, root, path, true);
}

function makeFilesystem(p: PlannedMount, env: MountEnv): Filesystem {
  switch (p.kind) {
    case "proc":
      return new ProcFilesystem(env.procSource);
    case "sysfs":
      return new SysFilesystem(env.ncpus, env.vfs.blockDevices);
    case "devfs":
      return new DevFilesystem(env.vfs.blockDevices);
    case "tmpfs":
      return new TmpfsFilesystem({
        mode: p.mode ?? 0o1777, uid: p.uid ?? 0, gid: p.gid ?? 0, sizeLimit: p.sizeBytes ?? Infinity,
      });
    case "bind":
    case "bindFile":
      try {
        // rw binds write the host directory or file through held descriptors (vfs/hostfs).
        const o = { writable: !p.readonly, idMap: env.idMap ?? null };
        return p.kind === "bind" ? HostFilesystem.open(p.hostSource!, o) : HostFilesystem.openFile(p.hostSource!, o);
      } catch (e) {
        if (!(e instanceof LinuxError)) throw e;
        throw new BootError(`config.json: mounts[${p.index}].source: ${quote(p.hostSource!)}: ${e.message}`);
      }
    case "cgroup": {
      const c = env.cgroups;
      if (c === undefined) throw new BootError(`config.json: mounts[${p.index}]: cgroup mounts need the kernel's hierarchy`);
      c.fs.becomeContainer(c.limits);
      return c.fs;
    }
    case "skip":
      throw new Error("unreachable: skipped mounts are not made");
  }
}
