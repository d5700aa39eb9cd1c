// The state stays bounded whatever the traffic: a million records, each from a host never seen
// before (a scan, or a DDoS from spoofed sources), with the default configuration.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { pb } from "@flowlens/contracts";
import { LocalNetworks } from "../networks.js";
import { defaultStateConfig, LiveState } from "./live-state.js";
import { TestClock, testFlow } from "./testing.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function heapMiB(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

const SERVERS = 100;

function batch(b: number): pb.Flow[] {
  const out: pb.Flow[] = [];
  for (let i = 0; i < 1000; i++) {
    const n = b * 1000 + i;
    out.push(
      testFlow({
        srcAddr: `11.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
        dstAddr: `10.0.0.${n % SERVERS}`,
        srcPort: 1024 + (n % 60000),
        communityId: `1:${n}`,
        l7: `App${n % 300}`,
        srcToDstBytes: BigInt(100 + (n % 1000)),
        // One in five stays active and never ends: the active set is full by 500k, then evicts.
        endReason: n % 5 === 0 ? pb.EndReason.END_REASON_ACTIVE : pb.EndReason.END_REASON_FIN,
      }),
    );
  }
  return out;
}

describe("LiveState memory", () => {
  it("stays within its capacities and stops growing with 1M distinct hosts", (t) => {
    const config = defaultStateConfig();
    const clock = new TestClock();
    const base = heapMiB();
    const s = new LiveState(config, new LocalNetworks(["10.0.0.0/8"]), clock.now);
    const origin = { node: "node-1", agentId: "a" };
    let atHalf = 0;
    const started = performance.now();
    for (let b = 0; b < 1000; b++) {
      s.applyBatch(batch(b), origin);
      // 100 s of ingest time: ten 10 s buckets and a minute close along the way.
      clock.advance(100);
      if (b === 499) atHalf = heapMiB();
    }
    const seconds = (performance.now() - started) / 1000;
    const atEnd = heapMiB();

    for (const x of s.structures()) {
      assert.ok(x.entries <= x.capacity, `${x.name}: ${x.entries} entries > capacity ${x.capacity}`);
    }
    const by = Object.fromEntries(s.structures().map((x) => [x.name, x]));
    assert.equal(by.hosts?.entries, config.maxHosts);
    // Servers are seen in every batch, so only clients are evicted, all but the newest ones.
    assert.equal(s.totals().hostsEvicted, 1_000_000 + SERVERS - config.maxHosts);
    assert.equal(by.active_flows?.entries, config.maxActiveFlows);
    assert.equal(by.recent_flows?.entries, config.maxRecentFlows);
    assert.equal(by.applications?.entries, config.maxApplications + 1);
    assert.ok((by.top_talkers?.entries ?? 0) <= (by.top_talkers?.capacity ?? 0));
    assert.equal(s.totals().flows, 1_000_000);
    assert.equal(s.topTalkers("1h", 10).length, 10);

    t.diagnostic(
      `1M records in ${seconds.toFixed(1)} s; heap ${(atHalf - base).toFixed(0)} MiB at 500k, ` +
        `${(atEnd - base).toFixed(0)} MiB at 1M above the ${base.toFixed(0)} MiB baseline`,
    );
    // The structures are full at 500k (100k hosts, 100k active flows): the second half must not
    // add more than noise.
    assert.ok(atEnd - atHalf < 24, `heap grew ${(atEnd - atHalf).toFixed(1)} MiB between 500k and 1M`);
    // Hosts, active and recent flows with their records, summaries and series, with headroom.
    assert.ok(atEnd - base < 400, `heap ${(atEnd - base).toFixed(0)} MiB above baseline`);
  });
});
