// The collector end to end, IPFIX over UDP at the highest rate tcpreplay sends: records taken in
// per second by the aggregator (socket -> decoder -> live state; warmed up by a replay that is
// not counted, as a collector that has been running is) next to nfcapd (nfdump) on the same
// replay, socket drops printed by each round. Needs root. See ../collector-live.mjs.
// And the same datagrams decoded into state per CPU-second: ours into the live state (hosts,
// applications, interfaces, flows), nfacctd (pmacct) into its print plugin's per-5-tuple cache,
// a C collector that keeps state too (nfcapd only writes records to a file). See
// ../collector-apply.mjs.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const script = join(dirname(fileURLToPath(import.meta.url)), "../collector-live.mjs");
const apply = join(dirname(fileURLToPath(import.meta.url)), "../collector-apply.mjs");
/** About 3 s of replay at ~350k datagrams/s: the socket buffer's share becomes negligible. */
const LOOPS = "15000";

export default [
  {
    name: "collector-ipfix-live",
    description: "IPFIX datagrams replayed over a veth at top speed: records/s taken in (peer: nfcapd)",
    unit: "records",
    peerName: "nfcapd",
    rounds: 3,
    ours: () => ({ cmd: process.execPath, args: [script, "flowlens", LOOPS] }),
    peer: () => ({ cmd: process.execPath, args: [script, "nfcapd", LOOPS] }),
  },
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
