export { communityId, communityIdAt } from "../community-id.js";
export {
  type Clock,
  DEFAULT_NETFLOW_LIMITS,
  type DecodeReport,
  type DecodeResult,
  NetflowDecoder,
  type NetflowLimits,
  type NetflowStats,
  type OptionsRecord,
  type SourceStats,
} from "./decoder.js";
export { DECODE_ERROR_REASONS, type DecodeErrorReason, type ErrorCounts, NetflowConfigError } from "./errors.js";
export { fieldName, NTOP_PEN, REVERSE_PEN } from "./fields.js";
