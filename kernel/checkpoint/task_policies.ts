/**
 * Checkpoint of a thread's placement policies (issue #13; docs/checkpoint.md): its CPU affinity
 * (sched_setaffinity) and its NUMA memory policy (set_mempolicy). The sentry keeps both on the
 * task for the calls that read them back (the host places threads and memory as it likes), so
 * they are saved as what those calls report.
 *
 * An affinity mask names CPUs of the machine that took the checkpoint; the restoring machine
 * may have fewer. The restore keeps the CPUs it has, and a mask left with none becomes "every
 * CPU", as Linux falls back to the allowed set when a task's CPUs all go offline. The policy is
 * checked as set_mempolicy checks one (a mode, its flags, nodes that fit MAX_NUMNODES, none for
 * MPOL_LOCAL, some for the others).
 *
 * @module
 */

import { intIn, z } from "./zod_tree.ts";
import type { Task } from "../task.ts";
import {
  MAX_NUMNODES, MPOL_BIND, MPOL_F_NUMA_BALANCING, MPOL_F_RELATIVE_NODES, MPOL_F_STATIC_NODES, MPOL_LOCAL, MPOL_MAX,
  MPOL_MODE_FLAGS, MPOL_PREFERRED_MANY,
} from "../../abi/linux/mm.ts";
import { maskBytes, sandboxCpus } from "../cpus.ts";
import { ImageError } from "./image.ts";

/** A bit mask as hex digits, lowest bit last (as bigint.toString(16)). */
const hexMask = (bits: number) => z.string().regex(new RegExp(`^[0-9a-f]{1,${bits / 4}}$`));

export const taskPolicySchemas = {
  /** sched_setaffinity's mask (bit n: CPU n); absent: every CPU. */
  affinity: hexMask(8192).optional(),
  /** set_mempolicy's policy: mode, mode flags and the node mask; absent: MPOL_DEFAULT. */
  memPolicy: z.object({ mode: intIn(1, MPOL_MAX - 1), flags: intIn(0, MPOL_MODE_FLAGS), nodes: hexMask(MAX_NUMNODES) }).strict().optional(),
};

export interface SavedTaskPolicies {
  affinity?: string | undefined;
  memPolicy?: { mode: number; flags: number; nodes: string } | undefined;
}

/** A thread's policies, as fields of its saved entry (none when at their defaults). */
export function saveTaskPolicies(t: Task): SavedTaskPolicies {
  const out: SavedTaskPolicies = {};
  if (t.affinity !== null) {
    let m = 0n;
    for (let i = t.affinity.length - 1; i >= 0; i--) m = (m << 8n) | BigInt(t.affinity[i]!);
    out.affinity = m.toString(16);
  }
  const p = t.memPolicy;
  if (p !== null) out.memPolicy = { mode: p.mode, flags: p.flags, nodes: p.nodes.toString(16) };
  return out;
}

/** Gives a restored thread its saved policies; ImageError for a policy set_mempolicy would refuse. */
export function restoreTaskPolicies(t: Task, s: SavedTaskPolicies): void {
  if (s.affinity !== undefined) {
    const saved = BigInt(`0x${s.affinity}`);
    const mask = new Uint8Array(maskBytes());
    let any = false;
    for (let c = 0; c < sandboxCpus(); c++) {
      if ((saved >> BigInt(c)) & 1n) {
        mask[c >> 3]! |= 1 << (c & 7);
        any = true;
      }
    }
    t.affinity = any ? mask : null;
  }
  const p = s.memPolicy;
  if (p !== undefined) {
    const nodes = BigInt(`0x${p.nodes}`);
    const bad = (p.flags & ~MPOL_MODE_FLAGS) !== 0 ||
      ((p.flags & MPOL_F_STATIC_NODES) !== 0 && (p.flags & MPOL_F_RELATIVE_NODES) !== 0) ||
      ((p.flags & MPOL_F_NUMA_BALANCING) !== 0 && p.mode !== MPOL_BIND && p.mode !== MPOL_PREFERRED_MANY) ||
      (p.mode === MPOL_LOCAL) !== (nodes === 0n);
    if (bad) throw new ImageError(`restore: thread ${t.tid}'s NUMA policy (mode ${p.mode}, flags ${p.flags}) is not one set_mempolicy makes`);
    t.memPolicy = { mode: p.mode, flags: p.flags, nodes };
  }
}
