export { formatIPv4, formatIPv6 } from "./engine/addr.js";
export { CaptureOpenError, type LiveCapture, startLive } from "./engine/live.js";
export type { LiveOptions, LiveWorkerStats } from "./engine/native.js";
export { type EngineStats, nativeEngine, type PcapOptions } from "./engine/native.js";
export { CaptureError, type PcapResult, readPcap } from "./engine/pcap.js";
export { BatchDecoder, type EngineFlow } from "./engine/records.js";
export { agentIdentity } from "./identity.js";
