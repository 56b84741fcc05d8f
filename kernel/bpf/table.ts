/**
 * The kernel's eBPF programs by ID (Linux's prog_idr), which BPF_PROG_GET_NEXT_ID and
 * BPF_PROG_GET_FD_BY_ID walk, and the count of attachments that lets device accesses skip the
 * cgroup walk. Kept apart from program.ts so that a kernel that never loads a program does not
 * load the interpreter at start (bpf(2) itself loads on first use).
 *
 * @module
 */

import type { BpfProgram } from "./program.ts";

/** @savable (refused when not empty) The kernel's programs by ID. */
export class BpfProgramTable {
  readonly progs = new Map<number, BpfProgram>();
  /** The last ID given (Linux's idr_alloc_cyclic from 1). */
  lastId = 0;
  /** Programs attached anywhere: while 0, device accesses skip the cgroup walk. */
  attached = 0;

  nextId(): number {
    for (;;) {
      this.lastId = this.lastId >= 0x7fff_ffff ? 1 : this.lastId + 1;
      if (!this.progs.has(this.lastId)) return this.lastId;
    }
  }
}
