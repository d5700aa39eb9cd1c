export { Aggregator, type AggregatorOptions, type AlertsOptions, type IngestTransport } from "./aggregator.js";
export {
  type EndpointDefaults,
  EndpointDefaultsError,
  type EndpointDefaultsInput,
  endpointDefaults,
} from "./alerts/notify/defaults.js";
export { buildHttpServer } from "./api/server.js";
export {
  DelimitedFlowWriter,
  delimitedRanges,
  FlowStreamError,
  MAX_STREAM_MESSAGE,
  readDelimitedFlows,
} from "./collector/flow-stream.js";
export {
  CollectorListener,
  type CollectorListenerOptions,
  type CollectorStats,
  kernelUdpDrops,
} from "./collector/listener.js";
export * from "./collector/netflow/index.js";
export { PcapFormatError, PcapUdpReader, readUdpDatagrams, type UdpDatagram } from "./collector/pcap-udp.js";
export * from "./collector/sflow/index.js";
export {
  IPFIX_TCP_DEFAULTS,
  IpfixTcpListener,
  type IpfixTcpOptions,
  type IpfixTcpStats,
} from "./collector/tcp-listener.js";
export { FlowBatchDecoder } from "./ingest/batch-decoder.js";
export { SequenceDeduper } from "./ingest/dedupe.js";
export { GrpcIngest, type GrpcIngestOptions } from "./ingest/grpc.js";
export { NatsIngest, type NatsIngestOptions } from "./ingest/nats.js";
export { IngestPipeline, type Transport } from "./ingest/pipeline.js";
export type { BatchSink, CollectedSink } from "./ingest/sink.js";
export { grpcTransport, natsTransport } from "./ingest/transports.js";
export { registerAggregatorMetrics } from "./metrics.js";
export { CidrError, LocalNetworks } from "./networks.js";
export { UNKNOWN_APPLICATION, UNSPECIFIED_CATEGORY } from "./state/applications.js";
export { StateConfigError, validateStateConfig } from "./state/config.js";
export { OTHER } from "./state/labels.js";
export { defaultStateConfig, LiveState, StateQueryError, UNKNOWN_NODE } from "./state/live-state.js";
export * from "./state/types.js";
