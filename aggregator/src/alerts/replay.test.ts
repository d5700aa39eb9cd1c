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
