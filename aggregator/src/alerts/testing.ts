// Helpers the alert tests share: records made as agents make them, fed through the real ingest
// pipeline (encoded batch, batch decoder, live state) to an engine; a sink that records what it
// is handed; rules parsed by the real parser.
import { type FlowRecord, parseAlertRule, pb, recordToFlow } from "@flowlens/contracts";
import { SequenceDeduper } from "../ingest/dedupe.js";
import { IngestPipeline } from "../ingest/pipeline.js";
import { LocalNetworks } from "../networks.js";
import { defaultStateConfig, LiveState } from "../state/live-state.js";
import type { AlertEngine, LoadedRule } from "./engine.js";
import type { AlertNotification, EndpointConfig } from "./notify/types.js";

export class RecordingSink {
  readonly sent: Array<{ endpoints: EndpointConfig[]; n: AlertNotification }> = [];
  send(endpoints: EndpointConfig[], n: AlertNotification): void {
    this.sent.push({ endpoints, n });
  }
  events(): string[] {
    return this.sent.map((s) => `${s.n.event} ${s.n.rule} ${s.n.entity.value}`);
  }
}

export function flowRecord(over: Partial<FlowRecord> & { srcAddr: string; dstAddr: string }): FlowRecord {
  const t = over.lastSeenMs ?? 1_700_000_000_000;
  return {
    srcPort: 40000,
    dstPort: 443,
    proto: 6,
    ipVersion: over.srcAddr.includes(":") ? 6 : 4,
    vlan: 0,
    firstSeenMs: t - 1000,
    lastSeenMs: t,
    srcToDstPackets: 10,
    srcToDstBytes: 1000,
    dstToSrcPackets: 10,
    dstToSrcBytes: 1000,
    srcTcpFlags: 0x1b,
    dstTcpFlags: 0x1b,
    l7: "TLS",
    l7Category: "Web",
    srcRetransmits: 0,
    dstRetransmits: 0,
    srcOutOfOrder: 0,
    dstOutOfOrder: 0,
    endReason: "fin",
    communityId: "",
    ...over,
  };
}

/** Feeds records to an engine through the pipeline's byte path, as a gRPC agent's batch. */
export class Feeder {
  readonly state = new LiveState(defaultStateConfig(), new LocalNetworks([]));
  readonly pipeline = new IngestPipeline(this.state, new SequenceDeduper());
  private seq = 0n;

  constructor(engine: AlertEngine) {
    this.pipeline.observer = engine;
  }

  feed(records: FlowRecord[], node = "node-a"): void {
    const bytes = pb.FlowBatch.encode({
      agent: { node, agentId: `${node}-agent`, version: "test" },
      sequence: ++this.seq,
      sentAtMs: 0n,
      flows: records.map((r) => recordToFlow(r)),
    }).finish();
    if (!this.pipeline.fast.apply(this.pipeline.fast.decode(bytes), "grpc")) throw new Error("batch refused");
  }

  /** The same records as decoded messages (the in-process path of flowlens up). */
  feedMessages(records: FlowRecord[], node = "node-a"): void {
    this.pipeline.apply(
      {
        agent: { node, agentId: `${node}-agent`, version: "test" },
        sequence: ++this.seq,
        sentAtMs: 0n,
        flows: records.map((r) => recordToFlow(r)),
      },
      "local",
    );
  }
}

/** Rules as a rules file would give them (the real parser); throws on a rule that does not parse. */
export function rules(...inputs: Array<Record<string, unknown>>): LoadedRule[] {
  return inputs.map((input, i) => {
    const origin = `test rule ${i}`;
    const r = parseAlertRule(input, origin);
    if (!r.ok) throw new Error(r.errors.join("; "));
    return { origin, name: r.rule.name, rule: r.rule, errors: [] };
  });
}
