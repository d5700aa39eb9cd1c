export { Agent, type AgentDeps } from "./daemon/agent.js";
export { FlowBatcher } from "./daemon/batcher.js";
export {
  type AgentConfig,
  ConfigError,
  defaultAgentConfig,
  parseListenAddress,
  type TlsFiles,
  validateAgentConfig,
} from "./daemon/config.js";
export { listSystemInterfaces, selectInterfaces } from "./daemon/interfaces.js";
export { type FlowSource, liveSource, replaySource, type SourceStats, statsByInterface } from "./daemon/sources.js";
export { formatIPv4, formatIPv6 } from "./engine/addr.js";
export { CaptureOpenError, type LiveCapture, startLive } from "./engine/live.js";
export type { LiveOptions, LiveWorkerStats } from "./engine/native.js";
export { type EngineStats, nativeEngine, type PcapOptions } from "./engine/native.js";
export { CaptureError, type PcapResult, readPcap } from "./engine/pcap.js";
export { BatchDecoder, type EngineFlow } from "./engine/records.js";
export type { ExporterStats, FlowExporter } from "./export/exporter.js";
export { GrpcExporter, type GrpcExporterOptions } from "./export/grpc.js";
export { IpfixExporter, type IpfixExporterOptions } from "./export/ipfix.js";
export { type ExportFormat, IpfixEncoder } from "./export/ipfix-encoder.js";
export { LocalExporter } from "./export/local.js";
export { NatsExporter, type NatsExporterOptions } from "./export/nats.js";
export { BoundedBatchQueue, type EncodedBatch, type QueueLimits, type QueueStats } from "./export/queue.js";
export { agentIdentity } from "./identity.js";
