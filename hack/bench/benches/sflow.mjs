// The sFlow v5 decoder alone on one core (raw headers through the native packet decoder): flow
// samples/s of a real capture's frames sampled into sFlow datagrams, next to sfacctd (pmacct)
// decoding the same datagrams from a pcap (measured by its CPU time). See ../sflow-decode.mjs.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const script = join(dirname(fileURLToPath(import.meta.url)), "../sflow-decode.mjs");

export default {
  name: "collector-sflow-decode",
  description:
    "sFlow v5 flow samples decoded, raw headers included (ours: decoder alone; peer: sfacctd on a pcap, CPU time)",
  unit: "records",
  peerName: "sfacctd",
  ours: () => ({ cmd: process.execPath, args: [script, "flowlens", "3"] }),
  peer: () => ({ cmd: process.execPath, args: [script, "sfacctd", "1000"] }),
};
