/** System information: uname(2), sysinfo(2). */

import { supported, type SyscallEntry, type SyscallFn } from "./support.ts";
import { uptimeNs } from "../../time.ts";

const FIELD = 65;

/** Implements uname(2). Release and version are the host's, so tools see the same kernel. */
const sysUname: SyscallFn = (t, a) => {
  const k = t.kernel;
  const fields = ["Linux", t.uts.hostname, k.uts.release, k.uts.version, "x86_64", t.uts.domainname];
  const b = new Uint8Array(FIELD * 6);
  const enc = new TextEncoder();
  fields.forEach((f, i) => b.set(enc.encode(f).subarray(0, FIELD - 1), i * FIELD));
  t.copyOut(a.pointer(0), b);
  return 0;
};

/**
 * Implements sysinfo(2). Memory figures are the host's, as runsc reports them. The load
 * averages are /proc/loadavg's, which the sandbox does not compute (0): the host's would tell
 * a program about other tenants' work and disagree with /proc/loadavg (LTP sysinfo01 compares).
 */
const sysSysinfo: SyscallFn = (t, a) => {
  const b = new Uint8Array(112);
  const v = new DataView(b.buffer);
  const mem = Deno.systemMemoryInfo();
  // Whole seconds, a started one counted (Linux's do_sysinfo), in the caller's time namespace.
  v.setBigInt64(0, BigInt(Math.ceil(uptimeNs(t.timeNs) / 1e9)), true);
  // loads[3] at offset 8: 0, as /proc/loadavg.
  v.setBigUint64(32, BigInt(mem.total), true);
  v.setBigUint64(40, BigInt(mem.free), true);
  v.setBigUint64(48, 0n, true);
  v.setBigUint64(56, BigInt(mem.buffers), true);
  v.setBigUint64(64, BigInt(mem.swapTotal), true);
  v.setBigUint64(72, BigInt(mem.swapFree), true);
  v.setUint16(80, t.kernel.tasks.size, true);
  v.setUint32(104, 1, true);
  t.copyOut(a.pointer(0), b);
  return 0;
};

export const table: Record<number, SyscallEntry> = {
  63: supported("uname", sysUname),
  99: supported("sysinfo", sysSysinfo),
};
