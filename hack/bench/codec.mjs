#!/usr/bin/env node
// Encodes and decodes FlowBatch messages (1000 flows each) with one protobuf codec and
// reports flows/s. Usage: codec.mjs ts-proto|protobufjs [batches]
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const [codec = "ts-proto", batchesArg = "200"] = process.argv.slice(2);
const batches = Number(batchesArg);
const PER_BATCH = 1000;

function flow(i) {
  return {
    srcAddr: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    srcPort: 1024 + (i % 60000),
    dstAddr: "192.0.2.10",
    dstPort: 443,
    proto: 6,
    ipVersion: 4,
    vlan: 0,
    firstSeenMs: 1_700_000_000_000 + i,
    lastSeenMs: 1_700_000_001_000 + i,
    srcToDstPackets: 10 + (i % 7),
    srcToDstBytes: 1500 * (10 + (i % 7)),
    dstToSrcPackets: 8,
    dstToSrcBytes: 9000,
    srcTcpFlags: 0x1b,
    dstTcpFlags: 0x1b,
    l7: "TLS.Google",
    l7Category: "Web",
    info: { sni: "www.google.com", ja3c: "771,4865-4866,0-23", risks: [] },
    clientNwLatencyUs: 150,
    serverNwLatencyUs: 900,
    srcRetransmits: 0,
    dstRetransmits: 1,
    srcOutOfOrder: 0,
    dstOutOfOrder: 0,
    endReason: 3,
    communityId: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
  };
}

const big = (f) => {
  const o = { ...f };
  for (const k of [
    "firstSeenMs",
    "lastSeenMs",
    "srcToDstPackets",
    "srcToDstBytes",
    "dstToSrcPackets",
    "dstToSrcBytes",
    "clientNwLatencyUs",
    "serverNwLatencyUs",
  ])
    o[k] = BigInt(o[k]);
  return o;
};

let encode;
let decode;
let flows = Array.from({ length: PER_BATCH }, (_, i) => flow(i));
if (codec === "ts-proto") {
  const { pb } = await import(join(root, "contracts/dist/index.js"));
  flows = flows.map((f) => pb.Flow.fromPartial(big(f)));
  encode = (b) => pb.FlowBatch.encode(b).finish();
  decode = (buf) => pb.FlowBatch.decode(buf);
} else if (codec === "protobufjs") {
  const protobuf = createRequire(join(root, "node_modules/@grpc/proto-loader/package.json"))("protobufjs");
  const rootNs = await protobuf.load(join(root, "contracts/proto/flowlens/v1/flow.proto"));
  const FlowBatch = rootNs.lookupType("flowlens.v1.FlowBatch");
  encode = (b) => FlowBatch.encode(FlowBatch.fromObject(b)).finish();
  decode = (buf) => FlowBatch.toObject(FlowBatch.decode(buf), { longs: Number });
} else {
  console.error(`codec: unknown codec ${codec}`);
  process.exit(2);
}

const batch = { agent: { node: "bench", agentId: "a", version: "0" }, sequence: 1n, sentAtMs: 0n, flows };
if (codec === "protobufjs") batch.sequence = 1;
let checksum = 0;
const start = process.hrtime.bigint();
for (let i = 0; i < batches; i++) {
  const bytes = encode(batch);
  checksum += decode(bytes).flows.length;
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
if (checksum !== batches * PER_BATCH) throw new Error(`decoded ${checksum} flows, want ${batches * PER_BATCH}`);
console.log(JSON.stringify({ items: checksum, seconds }));
