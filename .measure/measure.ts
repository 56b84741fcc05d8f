import { saveSandbox, checkpointToFile, readSandboxImage, restoreSandbox } from "../kernel/checkpoint/sandbox.ts";
import { Kernel } from "../kernel/kernel.ts";
import { PtracePlatform } from "../platform/ptrace/ptrace.ts";
import { hostFile, VirtualFilesystem } from "../vfs/mod.ts";
import { Credentials } from "../kernel/creds.ts";
import { DebugLog } from "../kernel/log.ts";
import { applyMounts } from "../boot/mounts.ts";
import { withDefaults } from "../boot/mount_plan.ts";
import { KernelProcSource } from "../kernel/proc_source.ts";
import { sandboxCpus } from "../kernel/syscalls/linux/sys_sched.ts";
import { hostOpen, O_RDONLY } from "../platform/ptrace/_ffi.ts";

function newKernel(): Kernel {
  const platform = new PtracePlatform({ placement: "tracer" });
  const vfs = VirtualFilesystem.create({ rootHostPath: "/", readonly: false });
  const log = new DebugLog();
  const k = Kernel.create({ platform, vfs, hostname: "m", log });
  applyMounts(withDefaults([]), { vfs, procSource: new KernelProcSource(k), ncpus: sandboxCpus(), log });
  k.tty.mountDevpts(vfs);
  return k;
}
function stdioTo(out: string) {
  const inFd = hostOpen("/dev/null", O_RDONLY | 0o2000000);
  const outFd = hostOpen(out, 1 | 0o2000000);
  const o = hostFile(outFd, { owned: true });
  return [hostFile(inFd, { owned: true }), o, o.incRef()] as const;
}
const [exe, marker, ...args] = Deno.args;
const out = "/tmp/measure.out";
Deno.writeFileSync(out, new Uint8Array(0));
const k = newKernel();
k.createInit({ argv: [exe!, ...args], envp: [], cwd: "/", creds: new Credentials(0, 0), stdio: stdioTo(out) });
const done = k.run();
while (!Deno.readTextFileSync(out).includes(marker!)) await new Promise((r) => setTimeout(r, 5));
const t0 = performance.now();
k.pause();
while (!k.quiescent) await new Promise((r) => setTimeout(r, 1));
const t1 = performance.now();
{
  const mm = k.init!.mm;
  const v = mm.vmas.reduce((a, b) => (b.end - b.start > a.end - a.start ? b : a));
  const buf = new Uint8Array(16 << 20);
  let tr = 0, tz = 0, ts = 0;
  for (let a = v.start; a + buf.length <= v.end; a += buf.length) {
    const x = performance.now();
    mm.read(a, buf);
    const y = performance.now();
    const w = new Uint32Array(buf.buffer);
    let nz = 0;
    for (let i = 0; i < w.length; i++) if (w[i] !== 0) nz++;
    const z = performance.now();
    buf.slice(0, buf.length);
    ts += performance.now() - z;
    tr += y - x; tz += z - y;
  }
  console.log("biggest vma", (v.end - v.start) >> 20, "MiB read ms", tr, "scan ms", tz, "slice ms", ts);
}
const ts0 = performance.now();
saveSandbox(k);
console.log("saveSandbox ms", performance.now() - ts0);
const t1b = performance.now();
checkpointToFile(k, "/tmp/measure.cbor", { rootHostPath: "/", sentryVersion: "m" });
const t2 = performance.now();
console.log("checkpointToFile ms", t2 - t1b);
k.shutdown();
await done;
const size = Deno.statSync("/tmp/measure.cbor").size;
const t3 = performance.now();
const img = readSandboxImage("/tmp/measure.cbor", "/");
const t4 = performance.now();
const k2 = newKernel();
restoreSandbox(k2, img, { stdio: stdioTo(out) });
const t5 = performance.now();
const d2 = k2.run();
await d2;
k2.shutdown();
console.log(JSON.stringify({ pauseMs: +(t1 - t0).toFixed(1), saveMs: +(t2 - t1).toFixed(1), imageBytes: size, readMs: +(t4 - t3).toFixed(1), rebuildMs: +(t5 - t4).toFixed(1), out: Deno.readTextFileSync(out).slice(-40) }));
