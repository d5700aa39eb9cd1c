// Real captures through the flow engine, encoded as agents send them, into the ingest pipeline
// (batch decoder, live state) with the alert engine observing: exactly the expected alerts.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { readPcap } from "@flowlens/agent/engine";
import { pb, recordToFlow } from "@flowlens/contracts";
import { pino } from "pino";
import { SequenceDeduper } from "../ingest/dedupe.js";
import { IngestPipeline } from "../ingest/pipeline.js";
import { LocalNetworks } from "../networks.js";
import { defaultStateConfig, LiveState } from "../state/live-state.js";
import { defaultRules } from "./default-rules.js";
import { AlertEngine } from "./engine.js";
import type { AlertNotification, EndpointConfig } from "./notify/types.js";
import { rules } from "./testing.js";
import type { AlertRecord } from "./types.js";

const here = dirname(fileURLToPath(import.meta.url));
const pcaps = join(here, "../../../../shared/testdata/pcaps");

class RecordingSink {
  readonly sent: Array<{ endpoints: EndpointConfig[]; n: AlertNotification }> = [];
  send(endpoints: EndpointConfig[], n: AlertNotification): void {
    this.sent.push({ endpoints, n });
  }
}

async function replay(file: string, engine: AlertEngine): Promise<number> {
  const state = new LiveState(defaultStateConfig(), new LocalNetworks([]));
  const pipeline = new IngestPipeline(state, new SequenceDeduper());
  pipeline.observer = engine;
  let seq = 0n;
  let flows = 0;
  const result = await readPcap({ files: [join(pcaps, file)], dpi: true }, (batch) => {
    const bytes = pb.FlowBatch.encode({
      agent: { node: "replay", agentId: "replay-1", version: "test" },
      sequence: ++seq,
      sentAtMs: 0n,
      flows: batch.map((f) => recordToFlow(f)),
    }).finish();
    const decoded = pipeline.fast.decode(bytes);
    assert.equal(pipeline.fast.apply(decoded, "grpc"), true);
    flows += batch.length;
  });
  assert.equal(result.error, undefined);
  return flows;
}

function summary(alerts: AlertRecord[]): string[] {
  return alerts.map((a) => `${a.check} ${a.entity.kind === "flow" ? a.labels.host : a.entity.value}`).sort();
}

function engineWithDefaults(sink?: RecordingSink): AlertEngine {
  const e = new AlertEngine({ logger: pino({ level: "silent" }), ...(sink ? { sink } : {}) });
  e.setRules(defaultRules());
  return e;
}

const haveData = existsSync(pcaps);

describe("alerts on replayed captures (default rules)", { skip: haveData ? false : `no test data at ${pcaps}` }, () => {
  it("the default rules all parse", () => {
    for (const r of defaultRules()) assert.deepEqual(r.errors, [], r.origin);
  });

  it("synscan.pcap: one port scan by the scanner, nothing else", async () => {
    const engine = engineWithDefaults();
    const flows = await replay("ndpi/synscan.pcap", engine);
    assert.ok(flows > 1900, `${flows} flows`);
    assert.deepEqual(summary(engine.engagedAlerts()), ["port-scan 172.16.0.8"]);
    const [a] = engine.engagedAlerts();
    assert.equal(a?.labels.scan, "vertical");
    assert.equal(a?.labels.target, "64.13.134.52");
    assert.deepEqual(summary(engine.pastAlerts()), []);
  });

  // nDPI 4.2 (the engine's) reports no self-signed certificate on the shared captures (the
  // .out files of a newer nDPI do, on smtp-starttls.pcap); the mismatched certificates of
  // http_ipv6.pcap are the TLS risk they carry.
  it("http_ipv6.pcap: each flow with a mismatched certificate is one TLS risk alert", async () => {
    const sink = new RecordingSink();
    const engine = new AlertEngine({
      logger: pino({ level: "silent" }),
      sink,
      endpoints: [{ kind: "webhook", target: "http://127.0.0.1:9/hook" }],
    });
    engine.setRules(defaultRules());
    await replay("ndpi/http_ipv6.pcap", engine);
    const past = engine.pastAlerts();
    assert.equal(past.length, 4, JSON.stringify(past.map((a) => a.summary)));
    for (const a of past) {
      assert.equal(a.check, "tls-risks");
      assert.equal(a.labels.risks, "tls-certificate-mismatch");
      assert.equal(a.oneShot, true);
      assert.equal(a.entity.kind, "flow");
    }
    assert.deepEqual(
      sink.sent.map((s) => s.n.event),
      ["flow", "flow", "flow", "flow"],
    );
    assert.deepEqual(engine.engagedAlerts(), []);
  });

  for (const clean of ["ndpi/443-curl.pcap", "ndpi/http.pcapng", "zeek/icmp_5-pings.pcap", "ndpi/ssh.pcap"]) {
    it(`${clean}: no alert at all`, async () => {
      const engine = engineWithDefaults();
      await replay(clean, engine);
      assert.deepEqual(summary([...engine.engagedAlerts(), ...engine.pastAlerts()]), []);
    });
  }
});

describe("alerts on replayed captures (rules beyond the defaults)", {
  skip: haveData ? false : `no test data at ${pcaps}`,
}, () => {
  const engineWith = (...rs: Array<Record<string, unknown>>) => {
    const e = new AlertEngine({ logger: pino({ level: "silent" }) });
    e.setRules([...defaultRules(), ...rules(...rs)]);
    return e;
  };

  // wikipedia.pcap: 141.142.220.118 asks its resolver for upload.wikimedia.org.ncsa.uiuc.edu
  // four times and gets NXDOMAIN each time (the search domain), among good answers.
  it("wikipedia.pcap: a burst of NXDOMAIN answers is one DNS error alert for the client", async () => {
    const engine = engineWith({
      name: "dns-burst",
      severity: "warning",
      check: { name: "dns-errors", params: { count: 4 } },
    });
    await replay("zeek/wikipedia.pcap", engine);
    const alerts = engine.engagedAlerts();
    assert.deepEqual(summary(alerts), ["dns-errors 141.142.220.118"]);
    assert.equal(alerts[0]?.rule, "dns-burst");
    assert.equal(alerts[0]?.value, 4);
    assert.deepEqual(engine.pastAlerts(), []);
  });

  it("wikipedia.pcap: four errors stay under the default rule's five", async () => {
    const engine = engineWithDefaults();
    await replay("zeek/wikipedia.pcap", engine);
    assert.deepEqual(summary([...engine.engagedAlerts(), ...engine.pastAlerts()]), []);
  });

  // rtsp.pcap: a lossy RTSP download, 7 TCP connections, 40% and more of the packets of each
  // long one retransmitted; 52478 is exported twice (the first record, 8 packets, is below 50).
  it("rtsp.pcap: one retransmission alert per lossy connection of 50 packets or more, and a host threshold", async () => {
    const clock = { now: Date.now() };
    const engine = new AlertEngine({ logger: pino({ level: "silent" }), clock: () => clock.now });
    engine.setRules([
      ...defaultRules(),
      ...rules(
        { name: "lossy", severity: "warning", check: { name: "retransmissions" } },
        {
          name: "lossy-server",
          severity: "error",
          threshold: {
            target: { kind: "host", value: "10.2.2.2" },
            metric: "retransmissionRatio",
            window: "1m",
            operator: ">",
            value: 0.3,
          },
        },
      ),
    ]);
    await replay("ndpi/rtsp.pcap", engine);
    const past = engine.pastAlerts();
    assert.deepEqual(
      past.map((a) => a.check),
      Array(6).fill("retransmissions"),
    );
    const ports = past.map((a) => /:(\d+) ->/.exec(a.labels.flow ?? "")?.[1]).sort();
    assert.deepEqual(ports, ["52472", "52474", "52476", "52478", "52480", "52482"]);
    assert.equal(new Set(past.map((a) => a.entity.value)).size, 6, "one per Community ID");
    for (const a of past) assert.ok(a.value > 0.4 && a.value <= 0.5, `${a.summary}`);
    // The host threshold (a ratio: not judged early) is judged when its minute ends.
    await engine.evaluate();
    assert.deepEqual(engine.engagedAlerts(), []);
    clock.now = (Math.floor(clock.now / 60_000) + 1) * 60_000 + 1000;
    await engine.evaluate();
    const judged = engine;
    const [a] = judged.engagedAlerts();
    assert.equal(a?.entity.value, "10.2.2.2");
    assert.ok((a?.value ?? 0) > 0.4, `ratio ${a?.value}`);
  });

  it("tcp_retransmit-fast009.pcap: 3 of 39 packets retransmitted is below the default bound, above a tighter one", async () => {
    const quiet = engineWithDefaults();
    await replay("zeek/tcp_retransmit-fast009.pcap", quiet);
    assert.deepEqual(summary(quiet.pastAlerts()), []);
    const tight = engineWith({
      name: "tight",
      severity: "info",
      check: { name: "retransmissions", params: { ratio: "0.05", minPackets: 20 } },
    });
    await replay("zeek/tcp_retransmit-fast009.pcap", tight);
    assert.deepEqual(summary(tight.pastAlerts()), ["retransmissions 192.168.0.27"]);
    assert.equal(tight.pastAlerts()[0]?.value, 0.077);
  });
});
