/**
 * Checkpoint and restore (issue #13) of kernel state beyond tasks, memory and files: seccomp,
 * System V IPC, POSIX message queues (docs/checkpoint.md). Each is a differential test: a C
 * program checkpointed mid-run through the CLI once it says it is ready, and restored, prints
 * what it prints natively; hand-made hostile entries are refused with one line and status 125.
 */

import assert from "node:assert/strict";
import { loadCodecs } from "../kernel/checkpoint/image.ts";
import { readSandboxImage } from "../kernel/checkpoint/sandbox_schema.ts";
import { compileC } from "./_harness.ts";
import { nativeOutput, refusedRestores, roundTrip } from "./_checkpoint.ts";

// readSandboxImage and writeImage use cbor-x and node:zlib, loaded on demand.
await loadCodecs();

/**
 * Runs `exe` under `sentry do` until it prints "armed" (it then waits on stdin for the
 * checkpoint: tests/c/_ckpt.h), checkpoints it, and restores the image: what it printed first is
 * "armed\n" and, with the restore's output, `expected` (restoring twice is the counter's test). Returns the image's path (in
 * `dir`).
 */
async function roundTripArmed(dir: string, exe: string, args: string[], expected: string): Promise<string> {
  const image = `${dir}/image.cbor`;
  await roundTrip({ argv: [exe, ...args], ready: "armed\n", image, before: "armed\n", expected });
  return image;
}

Deno.test("sentry do --checkpoint-image then sentry restore: seccomp strict mode and filters (TSYNC over a thread, TRAP, ERRNO) go on filtering as natively", async () => {
  const exe = await compileC("ckpt_seccomp", { static: true });
  const want = await nativeOutput(exe);
  assert.equal(
    want,
    "armed\n" +
      "main: getuid -1 errno 11, getgid -1 errno 22, getppid trapped nr 110 data 7 code 1\n" +
      "thread: getuid -1 errno 11, getgid -1 errno 22, getppid trapped nr 110 data 7 code 1\n" +
      "child: strict mode read and wrote\nchild: signaled 1 signal 9\nthird filter with TSYNC: 0\n" +
      "thread: getegid -1 errno 33\nmain: getegid -1 errno 33\nSeccomp:\t2\nSeccomp_filters:\t3\n",
  );
  const dir = Deno.makeTempDirSync();
  try {
    const image = await roundTripArmed(dir, exe, [], want);
    const s = readSandboxImage(image, "/").state;
    // The strict child's state, and one list of two filters shared by main and its thread.
    assert.deepEqual(s.seccompStates?.map((x) => [x.mode, x.filters.length]).sort(), [[1, 0], [2, 2]]);
    assert.equal(s.seccompFilters?.length, 2);
    const filterState = s.seccompStates!.findIndex((x) => x.mode === 2);
    await refusedRestores(image, [
      ["a filter that loads past seccomp_data", (s) => {
        const p = s.seccompFilters![0]!;
        new DataView(p.buffer, p.byteOffset).setUint32(4, 64, true);
      }, /seccomp filter 0 is not a program seccomp\(2\) accepts/],
      ["a filter that jumps out of itself", (s) => {
        const p = s.seccompFilters![1]!;
        p[8 + 2] = 200; // the first jump's jt
      }, /seccomp filter 1 is not a program seccomp\(2\) accepts/],
      ["a filter of 3 bytes", (s) => void (s.seccompFilters![0] = new Uint8Array(3)), /not a usable checkpoint image/],
      ["a filter twice in one list", (s) => {
        const st = s.seccompStates![filterState]!;
        st.filters = [st.filters[0]!, st.filters[0]!];
      }, /names filter \d+ twice/],
      ["a filter past the table", (s) => void (s.seccompStates![filterState]!.filters[0] = 9), /names filter 9 twice or of 2/],
      ["strict mode with a filter", (s) => void (s.seccompStates![filterState]!.mode = 1), /strict mode has no filter/],
      ["filter mode without one", (s) => void (s.seccompStates![filterState]!.filters = []), /strict mode has no filter, filter mode at least one/],
      ["a task naming a missing state", (s) => {
        const t = s.processes.flatMap((p) => p.tasks).find((t) => t.seccomp === filterState)!;
        t.seccomp = 7;
      }, /seccomp state 7|used by no task/],
      ["a filter in two chains", (s) => {
        const [a, b] = s.seccompStates![filterState]!.filters as [number, number];
        s.seccompStates!.push({ mode: 2, filters: [b, a] });
        const t = s.processes.flatMap((p) => p.tasks).filter((t) => t.seccomp === filterState)[1]!;
        t.seccomp = s.seccompStates!.length - 1;
      }, /follows two different chains/],
      ["an unused filter", (s) => void s.seccompFilters!.push(s.seccompFilters![0]!.slice()), /a seccomp filter no state holds/],
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("sentry do --checkpoint-image then sentry restore: System V shm (attached by two processes, one marked for destruction), a semaphore set with SEM_UNDO, message queues and POSIX message queues (unlinked, mq_notify) end as natively", async () => {
  const exe = await compileC("ckpt_ipc", { static: true });
  const want = await nativeOutput(exe);
  assert.match(want, /^armed\nkeys: sem same id 1, shm key freed 1\n/);
  assert.match(want, /child exit 0; sem1 after its exit 0; parent reads 'child was here'; nattch shm 1\n/);
  assert.match(want, /notified 1 code -3 value 77\n/);
  const dir = Deno.makeTempDirSync();
  try {
    const image = await roundTripArmed(dir, exe, [], want);
    const s = readSandboxImage(image, "/").state;
    assert.deepEqual([s.sysvIpc?.shm.length, s.sysvIpc?.sem.length, s.sysvIpc?.msg.length, s.sysvIpc?.semUndo.length], [2, 1, 1, 1]);
    assert.deepEqual(s.mqueues?.queues.map((q) => [q.name, q.linked, q.messages.length]).sort(), [
      ["ckpt-gone", false, 1], ["ckpt-main", true, 3], ["ckpt-note", true, 0],
    ]);
    type S = typeof s;
    const ipc = (s: S) => s.sysvIpc!;
    const mq = (s: S) => s.mqueues!;
    const named = (s: S, n: string) => mq(s).queues.find((q) => q.name === n)!;
    await refusedRestores(image, [
      ["an id that disagrees with its sequence number", (s) => void (ipc(s).sem[0]!.perm.seq += 1), /does not agree with its sequence number/],
      ["two objects in one slot", (s) => void ipc(s).msg.push({ ...ipc(s).msg[0]!, perm: { ...ipc(s).msg[0]!.perm, key: 99 } }), /slot is taken/],
      ["a key twice", (s) => {
        const m = ipc(s).msg[0]!;
        m.perm.key = 5;
        ipc(s).msg.push({ ...m, id: m.id + 1, perm: { ...m.perm } });
      }, /key 5 twice/],
      ["a semaphore above SEMVMX", (s) => void (ipc(s).sem[0]!.sems[0]![0] = 40000), /not a usable checkpoint image/],
      ["a segment whose memory is not a memfd", (s) => void (ipc(s).shm[0]!.file = s.fdTables[0]!.slots[0]!.file), /not a memfd of its size held by it alone/],
      ["a segment larger than its memfd", (s) => void (ipc(s).shm[0]!.size += 4096), /not a memfd of its size held by it alone/],
      ["two segments on one memfd", (s) => void (ipc(s).shm[1]!.file = ipc(s).shm[0]!.file), /not a memfd of its size held by it alone|a file no descriptor/],
      ["a message longer than MSGMAX", (s) => void (ipc(s).msg[0]!.messages[0]!.data = new Uint8Array(9000)), /longer than MSGMAX/],
      ["undo adjustments of a process that is not there", (s) => void (ipc(s).semUndo[0]!.tgid = 4000), /process 4000, twice or not a live process/],
      ["undo adjustments of the wrong size", (s) => void ipc(s).semUndo[0]!.sets[0]!.adj.push(1), /name set \d+ wrongly/],
      ["a queue name with a slash", (s) => void (named(s, "ckpt-main").name = "a/b"), /a message queue named "a\/b"/],
      ["two queues of one name", (s) => void (named(s, "ckpt-note").name = "ckpt-main"), /two message queues named ckpt-main/],
      ["more messages than maxmsg", (s) => void (named(s, "ckpt-main").maxmsg = 2), /more messages than its maxmsg/],
      ["messages out of priority order", (s) => void named(s, "ckpt-main").messages.reverse(), /out of priority order/],
      ["a message longer than msgsize", (s) => void (named(s, "ckpt-main").messages[0]!.data = new Uint8Array(65)), /longer than its msgsize/],
      ["an unlinked queue nothing holds", (s) => {
        for (const f of s.files) if (f.kind === "mqueue" && f.queue === mq(s).queues.indexOf(named(s, "ckpt-gone"))) f.queue = 0;
      }, /unlinked and no descriptor holds it/],
      ["a descriptor of a queue past the table", (s) => {
        const f = s.files.find((f) => f.kind === "mqueue")!;
        if (f.kind === "mqueue") f.queue = 9;
      }, /names message queue 9 of 3/],
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("sentry do --checkpoint-image then sentry restore: /proc files go on in the rendering they were read in, unread ones render the restored sandbox, pidfds of a live and a zombie child and signalfds whose makers exited work, as natively", async () => {
  const exe = await compileC("ckpt_procfd", { static: true });
  const want = await nativeOutput(exe, ["a", "bc"]);
  assert.match(want, /^armed\ncmdline continues: 1 .*\nstat renders the restored process: 1\nchild's cmdline: 1\nuptime at its end: 0\n/);
  assert.match(want, /pidfds readable: zombie 1, live 0\nwaitid zombie: 0 pid ok 1 status 7\nlive child exited: readable 1, waitid 0 status 3\n/);
  assert.match(want, /grandchild read signal 10 .*\ngrandchild read signal 12 .*\nsignalfd makers exited with 5 and 5\n$/);
  const dir = Deno.makeTempDirSync();
  try {
    const image = await roundTripArmed(dir, exe, ["a", "bc"], want);
    const s = readSandboxImage(image, "/").state;
    type S = typeof s;
    const kern = (s: S) => s.files.filter((f) => f.kind === "kernfile");
    const pidfds = (s: S) => s.files.filter((f) => f.kind === "pidfd");
    assert.equal(kern(s).length, 4);
    assert.equal(pidfds(s).length, 2);
    await refusedRestores(image, [
      ["a path that is no /proc file", (s) => void (kern(s)[0]!.path = "/etc/passwd"), /\/etc\/passwd is not a file of \/proc or \/sys/],
      ["a path that is not there", (s) => void (kern(s)[0]!.path = "/proc/4000/status"), /cannot reopen \/proc\/4000\/status/],
      ["a relative path", (s) => void (kern(s)[0]!.path = "proc/self/stat"), /not a usable checkpoint image/],
      ["a pidfd of a process the image lacks", (s) => void (pidfds(s)[0]!.tgid = 4000), /a pidfd names process 4000/],
      ["a signalfd of a reaped process named as a zombie", (s) => {
        const f = s.files.find((f) => f.kind === "signalfd" && f.exited?.zombie === false);
        if (f?.kind === "signalfd") f.exited!.zombie = true;
      }, /a signalfd names process \d+, which the image does not hold as a zombie/],
      ["a signalfd of a zombie named as live", (s) => {
        const f = s.files.find((f) => f.kind === "signalfd" && f.exited?.zombie === true);
        if (f?.kind === "signalfd") delete f.exited;
      }, /a signalfd names process \d+, which the image does not run/],
      ["a thread pidfd without PIDFD_THREAD", (s) => void (pidfds(s)[0]!.tid = pidfds(s)[0]!.tgid), /PIDFD_THREAD without a thread, or the reverse/],
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("sentry do --checkpoint-image then sentry restore: NETLINK_ROUTE sockets keep their port ids, groups, options and an unread dump, as natively", async () => {
  const exe = await compileC("ckpt_netlink", { static: true });
  const want = await nativeOutput(exe);
  assert.equal(
    want,
    "armed\ndump asked before: some messages 1, seq and port ok 1, lo 1, done 1\nports kept: 1 1\n" +
      "groups 1, cap_ack 1, rcvbuf 131072\ndump asked after: some messages 1, seq and port ok 1, lo 1, done 1\n",
  );
  const dir = Deno.makeTempDirSync();
  try {
    const image = await roundTripArmed(dir, exe, [], want);
    const s = readSandboxImage(image, "/").state;
    type S = typeof s;
    const nl = (s: S) => s.files.filter((f) => f.kind === "netlink");
    assert.equal(nl(s).length, 2);
    assert.ok(nl(s).some((f) => f.rx.length > 0), "the unread dump is in the image");
    await refusedRestores(image, [
      ["a port id twice", (s) => void (nl(s)[1]!.portId = nl(s)[0]!.portId), /two netlink sockets with port id \d+/],
      ["a netlink socket of another protocol", (s) => void ((nl(s)[0] as { kind: string }).kind = "netlink-netfilter"), /not a usable checkpoint image/],
      ["a receive buffer below Linux's minimum", (s) => void (nl(s)[0]!.rcvBuf = 100), /not a usable checkpoint image/],
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("sentry do --checkpoint-image then sentry restore: CPU affinity, a NUMA policy and a chroot are kept, as natively", async () => {
  const exe = await compileC("ckpt_sched", { static: true });
  const want = await nativeOutput(exe);
  assert.equal(
    want,
    "armed\nmain: cpus 1 cpu0 1, mempolicy mode 2 flags 0x8000 nodes 1\nchild: cpus 1 cpu0 1, mempolicy mode 2 flags 0x8000 nodes 1\n" +
      "child: /marker 18 'inside the chroot', cwd /, the sandbox's directory seen 0\nchild exit 0\n",
  );
  const dir = Deno.makeTempDirSync();
  try {
    const image = await roundTripArmed(dir, exe, [], want);
    const s = readSandboxImage(image, "/").state;
    type S = typeof s;
    const tasks = (s: S) => s.processes.flatMap((p) => p.tasks);
    assert.ok(tasks(s).every((t) => t.affinity === "1" && t.memPolicy?.nodes === "1"));
    assert.equal(s.fsContexts.filter((f) => f.root !== undefined).length, 1);
    await refusedRestores(image, [
      ["MPOL_LOCAL with nodes", (s) => void (tasks(s)[0]!.memPolicy!.mode = 4), /NUMA policy \(mode 4, flags 32768\) is not one set_mempolicy makes/],
      ["static and relative nodes", (s) => void (tasks(s)[0]!.memPolicy!.flags = (1 << 15) | (1 << 14)), /is not one set_mempolicy makes/],
      ["a node past MAX_NUMNODES", (s) => void (tasks(s)[0]!.memPolicy!.nodes = "1" + "0".repeat(256)), /not a usable checkpoint image/],
      ["a root that is gone", (s) => void (s.fsContexts.find((f) => f.root !== undefined)!.root = "/nonexistent-root"), /the root directory \/nonexistent-root of a chrooted task is gone/],
      ["a relative root", (s) => void (s.fsContexts.find((f) => f.root !== undefined)!.root = "tmp"), /not a usable checkpoint image/],
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("sentry do --checkpoint-image then sentry restore: processes sharing signal handlers without CLONE_THREAD share them still, and a POSIX timer whose thread exited is kept, as natively", async () => {
  const exe = await compileC("ckpt_sighand", { static: true });
  const want = await nativeOutput(exe);
  assert.equal(
    want,
    "armed\nchild exit 0, handler ran in the child 1, SIGUSR2 ignored for the parent too 1\n" +
      "timer of an exited thread: created 0, gettime 0 value 0, delete 0\n",
  );
  const dir = Deno.makeTempDirSync();
  try {
    const image = await roundTripArmed(dir, exe, [], want);
    const s = readSandboxImage(image, "/").state;
    type S = typeof s;
    const sharer = (s: S) => s.processes.find((p) => p.handlersOf !== undefined)!;
    assert.equal(sharer(s).handlersOf, s.init);
    await refusedRestores(image, [
      ["handlers shared with itself", (s) => void (sharer(s).handlersOf = sharer(s).tgid), /shares the signal handlers of \d+, which is not an earlier live process/],
      ["handlers shared with a process the image lacks", (s) => void (sharer(s).handlersOf = 4000), /shares the signal handlers of 4000/],
      ["handlers that differ from the table shared", (s) => void (sharer(s).handlers[10]![1] = 4), /not an earlier live process with the same ones/],
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("sentry do --checkpoint-image then sentry restore: keyrings keep their serial numbers, names and descriptions, a user key its payload and link, a revoked key its state, as natively", async () => {
  const exe = await compileC("ckpt_keys", { static: true });
  const want = await nativeOutput(exe);
  assert.equal(
    want,
    "armed\nsame ids: session 1 process 1 user 1\ndescribe 'keyring;0;0;3f130000;ckpt-ring' same 1\n" +
      "user key reads 8 'payload!', process keyring holds it 1, revoked read -1\n" +
      "a child joining the name gets the same keyring: 0\n",
  );
  const dir = Deno.makeTempDirSync();
  try {
    const image = await roundTripArmed(dir, exe, [], want);
    const s = readSandboxImage(image, "/").state;
    assert.ok((s.keyrings?.keys.length ?? 0) >= 3);
    await refusedRestores(image, [
      ["a serial twice", (s) => void (s.keyrings!.keys[1]!.serial = s.keyrings!.keys[0]!.serial), /keyring \d+ twice/],
      ["a task naming a missing keyring", (s) => void (s.processes[0]!.tasks[0]!.sessionKeyring = 12345), /names keyring 12345, which the image lacks/],
      ["a user keyring of another owner", (s) => {
        const u = s.keyrings!.keys.find((k) => k.user !== null)!;
        u.uid = 7;
      }, /user keyring _uid(_ses)?\.0 twice, or not its owner's/],
      ["serial 1", (s) => void (s.keyrings!.keys[0]!.serial = 1), /not a usable checkpoint image/],
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
