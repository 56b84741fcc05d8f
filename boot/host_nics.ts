/**
 * The host's devices of config.json's network namespace (podman's default network), taken for
 * the sandbox's own stack (docs/net.md): loaded only for a run that names one (boot/loader.ts
 * hostNicsModule, which boot/mod.ts loads with the loader), not at every start (issue #16).
 *
 * @module
 */

import type { HostNicConfig } from "../kernel/net.ts";
import { PacketLink } from "../kernel/net_packet.ts";
import { takeNetnsDevices } from "../platform/ptrace/host_netns.ts";
import type { DebugLog } from "../kernel/log.ts";
import { BootError } from "./errors.ts";

/**
 * The devices of the container's network namespace (config.json's linux.namespaces network
 * path: podman's bridge, pasta or slirp4netns), each for an interface of the sandbox's stack
 * through the sentry's packet socket on it (platform/ptrace/host_netns.ts, kernel/net_packet.ts).
 * A namespace with only lo (podman's --network none) gives none.
 */
export function hostNics(path: string, log: DebugLog): HostNicConfig[] {
  let taken;
  try {
    taken = takeNetnsDevices(path);
  } catch (err) {
    throw new BootError(`config.json: linux.namespaces: network ${(err as Error).message}`);
  }
  return taken.map((n) => {
    log.debug(`network: ${n.name} of ${path}: mtu ${n.mtu}, ${n.addresses.join(" ")}; routes ${
      n.routes.map((r) => `${r.cidr}${r.gateway === null ? "" : ` via ${r.gateway}`}`).join(", ") || "none"}`);
    return { name: n.name, link: new PacketLink(n.fd, n.mtu, n.mac), mac: n.mac, addresses: n.addresses, routes: n.routes };
  });
}
