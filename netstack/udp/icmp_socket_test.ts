import assert from "node:assert/strict";
import { type IpAddress, Ipv4Address } from "../wire/address.ts";
import { type IcmpHost, IcmpSocket } from "./icmp_socket.ts";

const LOCAL = Ipv4Address.parse("10.0.0.1");
const PEER = Ipv4Address.parse("10.0.0.2");

class FakeHost implements IcmpHost {
  icmpBind(_s: IcmpSocket, ident: number): number {
    return ident || 77;
  }
  icmpUnbind(): void {}
  icmpRoute(): { src: IpAddress; mtu: number } {
    return { src: LOCAL, mtu: 1500 };
  }
}

Deno.test("IcmpSocket sends echo requests with its identifier and receives replies", () => {
  const s = new IcmpSocket(new FakeHost());
  assert.equal(s.sendTo(PEER, 3, new Uint8Array([1])), 1);
  assert.equal(s.ident, 77);
  const sent: Array<{ ident: number; seqNo: number }> = [];
  s.dispatch(0, (m) => (sent.push({ ident: m.ident, seqNo: m.seqNo }), true));
  assert.deepEqual(sent, [{ ident: 77, seqNo: 3 }]);
  s.deliver({ peer: PEER, local: LOCAL, ident: 77, seqNo: 3, data: new Uint8Array([1]) });
  assert.ok(s.readiness().readable);
  assert.equal(s.recvFrom()?.seqNo, 3);
  assert.equal(s.recvFrom(), null);
});
