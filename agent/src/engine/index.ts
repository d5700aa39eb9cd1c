// The flow engine alone (native capture, flow table, records), without the daemon and its
// exporters: what `flowlens pcap` needs, so that it does not load gRPC and NATS clients.
export { formatIPv4, formatIPv6 } from "./addr.js";
export { CaptureOpenError, type LiveCapture, startLive } from "./live.js";
export type {
  EngineStats,
  HeaderLayout,
  LiveOptions,
  LiveWorkerStats,
  NativeEngine,
  NativeUdpReceiver,
  PcapOptions,
  TableOptions,
} from "./native.js";
export { nativeEngine } from "./native.js";
export { CaptureError, type PcapResult, readPcap } from "./pcap.js";
export { BatchDecoder, type EngineFlow } from "./records.js";
