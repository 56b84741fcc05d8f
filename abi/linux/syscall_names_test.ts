import assert from "node:assert/strict";
import { syscallName, syscallNumbers } from "./syscall_names.ts";

Deno.test("syscallNumbers is syscallName's inverse over the known numbers", () => {
  const m = syscallNumbers();
  assert.equal(m.get("read"), 0);
  assert.equal(m.get("clone3"), 435);
  let known = 0;
  for (let nr = 0; nr < 512; nr++) {
    const name = syscallName(nr);
    if (name.startsWith("syscall_")) continue;
    known++;
    assert.equal(m.get(name), nr, name);
  }
  assert.equal(m.size, known);
});
