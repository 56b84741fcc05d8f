/**
 * sentry's userspace TCP/IP stack. See README.md for the layers and the time
 * contract. This module imports nothing from kernel/ or vfs/.
 *
 * A minimal driver, for orientation (the kernel owns the real one):
 *
 * ```ts
 * const stack = new Stack({ seed: 1 });
 * stack.addInterface({ device: new Loopback({ medium: "ip" }), addresses: ["127.0.0.1/8"] });
 * const listener = stack.tcpSocket();
 * listener.bind(null, 8080);
 * listener.listen(128);
 * // On every wakeup (a frame arrived, a socket call was made, a deadline passed):
 * while (stack.poll(now)) {}
 * const next = stack.pollAt(now); // null: idle; else arm the single timer for `next`
 * ```
 *
 * Socket calls never block: `send`/`recv`/`accept` return `null` when they
 * would, and `readiness()` tells a waiter layer when to retry.
 *
 * @module
 */

export * from "./wire/mod.ts";
export * from "./link/mod.ts";
export * from "./iface/mod.ts";
export * from "./tcp/mod.ts";
export * from "./udp/mod.ts";
export * from "./raw/mod.ts";
export * from "./errors.ts";
export * from "./packet/packet_socket.ts";
