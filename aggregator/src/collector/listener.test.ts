// The collector listening on loopback while a real exporter (softflowd, from Debian) sends to
// it: what the aggregator counts per exporter equals what softflowd says it exported.
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { pb } from "@flowlens/contracts";
import { exportWithSoftflowd, haveCommand, repoRoot } from "@flowlens/testkit";
import { SequenceDeduper } from "../ingest/dedupe.js";
import { IngestPipeline } from "../ingest/pipeline.js";
import { LocalNetworks } from "../networks.js";
import type { IngestFlow } from "../state/ingest-flow.js";
import { defaultStateConfig, LiveState } from "../state/live-state.js";
import { CollectorListener, kernelUdpDrops } from "./listener.js";
import { NetflowDecoder } from "./netflow/decoder.js";
import { readUdpDatagrams } from "./pcap-udp.js";

const capture = join(repoRoot, "../shared/testdata/pcaps/ndpi/1kxun.pcap");
const ipfixExport = join(repoRoot, "../shared/testdata/flowexports/ipfixcol2/example_flows.ipfix.pcap");
const skip = !haveCommand("softflowd") ? "softflowd not installed" : !existsSync(capture) ? `${capture} absent` : false;

describe("collector listener", () => {
  for (const version of [5, 9, 10] as const) {
    it(`receives softflowd's NetFlow ${version === 10 ? "IPFIX" : `v${version}`} on loopback; per-exporter totals equal softflowd's`, {
      skip,
    }, async () => {
      const state = new LiveState(defaultStateConfig(), new LocalNetworks([]));
      const listener = new CollectorListener(
        { host: "127.0.0.1", ports: [0], recvBufferBytes: 8 << 20 },
        new NetflowDecoder(),
        new IngestPipeline(state, new SequenceDeduper()).collected,
      );
      const [port] = await listener.start();
      try {
        const want = exportWithSoftflowd(capture, version, `127.0.0.1:${port}`);
        assert.ok(want.records > 100, JSON.stringify(want));
        const start = Date.now();
        while (listener.stats().records < want.records && Date.now() - start < 5000)
          await new Promise((r) => setTimeout(r, 20));
        const s = listener.stats();
        assert.equal(s.records, want.records, JSON.stringify(s));
        assert.equal(s.socketDrops, 0);
        const exporter = state.exporters().find((e) => e.exporter === "127.0.0.1");
        assert.ok(exporter, JSON.stringify(state.exporters()));
        assert.equal(exporter.bytes, want.octets);
        assert.equal(exporter.packets, want.packets);
        assert.equal(state.totals().bytes, want.octets);
      } finally {
        await listener.stop();
      }
    });
  }

  it("counts what is not a flow export, and survives garbage", async () => {
    const state = new LiveState(defaultStateConfig(), new LocalNetworks([]));
    const listener = new CollectorListener(
      { host: "127.0.0.1", ports: [0], recvBufferBytes: 1 << 20 },
      new NetflowDecoder(),
      new IngestPipeline(state, new SequenceDeduper()).collected,
    );
    const [port] = await listener.start();
    const sock = createSocket("udp4");
    try {
      const send = (b: Uint8Array) =>
        new Promise<void>((res, rej) => sock.send(b, port as number, "127.0.0.1", (e) => (e ? rej(e) : res())));
      await send(Buffer.from("hello"));
      await send(Buffer.from([0, 0, 0, 5, 0, 0, 0, 1, 1, 2, 3, 4])); // sFlow v5 header start
      await send(Buffer.from([0, 10, 0, 200, 1, 2])); // IPFIX header claiming 200 bytes
      await send(Buffer.from([0, 9, 0, 1]));
      const start = Date.now();
      while (listener.stats().datagrams < 4 && Date.now() - start < 3000) await new Promise((r) => setTimeout(r, 10));
      const s = listener.stats();
      assert.equal(s.datagrams, 4);
      assert.equal(s.notFlowExport, 1);
      // The truncated sFlow datagram is decoded as far as it goes, and counted.
      assert.equal(s.sflowDatagrams, 1);
      assert.equal(s.sflowErrors.truncated, 1, JSON.stringify(s.sflowErrors));
      assert.equal(s.records, 0);
      assert.ok(Object.values(s.decodeErrors).reduce((a, b) => a + b, 0) >= 2, JSON.stringify(s.decodeErrors));
    } finally {
      sock.close();
      await listener.stop();
    }
  });

  it("hands every record to the pipeline: the state counts it and the observer (alerts) sees it", {
    skip: existsSync(ipfixExport) ? false : `${ipfixExport} absent`,
  }, () => {
    const state = new LiveState(defaultStateConfig(), new LocalNetworks([]));
    const pipeline = new IngestPipeline(state, new SequenceDeduper());
    const seen: string[] = [];
    pipeline.observer = {
      observeRecords(flows: readonly IngestFlow[], count: number, node: string): void {
        for (let i = 0; i < count; i++) {
          const f = flows[i] as IngestFlow;
          seen.push(`${node} ${f.exporter} ${f.srcAddr}:${f.srcPort} > ${f.dstAddr}:${f.dstPort} ${f.srcToDstBytes}`);
        }
      },
    };
    const listener = new CollectorListener(
      { host: "127.0.0.1", ports: [], recvBufferBytes: 0 },
      new NetflowDecoder({ communityId: false }),
      pipeline.collected,
    );
    // The same datagrams decoded into messages by a decoder of their own: what must be seen.
    const reference = new NetflowDecoder({ communityId: false });
    const want: string[] = [];
    let bytes = 0;
    for (const d of readUdpDatagrams(ipfixExport).datagrams) {
      listener.receive(Buffer.from(d.payload), `::ffff:${d.srcAddr}`);
      for (const f of reference.decode(d.payload, d.srcAddr, 0).flows as pb.Flow[]) {
        want.push(`collector ${f.exporter} ${f.srcAddr}:${f.srcPort} > ${f.dstAddr}:${f.dstPort} ${f.srcToDstBytes}`);
        bytes += Number(f.srcToDstBytes + f.dstToSrcBytes);
      }
    }
    assert.ok(want.length > 3000, `${want.length} records`);
    assert.deepEqual(seen, want);
    assert.equal(listener.stats().records, want.length);
    assert.equal(state.totals().records, want.length);
    assert.equal(state.totals().bytes, bytes);
    const exporter = state.exporters()[0];
    assert.equal(exporter?.exporter, readUdpDatagrams(ipfixExport).datagrams[0]?.srcAddr);
    assert.equal(exporter?.bytes, bytes);
    assert.deepEqual(
      state.nodes().map((n) => n.node),
      ["collector"],
    );
  });

  it("reads socket drop counters from /proc/net/udp", () => {
    const drops = kernelUdpDrops(new Set([1]), ["/nonexistent"]);
    assert.equal(drops, 0);
  });
});
