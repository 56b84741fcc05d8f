import assert from "node:assert/strict";
import {
  ARG_MAX,
  buildInitialStack,
  checkArgLimits,
  execArgLimit,
  MAX_ARG_STRLEN,
  type StackImage,
  type StackOptions,
} from "./stack.ts";
import { E2BIG, SentryBugError } from "../errno.ts";
import {
  AT_ENTRY,
  AT_EXECFN,
  AT_NULL,
  AT_PAGESZ,
  AT_PHDR,
  AT_PLATFORM,
  AT_RANDOM,
  AT_SECURE,
  AT_UID,
} from "../../abi/linux/aux.ts";

const TOP = 0x7fff_ffff_f000;
const RANDOM = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);

function opts(o: Partial<StackOptions> = {}): StackOptions {
  return {
    top: TOP,
    argv: ["/bin/echo", "hello", "wörld"],
    envp: ["PATH=/usr/bin:/bin", "FOO=bar"],
    execfn: "/bin/echo",
    platform: "x86_64",
    random: RANDOM,
    auxv: [[AT_PAGESZ, 4096], [AT_PHDR, 0x400040], [AT_UID, 0], [AT_SECURE, 0], [
      AT_ENTRY,
      0x401000,
    ]],
    limit: execArgLimit(8 * 1024 * 1024),
    ...o,
  };
}

/** Reads the image back the way a program's _start would. */
function decode(img: StackImage) {
  const view = new DataView(img.bytes.buffer, img.bytes.byteOffset, img.bytes.byteLength);
  const u64 = (addr: number) => Number(view.getBigUint64(addr - img.start, true));
  const cstr = (addr: number) => {
    const off = addr - img.start;
    const end = img.bytes.indexOf(0, off);
    assert.ok(end >= 0, "string is NUL-terminated inside the image");
    return new TextDecoder().decode(img.bytes.subarray(off, end));
  };
  let a = img.sp;
  const argc = u64(a);
  a += 8;
  const argvPtrs: number[] = [];
  for (let i = 0; i < argc; i++, a += 8) argvPtrs.push(u64(a));
  assert.equal(u64(a), 0, "argv is NULL-terminated");
  a += 8;
  const envpAddr = a;
  const envPtrs: number[] = [];
  for (; u64(a) !== 0; a += 8) envPtrs.push(u64(a));
  a += 8;
  const auxvAddr = a;
  const auxv: [number, number][] = [];
  for (;; a += 16) {
    const key = u64(a);
    auxv.push([key, u64(a + 8)]);
    if (key === AT_NULL) break;
  }
  return {
    argc,
    argvPtrs,
    envPtrs,
    envpAddr,
    auxvAddr,
    auxv,
    u64,
    cstr,
    argv: argvPtrs.map(cstr),
    envp: envPtrs.map(cstr),
    aux: new Map(auxv),
  };
}

Deno.test("buildInitialStack() lays out argc, argv, envp and auxv that decode back", () => {
  const img = buildInitialStack(opts());
  const d = decode(img);
  assert.equal(img.sp % 16, 0);
  assert.equal(img.start, img.sp);
  assert.equal(img.start + img.bytes.length, TOP);
  assert.equal(d.argc, 3);
  assert.equal(img.argc, 3);
  assert.deepEqual(d.argv, ["/bin/echo", "hello", "wörld"]);
  assert.deepEqual(d.envp, ["PATH=/usr/bin:/bin", "FOO=bar"]);
  assert.equal(img.argvAddr, img.sp + 8);
  assert.equal(img.envpAddr, d.envpAddr);
  assert.equal(img.auxvAddr, d.auxvAddr);
  assert.deepEqual(d.auxv, [
    [AT_PAGESZ, 4096],
    [AT_PHDR, 0x400040],
    [AT_UID, 0],
    [AT_SECURE, 0],
    [AT_ENTRY, 0x401000],
    [AT_RANDOM, img.randomAddr],
    [AT_EXECFN, img.execfnAddr],
    [AT_PLATFORM, img.platformAddr],
    [AT_NULL, 0],
  ]);
  assert.equal(d.cstr(img.execfnAddr), "/bin/echo");
  assert.equal(d.cstr(img.platformAddr), "x86_64");
  assert.deepEqual(
    img.bytes.subarray(img.randomAddr - img.start, img.randomAddr - img.start + 16),
    RANDOM,
  );
});

Deno.test("buildInitialStack() puts argv strings lowest, then envp, then execfn under an 8-byte zero marker", () => {
  const img = buildInitialStack(opts());
  const d = decode(img);
  // Contiguous, in order, each after the previous one's NUL.
  const ptrs = [...d.argvPtrs, ...d.envPtrs, img.execfnAddr];
  const strs = [...d.argv, ...d.envp, "/bin/echo"];
  for (let i = 1; i < ptrs.length; i++) {
    assert.equal(ptrs[i], ptrs[i - 1]! + new TextEncoder().encode(strs[i - 1]!).length + 1);
  }
  assert.equal(img.argStart, d.argvPtrs[0]);
  assert.equal(img.argEnd, d.envPtrs[0]);
  assert.equal(img.envStart, d.envPtrs[0]);
  assert.equal(img.envEnd, img.execfnAddr);
  assert.equal(img.execfnAddr + "/bin/echo".length + 1, TOP - 8);
  assert.equal(d.u64(TOP - 8), 0);
  // Platform and random sit below the 16-aligned start of the strings, random right under platform.
  assert.equal(img.platformAddr, Math.floor(img.argStart / 16) * 16 - 7);
  assert.equal(img.randomAddr, img.platformAddr - 16);
  // auxv ends within 16 bytes under the random bytes.
  const auxvEnd = img.auxvAddr + d.auxv.length * 16;
  assert.ok(auxvEnd <= img.randomAddr && img.randomAddr - auxvEnd < 16);
});

Deno.test("buildInitialStack() keeps sp 16-byte aligned for every string length and count", () => {
  for (let n = 0; n < 40; n++) {
    const argv = Array.from({ length: 1 + (n % 5) }, (_, i) => "x".repeat(n + i));
    const envp = Array.from({ length: n % 3 }, (_, i) => `E${i}=${"y".repeat(n)}`);
    const img = buildInitialStack(opts({ argv, envp, alignOffset: n * 3 }));
    assert.equal(img.sp % 16, 0);
    const d = decode(img);
    assert.deepEqual(d.argv, argv);
    assert.deepEqual(d.envp, envp);
  }
});

Deno.test("buildInitialStack() subtracts alignOffset below the strings before aligning", () => {
  const a = buildInitialStack(opts());
  const b = buildInitialStack(opts({ alignOffset: 4000 }));
  assert.equal(b.argStart, a.argStart);
  assert.equal(b.platformAddr, Math.floor((a.argStart - 4000) / 16) * 16 - 7);
  assert.deepEqual(decode(b).argv, decode(a).argv);
});

Deno.test("buildInitialStack() replaces AT_RANDOM, AT_EXECFN and AT_PLATFORM in the caller's order", () => {
  const img = buildInitialStack(opts({
    auxv: [[AT_PAGESZ, 4096], [AT_RANDOM, 0], [AT_EXECFN, 0], [AT_PLATFORM, 0], [AT_UID, 1000n]],
  }));
  assert.deepEqual(decode(img).auxv, [
    [AT_PAGESZ, 4096],
    [AT_RANDOM, img.randomAddr],
    [AT_EXECFN, img.execfnAddr],
    [AT_PLATFORM, img.platformAddr],
    [AT_UID, 1000],
    [AT_NULL, 0],
  ]);
  assert.throws(() => buildInitialStack(opts({ auxv: [[AT_NULL, 0]] })), SentryBugError);
});

Deno.test("buildInitialStack() turns an empty argv into one empty string, as Linux does", () => {
  const img = buildInitialStack(opts({ argv: [], envp: [] }));
  const d = decode(img);
  assert.equal(d.argc, 1);
  assert.deepEqual(d.argv, [""]);
  assert.deepEqual(d.envp, []);
});

Deno.test("buildInitialStack() passes raw bytes through and refuses strings with a NUL", () => {
  const raw = Uint8Array.of(0xff, 0xfe, 0x41);
  const img = buildInitialStack(opts({ argv: ["a", raw] }));
  const d = decode(img);
  const at = d.argvPtrs[1]! - img.start;
  assert.deepEqual(img.bytes.subarray(at, at + 4), Uint8Array.of(0xff, 0xfe, 0x41, 0));
  assert.throws(() => buildInitialStack(opts({ argv: ["a\0b"] })), SentryBugError);
  assert.throws(() => buildInitialStack(opts({ random: new Uint8Array(8) })), SentryBugError);
});

Deno.test("execArgLimit() is a quarter of RLIMIT_STACK between ARG_MAX and 6 MiB", () => {
  assert.equal(execArgLimit(8 * 1024 * 1024), 2 * 1024 * 1024);
  assert.equal(execArgLimit(64 * 1024), ARG_MAX);
  assert.equal(execArgLimit(0xffff_ffff_ffff_ffffn), 6 * 1024 * 1024);
  assert.equal(execArgLimit(100 * 1024 * 1024), 6 * 1024 * 1024);
});

Deno.test("checkArgLimits() fails with E2BIG for an overlong string or too much in total", () => {
  const limit = execArgLimit(8 * 1024 * 1024);
  const longest = "a".repeat(MAX_ARG_STRLEN - 1);
  assert.equal(
    checkArgLimits([longest], [], { execfn: "/x", limit: limit }).argv[0]!.length,
    MAX_ARG_STRLEN - 1,
  );
  assert.throws(() => checkArgLimits([longest + "a"], [], { execfn: "/x", limit: limit }), E2BIG);
  assert.throws(() => checkArgLimits([], [longest + "a"], { execfn: "/x", limit: limit }), E2BIG);
  assert.throws(() => checkArgLimits([], [], { execfn: longest + "a", limit: limit }), E2BIG);

  // Exactly full: pointers (1 argv + 1 envp) * 8 + strings "/x\0" (3) + "ab\0" (3) + "E=\0" (3).
  const exact = 16 + 9;
  assert.doesNotThrow(() => checkArgLimits(["ab"], ["E="], { execfn: "/x", limit: exact }));
  assert.throws(() => checkArgLimits(["ab"], ["E="], { execfn: "/x", limit: exact - 1 }), E2BIG);
  // The pointers alone may not fill the limit.
  assert.throws(() => checkArgLimits(["a", "b"], [], { execfn: "/", limit: 16 }), E2BIG);
  // An empty argv still counts one pointer and its "" string.
  assert.doesNotThrow(() => checkArgLimits([], [], { execfn: "/x", limit: 8 + 3 + 1 }));
  assert.throws(() => checkArgLimits([], [], { execfn: "/x", limit: 8 + 3 }), E2BIG);
  const many = Array.from({ length: 1000 }, () => "z".repeat(3000));
  assert.throws(() => buildInitialStack(opts({ argv: many })), E2BIG);
});

Deno.test("buildInitialStack() reproduces the host kernel's initial stack byte for byte", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Dumps [sp, top) as the kernel left it: sp is &argc, top is 8 bytes past AT_EXECFN's NUL.
    await Deno.writeTextFile(
      `${dir}/dump.c`,
      `#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
int main(int argc, char **argv) {
  (void)argc;
  uint64_t sp = (uintptr_t)argv - 8;
  const char *execfn = (const char *)getauxval(AT_EXECFN);
  uint64_t top = (uintptr_t)execfn + strlen(execfn) + 1 + 8;
  fwrite(&sp, 8, 1, stdout);
  fwrite(&top, 8, 1, stdout);
  fwrite((const void *)(uintptr_t)sp, 1, top - sp, stdout);
  return 0;
}
`,
    );
    const cc = await new Deno.Command("gcc", {
      args: ["-static", "-O1", "-Wall", "-o", `${dir}/dump`, `${dir}/dump.c`],
      stderr: "piped",
    }).output();
    assert.ok(cc.success, new TextDecoder().decode(cc.stderr));
    const argv = [`${dir}/dump`, "one", "two words", "", "ünïcode"];
    const env = { A: "1", LONGER_NAME: "x".repeat(100), PATH: "/usr/bin:/bin" };
    for (let run = 0; run < 3; run++) {
      const r = await new Deno.Command(argv[0]!, {
        args: argv.slice(1),
        clearEnv: true,
        env,
        stdout: "piped",
      }).output();
      assert.ok(r.success);
      const out = r.stdout;
      const hv = new DataView(out.buffer, out.byteOffset, 16);
      const sp = Number(hv.getBigUint64(0, true));
      const top = Number(hv.getBigUint64(8, true));
      const host = out.subarray(16);
      assert.equal(host.length, top - sp);
      assert.equal(top % 4096, 0);

      // Read back what the kernel put there, then build the same thing.
      const d = decode({ bytes: host, start: sp, sp } as StackImage);
      const auxv = d.auxv.filter(([k]) => k !== AT_NULL);
      const at = (k: number) => d.aux.get(k)!;
      const platformAddr = at(AT_PLATFORM);
      const randomAt = at(AT_RANDOM) - sp;
      const img = buildInitialStack({
        top,
        argv: d.argv,
        envp: d.envp,
        execfn: d.cstr(at(AT_EXECFN)),
        platform: "x86_64",
        random: host.slice(randomAt, randomAt + 16),
        auxv,
        limit: execArgLimit(8 << 20),
        // Linux's arch_align_stack took a random bite below the strings: measure it.
        alignOffset: d.argvPtrs[0]! - (platformAddr + "x86_64".length + 1),
      });
      assert.deepEqual(d.argv, argv);
      assert.deepEqual(d.envp, Object.entries(env).map(([k, v]) => `${k}=${v}`));
      assert.equal(img.sp, sp);
      assert.equal(img.platformAddr, platformAddr);
      assert.equal(img.randomAddr, at(AT_RANDOM));
      assert.equal(img.execfnAddr, at(AT_EXECFN));
      assert.deepEqual(img.bytes, host);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkArgLimits() draws the E2BIG line where the host's execve(2) does", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // exec /bin/true with argv[0] and `n` strings of `len` bytes and one of `last` bytes (NULs
    // included), no environment, under an 8 MiB RLIMIT_STACK; print the errno name on failure.
    await Deno.writeTextFile(
      `${dir}/e2big.c`,
      `#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc != 4) return 2;
  long n = atol(argv[1]), len = atol(argv[2]), last = atol(argv[3]);
  struct rlimit rl = {8 << 20, RLIM_INFINITY};
  getrlimit(RLIMIT_STACK, &rl);
  rl.rlim_cur = 8 << 20;
  if (setrlimit(RLIMIT_STACK, &rl) != 0) return 3;
  char **av = calloc(n + 3, sizeof *av);
  av[0] = "/bin/true";
  for (long i = 0; i <= n; i++) {
    long l = i < n ? len : last;
    av[i + 1] = malloc(l);
    memset(av[i + 1], 'a', l - 1);
    av[i + 1][l - 1] = 0;
  }
  char *envp[] = {NULL};
  execve("/bin/true", av, envp);
  printf("%s", strerrorname_np(errno));
  return 100;
}
`,
    );
    const cc = await new Deno.Command("gcc", {
      args: ["-O1", "-Wall", "-o", `${dir}/e2big`, `${dir}/e2big.c`],
      stderr: "piped",
    }).output();
    assert.ok(cc.success, new TextDecoder().decode(cc.stderr));

    const host = async (n: number, len: number, last: number) => {
      const r = await new Deno.Command(`${dir}/e2big`, {
        args: [String(n), String(len), String(last)],
        stdout: "piped",
      }).output();
      return r.code === 100 ? new TextDecoder().decode(r.stdout) : `exit ${r.code}`;
    };
    const ours = (n: number, len: number, last: number) => {
      const argv = ["/bin/true", ...Array(n).fill("a".repeat(len - 1)), "a".repeat(last - 1)];
      try {
        checkArgLimits(argv, [], { execfn: "/bin/true", limit: execArgLimit(8 << 20) });
        return "exit 0";
      } catch (e) {
        if (e === E2BIG) return "E2BIG";
        throw e;
      }
    };

    // 2 MiB minus the pointers (argv[0], 20 strings, the last one) minus "/bin/true\0" twice.
    const n = 20;
    const len = 100_000;
    const fill = execArgLimit(8 << 20) - (n + 2) * 8 - 2 * 10 - n * len;
    const cases: [[number, number, number], string][] = [
      [[n, len, fill], "exit 0"],
      [[n, len, fill + 1], "E2BIG"],
      [[0, 2, MAX_ARG_STRLEN], "exit 0"],
      [[0, 2, MAX_ARG_STRLEN + 1], "E2BIG"],
    ];
    for (const [args, expected] of cases) {
      assert.equal(await host(...args), expected, `host with ${args}`);
      assert.equal(ours(...args), expected, `checkArgLimits with ${args}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
