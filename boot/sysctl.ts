/**
 * config.json's linux.sysctl, written into the sandbox's /proc/sys before init runs, as runc
 * writes each key (dots become slashes) into the container's /proc/sys. A value the sandbox's
 * kernel refuses stops the sentry with one line, as it stops runc; a key the sentry's /proc/sys
 * does not have is a warning and is skipped (container engines pass defaults such as
 * net.ipv4.ping_group_range that the sandbox may not model).
 *
 * @module
 */

import { O_TRUNC, O_WRONLY } from "../abi/linux/file.ts";
import { Credentials } from "../kernel/creds.ts";
import { ENOENT, LinuxError } from "../kernel/errno.ts";
import type { DebugLog } from "../kernel/log.ts";
import type { VirtualFilesystem } from "../vfs/mod.ts";
import { BootError } from "./errors.ts";
import { quote } from "./flags.ts";

/** Writes each key's value; see the module's documentation. */
export function applySysctls(vfs: VirtualFilesystem, sysctl: Readonly<Record<string, string>>, log: DebugLog): void {
  const root = vfs.root();
  const ctx = { root, creds: Credentials.root() };
  for (const [key, value] of Object.entries(sysctl)) {
    const rel = key.replaceAll(".", "/");
    if (rel.split("/").some((n) => n === "" || n === "..")) {
      throw new BootError(`config.json: linux.sysctl: ${quote(key)} is not a sysctl name`);
    }
    try {
      const f = vfs.openAt(ctx, root, `/proc/sys/${rel}`, O_WRONLY | O_TRUNC, 0);
      try {
        f.write(new TextEncoder().encode(value), 0);
      } finally {
        f.decRef();
      }
      log.debug(`sysctl: ${key} = ${value}`);
    } catch (e) {
      if (!(e instanceof LinuxError)) throw e;
      if (e === ENOENT) {
        log.warning(`config.json: linux.sysctl: ${quote(key)} is not in the sandbox's /proc/sys; not set`);
        continue;
      }
      throw new BootError(`config.json: linux.sysctl: ${quote(key)} = ${quote(value)}: ${e.message}`);
    }
  }
}
