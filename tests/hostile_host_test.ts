/**
 * Hostile programs aimed at the host (issue #14): nothing outside the sandbox is signalled,
 * traced, read or reached, the sentry goes on, and a sentry killed from outside leaves no stub.
 * Path escapes are tests/hostile_paths_test.ts and tests/proc_test.ts; hostile arguments
 * tests/hostile_args_test.ts; the stubs' own walls platform/ptrace/stub_confine_test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { compileC, REPO_ROOT, runSentry } from "./_harness.ts";

/** A host process to aim at: `sleep`, in a session of its own. */
function startVictim(): Deno.ChildProcess {
  return new Deno.Command("/bin/sleep", { args: ["600"], stdin: "null", stdout: "null", stderr: "null" }).spawn();
}

function statusField(pid: number, name: string): string | null {
  try {
    const m = new RegExp(`^${name}:\\s+(.*)$`, "m").exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return m ? m[1]!.trim() : null;
  } catch {
    return null;
  }
}

Deno.test("signals, ptrace, pidfds and process_vm_* at a host pid, /proc, int 0x80, namespaces, io_uring, bpf, packet sockets, a tracer aiming at the stub: all contained", async () => {
  const prog = await compileC("hostile_host");
  const victim = startVictim();
  try {
    const r = await runSentry([prog, String(victim.pid)], { env: { LC_ALL: "C" } });
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
    const lines = r.stdout.trim().split("\n");
    const line = (prefix: string) => {
      const l = lines.find((x) => x.startsWith(prefix));
      assert.ok(l !== undefined, `no line for ${prefix} in:\n${r.stdout}`);
      return l;
    };
    // The host pid is no pid of the sandbox: every call aimed at it fails.
    for (
      const what of [
        "kill(host pid, 0)", "kill(host pid, SIGKILL)", "tgkill(host pid, SIGKILL)", "ptrace(PTRACE_ATTACH, host pid)",
        "ptrace(PTRACE_SEIZE, host pid)", "pidfd_open(host pid)", "process_vm_readv(host pid)",
        "process_vm_writev(host pid)", "open(/proc/HOSTPID/cmdline)",
      ]
    ) {
      assert.match(line(`${what} =`), / = -1 E[A-Z]+$/);
    }
    assert.equal(line("kill(host pid, SIGKILL)"), "kill(host pid, SIGKILL) = -1 ESRCH");
    assert.equal(line("pidfd_open(host pid)"), "pidfd_open(host pid) = -1 ESRCH");
    // The victim lives on, untraced.
    assert.equal(statusField(victim.pid, "TracerPid"), "0");
    assert.match(statusField(victim.pid, "State") ?? "", /^S/);
    // /proc shows the sandbox's own small pids, and no command line of the sentry.
    assert.equal(line("/proc:"), "/proc: some pids, 0 above 1000, 0 naming the sentry");
    // int 0x80 ends the way the host would end it (or works); the sandbox goes on after it.
    assert.match(line("int 0x80 getpid:"), /^int 0x80 getpid: (a pid|an error|killed by signal 11)$/);
    // User, mount and network namespaces are the sentry's own objects: making them works, as
    // on Linux, and reaches nothing of the host's (the checks after it still hold).
    assert.equal(line("unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWNET) ="), "unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWNET) = ok");
    // Mounts and the kernel interfaces the sandbox does not offer all fail; bpf(2) is the
    // sandbox's own (cgroup device programs only), and a zeroed attribute is E2BIG as on Linux.
    for (
      const what of [
        "pivot_root(/tmp, /tmp)",
        "bpf(BPF_PROG_LOAD)", "perf_event_open",
      ]
    ) {
      assert.match(line(`${what} =`), / = -1 E[A-Z0-9]+$/);
    }
    // Raw IP and packet sockets are the sandbox's own (root there has CAP_NET_RAW): they see and
    // send only the frames of the sandbox's stack (its lo), never the host's (docs/net.md).
    assert.equal(line("socket(AF_INET, SOCK_RAW, IPPROTO_RAW) ="), "socket(AF_INET, SOCK_RAW, IPPROTO_RAW) = ok");
    assert.equal(line("socket(AF_PACKET, SOCK_RAW) ="), "socket(AF_PACKET, SOCK_RAW) = ok");
    // What the sandbox implements itself reaches only the sandbox's own objects: setns to the
    // network namespace /proc shows is the sandbox's one (a no-op), and keyctl's keyrings are
    // the sentry's (kernel/keys.ts), never the host kernel's.
    assert.equal(line("setns(/proc/self/ns/net) ="), "setns(/proc/self/ns/net) = ok");
    // userfaultfd is the sandbox's own (kernel/userfaultfd.ts: faults of the stubs' memory as
    // the sentry sees them), never the host's.
    assert.equal(line("userfaultfd ="), "userfaultfd = ok");
    // io_uring is the sandbox's own too (kernel/io_uring.ts): its requests run through the
    // sentry's file descriptions, and no host ring is ever made (the sentry's own seccomp filter
    // refuses io_uring_setup: platform/ptrace/sentry_seccomp_test.ts).
    assert.equal(line("io_uring_setup ="), "io_uring_setup = ok");
    assert.equal(line("keyctl(KEYCTL_GET_KEYRING_ID) ="), "keyctl(KEYCTL_GET_KEYRING_ID) = ok");
    // add_key makes a key in the sandbox's keyrings; the host's keys (all a root reader of the
    // host's /proc/keys may view) never gain it.
    assert.equal(line("add_key ="), "add_key = ok");
    assert.ok(!Deno.readTextFileSync("/proc/keys").includes("sentry-hostile-host-key"), "the host holds the sandbox's key");
    // A tracer cannot read or write the platform's stub inside its tracee; the tracee goes on.
    assert.equal(line("ptrace peeks and pokes at the stub:"), "ptrace peeks and pokes at the stub: 16 of 16 refused with EIO");
    assert.equal(line("the tracee after them:"), "the tracee after them: exited 0");
  } finally {
    victim.kill("SIGKILL");
    await victim.status;
  }
});

/** Every process below `root` (by the host's parent links), with its command name. */
function descendants(root: number): Map<number, string> {
  const parent = new Map<number, number>(), comm = new Map<number, string>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const close = stat.lastIndexOf(")");
      comm.set(Number(e.name), stat.slice(stat.indexOf("(") + 1, close));
      parent.set(Number(e.name), Number(stat.slice(close + 2).split(" ")[1]));
    } catch { /* exited meanwhile */ }
  }
  const out = new Map<number, string>();
  for (const pid of parent.keys()) {
    for (let q = parent.get(pid); q !== undefined && q > 1; q = parent.get(q)) {
      if (q === root) {
        out.set(pid, comm.get(pid)!);
        break;
      }
    }
  }
  return out;
}

/** True while the process exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

Deno.test("a sentry killed with SIGKILL from outside leaves no stub behind", async () => {
  // A shell that forks (two stubs besides the zygote), then sleeps in a child.
  const sentry = new Deno.Command(`${REPO_ROOT}/sentry`, {
    args: ["do", "--", "/bin/sh", "-c", "/bin/sleep 600 & /bin/sleep 600; wait"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let stubs: number[] = [];
  try {
    for (let i = 0; i < 600 && stubs.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 50));
      stubs = [...descendants(sentry.pid)].filter(([, c]) => c === "stub").map(([p]) => p);
    }
    assert.ok(stubs.length >= 3, `stubs seen: ${stubs.length}`);
  } finally {
    Deno.kill(sentry.pid, "SIGKILL");
    await sentry.status;
  }
  // PTRACE_O_EXITKILL: the host kills every tracee of the sentry as it dies.
  let left = stubs;
  for (let i = 0; i < 100 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    left = left.filter(alive);
  }
  assert.deepEqual(left, []);
});

/** The namespace links of a host process (or thread: "PID/task/TID"). */
function namespaces(of: string, names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, Deno.readLinkSync(`/proc/${of}/ns/${n}`)]));
}

/** CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER, FSETID, MKNOD: what the sentry keeps (sentry_confine.ts). */
const SENTRY_CAPS = (1n << 0n) | (1n << 1n) | (1n << 2n) | (1n << 3n) | (1n << 4n) | (1n << 27n);

/**
 * Starts `sentry do ARGS -- /bin/sleep 600`, waits until it runs confined with a stub, and hands
 * its pid and the stubs' to `check`.
 */
async function whileConfined(args: string[], check: (sentry: number, stubs: number[]) => void): Promise<void> {
  const sentry = new Deno.Command(`${REPO_ROOT}/sentry`, {
    args: ["do", ...args, "--", "/bin/sleep", "600"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    let stubs: number[] = [];
    for (let i = 0; i < 600; i++) {
      await new Promise((r) => setTimeout(r, 50));
      stubs = [...descendants(sentry.pid)].filter(([, c]) => c === "stub").map(([p]) => p);
      if (statusField(sentry.pid, "Seccomp") === "2" && stubs.length >= 2) break;
    }
    assert.equal(statusField(sentry.pid, "Seccomp"), "2", "the sentry took its filter");
    assert.ok(stubs.length >= 2, "the zygote and init's stub");
    check(sentry.pid, stubs);
  } finally {
    Deno.kill(sentry.pid, "SIGKILL");
    await sentry.output();
  }
}

Deno.test("after start-up every thread of the sentry runs in namespaces of its own, with the capabilities it uses, no_new_privs and its seccomp filter", async () => {
  const host = namespaces("self", ["mnt", "net", "ipc", "uts", "pid", "user"]);
  await whileConfined([], (sentry) => {
    const tasks = [...Deno.readDirSync(`/proc/${sentry}/task`)].map((e) => Number(e.name));
    assert.ok(tasks.length > 1, "Deno runs several threads");
    const shared = namespaces(`${sentry}`, ["net", "ipc", "uts"]);
    for (const t of tasks) {
      const st = Deno.readTextFileSync(`/proc/${sentry}/task/${t}/status`);
      assert.match(st, /^Seccomp:\s+2$/m, `thread ${t}`);
      assert.match(st, /^NoNewPrivs:\s+1$/m, `thread ${t}`);
      for (const set of ["CapEff", "CapPrm", "CapBnd"]) {
        assert.equal(BigInt("0x" + new RegExp(`^${set}:\\s+(\\S+)$`, "m").exec(st)![1]), SENTRY_CAPS, `${set} of thread ${t}`);
      }
      for (const set of ["CapInh", "CapAmb"]) assert.match(st, new RegExp(`^${set}:\\s+0+$`, "m"), `thread ${t}`);
      const ns = namespaces(`${sentry}/task/${t}`, ["mnt", "net", "ipc", "uts", "pid", "user"]);
      // --network none: no network of the host's; one IPC, UTS and network namespace for all
      // threads, a mount namespace each (sentry_confine.ts says why).
      for (const n of ["mnt", "net", "ipc", "uts"]) assert.notEqual(ns[n], host[n], `${n} of thread ${t}`);
      for (const n of ["net", "ipc", "uts"]) assert.equal(ns[n], shared[n], `${n} of thread ${t}`);
      // A sentry cannot leave the host's PID namespace (it sees its stubs by host pid) nor, with
      // threads, its user namespace.
      for (const n of ["pid", "user"]) assert.equal(ns[n], host[n], `${n} of thread ${t}`);
    }
  });
  // --network sandbox: the sentry keeps the host's network for the sandbox's flows.
  await whileConfined(["--network", "sandbox"], (sentry) => {
    assert.equal(namespaces(`${sentry}`, ["net"]).net, host.net);
    assert.notEqual(namespaces(`${sentry}`, ["uts"]).uts, host.uts);
  });
});

Deno.test("every stub of a running sandbox: seccomp, no_new_privs, no capabilities, namespaces other than the host's and the sentry's, an empty root", async () => {
  const names = ["mnt", "pid", "net", "ipc", "uts", "cgroup", "user"];
  const host = namespaces("self", names);
  await whileConfined([], (sentry, stubs) => {
    const own = namespaces(`${sentry}`, names);
    for (const pid of stubs) {
      const st = Deno.readTextFileSync(`/proc/${pid}/status`);
      assert.match(st, /^Seccomp:\s+2$/m, `stub ${pid}`);
      assert.match(st, /^NoNewPrivs:\s+1$/m, `stub ${pid}`);
      for (const set of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]) {
        assert.match(st, new RegExp(`^${set}:\\s+0+$`, "m"), `${set} of stub ${pid}`);
      }
      // Its host pid, then its pid in the stubs' namespace (the zygote is 1 there).
      assert.equal(/^NSpid:\s+(\d+)\s+(\d+)$/m.exec(st)?.[1], String(pid), `NSpid of stub ${pid}`);
      const ns = namespaces(`${pid}`, names);
      for (const n of names) {
        assert.notEqual(ns[n], host[n], `${n} of stub ${pid}`);
        assert.notEqual(ns[n], own[n], `${n} of stub ${pid}, the sentry's`);
      }
      assert.deepEqual([...Deno.readDirSync(`/proc/${pid}/root`)], [], `root of stub ${pid}`);
    }
  });
});
