/**
 * Terminals: pseudo-terminals through glibc, run natively and in the sentry (the output must
 * be the same), and `sentry do -t` driven by tmux as a person would use it.
 */

import assert from "node:assert/strict";
import { assertSameAsNative, compileC, REPO_ROOT } from "./_harness.ts";

Deno.test("openpty, canonical and raw reads, echo, ^C and SIGWINCH to a child's group, EIO after close behave as natively", async () => {
  await assertSameAsNative([await compileC("pty")]);
});

Deno.test("SIGTTIN/SIGTTOU for background groups, TIOCSPGRP, setsid, TIOCNOTTY and SIGHUP at the session leader's exit behave as natively", async () => {
  await assertSameAsNative([await compileC("pty_jobs")]);
});

Deno.test("vhangup(2): EPERM for nobody, 0 without a terminal; with one the leader gets SIGHUP and SIGCONT, the open descriptions are hung up, the session loses it, and a reopen works with default settings, as natively (tests/c/vhangup.c)", async () => {
  await assertSameAsNative([await compileC("vhangup")]);
});

Deno.test("-t without a terminal on stdin is refused in one line with status 125", async () => {
  const r = await new Deno.Command(`${REPO_ROOT}/sentry`, {
    args: ["do", "-t", "--", "/bin/true"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 125);
  assert.equal(new TextDecoder().decode(r.stdout), "");
  assert.equal(
    new TextDecoder().decode(r.stderr),
    "sentry: -t: standard input is not a terminal (run without -t, or from a terminal)\n",
  );
});

/**
 * What `script` (a pty of its own) records of `cmd`'s output, without its header and footer.
 * Its stdin stays open and silent until cmd is done: at the end of its input script types its
 * terminal's end-of-file character, which a raw terminal reads as a NUL, and a program still
 * starting would echo that.
 */
async function scriptOutput(cmd: string): Promise<string> {
  const child = new Deno.Command("script", {
    args: ["-q", "-e", "-c", cmd, "/dev/null"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const [stdout, stderr] = [new Response(child.stdout).text(), new Response(child.stderr).text()];
  const status = await child.status;
  await child.stdin.close();
  assert.equal(status.code, 0, await stderr);
  return await stdout;
}

Deno.test("-t writes the sandbox's lines to the user's terminal with one \\r each, as natively, and leaves the terminal's output processing as it was", async () => {
  const printf = "printf 'a\\nb\\n'";
  const native = await scriptOutput(`${printf}; stty -a`);
  const sandboxed = await scriptOutput(`${REPO_ROOT}/sentry do -t -- ${printf}; stty -a`);
  assert.ok(native.startsWith("a\r\nb\r\n"), JSON.stringify(native.slice(0, 20)));
  assert.ok(sandboxed.startsWith("a\r\nb\r\n"), JSON.stringify(sandboxed.slice(0, 20)));
  const opost = (s: string) => / (-?opost) /.exec(s.replaceAll(/\s+/g, " "))?.[1];
  assert.equal(opost(sandboxed), opost(native));
  assert.equal(opost(native), "opost");
});

/** A tmux server of our own (its own socket), driven as a person would drive a terminal. */
class Tmux {
  readonly #socket = `sentry-tty-test-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;

  async #tmux(...args: string[]): Promise<string> {
    const r = await new Deno.Command("tmux", { args: ["-L", this.#socket, ...args], stdout: "piped", stderr: "piped" })
      .output();
    if (!r.success) throw new Error(`tmux ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
    return new TextDecoder().decode(r.stdout);
  }

  start(command: string): Promise<string> {
    return this.#tmux("new-session", "-d", "-s", "t", "-x", "80", "-y", "24", command);
  }

  keys(...keys: string[]): Promise<string> {
    return this.#tmux("send-keys", "-t", "t", ...keys);
  }

  /** Types text literally, then Enter. */
  async line(text: string): Promise<void> {
    await this.#tmux("send-keys", "-t", "t", "-l", text);
    await this.keys("Enter");
  }

  screen(): Promise<string> {
    return this.#tmux("capture-pane", "-t", "t", "-p");
  }

  resize(cols: number, rows: number): Promise<string> {
    return this.#tmux("resize-window", "-t", "t", "-x", String(cols), "-y", String(rows));
  }

  /**
   * Polls the screen until it matches re (the pass condition is what is on the screen, never
   * a sleep). While waiting, `nudge` runs every second (e.g. a key that may have come too early).
   */
  async waitFor(re: RegExp, what: string, nudge?: () => Promise<unknown>): Promise<string> {
    const deadline = Date.now() + 30_000;
    let last = "";
    let nextNudge = Date.now() + 1000;
    while (Date.now() < deadline) {
      last = await this.screen();
      if (re.test(last)) return last;
      if (nudge && Date.now() >= nextNudge) {
        await nudge();
        nextNudge = Date.now() + 1000;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what} (${re}); the screen:\n${last}`);
  }

  async kill(): Promise<void> {
    await this.#tmux("kill-server").catch(() => "");
  }
}

Deno.test("sentry do -t runs bash in tmux: a prompt, echo, ^Z and fg, ^C, stty size after resizes, vi; the terminal is restored", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sentry-tty-" });
  const tm = new Tmux();
  try {
    await tm.start(
      `cd ${REPO_ROOT} && stty -a > ${dir}/before; PS1='tty$ ' ./sentry --root ${dir}/root do -t --id tty-do -- /bin/bash --norc --noprofile; ` +
        `echo "sentry-status-$?"; stty -a > ${dir}/after; sleep 600`,
    );
    await tm.waitFor(/^tty\$\s*$/m, "the prompt");
    await tm.line("tty; echo hi-$((6*7))");
    await tm.waitFor(/^\/dev\/pts\/0\nhi-42$/m, "tty and echo");

    // ^Z stops the foreground job; it may come before bash gave sleep the terminal: repeat.
    await tm.line("sleep 100");
    await tm.waitFor(/Stopped\s+sleep 100/, "the job to stop", () => tm.keys("C-z"));
    await tm.line("fg");
    await tm.waitFor(/^sleep 100\n/m, "fg");
    await untilForeground(`${dir}/root`, "tty-do", "sleep 100");
    await tm.keys("C-c");
    await tm.waitFor(/\^C\ntty\$\s*$/m, "^C to end the job", () => tm.keys("C-c"));
    await tm.line("echo st-$?");
    await tm.waitFor(/^st-130$/m, "the status of the job killed by ^C");

    await tm.line("clear; stty size");
    await tm.waitFor(/^24 80$/m, "the first window size");
    await tm.resize(100, 30);
    await tm.line("clear; stty size");
    await tm.waitFor(/^30 100$/m, "the new window size");

    // vi draws its screen (a message it may show first is answered), edits, and quits.
    await tm.line("vi -u NONE");
    await tm.waitFor(/(^~\s*$[\s\S]*){10}|Press ENTER/m, "vi to start");
    if (/Press ENTER/.test(await tm.screen())) await tm.keys("Enter");
    await tm.waitFor(/(^~\s*$[\s\S]*){10}/m, "vi's screen");
    await tm.keys("i", "hello-vi", "Escape");
    await tm.waitFor(/^hello-vi\s*$/m, "the text typed into vi");
    await tm.keys(":q!", "Enter");
    await tm.line("clear; echo back-$((1+1))");
    await tm.waitFor(/^back-2$/m, "the shell after vi");

    await tm.line("exit 3");
    await tm.waitFor(/^sentry-status-3$/m, "the sentry's exit status");
    // The host terminal left raw mode: its settings are what they were.
    let after = "";
    for (let i = 0; i < 100 && after === ""; i++) {
      after = await Deno.readTextFile(`${dir}/after`).catch(() => "");
      if (after === "") await new Promise((r) => setTimeout(r, 100));
    }
    // (The first line has the window size, which the test changed.)
    const settings = (s: string) => s.split("\n").slice(1).join("\n");
    assert.equal(settings(after), settings(await Deno.readTextFile(`${dir}/before`)));
    assert.match(after, / icanon /);
  } finally {
    await tm.kill();
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Waits until `sentry state` says container id is running, as a container engine asks (its
 * control socket may exist a moment before, while the sandbox is still creating).
 */
/**
 * Waits until the sandbox's process running `cmd` (as `sentry ps` shows it) holds its terminal:
 * /proc/PID/stat's tpgid is its process group. A person presses ^C at a job that runs; pressed
 * while the shell is still handing the terminal over (fork, fg), the signal goes to the
 * shell's own group, and bash then gives up waiting for a job that goes on running.
 */
async function untilForeground(root: string, id: string, cmd: string): Promise<void> {
  const out = async (args: string[]) =>
    new TextDecoder().decode((await new Deno.Command(`${REPO_ROOT}/sentry`, { args: ["--root", root, ...args], stdout: "piped", stderr: "null" }).output()).stdout);
  for (let i = 0; ; i++) {
    const line = (await out(["ps", id])).split("\n").find((l) => l.endsWith(` ${cmd}`));
    const pid = line?.trim().split(/\s+/)[1];
    if (pid !== undefined) {
      const f = (await out(["exec", id, "cat", `/proc/${pid}/stat`])).split(") ")[1]?.split(" ") ?? [];
      if (f.length > 5 && f[2] === f[5]) return; // pgrp === tpgid (fields 5 and 8)
    }
    if (i === 300) throw new Error(`${cmd} never held its terminal`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function untilRunning(root: string, id: string): Promise<void> {
  for (let i = 0; ; i++) {
    const st = await new Deno.Command(`${REPO_ROOT}/sentry`, { args: ["--root", root, "state", id], stdout: "piped", stderr: "null" })
      .output();
    if (st.success && JSON.parse(new TextDecoder().decode(st.stdout)).status === "running") return;
    if (i === 600) throw new Error(`${id} never said it was running`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("exec -t: keystrokes the program does not read yet wait for room in its terminal instead of being dropped", async () => {
  const root = await Deno.makeTempDir();
  const sentry = `${REPO_ROOT}/sentry`;
  const holder = new Deno.Command(sentry, {
    args: ["--root", root, "do", "--id", "tty-input", "--", "/bin/sleep", "120"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let script: Deno.ChildProcess | null = null;
  try {
    await untilRunning(root, "tty-input");
    // The program says when its terminal is raw, then reads nothing for 2 s: 20,000 bytes
    // typed meanwhile overfill the terminal's 4 KiB input buffer; every one must arrive.
    const inner = "stty raw -echo; echo ready; sleep 2; head -c 20000 | wc -c";
    script = new Deno.Command("script", {
      args: ["-q", "-e", "-c", `${sentry} --root ${root} exec -t tty-input -- /bin/sh -c '${inner}'`, "/dev/null"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = script.stdout.getReader();
    let out = "";
    const readUntil = async (re: RegExp, what: string) => {
      const deadline = Date.now() + 60_000;
      while (!re.test(out)) {
        const next = reader.read();
        const timer = new Promise<"late">((r) => setTimeout(() => r("late"), Math.max(0, deadline - Date.now())));
        const r = await Promise.race([next, timer]);
        if (r === "late" || r.done) throw new Error(`no ${what} (output so far: ${JSON.stringify(out)})`);
        out += new TextDecoder().decode(r.value);
      }
    };
    await readUntil(/ready/, "ready");
    const w = script.stdin.getWriter();
    await w.write(new Uint8Array(20000).fill(0x78));
    await readUntil(/\b\d+\s*$/m, "count");
    assert.match(out, /\b20000\b/);
    await w.close();
    reader.releaseLock();
    await script.stdout.cancel();
    await script.stderr.cancel();
    assert.equal((await script.status).code, 0);
    script = null;
  } finally {
    if (script !== null) {
      try {
        script.kill("SIGKILL");
      } catch { /* gone */ }
      await script.status;
      await script.stdout.cancel().catch(() => {});
      await script.stderr.cancel().catch(() => {});
    }
    holder.kill("SIGTERM");
    await holder.status;
    await new Deno.Command(sentry, { args: ["--root", root, "delete", "--force", "tty-input"], stdout: "null", stderr: "null" })
      .output();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("sentry exec -t into a running sandbox is an interactive shell in tmux: its own pty, ^C, its exit status", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sentry-tty-" });
  const root = `${dir}/root`;
  const tm = new Tmux();
  const holder = new Deno.Command(`${REPO_ROOT}/sentry`, {
    args: ["--root", root, "do", "--id", "t1", "--", "/bin/sh", "-c", "sleep 600"],
    stdin: "null", stdout: "null", stderr: "null",
  }).spawn();
  try {
    await untilRunning(root, "t1");
    await tm.start(
      `cd ${REPO_ROOT} && ./sentry --root ${root} exec -t --env 'PS1=ex$ ' t1 /bin/bash --norc --noprofile; ` +
        `echo "exec-status-$?"; sleep 600`,
    );
    await tm.waitFor(/^ex\$\s*$/m, "the prompt");
    await tm.line("tty; echo hi-$((6*7)); cat /proc/1/cmdline | tr '\\0' ' '; echo");
    await tm.waitFor(/^\/dev\/pts\/\d+\nhi-42\n\/bin\/sh -c sleep 600 ?$/m, "tty, echo and the sandbox's init");
    await tm.line("sleep 100");
    // ^C once sleep holds the terminal, as a person would press it (see untilForeground).
    await untilForeground(root, "t1", "sleep 100");
    await tm.keys("C-c");
    await tm.waitFor(/\^C\nex\$\s*$/m, "^C to end sleep", () => tm.keys("C-c"));
    await tm.line("echo st-$?");
    await tm.waitFor(/^st-130$/m, "the status of the job killed by ^C");
    await tm.line("exit 5");
    await tm.waitFor(/^exec-status-5$/m, "exec's exit status");
    // The sandbox goes on without its exec'd shell.
    const st = await new Deno.Command(`${REPO_ROOT}/sentry`, { args: ["--root", root, "state", "t1"], stdout: "piped" }).output();
    assert.equal(JSON.parse(new TextDecoder().decode(st.stdout)).status, "running");
  } finally {
    await tm.kill();
    await new Deno.Command(`${REPO_ROOT}/sentry`, { args: ["--root", root, "delete", "--force", "t1"], stdout: "null", stderr: "null" }).output();
    await holder.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an interactive bash on sentry do -t with a running and a stopped background job is checkpointed mid-command and restored with restore -t in tmux: typed-ahead input, jobs, fg, ^C and the exit status", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sentry-tty-" });
  const root = `${dir}/root`, image = `${dir}/image.cbor`;
  const tm = new Tmux();
  const sentry = (...args: string[]) =>
    new Deno.Command(`${REPO_ROOT}/sentry`, { args: ["--root", root, ...args], stdin: "null", stdout: "piped", stderr: "piped" }).output();
  try {
    // The checkpoint ends the first sentry; the same terminal then restores the image.
    await tm.start(
      `cd ${REPO_ROOT} && PS1='tty$ ' ./sentry --root ${root} do --id tty-ckpt -t -- /bin/bash --norc --noprofile; ` +
        `echo "ckpt-status-$?"; ./sentry --root ${root} restore -t --id tty-ckpt2 ${image}; echo "restore-status-$?"; sleep 600`,
    );
    await tm.waitFor(/^tty\$\s*$/m, "the prompt");
    await tm.line("sleep 1000 &");
    await tm.waitFor(/^\[1\] \d+\ntty\$\s*$/m, "the background job");
    await tm.line("sleep 200");
    await tm.waitFor(/Stopped\s+sleep 200/, "the second job to stop", () => tm.keys("C-z"));
    // A foreground command, and a line typed ahead while it runs (once it runs: typed while
    // readline still had the terminal raw, it would not be echoed): the terminal holds it.
    await tm.line("sleep 5; echo fg-$((40+2))");
    for (let i = 0; ; i++) {
      const ps = await sentry("ps", "tty-ckpt");
      if (/ sleep 5\n/.test(new TextDecoder().decode(ps.stdout))) break;
      if (i === 600) throw new Error("sleep 5 never ran");
      await new Promise((r) => setTimeout(r, 50));
    }
    await tm.line("echo typed-$((2+3))");
    await tm.waitFor(/^echo typed-\$\(\(2\+3\)\)\s*$/m, "the typed-ahead line's echo");
    const ck = await sentry("checkpoint", "--image", image, "tty-ckpt");
    assert.equal(new TextDecoder().decode(ck.stderr), "");
    assert.equal(ck.code, 0);
    await tm.waitFor(/ckpt-status-0/, "the first sentry to end");
    // Restored: the foreground command ends, then bash reads the line typed ahead.
    await tm.waitFor(/^fg-42\ntty\$ echo typed-\$\(\(2\+3\)\)\ntyped-5\ntty\$\s*$/m, "the command and the typed-ahead line");
    await tm.line("jobs; tty");
    await tm.waitFor(/^\[1\]-\s+Running\s+sleep 1000 &\n\[2\]\+\s+Stopped\s+sleep 200\n\/dev\/pts\/0$/m, "the jobs and the terminal");
    await tm.line("fg %1");
    await tm.waitFor(/^tty\$ fg %1\nsleep 1000$/m, "fg of the running job");
    await untilForeground(root, "tty-ckpt2", "sleep 1000");
    await tm.keys("C-c");
    await tm.waitFor(/\^C\ntty\$\s*$/m, "^C to end it", () => tm.keys("C-c"));
    await tm.line("echo st-$?");
    await tm.waitFor(/^st-130$/m, "the status of the job killed by ^C");
    await tm.line("fg");
    await tm.waitFor(/^tty\$ fg\nsleep 200$/m, "fg of the stopped job");
    await untilForeground(root, "tty-ckpt2", "sleep 200");
    await tm.keys("C-c");
    await tm.waitFor(/\^C\ntty\$\s*$/m, "^C to end it", () => tm.keys("C-c"));
    await tm.line("clear; jobs; echo none-$?; stty size");
    await tm.waitFor(/^none-0\n24 80$/m, "no jobs left, the window size");
    await tm.line("exit 7");
    await tm.waitFor(/^restore-status-7$/m, "the restored sandbox's exit status");
  } finally {
    await tm.kill();
    await sentry("delete", "--force", "tty-ckpt").catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a slave's default termios, packet mode, the master's poll after the slave closed, master writes beyond the input buffer and TIOCGPTPEER's controlling terminal behave as natively", async () => {
  await assertSameAsNative([await compileC("pty_packet")]);
});
