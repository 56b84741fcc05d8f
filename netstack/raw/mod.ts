/**
 * Raw IP sockets (raw(7)).
 *
 * @module
 */

export { type RawEmit, type RawHost, type RawPacket, type RawSend, RawSocket } from "./raw_socket.ts";
