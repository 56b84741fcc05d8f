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
 * {@linkcode readImageFast}, the restore's, does the same without loading cbor-x or node:zlib
 * (cbor_plain.ts, and the standard DecompressionStream), and hands anything it does not read
 * to readImage.
 *
 * cbor-x and node:zlib are loaded by {@linkcode loadCodecs}, which writing an image and
 * readImage need first: a restore that never uses them does not pay for loading them (~20 ms).
 * {@linkcode writeImage} writes a temporary file beside the target, syncs it and renames it over
 * the target: the target is either the old file or the whole new image, never a half-written one.
 *
 * @module
 */

import type * as CborX from "cbor-x/index-no-eval";
import type * as Zlib from "node:zlib";
import { built, intIn, isIntIn, loadZod, onlyKeys, z, zodLoaded } from "./zod_tree.ts";
import { decodePlain, decodePlainItem, GIVE_UP } from "./cbor_plain.ts";
import { ESCAPED_TEXT_TAG, EscapedText, escapedText, escapeStrings } from "./escaped_text.ts";
import { hostClose, hostOpen, hostPread, O_CLOEXEC, O_RDONLY } from "../../platform/ptrace/_ffi.ts";

let codecs: { cbor: typeof CborX; zlib: typeof Zlib } | null = null;

/** Loads cbor-x, node:zlib and zod, for writeImage, readImage and decodeImage. Idempotent. */
export async function loadCodecs(): Promise<void> {
  await Promise.all([loadZod(), loadEncoders()]);
}

/**
 * Loads cbor-x and node:zlib, what writeImage needs (a checkpoint parses nothing: zod, ~6 ms
 * of CPU, is left to what reads an image). Idempotent.
 */
export async function loadEncoders(): Promise<void> {
  // The no-eval build: no code generated from image contents, and no native addon (cbor-x's
  // default Node entry loads cbor-extract, which does not link against Deno's V8).
  const [cborModule, zlib] = await Promise.all([import("cbor-x/index-no-eval"), import("node:zlib")]);
  // A CommonJS module: a bundle's dynamic import gives its exports as the default export.
  const m = cborModule as typeof CborX & { default?: typeof CborX };
  const cbor = typeof m.Encoder === "function" ? m : m.default!;
  if (codecs === null) {
    // cbor-x's extensions are its module's, for every encoder and decoder: the image's only.
    const extension = {
      Class: EscapedText,
      tag: ESCAPED_TEXT_TAG,
      encode: (t: EscapedText, encode: (v: unknown) => void) => encode(t.bytes),
      decode: (b: unknown) => {
        const s = b instanceof Uint8Array ? escapedText(b) : null;
        if (s === null) throw new Error(`tag ${ESCAPED_TEXT_TAG} around anything but the bytes of a string that is not UTF-8`);
        return s;
      },
    };
    // (Its types want decode to make the class encode takes; here it makes a string.)
    cbor.addExtension(extension as unknown as Parameters<typeof cbor.addExtension>[0]);
  }
  codecs ??= { cbor, zlib };
}

function loaded(): { cbor: typeof CborX; zlib: typeof Zlib } {
  if (codecs === null) throw new Error("kernel/checkpoint/image.ts: await loadCodecs() first");
  return codecs;
}

/** The first field of every image: tells a sentry checkpoint from any other CBOR. */
export const IMAGE_MAGIC = "sentry-checkpoint";
/**
 * The layout of the state. Bumped whenever a saved class changes what it saves (the drift
 * guard, tests/checkpoint_test.ts, points at the class); an image of another version is refused.
 */
export const IMAGE_FORMAT_VERSION = 23;
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

/** A checkpoint image: the header, the state, and the blobs inflated (or to be read). */
export interface Image<S> {
  header: ImageHeader;
  state: S;
  blobs: ImageBlob[];
  /** Releases the image file that FileRun blobs read from (readImage's); idempotent. */
  close?(): void;
}

/** Random access to an image file. */
interface ImageSource {
  readonly size: number;
  /** pread(2): bytes read, or -errno. */
  pread(dst: Uint8Array, offset: number): number;
  close(): void;
}

/** Fills dst from src at offset; false when the file ends first or cannot be read. */
function readFully(src: ImageSource, dst: Uint8Array, offset: number): boolean {
  for (let done = 0; done < dst.length;) {
    const n = src.pread(dst.subarray(done), offset + done);
    if (n <= 0) return false;
    done += n;
  }
  return true;
}

/**
 * A memory run stored raw in an image file, read when the restore writes it (in pieces, into
 * the address space), so that a large sandbox is never held in memory twice: once as the
 * image and once as its memory. The file is the image that was validated; its raw runs are
 * plain bytes for the application, so reading them later trusts nothing new. A file cut short
 * since is an ImageError.
 */
export class FileRun {
  readonly #src: ImageSource;
  readonly #offset: number;
  readonly length: number;

  constructor(src: ImageSource, offset: number, length: number) {
    this.#src = src;
    this.#offset = offset;
    this.length = length;
  }

  /** Copies the run's bytes [from, from + dst.length) into dst. */
  readInto(dst: Uint8Array, from: number): void {
    if (from < 0 || from + dst.length > this.length) throw new RangeError("a read past the memory run");
    if (!readFully(this.#src, dst, this.#offset + from)) throw new ImageError("restore: the image file changed while it was read");
  }

  /** The whole run, read now. */
  bytes(): Uint8Array {
    const b = new Uint8Array(this.length);
    this.readInto(b, 0);
    return b;
  }
}

/** A memory run: bytes in memory (inflated), or raw in the image file. */
export type ImageBlob = Uint8Array | FileRun;

/** A blob's bytes (a FileRun is read now). */
export function blobBytes(b: ImageBlob): Uint8Array {
  return b instanceof Uint8Array ? b : b.bytes();
}

/** Any reason an image cannot be used, in one line (the CLI prints it and exits 125). */
export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImageError";
  }
}

const u64 = intIn(0, Number.MAX_SAFE_INTEGER);
const bytes = z.instanceof(Uint8Array);

const headerSchema = z.object({
  magic: z.literal(IMAGE_MAGIC),
  formatVersion: z.number().int(),
  sentryVersion: z.string().max(256),
  createdMs: u64,
  root: z.object({ path: z.string().max(4096), dev: u64, ino: u64, mtimeMs: z.number().finite() }).strict(),
}).strict();

const blobLength = intIn(0, MAX_BLOB_BYTES);
/**
 * A memory run: `deflated`, or `raw` (stored as it is: DEFLATE did not shrink a sample of it,
 * random or already compressed data), exactly one of them.
 */
const blobSchema = z.object({ length: blobLength, deflated: bytes.optional(), raw: bytes.optional() }).strict()
  .refine((b) => (b.deflated === undefined) !== (b.raw === undefined), "a blob is deflated or raw, one of them");

/** A run at least this long is sampled before it is compressed. */
const SAMPLE_BYTES = 64 << 10;
/**
 * An image whose memory is smaller than this stores it as it is: an idle shell's 190 KB deflate
 * to 46 KB, and a restore would pay more for loading an inflater (DecompressionStream's streams,
 * ~8 ms; node:zlib ~14 ms) than the 140 KB cost to read.
 */
const SMALL_IMAGE_BYTES = 256 << 10;

/**
 * Whether DEFLATE is worth its time on b: a run of at least SAMPLE_BYTES is compressed whole
 * only when its first SAMPLE_BYTES shrink to 7/8 or less. Incompressible memory (random bytes,
 * compressed files, keys) costs DEFLATE about 15 ns a byte both ways for nothing: 1.6 s to write
 * and 0.9 s to read a 100 MiB heap of random bytes, where storing it costs a copy.
 */
function worthDeflating(b: Uint8Array): boolean {
  if (b.length < SAMPLE_BYTES) return true;
  return loaded().zlib.deflateRawSync(b.subarray(0, SAMPLE_BYTES), { level: 1 }).length * 8 <= SAMPLE_BYTES * 7;
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
  const { cbor, zlib } = loaded();
  // Plain data out, plain data in: no records (structures keyed by position), no Maps (the
  // Maps escapeStrings makes for keys that are not well-formed are written as CBOR's plain maps).
  const enc = new cbor.Encoder({ useRecords: false, mapsAsObjects: true, useTag259ForMaps: false } as CborX.Options);
  // cbor-x's buffers are reused by the next encode: each piece is copied before another.
  const piece = (v: unknown) => enc.encode(v).slice();
  const text = new TextEncoder();
  const key = (k: string) => new Uint8Array([...cborHead(3, k.length), ...text.encode(k)]);
  let total = 0;
  for (const b of image.blobs) total += b.length;
  const small = total < SMALL_IMAGE_BYTES;
  const tmp = `${path}.tmp-${Deno.pid}`;
  try {
    const f = Deno.openSync(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
    try {
      const w = new PieceWriter(f);
      w.put(cborHead(5, 3));
      w.put(key("header"));
      w.put(piece(escapeStrings(image.header)));
      w.put(key("state"));
      w.put(piece(escapeStrings(image.state)));
      w.put(key("blobs"));
      w.put(cborHead(4, image.blobs.length));
      for (const blob of image.blobs) {
        const b = blobBytes(blob);
        const deflate = !small && worthDeflating(b);
        const data = deflate ? zlib.deflateRawSync(b, { level: 1 }) : b;
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
 * version), the state against `stateSchema`, every deflated blob inflated to exactly its
 * declared length, every raw blob's length checked. Throws {@linkcode ImageError} for anything
 * else, including an unreadable file. An image laid out as writeImage lays it out is read in
 * pieces: the header and the state, then each blob's head; raw blobs stay in the file as
 * {@linkcode FileRun}s (call the image's close() when done with them). Any other layout, or a
 * damaged one, is read whole and decoded as {@linkcode decodeImage} does, for its message.
 */
export function readImage<S>(path: string, stateSchema: z.ZodType<S>): Image<S> {
  const src = openSource(path);
  let keep = false;
  try {
    const image = readInPieces(src, stateSchema, path, false);
    if (image !== null) {
      keep = image.blobs.some((b) => b instanceof FileRun);
      return image as Image<S>;
    }
    const raw = new Uint8Array(src.size);
    if (!readFully(src, raw, 0)) throw new ImageError(`restore: cannot read ${path}: it changed while it was read`);
    return decodeImage(raw, stateSchema, path);
  } finally {
    if (!keep) src.close();
  }
}

/**
 * {@linkcode readImage} for the restore: the same checks, read without cbor-x and node:zlib
 * (cbor_plain.ts for the header and state, DecompressionStream for the blobs), so that neither
 * is loaded. An image it does not read that way (another layout, CBOR beyond plain data, a blob
 * that does not inflate as declared) goes to readImage, which reads it or says what is wrong.
 */
export async function readImageFast<S>(
  path: string, stateSchema: z.ZodType<S> | (() => Promise<z.ZodType<S>>), plainState?: (v: unknown) => boolean,
): Promise<Image<S>> {
  // A schema given as its loader is loaded with zod, only where a state needs it.
  let known: z.ZodType<S> | null = typeof stateSchema === "function" ? null : stateSchema;
  for (;;) {
    try {
      return await readFastOnce(path, known, plainState);
    } catch (err) {
      // A header or state the hand checks do not take: zod's schemas say what it is.
      if (err !== NEED_ZOD) throw err;
      await loadZod();
      known ??= await (stateSchema as () => Promise<z.ZodType<S>>)();
    }
  }
}

async function readFastOnce<S>(path: string, stateSchema: z.ZodType<S> | null, plainState: ((v: unknown) => boolean) | undefined): Promise<Image<S>> {
  const src = openSource(path);
  let image: Image<S> | null = null;
  try {
    const read = readInPieces(src, stateSchema, path, true, plainState);
    if (read !== null) {
      const blobs: ImageBlob[] = [];
      for (const b of read.blobs) {
        if (!(b instanceof DeflatedRun)) {
          blobs.push(b);
          continue;
        }
        const out = await inflateBounded(b.deflated, b.length);
        if (out === null) break;
        blobs.push(out);
      }
      if (blobs.length === read.blobs.length) image = { ...read, blobs } as Image<S>;
    }
  } finally {
    if (image === null || !image.blobs.some((b) => b instanceof FileRun)) src.close();
  }
  if (image !== null) return image;
  if (stateSchema === null) throw NEED_ZOD;
  await loadCodecs();
  return readImage(path, stateSchema);
}

/** Thrown where a schema is needed before zod is loaded (readImageFast loads it and reads again). */
const NEED_ZOD = new Error("kernel/checkpoint/image.ts: zod is needed");

/** The zod schema `s` to parse with; NEED_ZOD before zod is loaded, or before `s` is (null). */
function schema<T>(s: z.ZodType<T> | null): z.ZodType<T> {
  if (!zodLoaded() || s === null) throw NEED_ZOD;
  return built(s);
}

/** A deflated blob readInPieces left for its caller to inflate. */
class DeflatedRun {
  constructor(readonly deflated: Uint8Array, readonly length: number) {}
}

/** Deflated input goes to DecompressionStream in pieces this large: DEFLATE expands at most ~1032:1. */
const INFLATE_PIECE = 16 << 10;

/**
 * Raw DEFLATE data inflated with the standard DecompressionStream, or null when it is not
 * exactly `length` bytes. The input goes in a piece at a time and the output is counted as it
 * comes: once it passes the declared length the inflation stops, so a DEFLATE bomb cannot grow
 * past it by more than one piece's output (~16 MiB).
 */
async function inflateBounded(deflated: Uint8Array, length: number): Promise<Uint8Array | null> {
  const ds = new DecompressionStream("deflate-raw");
  const out = new Uint8Array(length);
  let n = 0, over = false, failed = false;
  const reader = ds.readable.getReader();
  const reading = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (value.length > length - n) {
        over = true;
        await reader.cancel();
        return;
      }
      out.set(value, n);
      n += value.length;
    }
  })().catch(() => {
    failed = true;
  });
  const writer = ds.writable.getWriter();
  try {
    for (let off = 0; off < deflated.length && !over && !failed; off += INFLATE_PIECE) {
      await writer.write(deflated.slice(off, off + INFLATE_PIECE));
    }
    if (!over && !failed) await writer.close();
  } catch {
    failed = true;
  }
  await reading;
  return !over && !failed && n === length ? out : null;
}

function openSource(path: string): ImageSource {
  let src: ImageSource;
  try {
    // (statSync's error says why a path cannot be read; the descriptor is the sentry's own,
    // through libc as its host files are, so no Deno resource outlives a test.)
    const size = Deno.statSync(path).size;
    const fd = hostOpen(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw new Error(`errno ${-fd}`);
    let open = true;
    src = {
      size,
      pread: (dst, offset) => open ? hostPread(fd, dst, offset) : -9,
      close: () => {
        if (open) hostClose(fd);
        open = false;
      },
    };
  } catch (err) {
    throw new ImageError(`restore: cannot read ${path}: ${oneLine(err)}`);
  }
  return src;
}

/** {@linkcode readImage} of bytes already in memory; `name` is what the messages call them. */
export function decodeImage<S>(raw: Uint8Array, stateSchema: z.ZodType<S>, name: string): Image<S> {
  const bad = badImage(name);
  let decoded: unknown;
  try {
    decoded = new (loaded().cbor.Decoder)({ useRecords: false, mapsAsObjects: true }).decode(raw);
  } catch (err) {
    // cbor-x throws for truncation, trailing bytes, bad tokens and nesting past the stack.
    throw bad(`bad CBOR (${oneLine(err)})`);
  }
  if (!isTree(decoded)) throw bad("bad CBOR (shared references)");
  const file = schema(fileSchema).safeParse(decoded);
  if (!file.success) throw bad(`bad layout (${issue(file.error)})`);
  const { header, state } = checkHeaderAndState(file.data.header, file.data.state, stateSchema, name);
  const blobs = file.data.blobs.map((b, i) => {
    if (b.raw !== undefined) {
      if (b.raw.length !== b.length) throw bad(`memory blob ${i} holds ${b.raw.length} bytes, not ${b.length}`);
      return b.raw; // a view of the file's bytes, not a copy
    }
    return inflateBlob(b.deflated!, b.length, i, bad);
  });
  return { header, state, blobs };
}

function badImage(name: string): (why: string) => ImageError {
  return (why) => new ImageError(`restore: ${name} is not a usable checkpoint image: ${why}`);
}

/**
 * zod's parse options for a schema parsed once per process: without the generated fast path,
 * whose code generation costs more than it saves on one parse (an idle shell's state: 16-19 ms
 * with it, 6-8 ms without; a second parse takes the same time either way).
 */
const ONE_SHOT = { jitless: true } as const;

const ROOT_KEYS: ReadonlySet<string> = new Set(["path", "dev", "ino", "mtimeMs"]);
const HEADER_KEYS: ReadonlySet<string> = new Set(["magic", "formatVersion", "sentryVersion", "createdMs", "root"]);

/** headerSchema's check by hand (plain_state.ts's way): true only for a header it takes unchanged. */
function plainHeader(h: unknown): h is ImageHeader {
  if (!onlyKeys(h, HEADER_KEYS) || Object.keys(h).length !== HEADER_KEYS.size) return false;
  const r = h.root;
  return h.magic === IMAGE_MAGIC && Number.isSafeInteger(h.formatVersion) && typeof h.sentryVersion === "string" &&
    h.sentryVersion.length <= 256 && isIntIn(h.createdMs, 0, Number.MAX_SAFE_INTEGER) && onlyKeys(r, ROOT_KEYS) &&
    Object.keys(r).length === ROOT_KEYS.size && typeof r.path === "string" && r.path.length <= 4096 &&
    isIntIn(r.dev, 0, Number.MAX_SAFE_INTEGER) && isIntIn(r.ino, 0, Number.MAX_SAFE_INTEGER) && typeof r.mtimeMs === "number" &&
    Number.isFinite(r.mtimeMs);
}

/**
 * The header (magic, then version, then the rest) and the state, validated: by hand where the
 * hand checks take them (plainHeader, the caller's `plainState`), else by their schemas.
 */
function checkHeaderAndState<S>(
  rawHeader: unknown, rawState: unknown, stateSchema: z.ZodType<S> | null, name: string, plainState?: (v: unknown) => boolean,
): { header: ImageHeader; state: S } {
  const bad = badImage(name);
  const magic = (rawHeader as { magic?: unknown } | null)?.magic;
  if (magic !== IMAGE_MAGIC) throw bad("no sentry checkpoint header");
  let header: ImageHeader;
  if (plainHeader(rawHeader)) header = rawHeader;
  else {
    const h = schema(headerSchema).safeParse(rawHeader, ONE_SHOT);
    if (!h.success) throw bad(`bad header (${issue(h.error)})`);
    header = h.data as ImageHeader;
  }
  if (header.formatVersion !== IMAGE_FORMAT_VERSION) {
    throw new ImageError(
      `restore: ${name} has image format ${header.formatVersion} (sentry ${header.sentryVersion}); this sentry reads format ${IMAGE_FORMAT_VERSION}`,
    );
  }
  if (plainState?.(rawState) === true) return { header, state: rawState as S };
  const state = schema(stateSchema).safeParse(rawState, ONE_SHOT);
  if (!state.success) throw bad(`bad state (${issue(state.error)})`);
  return { header, state: state.data };
}

/** A deflated blob inflated to exactly `length` bytes (the declared length bounds the output). */
function inflateBlob(deflated: Uint8Array, length: number, i: number, bad: (why: string) => ImageError): Uint8Array {
  let out: Uint8Array;
  try {
    // The declared length bounds the output: a hostile blob cannot inflate past it.
    const o = loaded().zlib.inflateRawSync(deflated, { maxOutputLength: Math.max(length, 1) });
    out = new Uint8Array(o.buffer, o.byteOffset, o.length); // a view: the Buffer is not copied
  } catch (err) {
    throw bad(`memory blob ${i} does not inflate (${oneLine(err)})`);
  }
  if (out.length !== length) throw bad(`memory blob ${i} holds ${out.length} bytes, not ${length}`);
  return out;
}

/**
 * Whether v, as cbor-x decoded it, is a tree: no object or array reached twice. cbor-x makes
 * shared references and cycles of CBOR's tags 28 and 29; the schemas (zod_tree.ts) parse each
 * reference again, so a few bytes of shared references could make them parse billions of
 * objects. Walked without recursion (cbor-x already refused nesting deeper than its stack).
 */
function isTree(v: unknown): boolean {
  const seen = new WeakSet<object>();
  const todo: unknown[] = [v];
  while (todo.length > 0) {
    const x = todo.pop();
    if (typeof x !== "object" || x === null || ArrayBuffer.isView(x)) continue;
    if (seen.has(x)) return false;
    seen.add(x);
    if (Array.isArray(x)) {
      for (const e of x) todo.push(e);
    } else {
      for (const k in x) todo.push((x as Record<string, unknown>)[k]);
    }
  }
  return true;
}

/** The head of a CBOR data item: major type, argument, where its content starts. */
interface Head {
  major: number;
  arg: number;
  next: number;
}

/**
 * The head at buf[pos], "short" when buf ends inside it, or null for what this reader leaves to
 * the whole decode: reserved or indefinite lengths, lengths and counts past 2^53.
 */
function headAt(buf: Uint8Array, pos: number): Head | "short" | null {
  if (pos >= buf.length) return "short";
  const b = buf[pos]!, major = b >> 5, ai = b & 31;
  if (ai < 24) return { major, arg: ai, next: pos + 1 };
  if (ai > 27) return null;
  const n = 1 << (ai - 24);
  if (pos + 1 + n > buf.length) return "short";
  let arg = 0;
  for (let i = 0; i < n; i++) arg = arg * 256 + buf[pos + 1 + i]!;
  // A float's bits, a large integer or tag number: only lengths and counts must be exact.
  if (!Number.isSafeInteger(arg) && major >= 2 && major <= 5) return null;
  return { major, arg, next: pos + 1 + n };
}

/** Bytes a header and state may take before the blobs: far above any sandbox's, a bound for a hostile file. */
const MAX_PREFIX = 256 << 20;

/**
 * readImage of an image laid out as writeImage lays it out: a map of header, state and blobs,
 * each blob a map of length and raw or deflated. Returns null for any other layout (the caller
 * decodes the whole file then, which says what is wrong); throws ImageError for a header, state
 * or blob that is wrong in itself. `fast` (readImageFast): the header and state are read with
 * cbor_plain.ts (null when it gives up), and deflated blobs are left as DeflatedRuns.
 */
function readInPieces<S>(
  src: ImageSource, stateSchema: z.ZodType<S> | null, name: string, fast: boolean, plainState?: (v: unknown) => boolean,
): Image<S> | null {
  const size = src.size;
  let buf = new Uint8Array(Math.min(size, 1 << 20));
  if (!readFully(src, buf, 0)) return null;
  /** Makes buf cover [0, end) of the file; false when it cannot. */
  const cover = (end: number): boolean => {
    if (end <= buf.length) return true;
    if (end > size || end > MAX_PREFIX) return false;
    const next = new Uint8Array(Math.min(size, Math.max(end, buf.length * 2)));
    next.set(buf);
    if (!readFully(src, next.subarray(buf.length), buf.length)) return false;
    buf = next;
    return true;
  };
  const head = (pos: number): Head | null => {
    const h = headAt(buf, pos);
    if (h !== "short") return h;
    // A head takes at most 9 bytes: covered, it is whole or the file ends inside it.
    if (!cover(Math.min(size, pos + 9))) return null;
    const again = headAt(buf, pos);
    return again === "short" ? null : again;
  };
  /** Where the item at pos ends, or null. */
  const skip = (pos: number): number | null => {
    let pending = 1;
    while (pending > 0) {
      const h = head(pos);
      if (h === null) return null;
      pending--;
      pos = h.next;
      if (h.major === 2 || h.major === 3) {
        pos += h.arg;
        if (!cover(pos)) return null;
      } else if (h.major === 4 || h.major === 5 || h.major === 6) {
        pending += h.major === 5 ? 2 * h.arg : h.major === 4 ? h.arg : 1;
        if (pending > size - pos) return null; // more items than bytes left
      }
    }
    return pos;
  };
  const text = new TextEncoder();
  /** Where the text key at pos ends, in the prefix, or in `window` (a blob's head). */
  const keyAt = (pos: number, key: string, window?: Uint8Array): number | null => {
    if (window === undefined) {
      cover(Math.min(size, pos + 9 + key.length));
      window = buf;
    }
    const h = headAt(window, pos);
    if (h === "short" || h === null || h.major !== 3 || h.arg !== key.length || h.next + key.length > window.length) return null;
    const want = text.encode(key);
    for (let i = 0; i < want.length; i++) if (window[h.next + i] !== want[i]) return null;
    return h.next + key.length;
  };
  /** The header at hs and the state after it, decoded where they lie; null when either gives up. */
  const inPlace = (hs: number): { header: unknown; he: number; ss: number; state: unknown; se: number } | null => {
    const h = decodePlainItem(buf, hs);
    const ss = h === GIVE_UP ? null : keyAt(h.end, "state");
    const s = ss === null ? GIVE_UP : decodePlainItem(buf, ss);
    return h === GIVE_UP || ss === null || s === GIVE_UP ? null : { header: h.value, he: h.end, ss, state: s.value, se: s.end };
  };
  const top = head(0);
  if (top === null || top.major !== 5 || top.arg !== 3) return null;
  const hs = keyAt(top.next, "header");
  // The restore's reader decodes the header and the state where they lie, each decode finding
  // its item's end: a walk of the state's ~3,000 items to find its end first cost a third as
  // much as decoding it. What it gives up on is walked and decoded as readImage's reader does
  // (which gives up the same way, or finds an image that is not plain data).
  const plain = fast && hs !== null ? inPlace(hs) : null;
  const he = plain?.he ?? (hs === null ? null : skip(hs));
  const ss = plain?.ss ?? (he === null ? null : keyAt(he, "state"));
  const se = plain?.se ?? (ss === null ? null : skip(ss));
  const bs = se === null ? null : keyAt(se, "blobs");
  const arr = bs === null ? null : head(bs);
  if (hs === null || he === null || ss === null || se === null || arr === null || arr.major !== 4) return null;
  let rawHeader: unknown, rawState: unknown;
  if (plain !== null) {
    rawHeader = plain.header;
    rawState = plain.state;
  } else if (fast) {
    rawHeader = decodePlain(buf.subarray(hs, he));
    rawState = rawHeader === GIVE_UP ? GIVE_UP : decodePlain(buf.subarray(ss, se));
    if (rawState === GIVE_UP) return null;
  } else {
    try {
      const dec = new (loaded().cbor.Decoder)({ useRecords: false, mapsAsObjects: true });
      rawHeader = dec.decode(buf.subarray(hs, he));
      rawState = dec.decode(buf.subarray(ss, se));
    } catch {
      return null;
    }
    if (!isTree(rawHeader) || !isTree(rawState)) return null;
  }
  const { header, state } = checkHeaderAndState(rawHeader, rawState, stateSchema, name, plainState);
  const bad = badImage(name);
  const blobs: ImageBlob[] = [];
  let pos = arr.next;
  if (arr.arg > (size - pos) / 8) return null; // each blob takes more than 8 bytes
  // A file read whole already (up to 1 MiB: an idle shell's is ~0.25 MB) is not read again:
  // its blobs' heads and raw blobs are views of it (a read of each head and each run was
  // two host calls a blob, ~30 blobs for an idle shell), and nothing is read from it later.
  const whole = buf.length === size ? buf : null;
  // Each blob's head, read from the file: a map of 2, "length", n, "raw" or "deflated", bytes.
  const win = new Uint8Array(64);
  for (let i = 0; i < arr.arg; i++) {
    const w = whole !== null ? whole.subarray(pos, Math.min(size, pos + win.length)) : win.subarray(0, Math.min(win.length, size - pos));
    if (whole === null && !readFully(src, w, pos)) return null;
    const m = headAt(w, 0);
    if (m === "short" || m === null || m.major !== 5 || m.arg !== 2) return null;
    const ls = keyAt(m.next, "length", w);
    const len = ls === null ? "short" : headAt(w, ls);
    if (len === "short" || len === null || len.major !== 0 || len.arg > MAX_BLOB_BYTES) return null;
    const rawAt = keyAt(len.next, "raw", w);
    const dataKey = rawAt ?? keyAt(len.next, "deflated", w);
    const data = dataKey === null ? "short" : headAt(w, dataKey);
    if (data === "short" || data === null || data.major !== 2) return null;
    const at = pos + data.next;
    if (at + data.arg > size) return null;
    if (rawAt !== null) {
      if (data.arg !== len.arg) throw bad(`memory blob ${i} holds ${data.arg} bytes, not ${len.arg}`);
      blobs.push(whole !== null ? whole.subarray(at, at + len.arg) : new FileRun(src, at, len.arg));
    } else {
      const deflated = whole !== null ? whole.subarray(at, at + data.arg) : new Uint8Array(data.arg);
      if (whole === null && !readFully(src, deflated, at)) return null;
      blobs.push(fast ? new DeflatedRun(deflated, len.arg) as unknown as ImageBlob : inflateBlob(deflated, len.arg, i, bad));
    }
    pos = at + data.arg;
  }
  if (pos !== size) return null;
  return { header, state, blobs, close: () => src.close() };
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

