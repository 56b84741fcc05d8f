/**
 * What a `sentry do` imports before init runs, from the module graph (`deno info`): main.ts,
 * and boot/mod.ts, boot/loader.ts and boot/control_server.ts, which it imports as it starts,
 * with everything they import statically. Two kinds of module stay out of it, each worth
 * ~10-30 ms of CPU per start (docs/kernel.md, "Start-up"): `node:` modules (importing any
 * starts Deno's Node layer) and the code loaded at its first use (kernel/lazy_module.ts: the
 * network's modules, kernel/net_modules.ts, and the syscall families of LAZY_FAMILIES). A
 * static import that pulls one in would still work, only slower: this test says which. So
 * does it for what only a config.json needs (zod's schemas, linux.seccomp's compiler), and for
 * what loads at its first use behind a hooks module (fanotify, file handles, userfaultfd).
 *
 * @module
 */

import assert from "node:assert/strict";
import { REPO_ROOT } from "./_harness.ts";

interface InfoModule {
  specifier: string;
  kind?: string;
  dependencies?: { specifier: string; code?: { specifier: string }; isDynamic?: boolean }[];
}

const STARTUP_ROOTS = ["main.ts", "boot/mod.ts", "boot/loader.ts", "boot/control_server.ts"];

/** main.ts's module graph as `deno info` gives it, and the static closure of some of its modules. */
async function mainGraph() {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", `${REPO_ROOT}/deno.json`, `${REPO_ROOT}/main.ts`],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(r.success, "deno info failed");
  const info = JSON.parse(new TextDecoder().decode(r.stdout)) as { modules: InfoModule[] };
  const base = new URL(`file://${REPO_ROOT}/`).href;
  const byUrl = new Map(info.modules.map((m) => [m.specifier, m]));
  const rel = (url: string) => url.startsWith(base) ? url.slice(base.length) : url;
  /** The static closure of `roots`, each module with the one that imported it first (`label` for a root). */
  const closure = (roots: string[], label: string) => {
    const importer = new Map<string, string>();
    const todo = roots.map((p) => new URL(p, base).href);
    for (const t of todo) importer.set(t, label);
    while (todo.length > 0) {
      const m = byUrl.get(todo.pop()!);
      for (const d of m?.dependencies ?? []) {
        const to = d.code?.specifier;
        if (to === undefined || d.isDynamic || importer.has(to)) continue;
        importer.set(to, m!.specifier);
        todo.push(to);
      }
    }
    return importer;
  };
  return { base, byUrl, rel, closure };
}

Deno.test("a sandbox's start imports no node: module, nor the network's modules or a syscall family loaded at its first call", async () => {
  const { base, byUrl, rel, closure } = await mainGraph();
  // The static closure of the roots, each module with the one that imported it first.
  const importer = closure(STARTUP_ROOTS, "(start)");
  const loaded = [...importer.keys()];

  const nodeModules = loaded.filter((u) => u.startsWith("node:") || u.startsWith("npm:"));
  assert.deepEqual(nodeModules.map((u) => `${u} (imported by ${rel(importer.get(u)!)})`), []);

  // The modules only the lazy code reaches: the static closure of each lazy entry, less what
  // the start loads anyway.
  const { LAZY_FAMILIES } = await import("../kernel/syscalls/linux/table_amd64.ts");
  const lazyEntries = ["kernel/net_modules.ts", ...LAZY_FAMILIES.map((f) => `kernel/syscalls/linux/${f.name}.ts`)];
  for (const entry of lazyEntries) {
    const url = new URL(entry, base).href;
    assert.ok(byUrl.has(url), `${entry} is in main.ts's graph`);
    assert.ok(!importer.has(url), `${entry} is imported at start, by ${rel(importer.get(url) ?? "")}`);
  }
  // The network's heavy parts by directory (kernel/socket/socket.ts, the contract every socket
  // file implements, and two small modules Net holds are shared).
  const shared = new Set(["kernel/socket/socket.ts", "kernel/socket/unix/namespace.ts", "kernel/socket/sockopt.ts"]);
  const network = loaded.map(rel).filter((p) =>
    /^(netstack|kernel\/socket|kernel\/nftables|kernel\/netfilter)\//.test(p) && !shared.has(p)
  );
  assert.deepEqual(network.map((p) => `${p} (imported by ${rel(importer.get(new URL(p, base).href)!)})`), []);

  // What only a config.json needs (loadSpecSchema loads both): `sentry do` never reads one.
  // Loaded with their syscalls' lazy families: the hot paths ask only a hooks module ("is any
  // permission mark there?": kernel/fanotify_hooks.ts; the fault stop: kernel/userfaultfd_hooks.ts).
  // /proc's entries load at the first lookup in /proc (vfs/procfs/procfs.ts procTree), the kernel's
  // side of them at their first use (kernel/proc_source_load.ts); the host's network devices
  // only for a config.json that names a network namespace (boot/host_nics.ts). The loop driver
  // loads at the first open of a loop node (kernel/loop_load.ts), the mount of a block device
  // with mount(2)'s family, a disk filesystem's driver at its first mount (vfs/block/filesystems.ts);
  // /sys's tree at the first lookup in /sys (vfs/sysfs/sysfs.ts sysBlock).
  const firstUse = ["kernel/fanotify.ts", "vfs/fhandle.ts", "kernel/userfaultfd.ts", "vfs/procfs/proc_tree.ts", "kernel/proc_source.ts",
    "platform/ptrace/host_netns.ts", "kernel/net_packet.ts", "kernel/loop.ts", "kernel/block_mount.ts", "vfs/ext2/ext2.ts",
    "vfs/sysfs/block.ts"].filter((p) => importer.has(new URL(p, base).href));
  assert.deepEqual(firstUse.map((p) => `${p} (imported by ${rel(importer.get(new URL(p, base).href)!)})`), []);

  const configOnly = ["boot/spec_schema.ts", "boot/seccomp_profile.ts"].filter((p) => importer.has(new URL(p, base).href));
  assert.deepEqual(configOnly.map((p) => `${p} (imported by ${rel(importer.get(new URL(p, base).href)!)})`), []);
});

Deno.test("a restore of an idle shell imports the checkpoint's restore modules and nothing of the kernel a start does not", async () => {
  // boot/mod.ts imports kernel/checkpoint/sandbox.ts for a restore, after a start's modules:
  // what its static closure adds must be the restore's own modules, not code a start loads at
  // its first use (a syscall family, /proc's entries: each ~1 ms of CPU or more per restore).
  // The kinds of object an idle shell's image lacks are kinds.ts's, imported on demand.
  const { rel, closure } = await mainGraph();
  const start = closure(STARTUP_ROOTS, "(root)");
  const restore = closure(["kernel/checkpoint/sandbox.ts"], "(root)");
  const own = new Set(["sandbox", "plain_state", "files", "timers", "task_policies", "cow", "image", "zod_tree", "cbor_plain", "escaped_text"]
    .map((m) => `kernel/checkpoint/${m}.ts`));
  const extra = [...restore.keys()].filter((u) => !start.has(u) && !own.has(rel(u)));
  assert.deepEqual(extra.map((u) => `${rel(u)} (imported by ${rel(restore.get(u)!)})`), []);
  // The state's schemas load only for a state the hand checks do not take (readImageFast).
  const schemas = [...restore.keys()].find((u) => rel(u) === "kernel/checkpoint/sandbox_schema.ts");
  assert.equal(schemas, undefined, `kernel/checkpoint/sandbox_schema.ts (imported by ${schemas === undefined ? "" : rel(restore.get(schemas)!)})`);
});
