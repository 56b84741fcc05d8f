/**
 * TCP connection states, spelled as in RFC 9293 §3.3.2.
 *
 * @module
 */

export type TcpState =
  | "CLOSED"
  | "LISTEN"
  | "SYN-SENT"
  | "SYN-RECEIVED"
  | "ESTABLISHED"
  | "FIN-WAIT-1"
  | "FIN-WAIT-2"
  | "CLOSE-WAIT"
  | "CLOSING"
  | "LAST-ACK"
  | "TIME-WAIT";

/** States in which both sequence spaces are synchronized. */
export function isSynchronized(s: TcpState): boolean {
  return s !== "CLOSED" && s !== "LISTEN" && s !== "SYN-SENT" && s !== "SYN-RECEIVED";
}

/** States in which we may still receive data from the peer. */
export function canReceiveData(s: TcpState): boolean {
  return s === "ESTABLISHED" || s === "FIN-WAIT-1" || s === "FIN-WAIT-2";
}

/** States in which the application may still queue data. */
export function canSendData(s: TcpState): boolean {
  return s === "ESTABLISHED" || s === "CLOSE-WAIT" || s === "SYN-SENT" || s === "SYN-RECEIVED";
}
