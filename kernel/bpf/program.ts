/**
 * Loaded eBPF programs: the program object (Linux's struct bpf_prog and bpf_prog_aux), its file
 * (an anonymous inode, "anon_inode:bpf-prog", always close-on-exec); the table of programs by ID
 * is in table.ts.
 *
 * A program lives while a file or an attachment holds it: each holds one reference; the last
 * put takes it out of the table.
 *
 * @module
 */

import { sha256 } from "./sha256.ts";
import { AnonInodeFile } from "../../vfs/anon_file.ts";
import { O_RDWR } from "../../abi/linux/file.ts";
import { ESPIPE } from "../errno.ts";
import { type HelperFn, run, RunFault } from "./interpreter.ts";
import type { Insns } from "./insn.ts";
import type { BpfProgramTable } from "./table.ts";

/** @savable (refused: a checkpoint refuses a sandbox holding one) A loaded program. */
export class BpfProgram {
  /** References: files and attachments. */
  refs = 1;

  constructor(
    readonly table: BpfProgramTable,
    readonly id: number,
    readonly type: number,
    /** The instructions as loaded (struct bpf_insn bytes). */
    readonly raw: Uint8Array,
    readonly insns: Insns,
    /** prog_name, as given. */
    readonly name: string,
    readonly gplCompatible: boolean,
    /** The loader's uid (created_by_uid) and the boot-time clock at load, ns. */
    readonly uid: number,
    readonly loadTimeNs: bigint,
    /** Instructions the verifier processed (verified_insns). */
    readonly verifiedInsns: number,
  ) {}

  /** bpf_prog_calc_tag: the first 8 bytes of the SHA-256 of the instructions (Linux 6.18). */
  get tag(): Uint8Array {
    return sha256(this.raw).subarray(0, 8);
  }

  get tagHex(): string {
    return Array.from(this.tag, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  /** What Linux charges to memlock: the program's pages. */
  get memlock(): number {
    return Math.ceil((80 + this.raw.length) / 4096) * 4096;
  }

  get(): void {
    this.refs++;
  }

  put(): void {
    if (--this.refs === 0) this.table.progs.delete(this.id);
  }

  /** Runs the program over ctx: R0, or 0 (deny) if the interpreter had to stop it. */
  run(ctx: Uint8Array, helper: HelperFn): bigint {
    try {
      return run(this.insns, ctx, helper);
    } catch (e) {
      if (e instanceof RunFault) return 0n;
      throw e;
    }
  }
}

/** @savable (refused) An open program: bpf(2)'s handle on it. */
export class BpfProgFile extends AnonInodeFile {
  constructor(readonly prog: BpfProgram) {
    super("anon_inode:bpf-prog", O_RDWR);
  }

  /** bpf_prog_show_fdinfo's lines. */
  override fdinfoExtra(): string {
    const p = this.prog;
    return `prog_type:\t${p.type}\nprog_jited:\t0\nprog_tag:\t${p.tagHex}\nmemlock:\t${p.memlock}\n` +
      `prog_id:\t${p.id}\nrun_time_ns:\t0\nrun_cnt:\t0\nrecursion_misses:\t0\nverified_insns:\t${p.verifiedInsns}\n`;
  }

  /** bpf_prog_fops has no llseek: ESPIPE. (read and write are EINVAL, as bpf_dummy_read/write.) */
  override seek(): number {
    throw ESPIPE;
  }

  protected override release(): void {
    this.prog.put();
  }
}
