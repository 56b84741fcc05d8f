/**
 * Original names and places of positions in the minified bundle `./sentry` runs, from the
 * source map deno bundle writes beside each of its files (boot/launch_cache.ts: `--sourcemap
 * external`, with no sourceMappingURL comment, so that Deno never reads the maps at start). For
 * bench/cpu_profile_top.ts: a profile of the bundle names its functions as the minifier renamed
 * them (`pr` for loadExecutable).
 *
 * @module
 */

interface Segment {
  col: number;
  source: number;
  line: number;
  name: number;
}

/** What a position of the bundle was in the sources. */
export interface Original {
  source: string;
  /** 0-based. */
  line: number;
  /** The identifier the minifier renamed there, if it is one. */
  name: string | null;
}

const B64 = new Map([..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"].map((c, i) => [c, i]));

/** Decodes one segment's base64 VLQ fields. */
function vlq(s: string): number[] {
  const out: number[] = [];
  let value = 0, shift = 0;
  for (const ch of s) {
    const d = B64.get(ch);
    if (d === undefined) return out;
    value += (d & 31) * 2 ** shift;
    if (d & 32) {
      shift += 5;
      continue;
    }
    out.push(value & 1 ? -Math.floor(value / 2) : Math.floor(value / 2));
    value = 0;
    shift = 0;
  }
  return out;
}

export class SourceMap {
  readonly #sources: string[];
  readonly #names: string[];
  /** Segments by generated line, in column order. */
  readonly #lines: Segment[][] = [];

  constructor(json: { sources: string[]; names: string[]; mappings: string }) {
    this.#sources = json.sources;
    this.#names = json.names;
    let source = 0, line = 0, col = 0, name = 0;
    for (const text of json.mappings.split(";")) {
      const segs: Segment[] = [];
      let genCol = 0;
      for (const seg of text.split(",")) {
        if (seg === "") continue;
        const f = vlq(seg);
        genCol += f[0] ?? 0;
        if (f.length < 4) continue;
        source += f[1]!;
        line += f[2]!;
        col += f[3]!;
        let n = -1;
        if (f.length >= 5) {
          name += f[4]!;
          n = name;
        }
        segs.push({ col: genCol, source, line, name: n });
      }
      this.#lines.push(segs);
    }
  }

  /**
   * Where 0-based `line`:`col` of the bundle came from; the name is the first renamed identifier
   * at or shortly after it (a profile places a function at its `function` keyword or its name).
   */
  lookup(line: number, col: number): Original | null {
    const segs = this.#lines[line];
    if (segs === undefined || segs.length === 0) return null;
    let i = segs.length - 1;
    while (i > 0 && segs[i]!.col > col) i--;
    const at = segs[i]!;
    let name: string | null = null;
    for (let j = i; j < segs.length && segs[j]!.col <= col + 40; j++) {
      if (segs[j]!.name >= 0) {
        name = this.#names[segs[j]!.name] ?? null;
        break;
      }
    }
    return { source: this.#sources[at.source] ?? "?", line: at.line, name };
  }

  static readonly #cache = new Map<string, SourceMap | null>();

  /** The map beside a bundle file's `file://` URL (`X.js.map`), or null when there is none. */
  static forUrl(url: string): SourceMap | null {
    if (!url.startsWith("file://") || !url.endsWith(".js")) return null;
    let m = SourceMap.#cache.get(url);
    if (m === undefined) {
      try {
        m = new SourceMap(JSON.parse(Deno.readTextFileSync(decodeURIComponent(new URL(url).pathname) + ".map")));
      } catch {
        m = null;
      }
      SourceMap.#cache.set(url, m);
    }
    return m;
  }
}
