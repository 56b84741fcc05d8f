/**
 * The host's devices of config.json's network namespace (podman's default network), taken for
 * the sandbox's own stack (docs/net.md): loaded only for a run that names one (boot/loader.ts
 * hostNicsModule, which boot/mod.ts loads with the loader), not at every start (issue #16).
 *
 * @module
 */

import type { HostNicConfig } from "../kernel/net.ts";
import { PacketLink } from "../kernel/net_packet.ts";
import { type HostNic, takeNetnsDevices } from "../platform/ptrace/host_netns.ts";
import type { DebugLog } from "../kernel/log.ts";
import { BootError } from "./errors.ts";

/** Per namespace path, each device's addresses and routes as this process first found them. */
const firstTakes = new Map<string, Map<string, { addresses: string[]; routes: HostNic["routes"] }>>();

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
  // The first take removed the devices' addresses from the namespace's host stack, so a later
  // take (boot/mod.ts assembles the sandbox again when the first assembly reached a module not
  // loaded yet, e.g. for podman's linux.sysctl or maskedPaths) finds none: it gets the
  // addresses and routes the first one found, else the sandbox's eth0 came up without any.
  let first = firstTakes.get(path);
  if (first === undefined) {
    first = new Map(taken.map((n) => [n.name, { addresses: n.addresses, routes: n.routes }]));
    firstTakes.set(path, first);
  }
  for (const n of taken) {
    const f = first.get(n.name);
    if (f === undefined) continue;
    if (n.addresses.length === 0) n.addresses = f.addresses;
    if (n.routes.length === 0) n.routes = f.routes;
  }
  return taken.map((n) => {
    log.debug(`network: ${n.name} of ${path}: mtu ${n.mtu}, ${n.addresses.join(" ")}; routes ${
      n.routes.map((r) => `${r.cidr}${r.gateway === null ? "" : ` via ${r.gateway}`}`).join(", ") || "none"}`);
    return { name: n.name, link: new PacketLink(n.fd, n.mtu, n.mac), mac: n.mac, addresses: n.addresses, routes: n.routes };
  });
}
