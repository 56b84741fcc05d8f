/**
 * Linux x86-64 ABI constants, with Linux's own spelling, in one place. Split by family:
 * file.ts (open flags, AT_*, mode bits, struct stat), mm.ts (PROT_*, MAP_*), signal.ts,
 * aux.ts (auxiliary vector), limits.ts (rlimits), mount.ts (mount flags), capability.ts
 * (capabilities, securebits).
 *
 * @module
 */
export * from "./file.ts";
export * from "./mm.ts";
export * from "./signal.ts";
export * from "./aux.ts";
export * from "./limits.ts";
export * from "./mount.ts";
export * from "./capability.ts";
