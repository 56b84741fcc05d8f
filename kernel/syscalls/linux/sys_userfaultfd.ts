/** userfaultfd(2). The file and its ioctls are kernel/userfaultfd.ts. */

import { newUserfaultFd } from "../../userfaultfd.ts";
import { partial, type SyscallEntry, type SyscallFn } from "./support.ts";

/** Implements userfaultfd(2). */
const sysUserfaultfd: SyscallFn = (t, a) => newUserfaultFd(t, a.int(0), true);

export const table: Record<number, SyscallEntry> = {
  323: partial(
    "userfaultfd",
    sysUserfaultfd,
    "anonymous memory only (missing and write-protect modes); no events, minor faults or UFFDIO_CONTINUE; the sentry's own copies into a registered range do not fault",
  ),
};
