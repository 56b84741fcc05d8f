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
import { EACCES, EINVAL, EIO, ENOEXEC } from "../errno.ts";
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
    {
      type: PT_LOAD,
      flags: PF_R | PF_X,
      offset: 0,
      vaddr: 0x400000,
      filesz: 0x1000,
      memsz: 0x1000,
      align: 0x1000,
    },
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
    type: PT_LOAD,
    flags: PF_R | PF_X,
    offset: 0,
    vaddr: 0x400000,
    filesz: 0x1000,
    memsz: 0x1000,
    align: 0x1000,
  });
  assert.equal(info.interp, null);
  assert.equal(info.gnuStackExec, false);
  assert.equal(info.phdrVaddr, 0x400040);
});

Deno.test("readElfHeader() refuses anything that is not an x86-64 ELF EXEC or DYN", () => {
  assert.throws(() => readElfHeader(new TextEncoder().encode("#!/bin/sh\n")), ENOEXEC);
  assert.throws(() => readElfHeader(new Uint8Array(0)), ENOEXEC);
  assert.throws(() => readElfHeader(image().subarray(0, 4)), ENOEXEC, "truncated header");
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

Deno.test("readElfHeader() ignores EI_CLASS and EI_DATA, as Linux's 64-bit loader does", () => {
  assert.equal(readElfHeader(image({ cls: 1 })).phnum, 2);
  assert.equal(readElfHeader(image({ cls: 0, data: 2 })).phnum, 2);
});

Deno.test("parseElf() fails with ENOEXEC when the file ends inside the program header table", () => {
  const full = image({ phoff: 0x3000, size: 0x3000 + 2 * PHDR_SIZE });
  assert.equal(readElfHeader(full.subarray(0, 4096)).phdrsEnd, 0x3000 + 112);
  assert.throws(() => parseElf(full.subarray(0, 0x3000 + 100)), ENOEXEC);
  assert.equal(parseElf(full).phnum, 2);
});

Deno.test("parseElf() reads program headers that lie beyond the first page", () => {
  const info = parseElf(image({
    phoff: 0x1800,
    phdrs: [{
      type: PT_LOAD,
      flags: PF_R,
      offset: 0,
      vaddr: 0x10000,
      filesz: 0x2000,
      memsz: 0x2000,
    }],
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
  assert.throws(
    () => parseElf(image({ phdrs: [{ type: PT_INTERP, filesz: 4097 }, load] })),
    ENOEXEC,
  );
  assert.deepEqual(parseElf(image({ phdrs: [{ type: PT_INTERP, filesz: 4096 }, load] })).interp, {
    offset: 0,
    size: 4096,
  });
});

Deno.test("parseInterpPath() wants a NUL-terminated path and stops at the first NUL", () => {
  const enc = new TextEncoder();
  assert.equal(
    parseInterpPath(enc.encode("/lib64/ld-linux-x86-64.so.2\0")),
    "/lib64/ld-linux-x86-64.so.2",
  );
  assert.equal(parseInterpPath(enc.encode("/a\0junk\0")), "/a");
  assert.throws(() => parseInterpPath(enc.encode("/lib/ld.so")), ENOEXEC);
  assert.throws(() => parseInterpPath(enc.encode("\0\0")), EACCES, "empty: the cwd is opened");
  assert.throws(() => parseInterpPath(enc.encode("/lib/ld.so\0"), 16), EIO, "short read");
  assert.equal(parseInterpPath(enc.encode("/x\0/y\0"), 3), "/x");
});

Deno.test("parseElf() takes the last PT_GNU_STACK's PF_X as gnuStackExec", () => {
  const load = { type: PT_LOAD, flags: PF_R, offset: 0, vaddr: 0, filesz: 0x1000, memsz: 0x1000 };
  assert.equal(parseElf(image({ phdrs: [load] })).gnuStackExec, false);
  assert.equal(
    parseElf(image({ phdrs: [load, { type: PT_GNU_STACK, flags: PF_R | PF_W | PF_X }] }))
      .gnuStackExec,
    true,
  );
  assert.equal(
    parseElf(image({ phdrs: [load, { type: PT_GNU_STACK, flags: PF_R | PF_W }] })).gnuStackExec,
    false,
  );
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
      {
        type: PT_LOAD,
        flags: PF_R | PF_W,
        offset: 0x2e10,
        vaddr: 0x3e10,
        filesz: 0x200,
        memsz: 0x2210,
      },
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
      anonProt: PROT_READ | PROT_WRITE | PROT_EXEC,
    },
    {
      prot: PROT_READ | PROT_WRITE,
      file: { start: b + 0x3000, length: 0x2000, fileOffset: 0x2000 },
      zero: { start: b + 0x4010, length: 0xff0 },
      anon: { start: b + 0x5000, length: 0x2000 },
      anonProt: PROT_READ | PROT_WRITE,
    },
  ]);
  assert.deepEqual(loadExtent(info), { start: 0, end: 0x6020 });
});

Deno.test("loadPlan() maps a bss-only segment anonymously and skips empty ones", () => {
  const info = parseElf(image({
    phdrs: [
      { type: PT_LOAD, flags: PF_R, offset: 0, vaddr: 0x400000, filesz: 0x1000, memsz: 0x1000 },
      {
        type: PT_LOAD,
        flags: PF_R | PF_W,
        offset: 0x1000,
        vaddr: 0x401100,
        filesz: 0,
        memsz: 0x1000,
      },
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
    anonProt: PROT_READ | PROT_WRITE,
  });
  assert.equal(plan.end, 0x500000);
});

Deno.test("loadPlan() does not zero the page tail of a read-only segment with bss", () => {
  const info = parseElf(image({
    phdrs: [{
      type: PT_LOAD,
      flags: PF_R,
      offset: 0,
      vaddr: 0x400000,
      filesz: 0x800,
      memsz: 0x3000,
    }],
  }));
  const [step] = loadPlan(info, 0).steps;
  assert.equal(step?.zero, null);
  assert.deepEqual(step?.anon, { start: 0x401000, length: 0x2000 });
  // The bss pages are read-write whatever the segment says (Linux's vm_brk_flags).
  assert.equal(step?.anonProt, PROT_READ | PROT_WRITE);
});

Deno.test("loadPlan() refuses segments Linux cannot map with EINVAL", () => {
  const seg = (p: Partial<Phdr>) =>
    parseElf(image({
      phdrs: [{
        type: PT_LOAD,
        flags: PF_R,
        offset: 0,
        vaddr: 0x400000,
        filesz: 0x100,
        memsz: 0x100,
        ...p,
      }],
    }));
  assert.throws(() => loadPlan(seg({ filesz: 0x200 }), 0), EINVAL, "filesz > memsz");
  assert.throws(() => loadPlan(seg({ offset: 0x10 }), 0), EINVAL, "offset and vaddr misaligned");
  assert.throws(() => loadPlan(seg({ vaddr: TASK_SIZE }), 0), EINVAL, "starts beyond TASK_SIZE");
  assert.throws(() => loadPlan(seg({ vaddr: TASK_SIZE - 0x1000, memsz: 0x2000 }), 0), EINVAL);
  assert.throws(() => loadPlan(seg({}), TASK_SIZE), EINVAL, "bias pushes it out");
  assert.throws(() => loadPlan(seg({ vaddr: 2 ** 64 - 0x1000 }), 0), EINVAL, "u64 wrap");
  assert.throws(
    () => loadPlan(parseElf(image({ phdrs: [{ type: PT_NOTE }] })), 0),
    EINVAL,
    "no PT_LOAD",
  );
  const unsorted = parseElf(image({
    phdrs: [
      { type: PT_LOAD, flags: PF_R, offset: 0, vaddr: 0x800000, filesz: 0x100, memsz: 0x100 },
      { type: PT_LOAD, flags: PF_R, offset: 0, vaddr: 0x400000, filesz: 0x100, memsz: 0x100 },
    ],
  }));
  assert.throws(() => loadExtent(parseElf(image({ phdrs: [{ type: PT_NOTE }] }))), EINVAL);
  // Linux runs PT_LOADs listed out of order; the extent spans them all.
  assert.equal(loadPlan(unsorted, 0).start, 0x400000);
  assert.deepEqual(loadExtent(unsorted), { start: 0x400000, end: 0x800100 });
});

Deno.test("loadPlan() keeps segments that share a page, in order, for MAP_FIXED replacement", () => {
  const info = parseElf(image({
    phdrs: [
      {
        type: PT_LOAD,
        flags: PF_R | PF_X,
        offset: 0,
        vaddr: 0x400000,
        filesz: 0x1800,
        memsz: 0x1800,
      },
      {
        type: PT_LOAD,
        flags: PF_R | PF_W,
        offset: 0x1800,
        vaddr: 0x401800,
        filesz: 0x100,
        memsz: 0x100,
      },
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
  assert.equal(
    parseInterpPath(file.subarray(offset, offset + size)),
    "/lib64/ld-linux-x86-64.so.2",
  );
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
    await Deno.writeTextFile(
      `${dir}/h.c`,
      '#include <stdio.h>\nint main(void){puts("hi");return 0;}\n',
    );
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
    assert.ok(
      plan.steps.some((s) => (s.prot & PROT_WRITE) !== 0 && (s.anon !== null || s.zero !== null)),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** `mov $60, %eax; mov $42, %edi; syscall`: exit(42). */
const EXIT42 = Uint8Array.of(0xb8, 0x3c, 0, 0, 0, 0xbf, 0x2a, 0, 0, 0, 0x0f, 0x05);

/** A file the host can run: one R+X PT_LOAD of 8 KiB at 0x400000, exit(42) at 0x401000. */
function runnable(o: Image = {}, bytesAt: [number, string][] = []): Uint8Array {
  const b = image({
    phdrs: [{ type: PT_LOAD, flags: PF_R | PF_X, vaddr: 0x400000, filesz: 0x2000, memsz: 0x2000 }],
    ...o,
  });
  b.set(EXIT42, 0x1000);
  for (const [at, s] of bytesAt) b.set(new TextEncoder().encode(s), at);
  return b;
}

const text = (o: Partial<Phdr> = {}): Phdr => ({
  type: PT_LOAD,
  flags: PF_R | PF_X,
  vaddr: 0x400000,
  filesz: 0x2000,
  memsz: 0x2000,
  ...o,
});

/**
 * Crafted files and what the host's execve(2) does with them: "exit 42" (it ran), an errno name
 * (execve failed), or "SIGSEGV" (it failed past the point of no return).
 */
const HOST_CASES: [string, Uint8Array, string][] = [
  ["a valid file", runnable(), "exit 42"],
  ["EI_CLASS 1", runnable({ cls: 1 }), "exit 42"],
  ["EI_DATA 2", runnable({ data: 2 }), "exit 42"],
  ["EM_386", runnable({ machine: 3 }), "ENOEXEC"],
  ["ET_REL", runnable({ type: ET_REL }), "ENOEXEC"],
  ["e_phentsize 64", runnable({ phentsize: 64 }), "ENOEXEC"],
  ["e_phnum 0", runnable({ phnum: 0 }), "ENOEXEC"],
  ["1171 program headers", runnable({ phnum: 1171, size: 0x20000 }), "ENOEXEC"],
  ["1170 program headers", runnable({ phnum: 1170, size: 0x20000 }), "exit 42"],
  ["a header table past EOF", runnable({ phoff: 0x1ff0, size: 0x2000 }), "ENOEXEC"],
  ["a 40-byte file", runnable().subarray(0, 40), "ENOEXEC"],
  [
    "PT_INTERP of 1 byte",
    runnable({ phdrs: [{ type: PT_INTERP, offset: 0x1800, filesz: 1 }, text()] }),
    "ENOEXEC",
  ],
  [
    "PT_INTERP without a NUL",
    runnable({ phdrs: [{ type: PT_INTERP, offset: 0x1800, filesz: 4 }, text()] }, [[
      0x1800,
      "/abc",
    ]]),
    "ENOEXEC",
  ],
  [
    "an empty PT_INTERP path",
    runnable({ phdrs: [{ type: PT_INTERP, offset: 0x1800, filesz: 2 }, text()] }),
    "EACCES",
  ],
  [
    "PT_INTERP past EOF",
    runnable({ phdrs: [{ type: PT_INTERP, offset: 0x1ffe, filesz: 16 }, text()] }),
    "EIO",
  ],
  ["p_filesz > p_memsz", runnable({ phdrs: [text({ memsz: 0x1000 })] }), "SIGSEGV"],
  [
    "p_offset and p_vaddr misaligned",
    runnable({ phdrs: [text({ vaddr: 0x400010, filesz: 0x1ff0, memsz: 0x1ff0 })] }),
    "SIGSEGV",
  ],
  [
    "a segment past TASK_SIZE",
    runnable({ phdrs: [text(), text({ offset: 0x1000, vaddr: TASK_SIZE, filesz: 0x1000 })] }),
    "SIGSEGV",
  ],
  ["no PT_LOAD", runnable({ phdrs: [{ type: PT_NOTE }] }), "SIGSEGV"],
  ["ET_DYN without PT_LOAD", runnable({ type: ET_DYN, phdrs: [{ type: PT_NOTE }] }), "SIGSEGV"],
  [
    "PT_LOADs out of order",
    runnable({
      phdrs: [
        text({ offset: 0x1000, vaddr: 0x401000, filesz: 0x1000, memsz: 0x1000 }),
        text({ vaddr: 0x300000, filesz: 0x1000, memsz: 0x1000 }),
      ],
    }),
    "exit 42",
  ],
  [
    "ET_DYN with PT_LOADs out of order",
    runnable({
      type: ET_DYN,
      entry: 0x1000,
      phdrs: [
        text({ offset: 0x1000, vaddr: 0x1000, filesz: 0x1000, memsz: 0x1000 }),
        text({ vaddr: 0, filesz: 0x1000, memsz: 0x1000 }),
      ],
    }),
    "exit 42",
  ],
  [
    "overlapping PT_LOADs",
    runnable({ phdrs: [text(), text({ offset: 0x1000, vaddr: 0x401000, filesz: 0x1000 })] }),
    "exit 42",
  ],
  [
    "a bss-only segment with a misaligned p_offset",
    runnable({
      phdrs: [text(), {
        type: PT_LOAD,
        flags: PF_R | PF_W,
        offset: 0x1000,
        vaddr: 0x402100,
        memsz: 0x100,
      }],
    }),
    "exit 42",
  ],
];

/** What this module says exec would do with a file, in the same terms as the host. */
function predict(bytes: Uint8Array): string {
  let info;
  try {
    info = parseElf(bytes);
    if (info.interp !== null) {
      const { offset, size } = info.interp;
      parseInterpPath(bytes.subarray(offset, offset + size), size);
      return "would open the interpreter";
    }
  } catch (e) {
    return e instanceof Error && "symbol" in e ? String(e.symbol) : String(e);
  }
  try {
    const bias = info.type === "dyn" ? 0x5555_5555_4000 - loadExtent(info).start : 0;
    loadPlan(info, bias);
  } catch (e) {
    if (e === EINVAL) return "SIGSEGV";
    throw e;
  }
  return "exit 42";
}

Deno.test("parseElf() and loadPlan() fail exactly where the host's execve(2) fails", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/tryexec.c`,
      `#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
  (void)argc;
  execv(argv[1], argv + 1);
  printf("%s", strerrorname_np(errno));
  return 100;
}
`,
    );
    const cc = await new Deno.Command("gcc", {
      args: ["-O1", "-Wall", "-o", `${dir}/tryexec`, `${dir}/tryexec.c`],
      stderr: "piped",
    }).output();
    assert.ok(cc.success, new TextDecoder().decode(cc.stderr));
    for (const [name, bytes, expected] of HOST_CASES) {
      const path = `${dir}/case`;
      await Deno.writeFile(path, bytes, { mode: 0o755 });
      const r = await new Deno.Command(`${dir}/tryexec`, { args: [path], stdout: "piped" })
        .output();
      const host = r.signal !== null
        ? r.signal
        : r.code === 100
        ? new TextDecoder().decode(r.stdout)
        : `exit ${r.code}`;
      assert.equal(host, expected, `the host's execve on ${name}`);
      assert.equal(predict(bytes), expected, `our parse of ${name}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadPlan() lays out a static executable as the host kernel maps it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Initialized data and a bss that runs pages past it; no RELRO, which would split the
    // data mapping after exec. The program prints its own /proc/self/maps.
    await Deno.writeTextFile(
      `${dir}/maps.c`,
      `#include <fcntl.h>
#include <unistd.h>
char data[5000] = {1};
static char big[3 * 4096 + 123];
int main(void) {
  char buf[8192];
  long n;
  int fd = open("/proc/self/maps", O_RDONLY);
  big[0] = data[0];
  while ((n = read(fd, buf, sizeof buf)) > 0) write(1, buf, n);
  return big[1];
}
`,
    );
    const exe = `${dir}/maps`;
    const cc = await new Deno.Command("gcc", {
      args: ["-static", "-no-pie", "-Wl,-z,norelro", "-O1", "-Wall", "-o", exe, `${dir}/maps.c`],
      stderr: "piped",
    }).output();
    assert.ok(cc.success, new TextDecoder().decode(cc.stderr));
    const r = await new Deno.Command(exe, { stdout: "piped" }).output();
    assert.ok(r.success);
    const maps = new TextDecoder().decode(r.stdout).split("\n").map((l) => {
      const [range = "", perms = "", offset = "", , , path = ""] = l.split(/\s+/);
      const [start = "", end = ""] = range.split("-");
      return {
        start: parseInt(start, 16),
        end: parseInt(end, 16),
        perms,
        offset: parseInt(offset, 16),
        path,
      };
    });

    const info = parseElf(await Deno.readFile(exe));
    assert.equal(info.type, "exec");
    const plan = loadPlan(info, 0);
    const perms = (prot: number) =>
      `${prot & PROT_READ ? "r" : "-"}${prot & PROT_WRITE ? "w" : "-"}${
        prot & PROT_EXEC ? "x" : "-"
      }p`;
    const fileMaps = maps.filter((m) => m.path === exe);
    assert.deepEqual(
      fileMaps.map(({ start, end, perms, offset }) => ({ start, end, perms, offset })),
      plan.steps.flatMap((s) =>
        s.file === null ? [] : [{
          start: s.file.start,
          end: s.file.start + s.file.length,
          perms: perms(s.prot),
          offset: s.file.fileOffset,
        }]
      ),
    );
    const bss = plan.steps.find((s) => s.anon !== null);
    assert.ok(bss?.anon && bss.zero, "the data segment has a page tail to zero and bss pages");
    const anon = maps.find((m) => m.start === bss.anon!.start);
    assert.ok(anon, "an anonymous mapping starts where the file-backed data ends");
    assert.equal(anon.path, "");
    assert.equal(anon.perms, perms(bss.prot));
    assert.ok(anon.end >= bss.anon.start + bss.anon.length);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseElf() takes a separately read program header table for a far e_phoff", () => {
  const far = 2 ** 40;
  const file = image({ phoff: 0x1000, size: 0x2000 });
  const table = file.slice(0x1000, 0x1000 + 2 * PHDR_SIZE);
  // Point e_phoff far away: the caller reads the table there and never the bytes before it.
  new DataView(file.buffer).setBigUint64(32, BigInt(far), true);
  const hdr = readElfHeader(file);
  assert.equal(hdr.phdrsSize, 2 * PHDR_SIZE);
  assert.equal(hdr.phdrsEnd, far + 2 * PHDR_SIZE);
  const info = parseElf(file.subarray(0, 4096), table);
  assert.equal(info.phdrs.length, 2);
  assert.equal(info.phdrs[1]?.vaddr, 0x400000);
  assert.throws(() => parseElf(file.subarray(0, 4096), table.subarray(0, 100)), ENOEXEC);
  assert.throws(() => parseElf(file.subarray(0, 4096)), ENOEXEC);
});
