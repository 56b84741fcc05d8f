/**
 * A zygote started after the sentry confined itself (stub_confine_test.ts): confines the
 * process as Loader.run does, then starts the platform and prints, as JSON, what the host shows
 * of the stub and of this process.
 */
import { PtracePlatform } from "../ptrace.ts";
import { confineSentry } from "../sentry_confine.ts";

const c = confineSentry({ hostNetwork: false, filter: true });
const p = new PtracePlatform();
try {
  const ctx = p.newAddressSpace();
  const pid = (ctx.addressSpace as unknown as { pid: number }).pid;
  const ns = (q: number | string, n: string) => Deno.readLinkSync(`/proc/${q}/ns/${n}`);
  console.log(JSON.stringify({
    sentry: c,
    platform: p.confinement,
    stubStatus: Deno.readTextFileSync(`/proc/${pid}/status`),
    stubRoot: [...Deno.readDirSync(`/proc/${pid}/root`)].length,
    stubNs: Object.fromEntries(["mnt", "pid", "net", "ipc", "uts", "user", "cgroup"].map((n) => [n, ns(pid, n)])),
    selfNs: Object.fromEntries(["mnt", "pid", "net", "ipc", "uts", "user", "cgroup"].map((n) => [n, ns("self", n)])),
  }));
} finally {
  p.shutdown();
}
