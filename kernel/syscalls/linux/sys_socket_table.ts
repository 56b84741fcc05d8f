/**
 * The socket syscalls' table entries. Their handlers (sys_socket.ts) and everything they reach,
 * the socket families and the netstack among them, load at the first call of any of them
 * (kernel/net_load.ts): until then a call sleeps while they load, and runs once they are there.
 *
 * @module
 */

import { type SyscallEntry, type SyscallFn, supported } from "./support.ts";
import { netModules } from "../../net_load.ts";

/** The handler of syscall `nr`, reached through the loaded modules. */
function loaded(nr: number): SyscallFn {
  return (t, a) => netModules().socketHandlers[nr]!(t, a);
}

export const table: Record<number, SyscallEntry> = {
  41: supported("socket", loaded(41)),
  42: supported("connect", loaded(42)),
  43: supported("accept", loaded(43)),
  44: supported("sendto", loaded(44)),
  45: supported("recvfrom", loaded(45)),
  46: supported("sendmsg", loaded(46)),
  47: supported("recvmsg", loaded(47)),
  48: supported("shutdown", loaded(48)),
  49: supported("bind", loaded(49)),
  50: supported("listen", loaded(50)),
  51: supported("getsockname", loaded(51)),
  52: supported("getpeername", loaded(52)),
  53: supported("socketpair", loaded(53)),
  54: supported("setsockopt", loaded(54)),
  55: supported("getsockopt", loaded(55)),
  288: supported("accept4", loaded(288)),
  299: supported("recvmmsg", loaded(299)),
  307: supported("sendmmsg", loaded(307)),
};
