/**
 * The checkpoint image: one CBOR file holding a header and a sandbox's saved state, with memory
 * contents as compressed blobs the state refers to by index (issue #13; design in
 * docs/checkpoint.md).
 *
 *     { header: {magic, formatVersion, sentryVersion, createdMs, root},
 *       state:  what the kernel saved (validated by the caller's zod schema),
 *       blobs:  [{length, deflated} | {length, raw}] }   each memory run: raw DEFLATE
 *                                   (node:zlib), or as it is when DEFLATE would not shrink it
 *
 * The image is untrusted input: {@linkcode readImage} decodes it with a decoder that makes plain
 * data only, checks it against zod schemas (the header's here, the state's the caller's), and
 * inflates every blob with its declared length as the bound, before anything is returned. Any
 * failure is one {@linkcode ImageError} with a one-line message; nothing else escapes.
 * {@linkcode writeImage} writes a temporary file beside the target, syncs it and renames it over
 * the target: the target is either the old file or the whole new image, never a half-written one.
 *
 * @module
 */

// The no-eval build: no code generated from image contents, and no native addon (cbor-x's
// default Node entry loads cbor-extract, which does not link against Deno's V8).
import { Decoder, Encoder } from "cbor-x/index-no-eval";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { z } from "zod";

/** The first field of every image: tells a sentry checkpoint from any other CBOR. */
export const IMAGE_MAGIC = "sentry-checkpoint";
/**
 * The layout of the state. Bumped whenever a saved class changes what it saves (the drift
 * guard, tests/checkpoint_test.ts, points at the class); an image of another version is refused.
 */
export const IMAGE_FORMAT_VERSION = 9;
/** The largest memory run one blob may hold once inflated (a run larger is split). */
export const MAX_BLOB_BYTES = 1 << 30;

/**
 * Which host directory served as the root filesystem. A restore on a root that is not the same
 * directory (another inode, or changed since: its mtime) is refused, as the host files the
 * image refers to by path may no longer be what the program had open.
 */
export interface RootIdentity {
  /** The host path at checkpoint time (informative: the restore may name another path). */
  path: string;
  dev: number;
  ino: number;
  mtimeMs: number;
}

export interface ImageHeader {
  magic: typeof IMAGE_MAGIC;
  formatVersion: number;
  /** The version of the sentry that wrote it (package.json). */
  sentryVersion: string;
  /** When the checkpoint was taken, ms since the Unix epoch. */
  createdMs: number;
  root: RootIdentity;
}

/** A checkpoint image in memory: the header, the state, and the blobs inflated. */
export interface Image<S> {
  header: ImageHeader;
  state: S;
  blobs: Uint8Array[];
}

/** Any reason an image cannot be used, in one line (the CLI prints it and exits 125). */
export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImageError";
  }
}

const u64 = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const bytes = z.instanceof(Uint8Array);

const headerSchema = z.object({
  magic: z.literal(IMAGE_MAGIC),
  formatVersion: z.number().int(),
  sentryVersion: z.string().max(256),
  createdMs: u64,
  root: z.object({ path: z.string().max(4096), dev: u64, ino: u64, mtimeMs: z.number().finite() }).strict(),
}).strict();

const blobLength = z.number().int().min(0).max(MAX_BLOB_BYTES);
/**
 * A memory run: `deflated`, or `raw` (stored as it is: DEFLATE did not shrink a sample of it,
 * random or already compressed data), exactly one of them.
 */
const blobSchema = z.object({ length: blobLength, deflated: bytes.optional(), raw: bytes.optional() }).strict()
  .refine((b) => (b.deflated === undefined) !== (b.raw === undefined), "a blob is deflated or raw, one of them");

/** A run at least this long is sampled before it is compressed. */
const SAMPLE_BYTES = 64 << 10;

/**
 * Whether DEFLATE is worth its time on b: a run of at least SAMPLE_BYTES is compressed whole
 * only when its first SAMPLE_BYTES shrink to 7/8 or less. Incompressible memory (random bytes,
 * compressed files, keys) costs DEFLATE about 15 ns a byte both ways for nothing: 1.6 s to write
 * and 0.9 s to read a 100 MiB heap of random bytes, where storing it costs a copy.
 */
function worthDeflating(b: Uint8Array): boolean {
  if (b.length < SAMPLE_BYTES) return true;
  return deflateRawSync(b.subarray(0, SAMPLE_BYTES), { level: 1 }).length * 8 <= SAMPLE_BYTES * 7;
}

/** CBOR's head of an item of major type `major` with argument n (RFC 8949 3.1). */
function cborHead(major: number, n: number): Uint8Array {
  const m = major << 5;
  if (n < 24) return Uint8Array.of(m | n);
  if (n < 0x100) return Uint8Array.of(m | 24, n);
  if (n < 0x10000) return Uint8Array.of(m | 25, n >>> 8, n & 0xff);
  if (n < 0x1_0000_0000) return Uint8Array.of(m | 26, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  throw new ImageError(`checkpoint: an item of ${n} bytes is too large`);
}

/**
 * Writes pieces to a file through a buffer: small pieces (the state, blob heads, small runs)
 * are gathered into one write, large ones written as they are (never copied).
 */
class PieceWriter {
  readonly #f: Deno.FsFile;
  readonly #buf = new Uint8Array(1 << 20);
  #used = 0;
  constructor(f: Deno.FsFile) {
    this.#f = f;
  }
  put(b: Uint8Array): void {
    const large = b.length >= this.#buf.length >>> 1;
    if (large || b.length > this.#buf.length - this.#used) this.flush();
    if (large) return this.#writeAll(b);
    this.#buf.set(b, this.#used);
    this.#used += b.length;
  }
  flush(): void {
    this.#writeAll(this.#buf.subarray(0, this.#used));
    this.#used = 0;
  }
  #writeAll(b: Uint8Array): void {
    for (let off = 0; off < b.length;) off += this.#f.writeSync(b.subarray(off));
  }
}

const fileSchema = z.object({
  header: z.unknown(),
  state: z.unknown(),
  blobs: z.array(blobSchema),
}).strict();

/**
 * Writes an image to `path` atomically: `path.tmp-PID`, fsync, rename. The blobs are compressed
 * (or stored, when DEFLATE would not shrink them) here, one at a time, and streamed to the file
 * after the header and state: the image is never built whole in memory (a 100 MiB sandbox
 * used to be copied into one CBOR buffer, growing, for 1.3 s). The bytes are one CBOR map
 * `{header, state, blobs}`, as encoding it in one piece gives, so the reader is unchanged. Throws an
 * {@linkcode ImageError} (with the temporary file removed) when it cannot.
 */
export function writeImage(path: string, image: Image<unknown>): void {
  for (const b of image.blobs) {
    if (b.length > MAX_BLOB_BYTES) throw new ImageError(`checkpoint: a memory run of ${b.length} bytes is too large for one blob`);
  }
  // Plain data out, plain data in: no records (structures keyed by position), no Maps.
  const enc = new Encoder({ useRecords: false, mapsAsObjects: true });
  // cbor-x's buffers are reused by the next encode: each piece is copied before another.
  const piece = (v: unknown) => enc.encode(v).slice();
  const text = new TextEncoder();
  const key = (k: string) => new Uint8Array([...cborHead(3, k.length), ...text.encode(k)]);
  const tmp = `${path}.tmp-${Deno.pid}`;
  try {
    const f = Deno.openSync(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
    try {
      const w = new PieceWriter(f);
      w.put(cborHead(5, 3));
      w.put(key("header"));
      w.put(piece(image.header));
      w.put(key("state"));
      w.put(piece(image.state));
      w.put(key("blobs"));
      w.put(cborHead(4, image.blobs.length));
      for (const b of image.blobs) {
        const deflate = worthDeflating(b);
        const data = deflate ? deflateRawSync(b, { level: 1 }) : b;
        w.put(cborHead(5, 2));
        w.put(key("length"));
        w.put(cborHead(0, b.length));
        w.put(key(deflate ? "deflated" : "raw"));
        w.put(cborHead(2, data.length));
        w.put(data);
      }
      w.flush();
      f.syncSync();
    } finally {
      f.close();
    }
    Deno.renameSync(tmp, path);
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // never created, or already renamed
    }
    if (err instanceof ImageError) throw err;
    throw new ImageError(`checkpoint: cannot write ${path}: ${oneLine(err)}`);
  }
}

/**
 * Reads and validates the image at `path`: the header against this sentry (magic, format
 * version), the state against `stateSchema`, and every blob inflated to exactly its declared
 * length. Throws {@linkcode ImageError} for anything else, including an unreadable file.
 */
export function readImage<S>(path: string, stateSchema: z.ZodType<S>): Image<S> {
  let raw: Uint8Array;
  try {
    raw = Deno.readFileSync(path);
  } catch (err) {
    throw new ImageError(`restore: cannot read ${path}: ${oneLine(err)}`);
  }
  return decodeImage(raw, stateSchema, path);
}

/** {@linkcode readImage} of bytes already in memory; `name` is what the messages call them. */
export function decodeImage<S>(raw: Uint8Array, stateSchema: z.ZodType<S>, name: string): Image<S> {
  const bad = (why: string) => new ImageError(`restore: ${name} is not a usable checkpoint image: ${why}`);
  let decoded: unknown;
  try {
    decoded = new Decoder({ useRecords: false, mapsAsObjects: true }).decode(raw);
  } catch (err) {
    // cbor-x throws for truncation, trailing bytes, bad tokens and nesting past the stack.
    throw bad(`bad CBOR (${oneLine(err)})`);
  }
  const file = fileSchema.safeParse(decoded);
  if (!file.success) throw bad(`bad layout (${issue(file.error)})`);
  const magic = (file.data.header as { magic?: unknown } | null)?.magic;
  if (magic !== IMAGE_MAGIC) throw bad("no sentry checkpoint header");
  const header = headerSchema.safeParse(file.data.header);
  if (!header.success) throw bad(`bad header (${issue(header.error)})`);
  if (header.data.formatVersion !== IMAGE_FORMAT_VERSION) {
    throw new ImageError(
      `restore: ${name} has image format ${header.data.formatVersion} (sentry ${header.data.sentryVersion}); this sentry reads format ${IMAGE_FORMAT_VERSION}`,
    );
  }
  const state = stateSchema.safeParse(file.data.state);
  if (!state.success) throw bad(`bad state (${issue(state.error)})`);
  const blobs = file.data.blobs.map((b, i) => {
    if (b.raw !== undefined) {
      if (b.raw.length !== b.length) throw bad(`memory blob ${i} holds ${b.raw.length} bytes, not ${b.length}`);
      return b.raw; // a view of the file's bytes, not a copy
    }
    let out: Uint8Array;
    try {
      // The declared length bounds the output: a hostile blob cannot inflate past it.
      const o = inflateRawSync(b.deflated!, { maxOutputLength: Math.max(b.length, 1) });
      out = new Uint8Array(o.buffer, o.byteOffset, o.length); // a view: the Buffer is not copied
    } catch (err) {
      throw bad(`memory blob ${i} does not inflate (${oneLine(err)})`);
    }
    if (out.length !== b.length) throw bad(`memory blob ${i} holds ${out.length} bytes, not ${b.length}`);
    return out;
  });
  return { header: header.data as ImageHeader, state: state.data, blobs };
}

/** The identity of the host directory `hostPath` as a root filesystem. */
export function rootIdentity(hostPath: string): RootIdentity {
  const st = Deno.statSync(hostPath);
  return { path: hostPath, dev: st.dev, ino: st.ino ?? 0, mtimeMs: st.mtime?.getTime() ?? 0 };
}

/** Refuses (ImageError) a restore on a root that is not the one the image was taken on. */
export function checkRoot(header: ImageHeader, hostPath: string): void {
  let now: RootIdentity;
  try {
    now = rootIdentity(hostPath);
  } catch (err) {
    throw new ImageError(`restore: cannot stat the root filesystem ${hostPath}: ${oneLine(err)}`);
  }
  const was = header.root;
  if (now.dev !== was.dev || now.ino !== was.ino) {
    throw new ImageError(`restore: the root filesystem ${hostPath} is not the one checkpointed (${was.path})`);
  }
  if (now.mtimeMs !== was.mtimeMs) {
    throw new ImageError(`restore: the root filesystem ${hostPath} changed since the checkpoint`);
  }
}

function oneLine(err: unknown): string {
  const s = err instanceof Error ? err.message : String(err);
  const line = s.replace(/ \(os error \d+\).*$/s, "");
  const nl = line.indexOf("\n");
  return (nl < 0 ? line : line.slice(0, nl)).slice(0, 200);
}

function issue(err: z.ZodError): string {
  const first = err.issues[0];
  if (first === undefined) return "invalid";
  const at = first.path.length > 0 ? first.path.map(String).join(".") : "(top)";
  return oneLine(`${at}: ${first.message}`);
}
