// A third-party IPFIX exporter over TCP for tests: python-ipfix (Debian python3-ipfix, Brian
// Trammell's RFC 7011 implementation) writes a message stream to a socket, each message in
// random-sized writes so that the collector sees TCP as the byte stream it is, and reports
// what it sent.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Debian's interpreter: a pyenv python3 first on PATH does not see Debian's modules. */
const PYTHON = "/usr/bin/python3";
export const havePythonIpfix = spawnSync(PYTHON, ["-c", "import ipfix.writer"]).status === 0;

const EXPORTER = `
import ipfix.ie, ipfix.template, ipfix.writer, json, random, socket, sys, time
from datetime import datetime, timedelta
from ipaddress import ip_address

port, records, sessions_odids = int(sys.argv[1]), int(sys.argv[2]), [int(x) for x in sys.argv[3].split(",")]
ipfix.ie.use_iana_default()
tmpl = ipfix.template.from_ielist(256, ipfix.ie.spec_list([
    "sourceIPv4Address", "destinationIPv4Address", "sourceTransportPort", "destinationTransportPort",
    "protocolIdentifier", "octetDeltaCount", "packetDeltaCount", "flowStartMilliseconds", "flowEndMilliseconds"]))

class ChoppyStream:
    """Writes each message in random pieces, so that the collector sees TCP as a stream."""
    def __init__(self, sock):
        self.sock = sock
    def write(self, b):
        b = bytes(b)
        while b:
            n = random.randint(1, 700)
            self.sock.sendall(b[:n])
            b = b[n:]
        return len(b)

random.seed(7)
sent = {"records": 0, "octets": 0, "packets": 0}
sock = socket.create_connection(("127.0.0.1", port))
w = ipfix.writer.to_stream(ChoppyStream(sock), mtu=1400)
# python-ipfix takes naive datetimes as UTC.
t0 = datetime(2026, 11, 27, 10, 0, 0)
for odid in sessions_odids:
    w.set_domain(odid)
    w.add_template(tmpl)
    w.set_export_template(256)
    for i in range(records):
        octets, packets = random.randint(40, 10**9), random.randint(1, 10**6)
        w.export_namedict({
            "sourceIPv4Address": ip_address("10.1.0.0") + i % 5000, "destinationIPv4Address": ip_address("192.0.2.1"),
            "sourceTransportPort": 1024 + i % 60000, "destinationTransportPort": 443, "protocolIdentifier": 6,
            "octetDeltaCount": octets, "packetDeltaCount": packets,
            "flowStartMilliseconds": t0 + timedelta(milliseconds=i), "flowEndMilliseconds": t0 + timedelta(milliseconds=i + 5)})
        sent["records"] += 1
        sent["octets"] += octets
        sent["packets"] += packets
    w.flush()
sock.close()
print(json.dumps(sent))
`;

export interface IpfixSent {
  records: number;
  octets: number;
  packets: number;
}

/**
 * Connects to 127.0.0.1:port and sends `records` flow records (TCP to 192.0.2.1:443 from
 * 10.1.0.0 + i % 5000, octets and packets random) in each observation domain of `odids`, one
 * template per domain; returns what was sent.
 */
export function exportIpfixOverTcp(port: number, records: number, odids: number[]): IpfixSent {
  const dir = mkdtempSync(join(tmpdir(), "flowlens-ipfix-tcp-"));
  try {
    const script = join(dir, "export.py");
    writeFileSync(script, EXPORTER);
    const r = spawnSync(PYTHON, [script, String(port), String(records), odids.join(",")], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`python-ipfix exporter exited ${r.status}: ${r.stderr}`);
    return JSON.parse(r.stdout.trim()) as IpfixSent;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
