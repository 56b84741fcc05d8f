/**
 * The run report's record of what the sandbox did (`--report`: processes, files, connections;
 * docs/report.md), checked against what the same work does natively: a make -j2 build of a
 * small C project (tests/c/makeproj) plus a file that fails to compile, traced natively with
 * strace -ff (every process's exec, its children and how it ended) and run in the sentry.
 *
 * @module
 */

import assert from "node:assert/strict";
import { compileC, REPO_ROOT } from "./_harness.ts";

// deno-lint-ignore no-explicit-any
type Report = any;

/** One process as both sides describe it: what it ran, how it ended, what its parent ran. */
interface Proc {
  exec: string;
  argv: string[];
  status: string;
  parent: number | null;
}

const SCRIPT = 'make -j2 >/dev/null && echo "int x = ;" > bad.c; make -k bad.o 2>/dev/null; true';

/** A fresh copy of the project; the caller removes it. */
function project(): string {
  const dir = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "sentry-report-make-" }));
  for (const e of Deno.readDirSync(`${REPO_ROOT}/tests/c/makeproj`)) {
    Deno.copyFileSync(`${REPO_ROOT}/tests/c/makeproj/${e.name}`, `${dir}/${e.name}`);
  }
  return dir;
}

/** The C-escaped strings of an strace array or string list, decoded. */
function cStrings(s: string): string[] {
  const out: string[] = [];
  for (const m of s.matchAll(/"((?:[^"\\]|\\.)*)"/g)) out.push(JSON.parse(`"${m[1]!.replace(/\\(?!["\\nt])/g, "\\\\")}"`));
  return out;
}

/** The processes of a native run, from strace -ff's per-process files. */
async function nativeProcesses(dir: string): Promise<Map<number, Proc>> {
  const trace = Deno.makeTempDirSync({ prefix: "sentry-report-strace-" });
  try {
    const r = await new Deno.Command("strace", {
      args: [
        "-f", "-ff", "-q", "-s", "65536", "-e", "trace=execve,clone,clone3,fork,vfork", "-e", "signal=none",
        "-o", `${trace}/t`, "/bin/sh", "-c", SCRIPT,
      ],
      cwd: dir, stdin: "null", stdout: "null", stderr: "piped",
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    const procs = new Map<number, Proc>();
    const parents = new Map<number, number>();
    for (const e of Deno.readDirSync(trace)) {
      const pid = Number(e.name.slice(2));
      const p: Proc = { exec: "", argv: [], status: "?", parent: null };
      for (const line of Deno.readTextFileSync(`${trace}/${e.name}`).split("\n")) {
        let m = /^execve\("((?:[^"\\]|\\.)*)", \[(.*?)\], .* = 0$/.exec(line);
        if (m) {
          p.exec = cStrings(`"${m[1]}"`)[0]!;
          p.argv = cStrings(m[2]!);
          continue;
        }
        m = /^(clone3?|v?fork)\(.*\) += (\d+)$/.exec(line);
        if (m && !/CLONE_THREAD/.test(line)) parents.set(Number(m[2]), pid);
        m = /^\+\+\+ exited with (\d+) \+\+\+$/.exec(line);
        if (m) p.status = `exit ${m[1]}`;
        m = /^\+\+\+ killed by (SIG[A-Z0-9]+)/.exec(line);
        if (m) p.status = m[1]!;
      }
      procs.set(pid, p);
    }
    for (const [child, parent] of parents) {
      const p = procs.get(child);
      if (p) p.parent = parent;
    }
    // A process that never exec'd runs its parent's program (as the report gives it).
    const inherit = (pid: number): void => {
      const p = procs.get(pid)!;
      if (p.exec !== "" || p.parent === null) return;
      inherit(p.parent);
      const q = procs.get(p.parent)!;
      p.exec = q.exec;
      p.argv = q.argv;
    };
    for (const pid of procs.keys()) inherit(pid);
    return procs;
  } finally {
    Deno.removeSync(trace, { recursive: true });
  }
}

/** The processes of the report. */
function reportProcesses(report: Report): Map<number, Proc> {
  const procs = new Map<number, Proc>();
  for (const p of report.processes) {
    procs.set(p.pid, {
      exec: p.execs.at(-1) ?? "",
      argv: p.argv,
      status: p.signal ?? (p.exitCode === null ? "?" : `exit ${p.exitCode}`),
      parent: p.ppid === 0 ? null : p.ppid,
    });
  }
  return procs;
}

/**
 * Each process as one comparable line: program, argv (the build directory and gcc's random
 * temporary names replaced), status and parent's program; sorted.
 */
function summary(procs: Map<number, Proc>, dir: string): string[] {
  const norm = (s: string) => s.replaceAll(dir, "$DIR").replace(/\/tmp\/cc[A-Za-z0-9]{6}/g, "/tmp/ccXXXXXX");
  return [...procs.values()].map((p) => {
    const parent = p.parent === null ? "-" : procs.get(p.parent)?.exec ?? "?";
    return `${p.exec} [${p.argv.map(norm).join(" ")}] ${p.status} <- ${parent}`;
  }).sort();
}

Deno.test("the report of a make -j2 build lists every process (gcc, cc1, as, collect2, ld) with its argv, parent and status, and the files written, as the build did natively", async () => {
  const native = project(), sandboxed = project();
  const reportDir = Deno.makeTempDirSync({ prefix: "sentry-report-out-" });
  try {
    const expected = summary(await nativeProcesses(native), native);
    // Natively the build left these beside the sources.
    const sources = new Set([...Deno.readDirSync(sandboxed)].map((e) => e.name));
    const built = [...Deno.readDirSync(native)].map((e) => e.name).filter((n) => !sources.has(n)).sort();
    assert.deepEqual(built, ["add.o", "bad.c", "calc", "main.o", "mul.o", "power.o"]);

    const r = await new Deno.Command(`${REPO_ROOT}/sentry`, {
      args: ["do", "--report", `${reportDir}/r.json`, "--", "/bin/sh", "-c", SCRIPT],
      cwd: sandboxed, stdin: "null", stdout: "null", stderr: "piped",
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    const report = JSON.parse(Deno.readTextFileSync(`${reportDir}/r.json`));
    assert.deepEqual(summary(reportProcesses(report), sandboxed), expected);
    // Spelled out for the programs the acceptance names.
    const ran = (prog: string, status: string) =>
      report.processes.filter((p: Report) => p.execs.at(-1)?.endsWith(`/${prog}`) && (p.signal ?? `exit ${p.exitCode}`) === status).length;
    assert.equal(ran("cc", "exit 0"), 5);
    assert.equal(ran("cc", "exit 1"), 1);
    assert.equal(ran("cc1", "exit 0"), 4);
    assert.equal(ran("cc1", "exit 1"), 1);
    assert.equal(ran("as", "exit 0"), 4);
    assert.equal(ran("collect2", "exit 0"), 1);
    assert.equal(ran("ld", "exit 0"), 1);
    for (const p of report.processes) {
      assert.ok(p.durationSeconds !== null && p.durationSeconds >= 0, JSON.stringify(p));
      assert.ok(p.startSeconds >= 0);
    }

    // Files: what stayed is what the native build left; gcc's temporaries were made and removed.
    const files = report.files as Array<{ path: string; created: boolean; written: boolean; deleted: boolean; pids: number[] }>;
    const kept = files.filter((f) => !f.deleted).map((f) => f.path).sort();
    assert.deepEqual(kept, built.map((n) => `${sandboxed}/${n}`));
    for (const f of files.filter((f) => !f.deleted)) assert.ok(f.created && f.written, JSON.stringify(f));
    const temps = files.filter((f) => f.deleted);
    assert.ok(temps.length >= 5, JSON.stringify(temps));
    for (const f of temps) assert.match(f.path, /^\/tmp\/cc[A-Za-z0-9]{6}\./);
    // Each .o was written by the `as` that made it.
    const byPid = new Map(report.processes.map((p: Report) => [p.pid, p]));
    for (const o of ["main.o", "add.o", "mul.o", "power.o"]) {
      const f = files.find((x) => x.path === `${sandboxed}/${o}`)!;
      const writer = byPid.get(f.pids[0]!) as Report;
      assert.deepEqual(writer.argv.slice(0, 4), ["as", "--64", "-o", o]);
    }
    assert.deepEqual(report.connections, []);
    // The build happened in the overlay: the host directory holds only the sources.
    assert.deepEqual(new Set([...Deno.readDirSync(sandboxed)].map((e) => e.name)), sources);
  } finally {
    for (const d of [native, sandboxed, reportDir]) Deno.removeSync(d, { recursive: true });
  }
});

Deno.test("the report lists connect(2) calls with their destination and result", async () => {
  const reportDir = Deno.makeTempDirSync({ prefix: "sentry-report-out-" });
  try {
    // Without a network, an inet connect fails; a unix socket path that does not exist too.
    const script = "exec 3<>/dev/tcp/10.0.2.2/9 2>/dev/null; python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); " +
      "s.connect_ex(\"/nonexistent-sock\")'; true";
    const r = await new Deno.Command(`${REPO_ROOT}/sentry`, {
      args: ["do", "--report", `${reportDir}/r.json`, "--", "/bin/bash", "-c", script],
      stdin: "null", stdout: "null", stderr: "piped",
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    const report = JSON.parse(Deno.readTextFileSync(`${reportDir}/r.json`));
    const c = report.connections as Array<{ pid: number; family: string; destination: string; result: string }>;
    const inet = c.find((x) => x.family === "inet");
    assert.ok(inet, JSON.stringify(c));
    assert.equal(inet.destination, "10.0.2.2:9");
    assert.match(inet.result, /^E[A-Z]+$/);
    // libc may try other sockets first (nscd's, for a user lookup); find the script's own.
    const unix = c.find((x) => x.family === "unix" && x.destination === "/nonexistent-sock");
    assert.ok(unix, JSON.stringify(c));
    assert.equal(unix.result, "ENOENT");
    for (const x of c) assert.ok(report.processes.some((p: Report) => p.pid === x.pid));
  } finally {
    Deno.removeSync(reportDir, { recursive: true });
  }
});

Deno.test("the report tells a file openat2 creates with RESOLVE_IN_ROOT from one at the same path outside that root (tests/c/openat2_create.c)", async () => {
  const prog = await compileC("openat2_create");
  const dir = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "sentry-report-openat2-" }));
  try {
    // dir/f exists; dir/root/<dir>/f, which the open makes, does not.
    Deno.writeTextFileSync(`${dir}/f`, "");
    Deno.mkdirSync(`${dir}/root${dir}`, { recursive: true });
    const r = await new Deno.Command(`${REPO_ROOT}/sentry`, {
      args: ["do", "--report", `${dir}/r.json`, "--", prog, `${dir}/root`, `${dir}/f`],
      stdin: "null", stdout: "piped", stderr: "piped",
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    assert.equal(new TextDecoder().decode(r.stdout), "created\n");
    const files = JSON.parse(Deno.readTextFileSync(`${dir}/r.json`)).files as Array<{ path: string; created: boolean; written: boolean }>;
    const f = files.find((x) => x.path === `${dir}/root${dir}/f`);
    assert.ok(f !== undefined && f.created && f.written, JSON.stringify(files));
    assert.equal(files.find((x) => x.path === `${dir}/f`), undefined);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
