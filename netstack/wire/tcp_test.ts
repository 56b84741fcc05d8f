import assert from "node:assert/strict";
import { Ipv4Address } from "./address.ts";
import { seq } from "./seq_number.ts";
import { emitTcp, parseTcp, TcpPacket, tcpHeaderLen, tcpReprDefaults, tcpSegmentLen } from "./tcp.ts";
import { a5, hex, toHex } from "./_test_util.ts";

const SRC = Ipv4Address.parse("10.0.0.1");
const DST = Ipv4Address.parse("10.0.0.2");
// SYN 49152 -> 80, seq 0x01020304, win 65535, MSS 1460, WS 7, SACK-perm, TS 100/0.
const SYN = hex(
  "c0000050 01020304 00000000 b002ffff 5d3d0000 020405b4 01030307 01010402 0101080a 00000064 00000000",
);

Deno.test("parseTcp() decodes a golden SYN with every option", () => {
  const r = parseTcp(TcpPacket.checked(SYN)!, { src: SRC, dst: DST })!;
  assert.equal(r.srcPort, 49152);
  assert.equal(r.dstPort, 80);
  assert.equal(r.seq, 0x01020304);
  assert.equal(r.ack, null);
  assert.ok(r.syn && !r.fin && !r.rst && !r.psh);
  assert.equal(r.window, 65535);
  assert.equal(r.maxSegSize, 1460);
  assert.equal(r.windowScale, 7);
  assert.ok(r.sackPermitted);
  assert.deepEqual(r.timestamp, { tsVal: 100, tsEcr: 0 });
  assert.equal(r.payload.length, 0);
  assert.equal(tcpSegmentLen(r), 1);
});

Deno.test("emitTcp() reproduces the golden SYN in a 0xa5 buffer", () => {
  const r = parseTcp(TcpPacket.checked(SYN)!, { src: SRC, dst: DST })!;
  assert.equal(tcpHeaderLen(r), 44);
  const b = a5(44);
  emitTcp(r, TcpPacket.unchecked(b), { src: SRC, dst: DST });
  assert.equal(toHex(b), toHex(SYN));
});

Deno.test("SACK blocks and payload round-trip; blocks that do not fit are dropped", () => {
  const r = {
    ...tcpReprDefaults(),
    srcPort: 1,
    dstPort: 2,
    seq: seq(0xfffffff0),
    ack: seq(7),
    psh: true,
    window: 1000,
    timestamp: { tsVal: 1, tsEcr: 2 },
    sackBlocks: [1, 2, 3, 4].map((i) => ({ left: seq(i * 100), right: seq(i * 100 + 50) })),
    payload: new Uint8Array([1, 2, 3]),
  };
  const hl = tcpHeaderLen(r);
  assert.equal(hl, 20 + 12 + 4 + 24);
  const b = a5(hl + 3);
  emitTcp(r, TcpPacket.unchecked(b), { src: SRC, dst: DST });
  const back = parseTcp(TcpPacket.checked(b)!, { src: SRC, dst: DST })!;
  assert.deepEqual(back.sackBlocks, r.sackBlocks.slice(0, 3));
  assert.deepEqual([...back.payload], [1, 2, 3]);
  assert.equal(back.ack, 7);
  assert.ok(back.psh);
});

Deno.test("TCP rejects truncation, bad checksums and malformed options", () => {
  assert.equal(TcpPacket.checked(SYN.subarray(0, 19)), null);
  assert.equal(TcpPacket.checked(SYN.subarray(0, 40)), null); // data offset says 44
  const bad = SYN.slice();
  bad[4] = bad[4]! ^ 1;
  assert.equal(parseTcp(TcpPacket.checked(bad)!, { src: SRC, dst: DST }), null);
  // Overlong MSS option length: fix the checksum so only the option is wrong.
  const opt = SYN.slice();
  opt[21] = 40;
  const p = TcpPacket.checked(opt)!;
  p.fillChecksum(SRC, DST);
  assert.equal(parseTcp(p, { src: SRC, dst: DST }), null);
});

Deno.test("TCP options: EOL ends parsing, unknown options are skipped, window scale is clamped to 14", () => {
  const r = { ...tcpReprDefaults(), srcPort: 1, dstPort: 2, syn: true };
  const b = a5(20 + 12);
  // Lay out a header by hand with 12 option bytes, then fill them.
  emitTcp({ ...r, timestamp: { tsVal: 0, tsEcr: 0 } }, TcpPacket.unchecked(b), { src: SRC, dst: DST });
  b.set([0xfe, 4, 0, 0, /* unknown kind 254 */ 1, 3, 3, 15, /* WS 15 */ 0, 2, 4, 2 /* EOL, then junk */], 20);
  const p = TcpPacket.checked(b)!;
  p.fillChecksum(SRC, DST);
  const back = parseTcp(p, { src: SRC, dst: DST })!;
  assert.equal(back.windowScale, 14);
  assert.equal(back.maxSegSize, null);
  assert.ok(!back.sackPermitted, "options after EOL are ignored");
});

Deno.test("A truncated option is malformed; a zero port is not (a SYN to port 0 is refused with a RST from it)", () => {
  const b = a5(24);
  emitTcp({ ...tcpReprDefaults(), srcPort: 1, dstPort: 2, maxSegSize: 1460 }, TcpPacket.unchecked(b), { src: SRC, dst: DST });
  b[20] = 8; // a timestamp option claiming 10 bytes where only 4 remain
  b[21] = 10;
  const p = TcpPacket.checked(b)!;
  p.fillChecksum(SRC, DST);
  assert.equal(parseTcp(p, { src: SRC, dst: DST }), null);
  const z = a5(20);
  emitTcp({ ...tcpReprDefaults(), srcPort: 0, dstPort: 2 }, TcpPacket.unchecked(z), { src: SRC, dst: DST });
  TcpPacket.checked(z)!.fillChecksum(SRC, DST);
  assert.equal(parseTcp(TcpPacket.checked(z)!, { src: SRC, dst: DST })?.srcPort, 0);
});
