// Where the native FlowBatch reader (agent/native/src/flow_batch.c) puts a record's values:
// NUMS doubles and OFFS int32s per record, HEAD int32s for the batch, as flow_batch_layout.h
// lays them out. The addon exports its numbers (flowBatchLayout); the decoder uses C only when
// sameLayout() finds them equal to these, so the two cannot drift apart unnoticed.
export const N_SRC_PORT = 0;
export const N_DST_PORT = 1;
export const N_PROTO = 2;
export const N_IP_VERSION = 3;
export const N_VLAN = 4;
export const N_FIRST_SEEN = 5;
export const N_LAST_SEEN = 6;
export const N_S2D_PACKETS = 7;
export const N_S2D_BYTES = 8;
export const N_D2S_PACKETS = 9;
export const N_D2S_BYTES = 10;
export const N_SRC_TCP_FLAGS = 11;
export const N_DST_TCP_FLAGS = 12;
export const N_CLIENT_LATENCY = 13;
export const N_SERVER_LATENCY = 14;
export const N_APPL_LATENCY = 15;
export const N_SRC_RETRANSMITS = 16;
export const N_DST_RETRANSMITS = 17;
export const N_SRC_OUT_OF_ORDER = 18;
export const N_DST_OUT_OF_ORDER = 19;
export const N_END_REASON = 20;
export const N_OBSERVATION_DOMAIN = 21;
export const N_EXPORT_VERSION = 22;
export const N_SAMPLING_RATE = 23;
export const N_RAW_PACKETS = 24;
export const N_RAW_BYTES = 25;
export const N_IN_IF = 26;
export const N_OUT_IF = 27;
export const N_DNS_RCODE = 28;
export const NUMS = 29;
export const O_START = 0;
export const O_END = 1;
export const O_SRC_ADDR = 2;
export const O_SRC_ADDR_END = 3;
export const O_DST_ADDR = 4;
export const O_DST_ADDR_END = 5;
export const O_L7 = 6;
export const O_L7_END = 7;
export const O_L7_CATEGORY = 8;
export const O_L7_CATEGORY_END = 9;
export const O_COMMUNITY_ID = 10;
export const O_COMMUNITY_ID_END = 11;
export const O_EXPORTER = 12;
export const O_EXPORTER_END = 13;
export const O_INFO = 14;
export const O_INFO_LEN = 15;
export const O_RISKS = 16;
export const OFFS = 17;
export const H_AGENT = 0;
export const H_AGENT_LEN = 1;
export const H_SEQUENCE_LO = 2;
export const H_SEQUENCE_HI = 3;
export const H_SENT_AT_LO = 4;
export const H_SENT_AT_HI = 5;
export const HEAD = 6;
export const GIVE_UP = -1;
export const TOO_MANY = -2;
const LAYOUT: Readonly<Record<string, number>> = {
  nums: NUMS,
  offs: OFFS,
  head: HEAD,
  giveUp: GIVE_UP,
  tooMany: TOO_MANY,
  N_SRC_PORT,
  N_DST_PORT,
  N_PROTO,
  N_IP_VERSION,
  N_VLAN,
  N_FIRST_SEEN,
  N_LAST_SEEN,
  N_S2D_PACKETS,
  N_S2D_BYTES,
  N_D2S_PACKETS,
  N_D2S_BYTES,
  N_SRC_TCP_FLAGS,
  N_DST_TCP_FLAGS,
  N_CLIENT_LATENCY,
  N_SERVER_LATENCY,
  N_APPL_LATENCY,
  N_SRC_RETRANSMITS,
  N_DST_RETRANSMITS,
  N_SRC_OUT_OF_ORDER,
  N_DST_OUT_OF_ORDER,
  N_END_REASON,
  N_OBSERVATION_DOMAIN,
  N_EXPORT_VERSION,
  N_SAMPLING_RATE,
  N_RAW_PACKETS,
  N_RAW_BYTES,
  N_IN_IF,
  N_OUT_IF,
  N_DNS_RCODE,
  O_START,
  O_END,
  O_SRC_ADDR,
  O_SRC_ADDR_END,
  O_DST_ADDR,
  O_DST_ADDR_END,
  O_L7,
  O_L7_END,
  O_L7_CATEGORY,
  O_L7_CATEGORY_END,
  O_COMMUNITY_ID,
  O_COMMUNITY_ID_END,
  O_EXPORTER,
  O_EXPORTER_END,
  O_INFO,
  O_INFO_LEN,
  O_RISKS,
  H_AGENT,
  H_AGENT_LEN,
  H_SEQUENCE_LO,
  H_SEQUENCE_HI,
  H_SENT_AT_LO,
  H_SENT_AT_HI,
};

/** Whether the addon's layout is the one above, number for number. */
export function sameLayout(layout: Readonly<Record<string, number>>): boolean {
  const names = Object.keys(LAYOUT);
  return names.length === Object.keys(layout).length && names.every((k) => layout[k] === LAYOUT[k]);
}
