/**
 * TCP (RFC 9293): the {@linkcode TcpSocket} state machine and sender and
 * receiver machinery, independent of how segments reach it.
 *
 * @module
 */

export { type TcpState, isSynchronized } from "./state.ts";
export {
  type KeepaliveOptions,
  rstReplyFor,
  TCP_DEFAULTS,
  type TcpEmit,
  type TcpEndpoint,
  type TcpHost,
  type TcpInfo,
  type TcpOptions,
  type TcpReadiness,
  TcpSocket,
  windowShiftFor,
  type TcpSnapshot,
} from "./tcp_socket.ts";
export { type CongestionAlgorithm, type CongestionControl, type CongestionState, Cubic, NewReno } from "./congestion.ts";
export { RttEstimator } from "./rtt.ts";
export { RingBuffer } from "./ring_buffer.ts";
export { Assembler } from "./assembler.ts";
export { type SeqNumber, seq, seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from "../wire/seq_number.ts";
