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
