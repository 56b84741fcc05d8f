/**
 * Classic BPF for seccomp filters (the stubs' in stub_seccomp.ts, the sentry's in
 * sentry_seccomp.ts): a tiny assembler with labels, and the constants both use.
 *
 * @module
 */

export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_TRAP = 0x00030000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_USER_NOTIF = 0x7fc00000;
export const SECCOMP_RET_LOG = 0x7ffc0000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;

const BPF_LD_W_ABS = 0x20, BPF_JEQ_K = 0x15, BPF_JGE_K = 0x35, BPF_JSET_K = 0x45, BPF_RET_K = 0x06;
const BPF_JA = 0x05;
const JUMP_CODES = { jeq: BPF_JEQ_K, jge: BPF_JGE_K, jset: BPF_JSET_K } as const;

/** One instruction with symbolic jump targets (a conditional jump's missing `else` falls through). */
export type Insn =
  | { op: "ld"; off: number }
  | { op: "jeq" | "jge" | "jset"; k: number; then: string; else?: string }
  | { op: "ret"; k: number }
  /** An unconditional jump, which may go further than a conditional one's 255 instructions. */
  | { op: "ja"; to: string }
  | { label: string };

/** Resolves labels into struct sock_filter bytes (8 per instruction). Jumps go forward only. */
export function assemble(prog: Insn[]): Uint8Array {
  const at = new Map<string, number>();
  const real: Exclude<Insn, { label: string }>[] = [];
  for (const i of prog) {
    if ("label" in i) {
      if (at.has(i.label)) throw new Error(`bpf: label ${i.label} twice`);
      at.set(i.label, real.length);
    } else real.push(i);
  }
  const out = new Uint8Array(real.length * 8);
  const v = new DataView(out.buffer);
  real.forEach((i, n) => {
    const o = n * 8;
    const rel = (l: string | undefined) => {
      if (l === undefined) return 0;
      const t = at.get(l);
      if (t === undefined || t <= n || t - n - 1 > 255) throw new Error(`bpf: bad jump to ${l}`);
      return t - n - 1;
    };
    if (i.op === "ld") {
      v.setUint16(o, BPF_LD_W_ABS, true);
      v.setUint32(o + 4, i.off, true);
    } else if (i.op === "ja") {
      const t = at.get(i.to);
      if (t === undefined || t <= n) throw new Error(`bpf: bad jump to ${i.to}`);
      v.setUint16(o, BPF_JA, true);
      v.setUint32(o + 4, t - n - 1, true);
    } else if (i.op === "ret") {
      v.setUint16(o, BPF_RET_K, true);
      v.setUint32(o + 4, i.k >>> 0, true);
    } else {
      v.setUint16(o, JUMP_CODES[i.op], true);
      v.setUint8(o + 2, rel(i.then));
      v.setUint8(o + 3, rel(i.else));
      v.setUint32(o + 4, i.k >>> 0, true);
    }
  });
  return out;
}
