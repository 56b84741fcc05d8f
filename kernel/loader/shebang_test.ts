import assert from "node:assert/strict";
import { BINPRM_BUF_SIZE, parseShebang, shebangArgv } from "./shebang.ts";
import { EACCES, ENOEXEC } from "../errno.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const parse = (s: string) => parseShebang(enc(s));

Deno.test("parseShebang() returns null for anything that does not start with #!", () => {
  assert.equal(parse("\x7fELF"), null);
  assert.equal(parse("# !/bin/sh\n"), null);
  assert.equal(parse(" #!/bin/sh\n"), null);
  assert.equal(parse("#"), null);
  assert.equal(parse(""), null);
});

Deno.test("parseShebang() reads an interpreter with no argument", () => {
  assert.deepEqual(parse("#!/bin/sh\necho hi\n"), { interp: "/bin/sh", arg: null });
  assert.deepEqual(
    parse("#!/bin/sh"),
    { interp: "/bin/sh", arg: null },
    "no newline, EOF pads with NUL",
  );
  assert.deepEqual(parse("#! \t /bin/sh \t \nx"), { interp: "/bin/sh", arg: null });
});

Deno.test("parseShebang() keeps one argument with its internal spaces and trims its end", () => {
  assert.deepEqual(parse("#!/usr/bin/env python3\n"), { interp: "/usr/bin/env", arg: "python3" });
  assert.deepEqual(parse("#!/usr/bin/env  python3  -u \t\n"), {
    interp: "/usr/bin/env",
    arg: "python3  -u",
  });
  assert.deepEqual(parse("#!/bin/awk\t-f\n"), { interp: "/bin/awk", arg: "-f" });
});

Deno.test("parseShebang() treats only spaces and tabs as blanks, so \\r stays in the name", () => {
  assert.deepEqual(parse("#!/bin/sh\r\n"), { interp: "/bin/sh\r", arg: null });
  assert.deepEqual(parse("#!/bin/sh -e\r\n"), { interp: "/bin/sh", arg: "-e\r" });
});

Deno.test("parseShebang() fails with ENOEXEC when no interpreter is named", () => {
  assert.throws(() => parse("#!\n"), ENOEXEC);
  assert.throws(() => parse("#!   \t\n/bin/sh\n"), ENOEXEC);
  assert.throws(() => parse("#!" + " ".repeat(300)), ENOEXEC, "all blanks, no newline");
});

Deno.test("parseShebang() stops at a NUL, which also hides a later newline", () => {
  assert.deepEqual(parse("#!/bin/sh\0 -x\n"), { interp: "/bin/sh", arg: null });
  assert.deepEqual(parse("#!/bin/sh -x\0y z\n"), { interp: "/bin/sh", arg: "-x" });
  assert.throws(() => parse("#!\0/bin/sh\n"), EACCES, "an empty name: exec would open the cwd");
});

Deno.test("parseShebang() looks at only the first 256 bytes", () => {
  // A newline beyond the buffer: the long argument is truncated at byte 255, which is fine.
  const longArg = "a".repeat(400);
  const sb = parse(`#!/bin/sh ${longArg}\n`);
  assert.equal(sb?.interp, "/bin/sh");
  assert.equal(sb?.arg, "a".repeat(BINPRM_BUF_SIZE - 1 - "#!/bin/sh ".length));
  // An interpreter path that reaches byte 255 might be truncated: refused.
  assert.throws(() => parse(`#!/${"p".repeat(300)}\n`), ENOEXEC);
  assert.throws(() => parse(`#!  /${"p".repeat(252)}`), ENOEXEC);
  // A name that ends exactly at byte 254, then a blank at byte 255: accepted.
  const name = `/${"q".repeat(BINPRM_BUF_SIZE - 1 - 3)}`;
  assert.deepEqual(parse(`#!${name} more`), { interp: name, arg: null });
});

Deno.test("shebangArgv() puts interp, arg and the path before the original arguments", () => {
  assert.deepEqual(
    shebangArgv({ interp: "/bin/sh", arg: "-e" }, "./run.sh", ["run.sh", "a", "b"]),
    ["/bin/sh", "-e", "./run.sh", "a", "b"],
  );
  assert.deepEqual(shebangArgv({ interp: "/bin/sh", arg: null }, "/x", []), ["/bin/sh", "/x"]);
});

Deno.test("parseShebang() and shebangArgv() agree with the host's execve(2) on crafted scripts", async () => {
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
  const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
  if (argc > 1 && strcmp(slash ? slash + 1 : argv[0], "printargs") != 0) {
    execv(argv[1], argv + 1);
    printf("%s", strerrorname_np(errno));
    return 100;
  }
  for (int i = 0; i < argc; i++) printf("%s%c", argv[i], 0);
  return 0;
}
`,
    );
    const cc = await new Deno.Command("gcc", {
      args: ["-O1", "-Wall", "-o", `${dir}/tryexec`, `${dir}/tryexec.c`],
      stderr: "piped",
    }).output();
    assert.ok(cc.success, new TextDecoder().decode(cc.stderr));
    // Run as ".../printargs", the helper prints its argv instead of exec'ing argv[1].
    const interp = `${dir}/printargs`;
    await Deno.symlink(`${dir}/tryexec`, interp);
    const lines = [
      `#!${interp}\n`,
      `#!  ${interp}  a  b \t\n`,
      `#!${interp} -e\r\n`,
      `#!${interp} -x\0y z\n`,
      `#!\0${interp}\n`,
      "#!  \n",
      `#!${interp} ${"a".repeat(400)}\n`,
      `#!/${"p".repeat(300)}\n`,
      `#!  /${"p".repeat(252)}`,
    ];
    const script = `${dir}/script`;
    for (const line of lines) {
      await Deno.writeFile(script, enc(line), { mode: 0o755 });
      const r = await new Deno.Command(`${dir}/tryexec`, { args: [script, "x1"], stdout: "piped" })
        .output();
      const out = new TextDecoder().decode(r.stdout);
      const host = r.code === 100 ? out : out.split("\0").slice(0, -1).join(" | ");
      let ours: string;
      try {
        const sb = parseShebang(enc(line));
        assert.notEqual(sb, null);
        // The host runs "printargs" through its symlink; argv[0] is the path as written.
        ours = shebangArgv(sb!, script, [script, "x1"]).join(" | ");
      } catch (e) {
        ours = e instanceof Error && "symbol" in e ? String(e.symbol) : String(e);
      }
      assert.equal(ours, host, `#! line ${JSON.stringify(line.slice(0, 40))}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
