import assert from "node:assert/strict";
import { BootError } from "./errors.ts";
import { type Command, defaultGlobalOptions, noLimitOptions, parseCommandLine } from "./flags.ts";

function bootError(args: string[]): BootError {
  try {
    parseCommandLine(args);
  } catch (err) {
    assert.ok(err instanceof BootError, `expected a BootError, got ${err}`);
    return err;
  }
  assert.fail(`parseCommandLine(${JSON.stringify(args)}) did not throw`);
}

Deno.test("parseCommandLine() reads run with a bundle, an id and a command after --", () => {
  const cmd = parseCommandLine(["run", "--bundle", "b", "c1", "--", "/bin/ls", "-la", "--help"]);
  assert.deepEqual(cmd, {
    kind: "run",
    global: defaultGlobalOptions(),
    bundle: "b",
    id: "c1",
    command: ["/bin/ls", "-la", "--help"],
    overlayUpper: null,
    tty: false, detach: false, pidFile: null, consoleSocket: null,
    limits: noLimitOptions(),
    checkpoint: null,
  } satisfies Command);
});

Deno.test("parseCommandLine() defaults run's bundle to the current directory and its command to null", () => {
  assert.deepEqual(parseCommandLine(["run"]), {
    kind: "run", global: defaultGlobalOptions(), bundle: ".", id: null, command: null, overlayUpper: null, tty: false, detach: false, pidFile: null, consoleSocket: null,
    limits: noLimitOptions(),
    checkpoint: null,
  });
});

Deno.test("parseCommandLine() accepts --name=value and global flags on either side of the command", () => {
  const cmd = parseCommandLine(["--strace", "run", "--bundle=x", "--debug-log", "/tmp/l", "--cpu-placement=free"]);
  assert.deepEqual(cmd, {
    kind: "run",
    global: { ...defaultGlobalOptions(), strace: true, debugLog: "/tmp/l", cpuPlacement: "free" },
    bundle: "x",
    id: null,
    command: null,
    overlayUpper: null,
    tty: false,
    detach: false,
    pidFile: null,
    consoleSocket: null,
    limits: noLimitOptions(),
    checkpoint: null,
  });
});

Deno.test("parseCommandLine() hands do everything from the first word of the command on", () => {
  assert.deepEqual(parseCommandLine(["do", "--strace", "ls", "-la", "--version"]), {
    kind: "do",
    global: { ...defaultGlobalOptions(), strace: true },
    command: ["ls", "-la", "--version"],
    overlayUpper: null,
    tty: false,
    id: null,
    limits: noLimitOptions(),
    checkpoint: null,
  });
  assert.deepEqual(parseCommandLine(["do", "--", "--weird-name"]), {
    kind: "do", global: defaultGlobalOptions(), command: ["--weird-name"], overlayUpper: null, tty: false, id: null, limits: noLimitOptions(),
    checkpoint: null,
  });
});

Deno.test("parseCommandLine() reads --overlay-upper for run and do, and only for them", () => {
  const run = parseCommandLine(["run", "--overlay-upper", "/up", "--bundle", "b"]);
  assert.equal(run.kind === "run" && run.overlayUpper, "/up");
  const d = parseCommandLine(["do", "--overlay-upper=up", "make", "--overlay-upper", "x"]);
  assert.deepEqual(d.kind === "do" && [d.overlayUpper, d.command], ["up", ["make", "--overlay-upper", "x"]]);
  assert.equal(bootError(["spec", "--overlay-upper", "x"]).message, `unknown flag --overlay-upper for "spec" (try 'sentry --help')`);
  assert.equal(bootError(["do", "--overlay-upper=", "ls"]).message, "--overlay-upper: expected a directory");
});

Deno.test("parseCommandLine() reads -t and --tty for run and do, before do's command only", () => {
  assert.deepEqual(parseCommandLine(["do", "-t", "bash", "-t"]), {
    kind: "do", global: defaultGlobalOptions(), command: ["bash", "-t"], overlayUpper: null, tty: true, id: null, limits: noLimitOptions(),
    checkpoint: null,
  });
  const run = parseCommandLine(["run", "--tty", "--bundle", "b"]);
  assert.equal(run.kind === "run" && run.tty, true);
  assert.equal(bootError(["spec", "-t"]).message, `unknown flag --tty for "spec" (try 'sentry --help')`);
});

Deno.test("parseCommandLine() reads boolean flags with =true and =false", () => {
  const cmd = parseCommandLine(["--strace=false", "do", "true"]);
  assert.equal(cmd.kind === "do" && cmd.global.strace, false);
  assert.equal(bootError(["--strace=yes", "do", "true"]).message, `--strace: expected true or false, got "yes"`);
});

Deno.test("parseCommandLine() answers --help, -h and help for the general text and each command", () => {
  assert.deepEqual(parseCommandLine(["--help"]), { kind: "help", topic: null });
  assert.deepEqual(parseCommandLine(["-h"]), { kind: "help", topic: null });
  assert.deepEqual(parseCommandLine(["help"]), { kind: "help", topic: null });
  assert.deepEqual(parseCommandLine(["help", "spec"]), { kind: "help", topic: "spec" });
  assert.deepEqual(parseCommandLine(["run", "--help"]), { kind: "help", topic: "run" });
  assert.deepEqual(parseCommandLine(["do", "--help"]), { kind: "help", topic: "do" });
  assert.deepEqual(parseCommandLine(["spec", "-h", "--bundle", "x"]), { kind: "help", topic: "spec" });
  assert.deepEqual(parseCommandLine(["help", "--help"]), { kind: "help", topic: null });
});

Deno.test("parseCommandLine() answers --version before anything else is checked", () => {
  assert.deepEqual(parseCommandLine(["--version"]), { kind: "version" });
  assert.deepEqual(parseCommandLine(["run", "--version"]), { kind: "version" });
});

Deno.test("parseCommandLine() reads spec with and without --bundle", () => {
  assert.deepEqual(parseCommandLine(["spec"]), { kind: "spec", global: defaultGlobalOptions(), bundle: "." });
  assert.deepEqual(parseCommandLine(["spec", "--bundle", "/b"]), {
    kind: "spec", global: defaultGlobalOptions(), bundle: "/b",
  });
});

Deno.test("parseCommandLine() rejects bad command lines with one-line messages", () => {
  const cases: Array<[string[], string]> = [
    [[], "no command given (try 'sentry --help')"],
    [["--strace"], "no command given (try 'sentry --help')"],
    [["--", "ls"], `no command given before "--" (try 'sentry --help')`],
    [["frobnicate"], `unknown command "frobnicate" (try 'sentry --help')`],
    [["--frob", "run"], "unknown flag --frob (try 'sentry --help')"],
    [["run", "--frob"], `unknown flag --frob for "run" (try 'sentry --help')`],
    [["-x", "run"], `unknown flag "-x" (try 'sentry --help')`],
    [["do", "--bundle", "x", "ls"], `unknown flag --bundle for "do" (try 'sentry --help')`],
    [["--bundle", "x", "run"], "unknown flag --bundle (try 'sentry --help')"],
    [["run", "--bundle"], "--bundle: requires a value"],
    [["run", "--bundle="], "--bundle: expected a directory"],
    [["run", "a", "b"], `run: unexpected argument "b"; put the command to run after "--"`],
    [["run", "--"], `run: expected a command after "--"`],
    [["do"], "do: expected a command to run"],
    [["do", "--"], "do: expected a command to run"],
    [["spec", "x"], `spec: unexpected argument "x"`],
    [["spec", "--", "x"], `spec: unexpected "--"`],
    [["help", "frob"], `help: unknown command "frob"`],
    [["--platform", "kvm", "do", "ls"], `--platform: unknown platform "kvm" (the only platform is ptrace)`],
    [["--cpu-placement", "any", "do", "ls"], `--cpu-placement: expected adaptive, tracer or free, got "any"`],
    [["--debug-log=", "do", "ls"], "--debug-log: expected a file name"],
  ];
  for (const [args, message] of cases) {
    const err = bootError(args);
    assert.equal(err.message, message, `for ${JSON.stringify(args)}`);
    assert.equal(err.exitCode, 125);
    assert.ok(!err.message.includes("\n"));
  }
});

Deno.test("parseCommandLine() reads the network flags: --network, repeated --publish, --net-allow, --pcap", () => {
  const cmd = parseCommandLine([
    "--network=sandbox", "--publish", "8080:80", "do", "--publish=[::1]:8443:443", "--net-allow",
    "10.0.0.0/8,[2001:db8::1]:443", "--net-allow=1.2.3.4:53", "--pcap", "/tmp/p", "curl",
  ]);
  assert.deepEqual(cmd.kind === "do" && cmd.global, {
    ...defaultGlobalOptions(),
    network: "sandbox",
    // Given: it wins over config.json's network namespace.
    networkSet: true,
    publish: [
      { hostAddr: "127.0.0.1", hostPort: 8080, sandboxPort: 80 },
      { hostAddr: "::1", hostPort: 8443, sandboxPort: 443 },
    ],
    netAllow: [
      { cidr: "10.0.0.0/8", port: 0 },
      { cidr: "2001:db8::1/128", port: 443 },
      { cidr: "1.2.3.4/32", port: 53 },
    ],
    pcap: "/tmp/p",
  });
  assert.equal(parseCommandLine(["do", "true"]).kind === "do" && defaultGlobalOptions().network, "none");
});

Deno.test("parseCommandLine() rejects bad network flags with one line each", () => {
  assert.equal(bootError(["--network=host", "do", "true"]).message, `--network: expected none or sandbox, got "host"`);
  assert.equal(bootError(["--publish=80", "do", "true"]).message, `--publish: expected [HOSTADDR:]HOSTPORT:SANDBOXPORT, got "80"`);
  assert.equal(bootError(["--publish=70000:80", "do", "true"]).message, `--publish: bad host port "70000"`);
  assert.equal(bootError(["--net-allow=10.0.0.0/33", "do", "true"]).message, `--net-allow: bad prefix in "10.0.0.0/33"`);
  assert.equal(bootError(["--net-allow=example.com", "do", "true"]).message, `--net-allow: bad address "example.com"`);
});

Deno.test("parseCommandLine() reads the lifecycle commands with runc's flags", () => {
  const g = defaultGlobalOptions();
  assert.deepEqual(parseCommandLine(["--root", "/r", "state", "c1"]), { kind: "state", global: { ...g, root: "/r" }, id: "c1" });
  assert.deepEqual(parseCommandLine(["list", "--format", "json", "-q"]), { kind: "list", global: g, format: "json", quiet: true });
  assert.deepEqual(parseCommandLine(["kill", "--all", "c1", "KILL"]), { kind: "kill", global: g, id: "c1", signal: "KILL", all: true, pid: null });
  assert.deepEqual(parseCommandLine(["kill", "--pid", "7", "c1"]), { kind: "kill", global: g, id: "c1", signal: null, all: false, pid: 7 });
  assert.deepEqual(parseCommandLine(["delete", "-f", "c1"]), { kind: "delete", global: g, id: "c1", force: true });
  assert.deepEqual(parseCommandLine(["events", "--interval", "250ms", "c1"]), { kind: "events", global: g, id: "c1", stats: false, intervalMs: 250 });
  assert.deepEqual(parseCommandLine(["do", "--id", "x", "true"]), { kind: "do", global: g, command: ["true"], overlayUpper: null, tty: false, id: "x", limits: noLimitOptions(), checkpoint: null });
  assert.deepEqual(parseCommandLine(["create", "-b", "b", "--pid-file", "p", "--console-socket=s", "--memory", "1k", "c1"]), {
    kind: "create", global: g, bundle: "b", id: "c1", pidFile: "p", consoleSocket: "s", overlayUpper: null,
    limits: { ...noLimitOptions(), memory: 1024 },
  });
  const d = parseCommandLine(["run", "-d", "--pid-file", "p", "c2"]);
  assert.deepEqual(d.kind === "run" && [d.detach, d.pidFile, d.id], [true, "p", "c2"]);
  // exec: the command starts at the first word after the ID; its flags stay its own.
  const e = parseCommandLine(["--systemd-cgroup", "--log", "/l", "--log-format", "json", "exec", "-t", "--env", "A=1", "-e", "B=2", "--user", "1:2", "c1", "sh", "-c", "x"]);
  assert.deepEqual(e, {
    kind: "exec", global: { ...g, log: "/l", logFormat: "json" }, id: "c1", command: ["sh", "-c", "x"], tty: true,
    cwd: null, env: ["A=1", "B=2"], user: "1:2", process: null, detach: false, pidFile: null, consoleSocket: null,
  });
  assert.deepEqual((parseCommandLine(["exec", "c1", "--", "ls", "-l"]) as { command: string[] }).command, ["ls", "-l"]);
});

Deno.test("parseCommandLine() refuses lifecycle commands without their ID or with surplus words", () => {
  for (const args of [["state"], ["state", "a", "b"], ["kill"], ["kill", "a", "TERM", "x"], ["exec", "c1"], ["list", "x"], ["events", "--interval", "soon", "c"], ["kill", "--pid", "0", "c"]]) {
    assert.equal(bootError(args).exitCode, 125, JSON.stringify(args));
  }
});

Deno.test("parseCommandLine() reads the limit flags and --report for run and do", () => {
  const d = parseCommandLine([
    "do", "--timeout", "2.5", "--cpu-time=10", "--cpus", "0.5", "--memory", "256M", "--pids", "64",
    "--output-limit", "1k", "--overlay-size=1g", "--report", "r.json", "true",
  ]);
  assert.deepEqual(d.kind === "do" && d.limits, {
    timeout: 2.5, cpuTime: 10, cpus: 0.5, memory: 256 * 2 ** 20, pids: 64, outputLimit: 1024, overlaySize: 2 ** 30,
    report: "r.json",
  });
  const r = parseCommandLine(["run", "--memory=4096", "--output-limit", "0"]);
  assert.deepEqual(r.kind === "run" && [r.limits.memory, r.limits.outputLimit], [4096, 0]);
  assert.equal(bootError(["spec", "--pids", "3"]).message, `unknown flag --pids for "spec" (try 'sentry --help')`);
});

Deno.test("parseCommandLine() refuses bad limit values in one line", () => {
  const cases: Array<[string[], RegExp]> = [
    [["do", "--timeout", "0", "true"], /^--timeout: expected a positive number of seconds .*got "0"$/],
    [["do", "--timeout", "-1", "true"], /^--timeout: expected a positive number/],
    [["do", "--timeout=1e3", "true"], /^--timeout: expected/],
    [["do", "--cpu-time", "soon", "true"], /^--cpu-time: expected/],
    [["do", "--cpus", "0", "true"], /^--cpus: expected a number of CPUs/],
    [["do", "--memory", "0", "true"], /^--memory: expected a size in bytes .*got "0"$/],
    [["do", "--memory", "12X", "true"], /^--memory: expected a size/],
    [["do", "--memory", "-5", "true"], /^--memory: expected a size/],
    [["do", "--pids", "0", "true"], /^--pids: expected a positive integer, got "0"$/],
    [["do", "--pids", "2.5", "true"], /^--pids: expected a positive integer/],
    [["do", "--output-limit", "lots", "true"], /^--output-limit: expected a size/],
    [["do", "--overlay-size", "0", "true"], /^--overlay-size: expected a size/],
    [["do", "--report=", "true"], /^--report: expected a file name$/],
    [["do", "--timeout"], /^--timeout: requires a value$/],
  ];
  for (const [args, re] of cases) {
    const e = bootError(args);
    assert.match(e.message, re, args.join(" "));
    assert.equal(e.exitCode, 125);
  }
});
