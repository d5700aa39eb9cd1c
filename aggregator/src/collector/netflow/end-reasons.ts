import { pb } from "@flowlens/contracts";

/** flowEndReason (IE 136) -> end reason: idle, active, end detected, forced end, lack of resources. */
export const END_REASONS: readonly pb.EndReason[] = [
  pb.EndReason.END_REASON_UNSPECIFIED,
  pb.EndReason.END_REASON_IDLE,
  pb.EndReason.END_REASON_ACTIVE,
  pb.EndReason.END_REASON_FIN,
  pb.EndReason.END_REASON_EOF,
  pb.EndReason.END_REASON_EVICTED,
];
