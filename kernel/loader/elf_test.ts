import assert from "node:assert/strict";
import {
  EHDR_SIZE,
  ET_CORE,
  ET_DYN,
  ET_EXEC,
  ET_REL,
  loadExtent,
  loadPlan,
  parseElf,
  parseInterpPath,
  PF_R,
  PF_W,
  PF_X,
  PHDR_SIZE,
  protFromFlags,
  PT_GNU_STACK,
  PT_INTERP,
  PT_LOAD,
  PT_NOTE,
  PT_PHDR,
  readElfHeader,
  TASK_SIZE,
} from "./elf.ts";
import { EINVAL, EIO, ENOENT, ENOEXEC } from "../errno.ts";
import { PROT_EXEC, PROT_READ, PROT_WRITE } from "../../abi/linux/mm.ts";

interface Phdr {
  type: number;
  flags?: number;
  offset?: number;
  vaddr?: number;
  filesz?: number;
  memsz?: number;
  align?: number;
}

interface Image {
  cls?: number;
  data?: number;
  type?: number;
  machine?: number;
  entry?: number;
  phoff?: number;
  phentsize?: number;
  phnum?: number;
  phdrs?: Phdr[];
  size?: number;
}

/** Builds an ELF file image byte by byte, with defaults for a small ET_EXEC. */
function image(o: Image = {}): Uint8Array {
  const phdrs = o.phdrs ?? [
    { type: PT_PHDR, flags: PF_R, offset: 64, vaddr: 0x400040, filesz: 112, memsz: 112, align: 8 },
    { type: PT_LOAD, flags: PF_R | PF_X, offset: 0, vaddr: 0x400000, filesz: 0x1000, memsz: 0x1000, align: 0x1000 },
  ];
  const phoff = o.phoff ?? EHDR_SIZE;
  const size = o.size ?? Math.max(0x2000, phoff + phdrs.length * PHDR_SIZE);
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, o.cls ?? 2, o.data ?? 1, 1, 0]);
  v.setUint16(16, o.type ?? ET_EXEC, true);
  v.setUint16(18, o.machine ?? 62, true);
  v.setUint32(20, 1, true);
  v.setBigUint64(24, BigInt(o.entry ?? 0x401000), true);
  v.setBigUint64(32, BigInt(phoff), true);
  v.setUint16(52, EHDR_SIZE, true);
  v.setUint16(54, o.phentsize ?? PHDR_SIZE, true);
  v.setUint16(56, o.phnum ?? phdrs.length, true);
  phdrs.forEach((p, i) => {
    const at = phoff + i * PHDR_SIZE;
    if (at + PHDR_SIZE > size) return;
    v.setUint32(at, p.type, true);
    v.setUint32(at + 4, p.flags ?? 0, true);
    v.setBigUint64(at + 8, BigInt(p.offset ?? 0), true);
    v.setBigUint64(at + 16, BigInt(p.vaddr ?? 0), true);
    v.setBigUint64(at + 24, BigInt(p.vaddr ?? 0), true);
    v.setBigUint64(at + 32, BigInt(p.filesz ?? 0), true);
    v.setBigUint64(at + 40, BigInt(p.memsz ?? 0), true);
    v.setBigUint64(at + 48, BigInt(p.align ?? 0x1000), true);
  });
  return b;
}

Deno.test("parseElf() decodes a golden ET_EXEC header field by field", () => {
  const info = parseElf(image());
  assert.equal(info.type, "exec");
  assert.equal(info.entry, 0x401000);
  assert.equal(info.phoff, 64);
  assert.equal(info.phentsize, 56);
  assert.equal(info.phnum, 2);
  assert.equal(info.phdrsEnd, 64 + 112);
  assert.deepEqual(info.phdrs[1], {
    type: PT_LOAD, flags: PF_R | PF_X, offset: 0, vaddr: 0x400000, filesz: 0x1000,
    memsz: 0x1000, align: 0x1000,
  });
  assert.equal(info.interp, null);
  assert.equal(info.gnuStackExec, false);
  assert.equal(info.phdrVaddr, 0x400040);
});

Deno.test("readElfHeader() refuses anything that is not an ELF64 LE x86-64 EXEC or DYN", () => {
  assert.throws(() => readElfHeader(new TextEncoder().encode("#!/bin/sh\n")), ENOEXEC);
  assert.throws(() => readElfHeader(new Uint8Array(0)), ENOEXEC);
  assert.throws(() => readElfHeader(image().subarray(0, 4)), ENOEXEC, "truncated header");
  assert.throws(() => readElfHeader(image({ cls: 1 })), ENOEXEC, "ELFCLASS32");
  assert.throws(() => readElfHeader(image({ data: 2 })), ENOEXEC, "big-endian");
  assert.throws(() => readElfHeader(image({ machine: 3 })), ENOEXEC, "EM_386");
  assert.throws(() => readElfHeader(image({ machine: 183 })), ENOEXEC, "EM_AARCH64");
  assert.throws(() => readElfHeader(image({ type: ET_REL })), ENOEXEC);
  assert.throws(() => readElfHeader(image({ type: ET_CORE })), ENOEXEC);
  assert.throws(() => readElfHeader(image({ type: 0 })), ENOEXEC);
  assert.equal(readElfHeader(image({ type: ET_DYN })).type, "dyn");
});

Deno.test("readElfHeader() refuses a bad e_phentsize and an empty or oversized phdr table", () => {
  assert.throws(() => readElfHeader(image({ phentsize: 64 })), ENOEXEC);
  assert.throws(() => readElfHeader(image({ phentsize: 32 })), ENOEXEC);
  assert.throws(() => readElfHeader(image({ phnum: 0 })), ENOEXEC);
  // 1170 * 56 = 65520 is the largest table that fits in 64 KiB; 1171 does not.
  assert.equal(readElfHeader(image({ phnum: 1170 })).phdrsEnd, 64 + 65520);
  assert.throws(() => readElfHeader(image({ phnum: 1171 })), ENOEXEC);
  assert.throws(() => readElfHeader(image({ phnum: 0xffff })), ENOEXEC);
});

Deno.test("parseElf() fails with EIO when the file ends inside the program header table", () => {
  const full = image({ phoff: 0x3000, size: 0x3000 + 2 * PHDR_SIZE });
  assert.equal(readElfHeader(full.subarray(0, 4096)).phdrsEnd, 0x3000 + 112);
  assert.throws(() => parseElf(full.subarray(0, 0x3000 + 100)), EIO);
  assert.equal(parseElf(full).phnum, 2);
});

Deno.test("parseElf() reads program headers that lie beyond the first page", () => {
  const info = parseElf(image({
    phoff: 0x1800,
    phdrs: [{ type: PT_LOAD, flags: PF_R, offset: 0, vaddr: 0x10000, filesz: 0x2000, memsz: 0x2000 }],
  }));
  assert.equal(info.phdrs.length, 1);
  assert.equal(info.phdrVaddr, 0x11800, "computed from the PT_LOAD covering e_phoff");
});

Deno.test("parseElf() finds the first PT_INTERP and checks its length bounds", () => {
  const load = { type: PT_LOAD, flags: PF_R, offset: 0, vaddr: 0, filesz: 0x1000, memsz: 0x1000 };
  const info = parseElf(image({
    type: ET_DYN,
    phdrs: [
      { type: PT_INTERP, offset: 0x200, filesz: 28 },
      { type: PT_INTERP, offset: 0x300, filesz: 1 },
      load,
    ],
  }));
  assert.deepEqual(info.interp, { offset: 0x200, size: 28 });
  assert.throws(() => parseElf(image({ phdrs: [{ type: PT_INTERP, filesz: 1 }, load] })), ENOEXEC);
  assert.throws(() => parseElf(image({ phdrs: [{ type: PT_INTERP, filesz: 0 }, load] })), ENOEXEC);
  assert.throws(() => parseElf(image({ phdrs: [{ type: PT_INTERP, filesz: 4097 }, load] })), ENOEXEC);
  assert.deepEqual(parseElf(image({ phdrs: [{ type: PT_INTERP, filesz: 4096 }, load] })).interp, {
    offset: 0, size: 4096,
  });
});

Deno.test("parseInterpPath() wants a NUL-terminated path and stops at the first NUL", () => {
  const enc = new TextEncoder();
  assert.equal(parseInterpPath(enc.encode("/lib64/ld-linux-x86-64.so.2\0")), "/lib64/ld-linux-x86-64.so.2");
  assert.equal(parseInterpPath(enc.encode("/a\0junk\0")), "/a");
  assert.throws(() => parseInterpPath(enc.encode("/lib/ld.so")), ENOEXEC);
  assert.throws(() => parseInterpPath(enc.encode("\0\0")), ENOENT);
});

Deno.test("parseElf() takes the last PT_GNU_STACK's PF_X as gnuStackExec", () => {
  const load = { type: PT_LOAD, flags: PF_R, offset: 0, vaddr: 0, filesz: 0x1000, memsz: 0x1000 };
  assert.equal(parseElf(image({ phdrs: [load] })).gnuStackExec, false);
  assert.equal(parseElf(image({ phdrs: [load, { type: PT_GNU_STACK, flags: PF_R | PF_W | PF_X }] })).gnuStackExec, true);
  assert.equal(parseElf(image({ phdrs: [load, { type: PT_GNU_STACK, flags: PF_R | PF_W }] })).gnuStackExec, false);
});

Deno.test("parseElf() falls back to PT_PHDR when no PT_LOAD holds the headers", () => {
  const info = parseElf(image({
    phoff: 0x1800,
    phdrs: [
      { type: PT_PHDR, vaddr: 0x9000 },
      { type: PT_LOAD, flags: PF_R, offset: 0, vaddr: 0x10000, filesz: 0x100, memsz: 0x100 },
    ],
  }));
  assert.equal(info.phdrVaddr, 0x9000);
  const none = parseElf(image({
    phoff: 0x1800,
    phdrs: [{ type: PT_LOAD, flags: PF_R, offset: 0, vaddr: 0x10000, filesz: 0x100, memsz: 0x100 }],
  }));
  assert.equal(none.phdrVaddr, null);
});

Deno.test("protFromFlags() maps PF_R/PF_W/PF_X to PROT_READ/PROT_WRITE/PROT_EXEC", () => {
  assert.equal(protFromFlags(0), 0);
  assert.equal(protFromFlags(PF_R), PROT_READ);
  assert.equal(protFromFlags(PF_W), PROT_WRITE);
  assert.equal(protFromFlags(PF_X), PROT_EXEC);
  assert.equal(protFromFlags(PF_R | PF_W | PF_X), PROT_READ | PROT_WRITE | PROT_EXEC);
});

Deno.test("loadPlan() splits text, data and bss into file, zero and anonymous ranges", () => {
  const info = parseElf(image({
    type: ET_DYN,
    entry: 0x1040,
    phdrs: [
      { type: PT_LOAD, flags: PF_R | PF_X, offset: 0, vaddr: 0, filesz: 0x1234, memsz: 0x1234 },
      // data: file bytes [0x2e10, 0x3010) at 0x3e10; bss to 0x6000 + 0x20.
      { type: PT_LOAD, flags: PF_R | PF_W, offset: 0x2e10, vaddr: 0x3e10, filesz: 0x200, memsz: 0x2210 },
    ],
  }));
  const plan = loadPlan(info, 0x5555_5555_4000);
  const b = 0x5555_5555_4000;
  assert.equal(plan.start, b);
  assert.equal(plan.end, b + 0x7000);
  assert.equal(plan.entry, b + 0x1040);
  assert.equal(plan.phdr, b + 0x40);
  assert.deepEqual(plan.steps, [
    {
      prot: PROT_READ | PROT_EXEC,
      file: { start: b, length: 0x2000, fileOffset: 0 },
      zero: null,
      anon: null,
    },
    {
      prot: PROT_READ | PROT_WRITE,
      file: { start: b + 0x3000, length: 0x2000, fileOffset: 0x2000 },
      zero: { start: b + 0x4010, length: 0xff0 },
      anon: { start: b + 0x5000, length: 0x2000 },
    },
  ]);
  assert.deepEqual(loadExtent(info), { start: 0, end: 0x6020 });
});

Deno.test("loadPlan() maps a bss-only segment anonymously and skips empty ones", () => {
  const info = parseElf(image({
    phdrs: [
      { type: PT_LOAD, flags: PF_R, offset: 0, vaddr: 0x400000, filesz: 0x1000, memsz: 0x1000 },
      { type: PT_LOAD, flags: PF_R | PF_W, offset: 0x1000, vaddr: 0x401100, filesz: 0, memsz: 0x1000 },
      { type: PT_LOAD, flags: PF_R, offset: 0x1000, vaddr: 0x500000, filesz: 0, memsz: 0 },
    ],
  }));
  const plan = loadPlan(info, 0);
  assert.equal(plan.steps.length, 2);
  assert.deepEqual(plan.steps[1], {
    prot: PROT_READ | PROT_WRITE,
    file: null,
    zero: null,
    anon: { start: 0x401000, length: 0x2000 },
  });
  assert.equal(plan.end, 0x500000);
});

Deno.test("loadPlan() does not zero the page tail of a read-only segment with bss", () => {
  const info = parseElf(image({
    phdrs: [{ type: PT_LOAD, flags: PF_R, offset: 0, vaddr: 0x400000, filesz: 0x800, memsz: 0x3000 }],
  }));
  const [step] = loadPlan(info, 0).steps;
  assert.equal(step?.zero, null);
  assert.deepEqual(step?.anon, { start: 0x401000, length: 0x2000 });
});

Deno.test("loadPlan() refuses segments Linux cannot map with EINVAL", () => {
  const seg = (p: Partial<Phdr>) =>
    parseElf(image({
      phdrs: [{ type: PT_LOAD, flags: PF_R, offset: 0, vaddr: 0x400000, filesz: 0x100, memsz: 0x100, ...p }],
    }));
  assert.throws(() => loadPlan(seg({ filesz: 0x200 }), 0), EINVAL, "filesz > memsz");
  assert.throws(() => loadPlan(seg({ offset: 0x10 }), 0), EINVAL, "offset and vaddr misaligned");
  assert.throws(() => loadPlan(seg({ vaddr: TASK_SIZE }), 0), EINVAL, "starts beyond TASK_SIZE");
  assert.throws(() => loadPlan(seg({ vaddr: TASK_SIZE - 0x1000, memsz: 0x2000 }), 0), EINVAL);
  assert.throws(() => loadPlan(seg({}), TASK_SIZE), EINVAL, "bias pushes it out");
  assert.throws(() => loadPlan(seg({ vaddr: 2 ** 64 - 0x1000 }), 0), EINVAL, "u64 wrap");
  assert.throws(() => loadPlan(parseElf(image({ phdrs: [{ type: PT_NOTE }] })), 0), EINVAL, "no PT_LOAD");
  const unsorted = parseElf(image({
    phdrs: [
      { type: PT_LOAD, flags: PF_R, offset: 0, vaddr: 0x800000, filesz: 0x100, memsz: 0x100 },
      { type: PT_LOAD, flags: PF_R, offset: 0, vaddr: 0x400000, filesz: 0x100, memsz: 0x100 },
    ],
  }));
  assert.throws(() => loadPlan(unsorted, 0), EINVAL, "unsorted");
  assert.throws(() => loadExtent(parseElf(image({ phdrs: [{ type: PT_NOTE }] }))), EINVAL);
});

Deno.test("loadPlan() keeps segments that share a page, in order, for MAP_FIXED replacement", () => {
  const info = parseElf(image({
    phdrs: [
      { type: PT_LOAD, flags: PF_R | PF_X, offset: 0, vaddr: 0x400000, filesz: 0x1800, memsz: 0x1800 },
      { type: PT_LOAD, flags: PF_R | PF_W, offset: 0x1800, vaddr: 0x401800, filesz: 0x100, memsz: 0x100 },
    ],
  }));
  const plan = loadPlan(info, 0);
  assert.deepEqual(plan.steps.map((s) => s.file), [
    { start: 0x400000, length: 0x2000, fileOffset: 0 },
    { start: 0x401000, length: 0x1000, fileOffset: 0x1000 },
  ]);
});

async function readPrefix(path: string): Promise<Uint8Array> {
  using f = await Deno.open(path);
  const buf = new Uint8Array(4096);
  let n = 0;
  while (n < buf.length) {
    const r = await f.read(buf.subarray(n));
    if (r === null) break;
    n += r;
  }
  const head = buf.subarray(0, n);
  const end = readElfHeader(head).phdrsEnd;
  if (end <= n) return head;
  const more = new Uint8Array(end);
  await f.seek(0, Deno.SeekMode.Start);
  let m = 0;
  while (m < end) {
    const r = await f.read(more.subarray(m));
    if (r === null) break;
    m += r;
  }
  return more.subarray(0, m);
}

Deno.test("parseElf() reads /bin/ls as a PIE with the x86-64 dynamic loader as PT_INTERP", async () => {
  const head = await readPrefix("/bin/ls");
  const info = parseElf(head);
  assert.equal(info.type, "dyn");
  assert.notEqual(info.interp, null);
  const file = await Deno.readFile("/bin/ls");
  const { offset, size } = info.interp!;
  assert.equal(parseInterpPath(file.subarray(offset, offset + size)), "/lib64/ld-linux-x86-64.so.2");
  assert.equal(info.gnuStackExec, false);
  assert.equal(info.phdrVaddr, info.phoff, "PIE maps its first page at vaddr 0");
  const plan = loadPlan(info, 0x5555_5555_4000);
  assert.ok(plan.steps.length >= 2);
  assert.ok(plan.steps.some((s) => s.prot === (PROT_READ | PROT_EXEC)));
  assert.ok(plan.steps.every((s) => s.file === null || s.file.start % 4096 === 0));
});

Deno.test("parseElf() reads a gcc -static hello world without PT_INTERP", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/h.c`, '#include <stdio.h>\nint main(void){puts("hi");return 0;}\n');
    const out = await new Deno.Command("gcc", {
      args: ["-static", "-O1", "-o", `${dir}/h`, `${dir}/h.c`],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const info = parseElf(await readPrefix(`${dir}/h`));
    assert.equal(info.interp, null);
    assert.ok(info.type === "exec" || info.type === "dyn");
    assert.ok(info.phdrVaddr !== null);
    const plan = loadPlan(info, info.type === "exec" ? 0 : 0x7f00_0000_0000);
    assert.ok(plan.entry >= plan.start && plan.entry < plan.end);
    // Static glibc binaries have a writable segment whose bss extends past its file bytes.
    assert.ok(plan.steps.some((s) => (s.prot & PROT_WRITE) !== 0 && (s.anon !== null || s.zero !== null)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
