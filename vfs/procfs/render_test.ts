import assert from "node:assert/strict";
import { Credentials } from "../../kernel/creds.ts";
import {
  escapeMountField, mapsLine, memoryTotals, renderFdinfo, renderLimits, renderLoadavg, renderMaps,
  renderMeminfo, renderProcStat, renderStat, renderStatm, renderStatus, renderUptime,
  renderVmstat,
} from "./render.ts";
import { FAKE_SYSTEM, FakeProcess } from "./_fake_source.ts";
import type { ProcMemory } from "./source.ts";

const MEM: ProcMemory = {
  vmas: [
    { start: 0x555555554000, end: 0x555555556000, prot: 1, shared: false, offset: 0, dev: 0xfe00, ino: 260131, name: "/usr/bin/cat" },
    { start: 0x555555556000, end: 0x55555555b000, prot: 5, shared: false, offset: 0x2000, dev: 0xfe00, ino: 260131, name: "/usr/bin/cat" },
    { start: 0x555555560000, end: 0x555555581000, prot: 3, shared: false, offset: 0, dev: 0, ino: 0, name: "[heap]" },
    { start: 0x7ffff7d58000, end: 0x7ffff7d7a000, prot: 3, shared: false, offset: 0, dev: 0, ino: 0, name: "" },
    { start: 0x7ffff7e03000, end: 0x7ffff7f59000, prot: 5, shared: false, offset: 0x26000, dev: 0xfe00, ino: 339380, name: "/usr/lib/libc.so.6" },
    { start: 0x7ffff7f59000, end: 0x7ffff7f5a000, prot: 0, shared: false, offset: 0, dev: 0, ino: 0, name: "" },
    { start: 0x7ffffffde000, end: 0x7ffffffff000, prot: 3, shared: false, offset: 0, dev: 0, ino: 0, name: "[stack]" },
  ],
  brkStart: 0x555555560000, brk: 0x555555581000, stackStart: 0x7ffffffde000,
  argStart: 0x7fffffffe000, argEnd: 0x7fffffffe010, envStart: 0x7fffffffe010, envEnd: 0x7fffffffe020,
};

function process(): FakeProcess {
  const p = new FakeProcess(42);
  p.ppid = 1;
  p.pgid = 40;
  p.sid = 1;
  p.comm = "cat";
  p.threads = [{ tid: 42, comm: "cat", state: "R", sigPending: 0n, sigBlocked: 1n << 1n }];
  p.state = "R";
  p.mem = MEM;
  p.creds = new Credentials(1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, [4, 27]);
  return p;
}

Deno.test("maps lines are padded to column 73 for named mappings and end in a space otherwise", () => {
  assert.equal(
    mapsLine(MEM.vmas[1]!),
    "555555556000-55555555b000 r-xp 00002000 fe:00 260131                     /usr/bin/cat",
  );
  assert.equal(mapsLine(MEM.vmas[3]!), "7ffff7d58000-7ffff7d7a000 rw-p 00000000 00:00 0 ");
  assert.equal(mapsLine(MEM.vmas[5]!), "7ffff7f59000-7ffff7f5a000 ---p 00000000 00:00 0 ");
  assert.equal(renderMaps(MEM).split("\n").length, MEM.vmas.length + 1);
  assert.equal(renderMaps(null), "");
});

Deno.test("stat is one line of 52 fields with the comm in parentheses and times in clock ticks", () => {
  const p = process();
  p.comm = "my prog) x";
  const line = renderStat(p, null, "/usr/bin/cat");
  assert.ok(line.endsWith("\n"));
  // The comm may hold spaces and parentheses: parsers split after the last ')'.
  const after = line.slice(line.lastIndexOf(")") + 2).trimEnd().split(" ");
  assert.equal(after.length, 50);
  assert.ok(line.startsWith("42 (my prog) x) R 1 40 1 0 -1 "));
  assert.equal(after[11], "12"); // utime: 120 ms
  assert.equal(after[12], "3"); // stime: 30 ms
  assert.equal(after[17], "1"); // num_threads
  assert.equal(after[19], "250"); // starttime: 2.5 s after boot
  const t = memoryTotals(MEM, "/usr/bin/cat");
  assert.equal(after[20], String(t.size));
  assert.equal(after[21], String(t.rss / 4096));
  assert.equal(after[23], String(0x555555556000)); // startcode: the exe's text
  assert.equal(after[24], String(0x55555555b000));
  assert.equal(after[29], "2"); // blocked (field 32): SIGINT's bit
});

Deno.test("a thread's stat shows its tid and comm", () => {
  const p = process();
  const line = renderStat(p, { tid: 43, comm: "worker", state: "S", sigPending: 0n, sigBlocked: 0n }, null);
  assert.ok(line.startsWith("43 (worker) S 1 40 1 "));
});

Deno.test("status has Linux's tab-separated fields, ids, groups and memory in kB", () => {
  const text = renderStatus(process(), null, "/usr/bin/cat", 64, 2);
  const field = (k: string) => text.split("\n").find((l) => l.startsWith(k + ":"))?.slice(k.length + 1);
  assert.equal(field("Name"), "\tcat");
  assert.equal(field("State"), "\tR (running)");
  assert.equal(field("Tgid"), "\t42");
  assert.equal(field("PPid"), "\t1");
  assert.equal(field("Uid"), "\t1000\t1000\t1000\t1000");
  assert.equal(field("Groups"), "\t4 27 ");
  assert.equal(field("Umask"), "\t0022");
  assert.equal(field("CapEff"), "\t0000000000000000");
  assert.equal(field("SigBlk"), "\t0000000000000002");
  assert.equal(field("Cpus_allowed_list"), "\t0-1");
  const t = memoryTotals(MEM, "/usr/bin/cat");
  assert.equal(field("VmSize"), `\t${String(t.size / 1024).padStart(8)} kB`);
  assert.equal(field("VmStk"), `\t${String(0x21000 / 1024).padStart(8)} kB`);
  assert.equal(field("VmExe"), `\t${String(0x5000 / 1024).padStart(8)} kB`);
});

Deno.test("a zombie's status has no Vm lines and its state is Z (zombie)", () => {
  const p = process();
  p.mem = null;
  p.state = "Z";
  p.threads = [];
  const text = renderStatus(p, null, null, 64, 1);
  assert.ok(text.includes("State:\tZ (zombie)\n"));
  assert.ok(!text.includes("VmSize"));
  assert.ok(text.includes("Threads:\t1\n"));
});

Deno.test("memory totals leave inaccessible mappings out of the resident size", () => {
  const t = memoryTotals(MEM, "/usr/bin/cat");
  const all = MEM.vmas.reduce((s, v) => s + v.end - v.start, 0);
  assert.equal(t.size, all);
  assert.equal(t.rss, all - 0x1000);
  assert.equal(t.lib, 0x156000);
  assert.equal(renderStatm(process(), "/usr/bin/cat").split(" ").length, 7);
});

Deno.test("limits lines up its columns as Linux and shows unlimited", () => {
  const inf = 0xffff_ffff_ffff_ffffn;
  const rows = Array.from({ length: 16 }, () => ({ cur: inf, max: inf }));
  rows[3] = { cur: 8388608n, max: inf };
  const lines = renderLimits(rows).split("\n");
  assert.equal(lines[0], "Limit                     Soft Limit           Hard Limit           Units     ");
  assert.equal(lines[4], "Max stack size            8388608              unlimited            bytes     ");
  assert.equal(lines[14], "Max nice priority         unlimited            unlimited                      ");
  assert.equal(lines.length, 18);
});

Deno.test("meminfo starts with the fields free reads, right-aligned in kB", () => {
  const lines = renderMeminfo(FAKE_SYSTEM).split("\n");
  assert.equal(lines[0], "MemTotal:        4194304 kB");
  assert.equal(lines[1], "MemFree:         4128768 kB");
  assert.equal(lines[2], "MemAvailable:    4128768 kB");
  assert.ok(lines.includes("SwapTotal:             0 kB"));
  assert.ok(lines.includes("HugePages_Total:       0"));
});

Deno.test("vmstat gives free and anonymous pages from the memory figures, and the paging counters vmstat reads", () => {
  const rows = new Map(renderVmstat(FAKE_SYSTEM).trimEnd().split("\n").map((l) => {
    const [k, v] = l.split(" ");
    return [k!, Number(v)];
  }));
  assert.equal(rows.get("nr_free_pages"), 4128768 / 4);
  assert.equal(rows.get("nr_anon_pages"), (4194304 - 4128768) / 4);
  for (const k of ["pgpgin", "pgpgout", "pswpin", "pswpout"]) assert.equal(rows.get(k), 0, k);
});

Deno.test("uptime, loadavg and stat agree on the time since boot", () => {
  assert.equal(renderUptime(FAKE_SYSTEM, 1e9), "12.34 23.68\n");
  assert.equal(renderLoadavg(FAKE_SYSTEM, 1, 3), "0.00 0.00 0.00 1/3 7\n");
  const stat = renderProcStat(FAKE_SYSTEM, 1e9, 1, 0).split("\n");
  assert.equal(stat[0], "cpu  100 0 0 2368 0 0 0 0 0 0");
  assert.equal(stat[1], "cpu0 50 0 0 1184 0 0 0 0 0 0");
  assert.ok(stat.includes("btime 1700000000"));
  assert.ok(stat.includes("processes 7"));
});

Deno.test("mount fields escape spaces, tabs, newlines and backslashes in octal", () => {
  assert.equal(escapeMountField("/a b\\c\td\n"), "/a\\040b\\134c\\011d\\012");
});

Deno.test("fdinfo shows the offset, octal flags with O_CLOEXEC, mount id and inode", () => {
  assert.equal(renderFdinfo(5, 0o100002, true, 3, 77), "pos:\t5\nflags:\t02100002\nmnt_id:\t3\nino:\t77\n");
});
