import assert from "node:assert/strict";
import * as node from "node:path/posix";
import { basename, dirname, join, normalize, resolve } from "./path.ts";

/** Paths made of the pieces that matter: slashes, ".", "..", names. */
function paths(): string[] {
  const pieces = ["/", "//", ".", "..", "a", "bc", "/.", "/..", "./", "../"];
  const out = new Set<string>(["", "/", "//", "///", ".", "..", "a", "/a", "a/", "/a/", "//a//b//"]);
  let seed = 12345;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
  for (let i = 0; i < 3000; i++) {
    let s = "";
    for (let k = rand(6); k >= 0; k--) s += pieces[rand(pieces.length)];
    out.add(s);
  }
  return [...out];
}

Deno.test("abi/path gives node:path/posix's results for normalize, join, resolve and basename", () => {
  for (const p of paths()) {
    assert.equal(normalize(p), node.normalize(p), `normalize(${JSON.stringify(p)})`);
    assert.equal(basename(p), node.basename(p), `basename(${JSON.stringify(p)})`);
    assert.equal(join("/x/y", p), node.join("/x/y", p), `join("/x/y", ${JSON.stringify(p)})`);
    assert.equal(join(p, "z"), node.join(p, "z"), `join(${JSON.stringify(p)}, "z")`);
    assert.equal(resolve("/x/y", p), node.resolve("/x/y", p), `resolve("/x/y", ${JSON.stringify(p)})`);
    assert.equal(resolve(p), node.resolve(p), `resolve(${JSON.stringify(p)})`);
    assert.equal(resolve("/r", p, "q"), node.resolve("/r", p, "q"), `resolve("/r", ${JSON.stringify(p)}, "q")`);
  }
  assert.equal(join(), node.join());
  assert.equal(join("", ""), node.join("", ""));
});

Deno.test("abi/path's dirname is node's", () => {
  for (const p of paths()) {
    assert.equal(dirname(p), node.dirname(p), `dirname(${JSON.stringify(p)})`);
  }
});
