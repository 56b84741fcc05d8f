/**
 * Stat of a sandbox path against the host directory that serves as the root, before the kernel
 * exists: used only to look up the init executable in PATH. Symlinks are followed inside the
 * root (an absolute target restarts at the root, ".." stops at it), as path walks in the
 * sandbox will; mounts are not consulted.
 *
 * @module
 */

import * as posix from "../abi/path.ts";
import type { ExecStat } from "./exec_path.ts";

/** Linux's limit on symlinks followed in one lookup (MAXSYMLINKS). */
const MAX_SYMLINKS = 40;

/**
 * Stats `path` (absolute, in the sandbox) under `rootHostPath`, following symlinks within the
 * root. Returns null when the path does not exist, loops, or cannot be read.
 */
export function statInRoot(rootHostPath: string, path: string): ExecStat | null {
  const pending = path.split("/").filter((c) => c !== "").reverse();
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const c = pending.pop()!;
    if (c === ".") continue;
    if (c === "..") {
      resolved.pop();
      continue;
    }
    const host = posix.join(rootHostPath, ...resolved, c);
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(host);
    } catch {
      return null;
    }
    if (st.isSymlink) {
      if (++links > MAX_SYMLINKS) return null;
      let target: string;
      try {
        target = Deno.readLinkSync(host);
      } catch {
        return null;
      }
      if (target.startsWith("/")) resolved.length = 0;
      pending.push(...target.split("/").filter((t) => t !== "").reverse());
      continue;
    }
    resolved.push(c);
    if (pending.length === 0) {
      return { isFile: st.isFile, mode: (st.mode ?? 0) & 0o7777 };
    }
    if (!st.isDirectory) return null;
  }
  // The root itself.
  try {
    const st = Deno.statSync(rootHostPath);
    return { isFile: st.isFile, mode: (st.mode ?? 0) & 0o7777 };
  } catch {
    return null;
  }
}
