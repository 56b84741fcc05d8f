/**
 * Link layer: the {@linkcode LinkEndpoint} contract and devices that wrap
 * devices (loopback, fault injector, pcap writer), as in smoltcp's `phy`.
 *
 * @module
 */

export type { LinkEndpoint, Medium } from "./endpoint.ts";
export { FrameQueue, Loopback, loopbackPair, type LoopbackOptions } from "./loopback.ts";
export { FaultInjector, type FaultRates, type FaultStats } from "./fault_injector.ts";
export { pcapGlobalHeader, pcapRecord, type PcapSink, PcapWriter } from "./pcap_writer.ts";
export { Prng } from "./prng.ts";
