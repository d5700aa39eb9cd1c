// tshark's TCP analysis of a capture, per TCP stream: handshake RTTs (tcp.analysis.ack_rtt of
// the SYN-ACK and of the handshake's last ACK) and retransmitted / out-of-order segments per
// direction. The reference for our TCP measurements.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TsharkStream {
  client: string; // "addr:port" of the SYN sender (or of the first packet's sender)
  server: string;
  synAckRttUs?: number; // SYN -> SYN-ACK: our serverNwLatencyUs
  ackRttUs?: number; // SYN-ACK -> ACK: our clientNwLatencyUs
  retransmissions: { client: number; server: number };
  outOfOrder: { client: number; server: number };
}

const FIELDS = [
  "tcp.stream",
  "ip.src",
  "ipv6.src",
  "tcp.srcport",
  "ip.dst",
  "ipv6.dst",
  "tcp.dstport",
  "tcp.flags.syn",
  "tcp.flags.ack",
  "tcp.len",
  "tcp.analysis.ack_rtt",
  "tcp.analysis.retransmission",
  "tcp.analysis.out_of_order",
];

export async function tsharkTcpStreams(pcap: string): Promise<TsharkStream[]> {
  const args = ["-n", "-r", pcap, "-Y", "tcp", "-T", "fields", "-E", "separator=\t", "-E", "occurrence=l"];
  for (const f of FIELDS) args.push("-e", f);
  const { stdout } = await run("tshark", args, { maxBuffer: 1 << 28 });
  const streams = new Map<string, TsharkStream & { handshakeAckSeen: boolean }>();
  for (const line of stdout.split("\n")) {
    if (!line) continue;
    const [stream, ip4s, ip6s, sport, ip4d, ip6d, dport, syn, ack, , rtt, retx, ooo] = line.split("\t");
    if (stream === undefined || stream === "") continue;
    const src = `${ip4s || ip6s}:${sport}`;
    const dst = `${ip4d || ip6d}:${dport}`;
    let s = streams.get(stream);
    const isSynAck = syn === "1" && ack === "1";
    if (!s) {
      // A SYN-ACK first means the SYN was missed: its receiver is the client.
      s = {
        client: isSynAck ? dst : src,
        server: isSynAck ? src : dst,
        retransmissions: { client: 0, server: 0 },
        outOfOrder: { client: 0, server: 0 },
        handshakeAckSeen: false,
      };
      streams.set(stream, s);
    }
    const side = src === s.client ? "client" : "server";
    const rttUs = rtt ? Math.round(Number(rtt) * 1e6) : undefined;
    if (isSynAck && side === "server" && s.synAckRttUs === undefined && rttUs !== undefined) s.synAckRttUs = rttUs;
    else if (syn !== "1" && ack === "1" && side === "client" && s.synAckRttUs !== undefined && !s.handshakeAckSeen) {
      s.handshakeAckSeen = true;
      if (rttUs !== undefined) s.ackRttUs = rttUs;
    }
    if (retx) s.retransmissions[side]++;
    if (ooo) s.outOfOrder[side]++;
  }
  return [...streams.values()].map(({ handshakeAckSeen: _, ...s }) => s);
}
