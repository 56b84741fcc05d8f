import assert from "node:assert/strict";
import { gzipStored, kernelConfigText } from "./kconfig.ts";

async function gunzip(b: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([b as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("gzipStored: a standard gunzip gives back the bytes, across several 64 KiB stored blocks and for none", async () => {
  for (const n of [0, 1, 65535, 65536, 200_001]) {
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = (i * 7919) & 0xff;
    assert.deepEqual(await gunzip(gzipStored(data)), data);
  }
});

Deno.test("kernelConfigText: the sandbox's options, each once, and what it lacks as 'is not set'", () => {
  const t = kernelConfigText("6.1.0");
  assert.match(t, /^CONFIG_EVENTFD=y$/m);
  assert.match(t, /^# CONFIG_NUMA is not set$/m);
  const names = [...t.matchAll(/CONFIG_([A-Z0-9_]+)/g)].map((m) => m[1]);
  assert.equal(new Set(names).size, names.length);
});
