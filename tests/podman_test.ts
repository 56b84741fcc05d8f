/**
 * podman drives the sentry as its OCI runtime (issue #12), as it drives runc or runsc: conmon
 * calls `create --pid-file`, `start`, `exec --process --detach`, `pause`, `resume`, `kill` and
 * `delete --force`, with podman's file bind mounts (/etc/hosts, /etc/hostname,
 * /run/.containerenv). The image is a busybox-static root filesystem made on the spot and
 * imported (`podman import`), so nothing is pulled.
 *
 * Isolation: podman's storage (--root), run state (--runroot) and temporary files (--tmpdir)
 * live under a temporary directory that the test removes; the sentry keeps its state in its
 * default --root (podman's clean-up process calls `delete` without the runtime flags), under
 * the containers' random 64-digit IDs, and the test checks that `rm` removed them and that no
 * process of the test is left. (podman itself creates its shared, empty `libpod_parent`
 * cgroups for conmon, as with any runtime.)
 *
 * podman is installed with apt-get when missing (as .ci/run does); where that cannot be done
 * the test says why in one line and is skipped.
 */

import assert from "node:assert/strict";
import { REPO_ROOT } from "./_harness.ts";

const SENTRY = `${REPO_ROOT}/sentry`;
/** The sentry's default state directory as root (boot/state_dir.ts). */
const SENTRY_STATE = "/run/sentry";
/** Generous: podman and the sentry start Deno several times per command on a loaded host. */
const COMMAND_TIMEOUT_MS = 300_000;

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(
  cmd: string,
  args: string[],
  o: { stdin?: string | undefined; env?: Record<string, string> } = {},
): Promise<Out> {
  const child = new Deno.Command(cmd, {
    args,
    env: o.env ?? {},
    stdin: o.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(COMMAND_TIMEOUT_MS),
  }).spawn();
  if (o.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(o.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function which(name: string): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch { /* not here */ }
  }
  return null;
}

/** A statically linked busybox, or null. */
async function staticBusybox(): Promise<string | null> {
  for (const p of ["/bin/busybox", "/usr/bin/busybox"]) {
    try {
      Deno.statSync(p);
    } catch {
      continue;
    }
    const ldd = await run("ldd", [p]).catch(() => null);
    if (ldd !== null && /not a dynamic executable|statically linked/.test(ldd.stdout + ldd.stderr)) return p;
  }
  return null;
}

/** podman, conmon and a static busybox are there (installed with apt-get if need be), or why not. */
async function prerequisites(): Promise<{ busybox: string } | { skip: string }> {
  // podman checkpoints only where criu is installed (it checks for it; the sentry does the work).
  const missing = () => which("podman") === null || which("conmon") === null || which("criu") === null;
  if (missing() || (await staticBusybox()) === null) {
    if (Deno.uid() !== 0 || which("apt-get") === null) {
      return { skip: "podman, conmon, criu or busybox-static is missing and cannot be installed here (needs root and apt-get)" };
    }
    const env = { DEBIAN_FRONTEND: "noninteractive", PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin" };
    const pkgs = ["install", "-y", "--no-install-recommends", "podman", "conmon", "busybox-static", "criu"];
    let r = await run("apt-get", pkgs, { env });
    if (r.code !== 0) {
      await run("apt-get", ["update"], { env });
      r = await run("apt-get", pkgs, { env });
    }
    if (r.code !== 0) return { skip: `apt-get could not install podman: ${r.stderr.trim().split("\n").pop()}` };
  }
  const busybox = await staticBusybox();
  if (missing() || busybox === null) return { skip: "podman, conmon, criu or a static busybox is still missing after apt-get" };
  return { busybox };
}

const pre = await prerequisites();
if ("skip" in pre) console.log(`podman_test: skipped: ${pre.skip}`);

/** Host pids whose command line mentions s. */
function processesMentioning(s: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${e.name}/cmdline`).includes(s)) out.push(Number(e.name));
    } catch { /* gone */ }
  }
  return out;
}

async function until<T>(f: () => T | null | Promise<T | null>, what: string, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

Deno.test({
  name: "podman with the sentry as its runtime: run --rm, seccomp profiles, run -d, exec, ps, logs, pause/unpause, stop, rm, checkpoint/restore",
  ignore: "skip" in pre,
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  const busybox = (pre as { busybox: string }).busybox;
  const base = Deno.realPathSync(await Deno.makeTempDir({ prefix: "sentry-podman-" }));
  for (const d of ["storage", "run", "tmp"]) await Deno.mkdir(`${base}/${d}`);
  const global = [
    "--root", `${base}/storage`, "--runroot", `${base}/run`, "--tmpdir", `${base}/tmp`,
    "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
    "--runtime", SENTRY,
  ];
  const podman = (args: string[], stdin?: string) => run("podman", [...global, ...args], { stdin });
  const ids = new Set<string>();
  const inspect = async (name: string, format: string) => (await podman(["inspect", "-f", format, name])).stdout.trim();
  try {
    await t.step("podman import of a busybox root filesystem", async () => {
      const rootfs = `${base}/rootfs`;
      for (const d of ["bin", "etc", "proc", "sys", "dev", "tmp", "run"]) await Deno.mkdir(`${rootfs}/${d}`, { recursive: true });
      await Deno.copyFile(busybox, `${rootfs}/bin/busybox`);
      await Deno.chmod(`${rootfs}/bin/busybox`, 0o755);
      const applets = (await run(busybox, ["--list"])).stdout.split("\n").filter((a) => a !== "" && a !== "busybox");
      for (const a of applets) await Deno.symlink("busybox", `${rootfs}/bin/${a}`);
      const imp = await run("/bin/sh", ["-c", 'tar -C "$ROOTFS" -c . | podman "$@" import - sentry-busybox', "sh", ...global], {
        env: { ROOTFS: rootfs },
      });
      assert.equal(imp.code, 0, imp.stderr);
      assert.match((await podman(["images", "--format", "{{.Repository}}"])).stdout, /sentry-busybox/);
    });

    await t.step("run --rm: output, exit status, podman's file binds, the container removed", async () => {
      const r = await podman([
        "run", "--rm", "--network", "none", "--hostname", "box1", "sentry-busybox",
        "sh", "-c", "echo hi; echo $(cat /etc/hostname); grep -c box1 /etc/hosts; test -f /run/.containerenv && echo containerenv; exit 7",
      ]);
      assert.equal(r.stdout, "hi\nbox1\n1\ncontainerenv\n", r.stderr);
      assert.equal(r.code, 7, r.stderr);
      assert.equal((await podman(["ps", "-a", "-q"])).stdout, "");
      // A command that is not there: podman's 127, with the sentry's reason.
      const missing = await podman(["run", "--rm", "--network", "none", "sentry-busybox", "/no/such/program"]);
      assert.equal(missing.code, 127, missing.stderr);
      assert.match(missing.stderr, /no\/such\/program/);
    });

    await t.step("run --rm --memory --cpus --pids-limit: /sys/fs/cgroup is the container's cgroup with those limits, read-only", async () => {
      // What runc and crun show with a cgroup namespace on a cgroup v2 host (this one is v1,
      // where crun refuses to run at all): the container's own cgroup at /sys/fs/cgroup.
      const r = await podman([
        "run", "--rm", "--network", "none", "--memory", "100m", "--cpus", "0.5", "--pids-limit", "50", "sentry-busybox", "sh", "-c",
        "cat /proc/self/cgroup /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cgroup.controllers; " +
        "test -f /sys/fs/cgroup/memory.current && test -f /sys/fs/cgroup/cpu.stat && echo files; echo 1 > /sys/fs/cgroup/pids.max 2>/dev/null || echo read-only",
      ]);
      assert.equal(r.stdout, "0::/\n104857600\n50000 100000\n50\ncpu memory pids\nfiles\nread-only\n", r.stderr);
      assert.equal(r.code, 0, r.stderr);
    });

    await t.step("seccomp: podman's default profile reaches the sandbox, and --security-opt seccomp=FILE replaces it", async () => {
      // The default profile: a shell and its tools run under it, the filter is in force.
      const d = await podman(["run", "--rm", "--network", "none", "sentry-busybox", "sh", "-c", "grep ^Seccomp: /proc/self/status; mkdir /tmp/d && echo mkdir=ok"]);
      assert.equal(d.stdout, "Seccomp:\t2\nmkdir=ok\n", d.stderr);
      const profile = `${base}/deny-mkdir.json`;
      Deno.writeTextFileSync(profile, JSON.stringify({
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }],
      }));
      const r = await podman([
        "run", "--rm", "--network", "none", "--security-opt", `seccomp=${profile}`, "sentry-busybox",
        "sh", "-c", "mkdir /tmp/d 2>&1; echo mkdir=$?; touch /tmp/f && echo touch=ok",
      ]);
      assert.equal(r.stdout, "mkdir: can't create directory '/tmp/d': Operation not permitted\nmkdir=1\ntouch=ok\n", r.stderr);
      assert.equal(r.code, 0, r.stderr);
      // unconfined: no filter at all.
      const u = await podman(["run", "--rm", "--network", "none", "--security-opt", "seccomp=unconfined", "sentry-busybox", "grep", "^Seccomp:", "/proc/self/status"]);
      assert.equal(u.stdout, "Seccomp:\t0\n", u.stderr);
    });

    await t.step("podman's default network (netavark's bridge): eth0 with its address and gateway, the host reached over TCP, -p publishes a server, also after a checkpoint and restore", async () => {
      // A server on the host, on every address: the container reaches it at its gateway (the
      // bridge's address on the host).
      const listener = Deno.listen({ hostname: "0.0.0.0", port: 0 });
      try {
        const port = (listener.addr as Deno.NetAddr).port;
        const accepted = (async () => {
          const c = await listener.accept();
          const buf = new Uint8Array(64);
          const n = await c.read(buf);
          c.close();
          return new TextDecoder().decode(buf.subarray(0, n ?? 0));
        })();
        const r = await podman([
          "run", "--rm", "sentry-busybox", "sh", "-c",
          `ip -o -4 addr show eth0 | awk '{print $4}'; gw=$(ip route | awk '/^default/ {print $3}'); echo "gw $gw"; echo over-tcp | nc "$gw" ${port}`,
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^\d+\.\d+\.\d+\.\d+\/\d+\ngw \d+\.\d+\.\d+\.\d+\n$/, r.stderr);
        assert.equal(await accepted, "over-tcp\n");
      } finally {
        listener.close();
      }

      // -p HOSTPORT:80 with busybox's httpd inside: netavark's port forwarding reaches it.
      const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const hostPort = (free.addr as Deno.NetAddr).port;
      free.close();
      const www = `${base}/www`;
      await Deno.mkdir(www);
      await Deno.writeTextFile(`${www}/index.html`, "served by the sandbox\n");
      const started = await podman(["run", "-d", "--name", "web", "-p", `${hostPort}:80`, "-v", `${www}:/www:ro`, "sentry-busybox", "httpd", "-f", "-p", "80", "-h", "/www"]);
      assert.equal(started.code, 0, started.stderr);
      ids.add(started.stdout.trim());
      const body = await until(async () => {
        try {
          const res = await fetch(`http://127.0.0.1:${hostPort}/`, { signal: AbortSignal.timeout(5000) });
          return await res.text();
        } catch {
          return null;
        }
      }, "the published server");
      assert.equal(body, "served by the sandbox\n");
      // Checkpointed and restored: podman's restore prepares the network again (the same
      // address), the sandbox takes its devices again, and the server answers again.
      const ip = await inspect("web", "{{.NetworkSettings.IPAddress}}");
      const cp = await podman(["container", "checkpoint", "web"]);
      assert.equal(cp.code, 0, cp.stderr);
      const rs = await podman(["container", "restore", "web"]);
      assert.equal(rs.code, 0, rs.stderr);
      assert.equal(await inspect("web", "{{.State.Status}}"), "running");
      assert.equal(await inspect("web", "{{.NetworkSettings.IPAddress}}"), ip);
      const again = await until(async () => {
        try {
          const res = await fetch(`http://127.0.0.1:${hostPort}/`, { signal: AbortSignal.timeout(5000) });
          return await res.text();
        } catch {
          return null;
        }
      }, "the published server after the restore");
      assert.equal(again, "served by the sandbox\n");
      assert.equal((await podman(["rm", "-f", "-t", "0", "web"])).code, 0);
    });

    await t.step("ping on podman's default network: the gateway answers with CAP_NET_RAW; busybox's raw socket is refused without it, as under crun", async () => {
      // podman's linux.sysctl (net.ipv4.ping_group_range) makes the sentry assemble the sandbox
      // twice; the second take of the namespace's devices found the addresses the first had
      // removed from the host's stack, and eth0 came up with no address (ping: no route).
      const script = `gw=$(ip route | awk '/^default/ {print $3}'); ip -o -4 addr show eth0 | awk '{print $4}'; ping -c 2 -W 5 "$gw" >/dev/null; echo "ping $?"; cat /proc/sys/net/ipv4/ping_group_range`;
      const r = await podman(["run", "--rm", "--cap-add", "NET_RAW", "sentry-busybox", "sh", "-c", script]);
      assert.equal(r.code, 0, r.stderr);
      // podman's linux.sysctl net.ipv4.ping_group_range "0 0" (ping sockets for root's group) holds.
      assert.match(r.stdout, /^\d+\.\d+\.\d+\.\d+\/\d+\nping 0\n0\t0\n$/, r.stderr);
      assert.doesNotMatch(r.stderr, /ping_group_range/);
      // podman's default capabilities lack CAP_NET_RAW; busybox's ping only uses SOCK_RAW.
      const denied = await podman(["run", "--rm", "sentry-busybox", "ping", "-c", "1", "-W", "2", "127.0.0.1"]);
      assert.equal(denied.code, 1);
      assert.match(denied.stderr, /permission denied/);
    });

    await t.step("run -d, exec, ps, logs, pause, unpause, stop, rm", async () => {
      const script = "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.2; done";
      const started = await podman(["run", "-d", "--name", "c1", "--hostname", "box2", "--network", "none", "sentry-busybox", "sh", "-c", script]);
      assert.equal(started.code, 0, started.stderr);
      const id = started.stdout.trim();
      assert.match(id, /^[0-9a-f]{64}$/);
      ids.add(id);
      // The sentry registered it under podman's ID.
      assert.equal(JSON.parse(Deno.readTextFileSync(`${SENTRY_STATE}/${id}/state.json`)).status, "running");
      assert.equal(await inspect("c1", "{{.State.Status}}"), "running");
      assert.match((await podman(["ps", "--format", "{{.Names}} {{.Status}}"])).stdout, /^c1 Up /m);

      // An exec'd process sees the container's hostname and files, and its status comes back.
      const ex = await podman(["exec", "c1", "sh", "-c", "echo in-exec $(hostname) $(cat /etc/hostname); exit 3"]);
      assert.equal(ex.stdout, "in-exec box2 box2\n", ex.stderr);
      assert.equal(ex.code, 3, ex.stderr);
      const piped = await podman(["exec", "-i", "c1", "sh", "-c", "tr a-z A-Z"], "through stdin\n");
      assert.equal(piped.stdout, "THROUGH STDIN\n", piped.stderr);
      assert.equal(piped.code, 0);

      const ticks = async () => (await podman(["logs", "c1"])).stdout.split("\n").filter((l) => l.startsWith("tick "));
      await until(async () => (await ticks()).length >= 3 ? true : null, "three ticks in podman logs");

      const paused = await podman(["pause", "c1"]);
      assert.equal(paused.code, 0, paused.stderr);
      assert.equal(await inspect("c1", "{{.State.Status}}"), "paused");
      assert.equal(JSON.parse(Deno.readTextFileSync(`${SENTRY_STATE}/${id}/state.json`)).status, "paused");
      // Once what was written before the pause has reached the log, nothing more comes.
      let before = await until(async () => {
        const a = (await ticks()).length;
        await new Promise((r) => setTimeout(r, 1000));
        return (await ticks()).length === a ? a : null;
      }, "the log to settle");
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal((await ticks()).length, before, "ticks while paused");

      const unpaused = await podman(["unpause", "c1"]);
      assert.equal(unpaused.code, 0, unpaused.stderr);
      assert.equal(await inspect("c1", "{{.State.Status}}"), "running");
      before = await until(async () => {
        const n = (await ticks()).length;
        return n >= before + 3 ? n : null;
      }, "ticks after unpause");
      // No number lost or repeated across the pause.
      const all = await ticks();
      assert.deepEqual(all, all.map((_, i) => `tick ${i}`));

      const stopped = await podman(["stop", "-t", "20", "c1"]);
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.equal(await inspect("c1", "{{.State.Status}}"), "exited");
      // SIGTERM ends the shell (143), or podman's SIGKILL after the grace period (137).
      assert.ok(["143", "137"].includes(await inspect("c1", "{{.State.ExitCode}}")));

      const removed = await podman(["rm", "c1"]);
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal((await podman(["ps", "-a", "-q"])).stdout, "");
      assert.throws(() => Deno.statSync(`${SENTRY_STATE}/${id}`), Deno.errors.NotFound);
    });

    await t.step("container checkpoint, then container restore: the count goes on, no number lost or repeated", async () => {
      const script = "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.2; done";
      const started = await podman(["run", "-d", "--name", "k1", "--network", "none", "sentry-busybox", "sh", "-c", script]);
      assert.equal(started.code, 0, started.stderr);
      const id = started.stdout.trim();
      ids.add(id);
      const ticks = async () => (await podman(["logs", "k1"])).stdout.split("\n").filter((l) => l.startsWith("tick "));
      await until(async () => (await ticks()).length >= 3 ? true : null, "three ticks before the checkpoint");

      // podman calls `checkpoint --image-path DIR --work-path DIR ID`; the sandbox ends.
      const cp = await podman(["container", "checkpoint", "k1"]);
      assert.equal(cp.code, 0, cp.stderr);
      assert.equal(await inspect("k1", "{{.State.Status}}"), "exited");
      assert.equal(await inspect("k1", "{{.State.Checkpointed}}"), "true");
      const before = (await ticks()).length;

      // podman calls `restore --image-path DIR --work-path DIR --bundle B --pid-file F -d ID` (conmon).
      const rs = await podman(["container", "restore", "k1"]);
      assert.equal(rs.code, 0, rs.stderr);
      assert.equal(await inspect("k1", "{{.State.Status}}"), "running");
      assert.equal(await inspect("k1", "{{.State.Restored}}"), "true");
      assert.equal(JSON.parse(Deno.readTextFileSync(`${SENTRY_STATE}/${id}/state.json`)).status, "running");
      await until(async () => (await ticks()).length >= before + 3 ? true : null, "ticks after the restore");
      const all = await ticks();
      assert.deepEqual(all, all.map((_, i) => `tick ${i}`));

      const removed = await podman(["rm", "-f", "-t", "0", "k1"]);
      assert.equal(removed.code, 0, removed.stderr);
      await until(() => {
        try {
          Deno.statSync(`${SENTRY_STATE}/${id}`);
          return null;
        } catch {
          return true;
        }
      }, "the sentry's state of the restored container to go");
    });

    await t.step("nothing is left: no process, no sentry state", async () => {
      // podman's clean-up processes (conmon's exit command) may still be finishing.
      await until(() => processesMentioning(base).length === 0 ? true : null, "podman's processes to end");
      for (const id of ids) assert.deepEqual(processesMentioning(id), []);
    });
  } finally {
    await podman(["rm", "-a", "-f", "-t", "0"]).catch(() => null);
    await podman(["rmi", "-a", "-f"]).catch(() => null);
    for (const id of ids) {
      await run(SENTRY, ["delete", "--force", id]).catch(() => null);
    }
    await until(() => processesMentioning(base).length === 0 ? true : null, "podman's processes to end", 60_000).catch(() => null);
    // podman may leave its per-container shm tmpfs mounted when a step failed midway.
    const mounts = Deno.readTextFileSync("/proc/self/mounts").split("\n").map((l) => l.split(" ")[1] ?? "");
    for (const m of mounts.filter((m) => m.startsWith(base)).reverse()) await run("umount", ["-l", m]).catch(() => null);
    await Deno.remove(base, { recursive: true });
  }
});
