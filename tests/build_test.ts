/**
 * `make -j2` builds a small C project (four .c files, a static library, a Makefile with a
 * `test` target) with the machine's gcc and runs its tests, natively and in the sentry
 * (issue #3's acceptance; the VFS is what make, gcc, as, ld and ar lean on). The sentry's
 * writes go to the overlay: to memory, or with `--overlay-upper` to a host directory; the
 * project's own directory never changes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { REPO_ROOT, runNative, runSentry } from "./_harness.ts";

const PROJECT: Record<string, string> = {
  "calc.h": `#ifndef CALC_H
#define CALC_H
long add(long a, long b);
long mul(long a, long b);
void reverse(char *s);
int parse(const char *s, long *out);
#endif
`,
  "main.c": `#include <stdio.h>
#include <string.h>
#include "calc.h"

int main(int argc, char **argv) {
  long a, b;
  if (argc == 3 && strcmp(argv[1], "rev") == 0) {
    reverse(argv[2]);
    puts(argv[2]);
    return 0;
  }
  if (argc != 4 || !parse(argv[2], &a) || !parse(argv[3], &b)) {
    fprintf(stderr, "usage: calc add|mul A B | rev S\\n");
    return 2;
  }
  printf("%ld\\n", strcmp(argv[1], "mul") == 0 ? mul(a, b) : add(a, b));
  return 0;
}
`,
  "add.c": `#include "calc.h"
long add(long a, long b) { return a + b; }
`,
  "mul.c": `#include "calc.h"
long mul(long a, long b) {
  long r = 0;
  for (long i = 0; i < b; i++) r = add(r, a);
  return r;
}
`,
  "strutil.c": `#include <stdlib.h>
#include <string.h>
#include "calc.h"
void reverse(char *s) {
  for (size_t i = 0, j = strlen(s); i + 1 < j; i++, j--) {
    char c = s[i];
    s[i] = s[j - 1];
    s[j - 1] = c;
  }
}
int parse(const char *s, long *out) {
  char *end;
  *out = strtol(s, &end, 10);
  return *s != 0 && *end == 0;
}
`,
  "Makefile": `CC = gcc
CFLAGS = -O1 -Wall
LIBOBJS = add.o mul.o strutil.o

calc: main.o libcalc.a
\t$(CC) -o $@ main.o -L. -lcalc

libcalc.a: $(LIBOBJS)
\trm -f $@
\tar rcs $@ $(LIBOBJS)

%.o: %.c calc.h
\t$(CC) $(CFLAGS) -c $< -o $@

test: calc
\t@./calc add 2 3
\t@./calc mul 6 7
\t@./calc rev stressed
\t@test "$$(./calc mul 12 12)" = 144 && echo "PASS mul"
\t@./calc add x 1 2>/dev/null; echo "bad input: status $$?"
\t@ls *.o | wc -l

clean:
\trm -f calc *.o libcalc.a

.PHONY: test clean
`,
};

const EXPECTED_STDOUT = "5\n42\ndesserts\nPASS mul\nbad input: status 2\n4\n";

function writeProject(dir: string): void {
  for (const [name, text] of Object.entries(PROJECT)) Deno.writeTextFileSync(`${dir}/${name}`, text);
}

function listing(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

const MAKE = ["/usr/bin/make", "-j2", "-s", "test"];

Deno.test("make -j2 builds a C project and runs its tests in the sentry as natively", async () => {
  const nativeDir = Deno.makeTempDirSync({ prefix: "sentry-make-native-" });
  const sentryDir = Deno.makeTempDirSync({ prefix: "sentry-make-sandbox-" });
  try {
    writeProject(nativeDir);
    writeProject(sentryDir);
    const native = await runNative(MAKE, { cwd: nativeDir });
    assert.deepEqual(native, { stdout: EXPECTED_STDOUT, stderr: "", code: 0 });
    const sentry = await runSentry(MAKE, { cwd: sentryDir });
    assert.deepEqual(sentry, native);
    // The build happened in the overlay's memory: the host directory is as it was.
    assert.deepEqual(listing(sentryDir), Object.keys(PROJECT).sort());
  } finally {
    Deno.removeSync(nativeDir, { recursive: true });
    Deno.removeSync(sentryDir, { recursive: true });
  }
});

Deno.test("make -j2 with --overlay-upper leaves the build outputs in the host upper directory", async () => {
  const base = Deno.makeTempDirSync({ prefix: "sentry-make-upper-" });
  const src = `${base}/src`, upper = `${base}/upper`;
  try {
    Deno.mkdirSync(src);
    Deno.mkdirSync(upper);
    writeProject(src);
    const out = await new Deno.Command(`${REPO_ROOT}/sentry`, {
      args: ["do", "--overlay-upper", upper, "--", ...MAKE],
      cwd: src,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    assert.equal(dec.decode(out.stderr), "");
    assert.equal(dec.decode(out.stdout), EXPECTED_STDOUT);
    assert.equal(out.code, 0);
    assert.deepEqual(listing(src), Object.keys(PROJECT).sort());
    // The upper layer mirrors the host path of the project.
    assert.deepEqual(
      listing(`${upper}${src}`),
      ["add.o", "calc", "libcalc.a", "main.o", "mul.o", "strutil.o"],
    );
    const built = await runNative([`${upper}${src}/calc`, "mul", "3", "4"]);
    assert.equal(built.stdout, "12\n");
  } finally {
    Deno.removeSync(base, { recursive: true });
  }
});
