/**
 * `deno task build`: writes dist/sentry, the sentry as one executable file that runs from any
 * directory on a machine without `npm ci` (issue #16 part 2). `deno compile` would make such a
 * file too, but needs Deno's runtime base binary, which our machines cannot download; this
 * build uses only what is here:
 *
 * - the program bundled (`deno bundle`: main.ts and the chunks it imports dynamically, instead of
 *   ~300 modules, and no node_modules, deno.json or type-checking at run time);
 * - the Deno executable that runs this build (node_modules' own);
 * - the vDSO's C sources (kernel/vdso/build.ts compiles them beside the program on first use).
 *
 * dist/sentry is a bash header followed by a gzipped tar of those. On its first run it
 * unpacks the tar into `<cache>/sentry/dist-<hash of the tar>` (cache: $XDG_CACHE_HOME,
 * ~/.cache, or $TMPDIR/sentry-cache-UID without HOME, as the vDSO's cache), through a private
 * temporary directory renamed into place, so that concurrent first runs either win the rename
 * or find the winner's complete copy; later runs only exec it. A new build has a new hash, so
 * an old copy is never run by a new file.
 *
 *     deno task build [--output FILE]   (default: dist/sentry)
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import * as posix from "node:path/posix";
import { bundleProgram } from "../boot/launch_cache.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));

/** The header. Its placeholders are replaced with values of the same width (see header()). */
const HEADER = `#!/bin/bash
# sentry, packed by \`deno task build\`: this bash header, then a gzipped tar of the bundled
# program, the Deno runtime and the vDSO sources, unpacked once into a cache directory named
# by its hash (safe against concurrent first runs: a private directory renamed into place).
set -euo pipefail
hash=@HASH@
offset=@OFFSET@
if [[ -n \${XDG_CACHE_HOME:-} ]]; then root=$XDG_CACHE_HOME/sentry
elif [[ -n \${HOME:-} ]]; then root=$HOME/.cache/sentry
else root=\${TMPDIR:-/tmp}/sentry-cache-$(id -u); fi
dir=$root/dist-$hash
if [[ ! -f $dir/ok ]]; then
  mkdir -p -m 0700 -- "$root"
  # The sentry runs what is in there: it must be ours and writable by nobody else.
  if [[ -L $root || ! -O $root || -n $(find "$root" -maxdepth 0 -perm /022) ]]; then
    echo "sentry: cache directory $root is not private to this user" >&2
    exit 125
  fi
  tmp=$(mktemp -d -- "$root/.unpack-XXXXXXXX")
  if ! tail -c "+$offset" -- "$0" | tar -xzf - -C "$tmp" || ! : > "$tmp/ok"; then
    rm -rf -- "$tmp"
    echo "sentry: cannot unpack into $root" >&2
    exit 125
  fi
  # Fails when a concurrent first run renamed its copy first: then that one is used.
  mv -T -- "$tmp" "$dir" 2>/dev/null || rm -rf -- "$tmp"
fi
# As ./sentry: Deno's caches of the sentry in a DENO_DIR of its own (boot/deno_dir.ts), whose
# write-ahead logs are checkpointed in the background when a new bundle's first run filled them.
own=()
if [[ -d $root/deno && ! -L $root/deno && -O $root/deno && ! -L $root && -O $root ]]; then
  own=("SENTRY_DENO_DIR_WAS=\${DENO_DIR+=$DENO_DIR}" "DENO_DIR=$root/deno")
  if [[ -s $root/deno/v8_code_cache_v2-wal || -s $root/deno/dep_analysis_cache_v2-wal ]]; then
    ( "$dir/deno" eval --quiet --no-config 'import { DatabaseSync } from "node:sqlite";
for (const n of ["v8_code_cache_v2", "dep_analysis_cache_v2", "node_analysis_cache_v2"]) {
  try {
    if (Deno.statSync(Deno.args[0] + "/" + n + "-wal").size === 0) continue;
    const db = new DatabaseSync(Deno.args[0] + "/" + n);
    db.exec("PRAGMA busy_timeout = 5000; PRAGMA wal_checkpoint(TRUNCATE);");
    db.close();
  } catch { /* busy or gone: the next start tries again */ }
}' "$root/deno" </dev/null >/dev/null 2>&1 & )
  fi
fi
# As ./sentry: hand the sandbox the caller's environment, not the one bash adds to.
# The V8 flags and --unstable-lazy-dynamic-imports, as ./sentry (see there): a chunk imported
# with import() is read when it is imported, not at every start (a do's CPU ~20 ms less: the
# checkpoint's and check's chunks).
# #!/bin/bash and env's LC_ALL=C as ./sentry's (see there): ~1.5 ms less of every start.
if [[ -r /proc/$$/environ ]] && mapfile -d '' -t original < /proc/$$/environ; then
  LC_ALL=C exec env -i "\${original[@]}" "\${own[@]}" "$dir/deno" run -A --quiet --no-lock --no-config --v8-flags=--no-lazy,--min-semi-space-size=8 --unstable-lazy-dynamic-imports "$dir/main.js" "$@"
fi
exec env "\${own[@]}" "$dir/deno" run -A --quiet --no-lock --no-config --v8-flags=--no-lazy,--min-semi-space-size=8 --unstable-lazy-dynamic-imports "$dir/main.js" "$@"
exit 125
`;

function header(hash: string, payloadOffset: number): string {
  return HEADER.replace("@HASH@", hash).replace("@OFFSET@", String(payloadOffset).padStart(12, "0"));
}

async function run(cmd: string, args: string[], cwd?: string): Promise<void> {
  const r = await new Deno.Command(cmd, { args, ...(cwd ? { cwd } : {}), stdout: "inherit", stderr: "inherit" })
    .output();
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.code})`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ args: Deno.args, options: { output: { type: "string" } } });
  const output = posix.resolve(values.output ?? posix.join(REPO, "dist", "sentry"));
  const stage = Deno.makeTempDirSync({ prefix: "sentry-build-" });
  try {
    const deno = Deno.execPath();
    const pkg = posix.join(stage, "pkg");
    await bundleProgram(REPO, pkg, false);
    Deno.copyFileSync(deno, posix.join(pkg, "deno"));
    Deno.chmodSync(posix.join(pkg, "deno"), 0o755);
    const tar = posix.join(stage, "payload.tar.gz");
    // Fixed owner and times: the same inputs give the same tar, and so the same hash.
    await run("tar", [
      "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "-czf", tar, "-C", pkg, ".",
    ]);
    const payload = Deno.readFileSync(tar);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", payload));
    const hash = [...digest.subarray(0, 12)].map((b) => b.toString(16).padStart(2, "0")).join("");
    const head = new TextEncoder().encode(header(hash, 0));
    const bytes = new TextEncoder().encode(header(hash, head.length + 1)); // tail -c +N is 1-based
    Deno.mkdirSync(posix.dirname(output), { recursive: true });
    const tmpOut = `${output}.tmp-${Deno.pid}`;
    const f = Deno.openSync(tmpOut, { write: true, create: true, truncate: true, mode: 0o755 });
    try {
      for (const part of [bytes, payload]) {
        for (let o = 0; o < part.length;) o += f.writeSync(part.subarray(o));
      }
    } finally {
      f.close();
    }
    Deno.chmodSync(tmpOut, 0o755);
    Deno.renameSync(tmpOut, output);
    console.log(`${posix.relative(Deno.cwd(), output) || output}: ${(bytes.length + payload.length) >> 20} MiB (${hash})`);
  } finally {
    Deno.removeSync(stage, { recursive: true });
  }
}

await main();
