/** userfaultfd(2). The file and its ioctls are kernel/userfaultfd.ts. */

import { newUserfaultFd } from "../../userfaultfd.ts";
import { partial, type SyscallEntry, type SyscallFn } from "./support.ts";

/** Implements userfaultfd(2). */
const sysUserfaultfd: SyscallFn = (t, a) => newUserfaultFd(t, a.int(0), true);

export const table: Record<number, SyscallEntry> = {
  323: partial(
    "userfaultfd",
    sysUserfaultfd,
    "missing and write-protect modes of anonymous memory, minor faults of memfd and tmpfs mappings, remove/unmap/remap events; no fork event; the sentry's own copies into a registered range do not fault",
  ),
};
