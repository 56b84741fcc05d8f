/**
 * Wire formats: zero-copy packet views and small parsed "Repr" structs.
 *
 * The contract, the same for every protocol:
 *
 * - `XPacket.checked(bytes)` wraps untrusted input. It returns `null` when the
 *   buffer cannot hold what the header claims (too short, a length field
 *   pointing past the end, a wrong version). It never throws. Bytes past a
 *   length field (link padding) are allowed and excluded from `payload`.
 * - `XPacket.unchecked(bytes)` wraps a buffer we own, for emitting. Accessors
 *   may then throw `RangeError` if the buffer is too short: that is a bug.
 * - `parseX(packet, ...)` turns a checked view into a Repr, or `null` when the
 *   content is semantically invalid (bad checksum, malformed options). Payload
 *   fields of a Repr are views into the packet, not copies.
 * - `emitX(repr, packet, ...)` writes every header field (and, where the
 *   protocol carries its payload in the repr, the payload) and fills the
 *   checksum. `xLen(repr)` / `xHeaderLen(repr)` tell how large a buffer to
 *   hand it.
 * - Every `DataView` is built from `(buffer, byteOffset, byteLength)`, so a
 *   view over a `subarray` reads the right bytes.
 *
 * @module
 */

export * from "./address.ts";
export * from "./checksum.ts";
export * from "./seq_number.ts";
export * from "./ethernet.ts";
export * from "./arp.ts";
export * from "./ipv4.ts";
export * from "./ipv6.ts";
export * from "./icmpv4.ts";
export * from "./icmpv6.ts";
export * from "./udp.ts";
export * from "./tcp.ts";
