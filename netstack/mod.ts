/**
 * sentry's userspace TCP/IP stack. See README.md for the layers and the time
 * contract. This module imports nothing from kernel/ or vfs/.
 *
 * @module
 */

export * from "./wire/mod.ts";
export * from "./link/mod.ts";
export * from "./iface/mod.ts";
export * from "./tcp/mod.ts";
export * from "./udp/mod.ts";
export * from "./errors.ts";
