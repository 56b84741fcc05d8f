/**
 * The checkpoint's field ledger: for every class whose instances a checkpoint saves, each of its
 * fields is either saved (written to the image by the class's save and read back by its load) or
 * derived (rebuilt on restore from saved fields or the host: a host descriptor, a cache, a
 * counter of references the restore recomputes). tests/checkpoint_test.ts parses each class's
 * source for its field declarations and fails when one is in neither list, so a new field
 * cannot silently drop out of the image (docs/checkpoint.md, "Drift guard").
 *
 * @module
 */

/** One class's entry in the ledger. */
export interface LedgerEntry {
  /** The source file, relative to the repository root. */
  file: string;
  className: string;
  /** Fields written to the image ("#name" for a private field, "static name" for a static). */
  saved: readonly string[];
  /** Fields rebuilt on restore, each with why it need not be saved. */
  derived: Readonly<Record<string, string>>;
}

/**
 * The classes the checkpoint covers so far. A class saved by a later slice is added here with
 * its save/load, and the guard holds it to its fields from then on.
 */
export const LEDGER: readonly LedgerEntry[] = [
  {
    file: "kernel/fd_table.ts",
    className: "FdTable",
    saved: ["#slots", "limit"],
    derived: {
      users: "the number of tasks sharing the table: recounted as restored tasks take it",
      closeWatcher: "set by the lock table while POSIX locks exist: restored with the locks",
    },
  },
  {
    file: "kernel/mm/mm.ts",
    className: "MemoryManager",
    saved: [
      "vmas",
      "brkStart",
      "brk",
      "stackBottom",
      "argStart",
      "argEnd",
      "envStart",
      "envEnd",
      "executable",
      "exe",
    ],
    derived: {
      as: "the host address space (stub process): rebuilt, then the saved pages written into it",
      users: "the number of thread groups using it: recounted as restored groups take it",
      hostCpuCharged: "CPU time of the old host threads: the restored stub starts at zero",
    },
  },
];

/**
 * The fields declared in the body of class `className` in `source`: instance and static, public
 * and `#private`, with or without an initializer or `readonly`. Parameter properties and fields
 * added in the constructor by assignment are not declarations and are not found: the code style
 * here declares every field in the class body (deno check's strict mode requires it for `#`).
 * Returns null when the class is not found.
 */
export function declaredFields(source: string, className: string): string[] | null {
  const lines = source.split("\n");
  const start = lines.findIndex((l) => new RegExp(`^(export )?(abstract )?class ${className}\\b`).test(l));
  if (start < 0) return null;
  const fields: string[] = [];
  // A class body's members sit at two spaces of indentation and the class ends at a "}" in
  // column 0 (the formatter's layout, which `deno fmt` keeps).
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith("}")) break;
    const m = /^  ((?:(?:static|readonly|declare|override|public|protected|private) )*)(#?[A-Za-z_$][\w$]*)(\??!?)\s*([:=;]|$)/.exec(line);
    if (m === null) continue;
    const mods = m[1]!;
    const name = m[2]!;
    // `get x(`/`set x(`/`async x(` and methods have "(" after the name: the regex needs [:=;]
    // or end of line right after it, so they do not match; a bare "constructor" line cannot.
    if (name === "constructor" || name === "get" || name === "set" || name === "async") continue;
    fields.push(mods.includes("static ") ? `static ${name}` : name);
  }
  return fields;
}
