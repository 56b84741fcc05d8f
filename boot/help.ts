/**
 * The text of `--help` and `--version`.
 *
 * @module
 */

import pkg from "../package.json" with { type: "json" };
import type { CommandName } from "./flags.ts";
import { OCI_VERSION } from "./spec.ts";

/** The sentry's version, from package.json. */
export const VERSION: string = pkg.version;

/** What `--version` prints. */
export function versionText(): string {
  return `sentry version ${VERSION}\nspec: ${OCI_VERSION}\ndeno: ${Deno.version.deno}\n`;
}

const GLOBAL_FLAGS = `Global flags (before or after the command):
  --help, -h               show help (also: sentry help COMMAND)
  --version                print the version
  --strace                 print every syscall (to the debug log if there is one, else stderr)
  --debug-log FILE         write the sentry's debug log to FILE (truncated)
  --platform ptrace        how application code runs; ptrace is the only platform
  --cpu-placement MODE     adaptive (default): stubs share the tracer's CPU until one computes
                           without stopping for 5 ms, which may then use every CPU; tracer:
                           stubs always share the tracer's CPU; free: no pinning
  --network none|sandbox   none: loopback only (default); sandbox: a NIC (10.0.2.15) whose
                           flows leave through host sockets; 10.0.2.2 is the host's 127.0.0.1.
                           Without it, a bundle naming a network namespace (podman's default
                           network) gets that namespace's Ethernet devices
  --publish [A:]HP:SP      relay host port HP (address A, default 127.0.0.1) to port SP inside
  --net-allow ADDR[/N][:PORT],...  destinations outside the sandbox it may reach
  --pcap FILE              write the sandbox's packets to FILE (pcap, raw IP)
  --root DIR               the state directory (default /run/sentry for root, else
                           $XDG_RUNTIME_DIR/sentry)
  --log FILE               also append failures and warnings to FILE (as runc: for conmon)
  --log-format text|json   the format of --log's lines
  --debug                  debug lines go to --log too
  --systemd-cgroup, --rootless V, --criu P   runc's; accepted and ignored
`;

const TTY_FLAG = `  --tty, -t                give the command a terminal bridged to yours (stdin must be one):
                           your terminal is raw meanwhile, keys like ^C and ^Z act inside
`;

const CHECKPOINT_FLAGS = `  --checkpoint-image FILE  with --checkpoint-after: where to write the checkpoint image
  --checkpoint-after SECS  checkpoint the sandbox SECS seconds after it starts, then end it
                           (what is saved and what is refused: docs/checkpoint.md)
`;

const LIMIT_FLAGS = `  --timeout SECONDS        end the whole sandbox after this wall-clock time (status 124)
  --cpu-time SECONDS       end it once all its processes used this much CPU time (status 124)
  --cpus N                 CPU time per wall-clock second (0.5: half a CPU)
  --memory BYTES           anonymous memory of the sandbox: ENOMEM past it, then the OOM kill
  --pids N                 threads and unreaped processes; fork and clone past it: EAGAIN
  --output-limit BYTES     bytes written to stdout and stderr together (status 124 past it)
  --overlay-size BYTES     size of the root overlay's in-memory upper layer (ENOSPC past it)
  --report FILE            write the run's JSON report to FILE at the end (docs/report.md)
                           (sizes take k, m, g or t; README: "Limits and the run report")
`;

const EXIT = `Exit status: the application's; 128+N if signal N killed it; 124 if a limit (--timeout,
--cpu-time, --output-limit) ended the run; 125 if the sentry failed; 126 if the command cannot
be executed; 127 if it is not found.
`;

const TEXT: Record<CommandName | "", string> = {
  "": `sentry: an application kernel that runs Linux x86-64 programs under ptrace

Usage: sentry [FLAGS] COMMAND [ARGS...]

Commands:
  run     run a container from an OCI bundle (or a bare root filesystem)
  do      run a command with the host's / as the root under a writable overlay
  checkpoint save a running container into a checkpoint image, then end it
  restore continue a sandbox from a checkpoint image
  spec    write a default config.json into a bundle directory
  create  create a container whose init waits for start (held by a detached sentry)
  start   start a created container
  state   print a container's OCI state (JSON)
  list    list the containers of the state directory
  ps      list the processes of a container
  exec    run a new process in a running container
  kill    send a signal to a container's init (or --pid N, or --all)
  pause   stop every task of a container at a safe point
  resume  continue a paused container
  wait    wait for a container's init to exit and print its exit status
  events  print a container's statistics (cpu, memory, pids) as JSON lines
  update  change a running container's memory, pids and CPU limits
  delete  remove a stopped container's state (--force: kill a running one first)
  check   list what this host allows of what the sentry needs (status 1 if something is missing)
  help    show help for a command

${GLOBAL_FLAGS}
${EXIT}`,
  run: `Usage: sentry run [--bundle DIR] [-t] [-d [--console-socket S]] [--pid-file F] [ID] [-- CMD [ARGS...]]

Runs the container described by DIR/config.json (an OCI runtime spec). If DIR has no
config.json, DIR itself is a read-only root filesystem and CMD (default /bin/sh) runs in it
as root. A CMD after "--" replaces process.args. ID names the container (and the hostname if
the spec gives none).

Flags:
  --bundle DIR             the bundle directory (default: the current directory)
  -d, --detach             return once the container runs, held by a detached sentry
                           (its ID is printed when generated)
  --pid-file F             write the pid of the sentry holding the container to F
  --console-socket S       with -d and a terminal: send its master to the AF_UNIX socket S
  --overlay-upper UP       keep the writable root's changes in the host directory UP
                           (default: in memory, gone when the sandbox ends)
${TTY_FLAG}${CHECKPOINT_FLAGS}${LIMIT_FLAGS}
${GLOBAL_FLAGS}
${EXIT}`,
  do: `Usage: sentry do [-t] [--id ID] [--overlay-upper UP] [--] CMD [ARGS...]

Runs CMD with the host's / as the root under a writable overlay (the host tree never
changes), in the current directory, with the current environment and the host's hostname,
as uid 0 and gid 0 inside the sandbox. A bare CMD is looked up in PATH.

Flags:
  --id ID                  the sandbox's container ID, by which exec, kill, pause and
                           checkpoint reach it (default: generated; the debug log names it)
  --overlay-upper UP       keep the overlay's changes in the host directory UP (as UP/PATH)
${TTY_FLAG}${CHECKPOINT_FLAGS}${LIMIT_FLAGS}
${GLOBAL_FLAGS}
${EXIT}`,
  checkpoint: `Usage: sentry checkpoint (--image FILE | --image-path DIR) [--leave-running] ID

Pauses every task of container ID at its safe point, saves the whole sandbox into the
checkpoint image FILE (or DIR/checkpoint.cbor, runc's form; --work-path is accepted and
unused) and ends the container, whose sentry exits with status 0. With --leave-running the
container goes on. A sandbox holding what a checkpoint does not save yet is refused with one
line, and goes on. See docs/checkpoint.md.

Flags:
  --image FILE             the image file to write (replaced atomically)
  --image-path DIR         write DIR/checkpoint.cbor (DIR is made if missing)
  --leave-running          let the container go on after the checkpoint

${GLOBAL_FLAGS}`,
  restore: `Usage: sentry restore [--bundle DIR] [-t] [-d [--console-socket S]] [--pid-file F] [--id ID] [--overlay-upper UP] IMAGE
       sentry restore --image-path DIR [--bundle DIR] [--detach] [--pid-file F] [ID]

Continues the sandbox saved in the checkpoint image IMAGE (or DIR/checkpoint.cbor) where it
was, on the same root filesystem: the bundle DIR's root, or without --bundle the host's / as
for "do". Its standard input and output are this command's. An image that is bad, truncated, of another format
version, or taken on another or a since changed root is refused with one line and status 125
before anything runs. The restored sandbox is an ordinary running container under ID (a new
one when none is given): state, list, ps, exec, kill, pause, resume, wait, delete and
checkpoint reach it. See docs/checkpoint.md for what a checkpoint holds.

Flags:
  --bundle DIR             the bundle whose root filesystem the image was taken on
  --image-path DIR         the image is DIR/checkpoint.cbor (runc's form)
  --id ID                  the container's ID (runc's form: the argument)
  -d, --detach             return once the sandbox runs, held by a detached sentry (the ID
                           is printed when it was not given)
  --pid-file F             write the pid of the sentry that holds the container to F
  -t, --tty                an image taken with a terminal (-t): its terminal, with what it
                           held, is bridged to yours (needed for such an image, refused for
                           another)
  --console-socket S       with -d and a terminal: send its master to the AF_UNIX socket S
  --overlay-upper UP       an empty host directory: the image's writable root's changes are
                           written into it, and the sandbox's changes go on there (without
                           it they are kept in memory, whatever the checkpointed sandbox had)
  --work-path DIR          accepted for runc's form, unused

${GLOBAL_FLAGS}
${EXIT}`,
  check: `Usage: sentry check

Lists, one line each, what the sentry needs of the host and whether this host allows it:
seccomp (filters, user notification, ADDFD, TSYNC), no_new_privs, pidfd_open and pidfd_getfd,
ptrace, then a stub started for real (PTRACE_SYSEMU, confined), the namespaces and the empty
root a stub gets, and then the sentry's own confinement after start-up, done for real on the
checking process (namespaces, capabilities and the seccomp filter on every thread). Each line
starts with "ok", "MISSING" (required: sentry run cannot work) or "no" (optional: the stubs or
the sentry are less confined; docs/confinement.md).

Exit status: 0 when everything required is present, 1 when something is missing.

${GLOBAL_FLAGS}`,
  spec: `Usage: sentry spec [--bundle DIR]

Writes a default config.json into DIR (default: the current directory): /bin/sh as root in a
read-only root filesystem at DIR/rootfs. An existing config.json is never replaced.

Flags:
  --bundle DIR             the bundle directory (default: the current directory)

${GLOBAL_FLAGS}`,
  create: `Usage: sentry create [--bundle DIR] [--pid-file F] [--console-socket S] ID

Creates container ID from the bundle DIR: a detached sentry holds the sandbox, whose init
waits for "sentry start ID". The sentry's stdio become init's.

Flags:
  --bundle DIR             the bundle directory (default: the current directory)
  --pid-file F             write the pid of the sentry holding the container to F (its exit
                           status will be init's)
  --console-socket S       process.terminal: send the terminal's master to the AF_UNIX socket
                           S (SCM_RIGHTS), as runc does

${GLOBAL_FLAGS}`,
  start: `Usage: sentry start ID

Starts the init of a created container.
`,
  state: `Usage: sentry state ID

Prints the OCI state of container ID as JSON (status created, running, paused or stopped).
`,
  list: `Usage: sentry list [--format table|json] [-q]

Lists the containers of the state directory; -q prints their IDs only.
`,
  ps: `Usage: sentry ps [--format table|json] ID

Lists the processes of container ID (json: their pids).
`,
  exec: `Usage: sentry exec [-t] [--cwd D] [--env K=V]... [--user UID[:GID]] [--process F] [-d]
                   [--pid-file F] [--console-socket S] ID [--] CMD [ARGS...]

Runs CMD in the running container ID, with its stdio (or, with -t, a new terminal of the
sandbox bridged to yours) and exits with its exit status. -d returns once it runs; with
--pid-file F too, F names a host process that waits for it and exits with its status (as
an engine such as conmon expects). -t --console-socket S sends the terminal's master to the
AF_UNIX socket S instead. --process F takes the process from an OCI process.json instead
of CMD.
`,
  kill: `Usage: sentry kill [--all] [--pid N] ID [SIGNAL]

Sends SIGNAL (a name such as TERM or SIGKILL, or a number; default TERM) to container ID's
init, to its process N (--pid), or to every process (--all).
`,
  pause: `Usage: sentry pause ID

Stops every task of container ID at a safe point; it uses no CPU until resumed.
`,
  resume: `Usage: sentry resume ID

Continues a paused container.
`,
  wait: `Usage: sentry wait ID

Waits until container ID's init exits; prints {"id":ID,"exitStatus":N} and exits with N.
`,
  events: `Usage: sentry events [--stats] [--interval D] ID

Prints container ID's statistics (cpu, memory, pids) as JSON lines, every D (default 5s),
or once with --stats.
`,
  update: `Usage: sentry update [--resources FILE] [--memory BYTES] [--pids-limit N] [--cpu-quota US --cpu-period US] ID

Changes the limits of running container ID, as runc's update: --resources takes a
linux.resources JSON file ("-": stdin; memory.limit, pids.limit, cpu.quota and cpu.period are
applied), and the flags win over it. A limit of 0 or -1 removes it.
`,
  delete: `Usage: sentry delete [--force] ID

Removes the state of a stopped container; --force kills a running one first.
`,
  help: `Usage: sentry help [COMMAND]

Shows help for COMMAND, or the list of commands.
`,
};

/** The help text for a command, or the general help for null. */
export function helpText(topic: CommandName | null): string {
  return TEXT[topic ?? ""];
}
