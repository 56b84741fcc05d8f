/** Helpers shared by the wire tests. @module */

export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** A buffer of `n` bytes filled with 0xa5, so unwritten fields show up. */
export function a5(n: number): Uint8Array {
  return new Uint8Array(n).fill(0xa5);
}
