/**
 * Checkpoint of NETLINK_ROUTE sockets (issue #13; docs/checkpoint.md). Every request to one is
 * answered within the sendmsg that carries it (kernel/socket/netlink/route.ts), so at the safe
 * point a socket is idle: its port id, whether it is bound, its options (buffer sizes,
 * SO_PASSCRED, the SOL_NETLINK flags, the send and receive timeouts), the multicast groups it
 * joined, a pending overrun (ENOBUFS), and the datagrams queued and not read (answers, link
 * events, and messages other sockets sent with their senders) are all it holds. On restore a
 * new socket of the restoring kernel's network takes them back, its port id included (a port
 * id twice is refused). NETLINK_NETFILTER and NETLINK_KOBJECT_UEVENT sockets are refused.
 *
 * @module
 */

import { intIn, lazyKind, z } from "./zod_tree.ts";
import type { Kernel } from "../kernel.ts";
import type { FileDescription } from "../../vfs/file_description.ts";
import { netModules, netModulesIfLoaded } from "../net_load.ts";
import { SOCK_DGRAM, SOCK_RAW } from "../../abi/linux/socket.ts";
import type { Refuse } from "./files.ts";
import { ImageError } from "./image.ts";

const i32 = intIn(-0x8000_0000, 0x7fff_ffff);

const u32 = intIn(0, 0xffff_ffff);
const NETLINK_ROUTE = 0;
const timeout = intIn(0, 2 ** 62);

export const netlinkFileSchema = lazyKind("netlink", () =>
  z.object({
    kind: z.literal("netlink"),
    type: z.union([z.literal(SOCK_RAW), z.literal(SOCK_DGRAM)]),
    flags: u32,
    portId: u32,
    bound: z.boolean(),
    rcvBuf: intIn(2304, 0x7fff_ffff),
    sndBuf: intIn(4608, 0x7fff_ffff),
    passCred: z.boolean(),
    /** The other SOL_SOCKET options set, by name (kernel/socket/sockopt.ts). */
    options: z.array(z.tuple([intIn(0, 1 << 16), i32])).max(64).optional(),
    nlFlags: z.array(intIn(3, 12)).max(6),
    /** The multicast groups joined (hex, bit n-1 for group n). */
    groups: z.string().regex(/^[0-9a-f]{1,16}$/),
    overrun: z.boolean(),
    /** The opener's CAP_NET_ADMIN, which changes made through the socket need. */
    openerNetAdmin: z.boolean(),
    recvTimeoutNs: timeout,
    sendTimeoutNs: timeout,
    rx: z.array(z.object({
      data: z.instanceof(Uint8Array).refine((b) => b.length <= 1 << 20, "a netlink datagram too large"),
      from: z.object({ port: u32, creds: z.object({ pid: intIn(0, 1 << 22), uid: u32, gid: u32 }).strict() }).strict().nullable(),
    }).strict()).max(1 << 16),
  }).strict());

export type SavedNetlink = z.infer<typeof netlinkFileSchema>;

/** The saved form of a NETLINK_ROUTE socket of the sandbox's network; null for any other file. */
export function saveNetlinkFile(k: Kernel, f: FileDescription, refuse: Refuse): SavedNetlink | null {
  // (No socket exists before the network's modules are loaded.)
  const NetlinkRouteSocket = netModulesIfLoaded()?.NetlinkRouteSocket;
  if (NetlinkRouteSocket === undefined || !(f instanceof NetlinkRouteSocket)) return null;
  if (f.net !== k.net) throw refuse("a netlink socket of another network namespace");
  const s = f.snapshot();
  let queued = 0;
  for (const m of s.rx) queued += m.data.length;
  if (queued > 64 << 20) throw refuse("a netlink socket with more than 64 MiB queued");
  return {
    kind: "netlink", type: f.type as typeof SOCK_RAW | typeof SOCK_DGRAM, flags: f.flags, portId: s.portId, bound: s.bound,
    rcvBuf: s.rcvBuf, sndBuf: s.sndBuf, passCred: s.passCred, options: s.options, nlFlags: s.nlFlags, groups: s.groups.toString(16), overrun: s.overrun,
    openerNetAdmin: s.openerNetAdmin, recvTimeoutNs: f.recvTimeoutNs, sendTimeoutNs: f.sendTimeoutNs, rx: s.rx.map((m) => ({ data: m.data.slice(), from: m.from })),
  };
}

/** What the schema cannot check: one socket per port id. */
export function checkNetlinkShape(files: readonly { kind: string; portId?: number }[], bad: (why: string) => Error): void {
  const ports = new Set<number>();
  for (const f of files) {
    if (f.kind !== "netlink") continue;
    if (ports.has(f.portId!)) throw bad(`two netlink sockets with port id ${f.portId}`);
    ports.add(f.portId!);
  }
}

/** A new NETLINK_ROUTE socket of k's network with the saved state (the network's modules loaded: imageNeedsNetwork). */
export function makeNetlinkFile(k: Kernel, s: SavedNetlink): FileDescription {
  const { NetlinkRouteSocket } = netModules();
  const f = new NetlinkRouteSocket(k.net, s.type, 0, s.portId, s.openerNetAdmin);
  if (f.protocol !== NETLINK_ROUTE || !f.restoreSnapshot({ ...s, groups: BigInt(`0x${s.groups}`) })) {
    f.decRef();
    throw new ImageError(`restore: netlink port id ${s.portId} is taken`);
  }
  f.flags = s.flags;
  f.recvTimeoutNs = s.recvTimeoutNs;
  f.sendTimeoutNs = s.sendTimeoutNs;
  return f;
}
