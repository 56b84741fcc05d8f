/**
 * UTS namespaces: the host and domain names that uname(2) reports and sethostname(2) and
 * setdomainname(2) change, one pair per namespace. The sandbox starts with one; unshare(2) or
 * clone(2) with CLONE_NEWUTS give the caller or the child a copy of its own (Linux's
 * kernel/utsname.c). A task holds its namespace (Linux's nsproxy is per task); threads and
 * children share their creator's unless they ask for a new one.
 *
 * /proc/sys/kernel/{hostname,domainname} read the reader's namespace, and poll reports each
 * change of it once (proc_sys_poll): `changes` counts them, `queue` wakes the pollers.
 *
 * @module
 */

import { EVENT_ERR, EVENT_IN, EVENT_PRI, WaitQueue } from "../waiter/mod.ts";
import { INIT_USER_NS, type UserNamespace } from "./user_namespace.ts";

/** The nsfs inode of the sandbox's first UTS namespace (PROC_UTS_INIT_INO). */
export const UTS_NS_INIT_INO = 4026531838;

/** @savable One UTS namespace. */
export class UtsNamespace {
  hostname: string;
  domainname: string;
  /** How many times each name was set in this namespace. */
  readonly changes = { hostname: 0, domainname: 0 };
  /** Notified (POLLERR|POLLPRI) when a name is set. */
  readonly queue = new WaitQueue();

  constructor(
    hostname: string,
    domainname: string,
    /** The user namespace that owns it: sethostname needs CAP_SYS_ADMIN there. */
    readonly owner: UserNamespace = INIT_USER_NS,
    /** Its nsfs inode number (/proc/PID/ns/uts). */
    readonly ino: number = UTS_NS_INIT_INO,
  ) {
    this.hostname = hostname;
    this.domainname = domainname;
  }

  /** A new namespace with the same names (CLONE_NEWUTS's copy_utsname), owned by `owner`. */
  copy(owner: UserNamespace, ino: number): UtsNamespace {
    return new UtsNamespace(this.hostname, this.domainname, owner, ino);
  }

  /** sethostname(2)/setdomainname(2): sets a name and tells the pollers of its /proc file. */
  set(which: "hostname" | "domainname", name: string): void {
    this[which] = name;
    this.changes[which]++;
    this.queue.notify(EVENT_IN | EVENT_ERR | EVENT_PRI);
  }
}
