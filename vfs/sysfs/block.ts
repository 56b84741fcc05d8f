/**
 * sysfs's block devices: /sys/block/loopN and /sys/dev/block/7:N (links to
 * /sys/devices/virtual/block/loopN), with the attributes of Linux's genhd and loop drivers
 * (size in 512-byte sectors, ro, queue/logical_block_size..., and loop/backing_file, offset,
 * sizelimit, autoclear, partscan, dio while the device is bound). Built from the
 * VirtualFilesystem's block device table at each lookup, so devices added or removed by
 * loop-control come and go.
 *
 * @module
 */

import { S_IFDIR } from "../../abi/linux/file.ts";
import type { Dentry } from "../dentry.ts";
import type { DirEntry } from "../file_description.ts";
import { dirEntry, GeneratedFile, KDentry, type KernFilesystem, KSymlink } from "../kernfs/kernfs.ts";
import { type BlockDeviceTable, LOOP_MAJOR, type LoopView, loopMinorOf } from "../block/table.ts";

/** A filesystem that shows the block device table (SysFilesystem). */
export interface BlockTableHolder extends KernFilesystem {
  readonly blocks: BlockDeviceTable;
}

function tableOf(d: KDentry): BlockDeviceTable {
  return (d.kfs as BlockTableHolder).blocks;
}

/** What a directory of these lists: names and the dentry each stands for. */
abstract class DynamicDir extends KDentry {
  constructor(kfs: KernFilesystem, parent: KDentry | null, name: string, key?: string) {
    super(kfs, parent, name, { mode: S_IFDIR | 0o755, ...(key === undefined ? {} : { key }) });
  }

  abstract names(): string[];
  abstract make(name: string): KDentry | null;

  override lookup(name: string): Dentry | null {
    return this.make(name);
  }

  override children(): DirEntry[] {
    const out: DirEntry[] = [];
    for (const n of this.names()) {
      const d = this.make(n);
      if (d !== null) out.push(dirEntry(d));
    }
    return out;
  }
}

/** @savable /sys/block: a link per loop device, "loopN -> ../devices/virtual/block/loopN". */
export class SysBlockDir extends DynamicDir {
  names(): string[] {
    return tableOf(this).sortedLoopMinors().map((m) => `loop${m}`);
  }

  make(name: string): KDentry | null {
    const minor = loopMinorOf(name);
    if (minor === null || !tableOf(this).loopMinors.has(minor)) return null;
    return new BlockLink(this.kfs, this, name, `../devices/virtual/block/${name}`);
  }
}

/** @savable /sys/dev/block: "7:N -> ../../devices/virtual/block/loopN". */
export class SysDevBlockDir extends DynamicDir {
  names(): string[] {
    return tableOf(this).sortedLoopMinors().map((m) => `${LOOP_MAJOR}:${m}`);
  }

  make(name: string): KDentry | null {
    const m = /^7:(0|[1-9][0-9]{0,6})$/.exec(name);
    if (m === null || !tableOf(this).loopMinors.has(Number(m[1]))) return null;
    return new BlockLink(this.kfs, this, name, `../../devices/virtual/block/loop${m[1]}`);
  }
}

/** @savable /sys/devices/virtual/block: a directory per loop device. */
export class VirtualBlockDir extends DynamicDir {
  names(): string[] {
    return tableOf(this).sortedLoopMinors().map((m) => `loop${m}`);
  }

  make(name: string): KDentry | null {
    const minor = loopMinorOf(name);
    if (minor === null || !tableOf(this).loopMinors.has(minor)) return null;
    return new LoopSysDir(this.kfs, this, name, minor, "");
  }
}

/** @savable A symlink with a fixed target (sysfs's links are relative). */
export class BlockLink extends KSymlink {
  constructor(kfs: KernFilesystem, parent: KDentry, name: string, readonly to: string) {
    super(kfs, parent, name);
  }

  target(): string {
    return this.to;
  }
}

/** The files of a disk's directory, of its queue/ and of loop/ (only while bound). */
const DISK_FILES = ["dev", "diskseq", "partscan", "size", "ro", "removable", "range", "ext_range", "capability", "hidden", "uevent", "alignment_offset", "discard_alignment", "inflight", "stat"];
const QUEUE_FILES = [
  "logical_block_size", "physical_block_size", "hw_sector_size", "minimum_io_size", "optimal_io_size", "rotational",
  "read_ahead_kb", "max_sectors_kb", "discard_granularity", "discard_max_bytes", "nomerges", "dax", "dma_alignment",
];
const LOOP_FILES = ["backing_file", "offset", "sizelimit", "autoclear", "partscan", "dio"];
const SUBDIRS: Readonly<Record<string, readonly string[]>> = { "": [...DISK_FILES, "queue", "loop"], queue: QUEUE_FILES, loop: LOOP_FILES };

/** @savable /sys/devices/virtual/block/loopN, or (`sub`) its queue/ or loop/. */
export class LoopSysDir extends DynamicDir {
  constructor(kfs: KernFilesystem, parent: KDentry, name: string, readonly minor: number, readonly sub: string) {
    super(kfs, parent, name);
  }

  names(): string[] {
    return [...SUBDIRS[this.sub]!];
  }

  make(name: string): KDentry | null {
    const view = tableOf(this).loop(this.minor);
    if (view === null || !SUBDIRS[this.sub]!.includes(name)) return null;
    if (this.sub === "" && (name === "queue" || name === "loop")) {
      if (name === "loop" && !view.bound) return null;
      return new LoopSysDir(this.kfs, this, name, this.minor, name);
    }
    return new LoopAttrFile(this.kfs, this, name, this.minor, this.sub);
  }
}

/** @savable One attribute file, rendered from the device as it is at open. */
export class LoopAttrFile extends GeneratedFile {
  constructor(kfs: KernFilesystem, parent: KDentry, name: string, readonly minor: number, readonly sub: string) {
    super(kfs, parent, name, { mode: name === "uevent" ? 0o644 : 0o444 });
  }

  render(): string {
    const v = tableOf(this).loop(this.minor);
    return v === null ? "" : loopAttr(v, this.sub, this.name);
  }
}

const yes = (b: boolean) => (b ? "1\n" : "0\n");

/** The text of one attribute, as Linux's show functions print it. */
export function loopAttr(v: LoopView, sub: string, name: string): string {
  const bs = v.logicalBlockSize;
  if (sub === "loop") {
    switch (name) {
      case "backing_file": return `${v.backingPath}\n`;
      case "offset": return `${v.offset}\n`;
      case "sizelimit": return `${v.sizeLimit}\n`;
      case "autoclear": return yes(v.autoclear);
      case "partscan": return yes(v.partscan);
      case "dio": return yes(v.directIo);
    }
    return "";
  }
  if (sub === "queue") {
    switch (name) {
      case "logical_block_size":
      case "physical_block_size":
      case "hw_sector_size":
      case "minimum_io_size":
        return `${bs}\n`;
      case "optimal_io_size": return "0\n";
      case "rotational": return "1\n";
      case "read_ahead_kb": return `${v.raPages * 4}\n`;
      case "max_sectors_kb": return "1280\n";
      case "discard_granularity": return v.bound ? `${bs}\n` : "0\n";
      case "discard_max_bytes": return v.bound ? "4294966784\n" : "0\n";
      case "nomerges": return "0\n";
      case "dax": return "0\n";
      case "dma_alignment": return "511\n";
    }
    return "";
  }
  switch (name) {
    case "dev": return `${LOOP_MAJOR}:${v.minor}\n`;
    case "size": return `${Math.floor(v.size / 512)}\n`;
    case "ro": return yes(v.readOnly);
    case "removable": return "0\n";
    case "range": return "1\n";
    case "ext_range": return "256\n";
    case "diskseq": return `${v.minor + 1}\n`;
    case "partscan": return yes(v.partscan);
    case "capability": return "0\n";
    case "hidden": return "0\n";
    case "alignment_offset": return "0\n";
    case "discard_alignment": return "0\n";
    case "inflight": return "       0        0\n";
    case "stat": {
      // read I/Os, merges, sectors, ticks; write I/Os, merges, sectors, ticks; in flight, io_ticks,
      // time in queue; discard I/Os, merges, sectors, ticks; flush I/Os, ticks (part_stat_show).
      const io = v.io;
      const f = [io.reads, 0, io.readSectors, io.reads, io.writes, 0, io.writeSectors, io.writes, 0, io.ticks, io.ticks,
        io.discards, 0, io.discardSectors, io.discards, io.flushes, io.flushes];
      return f.map((n) => String(n).padStart(8)).join(" ") + "\n";
    }
    case "uevent": return `MAJOR=${LOOP_MAJOR}\nMINOR=${v.minor}\nDEVNAME=loop${v.minor}\nDEVTYPE=disk\nDISKSEQ=${v.minor + 1}\n`;
  }
  return "";
}

/** /proc/partitions: the disks with a capacity (show_partition skips empty ones), sizes in KiB. */
export function renderPartitions(t: BlockDeviceTable | null): string {
  let out = "major minor  #blocks  name\n\n";
  for (const m of t?.sortedLoopMinors() ?? []) {
    const v = t!.loop(m)!;
    if (v.size === 0) continue;
    out += `${String(LOOP_MAJOR).padStart(4)}  ${String(m).padStart(7)} ${String(Math.floor(v.size / 1024)).padStart(10)} loop${m}\n`;
  }
  return out;
}

/** /proc/diskstats: every disk with its counters (diskstats_show). */
export function renderDiskstats(t: BlockDeviceTable | null): string {
  let out = "";
  for (const m of t?.sortedLoopMinors() ?? []) {
    const io = t!.loop(m)!.io;
    const f = [io.reads, 0, io.readSectors, io.reads, io.writes, 0, io.writeSectors, io.writes, 0, io.ticks, io.ticks,
      io.discards, 0, io.discardSectors, io.discards, io.flushes, io.flushes];
    out += `${String(LOOP_MAJOR).padStart(4)} ${String(m).padStart(7)} loop${m} ${f.join(" ")}\n`;
  }
  return out;
}
