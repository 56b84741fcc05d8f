/**
 * linux.seccomp compiled to cBPF (boot/seccomp_profile.ts), judged by running the program
 * with the kernel's own interpreter over seccomp_data made here: each case states what runc
 * with libseccomp decides for that call.
 */

import assert from "node:assert/strict";
import { compileSeccomp } from "./seccomp_profile.ts";
import { loadSpecSchema, parseSpec } from "./spec.ts";
import { BootError } from "./errors.ts";
import { resolvePodmanProfile } from "../tests/_podman_profile.ts";
import {
  AUDIT_ARCH_X86_64, execveVerdict, runFilter, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG, SECCOMP_RET_TRACE, SECCOMP_RET_TRAP,
} from "../kernel/seccomp.ts";

const NR = { read: 0, write: 1, socket: 41, clone: 56, execve: 59, mkdir: 83, personality: 135, mkdirat: 258, mseal: 462 };
const ALLOW = SECCOMP_RET_ALLOW, EPERM = SECCOMP_RET_ERRNO | 1, ENOSYS = SECCOMP_RET_ERRNO | 38;

function judge(profile: unknown, nr: number, args: (number | bigint)[] = [], arch = AUDIT_ARCH_X86_64): number {
  const p = compileSeccomp(profile);
  assert.ok(p !== null);
  const d = new DataView(new ArrayBuffer(64));
  d.setInt32(0, nr, true);
  d.setUint32(4, arch, true);
  args.forEach((a, i) => d.setBigUint64(16 + 8 * i, BigInt(a), true));
  return runFilter(p.filter, d) >>> 0;
}

function refused(profile: unknown): string {
  try {
    compileSeccomp(profile);
  } catch (e) {
    assert.ok(e instanceof BootError, String(e));
    return e.message;
  }
  assert.fail("accepted");
}

Deno.test("no section, or neither defaultAction nor syscalls: no filter (runc's SetupSeccomp)", () => {
  assert.equal(compileSeccomp(undefined), null);
  assert.equal(compileSeccomp({}), null);
  assert.equal(compileSeccomp({ architectures: ["SCMP_ARCH_X86_64"] }), null);
});

Deno.test("actions and errnoRet: ERRNO defaults to EPERM, errnoRet kept; KILL is KILL_THREAD", () => {
  const p = (action: string, errnoRet?: number) => ({
    defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir"], action, ...(errnoRet !== undefined ? { errnoRet } : {}) }],
  });
  assert.equal(judge(p("SCMP_ACT_ERRNO"), NR.mkdir), EPERM);
  assert.equal(judge(p("SCMP_ACT_ERRNO", 13), NR.mkdir), SECCOMP_RET_ERRNO | 13);
  assert.equal(judge(p("SCMP_ACT_ERRNO", 0), NR.mkdir), SECCOMP_RET_ERRNO);
  assert.equal(judge(p("SCMP_ACT_KILL"), NR.mkdir), SECCOMP_RET_KILL_THREAD);
  assert.equal(judge(p("SCMP_ACT_KILL_THREAD"), NR.mkdir), SECCOMP_RET_KILL_THREAD);
  assert.equal(judge(p("SCMP_ACT_KILL_PROCESS"), NR.mkdir), SECCOMP_RET_KILL_PROCESS);
  assert.equal(judge(p("SCMP_ACT_TRAP"), NR.mkdir), SECCOMP_RET_TRAP);
  assert.equal(judge(p("SCMP_ACT_TRACE"), NR.mkdir), SECCOMP_RET_TRACE | 1);
  assert.equal(judge(p("SCMP_ACT_TRACE", 7), NR.mkdir), SECCOMP_RET_TRACE | 7);
  assert.equal(judge(p("SCMP_ACT_LOG"), NR.mkdir), SECCOMP_RET_LOG);
  assert.equal(judge(p("SCMP_ACT_TRAP", 5), NR.mkdir), SECCOMP_RET_TRAP, "errnoRet means nothing to TRAP");
  assert.equal(judge(p("SCMP_ACT_ERRNO"), NR.mkdirat), ALLOW, "only the names listed");
  assert.equal(judge({ defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 38, syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW" }] }, NR.mkdir), ENOSYS);
});

Deno.test("unknown names are ignored, an empty name is refused", () => {
  const p = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["no_such_call", "mkdir"], action: "SCMP_ACT_ERRNO" }] };
  assert.equal(judge(p, NR.mkdir), EPERM);
  assert.match(refused({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: [""], action: "SCMP_ACT_ERRNO" }] }), /syscalls\[0\]\.names: empty string is not a valid syscall/);
});

Deno.test("argument conditions: AND within an entry, OR across entries and for two conditions on one argument", () => {
  const and = {
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [{ names: ["socket"], action: "SCMP_ACT_ALLOW", args: [
      { index: 0, value: 1, op: "SCMP_CMP_EQ" }, { index: 1, value: 1, op: "SCMP_CMP_EQ" },
    ] }],
  };
  assert.equal(judge(and, NR.socket, [1, 1]), ALLOW);
  assert.equal(judge(and, NR.socket, [1, 2]), EPERM);
  assert.equal(judge(and, NR.socket, [2, 1]), EPERM);
  // podman's personality: five entries, any one value.
  const or = {
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [0, 8, 0x20000, 0xffffffff].map((v) => ({ names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: v, valueTwo: 0, op: "SCMP_CMP_EQ" }] })),
  };
  for (const v of [0, 8, 0x20000, 0xffffffff]) assert.equal(judge(or, NR.personality, [v]), ALLOW);
  assert.equal(judge(or, NR.personality, [9]), EPERM);
  assert.equal(judge(or, NR.personality, [0x1_0000_0000n]), EPERM, "the whole 64-bit register is compared");
  // Two conditions on argument 0 in one entry: runc adds each as its own rule (OR).
  const sameArg = {
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{ names: ["write"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 5, op: "SCMP_CMP_EQ" }, { index: 0, value: 6, op: "SCMP_CMP_EQ" }] }],
  };
  assert.equal(judge(sameArg, NR.write, [5]), EPERM);
  assert.equal(judge(sameArg, NR.write, [6]), EPERM);
  assert.equal(judge(sameArg, NR.write, [7]), ALLOW);
});

Deno.test("operators compare unsigned 64-bit values, MASKED_EQ is (arg & value) == valueTwo", () => {
  const p = (op: string, value: number | bigint, valueTwo: number | bigint = 0) => ({
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{ names: ["write"], action: "SCMP_ACT_ERRNO", args: [{ index: 2, value, valueTwo, op }] }],
  });
  const cases: [string, bigint, bigint[], bigint[]][] = [
    // op, value, args that match, args that do not
    ["SCMP_CMP_NE", 5n, [4n, 6n, 0x1_0000_0005n], [5n]],
    ["SCMP_CMP_EQ", 0x1_0000_0005n, [0x1_0000_0005n], [5n, 0x1_0000_0000n]],
    ["SCMP_CMP_LT", 0x1_0000_0000n, [0n, 0xffff_ffffn], [0x1_0000_0000n, 0x2_0000_0000n]],
    ["SCMP_CMP_LE", 0x1_0000_0005n, [0x1_0000_0005n, 0x1_0000_0004n, 7n], [0x1_0000_0006n, 0x2_0000_0000n]],
    ["SCMP_CMP_GT", 0x1_0000_0005n, [0x1_0000_0006n, 0x2_0000_0000n], [0x1_0000_0005n, 0xffff_ffffn]],
    ["SCMP_CMP_GE", 5n, [5n, 6n, 0x1_0000_0000n, 0xffff_ffff_ffff_ffffn], [4n, 0n]],
  ];
  for (const [op, v, yes, no] of cases) {
    for (const a of yes) assert.equal(judge(p(op, v), NR.write, [0, 0, a]), EPERM, `${op} ${v} on ${a}`);
    for (const a of no) assert.equal(judge(p(op, v), NR.write, [0, 0, a]), ALLOW, `${op} ${v} on ${a}`);
  }
  // podman's clone rule: no namespace flag (0x7E020000 masked must be 0).
  const masked = p("SCMP_CMP_MASKED_EQ", 0x7e020000, 0);
  assert.equal(judge(masked, NR.write, [0, 0, 0x11]), EPERM);
  assert.equal(judge(masked, NR.write, [0, 0, 0x10000000]), ALLOW);
  const maskedHigh = p("SCMP_CMP_MASKED_EQ", 0xff_0000_0000n, 0x12_0000_0000n);
  assert.equal(judge(maskedHigh, NR.write, [0, 0, 0x12_dead_beefn]), EPERM);
  assert.equal(judge(maskedHigh, NR.write, [0, 0, 0x13_0000_0000n]), ALLOW);
});

Deno.test("values above 2^53 are read exactly from config.json", async () => {
  await loadSpecSchema();
  const spec = parseSpec(`{"process":{"args":["true"],"cwd":"/"},"root":{"path":"/"},"linux":{"seccomp":{
    "defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["write"],"action":"SCMP_ACT_ERRNO",
    "args":[{"index":0,"value":18446744073709551615,"op":"SCMP_CMP_EQ"}]}]}}}`);
  const s = spec.linux!.seccomp;
  assert.equal(judge(s, NR.write, [0xffff_ffff_ffff_ffffn]), EPERM);
  assert.equal(judge(s, NR.write, [0xffff_ffff_ffff_fffen]), ALLOW);
});

Deno.test("one syscall in several entries: an unconditional rule wins, the first one's action (libseccomp)", () => {
  const p = {
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [
      { names: ["write"], action: "SCMP_ACT_KILL_PROCESS", args: [{ index: 0, value: 9, op: "SCMP_CMP_EQ" }] },
      { names: ["write"], action: "SCMP_ACT_ALLOW" },
      { names: ["write"], action: "SCMP_ACT_TRAP" },
    ],
  };
  assert.equal(judge(p, NR.write, [9]), ALLOW);
  assert.equal(judge(p, NR.write, [1]), ALLOW);
  // A rule with the default's action is dropped (runc's matchCall), so it cannot shadow another.
  const redundant = {
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [{ names: ["write"], action: "SCMP_ACT_ERRNO" }, { names: ["write"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 1, op: "SCMP_CMP_EQ" }] }],
  };
  assert.equal(judge(redundant, NR.write, [1]), ALLOW);
  assert.equal(judge(redundant, NR.write, [2]), EPERM);
});

Deno.test("runc's -ENOSYS stub: numbers above the highest named one, unless the default allows", () => {
  const p = { defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["read", "personality"], action: "SCMP_ACT_ALLOW" }] };
  assert.equal(judge(p, NR.personality), ALLOW);
  assert.equal(judge(p, NR.mkdir), EPERM, "below the highest: the default");
  assert.equal(judge(p, NR.mseal), ENOSYS, "above it: ENOSYS, as on an older kernel");
  assert.equal(judge(p, 1000), ENOSYS);
  // The highest name counts even when its rule is redundant.
  const r = { defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW" }, { names: ["mseal"], action: "SCMP_ACT_ERRNO" }] };
  assert.equal(judge(r, NR.mkdir), EPERM);
  const allow = { defaultAction: "SCMP_ACT_LOG", syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO" }] };
  assert.equal(judge(allow, 1000), SECCOMP_RET_LOG);
});

Deno.test("architectures: another audit arch, x32 numbers, -1", () => {
  const p = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_ERRNO" }] };
  assert.equal(judge(p, NR.mkdir, [], 0x40000003 /* AUDIT_ARCH_I386 */), SECCOMP_RET_KILL_THREAD);
  assert.equal(judge(p, 0x40000000 | NR.read), SECCOMP_RET_KILL_THREAD, "x32 not listed: libseccomp's bad arch");
  assert.equal(judge({ ...p, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"] }, 0x40000000 | NR.read), ALLOW);
  assert.equal(judge(p, -1), ALLOW, "-1, a tracer's skipped syscall, takes the default");
});

Deno.test("a bad section is one line naming the field", () => {
  const base = { defaultAction: "SCMP_ACT_ALLOW" };
  assert.match(refused({ ...base, defaultAction: "SCMP_ACT_NOPE" }), /^config\.json: linux\.seccomp\.defaultAction: "SCMP_ACT_NOPE" is not a valid action/);
  assert.match(refused({ defaultAction: "", syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW" }] }), /defaultAction: "" is not a valid action/);
  assert.match(refused({ ...base, architectures: ["SCMP_ARCH_Z80"] }), /architectures\[0\]: "SCMP_ARCH_Z80" is not a valid arch/);
  assert.match(refused({ ...base, flags: ["SECCOMP_FILTER_FLAG_NEW_LISTENER"] }), /flags\[0\]: seccomp flag "SECCOMP_FILTER_FLAG_NEW_LISTENER" is not known/);
  assert.match(refused({ ...base, syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO", args: [{ index: 6, value: 1, op: "SCMP_CMP_EQ" }] }] }), /syscalls\[0\]\.args\[0\]\.index: expected an argument index from 0 to 5/);
  assert.match(refused({ ...base, syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 1, op: "SCMP_CMP_XX" }] }] }), /args\[0\]\.op: "SCMP_CMP_XX" is not a valid operator/);
  assert.match(refused({ ...base, syscalls: [{ names: "read", action: "SCMP_ACT_ERRNO" }] }), /syscalls\[0\]\.names: expected an array/);
  assert.match(refused({ ...base, syscalls: [{ names: ["read"], action: "SCMP_ACT_NOTIFY" }] }), /syscalls\[0\]\.action: SCMP_ACT_NOTIFY is not supported/);
  assert.match(refused({ defaultAction: "SCMP_ACT_NOTIFY" }), /defaultAction: SCMP_ACT_NOTIFY is not supported/);
  for (const flag of ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]) {
    assert.ok(compileSeccomp({ ...base, flags: [flag] }) !== null);
  }
});

Deno.test("what the filter does to the execve runc makes right after installing it", () => {
  const p = (action: string) => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["execve"], action }] })!.filter;
  assert.equal(execveVerdict(p("SCMP_ACT_ERRNO")), 1);
  assert.equal(execveVerdict(p("SCMP_ACT_KILL_PROCESS")), "kill");
  assert.equal(execveVerdict(p("SCMP_ACT_LOG")), null);
  assert.equal(execveVerdict(compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_ERRNO" }] })!.filter), null);
});

Deno.test("podman's default profile compiles within the kernel's limit and judges as runc would", () => {
  let text: string;
  try {
    text = Deno.readTextFileSync("/usr/share/containers/seccomp.json");
  } catch {
    console.log("skipped: no /usr/share/containers/seccomp.json (podman's default profile) on this host");
    return;
  }
  const profile = resolvePodmanProfile(JSON.parse(text));
  const c = compileSeccomp(profile)!;
  assert.ok(c.syscalls > 300, `${c.syscalls} syscalls`);
  const n = c.filter.length / 8;
  assert.ok(n < 4096, `${n} instructions`);
  assert.equal(judge(profile, NR.read), ALLOW);
  assert.equal(judge(profile, NR.mkdir), ALLOW);
  assert.equal(judge(profile, 155 /* pivot_root */), ALLOW);
  assert.equal(judge(profile, 246 /* kexec_load */), EPERM);
  assert.equal(judge(profile, 161 /* chroot: CAP_SYS_CHROOT is a default capability */), ALLOW);
  assert.equal(judge(profile, 321 /* bpf without CAP_SYS_ADMIN */), EPERM);
  assert.equal(judge(profile, NR.personality, [8]), ALLOW);
  assert.equal(judge(profile, NR.personality, [1]), ENOSYS, "the default, errnoRet 38");
  assert.equal(judge(profile, 100_000), ENOSYS);
});
