/**
 * SHA-256 (FIPS 180-4), for a BPF program's tag (program.ts). node:crypto's createHash did it,
 * but importing any `node:` module starts Deno's Node layer (~10-20 ms of CPU), and the kernel
 * imports program.ts at every start; a tag is computed for a few small programs at most.
 *
 * @module
 */

/** The round constants and the initial hash: fractional bits of the primes' cube and square roots. */
let constants: { k: Uint32Array; h0: Uint32Array } | null = null;

function primeRootBits(): { k: Uint32Array; h0: Uint32Array } {
  const primes: number[] = [];
  for (let n = 2; primes.length < 64; n++) if (primes.every((p) => n % p !== 0)) primes.push(n);
  const frac32 = (x: number) => Math.floor((x - Math.floor(x)) * 2 ** 32) >>> 0;
  return {
    k: Uint32Array.from(primes, (p) => frac32(Math.cbrt(p))),
    h0: Uint32Array.from(primes.slice(0, 8), (p) => frac32(Math.sqrt(p))),
  };
}

const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n));

/** The SHA-256 digest of data (32 bytes). */
export function sha256(data: Uint8Array): Uint8Array {
  const { k, h0 } = constants ??= primeRootBits();
  // The message, a 1 bit, zeros, and its length in bits (64-bit big-endian), in 64-byte blocks.
  const padded = new Uint8Array(Math.ceil((data.length + 9) / 64) * 64);
  padded.set(data);
  padded[data.length] = 0x80;
  const v = new DataView(padded.buffer);
  const bits = data.length * 8;
  v.setUint32(padded.length - 8, Math.floor(bits / 2 ** 32));
  v.setUint32(padded.length - 4, bits >>> 0);
  const h = h0.slice();
  const w = new Uint32Array(64);
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = v.getUint32(off + 4 * i);
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!, y = w[i - 2]!;
      const s0 = rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3);
      const s1 = rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10);
      w[i] = w[i - 16]! + s0 + w[i - 7]! + s1;
    }
    let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, hh = h[7]!;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i]! + w[i]!) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    const add = [a, b, c, d, e, f, g, hh];
    for (let i = 0; i < 8; i++) h[i] = h[i]! + add[i]!;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setUint32(4 * i, h[i]!);
  return out;
}
