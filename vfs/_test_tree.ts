/**
 * Test helper: a small host directory tree to use as a sandbox root, with a sibling directory
 * outside it that no walk may reach.
 *
 * ```
 * <tmp>/outside/secret            must never be reachable
 * <tmp>/root/etc/passwd           "root:x:0:0::/root:/bin/sh\n"
 * <tmp>/root/usr/bin/sh           0755, "#!sh\n"
 * <tmp>/root/usr/bin/noexec       0644
 * <tmp>/root/secret/              0700, owned by the test runner
 * <tmp>/root/secret/key
 * <tmp>/root/mnt/                 empty, a mount point
 * <tmp>/root/bin -> usr/bin       relative symlink
 * <tmp>/root/abs -> /etc          absolute symlink: the sandbox's /etc
 * <tmp>/root/escape -> ../../../..       relative escape attempt
 * <tmp>/root/escape_outside -> ../outside
 * <tmp>/root/passwd_link -> etc/passwd
 * <tmp>/root/etc_link -> etc/     target with a trailing slash
 * <tmp>/root/loop1 -> loop2, loop2 -> loop1
 * <tmp>/root/dangling -> nowhere
 * <tmp>/root/chain/l0 -> l1 -> ... -> l<n> -> ../etc/passwd
 * ```
 *
 * @module
 */

import { Credentials } from "../kernel/creds.ts";
import { VirtualFilesystem } from "./vfs.ts";
import type { PathContext } from "./path_walk.ts";

export interface TestTree {
  base: string;
  root: string;
  vfs: VirtualFilesystem;
  ctx: PathContext;
}

/** Length of the chain/ symlink chain (l0 needs CHAIN + 1 follows to reach passwd). */
export const CHAIN = 39;

export function makeTree(): { base: string; root: string } {
  const base = Deno.makeTempDirSync({ prefix: "sentry_vfs_" });
  const root = `${base}/root`;
  Deno.mkdirSync(`${base}/outside`);
  Deno.writeTextFileSync(`${base}/outside/secret`, "host secret\n");
  for (const d of ["etc", "usr/bin", "secret", "mnt", "chain"]) Deno.mkdirSync(`${root}/${d}`, { recursive: true });
  Deno.writeTextFileSync(`${root}/etc/passwd`, "root:x:0:0::/root:/bin/sh\n");
  Deno.writeTextFileSync(`${root}/usr/bin/sh`, "#!sh\n");
  Deno.chmodSync(`${root}/usr/bin/sh`, 0o755);
  Deno.writeTextFileSync(`${root}/usr/bin/noexec`, "data\n");
  Deno.chmodSync(`${root}/usr/bin/noexec`, 0o644);
  Deno.writeTextFileSync(`${root}/secret/key`, "k\n");
  Deno.chmodSync(`${root}/secret`, 0o700);
  const links: [string, string][] = [
    ["bin", "usr/bin"], ["abs", "/etc"], ["escape", "../../../.."], ["escape_outside", "../outside"],
    ["passwd_link", "etc/passwd"], ["etc_link", "etc/"], ["loop1", "loop2"], ["loop2", "loop1"],
    ["dangling", "nowhere"],
  ];
  for (const [name, target] of links) Deno.symlinkSync(target, `${root}/${name}`);
  for (let i = 0; i < CHAIN; i++) Deno.symlinkSync(`l${i + 1}`, `${root}/chain/l${i}`);
  Deno.symlinkSync("../etc/passwd", `${root}/chain/l${CHAIN}`);
  return { base, root };
}

/**
 * Runs fn with a fresh tree and a VFS over it (root credentials), then cleans up. The root is
 * read-only unless o.readonly is false (then an overlay with an in-memory upper layer, or with
 * `<tmp>/upper` as a host upper layer when o.hostUpper).
 */
export function withTree(
  fn: (t: TestTree) => void,
  o: { readonly: boolean; hostUpper?: boolean } = { readonly: true },
): void {
  const { base, root } = makeTree();
  let upperHostPath: string | null = null;
  if (o.hostUpper) {
    upperHostPath = `${base}/upper`;
    Deno.mkdirSync(upperHostPath);
  }
  const vfs = VirtualFilesystem.create({ rootHostPath: root, readonly: o.readonly, upperHostPath });
  try {
    fn({ base, root, vfs, ctx: { root: vfs.root(), creds: Credentials.root() } });
  } finally {
    vfs.release();
    Deno.removeSync(base, { recursive: true });
  }
}

/** An unprivileged user that owns nothing in the tree. */
export const NOBODY = new Credentials(12345, 12345);
