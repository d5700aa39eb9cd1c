// FlowBatch encode+decode: the generated ts-proto codec the transport uses vs protobufjs
// reflection (what @grpc/proto-loader would give us). Measures flows/s through one
// encode and one decode, the per-batch cost on both ends of the gRPC and NATS transports.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const script = join(dirname(fileURLToPath(import.meta.url)), "../codec.mjs");

export default {
  name: "flowbatch-codec",
  description: "FlowBatch protobuf encode+decode, 1000 flows a batch (ours: ts-proto; peer: protobufjs reflection)",
  unit: "flows",
  peerName: "protobufjs",
  ours: () => ({ cmd: process.execPath, args: [script, "ts-proto", "300"] }),
  peer: () => ({ cmd: process.execPath, args: [script, "protobufjs", "300"] }),
};
