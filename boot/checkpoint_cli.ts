/**
 * The two checkpoint commands that only talk to or start another sentry, run without boot/mod.ts
 * (main.ts sends them here): `sentry checkpoint ID`, a client of the container's control
 * socket, and the command side of `sentry restore -d`, which starts the detached holder and
 * waits until it registered the restored container. Neither needs the kernel, the bundle's
 * config.json (zod and the spec's schemas) nor the image: the holder reads and validates all
 * of them itself, with the same command line, and its one-line refusal goes to the stderr both
 * share, its status to this command's. Loading boot/mod.ts and validating the bundle here
 * first cost the restore ~17 ms of CPU and the holder's start waited for it (docs/checkpoint.md).
 *
 * @module
 */

import type { Command } from "./flags.ts";
import { IMAGE_FILE_NAME, quote } from "./flags.ts";
import { DebugLog } from "../kernel/log.ts";
import { openRuncLog, reportError, writeAll } from "./report_error.ts";
import { BootError } from "./errors.ts";
import { claimable, defaultRoot, generateId, readState, writeFileAtomic } from "./state_dir.ts";
import { isHolder, spawnHolder } from "./detach.ts";

type CheckpointCommand = Extract<Command, { kind: "checkpoint" }>;
type RestoreCommand = Extract<Command, { kind: "restore" }>;

/** Whether main.ts runs cmd here: `checkpoint`, and `restore -d` in the command (not its holder). */
export function isCheckpointClient(cmd: Command): cmd is CheckpointCommand | RestoreCommand {
  return cmd.kind === "checkpoint" || (cmd.kind === "restore" && cmd.detach && !isHolder());
}

/** Runs a command {@linkcode isCheckpointClient} accepted; returns its exit status. */
export async function checkpointClient(cmd: CheckpointCommand | RestoreCommand): Promise<number> {
  const log = new DebugLog();
  try {
    openRuncLog(cmd.global, log);
    return cmd.kind === "checkpoint" ? await checkpointCommand(cmd) : await restoreDetached(cmd);
  } catch (err) {
    return reportError(err, log);
  } finally {
    log.close();
  }
}

/** `sentry checkpoint`: the container's sentry saves itself (op `checkpoint`, docs/control.md). */
export async function checkpointCommand(cmd: CheckpointCommand): Promise<number> {
  const root = cmd.global.root ?? defaultRoot();
  const st = readState(root, cmd.id);
  if (st.status !== "running" && st.status !== "paused") throw new BootError(`container ${quote(cmd.id)} is ${st.status}: cannot checkpoint`);
  const dir = cmd.image.endsWith(`/${IMAGE_FILE_NAME}`) ? cmd.image.slice(0, -IMAGE_FILE_NAME.length - 1) : null;
  if (dir !== null) Deno.mkdirSync(dir, { recursive: true });
  const { request } = await import("./control_client.ts");
  await request(root, cmd.id, { op: "checkpoint", image: cmd.image, leaveRunning: cmd.leaveRunning });
  // podman (libpod) restores only from a directory holding CRIU's inventory.img, which it
  // stats and never reads: the sentry's image directory carries one, naming the image.
  if (dir !== null) writeFileAtomic(`${dir}/inventory.img`, `sentry checkpoint: ${IMAGE_FILE_NAME}\n`);
  return 0;
}

/**
 * `sentry restore -d`: claims nothing (the holder claims the ID), checks only that the ID is
 * free, starts the holder with this command line and returns once it registered the container
 * (printing a generated ID), or with the holder's status when it refused (its line already on
 * stderr).
 */
async function restoreDetached(cmd: RestoreCommand): Promise<number> {
  const root = cmd.global.root ?? defaultRoot();
  const id = cmd.id ?? generateId();
  claimable(root, id);
  const status = await spawnHolder(root, id);
  if (status === 0 && cmd.id === null) writeAll(Deno.stdout, `${id}\n`);
  return status;
}
