/**
 * POSIX path strings, lexically (path_resolution(7)'s grammar: "/" separates, "." and ".."
 * name the directory and its parent, repeated slashes count as one): join, resolve,
 * normalize, dirname and basename with node:path/posix's results. No filesystem access.
 *
 * Why not node:path/posix: the first import of a node: module starts Deno's Node
 * compatibility layer, about 45 ms of CPU at every start of the sentry, which the short-lived
 * commands (`sentry exec`, `state`, `kill`, ...) would pay for a few string operations.
 *
 * @module
 */

/** path with "." and ".." resolved lexically and repeated slashes collapsed; "." for "". */
export function normalize(path: string): string {
  if (path === "") return ".";
  const absolute = path.startsWith("/");
  const trailing = path.endsWith("/");
  const out = normalizeParts(path, absolute);
  let s = out.join("/");
  if (s === "" && !absolute) s = ".";
  if (s !== "" && trailing) s += "/";
  return absolute ? "/" + s : s;
}

function normalizeParts(path: string, absolute: boolean): string[] {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
      continue;
    }
    out.push(part);
  }
  return out;
}

/** The parts joined with "/" and normalized; "." when all are empty. */
export function join(...parts: string[]): string {
  const joined = parts.filter((p) => p !== "").join("/");
  return joined === "" ? "." : normalize(joined);
}

/**
 * The absolute path the parts lead to, from the right: each part relative to those before it,
 * the first relative to the current directory. Normalized, without a trailing slash.
 */
export function resolve(...parts: string[]): string {
  let path = "";
  for (let i = parts.length - 1; i >= -1 && !path.startsWith("/"); i--) {
    const p = i >= 0 ? parts[i]! : Deno.cwd();
    if (p === "") continue;
    path = path === "" ? p : `${p}/${path}`;
  }
  return "/" + normalizeParts(path, true).join("/");
}

/**
 * The directory part of path: up to its last slash (trailing slashes ignored, the slashes
 * before it kept but the last), "." when it has none, "/" for the root.
 */
export function dirname(path: string): string {
  if (path === "") return ".";
  const hasRoot = path.startsWith("/");
  let end = -1;
  let matchedSlash = true;
  for (let i = path.length - 1; i >= 1; --i) {
    if (path[i] === "/") {
      if (!matchedSlash) {
        end = i;
        break;
      }
    } else matchedSlash = false;
  }
  if (end === -1) return hasRoot ? "/" : ".";
  if (hasRoot && end === 1) return "//";
  return path.slice(0, end);
}

/** The last component of path, trailing slashes ignored. */
export function basename(path: string): string {
  let end = path.length;
  while (end > 0 && path[end - 1] === "/") end--;
  if (end === 0) return "";
  return path.slice(path.lastIndexOf("/", end - 1) + 1, end);
}
