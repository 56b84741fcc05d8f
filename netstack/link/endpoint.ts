/**
 * The link endpoint contract: the boundary between the stack and a device.
 *
 * @module
 */

/** What the frames on a link look like. */
export type Medium = "ethernet" | "ip";

/**
 * A network device as the stack sees it. The endpoint owns its buffers:
 *
 * - `receive(now)` returns the next inbound frame, or null if none is queued.
 *   The returned bytes stay valid until the next `receive` call on the same
 *   endpoint; the stack never keeps them past that.
 * - `transmit(now, len, fill)` asks for a `len`-byte buffer, lets `fill` write
 *   the frame into it synchronously, and sends it. It returns false, without
 *   calling `fill`, when the device cannot take a frame now (queue full).
 *
 * `now` is the caller's clock in milliseconds; endpoints use it for
 * timestamps and delays only, and never read a clock themselves.
 */
export interface LinkEndpoint {
  /** Largest frame `transmit` accepts, link header included. */
  readonly mtu: number;
  readonly medium: Medium;
  receive(now: number): Uint8Array | null;
  transmit(now: number, len: number, fill: (buf: Uint8Array) => void): boolean;
}
