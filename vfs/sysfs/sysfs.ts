/**
 * A minimal sysfs: what glibc and language runtimes read to count CPUs
 * (/sys/devices/system/cpu/{online,possible,present} and the cpuN directories that
 * get_nprocs_conf counts), each CPU's topology as one socket of single-thread cores (lscpu), and
 * the directories tools expect to find even when they hold nothing: /sys/fs/cgroup (runtimes),
 * /sys/dev/char, and the loop block devices in /sys/block, /sys/dev/block and
 * /sys/devices/virtual/block (vfs/sysfs/block.ts).
 *
 * @module
 */

import { EACCES } from "../../kernel/errno.ts";
import { FixedFile, KernFilesystem, StaticDir, SYSFS_MAGIC } from "../kernfs/kernfs.ts";
import { BlockDeviceTable } from "../block/table.ts";
import type { Dentry } from "../dentry.ts";
import type { DirEntry } from "../file_description.ts";
import { LazyModule } from "../../kernel/lazy_module.ts";

/** @savable One /sys. */
export class SysFilesystem extends KernFilesystem {
  /** The sandbox's block devices (the VirtualFilesystem's; a fresh table for tests). */
  readonly blocks: BlockDeviceTable;

  constructor(ncpus: number, blocks: BlockDeviceTable = new BlockDeviceTable()) {
    super("sysfs", SYSFS_MAGIC);
    this.blocks = blocks;
    this.createError = EACCES;
    this.root = new SysRoot(this, ncpus);
  }
}

type SysBlock = typeof import("./block.ts");

/**
 * /sys/block and its kin (block.ts), loaded with the tree at the first lookup or listing of /sys
 * (issue #16: a start that never reads /sys builds none of it); code that walks /sys outside a
 * syscall loads it first (boot/mod.ts, boot/control_server.ts).
 */
export const sysBlock: LazyModule<SysBlock> = new LazyModule("sysfs", () => import("./block.ts"));

/**
 * /sys itself: its tree is made at the first lookup or listing, once block.ts is loaded (a
 * syscall that gets there first sleeps while it loads, then runs again: kernel/lazy_module.ts).
 */
class SysRoot extends StaticDir {
  #built = false;

  constructor(readonly sfs: SysFilesystem, readonly ncpus: number) {
    super(sfs, null, "", 0o555);
  }

  #build(): void {
    if (this.#built) return;
    const b = sysBlock.get();
    this.#built = true;
    buildTree(this.sfs, this, this.ncpus, b);
  }

  override lookup(name: string): Dentry | null {
    this.#build();
    return super.lookup(name);
  }

  override children(): DirEntry[] {
    this.#build();
    return super.children();
  }
}

/** /sys's tree under root. */
function buildTree(sfs: SysFilesystem, root: StaticDir, ncpus: number, b: SysBlock): void {
  const range = ncpus > 1 ? `0-${ncpus - 1}\n` : "0\n";
  const all = cpuMask(ncpus, Array.from({ length: ncpus }, (_, i) => i));
  const devices = root.dir("devices");
  const system = devices.dir("system");
  const virtual = devices.dir("virtual");
  virtual.add(new b.VirtualBlockDir(sfs, virtual, "block"));
  const cpu = system.dir("cpu");
  for (const name of ["online", "possible", "present"]) cpu.add(new FixedFile(sfs, cpu, name, range));
  for (let i = 0; i < ncpus; i++) {
    const topology = cpu.dir(`cpu${i}`).dir("topology");
    const files: [string, string][] = [
      ["physical_package_id", "0\n"], ["die_id", "0\n"], ["core_id", `${i}\n`],
      ["thread_siblings", cpuMask(ncpus, [i])], ["thread_siblings_list", `${i}\n`],
      ["core_cpus", cpuMask(ncpus, [i])], ["core_cpus_list", `${i}\n`],
      ["core_siblings", all], ["core_siblings_list", range], ["package_cpus", all],
      ["package_cpus_list", range], ["die_cpus", all], ["die_cpus_list", range],
    ];
    for (const [name, text] of files) topology.add(new FixedFile(sfs, topology, name, text));
  }
  // One NUMA node holding every CPU (lscpu, numactl, runtimes sizing per-node pools).
  const node = system.dir("node");
  for (const name of ["online", "possible", "has_cpu", "has_normal_memory"]) {
    node.add(new FixedFile(sfs, node, name, "0\n"));
  }
  const node0 = node.dir("node0");
  node0.add(new FixedFile(sfs, node0, "cpumap", all));
  node0.add(new FixedFile(sfs, node0, "cpulist", range));
  root.dir("fs").dir("cgroup");
  // KSM as a kernel built with it and never started shows it (run 0: nothing is merged, the
  // sandbox's MADV_MERGEABLE is accepted and merges nothing), read-only: the
  // sandbox cannot start ksmd. Linux's defaults.
  const ksm = root.dir("kernel").dir("mm").dir("ksm");
  const ksmFiles: [string, string][] = [
    ["advisor_max_cpu", "70"], ["advisor_max_pages_to_scan", "30000"], ["advisor_min_pages_to_scan", "500"],
    ["advisor_mode", "[none] scan-time"], ["advisor_target_scan_time", "200"], ["full_scans", "0"], ["general_profit", "0"],
    ["ksm_zero_pages", "0"], ["max_page_sharing", "256"], ["merge_across_nodes", "1"], ["pages_scanned", "0"],
    ["pages_shared", "0"], ["pages_sharing", "0"], ["pages_skipped", "0"], ["pages_to_scan", "100"], ["pages_unshared", "0"],
    ["pages_volatile", "0"], ["run", "0"], ["sleep_millisecs", "20"], ["smart_scan", "1"], ["stable_node_chains", "0"],
    ["stable_node_chains_prune_millisecs", "2000"], ["stable_node_dups", "0"], ["use_zero_pages", "0"],
  ];
  for (const [name, value] of ksmFiles) ksm.add(new FixedFile(sfs, ksm, name, `${value}\n`));
  root.dir("class");
  root.add(new b.SysBlockDir(sfs, root, "block"));
  const dev = root.dir("dev");
  dev.add(new b.SysDevBlockDir(sfs, dev, "block"));
  dev.dir("char");
  root.dir("bus");
  root.dir("firmware");
  root.dir("module");
  root.dir("power");
}

/**
 * A CPU mask as sysfs prints it (Linux's "%*pb"): hex digits for ncpus bits, most significant
 * first, a comma between groups of 32 bits.
 */
export function cpuMask(ncpus: number, cpus: number[]): string {
  let v = 0n;
  for (const c of cpus) v |= 1n << BigInt(c);
  const digits = v.toString(16).padStart(Math.ceil(ncpus / 4), "0");
  const groups: string[] = [];
  for (let end = digits.length; end > 0; end -= 8) groups.unshift(digits.slice(Math.max(0, end - 8), end));
  return groups.join(",") + "\n";
}
