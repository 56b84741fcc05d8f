import assert from "node:assert/strict";
import { LAZY_FAMILIES, SYSCALL_TABLE } from "./table_amd64.ts";
import { syscallName } from "../../../abi/linux/syscall_names.ts";

Deno.test("each syscall family loaded at its first call lists exactly its table's numbers, and its stubs are named as its entries", async () => {
  for (const f of LAZY_FAMILIES) {
    const before = f.nrs.map((nr) => SYSCALL_TABLE[nr]!);
    const { table } = await f.module.load();
    const numbers = (xs: Iterable<number>) => [...xs].sort((a, b) => a - b);
    assert.deepEqual(numbers(Object.keys(table).map(Number)), numbers(f.nrs), f.name);
    for (const [i, nr] of f.nrs.entries()) {
      assert.equal(before[i]!.name, table[nr]!.name, `${f.name}: syscall ${nr}`);
      assert.equal(syscallName(nr), table[nr]!.name);
    }
  }
});
