import assert from "node:assert/strict";
import { cpuMask, sysBlock } from "./sysfs.ts";

// /sys's tree is made at its first use, once block.ts is loaded (sysfs.ts sysBlock); these
// tests walk it directly.
await sysBlock.load();

Deno.test("CPU masks print as Linux's %*pb: hex digits for every CPU, commas between 32-bit groups", () => {
  assert.equal(cpuMask(2, [0, 1]), "3\n");
  assert.equal(cpuMask(2, [1]), "2\n");
  assert.equal(cpuMask(8, [0]), "01\n");
  assert.equal(cpuMask(12, [11]), "800\n");
  assert.equal(cpuMask(40, [0, 39]), "80,00000001\n");
  assert.equal(cpuMask(64, [32]), "00000001,00000000\n");
});

Deno.test("/sys/block, /sys/dev/block and /sys/devices/virtual/block follow the block device table: loop0..7 at boot, a device added or removed comes and goes, loop/ only while bound", async () => {
  const { SysFilesystem } = await import("./sysfs.ts");
  const { BlockDeviceTable } = await import("../block/table.ts");
  const table = new BlockDeviceTable();
  const fs = new SysFilesystem(2, table);
  const names = (d: { children(): { name: string }[] }) => d.children().map((e) => e.name);
  const block = fs.root.lookup("block")!;
  assert.deepEqual(names(block), ["loop0", "loop1", "loop2", "loop3", "loop4", "loop5", "loop6", "loop7"]);
  assert.equal(block.lookup("loop3")!.readlink(), "../devices/virtual/block/loop3");
  assert.equal(fs.root.lookup("dev")!.lookup("block")!.lookup("7:3")!.readlink(), "../../devices/virtual/block/loop3");
  const virt = fs.root.lookup("devices")!.lookup("virtual")!.lookup("block")!;
  assert.equal(virt.lookup("loop9"), null);
  table.loopMinors.add(9);
  assert.ok(names(block).includes("loop9"));
  const loop9 = virt.lookup("loop9")!;
  assert.equal(loop9.lookup("loop"), null); // unbound
  assert.ok(loop9.lookup("queue")!.lookup("logical_block_size") !== null);
  table.loops.set(9, {
    minor: 9, bound: true, size: 1 << 20, readOnly: true, logicalBlockSize: 4096, backingPath: "/tmp/img", offset: 512,
    sizeLimit: 0, autoclear: true, partscan: false, directIo: false, raPages: 640,
    io: { reads: 1, readSectors: 8, writes: 2, writeSectors: 16, ticks: 3, discards: 0, discardSectors: 0, flushes: 1 },
  });
  const { loopAttr } = await import("./block.ts");
  const v = table.loop(9)!;
  assert.equal(loopAttr(v, "", "size"), "2048\n");
  assert.equal(loopAttr(v, "", "ro"), "1\n");
  assert.equal(loopAttr(v, "queue", "logical_block_size"), "4096\n");
  assert.equal(loopAttr(v, "loop", "backing_file"), "/tmp/img\n");
  assert.equal(loopAttr(v, "loop", "offset"), "512\n");
  assert.equal(loopAttr(v, "loop", "autoclear"), "1\n");
  assert.equal(loopAttr(v, "", "stat").trim().split(/\s+/)[6], "16"); // sectors written
  assert.ok(virt.lookup("loop9")!.lookup("loop") !== null);
  table.loopMinors.delete(9);
  table.loops.delete(9);
  assert.equal(block.lookup("loop9"), null);
});
