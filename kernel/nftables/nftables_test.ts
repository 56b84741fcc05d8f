/**
 * NETLINK_NETFILTER against hostile input: mutations of a valid batch (lengths, types, flags,
 * attribute bytes) and random datagrams never throw out of the socket, and every answer is a
 * well-formed netlink message. The ruleset stays well-formed too: it dumps afterwards.
 */

import assert from "node:assert/strict";
import { Net } from "../net.ts";
import type { Task } from "../task.ts";
import { createNetlinkSocket } from "../socket/netlink/mod.ts";
import * as C from "../socket/inet/constants.ts";
import { loadNetModules } from "../net_load.ts";

// A Net's stack is made from the network's modules, which a sandbox loads at their first use.
await loadNetModules();

const t = { creds: { hasCap: () => true, capableIn: () => true }, tg: { tgid: 7 }, name: "fuzz" } as unknown as Task;

/** A message: nlmsghdr, nfgenmsg, attributes (each [type, bytes]). */
function message(type: number, flags: number, seq: number, family: number, attrs: [number, Uint8Array][]): Uint8Array {
  const parts: number[] = [family, 0, 0, 10];
  for (const [ty, v] of attrs) {
    const len = 4 + v.length;
    parts.push(len & 0xff, len >> 8, ty & 0xff, ty >> 8, ...v);
    while (parts.length % 4) parts.push(0);
  }
  const b = new Uint8Array(16 + parts.length);
  const d = new DataView(b.buffer);
  d.setUint32(0, b.length, true);
  d.setUint16(4, type, true);
  d.setUint16(6, flags, true);
  d.setUint32(8, seq, true);
  b.set(parts, 16);
  return b;
}

const str = (s: string) => new Uint8Array([...new TextEncoder().encode(s), 0]);
const be32 = (v: number) => new Uint8Array([v >>> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff]);
const nest = (attrs: [number, Uint8Array][]) => message(0, 0, 0, 0, attrs).subarray(20);

function validBatch(): Uint8Array {
  const nft = (m: number) => (10 << 8) | m;
  const verdict = nest([[1, be32(1)]]);
  const imm = nest([[1, be32(0)], [2, nest([[2, verdict]])]]);
  const expr = nest([[1, str("immediate")], [2, imm]]);
  const msgs = [
    message(0x10, 5, 1, 0, []),
    message(nft(0), 0x405, 2, 1, [[1, str("t")]]),
    message(nft(3), 0x405, 3, 1, [[1, str("t")], [3, str("c")], [4, nest([[1, be32(1)], [2, be32(0)]])], [5, be32(1)], [7, str("filter")]]),
    message(nft(3), 0x405, 4, 1, [[1, str("t")], [3, str("r")]]),
    message(nft(6), 0xc05, 5, 1, [[1, str("t")], [2, str("c")], [4, nest([[1, expr]])]]),
    message(nft(6), 0xc05, 6, 1, [[1, str("t")], [2, str("c")], [4, nest([[1, nest([[1, str("immediate")], [2, nest([[1, be32(0)], [2, nest([[2, nest([[1, be32(0xfffffffd)], [2, str("r")]])]])]])]])]])]]),
    message(nft(9), 0x405, 7, 1, [[1, str("t")], [2, str("m")], [3, be32(8)], [5, be32(4)], [6, be32(0)], [7, be32(4)], [10, be32(1)]]),
    message(nft(12), 0x405, 8, 1, [[1, str("t")], [2, str("m")], [3, nest([[1, nest([[1, nest([[1, be32(0xc0a80101)]])], [2, nest([[1, be32(1)]])]])], [1, nest([[3, be32(2)], [2, nest([[1, be32(2)]])]])]])]]),
    message(0x11, 5, 9, 0, []),
  ];
  const out = new Uint8Array(msgs.reduce((n, m) => n + m.length, 0));
  let o = 0;
  for (const m of msgs) {
    out.set(m, o);
    o += m.length;
  }
  return out;
}

/** Reads every answer and checks each message's header is within its datagram. */
function drain(s: ReturnType<typeof createNetlinkSocket>): number {
  let n = 0;
  for (;;) {
    let d: Uint8Array;
    try {
      d = s.recvmsg(t, { maxLen: 1 << 20, flags: 0 }).data;
    } catch {
      return n;
    }
    for (let o = 0; o < d.length;) {
      const len = new DataView(d.buffer, d.byteOffset + o).getUint32(0, true);
      assert.ok(len >= 16 && o + len <= d.length, "a well-formed answer");
      o += (len + 3) & ~3;
      n++;
    }
  }
}

function dumpAll(s: ReturnType<typeof createNetlinkSocket>): void {
  for (const m of [1, 4, 7, 10, 16]) {
    s.sendmsg(t, { data: message((10 << 8) | m, 0x301, 99, 0, []), to: null, control: {}, flags: 0 });
    drain(s);
  }
}

Deno.test("a valid batch adds a table, two chains, rules with a jump and a map with two elements, and they dump", () => {
  const net = new Net({ seed: 1 });
  const s = createNetlinkSocket(net, C.SOCK_RAW, 12, 0, 7);
  s.sendmsg(t, { data: validBatch(), to: null, control: {}, flags: 0 });
  assert.equal(drain(s), 9, "the begin, seven messages and the end are acked");
  assert.equal(net.nftables.ruleset.tables[0]?.sets[0]?.elems.length, 2);
  assert.equal(net.nftables.ruleset.tables[0]?.chains.length, 2);
  assert.equal(net.nftables.ruleset.tables[0]?.chains[0]?.rules.length, 2);
  dumpAll(s);
});

Deno.test("mutated batches and random datagrams never throw out of a NETLINK_NETFILTER socket", () => {
  let seed = 12345;
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const net = new Net({ seed: 2 });
  const s = createNetlinkSocket(net, C.SOCK_RAW, 12, 0, 7);
  const base = validBatch();
  for (let i = 0; i < 3000; i++) {
    let d: Uint8Array;
    if (i % 10 === 9) {
      d = new Uint8Array(Math.floor(rand() * 200));
      for (let j = 0; j < d.length; j++) d[j] = rand() * 256;
    } else {
      d = base.slice(0, rand() < 0.1 ? Math.floor(rand() * base.length) : base.length);
      const flips = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < flips && d.length > 0; k++) {
        const at = Math.floor(rand() * d.length);
        d[at] = rand() < 0.5 ? rand() * 256 : [0, 0xff, 1, 4, 8, 16][Math.floor(rand() * 6)]!;
      }
    }
    s.sendmsg(t, { data: d, to: null, control: {}, flags: 0 });
    drain(s);
    if (i % 100 === 0) dumpAll(s);
  }
  dumpAll(s);
});
