/**
 * Credentials of a task, as Linux's struct cred: the uids and gids, and the capability sets
 * (capabilities(7)) that privileged operations check. A leaf module: vfs/ imports it for
 * permission checks.
 *
 * The ids are kernel ids (kernel/user_namespace.ts): those of the sandbox's initial user
 * namespace; `userNs` is the namespace the task lives in, where its capabilities count (a task
 * in the initial one is the sandbox's root when it holds them). Without file capabilities, the
 * sets follow Linux's rules for root, the uid that is 0 in the task's namespace: exec gives a
 * task whose real or effective uid is root the bounding set as permitted (effective too when
 * the effective uid is root); a set*uid call that leaves no root uid clears permitted and
 * effective (unless SECURE_KEEP_CAPS), moving the effective uid off or onto root clears or
 * refills the effective set, and moving the fsuid off or onto root drops or raises the
 * filesystem capabilities (cap_task_fix_setuid).
 *
 * @module
 */

import {
  CAP_CHOWN,
  CAP_DAC_OVERRIDE,
  CAP_DAC_READ_SEARCH,
  CAP_FOWNER,
  CAP_FSETID,
  CAP_FULL_SET,
  CAP_LINUX_IMMUTABLE,
  CAP_MAC_OVERRIDE,
  CAP_MKNOD,
  SECURE_KEEP_CAPS,
  SECURE_NO_SETUID_FIXUP,
  SECURE_NOROOT,
} from "../abi/linux/capability.ts";
import { INIT_USER_NS, type UserNamespace } from "./user_namespace.ts";

/** The capabilities an fsuid change raises or drops (Linux's CAP_FS_SET). */
const FS_SET = [CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_LINUX_IMMUTABLE, CAP_MKNOD, CAP_MAC_OVERRIDE]
  .reduce((s, c) => s | (1n << BigInt(c)), 0n);

/** A task's capability sets (bit n = capability n) and securebits. */
export interface CapSets {
  readonly inheritable: bigint;
  readonly permitted: bigint;
  readonly effective: bigint;
  readonly bounding: bigint;
  readonly ambient: bigint;
  readonly securebits: number;
}

/** The capability sets a container runtime gives its process (OCI process.capabilities). */
export interface ProcessCaps {
  readonly bounding: bigint;
  readonly effective: bigint;
  readonly inheritable: bigint;
  readonly permitted: bigint;
  readonly ambient: bigint;
}

/** The sets exec gives a task with these ids, a full bounding set and nothing inherited. */
function execSets(uid: number, euid: number, fsuid: number): CapSets {
  const permitted = uid === 0 || euid === 0 ? CAP_FULL_SET : 0n;
  let effective = euid === 0 ? permitted : 0n;
  if (euid === 0 && fsuid !== 0) effective &= ~FS_SET;
  if (euid !== 0 && fsuid === 0) effective |= permitted & FS_SET;
  return { inheritable: 0n, permitted, effective, bounding: CAP_FULL_SET, ambient: 0n, securebits: 0 };
}

/** @savable Immutable once shared: copy-on-write, replaced whole by set*id and capset calls. */
export class Credentials {
  readonly caps: CapSets;

  constructor(
    readonly uid: number,
    readonly gid: number,
    readonly euid: number = uid,
    readonly egid: number = gid,
    readonly suid: number = uid,
    readonly sgid: number = gid,
    readonly fsuid: number = euid,
    readonly fsgid: number = egid,
    readonly groups: readonly number[] = [],
    caps?: CapSets,
    /** The user namespace the task lives in (its capabilities count there and below). */
    readonly userNs: UserNamespace = INIT_USER_NS,
  ) {
    this.caps = caps ?? execSets(uid, euid, fsuid);
  }

  static root(): Credentials {
    return new Credentials(0, 0);
  }

  /**
   * A container process's credentials before its execve, as runc leaves them: the bounding
   * set cut, the ids set with keep-caps, then effective, permitted and inheritable set
   * (effective within permitted, as capset insists) and the ambient set raised where
   * PR_CAP_AMBIENT_RAISE allows (permitted and inheritable). The execve that follows makes the
   * sets a root or non-root process ends up with. caps null: every capability, as a runtime
   * that changes none.
   */
  static forProcess(uid: number, gid: number, groups: readonly number[], caps: ProcessCaps | null): Credentials {
    if (caps === null) return new Credentials(uid, gid, uid, gid, uid, gid, uid, gid, [...groups]);
    const permitted = caps.permitted & CAP_FULL_SET;
    const inheritable = caps.inheritable & CAP_FULL_SET;
    return new Credentials(uid, gid, uid, gid, uid, gid, uid, gid, [...groups], {
      bounding: caps.bounding & CAP_FULL_SET,
      permitted,
      effective: caps.effective & permitted,
      inheritable,
      ambient: caps.ambient & permitted & inheritable,
      securebits: 0,
    });
  }

  /**
   * These ids in user namespace `ns` with every capability there and none inherited (Linux's
   * set_cred_user_ns: the caller of unshare(CLONE_NEWUSER), a clone(CLONE_NEWUSER) child, a
   * setns into a user namespace).
   */
  inNamespace(ns: UserNamespace): Credentials {
    const caps: CapSets = { inheritable: 0n, permitted: CAP_FULL_SET, effective: CAP_FULL_SET, bounding: CAP_FULL_SET, ambient: 0n, securebits: 0 };
    return new Credentials(
      this.uid, this.gid, this.euid, this.egid, this.suid, this.sgid, this.fsuid, this.fsgid, this.groups, caps, ns,
    );
  }

  /**
   * Whether the task holds capability `cap` over the sandbox's initial user namespace (Linux's
   * capable()): what guards everything a user namespace does not own (the host-like resources:
   * rlimits, SO_RCVBUFFORCE, mknod, ...). A task in a child namespace never does.
   */
  hasCap(cap: number): boolean {
    return this.capableIn(INIT_USER_NS, cap);
  }

  /**
   * Whether the task holds `cap` over namespace `ns` (Linux's ns_capable and cap_capable): in
   * its own namespace as its effective set says, in a descendant of it when that descendant's
   * parent is the task's namespace and the task's effective uid owns it (or owns an ancestor on
   * the way), never in an ancestor or an unrelated namespace.
   */
  capableIn(ns: UserNamespace, cap: number): boolean {
    const own = this.userNs;
    for (let n = ns; ;) {
      if (n === own) return ((this.caps.effective >> BigInt(cap)) & 1n) === 1n;
      if (n.level <= own.level || n.parent === null) return false;
      if (n.parent === own && n.owner === this.euid) return true;
      n = n.parent;
    }
  }

  /** `cap` over the task's own user namespace (ns_capable(current_user_ns(), cap)). */
  hasOwnCap(cap: number): boolean {
    return this.capableIn(this.userNs, cap);
  }

  /**
   * `cap` over a file owned by kernel ids `uid`/`gid` (capable_wrt_inode_uidgid): in the task's
   * own namespace, and only when that namespace maps both ids.
   */
  hasCapOver(cap: number, uid: number, gid: number): boolean {
    const ns = this.userNs;
    return this.hasOwnCap(cap) && ns.fromKuid(uid) >= 0 && ns.fromKgid(gid) >= 0;
  }

  /** The kernel uid that is root in the task's namespace, or -1 when it maps no uid 0. */
  get rootUid(): number {
    return this.userNs.kuid(0);
  }

  /** Whether securebit `bit` (SECURE_*) is set. */
  secure(bit: number): boolean {
    return (this.caps.securebits & (1 << bit)) !== 0;
  }

  inGroup(gid: number): boolean {
    return this.fsgid === gid || this.groups.includes(gid);
  }

  /** An equal copy: a new identity, as a forked process's (see FileDescription.openerCreds). */
  copy(): Credentials {
    return this.withCaps({});
  }

  /** These credentials with other capability sets. */
  withCaps(caps: Partial<CapSets>): Credentials {
    return new Credentials(
      this.uid, this.gid, this.euid, this.egid, this.suid, this.sgid, this.fsuid, this.fsgid, this.groups,
      { ...this.caps, ...caps }, this.userNs,
    );
  }

  /**
   * New uids, with the capability fix-ups Linux applies (cap_emulate_setxuid for setuid,
   * setreuid and setresuid; the filesystem set alone when only the fsuid changes).
   */
  withUids(uid: number, euid: number, suid: number, fsuid: number, fsOnly = false): Credentials {
    let { permitted, effective, ambient } = this.caps;
    const root = this.rootUid;
    if (!this.secure(SECURE_NO_SETUID_FIXUP)) {
      if (fsOnly) {
        if (this.fsuid === root && fsuid !== root) effective &= ~FS_SET;
        if (this.fsuid !== root && fsuid === root) effective |= permitted & FS_SET;
      } else {
        const hadRoot = this.uid === root || this.euid === root || this.suid === root;
        if (hadRoot && uid !== root && euid !== root && suid !== root) {
          if (!this.secure(SECURE_KEEP_CAPS)) permitted = effective = 0n;
          ambient = 0n;
        }
        if (this.euid === root && euid !== root) effective = 0n;
        if (this.euid !== root && euid === root) effective = permitted;
      }
    }
    return new Credentials(
      uid, this.gid, euid, this.egid, suid, this.sgid, fsuid, this.fsgid, this.groups,
      { ...this.caps, permitted, effective, ambient }, this.userNs,
    );
  }

  /** New gids (capabilities do not follow gids). */
  withGids(gid: number, egid: number, sgid: number, fsgid: number): Credentials {
    return new Credentials(this.uid, gid, this.euid, egid, this.suid, sgid, this.fsuid, fsgid, this.groups, this.caps, this.userNs);
  }

  withGroups(groups: readonly number[]): Credentials {
    return new Credentials(
      this.uid, this.gid, this.euid, this.egid, this.suid, this.sgid, this.fsuid, this.fsgid, groups, this.caps,
      this.userNs,
    );
  }

  /**
   * The credentials access(2) checks with (Linux's access_override_creds): the real ids as the
   * filesystem ids, and the effective set of a task whose real uid is 0 refilled from its
   * permitted set, anyone else's emptied.
   */
  forAccess(): Credentials {
    let effective = this.caps.effective;
    if (!this.secure(SECURE_NO_SETUID_FIXUP)) effective = this.uid === this.rootUid ? this.caps.permitted : 0n;
    if (this.fsuid === this.uid && this.fsgid === this.gid && effective === this.caps.effective) return this;
    return new Credentials(
      this.uid, this.gid, this.euid, this.egid, this.suid, this.sgid, this.uid, this.gid, this.groups,
      { ...this.caps, effective }, this.userNs,
    );
  }

  /**
   * The credentials after execve of a file without capabilities (cap_bprm_creds_from_file).
   * `fileUid`/`fileGid`: the owner a set-user-ID / set-group-ID file makes the effective id
   * (null when the bit is absent or does not apply). Root (real or new effective uid 0, unless
   * SECURE_NOROOT) gets bounding | inheritable as permitted; a set-id exec (new effective ids
   * other than the real ones) drops the ambient set, which everyone else keeps; effective is all
   * of permitted for a new euid 0, else the ambient set; the saved and filesystem ids follow the
   * effective ones; SECURE_KEEP_CAPS does not survive. `secure` is AT_SECURE (a set-id exec, or
   * capabilities beyond the ambient set for a task whose real uid is not 0).
   */
  afterExec(fileUid: number | null = null, fileGid: number | null = null): { creds: Credentials; secure: boolean } {
    const c = this.caps;
    const euid = fileUid ?? this.euid, egid = fileGid ?? this.egid;
    const rootUid = this.rootUid;
    const root = !this.secure(SECURE_NOROOT) && (this.uid === rootUid || euid === rootUid);
    const setid = euid !== this.uid || egid !== this.gid;
    const ambient = setid ? 0n : c.ambient;
    const permitted = (root ? c.bounding | c.inheritable : 0n) | ambient;
    const fileEffective = root && euid === rootUid;
    const effective = fileEffective ? permitted : ambient;
    const securebits = c.securebits & ~(1 << SECURE_KEEP_CAPS);
    const creds = new Credentials(
      this.uid, this.gid, euid, egid, euid, egid, euid, egid, this.groups,
      { ...c, permitted, effective, ambient, securebits }, this.userNs,
    );
    const grew = (permitted & ~ambient) !== 0n;
    return { creds, secure: setid || (this.uid !== rootUid && (fileEffective || grew)) };
  }
}
