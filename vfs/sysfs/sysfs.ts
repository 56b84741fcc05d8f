/**
 * A minimal sysfs: what glibc and language runtimes read to count CPUs
 * (/sys/devices/system/cpu/{online,possible,present} and the cpuN directories that
 * get_nprocs_conf counts), and the mount points runtimes expect (/sys/fs/cgroup, empty).
 *
 * @module
 */

import { EACCES } from "../../kernel/errno.ts";
import { FixedFile, KernFilesystem, StaticDir, SYSFS_MAGIC } from "../kernfs/kernfs.ts";

/** @savable One /sys. */
export class SysFilesystem extends KernFilesystem {
  constructor(ncpus: number) {
    super("sysfs", SYSFS_MAGIC);
    this.createError = EACCES;
    const root = new StaticDir(this, null, "", 0o555);
    this.root = root;
    const range = ncpus > 1 ? `0-${ncpus - 1}\n` : "0\n";
    const cpu = root.dir("devices").dir("system").dir("cpu");
    for (const name of ["online", "possible", "present"]) cpu.add(new FixedFile(this, cpu, name, range));
    for (let i = 0; i < ncpus; i++) cpu.dir(`cpu${i}`);
    root.dir("fs").dir("cgroup");
    root.dir("kernel");
    root.dir("class");
    root.dir("block");
    root.dir("bus");
    root.dir("firmware");
    root.dir("module");
    root.dir("power");
  }
}
