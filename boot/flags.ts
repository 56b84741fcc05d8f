/**
 * The command line, parsed into a {@linkcode Command}. Pure: no filesystem, no environment.
 *
 * Grammar (runsc's, with GNU-style long options):
 *
 *     sentry [GLOBAL...] COMMAND [OPTIONS...] [ARGS...]
 *
 * - Global flags may stand before or after the command name, up to `--` (or, for `do`, up to
 *   the first word of the command to run).
 * - `--name value` and `--name=value` are the same; a boolean flag takes no value, or `=true`
 *   / `=false`. Short forms: `-h` (`--help`) and `-t` (`--tty`, for run and do).
 * - For `run` and `spec`, options and positionals mix until `--`; for `do` the first positional
 *   starts the command, so `sentry do ls -la` passes `-la` to ls.
 * - Every error is a {@linkcode BootError}: one line, exit status 125.
 *
 * @module
 */

import { BootError } from "./errors.ts";

/** How stubs are placed on CPUs; see platform/ptrace and shared/MEASUREMENTS.md. */
export type CpuPlacement = "adaptive" | "tracer" | "free";

/** Which network the sandbox has: loopback only, or an external NIC carried by host sockets. */
export type NetworkMode = "none" | "sandbox";

/** `--publish [HOSTADDR:]HOSTPORT:SANDBOXPORT`: a host listener whose connections go in. */
export interface PublishRule {
  hostAddr: string;
  hostPort: number;
  sandboxPort: number;
}

/** `--net-allow` entry: a destination network in CIDR form and a port (0: any). */
export interface AllowEntry {
  cidr: string;
  port: number;
}

/** Flags that every command accepts. */
export interface GlobalOptions {
  /** Print every syscall (to the debug log when there is one, else to stderr). */
  strace: boolean;
  /** Path of the debug log, or null for none. */
  debugLog: string | null;
  /** The platform; "ptrace" is the only one. */
  platform: "ptrace";
  cpuPlacement: CpuPlacement;
  /** --network (default none: loopback only). */
  network: NetworkMode;
  /**
   * --network was given: it wins over config.json's network namespace (whose devices the
   * sandbox takes otherwise, boot/loader.ts). Absent: not given.
   */
  networkSet?: boolean;
  /** --publish, in order. */
  publish: PublishRule[];
  /** --net-allow: the destinations outside the sandbox it may reach; null: any. */
  netAllow: AllowEntry[] | null;
  /** --pcap: where to write the sandbox's packets, or null. */
  pcap: string | null;
  /** --root: the state directory (null: boot/state_dir.ts's default). */
  root: string | null;
  /** runc's --log: where a failure is also reported (conmon reads it), or null. */
  log: string | null;
  /** runc's --log-format: text (default) or json. */
  logFormat: "text" | "json";
  /** runc's --debug: debug lines go to --log too. */
  debug: boolean;
}

/**
 * The limits and the report of a run (`run` and `do`); null: not given. Sizes in bytes, times
 * in seconds. config.json's linux.resources gives some of them too (the flag wins).
 */
export interface LimitOptions {
  timeout: number | null;
  cpuTime: number | null;
  cpus: number | null;
  memory: number | null;
  pids: number | null;
  outputLimit: number | null;
  /** Size of the root overlay's in-memory upper layer. */
  overlaySize: number | null;
  /** Where to write the JSON run report. */
  report: string | null;
}

/** The names of the commands, in the order help lists them. */
export const COMMANDS = [
  "run", "do", "checkpoint", "restore", "spec", "create", "start", "state", "list", "ps", "exec", "kill", "pause", "resume",
  "wait", "events", "update", "delete", "check", "help",
] as const;
export type CommandName = (typeof COMMANDS)[number];

/** What the user asked for. */
export type Command =
  /** Print help: general (topic null) or for one command. */
  | { kind: "help"; topic: CommandName | null }
  | { kind: "version" }
  /**
   * Run the container in a bundle; `command` (after `--`) overrides process.args. overlayUpper:
   * a host directory for the root overlay's upper layer (null: memory).
   */
  | {
    kind: "run";
    global: GlobalOptions;
    bundle: string;
    id: string | null;
    command: string[] | null;
    overlayUpper: string | null;
    /** -t: init's stdio is a terminal bridged to the user's (boot/terminal.ts). */
    tty: boolean;
    /** -d: return once the sandbox runs, held by a detached sentry. */
    detach: boolean;
    pidFile: string | null;
    consoleSocket: string | null;
    limits: LimitOptions;
    checkpoint: CheckpointRequest | null;
  }
  /** Write a default config.json into the bundle directory. */
  | { kind: "spec"; global: GlobalOptions; bundle: string }
  /** List what this host allows of what the sentry needs. */
  | { kind: "check"; global: GlobalOptions }
  /** Run a command with the host's / under a writable overlay (upper layer as for run). */
  | {
    kind: "do";
    global: GlobalOptions;
    command: string[];
    overlayUpper: string | null;
    tty: boolean;
    /** --id: the container's ID in the state directory (null: generated). */
    id: string | null;
    limits: LimitOptions;
    checkpoint: CheckpointRequest | null;
  }
  /** Checkpoint a running container into an image file (absolute), then end it unless leaveRunning. */
  | { kind: "checkpoint"; global: GlobalOptions; id: string; image: string; leaveRunning: boolean }
  /**
   * Continue a sandbox from a checkpoint image (docs/checkpoint.md); bundle null: the host's /
   * as `do`. id: runc's form (`--image-path DIR ID`), not used yet.
   */
  /**
   * Continue a checkpointed sandbox, registered under id (null: a generated one) as `run`
   * registers a new one; detach: held by a detached sentry as `run -d`.
   */
  | {
    kind: "restore";
    global: GlobalOptions;
    bundle: string | null;
    image: string;
    id: string | null;
    detach: boolean;
    pidFile: string | null;
    /**
     * An empty host directory to hold the root overlay's upper layer (`--overlay-upper`): the
     * restore writes the image's upper layer into it, and the sandbox's later changes go there.
     */
    overlayUpper: string | null;
    /** The image's console on the caller's terminal (-t), or, with -d, on a console socket. */
    tty: boolean;
    consoleSocket: string | null;
  }
  /** runc's create: a sandbox whose init waits for `start`, held by a detached sentry. */
  | {
    kind: "create";
    global: GlobalOptions;
    bundle: string;
    id: string;
    pidFile: string | null;
    consoleSocket: string | null;
    overlayUpper: string | null;
    limits: LimitOptions;
  }
  /** Commands that name one container and take nothing else. */
  | { kind: "start" | "state" | "pause" | "resume" | "wait"; global: GlobalOptions; id: string }
  | { kind: "list"; global: GlobalOptions; format: "table" | "json"; quiet: boolean }
  | { kind: "ps"; global: GlobalOptions; id: string; format: "table" | "json" }
  /** signal: as given (a name or a number), null for SIGTERM. */
  | { kind: "kill"; global: GlobalOptions; id: string; signal: string | null; all: boolean; pid: number | null }
  | { kind: "delete"; global: GlobalOptions; id: string; force: boolean }
  | { kind: "events"; global: GlobalOptions; id: string; stats: boolean; intervalMs: number }
  /**
   * Changes a running container's limits (runc's update): each is a flag's value as given, or
   * null when not given; `resources` is a linux.resources JSON file ("-": stdin).
   */
  | {
    kind: "update";
    global: GlobalOptions;
    id: string;
    resources: string | null;
    memory: string | null;
    pidsLimit: string | null;
    cpuQuota: string | null;
    cpuPeriod: string | null;
  }
  /** A new process in a running container. */
  | {
    kind: "exec";
    global: GlobalOptions;
    id: string;
    command: string[];
    tty: boolean;
    cwd: string | null;
    env: string[];
    user: string | null;
    process: string | null;
    detach: boolean;
    pidFile: string | null;
    consoleSocket: string | null;
  };

/**
 * --checkpoint-image FILE --checkpoint-after SECONDS: checkpoint the sandbox into FILE that long
 * after it starts, then end it (issue #13's interim trigger until `sentry checkpoint ID`).
 */
export interface CheckpointRequest {
  image: string;
  afterMs: number;
}

/** The defaults of the global flags. */
export function defaultGlobalOptions(): GlobalOptions {
  return {
    strace: false,
    debugLog: null,
    platform: "ptrace",
    cpuPlacement: "adaptive",
    network: "none",
    publish: [],
    netAllow: null,
    pcap: null,
    root: null,
    log: null,
    logFormat: "text",
    debug: false,
  };
}

/** "list": a string flag that may be given more than once (values are kept in order). */
type FlagKind = "bool" | "string" | "list";
interface FlagDef {
  kind: FlagKind;
  /** Where the flag is accepted: "global" everywhere, else the commands listed. */
  scope: "global" | readonly CommandName[];
}

/** Every flag, by long name. `-h` is the only short flag (for --help). */
const FLAGS: Record<string, FlagDef> = {
  "help": { kind: "bool", scope: "global" },
  "version": { kind: "bool", scope: "global" },
  "strace": { kind: "bool", scope: "global" },
  "debug-log": { kind: "string", scope: "global" },
  "platform": { kind: "string", scope: "global" },
  "cpu-placement": { kind: "string", scope: "global" },
  "network": { kind: "string", scope: "global" },
  "publish": { kind: "list", scope: "global" },
  "net-allow": { kind: "list", scope: "global" },
  "pcap": { kind: "string", scope: "global" },
  // runc's global flags, which container engines pass (docs/cli.md says what each does here).
  "root": { kind: "string", scope: "global" },
  "log": { kind: "string", scope: "global" },
  "log-format": { kind: "string", scope: "global" },
  "systemd-cgroup": { kind: "bool", scope: "global" },
  "debug": { kind: "bool", scope: "global" },
  "rootless": { kind: "string", scope: "global" },
  "criu": { kind: "string", scope: "global" },
  "bundle": { kind: "string", scope: ["run", "spec", "create", "restore"] },
  "image": { kind: "string", scope: ["checkpoint"] },
  "image-path": { kind: "string", scope: ["checkpoint", "restore"] },
  "work-path": { kind: "string", scope: ["checkpoint", "restore"] },
  "leave-running": { kind: "bool", scope: ["checkpoint"] },
  "checkpoint-image": { kind: "string", scope: ["run", "do"] },
  "checkpoint-after": { kind: "string", scope: ["run", "do"] },
  "overlay-upper": { kind: "string", scope: ["run", "do", "create", "restore"] },
  "tty": { kind: "bool", scope: ["run", "do", "exec", "restore"] },
  "id": { kind: "string", scope: ["do", "restore"] },
  "detach": { kind: "bool", scope: ["run", "exec", "restore"] },
  "pid-file": { kind: "string", scope: ["run", "create", "exec", "restore"] },
  "console-socket": { kind: "string", scope: ["run", "create", "exec", "restore"] },
  "format": { kind: "string", scope: ["list", "ps"] },
  "quiet": { kind: "bool", scope: ["list"] },
  "all": { kind: "bool", scope: ["kill"] },
  "pid": { kind: "string", scope: ["kill"] },
  "force": { kind: "bool", scope: ["delete"] },
  "stats": { kind: "bool", scope: ["events"] },
  "interval": { kind: "string", scope: ["events"] },
  "cwd": { kind: "string", scope: ["exec"] },
  "env": { kind: "list", scope: ["exec"] },
  "user": { kind: "string", scope: ["exec"] },
  "process": { kind: "string", scope: ["exec"] },
  // Accepted and ignored: runc's options with no meaning for a sandbox (docs/cli.md).
  "no-pivot": { kind: "bool", scope: ["run", "create"] },
  "no-new-keyring": { kind: "bool", scope: ["run", "create"] },
  "preserve-fds": { kind: "string", scope: ["run", "create", "exec"] },
  "no-subreaper": { kind: "bool", scope: ["run"] },
  "keep": { kind: "bool", scope: ["run"] },
  "process-label": { kind: "string", scope: ["exec"] },
  "apparmor": { kind: "string", scope: ["exec"] },
  "no-new-privs": { kind: "bool", scope: ["exec"] },
  "cap": { kind: "list", scope: ["exec"] },
  "additional-gids": { kind: "list", scope: ["exec"] },
  "ignore-paused": { kind: "bool", scope: ["exec"] },
  "cgroup": { kind: "string", scope: ["exec"] },
  "timeout": { kind: "string", scope: ["run", "do", "create"] },
  "cpu-time": { kind: "string", scope: ["run", "do", "create"] },
  "cpus": { kind: "string", scope: ["run", "do", "create"] },
  "memory": { kind: "string", scope: ["run", "do", "create", "update"] },
  "resources": { kind: "string", scope: ["update"] },
  "pids-limit": { kind: "string", scope: ["update"] },
  "cpu-quota": { kind: "string", scope: ["update"] },
  "cpu-period": { kind: "string", scope: ["update"] },
  // runc update's cgroup knobs the sandbox has no counterpart for: accepted and ignored.
  "cpu-share": { kind: "string", scope: ["update"] },
  "cpuset-cpus": { kind: "string", scope: ["update"] },
  "cpuset-mems": { kind: "string", scope: ["update"] },
  "memory-reservation": { kind: "string", scope: ["update"] },
  "memory-swap": { kind: "string", scope: ["update"] },
  "blkio-weight": { kind: "string", scope: ["update"] },
  "pids": { kind: "string", scope: ["run", "do", "create"] },
  "output-limit": { kind: "string", scope: ["run", "do", "create"] },
  "overlay-size": { kind: "string", scope: ["run", "do", "create"] },
  "report": { kind: "string", scope: ["run", "do", "create"] },
};

/** Short flags and the long flag each stands for. */
const SHORT_FLAGS: Record<string, string> = {
  "-h": "--help", "-t": "--tty", "-d": "--detach", "-q": "--quiet", "-e": "--env", "-u": "--user",
  "-p": "--process", "-f": "--force", "-a": "--all", "-b": "--bundle", "-r": "--resources",
};

/** The flags a command accepts (global ones included), for help and error messages. */
export function flagsOf(cmd: CommandName | null): string[] {
  return Object.entries(FLAGS)
    .filter(([, d]) => d.scope === "global" || (cmd !== null && d.scope.includes(cmd)))
    .map(([name]) => name);
}

const TRY_HELP = "(try 'sentry --help')";

/**
 * Parses the arguments after the program name.
 *
 * Throws {@linkcode BootError} for an unknown command or flag, a missing or bad value, or a
 * missing or surplus argument.
 */
export function parseCommandLine(args: readonly string[]): Command {
  const global = defaultGlobalOptions();
  const values = new Map<string, string | boolean | string[]>();
  let cmd: CommandName | null = null;
  const positionals: string[] = [];
  let rest: string[] | null = null;

  let i = 0;
  while (i < args.length) {
    const arg = args[i]!;
    i++;
    if (arg === "--") {
      if (cmd === null) throw new BootError(`no command given before "--" ${TRY_HELP}`);
      rest = args.slice(i);
      break;
    }
    if (arg === "-h") {
      values.set("help", true);
      continue;
    }
    const flag = SHORT_FLAGS[arg] ?? arg;
    if (flag.startsWith("--") || (flag.startsWith("-") && flag.length > 1)) {
      if (!flag.startsWith("--")) {
        throw new BootError(`unknown flag ${quote(flag)} ${TRY_HELP}`);
      }
      const eq = flag.indexOf("=");
      const name = eq < 0 ? flag.slice(2) : flag.slice(2, eq);
      const def = FLAGS[name];
      if (def === undefined || (def.scope !== "global" && (cmd === null || !def.scope.includes(cmd)))) {
        const where = cmd === null ? "" : ` for "${cmd}"`;
        throw new BootError(`unknown flag --${name}${where} ${TRY_HELP}`);
      }
      if (def.kind === "bool") {
        values.set(name, eq < 0 ? true : parseBool(name, flag.slice(eq + 1)));
        continue;
      }
      let v: string;
      if (eq >= 0) v = flag.slice(eq + 1);
      else {
        const next = args[i];
        if (next === undefined) throw new BootError(`--${name}: requires a value`);
        i++;
        v = next;
      }
      if (def.kind === "list") {
        const prev = values.get(name);
        values.set(name, [...(Array.isArray(prev) ? prev : []), v]);
      } else values.set(name, v);
      continue;
    }
    // A positional.
    if (cmd === null) {
      if (!(COMMANDS as readonly string[]).includes(arg)) {
        throw new BootError(`unknown command ${quote(arg)} ${TRY_HELP}`);
      }
      cmd = arg as CommandName;
      continue;
    }
    if (cmd === "do" || (cmd === "exec" && positionals.length === 1)) {
      // The command to run starts here; everything after it is its own.
      rest = args.slice(i - 1);
      break;
    }
    positionals.push(arg);
  }

  if (values.get("help") === true) {
    if (cmd === "help") return { kind: "help", topic: helpTopic(positionals) };
    return { kind: "help", topic: cmd };
  }
  if (values.get("version") === true) return { kind: "version" };
  if (cmd === null) throw new BootError(`no command given ${TRY_HELP}`);

  applyGlobal(global, values);

  switch (cmd) {
    case "help":
      if (rest !== null) throw new BootError(`help: unexpected "--"`);
      return { kind: "help", topic: helpTopic(positionals) };
    case "run": {
      if (positionals.length > 1) {
        throw new BootError(
          `run: unexpected argument ${quote(positionals[1]!)}; put the command to run after "--"`,
        );
      }
      if (rest !== null && rest.length === 0) throw new BootError(`run: expected a command after "--"`);
      return {
        kind: "run",
        global,
        bundle: bundleOf(values),
        id: positionals[0] ?? null,
        command: rest,
        overlayUpper: overlayUpperOf(values),
        tty: values.get("tty") === true,
        detach: values.get("detach") === true,
        pidFile: pathOf(values, "pid-file"),
        consoleSocket: pathOf(values, "console-socket"),
        limits: limitsOf(values),
        checkpoint: checkpointOf(values),
      };
    }
    case "check":
      if (positionals.length > 0) throw new BootError(`check: unexpected argument ${quote(positionals[0]!)}`);
      if (rest !== null) throw new BootError(`check: unexpected "--"`);
      return { kind: "check", global };
    case "spec":
      if (positionals.length > 0) throw new BootError(`spec: unexpected argument ${quote(positionals[0]!)}`);
      if (rest !== null) throw new BootError(`spec: unexpected "--"`);
      return { kind: "spec", global, bundle: bundleOf(values) };
    case "do":
      if (rest === null || rest.length === 0) throw new BootError(`do: expected a command to run`);
      return {
        kind: "do",
        global,
        command: rest,
        overlayUpper: overlayUpperOf(values),
        tty: values.get("tty") === true,
        id: pathOf(values, "id"),
        limits: limitsOf(values),
        checkpoint: checkpointOf(values),
      };
    case "checkpoint": {
      const id = onlyId(cmd, positionals, rest);
      const file = pathOf(values, "image"), dir = pathOf(values, "image-path");
      if ((file === null) === (dir === null)) throw new BootError("checkpoint: expected --image FILE or --image-path DIR");
      return { kind: "checkpoint", global, id, image: imageFile(file, dir), leaveRunning: values.get("leave-running") === true };
    }
    case "restore": {
      if (rest !== null) throw new BootError(`restore: unexpected "--"`);
      const dir = pathOf(values, "image-path");
      const bundle = values.has("bundle") ? bundleOf(values) : null;
      const detach = values.get("detach") === true;
      const pidFile = pathOf(values, "pid-file");
      const idFlag = pathOf(values, "id");
      const tty = values.get("tty") === true;
      const consoleSocket = pathOf(values, "console-socket");
      if (dir !== null) {
        // runc's form: the image is the file in DIR, the positional the new container's ID.
        if (positionals.length > 1) throw new BootError(`restore: unexpected argument ${quote(positionals[1]!)}`);
        if (idFlag !== null && positionals.length > 0) throw new BootError(`restore: give the ID once (--id or the argument)`);
        const id = positionals[0] ?? idFlag;
        return { kind: "restore", global, bundle, image: imageFile(null, dir), id, detach, pidFile, overlayUpper: overlayUpperOf(values), tty, consoleSocket };
      }
      if (positionals.length !== 1) throw new BootError(`restore: expected one image file`);
      return { kind: "restore", global, bundle, image: positionals[0]!, id: idFlag, detach, pidFile, overlayUpper: overlayUpperOf(values), tty, consoleSocket };
    }
    case "create":
      return {
        kind: "create",
        global,
        bundle: bundleOf(values),
        id: onlyId(cmd, positionals, rest),
        pidFile: pathOf(values, "pid-file"),
        consoleSocket: pathOf(values, "console-socket"),
        overlayUpper: overlayUpperOf(values),
        limits: limitsOf(values),
      };
    case "start":
    case "state":
    case "pause":
    case "resume":
    case "wait":
      return { kind: cmd, global, id: onlyId(cmd, positionals, rest) };
    case "list":
      if (positionals.length > 0) throw new BootError(`list: unexpected argument ${quote(positionals[0]!)}`);
      if (rest !== null) throw new BootError(`list: unexpected "--"`);
      return { kind: "list", global, format: formatOf(values), quiet: values.get("quiet") === true };
    case "ps":
      return { kind: "ps", global, id: onlyId(cmd, positionals, rest), format: formatOf(values) };
    case "kill": {
      if (rest !== null) throw new BootError(`kill: unexpected "--"`);
      if (positionals.length === 0) throw new BootError(`kill: expected a container ID ${TRY_HELP}`);
      if (positionals.length > 2) throw new BootError(`kill: unexpected argument ${quote(positionals[2]!)}`);
      const pid = values.get("pid");
      let pidN: number | null = null;
      if (typeof pid === "string") {
        pidN = /^\d{1,9}$/.test(pid) ? Number(pid) : 0;
        if (pidN < 1) throw new BootError(`--pid: expected a process ID, got ${quote(pid)}`);
      }
      return {
        kind: "kill", global, id: positionals[0]!, signal: positionals[1] ?? null,
        all: values.get("all") === true, pid: pidN,
      };
    }
    case "delete":
      return { kind: "delete", global, id: onlyId(cmd, positionals, rest), force: values.get("force") === true };
    case "events": {
      const iv = values.get("interval");
      return {
        kind: "events",
        global,
        id: onlyId(cmd, positionals, rest),
        stats: values.get("stats") === true,
        intervalMs: typeof iv === "string" ? parseDuration("interval", iv) : 5000,
      };
    }
    case "update": {
      const str = (name: string): string | null => {
        const v = values.get(name);
        return typeof v === "string" ? v : null;
      };
      return {
        kind: "update", global, id: onlyId(cmd, positionals, rest), resources: str("resources"), memory: str("memory"),
        pidsLimit: str("pids-limit"), cpuQuota: str("cpu-quota"), cpuPeriod: str("cpu-period"),
      };
    }
    case "exec": {
      if (positionals.length === 0) throw new BootError(`exec: expected a container ID ${TRY_HELP}`);
      const process = pathOf(values, "process");
      const command = rest ?? [];
      if (command.length === 0 && process === null) {
        throw new BootError(`exec: expected a command to run (or --process FILE)`);
      }
      const env = values.get("env");
      return {
        kind: "exec",
        global,
        id: positionals[0]!,
        command,
        tty: values.get("tty") === true,
        cwd: pathOf(values, "cwd"),
        env: Array.isArray(env) ? env : [],
        user: pathOf(values, "user"),
        process,
        detach: values.get("detach") === true,
        pidFile: pathOf(values, "pid-file"),
        consoleSocket: pathOf(values, "console-socket"),
      };
    }
    default: {
      const never: never = cmd;
      throw new Error(`unreachable: ${never}`);
    }
  }
}

function applyGlobal(g: GlobalOptions, values: Map<string, string | boolean | string[]>): void {
  const strace = values.get("strace");
  if (typeof strace === "boolean") g.strace = strace;
  const log = values.get("debug-log");
  if (typeof log === "string") {
    if (log === "") throw new BootError("--debug-log: expected a file name");
    g.debugLog = log;
  }
  const platform = values.get("platform");
  if (typeof platform === "string") {
    if (platform !== "ptrace") {
      throw new BootError(`--platform: unknown platform ${quote(platform)} (the only platform is ptrace)`);
    }
    g.platform = platform;
  }
  const placement = values.get("cpu-placement");
  if (typeof placement === "string") {
    if (placement !== "adaptive" && placement !== "tracer" && placement !== "free") {
      throw new BootError(`--cpu-placement: expected adaptive, tracer or free, got ${quote(placement)}`);
    }
    g.cpuPlacement = placement;
  }
  const network = values.get("network");
  if (typeof network === "string") {
    if (network !== "none" && network !== "sandbox") {
      throw new BootError(`--network: expected none or sandbox, got ${quote(network)}`);
    }
    g.network = network;
    g.networkSet = true;
  }
  const publish = values.get("publish");
  if (Array.isArray(publish)) g.publish = publish.map(parsePublish);
  const allow = values.get("net-allow");
  if (Array.isArray(allow)) g.netAllow = allow.flatMap((v) => v.split(",")).map(parseAllow);
  const pcap = values.get("pcap");
  if (typeof pcap === "string") {
    if (pcap === "") throw new BootError("--pcap: expected a file name");
    g.pcap = pcap;
  }
  g.root = pathOf(values, "root");
  g.log = pathOf(values, "log");
  if (values.get("debug") === true) g.debug = true;
  const format = values.get("log-format");
  if (typeof format === "string") {
    if (format !== "text" && format !== "json") throw new BootError(`--log-format: expected text or json, got ${quote(format)}`);
    g.logFormat = format;
  }
}

function parsePort(flag: string, s: string, what: string, zeroOk = false): number {
  const n = /^\d{1,5}$/.test(s) ? Number(s) : NaN;
  if (!(n >= (zeroOk ? 0 : 1) && n <= 65535)) throw new BootError(`--${flag}: bad ${what} ${quote(s)}`);
  return n;
}

/** `[HOSTADDR:]HOSTPORT:SANDBOXPORT`; HOSTADDR defaults to 127.0.0.1 (IPv6 in brackets). */
function parsePublish(v: string): PublishRule {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[0-9.]+):)?([^:]+):([^:]+)$/.exec(v);
  if (m === null) throw new BootError(`--publish: expected [HOSTADDR:]HOSTPORT:SANDBOXPORT, got ${quote(v)}`);
  const hostAddr = m[1] === undefined ? "127.0.0.1" : m[1].replace(/^\[|\]$/g, "");
  if (!isIpLiteral(hostAddr)) throw new BootError(`--publish: bad host address ${quote(hostAddr)}`);
  return {
    hostAddr,
    hostPort: parsePort("publish", m[2]!, "host port"),
    sandboxPort: parsePort("publish", m[3]!, "sandbox port"),
  };
}

/** `ADDR[/PREFIX][:PORT]`, an IPv6 address in brackets when a port follows: `[::1]:80`. */
function parseAllow(v: string): AllowEntry {
  const m = /^(?:\[([^\]]+)\]|([^:\[\]]+)|([0-9a-fA-F:]+(?:\/\d+)?))(?::(\d+))?$/.exec(v);
  const addr = m?.[1] ?? m?.[2] ?? m?.[3];
  if (m === null || addr === undefined) throw new BootError(`--net-allow: expected ADDR[/PREFIX][:PORT], got ${quote(v)}`);
  const [ip, prefix] = addr.split("/");
  if (!isIpLiteral(ip!)) throw new BootError(`--net-allow: bad address ${quote(ip!)}`);
  const max = ip!.includes(":") ? 128 : 32;
  const plen = prefix === undefined ? max : Number(prefix);
  if (!(Number.isInteger(plen) && plen >= 0 && plen <= max)) throw new BootError(`--net-allow: bad prefix in ${quote(v)}`);
  return { cidr: `${ip}/${plen}`, port: m[4] === undefined ? 0 : parsePort("net-allow", m[4], "port") };
}

/** A dotted IPv4 or a colon-separated IPv6 literal (checked loosely; the kernel parses it). */
function isIpLiteral(s: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) return s.split(".").every((x) => Number(x) <= 255);
  return /^[0-9a-fA-F:.]+$/.test(s) && s.includes(":") && s.split("::").length <= 2;
}

function checkpointOf(values: Map<string, string | boolean | string[]>): CheckpointRequest | null {
  const image = values.get("checkpoint-image");
  const after = values.get("checkpoint-after");
  if (image === undefined && after === undefined) return null;
  if (typeof image !== "string" || image === "") throw new BootError("--checkpoint-after: needs --checkpoint-image FILE");
  const secs = typeof after === "string" ? Number(after) : NaN;
  if (!Number.isFinite(secs) || secs < 0 || secs > 1e7) throw new BootError("--checkpoint-after: expected a number of seconds");
  return { image, afterMs: secs * 1000 };
}

/** The name of the image file in runc's image directory (`--image-path DIR`). */
export const IMAGE_FILE_NAME = "checkpoint.cbor";

/** The image file: --image FILE, or the file in --image-path DIR; absolute (a server's cwd differs). */
function imageFile(file: string | null, dir: string | null): string {
  const p = file ?? `${dir!.replace(/\/+$/, "") || "/"}/${IMAGE_FILE_NAME}`;
  return p.startsWith("/") ? p : `${Deno.cwd()}/${p}`;
}

/** The one container ID of a command that takes nothing else. */
function onlyId(cmd: string, positionals: string[], rest: string[] | null): string {
  if (rest !== null) throw new BootError(`${cmd}: unexpected "--"`);
  if (positionals.length === 0) throw new BootError(`${cmd}: expected a container ID ${TRY_HELP}`);
  if (positionals.length > 1) throw new BootError(`${cmd}: unexpected argument ${quote(positionals[1]!)}`);
  return positionals[0]!;
}

/** A non-empty string flag's value, or null when it is absent. */
function pathOf(values: Map<string, string | boolean | string[]>, name: string): string | null {
  const v = values.get(name);
  if (v === undefined) return null;
  if (typeof v !== "string" || v === "") throw new BootError(`--${name}: expected a value`);
  return v;
}

function formatOf(values: Map<string, string | boolean | string[]>): "table" | "json" {
  const f = values.get("format");
  if (f === undefined) return "table";
  if (f !== "table" && f !== "json") throw new BootError(`--format: expected table or json, got ${quote(String(f))}`);
  return f;
}

/** A Go-style duration (`5s`, `250ms`, `1m`, `1.5s`) in milliseconds, at least 1. */
export function parseDuration(flag: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
  const ms = m === null ? NaN : Number(m[1]) * unit[m[2] as keyof typeof unit];
  if (!(ms >= 1 && ms <= 86_400_000)) throw new BootError(`--${flag}: expected a duration such as 5s or 250ms, got ${quote(v)}`);
  return Math.round(ms);
}

function bundleOf(values: Map<string, string | boolean | string[]>): string {
  const b = values.get("bundle");
  if (b === undefined) return ".";
  if (typeof b !== "string" || b === "") throw new BootError("--bundle: expected a directory");
  return b;
}

function overlayUpperOf(values: Map<string, string | boolean | string[]>): string | null {
  const u = values.get("overlay-upper");
  if (u === undefined) return null;
  if (typeof u !== "string" || u === "") throw new BootError("--overlay-upper: expected a directory");
  return u;
}

/** No limits, no report. */
export function noLimitOptions(): LimitOptions {
  return {
    timeout: null, cpuTime: null, cpus: null, memory: null, pids: null, outputLimit: null, overlaySize: null,
    report: null,
  };
}

function limitsOf(values: Map<string, string | boolean | string[]>): LimitOptions {
  const l = noLimitOptions();
  const str = (name: string): string | null => {
    const v = values.get(name);
    return typeof v === "string" ? v : null;
  };
  const ifGiven = <T>(name: string, parse: (flag: string, v: string) => T): T | null => {
    const v = str(name);
    return v === null ? null : parse(name, v);
  };
  l.timeout = ifGiven("timeout", parseSeconds);
  l.cpuTime = ifGiven("cpu-time", parseSeconds);
  l.cpus = ifGiven("cpus", (f, v) => parseDecimal(f, v, "a number of CPUs such as 1 or 0.5"));
  l.memory = ifGiven("memory", (f, v) => parseBytes(f, v, 1));
  l.pids = ifGiven("pids", parseCount);
  l.outputLimit = ifGiven("output-limit", (f, v) => parseBytes(f, v, 0));
  l.overlaySize = ifGiven("overlay-size", (f, v) => parseBytes(f, v, 1));
  const report = str("report");
  if (report !== null) {
    if (report === "") throw new BootError("--report: expected a file name");
    l.report = report;
  }
  return l;
}

/** A positive decimal number ("2", "0.5"), at most a billion. */
function parseDecimal(flag: string, v: string, what: string): number {
  const n = /^[0-9]+(\.[0-9]+)?$/.test(v) ? Number(v) : NaN;
  if (!(n > 0 && n <= 1e9)) throw new BootError(`--${flag}: expected ${what}, got ${quote(v)}`);
  return n;
}

/** Seconds, as a positive decimal number ("2", "1.5"). */
function parseSeconds(flag: string, v: string): number {
  return parseDecimal(flag, v, "a positive number of seconds such as 10 or 1.5");
}

/** A positive integer (no sign, no exponent). */
function parseCount(flag: string, v: string): number {
  const n = /^[0-9]{1,9}$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1)) throw new BootError(`--${flag}: expected a positive integer, got ${quote(v)}`);
  return n;
}

const SIZE_UNITS: Record<string, number> = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/**
 * A size in bytes: digits with an optional binary suffix k, m, g or t (either case, as docker's
 * --memory), at least `min`.
 */
export function parseBytes(flag: string, v: string, min: number): number {
  const m = /^([0-9]{1,15})([kmgtKMGT]?)$/.exec(v);
  const n = m === null ? NaN : Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!;
  if (!(n >= min && n <= Number.MAX_SAFE_INTEGER)) {
    throw new BootError(`--${flag}: expected a size in bytes such as 268435456 or 256M, got ${quote(v)}`);
  }
  return n;
}

function helpTopic(positionals: string[]): CommandName | null {
  if (positionals.length > 1) throw new BootError(`help: unexpected argument ${quote(positionals[1]!)}`);
  const t = positionals[0];
  if (t === undefined) return null;
  if (!(COMMANDS as readonly string[]).includes(t)) throw new BootError(`help: unknown command ${quote(t)}`);
  return t as CommandName;
}

function parseBool(name: string, v: string): boolean {
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw new BootError(`--${name}: expected true or false, got ${quote(v)}`);
}

/** Quotes a user-supplied word for an error message (JSON escaping keeps it on one line). */
export function quote(s: string): string {
  return JSON.stringify(s);
}
