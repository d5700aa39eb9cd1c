export { type InterfaceCounterSample, readEthernetCounters, readGenericCounters } from "./counters.js";
export {
  DEFAULT_SFLOW_LIMITS,
  type SflowDecodeReport,
  type SflowDecodeResult,
  SflowDecoder,
  type SflowLimits,
  type SflowStats,
} from "./decoder.js";
export { SFLOW_ERROR_REASONS, SflowConfigError, type SflowErrorCounts, type SflowErrorReason } from "./errors.js";
export { headerDecoderError, linkTypeOf } from "./headers.js";
export { type SequenceSourceStats, SequenceTracker } from "./sequence.js";
