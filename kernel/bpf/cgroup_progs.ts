/**
 * Programs attached to cgroups (Linux's kernel/bpf/cgroup.c): BPF_PROG_ATTACH, BPF_PROG_DETACH
 * and BPF_PROG_QUERY on a cgroup, the effective programs of a cgroup, and the device check that
 * runs them (__cgroup_bpf_check_dev_permission).
 *
 * The rules, as Linux's:
 * - A slot (one cgroup, one attach type) is empty, holds one program attached with flags 0 or
 *   BPF_F_ALLOW_OVERRIDE (a new attach replaces it), or up to BPF_CGROUP_MAX_PROGS attached with
 *   BPF_F_ALLOW_MULTI; every program of a slot has the slot's flags (EPERM otherwise).
 * - Attaching below an ancestor whose slot holds one program without BPF_F_ALLOW_OVERRIDE is
 *   EPERM (hierarchy_allows_attach); an ancestor with BPF_F_ALLOW_MULTI allows anything.
 * - The effective programs of a cgroup: its own, then each ancestor's while that ancestor's slot
 *   is BPF_F_ALLOW_MULTI (or while none were found yet): compute_effective_progs.
 * - A device access (open, mknod) by a task runs every effective BPF_CGROUP_DEVICE program of
 *   the task's cgroup with struct bpf_cgroup_dev_ctx; any that returns an even value makes it
 *   EPERM.
 *
 * @module
 */

import {
  BPF_CGROUP_DEVICE, BPF_CGROUP_MAX_PROGS, BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR, BPF_F_ALLOW_MULTI, BPF_F_ALLOW_OVERRIDE, BPF_F_REPLACE, DEV_CTX_SIZE,
} from "../../abi/linux/bpf.ts";
import { E2BIG, EINVAL, ENOENT, EPERM, ESTALE } from "../errno.ts";
import type { CgroupBpfSlot, CgroupDir, CgroupFilesystem } from "../../vfs/cgroupfs/cgroupfs.ts";
import type { BpfProgram } from "./program.ts";
import type { BpfProgramTable } from "./table.ts";
import type { HelperFn } from "./interpreter.ts";
import { majorMinor } from "../../vfs/devices.ts";

function slotOf(c: CgroupDir, atype: number): CgroupBpfSlot {
  let s = c.bpf.get(atype);
  if (s === undefined) {
    s = { flags: 0, revision: 1, progs: [] };
    c.bpf.set(atype, s);
  }
  return s;
}

function progsOf(s: CgroupBpfSlot | undefined): BpfProgram[] {
  return (s?.progs ?? []) as BpfProgram[];
}

/** hierarchy_allows_attach: the nearest ancestor with a program decides. */
function hierarchyAllowsAttach(c: CgroupDir, atype: number): boolean {
  for (let p = c.parentCgroup; p !== null; p = p.parentCgroup) {
    const s = p.bpf.get(atype);
    if (s === undefined) continue;
    if (s.flags & BPF_F_ALLOW_MULTI) return true;
    if (s.progs.length === 1) return (s.flags & BPF_F_ALLOW_OVERRIDE) !== 0;
  }
  return true;
}

/** Where BPF_F_BEFORE (before: true) or BPF_F_AFTER puts a new program: next to rel, or at the head or tail. */
export interface AttachPosition {
  before: boolean;
  rel: BpfProgram | null;
}

/**
 * __cgroup_bpf_attach for a program (not a link). replace: the program BPF_F_REPLACE names
 * (with BPF_F_ALLOW_MULTI only); expectedRevision: 0 or the slot's revision (ESTALE).
 */
export function cgroupAttach(
  table: BpfProgramTable, c: CgroupDir, prog: BpfProgram, atype: number, flags: number,
  replace: BpfProgram | null, expectedRevision: bigint, position: AttachPosition | null = null,
): void {
  if (((flags & BPF_F_ALLOW_OVERRIDE) && (flags & BPF_F_ALLOW_MULTI)) || ((replace === null) !== !(flags & BPF_F_REPLACE))) {
    throw EINVAL;
  }
  const s = slotOf(c, atype);
  if (expectedRevision !== 0n && expectedRevision !== BigInt(s.revision)) throw ESTALE;
  const saved = flags & (BPF_F_ALLOW_OVERRIDE | BPF_F_ALLOW_MULTI);
  if (!hierarchyAllowsAttach(c, atype)) throw EPERM;
  if (s.progs.length > 0 && s.flags !== saved) throw EPERM;
  if (s.progs.length >= BPF_CGROUP_MAX_PROGS) throw E2BIG;
  const progs = progsOf(s);
  let at = -1;
  if (!(flags & BPF_F_ALLOW_MULTI)) {
    if (progs.length > 0) at = 0;
  } else {
    if (progs.some((p) => p === prog && p !== replace)) throw EINVAL;
    if (replace !== null) {
      at = progs.indexOf(replace);
      if (at < 0) throw ENOENT;
    }
  }
  let insertAt = progs.length;
  if (at < 0 && position !== null) {
    const r = position.rel === null ? -1 : progs.indexOf(position.rel);
    if (position.rel !== null && r < 0) throw ENOENT;
    insertAt = position.before ? Math.max(r, 0) : position.rel === null ? progs.length : r + 1;
  }
  prog.get();
  if (at >= 0) {
    const old = progs[at]!;
    progs[at] = prog;
    old.put();
  } else {
    progs.splice(insertAt, 0, prog);
    table.attached++;
  }
  s.flags = saved;
  s.revision++;
}

/** __cgroup_bpf_detach for a program (null: the descriptor named none). */
export function cgroupDetach(table: BpfProgramTable, c: CgroupDir, prog: BpfProgram | null, atype: number): void {
  const s = c.bpf.get(atype);
  const progs = progsOf(s);
  let at: number;
  if (!((s?.flags ?? 0) & BPF_F_ALLOW_MULTI)) {
    // NONE and OVERRIDE slots detach their one program whatever descriptor is given.
    if (progs.length === 0) throw ENOENT;
    at = 0;
  } else {
    if (prog === null) throw EINVAL;
    at = progs.indexOf(prog);
    if (at < 0) throw ENOENT;
  }
  const [old] = progs.splice(at, 1);
  table.attached--;
  s!.revision++;
  if (progs.length === 0) s!.flags = 0;
  old!.put();
}

/** What BPF_PROG_QUERY reports of a cgroup's slot. */
export interface CgroupQuery {
  flags: number;
  ids: number[];
  revision: number;
}

export function cgroupQuery(c: CgroupDir, atype: number, effectiveQuery: boolean): CgroupQuery {
  const s = c.bpf.get(atype);
  if (effectiveQuery) return { flags: 0, ids: effectivePrograms(c, atype).map((p) => p.id), revision: 0 };
  return { flags: s?.flags ?? 0, ids: progsOf(s).map((p) => p.id), revision: s?.revision ?? 1 };
}

/** compute_effective_progs: the cgroup's own programs, then its ancestors' as their flags allow. */
export function effectivePrograms(c: CgroupDir, atype: number): BpfProgram[] {
  const out: BpfProgram[] = [];
  for (let p: CgroupDir | null = c; p !== null; p = p.parentCgroup) {
    const s = p.bpf.get(atype);
    if (s === undefined) continue;
    if (out.length > 0 && !(s.flags & BPF_F_ALLOW_MULTI)) continue;
    out.push(...progsOf(s));
  }
  return out;
}

/** Lets go of a removed cgroup's programs (Linux's cgroup_bpf_release). */
export function releaseCgroupPrograms(table: BpfProgramTable, c: CgroupDir): void {
  for (const s of c.bpf.values()) {
    for (const p of progsOf(s)) {
      table.attached--;
      p.put();
    }
    s.progs.length = 0;
    s.flags = 0;
  }
}

/** Wires the hierarchy's release of removed cgroups to the program table. */
export function connectCgroups(table: BpfProgramTable, fs: CgroupFilesystem): void {
  fs.releaseBpf = (c) => releaseCgroupPrograms(table, c);
}

/**
 * devcgroup_check_permission through eBPF: EPERM when an effective program of cgroup c refuses
 * the access (access: BPF_DEVCG_ACC_* bits).
 */
export function checkDeviceAccess(c: CgroupDir, block: boolean, rdev: number, access: number, helper: HelperFn): void {
  const progs = effectivePrograms(c, BPF_CGROUP_DEVICE);
  if (progs.length === 0) return;
  const [major, minor] = majorMinor(rdev);
  const ctx = new Uint8Array(DEV_CTX_SIZE);
  const v = new DataView(ctx.buffer);
  v.setUint32(0, (block ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR) | (access << 16), true);
  v.setUint32(4, major, true);
  v.setUint32(8, minor, true);
  let allow = true;
  // Every program runs, as bpf_prog_run_array_cg does, even after one has refused.
  for (const p of progs) if ((p.run(ctx, helper) & 1n) === 0n) allow = false;
  if (!allow) throw EPERM;
}
