// The collector end to end, IPFIX, NetFlow v9 and sFlow v5 over UDP at the highest rate
// tcpreplay sends: records taken in per second by `flowlens collect --listen` (socket ->
// decoder -> each record written to a file) next to nfcapd (nfdump: socket -> decoder -> flow
// file) on the same replay, the same job; for sFlow, which Debian's nfdump does not collect,
// sfacctd (pmacct) into its print plugin. Then the aggregator on the same replays (socket ->
// decoder -> live state and alerts), next to the same peers, for what the live state costs.
// Both of ours are warmed up by a replay that is not counted, as a collector that has been
// running is; socket drops are printed by each round. Needs root. See ../collector-live.mjs.
// And the same datagrams decoded into state per CPU-second: ours into the live state (hosts,
// applications, interfaces, flows), nfacctd (pmacct) into its print plugin's per-5-tuple cache,
// a C collector that keeps state too (nfcapd only writes records to a file). See
// ../collector-apply.mjs.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const script = join(dirname(fileURLToPath(import.meta.url)), "../collector-live.mjs");
const apply = join(dirname(fileURLToPath(import.meta.url)), "../collector-apply.mjs");
/**
 * Passes of each source (68, 64 and 216 datagrams): about a million datagrams, some seconds of
 * replay, so that what the socket buffer holds counts little.
 */
const LOOPS = { ipfix: "15000", v9: "15000", sflow: "5000" };

const live = (format, receiver, description) => ({
  name: receiver === "collect" ? `collector-${format}-live` : `collector-${format}-aggregator-live`,
  description,
  unit: "records",
  peerName: format === "sflow" ? "sfacctd" : "nfcapd",
  rounds: 3,
  ours: () => ({ cmd: process.execPath, args: [script, format, receiver, LOOPS[format]] }),
  peer: () => ({ cmd: process.execPath, args: [script, format, "peer", LOOPS[format]] }),
});

export default [
  live(
    "ipfix",
    "collect",
    "IPFIX datagrams replayed over a veth at top speed: records/s written by flowlens collect --listen (peer: nfcapd)",
  ),
  live(
    "v9",
    "collect",
    "NetFlow v9 datagrams (softflowd's) at top speed: records/s written by flowlens collect --listen (peer: nfcapd)",
  ),
  live(
    "sflow",
    "collect",
    "sFlow v5 datagrams at top speed: flow samples/s written by flowlens collect --listen (peer: sfacctd)",
  ),
  live(
    "ipfix",
    "flowlens",
    "IPFIX datagrams at top speed: records/s the aggregator takes into live state (peer: nfcapd)",
  ),
  live(
    "v9",
    "flowlens",
    "NetFlow v9 datagrams at top speed: records/s the aggregator takes into live state (peer: nfcapd)",
  ),
  live(
    "sflow",
    "flowlens",
    "sFlow v5 datagrams at top speed: flow samples/s the aggregator takes into live state (peer: sfacctd)",
  ),
  {
    name: "collector-ipfix-state",
    description: "IPFIX datagrams decoded into state, records per CPU-second (peer: nfacctd, print plugin per 5-tuple)",
    unit: "records",
    peerName: "nfacctd",
    rounds: 3,
    ours: () => ({ cmd: process.execPath, args: [apply, "state", "4"] }),
    peer: () => ({ cmd: process.execPath, args: [apply, "nfacctd", "600"] }),
  },
];
