/**
 * Socket filters (SO_ATTACH_FILTER): classic BPF programs checked as Linux's bpf_check_classic
 * checks them and run on each packet a socket is about to queue, as sk_filter_trim_cap and the
 * packet sockets' run_filter do. A program returns how many bytes of the packet to keep (from
 * where the family's data starts: the UDP header, the IP header of a raw IPv4 socket, the link
 * header of a packet socket...); 0 drops it.
 *
 * Loads read the packet in network byte order; an offset past its end ends the program with 0,
 * as Linux's load helpers do. Negative offsets reach the network header (SKF_NET_OFF) and the
 * link header (SKF_LL_OFF); SKF_AD_OFF offsets read the ancillary data Linux gives.
 *
 * @module
 */

import { EINVAL } from "../errno.ts";

/** BPF_MAXINSNS, BPF_MEMWORDS. */
export const BPF_MAXINSNS = 4096;
const BPF_MEMWORDS = 16;

/** SKF_AD_OFF, SKF_NET_OFF, SKF_LL_OFF as unsigned k values. */
const SKF_AD_OFF = 0xfffff000;
const SKF_NET_OFF = 0xfff00000;
const SKF_LL_OFF = 0xffe00000;
/** The ancillary data offsets (SKF_AD_*) Linux knows. */
const SKF_AD_PROTOCOL = 0, SKF_AD_PKTTYPE = 4, SKF_AD_IFINDEX = 8, SKF_AD_NLATTR = 12, SKF_AD_NLATTR_NEST = 16, SKF_AD_MARK = 20,
  SKF_AD_QUEUE = 24, SKF_AD_HATYPE = 28, SKF_AD_RXHASH = 32, SKF_AD_CPU = 36, SKF_AD_ALU_XOR_X = 40, SKF_AD_VLAN_TAG = 44,
  SKF_AD_VLAN_TAG_PRESENT = 48, SKF_AD_PAY_OFFSET = 52, SKF_AD_RANDOM = 56, SKF_AD_VLAN_TPID = 60;
const ANCILLARY = new Set([
  SKF_AD_PROTOCOL, SKF_AD_PKTTYPE, SKF_AD_IFINDEX, SKF_AD_NLATTR, SKF_AD_NLATTR_NEST, SKF_AD_MARK, SKF_AD_QUEUE, SKF_AD_HATYPE,
  SKF_AD_RXHASH, SKF_AD_CPU, SKF_AD_ALU_XOR_X, SKF_AD_VLAN_TAG, SKF_AD_VLAN_TAG_PRESENT, SKF_AD_PAY_OFFSET, SKF_AD_RANDOM,
  SKF_AD_VLAN_TPID,
]);

// Opcodes (linux/filter.h, bpf_common.h): class | size | mode, class | op | src.
const LD = 0x00, LDX = 0x01, ST = 0x02, STX = 0x03, ALU = 0x04, JMP = 0x05, RET = 0x06, MISC = 0x07;
const W = 0x00, H = 0x08, B = 0x10;
const IMM = 0x00, ABS = 0x20, IND = 0x40, MEM = 0x60, LEN = 0x80, MSH = 0xa0;
const K = 0x00, X = 0x08, A = 0x10;
const ADD = 0x00, SUB = 0x10, MUL = 0x20, DIV = 0x30, OR = 0x40, AND = 0x50, LSH = 0x60, RSH = 0x70, NEG = 0x80, MOD = 0x90,
  XOR = 0xa0;
const JA = 0x00, JEQ = 0x10, JGT = 0x20, JGE = 0x30, JSET = 0x40;
const TAX = 0x00, TXA = 0x80;

/** chk_code_allowed's table: the codes a classic socket filter may use. */
const ALLOWED = new Set<number>([
  ...[ADD, SUB, MUL, DIV, MOD, AND, OR, XOR, LSH, RSH].flatMap((op) => [ALU | op | K, ALU | op | X]),
  ALU | NEG,
  LD | W | ABS, LD | H | ABS, LD | B | ABS, LD | W | LEN, LD | W | IND, LD | H | IND, LD | B | IND, LD | IMM, LD | MEM,
  LDX | W | LEN, LDX | B | MSH, LDX | IMM, LDX | MEM,
  ST, STX, MISC | TAX, MISC | TXA, RET | K, RET | A,
  JMP | JA, ...[JEQ, JGE, JGT, JSET].flatMap((op) => [JMP | op | K, JMP | op | X]),
]);
const CONDITIONAL = new Set([JEQ, JGE, JGT, JSET].flatMap((op) => [JMP | op | K, JMP | op | X]));

/** One instruction (struct sock_filter). */
interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** A checked program: the instructions as given (SO_GET_FILTER returns them) and decoded. */
export class SockFilter {
  private constructor(readonly raw: Uint8Array, readonly insns: readonly Insn[]) {}

  /** bpf_check_classic: EINVAL for a program Linux refuses. `raw` is len * 8 bytes. */
  static check(raw: Uint8Array): SockFilter {
    const len = raw.length / 8;
    if (len === 0 || len > BPF_MAXINSNS || !Number.isInteger(len)) throw EINVAL;
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const insns: Insn[] = [];
    for (let pc = 0; pc < len; pc++) {
      insns.push({ code: v.getUint16(8 * pc, true), jt: raw[8 * pc + 2]!, jf: raw[8 * pc + 3]!, k: v.getUint32(8 * pc + 4, true) });
    }
    insns.forEach((f, pc) => {
      if (!ALLOWED.has(f.code)) throw EINVAL;
      switch (f.code) {
        case ALU | DIV | K:
        case ALU | MOD | K:
          if (f.k === 0) throw EINVAL;
          break;
        case ALU | LSH | K:
        case ALU | RSH | K:
          if (f.k >= 32) throw EINVAL;
          break;
        case LD | MEM:
        case LDX | MEM:
        case ST:
        case STX:
          if (f.k >= BPF_MEMWORDS) throw EINVAL;
          break;
        case JMP | JA:
          if (f.k >= len - pc - 1) throw EINVAL;
          break;
        case LD | W | ABS:
        case LD | H | ABS:
        case LD | B | ABS:
          if (f.k >= SKF_AD_OFF && !ANCILLARY.has(f.k - SKF_AD_OFF)) throw EINVAL;
          break;
        default:
          if (CONDITIONAL.has(f.code) && (pc + f.jt + 1 >= len || pc + f.jf + 1 >= len)) throw EINVAL;
      }
    });
    const last = insns[len - 1]!.code;
    if (last !== (RET | K) && last !== (RET | A)) throw EINVAL;
    checkLoadsAndStores(insns);
    return new SockFilter(raw.slice(), insns);
  }

  get length(): number {
    return this.insns.length;
  }

  /** Runs the program over a packet: the bytes to keep (0: drop). */
  run(p: FilterPacket): number {
    const ins = this.insns;
    const mem = new Uint32Array(BPF_MEMWORDS);
    let a = 0, x = 0;
    const load = (off: number, size: number): number | null => {
      // Linux's bpf_load_pointer: a non-negative offset into the data, or a negative one
      // into the network or link header; anything else (or past the end) ends with 0.
      let buf: Uint8Array | null;
      let at: number;
      if (off >= 0) {
        buf = p.data;
        at = off;
      } else if (off >= SKF_NET_OFF - 0x100000000) {
        buf = p.network;
        at = off - (SKF_NET_OFF - 0x100000000);
      } else if (off >= SKF_LL_OFF - 0x100000000) {
        buf = p.link;
        at = off - (SKF_LL_OFF - 0x100000000);
      } else return null;
      if (buf === null || at + size > buf.length) return null;
      let n = 0;
      for (let i = 0; i < size; i++) n = (n * 256) + buf[at + i]!;
      return n >>> 0;
    };
    for (let pc = 0; pc < ins.length; pc++) {
      const f = ins[pc]!;
      const cls = f.code & 0x07;
      switch (cls) {
        case LD:
        case LDX: {
          const mode = f.code & 0xe0;
          const size = (f.code & 0x18) === W ? 4 : (f.code & 0x18) === H ? 2 : 1;
          let val: number;
          if (mode === IMM) val = f.k;
          else if (mode === LEN) val = p.data.length;
          else if (mode === MEM) val = mem[f.k]!;
          else if (mode === MSH) {
            const b = load(f.k | 0, 1);
            if (b === null) return 0;
            val = (b & 0xf) * 4;
          } else if (mode === ABS && f.k >= SKF_AD_OFF) {
            const anc = f.k - SKF_AD_OFF;
            if (anc === SKF_AD_ALU_XOR_X) {
              a = (a ^ x) >>> 0;
              continue;
            }
            val = ancillary(anc, p);
          } else {
            const off = mode === ABS ? f.k | 0 : (x + f.k) | 0;
            const r = load(off, size);
            if (r === null) return 0;
            val = r;
          }
          if (cls === LD) a = val >>> 0;
          else x = val >>> 0;
          break;
        }
        case ST:
          mem[f.k] = a;
          break;
        case STX:
          mem[f.k] = x;
          break;
        case ALU: {
          const op = f.code & 0xf0;
          if (op === NEG) {
            a = (-a) >>> 0;
            break;
          }
          const b = (f.code & X) ? x : f.k;
          switch (op) {
            case ADD: a = (a + b) >>> 0; break;
            case SUB: a = (a - b) >>> 0; break;
            case MUL: a = Math.imul(a, b) >>> 0; break;
            case DIV: if (b === 0) return 0; a = Math.floor(a / b) >>> 0; break;
            case MOD: if (b === 0) return 0; a = (a % b) >>> 0; break;
            case AND: a = (a & b) >>> 0; break;
            case OR: a = (a | b) >>> 0; break;
            case XOR: a = (a ^ b) >>> 0; break;
            // A shift by 32 or more (only from X) leaves 0, as the 32-bit eBPF shift of the translation.
            case LSH: a = b >= 32 ? 0 : (a << b) >>> 0; break;
            case RSH: a = b >= 32 ? 0 : a >>> b; break;
          }
          break;
        }
        case JMP: {
          const op = f.code & 0xf0;
          if (op === JA) {
            pc += f.k;
            break;
          }
          const b = (f.code & X) ? x : f.k;
          const taken = op === JEQ ? a === b : op === JGT ? a > b : op === JGE ? a >= b : (a & b) !== 0;
          pc += taken ? f.jt : f.jf;
          break;
        }
        case RET:
          return ((f.code & 0x18) === A ? a : f.k) >>> 0;
        case MISC:
          if ((f.code & 0xf8) === TXA) a = x;
          else x = a;
          break;
      }
    }
    return 0;
  }
}

/** check_load_and_stores: every scratch word read has been written on every path to the read. */
function checkLoadsAndStores(insns: readonly Insn[]): void {
  const masks = new Uint16Array(insns.length).fill(0xffff);
  let valid = 0;
  insns.forEach((f, pc) => {
    valid &= masks[pc]!;
    if (f.code === ST || f.code === STX) valid |= 1 << f.k;
    else if (f.code === (LD | MEM) || f.code === (LDX | MEM)) {
      if (!(valid & (1 << f.k))) throw EINVAL;
    } else if (f.code === (JMP | JA)) {
      masks[pc + 1 + f.k]! &= valid;
      valid = 0xffff;
    } else if (CONDITIONAL.has(f.code)) {
      masks[pc + 1 + f.jt]! &= valid;
      masks[pc + 1 + f.jf]! &= valid;
      valid = 0xffff;
    }
  });
}

/** What a filter sees of a packet. */
export interface FilterPacket {
  /** From where the family's data starts (offset 0) to the end. */
  data: Uint8Array;
  /** From the network header, or null if there is none. */
  network: Uint8Array | null;
  /** From the link header, or null if there is none. */
  link: Uint8Array | null;
  /** skb->protocol (an ETH_P_* value), pkt_type, the interface's index and type (ARPHRD_*). */
  protocol: number;
  pktType: number;
  ifindex: number;
  hatype: number;
}

/** An SKF_AD_* load: what Linux gives for a packet of the sandbox's stack (no marks, VLANs or queues). */
function ancillary(anc: number, p: FilterPacket): number {
  switch (anc) {
    case SKF_AD_PROTOCOL:
      return p.protocol;
    case SKF_AD_PKTTYPE:
      return p.pktType;
    case SKF_AD_IFINDEX:
      return p.ifindex;
    case SKF_AD_HATYPE:
      return p.hatype;
    case SKF_AD_RANDOM:
      return (Math.random() * 0x100000000) >>> 0;
    default:
      // SKF_AD_MARK, QUEUE, RXHASH, CPU, VLAN_*, PAY_OFFSET, NLATTR: 0 here (no marks, queues,
      // hashes or VLANs on the sandbox's stack; PAY_OFFSET and NLATTR are not computed).
      return 0;
  }
}

/** SO_ATTACH_FILTER's struct sock_fprog: len (u16), then a pointer to the instructions. */
export const SOCK_FPROG_SIZE = 16;
