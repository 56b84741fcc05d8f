/**
 * config.json's `linux.seccomp` compiled to one classic-BPF program, as runc turns it into a
 * filter (libcontainer/specconv SetupSeccomp, libcontainer/seccomp InitSeccomp and matchCall,
 * libseccomp's rule database, patchbpf's -ENOSYS stub). The loader installs that program as
 * the sandbox kernel's own seccomp filter on init (and on every `sentry exec` process, as
 * runc's setns init installs the same filter): the kernel runs it exactly as a filter the
 * application had installed with seccomp(SECCOMP_SET_MODE_FILTER), it is inherited by every
 * child, `/proc/PID/status` shows `Seccomp: 2`, and a checkpoint saves it with the task's
 * other filters. A profile is data the kernel already knows how to run and save; nothing new
 * had to become checkpointable.
 *
 * What runc does, and so this file:
 * - An absent section, or one with neither defaultAction nor syscalls, is no filter.
 * - Actions: SCMP_ACT_ALLOW, ERRNO (errnoRet, default EPERM), KILL and KILL_THREAD (one
 *   thread), KILL_PROCESS, TRAP, TRACE (errnoRet as the event message, default EPERM), LOG.
 *   errnoRet is ignored for the others. A rule whose action equals the default is dropped.
 * - Names libseccomp does not know for x86-64 are skipped (runc logs them at debug level);
 *   an empty name is an error.
 * - args: every condition of one entry must hold (AND), except that two conditions on the
 *   same argument make runc add each condition as a rule of its own (OR). Several entries for
 *   the same syscall are alternatives (OR); an unconditional rule wins over every conditional
 *   one for that syscall, whatever the order, and the first unconditional rule's action is
 *   the one kept (libseccomp's db_col_rule_add). Among conditional rules with different
 *   actions that all match, libseccomp's decision tree decides; here the first in the file
 *   wins, which agrees with it whenever such rules do not overlap (podman's default profile's
 *   socket rules, the only ones with two actions, do not).
 * - 64-bit comparisons on the whole register, as libseccomp does on a 64-bit architecture:
 *   SCMP_CMP_NE, LT, LE, EQ, GE, GT (unsigned), MASKED_EQ ((arg & value) == valueTwo).
 * - -ENOSYS for syscall numbers above the highest one the profile names, unless the default
 *   action is ALLOW, LOG or TRACE (runc's patchbpf: a newer syscall than the profile knows
 *   fails as on an older kernel, so that libc falls back instead of seeing EPERM).
 * - Architectures: the sandbox runs x86-64 code only, so its syscalls always carry
 *   AUDIT_ARCH_X86_64 (libseccomp always includes the native architecture). SCMP_ARCH_X86's
 *   rules can never match and are not emitted. An x32 syscall (number with bit 30) takes
 *   libseccomp's bad-architecture action (KILL_THREAD) when SCMP_ARCH_X32 is not listed; when
 *   it is, the default action (the sandbox implements no x32 syscall, so an x32 rule that
 *   allowed one would only reach ENOSYS).
 * - Flags: SECCOMP_FILTER_FLAG_TSYNC, _LOG, _SPEC_ALLOW, _WAIT_KILLABLE_RECV are accepted
 *   (LOG would log to the host's audit log, which a sandbox has none of; SPEC_ALLOW and
 *   WAIT_KILLABLE_RECV change nothing a sandbox process can observe); another is an error.
 * - SCMP_ACT_NOTIFY needs a seccomp agent (listenerPath) that receives the listener; the
 *   sandbox kernel has no user notification for applications, so a profile using it is
 *   refused in one line rather than run with a different action.
 *
 * The program is a binary search over the syscall numbers the profile names (libseccomp's
 * optimize level 2, which runc asks for above 32 rules): ~9 comparisons for podman's ~400
 * names. Conditional jumps only ever skip one instruction; longer distances go through `ja`,
 * whose offset has 32 bits, so no tree is too large to jump across.
 *
 * @module
 */

import { syscallNumbers } from "../abi/linux/syscall_names.ts";
import {
  AUDIT_ARCH_X86_64, checkFilter, MAX_INSNS, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG, SECCOMP_RET_TRACE, SECCOMP_RET_TRAP,
} from "../kernel/seccomp.ts";
import { BootError } from "./errors.ts";

const EPERM = 1;
const ENOSYS = 38;
const X32_SYSCALL_BIT = 0x40000000;
/** SCMP_ACT_ERRNO(ENOSYS), the value patchbpf compares defaultErrnoRet with (see below). */
const RET_ERRNO_ENOSYS = SECCOMP_RET_ERRNO | ENOSYS;

const ACTIONS = new Set([
  "SCMP_ACT_KILL", "SCMP_ACT_ERRNO", "SCMP_ACT_TRAP", "SCMP_ACT_ALLOW", "SCMP_ACT_TRACE", "SCMP_ACT_LOG",
  "SCMP_ACT_NOTIFY", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS",
]);
const ARCHS = new Set([
  "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",
  "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
  "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
  "SCMP_ARCH_LOONGARCH64",
]);
const FLAGS = new Set([
  "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG",
  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
]);
type Op = "SCMP_CMP_NE" | "SCMP_CMP_LT" | "SCMP_CMP_LE" | "SCMP_CMP_EQ" | "SCMP_CMP_GE" | "SCMP_CMP_GT" | "SCMP_CMP_MASKED_EQ";
const OPS: ReadonlySet<string> = new Set(["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"]);

interface Cond {
  index: number;
  value: bigint;
  valueTwo: bigint;
  op: Op;
}
interface Rule {
  action: number;
  conds: Cond[];
}

/** The compiled profile. */
export interface SeccompProfile {
  /** The checked cBPF program (8-byte sock_filter instructions). */
  filter: Uint8Array;
  /** How many syscall numbers it names (for the debug log). */
  syscalls: number;
}

const WHERE = "config.json: linux.seccomp";

function fail(path: string, what: string): never {
  throw new BootError(`${WHERE}${path}: ${what}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A uint64 of the spec: a number parsed exactly (spec.ts parses `value`s as bigint), or fail. */
function u64(v: unknown, path: string): bigint {
  if (v === undefined) return 0n;
  const b = typeof v === "bigint" ? v : typeof v === "number" && Number.isSafeInteger(v) ? BigInt(v) : null;
  if (b === null || b < 0n || b >= 1n << 64n) fail(path, "expected an integer from 0 to 18446744073709551615");
  return b;
}

function errnoOf(v: unknown, path: string): number | null {
  if (v === undefined || v === null) return null;
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 0xffff_ffff) fail(path, "expected a non-negative integer");
  // libseccomp keeps the low 16 bits (SetReturnCode(int16(errnoRet))); the kernel caps the
  // errno at 4095 when it applies it.
  return n & 0xffff;
}

/** runc's getAction: the SECCOMP_RET_* value of an action name with its errnoRet. */
function actionOf(name: string, errnoRet: number | null): number {
  switch (name) {
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD":
      return SECCOMP_RET_KILL_THREAD;
    case "SCMP_ACT_KILL_PROCESS":
      return SECCOMP_RET_KILL_PROCESS;
    case "SCMP_ACT_ERRNO":
      return (SECCOMP_RET_ERRNO | (errnoRet ?? EPERM)) >>> 0;
    case "SCMP_ACT_TRACE":
      return (SECCOMP_RET_TRACE | (errnoRet ?? EPERM)) >>> 0;
    case "SCMP_ACT_TRAP":
      return SECCOMP_RET_TRAP;
    case "SCMP_ACT_LOG":
      return SECCOMP_RET_LOG;
    default:
      return SECCOMP_RET_ALLOW;
  }
}

function actionName(v: unknown, path: string): string {
  if (typeof v !== "string" || !ACTIONS.has(v)) fail(path, `${JSON.stringify(v)} is not a valid action for seccomp`);
  if (v === "SCMP_ACT_NOTIFY") {
    fail(path, "SCMP_ACT_NOTIFY is not supported: the sandbox has no seccomp user notification to hand a listener (listenerPath) for");
  }
  return v;
}

/**
 * Compiles `linux.seccomp` (already parsed, with `value`/`valueTwo` as bigints where spec.ts
 * read them so); null when it asks for no filter. Throws {@linkcode BootError} naming the
 * first bad field.
 */
export function compileSeccomp(section: unknown): SeccompProfile | null {
  if (section === undefined || section === null) return null;
  if (!isObject(section)) fail("", "expected an object");
  const syscalls = section.syscalls ?? [];
  if (!Array.isArray(syscalls)) fail(".syscalls", "expected an array");
  if ((section.defaultAction === undefined || section.defaultAction === "") && syscalls.length === 0) return null;

  if (section.flags !== undefined && section.flags !== null) {
    if (!Array.isArray(section.flags)) fail(".flags", "expected an array of flag names");
    section.flags.forEach((f, i) => {
      if (typeof f !== "string" || !FLAGS.has(f)) fail(`.flags[${i}]`, `seccomp flag ${JSON.stringify(f)} is not known`);
    });
  }
  let x32 = false;
  if (section.architectures !== undefined && section.architectures !== null) {
    if (!Array.isArray(section.architectures)) fail(".architectures", "expected an array of architecture names");
    section.architectures.forEach((a, i) => {
      if (typeof a !== "string" || !ARCHS.has(a)) fail(`.architectures[${i}]`, `${JSON.stringify(a)} is not a valid arch for seccomp`);
      if (a === "SCMP_ARCH_X32") x32 = true;
    });
  }
  const defName = actionName(section.defaultAction, ".defaultAction");
  const defaultErrno = errnoOf(section.defaultErrnoRet, ".defaultErrnoRet");
  const def = actionOf(defName, defaultErrno);

  const numbers = syscallNumbers();
  const rules = new Map<number, Rule[]>();
  let highest = 0;
  syscalls.forEach((entry, i) => {
    const p = `.syscalls[${i}]`;
    if (!isObject(entry)) fail(p, "expected an object with names and action");
    const names = entry.names;
    if (!Array.isArray(names) || names.some((n) => typeof n !== "string")) fail(`${p}.names`, "expected an array of syscall names");
    const act = actionOf(actionName(entry.action, `${p}.action`), errnoOf(entry.errnoRet, `${p}.errnoRet`));
    const args = entry.args ?? [];
    if (!Array.isArray(args)) fail(`${p}.args`, "expected an array of {index, value, valueTwo, op}");
    const conds = args.map((a, j): Cond => {
      const q = `${p}.args[${j}]`;
      if (!isObject(a)) fail(q, "expected an object {index, value, valueTwo, op}");
      const index = a.index;
      if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index > 5) fail(`${q}.index`, "expected an argument index from 0 to 5");
      if (typeof a.op !== "string" || !OPS.has(a.op)) fail(`${q}.op`, `${JSON.stringify(a.op)} is not a valid operator for seccomp`);
      return { index, value: u64(a.value, `${q}.value`), valueTwo: u64(a.valueTwo, `${q}.valueTwo`), op: a.op as Op };
    });
    // Two conditions on one argument: runc adds each as a rule of its own (an OR).
    const perArg = new Set(conds.map((c) => c.index));
    const alternatives = perArg.size < conds.length ? conds.map((c) => [c]) : [conds];
    for (const name of names as string[]) {
      if (name === "") fail(`${p}.names`, "empty string is not a valid syscall");
      const nr = numbers.get(name);
      if (nr === undefined) continue; // unknown to this architecture: ignored, as runc does
      highest = Math.max(highest, nr); // patchbpf counts every named syscall, redundant ones too
      if (act === def) continue; // redundant: runc skips it
      let list = rules.get(nr);
      if (list === undefined) rules.set(nr, list = []);
      for (const c of alternatives) list.push({ action: act, conds: c });
    }
  });

  // patchbpf's stub: only for a default that refuses, and not when defaultErrnoRet equals
  // SCMP_ACT_ERRNO(ENOSYS) (runc compares errnoRet with that whole action value, not with
  // ENOSYS itself, so a defaultErrnoRet of 38 still gets the stub).
  const permissive = def === SECCOMP_RET_ALLOW || def === SECCOMP_RET_LOG || (def & 0xffff0000) >>> 0 === SECCOMP_RET_TRACE;
  const stub = !permissive && section.defaultErrnoRet !== RET_ERRNO_ENOSYS && highest > 0;
  const prog = assemble(rules, def, { enosysAbove: stub ? highest : null, x32Action: x32 ? def : SECCOMP_RET_KILL_THREAD });
  if (prog.length / 8 > MAX_INSNS) {
    fail("", `the profile compiles to ${prog.length / 8} BPF instructions, more than the kernel's ${MAX_INSNS}`);
  }
  checkFilter(prog); // a bug here must not become a filter the kernel refuses later
  return { filter: prog, syscalls: rules.size };
}

// cBPF opcodes.
const LD_W_ABS = 0x20, JEQ_K = 0x15, JGT_K = 0x25, JGE_K = 0x35, JSET_K = 0x45, AND_K = 0x54, RET_K = 0x06, JA = 0x05;
const OFF_NR = 0, OFF_ARCH = 4, OFF_ARGS = 16;

/** An instruction whose jumps name labels, resolved by {@linkcode assemble}'s last pass. */
interface Insn {
  code: number;
  k: number;
  /** For conditional jumps: the label jumped to when true / false (null: the next one). */
  jt?: Label | null;
  jf?: Label | null;
  /** For JA: the label. */
  to?: Label;
}
interface Label {
  at: number;
}

class Assembler {
  readonly insns: Insn[] = [];
  label(): Label {
    return { at: -1 };
  }
  bind(l: Label): void {
    l.at = this.insns.length;
  }
  emit(i: Insn): void {
    this.insns.push(i);
  }
  ld(off: number): void {
    this.emit({ code: LD_W_ABS, k: off });
  }
  ret(v: number): void {
    this.emit({ code: RET_K, k: v >>> 0 });
  }
  jump(code: number, k: number, jt: Label | null, jf: Label | null): void {
    this.emit({ code, k: k >>> 0, jt, jf });
  }
  ja(to: Label): void {
    this.emit({ code: JA, k: 0, to });
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.insns.length * 8);
    const v = new DataView(out.buffer);
    this.insns.forEach((i, pc) => {
      const rel = (l: Label | null | undefined) => {
        if (l === null || l === undefined) return 0;
        if (l.at < 0) throw new Error("seccomp profile: unbound label");
        const d = l.at - pc - 1;
        if (d < 0 || (i.code !== JA && d > 255)) throw new Error(`seccomp profile: jump of ${d} at ${pc}`);
        return d;
      };
      v.setUint16(pc * 8, i.code, true);
      if (i.code === JA) {
        v.setUint32(pc * 8 + 4, rel(i.to), true);
      } else {
        v.setUint8(pc * 8 + 2, rel(i.jt));
        v.setUint8(pc * 8 + 3, rel(i.jf));
        v.setUint32(pc * 8 + 4, i.k, true);
      }
    });
    return out;
  }
}

const hi = (v: bigint) => Number((v >> 32n) & 0xffff_ffffn);
const lo = (v: bigint) => Number(v & 0xffff_ffffn);

/** Emits one condition: falls through when it holds, jumps to `fail` when not. */
function emitCond(a: Assembler, c: Cond, fail: Label): void {
  const hiOff = OFF_ARGS + 8 * c.index + 4, loOff = OFF_ARGS + 8 * c.index;
  const pass = a.label();
  const vh = hi(c.value), vl = lo(c.value);
  switch (c.op) {
    case "SCMP_CMP_EQ":
      a.ld(hiOff);
      a.jump(JEQ_K, vh, null, fail);
      a.ld(loOff);
      a.jump(JEQ_K, vl, null, fail);
      break;
    case "SCMP_CMP_NE":
      a.ld(hiOff);
      a.jump(JEQ_K, vh, null, pass);
      a.ld(loOff);
      a.jump(JEQ_K, vl, fail, null);
      break;
    case "SCMP_CMP_MASKED_EQ": {
      const mh = hi(c.value), ml = lo(c.value);
      a.ld(hiOff);
      a.emit({ code: AND_K, k: mh >>> 0 });
      a.jump(JEQ_K, hi(c.valueTwo), null, fail);
      a.ld(loOff);
      a.emit({ code: AND_K, k: ml >>> 0 });
      a.jump(JEQ_K, lo(c.valueTwo), null, fail);
      break;
    }
    case "SCMP_CMP_GT":
    case "SCMP_CMP_GE":
      // arg > v: the high words decide unless equal, then the low words.
      a.ld(hiOff);
      a.jump(JGT_K, vh, pass, null);
      a.jump(JEQ_K, vh, null, fail);
      a.ld(loOff);
      a.jump(c.op === "SCMP_CMP_GT" ? JGT_K : JGE_K, vl, null, fail);
      break;
    case "SCMP_CMP_LT":
    case "SCMP_CMP_LE":
      a.ld(hiOff);
      a.jump(JGT_K, vh, fail, null);
      a.jump(JEQ_K, vh, null, pass);
      a.ld(loOff);
      a.jump(c.op === "SCMP_CMP_LT" ? JGE_K : JGT_K, vl, fail, null);
      break;
  }
  a.bind(pass);
}

/** Emits a syscall's rules; every path ends in a return. */
function emitRules(a: Assembler, rules: readonly Rule[], def: number): void {
  // An unconditional rule wins: the first one's action (libseccomp keeps it over later rules).
  const plain = rules.find((r) => r.conds.length === 0);
  if (plain !== undefined) {
    a.ret(plain.action);
    return;
  }
  for (const r of rules) {
    const next = a.label();
    for (const c of r.conds) emitCond(a, c, next);
    a.ret(r.action);
    a.bind(next);
  }
  a.ret(def);
}

/** Searches nrs[lo, hi) with A holding the syscall number; ends in a jump to a block or `miss`. */
function emitSearch(a: Assembler, nrs: readonly number[], start: number, end: number, blocks: Map<number, Label>, miss: Label): void {
  if (end - start <= 4) {
    for (let i = start; i < end; i++) {
      const nr = nrs[i]!;
      const skip = a.label();
      a.jump(JEQ_K, nr, null, skip);
      a.ja(blocks.get(nr)!);
      a.bind(skip);
    }
    a.ja(miss);
    return;
  }
  const mid = (start + end) >> 1;
  const left = a.label(), right = a.label();
  a.jump(JGE_K, nrs[mid]!, null, left);
  a.ja(right);
  a.bind(left);
  emitSearch(a, nrs, start, mid, blocks, miss);
  a.bind(right);
  emitSearch(a, nrs, mid, end, blocks, miss);
}

function assemble(
  rules: Map<number, Rule[]>, def: number, o: { enosysAbove: number | null; x32Action: number },
): Uint8Array {
  const a = new Assembler();
  const native = a.label(), miss = a.label();
  // Any other architecture: libseccomp's bad-architecture action (the sandbox has none).
  a.ld(OFF_ARCH);
  a.jump(JEQ_K, AUDIT_ARCH_X86_64, native, null);
  a.ret(SECCOMP_RET_KILL_THREAD);
  a.bind(native);
  a.ld(OFF_NR);
  if (o.enosysAbove !== null) {
    // patchbpf's stub, before libseccomp's filter: an x32 number (bit 30) skips it.
    const filter = a.label();
    a.jump(JSET_K, X32_SYSCALL_BIT, filter, null);
    a.jump(JGT_K, o.enosysAbove, null, filter);
    a.ret(SECCOMP_RET_ERRNO | ENOSYS);
    a.bind(filter);
  }
  // libseccomp's x86-64 section: a number from X32_SYSCALL_BIT up is another ABI, except -1
  // (the number a tracer sets to skip a syscall), which takes the default.
  const abi = a.label();
  a.jump(JGE_K, X32_SYSCALL_BIT, null, abi);
  const other = a.label();
  a.jump(JEQ_K, 0xffff_ffff, null, other);
  a.ja(miss);
  a.bind(other);
  a.ret(o.x32Action);
  a.bind(abi);
  const nrs = [...rules.keys()].sort((x, y) => x - y);
  const blocks = new Map(nrs.map((nr) => [nr, a.label()]));
  emitSearch(a, nrs, 0, nrs.length, blocks, miss);
  for (const nr of nrs) {
    a.bind(blocks.get(nr)!);
    emitRules(a, rules.get(nr)!, def);
  }
  a.bind(miss);
  a.ret(def);
  return a.bytes();
}
