/**
 * Credentials of a task, as Linux's struct cred. A leaf module: vfs/ imports it for permission
 * checks.
 *
 * @module
 */

/** @savable Immutable once shared: copy-on-write, replaced whole by set*id calls. */
export class Credentials {
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
  ) {}

  static root(): Credentials {
    return new Credentials(0, 0);
  }

  /** Root in the sandbox holds every capability (CAP_DAC_OVERRIDE and friends) of its namespace. */
  get isRoot(): boolean {
    return this.euid === 0;
  }

  /** Filesystem checks use fsuid: root's fsuid overrides permission bits. */
  get hasDacOverride(): boolean {
    return this.fsuid === 0;
  }

  inGroup(gid: number): boolean {
    return this.fsgid === gid || this.groups.includes(gid);
  }
}
