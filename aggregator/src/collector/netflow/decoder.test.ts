// Unit tests of the decoder on datagrams built here, one behaviour each: reduced-size encoding,
// variable-length fields, enterprise elements, biflows, template withdrawal and refresh,
// sampling from options data, buffering of data that precedes its template and its bounds,
// times per version, and the hostile inputs that must become counted errors.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { flowToRecord } from "@flowlens/contracts";
import { communityId } from "../community-id.js";
import { NetflowDecoder } from "./decoder.js";
import { NetflowConfigError } from "./errors.js";
import { NTOP_PEN, REVERSE_PEN } from "./fields.js";
import {
  Bytes,
  concat,
  dataSet,
  ipfixMessage,
  ipfixTemplate,
  ipfixTemplateSet,
  type Spec,
  v9Message,
  v9OptionsTemplate,
  v9Template,
  v9TemplateSet,
} from "./testing.js";

const EXPORTER = "192.0.2.7";
const T0 = 1_700_000_000; // export time of the built messages, seconds

/** A decoder whose clock the test moves. */
function decoder(limits: ConstructorParameters<typeof NetflowDecoder>[0] = {}) {
  const clock = { now: 1_000_000 };
  const d = new NetflowDecoder(limits, () => clock.now);
  return { d, clock };
}

// IPFIX template 256: the classic 5-tuple with full-size counters and millisecond times.
const T256: Spec[] = [
  [8, 4],
  [12, 4],
  [7, 2],
  [11, 2],
  [4, 1],
  [6, 1],
  [1, 8],
  [2, 8],
  [10, 4],
  [14, 4],
  [152, 8],
  [153, 8],
];

function rec256(src: string, dst: string, sport: number, dport: number, octets: number, packets: number): Uint8Array {
  return new Bytes()
    .ip4(src)
    .ip4(dst)
    .u16(sport)
    .u16(dport)
    .u8(6)
    .u8(0x1b)
    .u64(octets)
    .u64(packets)
    .u32(3)
    .u32(4)
    .u64(T0 * 1000 - 5000)
    .u64(T0 * 1000 - 1000)
    .build();
}

const tpl256 = () => ipfixMessage([ipfixTemplateSet([ipfixTemplate(256, T256)])]);
const data256 = (...recs: Uint8Array[]) => ipfixMessage([dataSet(256, recs)]);

describe("IPFIX basics", () => {
  it("maps a record to the flow record, with a Community ID and exporter metadata", () => {
    const { d } = decoder();
    d.decode(tpl256(), EXPORTER, 0);
    const r = d.decode(data256(rec256("10.0.0.1", "10.0.0.2", 40000, 443, 1500, 3)), EXPORTER, 0);
    assert.deepEqual(r.errors, {});
    assert.equal(r.flows.length, 1);
    const f = flowToRecord(r.flows[0] as NonNullable<(typeof r.flows)[0]>);
    assert.deepEqual(
      { ...f, communityId: undefined },
      {
        srcAddr: "10.0.0.1",
        srcPort: 40000,
        dstAddr: "10.0.0.2",
        dstPort: 443,
        proto: 6,
        ipVersion: 4,
        vlan: 0,
        firstSeenMs: T0 * 1000 - 5000,
        lastSeenMs: T0 * 1000 - 1000,
        srcToDstPackets: 3,
        srcToDstBytes: 1500,
        dstToSrcPackets: 0,
        dstToSrcBytes: 0,
        srcTcpFlags: 0x1b,
        dstTcpFlags: 0,
        l7: "Unknown",
        l7Category: "Unspecified",
        srcRetransmits: 0,
        dstRetransmits: 0,
        srcOutOfOrder: 0,
        dstOutOfOrder: 0,
        endReason: "idle",
        communityId: undefined,
        exporter: EXPORTER,
        observationDomain: 0,
        exportVersion: 10,
        samplingRate: 1,
        rawPackets: 3,
        rawBytes: 1500,
        inIf: 3,
        outIf: 4,
      },
    );
    assert.equal(f.communityId, communityId("10.0.0.1", "10.0.0.2", 6, 40000, 443));
  });

  it("reads reduced-size encodings (RFC 7011 6.2) of counters, interfaces and times", () => {
    const { d } = decoder();
    const specs: Spec[] = [
      [8, 4],
      [12, 4],
      [4, 1],
      [1, 4], // octetDeltaCount in 4 bytes
      [2, 2], // packetDeltaCount in 2 bytes
      [10, 2], // ingressInterface in 2
      [14, 1], // egressInterface in 1
      [85, 3], // octetTotalCount in 3 (ignored: the delta wins)
      [152, 6], // flowStartMilliseconds in 6
    ];
    d.decode(ipfixMessage([ipfixTemplateSet([ipfixTemplate(300, specs)])]), EXPORTER, 0);
    const rec = new Bytes()
      .ip4("10.1.1.1")
      .ip4("10.1.1.2")
      .u8(17)
      .u32(4_000_000_000)
      .u16(65_000)
      .u16(513)
      .u8(7)
      .u8(1)
      .u16(2)
      .u16(Math.floor((T0 * 1000) / 2 ** 32))
      .u32((T0 * 1000) % 2 ** 32)
      .build();
    const r = d.decode(ipfixMessage([dataSet(300, [rec, rec])]), EXPORTER, 0);
    assert.deepEqual(r.errors, {});
    assert.equal(r.flows.length, 2);
    const f = r.flows[0];
    assert.ok(f);
    assert.equal(f.srcToDstBytes, 4_000_000_000n);
    assert.equal(f.srcToDstPackets, 65_000n);
    assert.equal(f.inIf, 513);
    assert.equal(f.outIf, 7);
    assert.equal(f.firstSeenMs, BigInt(T0 * 1000));
  });

  it("uses octetTotalCount when no delta count is present, and 3/5/7-byte integers", () => {
    const { d } = decoder();
    d.decode(
      ipfixMessage([
        ipfixTemplateSet([
          ipfixTemplate(301, [
            [8, 4],
            [12, 4],
            [85, 5],
            [86, 7],
          ]),
        ]),
      ]),
      EXPORTER,
      0,
    );
    const rec = new Bytes().ip4("1.1.1.1").ip4("2.2.2.2").raw([1, 0, 0, 0, 0]).raw([0, 0, 0, 0, 1, 0, 1]).build();
    const f = d.decode(ipfixMessage([dataSet(301, [rec])]), EXPORTER, 0).flows[0];
    assert.equal(f?.srcToDstBytes, 2n ** 32n);
    assert.equal(f?.srcToDstPackets, 65537n);
  });

  it("decodes variable-length fields (1- and 3-byte length prefixes) and ntop's L7 name", () => {
    const { d } = decoder();
    const specs: Spec[] = [
      [96, 0xffff], // applicationName, variable length
      [8, 4],
      [12, 4],
      [NTOP_PEN === 35632 ? 119 : 0, 0xffff, NTOP_PEN], // ntop L7_PROTO_NAME
      [1, 4],
    ];
    d.decode(ipfixMessage([ipfixTemplateSet([ipfixTemplate(302, specs)])]), EXPORTER, 0);
    const long = new Uint8Array(300).fill(0x41);
    const r1 = new Bytes()
      .u8(3)
      .raw([0x61, 0x62, 0x63])
      .ip4("10.0.0.1")
      .ip4("10.0.0.2")
      .u8(10)
      .raw(new TextEncoder().encode("TLS.Google"))
      .u32(100)
      .build();
    const r2 = new Bytes()
      .u8(255)
      .u16(300)
      .raw(long)
      .ip4("10.0.0.3")
      .ip4("10.0.0.4")
      .u8(255)
      .u16(4)
      .raw(new TextEncoder().encode("DNS\0"))
      .u32(200)
      .build();
    const r3 = new Bytes().u8(0).ip4("10.0.0.5").ip4("10.0.0.6").u8(2).raw([0x01, 0x02]).u32(300).build();
    const r = d.decode(ipfixMessage([dataSet(302, [r1, r2, r3], 3)]), EXPORTER, 0);
    assert.deepEqual(r.errors, {});
    assert.deepEqual(
      r.flows.map((f) => [f.srcAddr, f.dstAddr, f.l7, f.srcToDstBytes]),
      [
        ["10.0.0.1", "10.0.0.2", "TLS.Google", 100n],
        ["10.0.0.3", "10.0.0.4", "DNS", 200n],
        ["10.0.0.5", "10.0.0.6", "Unknown", 300n], // not printable: not a name
      ],
    );
  });

  it("takes nProbe's v9 L7_PROTO_NAME (57591) too", () => {
    const { d } = decoder();
    const tpl = v9Template(260, [
      [8, 4],
      [12, 4],
      [57591, 16],
    ]);
    const name = new Uint8Array(16);
    name.set(new TextEncoder().encode("HTTP"));
    const rec = new Bytes().ip4("10.0.0.1").ip4("10.0.0.2").raw(name).build();
    const r = d.decode(v9Message([v9TemplateSet([tpl]), dataSet(260, [rec])]), EXPORTER, 0);
    assert.equal(r.flows[0]?.l7, "HTTP");
  });

  it("decodes IPv6 addresses in RFC 5952 form and counts unknown enterprise elements", () => {
    const { d } = decoder();
    d.decode(
      ipfixMessage([
        ipfixTemplateSet([
          ipfixTemplate(303, [
            [27, 16],
            [28, 16],
            [4, 1],
            [7, 2],
            [11, 2],
            [42, 4, 9999],
          ]),
        ]),
      ]),
      EXPORTER,
      0,
    );
    const a = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const b = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    const rec = new Bytes().raw(a).raw(b).u8(17).u16(53).u16(5353).u32(0).build();
    const f = d.decode(ipfixMessage([dataSet(303, [rec])]), EXPORTER, 0).flows[0];
    assert.equal(f?.srcAddr, "2001:db8::1");
    assert.equal(f?.dstAddr, "2001:db8:1:0:1::");
    assert.equal(f?.ipVersion, 6);
    assert.equal(f?.communityId, communityId("2001:db8::1", "2001:db8:1:0:1::", 17, 53, 5353));
    assert.deepEqual(
      d.stats().unknownFields.map((u) => [u.pen, u.id, u.templates]),
      [[9999, 42, 1]],
    );
  });

  it("puts ICMP type/code into dstPort (type*256+code) and zeroes srcPort", () => {
    const { d } = decoder();
    d.decode(
      ipfixMessage([
        ipfixTemplateSet([
          ipfixTemplate(304, [
            [8, 4],
            [12, 4],
            [4, 1],
            [7, 2],
            [11, 2],
            [32, 2],
          ]),
          ipfixTemplate(305, [
            [8, 4],
            [12, 4],
            [4, 1],
            [176, 1],
            [177, 1],
          ]),
        ]),
      ]),
      EXPORTER,
      0,
    );
    const r = d.decode(
      ipfixMessage([
        dataSet(304, [new Bytes().ip4("10.0.0.1").ip4("10.0.0.2").u8(1).u16(9).u16(0).u16(0x0800).build()]),
        dataSet(305, [new Bytes().ip4("10.0.0.2").ip4("10.0.0.1").u8(1).u8(3).u8(1).build()]),
      ]),
      EXPORTER,
      0,
    );
    assert.deepEqual(
      r.flows.map((f) => [f.srcPort, f.dstPort]),
      [
        [0, 0x0800],
        [0, 3 * 256 + 1],
      ],
    );
    assert.equal(r.flows[0]?.communityId, communityId("10.0.0.1", "10.0.0.2", 1, 8, 0));
  });

  it("decodes several IPFIX messages back to back in one buffer (IPFIX file, TCP stream)", () => {
    const { d } = decoder();
    const r = d.decode(
      concat([
        tpl256(),
        data256(rec256("10.0.0.1", "10.0.0.2", 1, 2, 10, 1)),
        data256(rec256("10.0.0.3", "10.0.0.4", 1, 2, 20, 1)),
      ]),
      EXPORTER,
      0,
    );
    assert.deepEqual(
      r.flows.map((f) => f.srcToDstBytes),
      [10n, 20n],
    );
  });
});

describe("biflows (RFC 5103)", () => {
  const specs: Spec[] = [
    [8, 4],
    [12, 4],
    [7, 2],
    [11, 2],
    [4, 1],
    [1, 8],
    [1, 8, REVERSE_PEN],
    [2, 4],
    [2, 4, REVERSE_PEN],
    [6, 1],
    [6, 1, REVERSE_PEN],
    [239, 1],
  ];
  const rec = (dir: number) =>
    new Bytes()
      .ip4("10.0.0.1")
      .ip4("10.0.0.2")
      .u16(1234)
      .u16(80)
      .u8(6)
      .u64(1000)
      .u64(5000)
      .u32(10)
      .u32(8)
      .u8(0x02)
      .u8(0x12)
      .u8(dir)
      .build();

  it("fills dstToSrc from the reverse elements", () => {
    const { d } = decoder();
    d.decode(ipfixMessage([ipfixTemplateSet([ipfixTemplate(310, specs)])]), EXPORTER, 0);
    const f = d.decode(ipfixMessage([dataSet(310, [rec(1)])]), EXPORTER, 0).flows[0];
    assert.ok(f);
    assert.deepEqual(
      [f.srcAddr, f.srcToDstBytes, f.srcToDstPackets, f.dstToSrcBytes, f.dstToSrcPackets, f.srcTcpFlags, f.dstTcpFlags],
      ["10.0.0.1", 1000n, 10n, 5000n, 8n, 0x02, 0x12],
    );
    assert.equal(f.rawBytes, 6000n);
    assert.equal(f.rawPackets, 18n);
  });

  it("turns a reverseInitiator record around so that src is the initiator", () => {
    const { d } = decoder();
    d.decode(ipfixMessage([ipfixTemplateSet([ipfixTemplate(310, specs)])]), EXPORTER, 0);
    const f = d.decode(ipfixMessage([dataSet(310, [rec(2)])]), EXPORTER, 0).flows[0];
    assert.ok(f);
    assert.deepEqual(
      [f.srcAddr, f.srcPort, f.dstAddr, f.dstPort, f.srcToDstBytes, f.dstToSrcBytes, f.srcTcpFlags, f.dstTcpFlags],
      ["10.0.0.2", 80, "10.0.0.1", 1234, 5000n, 1000n, 0x12, 0x02],
    );
  });
});

describe("templates", () => {
  it("withdraws one template, then all of them (RFC 7011 8.1)", () => {
    const { d } = decoder({ pendingSetsMax: 0 });
    d.decode(
      ipfixMessage([ipfixTemplateSet([ipfixTemplate(256, T256), ipfixTemplate(257, T256.slice(0, 4))])]),
      EXPORTER,
      0,
    );
    assert.equal(d.stats().templates, 2);
    const w1 = d.decode(ipfixMessage([ipfixTemplateSet([new Bytes().u16(256).u16(0).build()])]), EXPORTER, 0);
    assert.equal(w1.templatesWithdrawn, 1);
    const after = d.decode(data256(rec256("10.0.0.1", "10.0.0.2", 1, 2, 3, 4)), EXPORTER, 0);
    assert.equal(after.flows.length, 0);
    assert.equal(after.errors.unknown_template, 1);
    const all = d.decode(ipfixMessage([ipfixTemplateSet([new Bytes().u16(2).u16(0).build()])]), EXPORTER, 0);
    assert.equal(all.templatesWithdrawn, 1);
    assert.equal(d.stats().templates, 0);
  });

  it("replaces a template redefined with other fields, keeps one refreshed unchanged", () => {
    const { d } = decoder();
    assert.equal(d.decode(tpl256(), EXPORTER, 0).templatesLearned, 1);
    assert.equal(d.decode(tpl256(), EXPORTER, 0).templatesLearned, 0);
    const short: Spec[] = [
      [8, 4],
      [12, 4],
      [1, 2],
    ];
    assert.equal(
      d.decode(ipfixMessage([ipfixTemplateSet([ipfixTemplate(256, short)])]), EXPORTER, 0).templatesLearned,
      1,
    );
    const r = d.decode(
      ipfixMessage([dataSet(256, [new Bytes().ip4("1.1.1.1").ip4("2.2.2.2").u16(77).build()])]),
      EXPORTER,
      0,
    );
    assert.equal(r.flows[0]?.srcToDstBytes, 77n);
    assert.equal(d.stats().templates, 1);
  });

  it("keeps templates apart per exporter, version and observation domain", () => {
    const { d } = decoder({ pendingSetsMax: 0 });
    d.decode(tpl256(), EXPORTER, 0);
    const rec = rec256("10.0.0.1", "10.0.0.2", 1, 2, 3, 4);
    assert.equal(d.decode(data256(rec), "192.0.2.8", 0).errors.unknown_template, 1);
    assert.equal(d.decode(ipfixMessage([dataSet(256, [rec])], { domain: 9 }), EXPORTER, 0).errors.unknown_template, 1);
    assert.equal(d.decode(data256(rec), EXPORTER, 0).flows.length, 1);
  });

  it("evicts the least recently used template beyond maxTemplatesPerSource", () => {
    const { d } = decoder({ maxTemplatesPerSource: 2, pendingSetsMax: 0 });
    const t = (id: number) => ipfixMessage([ipfixTemplateSet([ipfixTemplate(id, T256)])]);
    d.decode(t(256), EXPORTER, 0);
    d.decode(t(257), EXPORTER, 0);
    d.decode(ipfixMessage([dataSet(256, [rec256("1.1.1.1", "2.2.2.2", 1, 2, 3, 4)])]), EXPORTER, 0); // 256 used
    const r = d.decode(t(258), EXPORTER, 0);
    assert.equal(r.errors.too_many_templates, 1);
    assert.equal(d.stats().templates, 2);
    const gone = d.decode(ipfixMessage([dataSet(257, [rec256("1.1.1.1", "2.2.2.2", 1, 2, 3, 4)])]), EXPORTER, 0);
    assert.equal(gone.errors.unknown_template, 1, "257 was the least recently used");
  });

  it("evicts the least recently used source beyond maxSources", () => {
    const { d } = decoder({ maxSources: 2 });
    d.decode(tpl256(), "192.0.2.1", 0);
    d.decode(tpl256(), "192.0.2.2", 0);
    const r = d.decode(tpl256(), "192.0.2.3", 0);
    assert.equal(r.errors.too_many_sources, 1);
    assert.deepEqual(
      d.stats().sources.map((s) => s.exporter),
      ["192.0.2.2", "192.0.2.3"],
    );
  });

  it("keeps the total of template fields within maxTemplateFieldsTotal", () => {
    const { d } = decoder({ maxTemplateFieldsTotal: 30 });
    for (let i = 0; i < 10; i++) d.decode(tpl256(), `192.0.2.${i}`, 0);
    const s = d.stats();
    assert.ok(s.templateFields <= 30, `${s.templateFields} fields`);
    assert.equal(s.templates, 2);
    assert.equal(s.errors.too_many_templates, 8);
  });
});

describe("sampling", () => {
  it("takes v5's header sampling interval and keeps the raw counts", () => {
    const { d } = decoder();
    const rec = new Bytes()
      .ip4("10.0.0.1")
      .ip4("10.0.0.2")
      .ip4("0.0.0.0")
      .u16(1)
      .u16(2)
      .u32(3)
      .u32(400)
      .u32(1000)
      .u32(2000)
      .u16(5000)
      .u16(53)
      .u8(0)
      .u8(0)
      .u8(17)
      .u8(0)
      .u16(0)
      .u16(0)
      .u8(0)
      .u8(0)
      .u16(0)
      .build();
    const dg = new Bytes()
      .u16(5)
      .u16(1)
      .u32(3000)
      .u32(T0)
      .u32(500_000_000)
      .u32(0)
      .u8(1)
      .u8(2)
      .u16((1 << 14) | 100)
      .raw(rec)
      .build();
    const f = d.decode(dg, EXPORTER, 0).flows[0];
    assert.ok(f);
    assert.deepEqual(
      [f.samplingRate, f.srcToDstPackets, f.srcToDstBytes, f.rawPackets, f.rawBytes, f.observationDomain],
      [100n, 300n, 40000n, 3n, 400n, 258],
    );
    // sysUptime 3000 at export time T0.5 s: first at uptime 1000 = 2 s before.
    assert.equal(f.firstSeenMs, BigInt(T0 * 1000 + 500 - 2000));
    assert.equal(f.lastSeenMs, BigInt(T0 * 1000 + 500 - 1000));
  });

  it("learns per-sampler rates from v9 options data and applies them by the records' sampler id", () => {
    const { d } = decoder();
    const opt = v9OptionsTemplate(
      300,
      [[1, 4]],
      [
        [48, 1],
        [34, 4],
      ],
    );
    const data = v9Template(301, [
      [8, 4],
      [12, 4],
      [1, 4],
      [2, 4],
      [48, 1],
    ]);
    const optData = dataSet(
      300,
      [new Bytes().u32(0).u8(1).u32(10).build(), new Bytes().u32(0).u8(2).u32(1000).build()],
      2,
    );
    const r = d.decode(v9Message([v9TemplateSet([opt], true), v9TemplateSet([data]), optData]), EXPORTER, 0);
    assert.deepEqual(
      r.options.map((o) => [o.samplerId, o.samplingRate]),
      [
        [1, 10],
        [2, 1000],
      ],
    );
    const recs = [1, 2, 3].map((s) => new Bytes().ip4("10.0.0.1").ip4("10.0.0.2").u32(100).u32(1).u8(s).build());
    const flows = d.decode(v9Message([dataSet(301, recs)]), EXPORTER, 0).flows;
    assert.deepEqual(
      flows.map((f) => [f.samplingRate, f.srcToDstBytes, f.rawBytes]),
      [
        [10n, 1000n, 100n],
        [1000n, 100000n, 100n],
        [1n, 100n, 100n], // sampler 3 unknown: unsampled as far as we know
      ],
    );
    assert.deepEqual(d.stats().sources[0]?.samplingRates, [
      { samplerId: 1, rate: 10 },
      { samplerId: 2, rate: 1000 },
    ]);
  });

  it("learns IPFIX packet interval/space (RFC 5477) per exporter and domain", () => {
    const { d } = decoder();
    const opt = ipfixTemplate(
      400,
      [
        [149, 4],
        [305, 4],
        [306, 4],
      ],
      1,
    );
    const r1 = d.decode(
      ipfixMessage(
        [
          ipfixTemplateSet([opt], true),
          ipfixTemplateSet([ipfixTemplate(256, T256)]),
          dataSet(400, [new Bytes().u32(5).u32(1).u32(99).build()]),
        ],
        { domain: 5 },
      ),
      EXPORTER,
      0,
    );
    assert.equal(r1.options[0]?.samplingRate, 100);
    const f = d.decode(
      ipfixMessage([dataSet(256, [rec256("10.0.0.1", "10.0.0.2", 1, 2, 50, 2)])], { domain: 5 }),
      EXPORTER,
      0,
    ).flows[0];
    assert.deepEqual([f?.samplingRate, f?.srcToDstBytes, f?.srcToDstPackets], [100n, 5000n, 200n]);
    // Another domain of the same exporter is not sampled.
    d.decode(ipfixMessage([ipfixTemplateSet([ipfixTemplate(256, T256)])], { domain: 6 }), EXPORTER, 0);
    const g = d.decode(
      ipfixMessage([dataSet(256, [rec256("10.0.0.1", "10.0.0.2", 1, 2, 50, 2)])], { domain: 6 }),
      EXPORTER,
      0,
    ).flows[0];
    assert.equal(g?.samplingRate, 1n);
  });

  it("uses a sampling interval carried in the data record itself", () => {
    const { d } = decoder();
    const tpl = v9Template(302, [
      [8, 4],
      [12, 4],
      [1, 4],
      [34, 2],
    ]);
    const rec = new Bytes().ip4("10.0.0.1").ip4("10.0.0.2").u32(64).u16(512).build();
    const f = d.decode(v9Message([v9TemplateSet([tpl]), dataSet(302, [rec])]), EXPORTER, 0).flows[0];
    assert.deepEqual([f?.samplingRate, f?.srcToDstBytes, f?.rawBytes], [512n, 32768n, 64n]);
  });
});

describe("data before its template", () => {
  const rec = rec256("10.0.0.1", "10.0.0.2", 1, 2, 3, 4);

  it("buffers the data set and decodes it when the template arrives", () => {
    const { d } = decoder();
    const early = d.decode(data256(rec, rec), EXPORTER, 0);
    assert.equal(early.flows.length, 0);
    assert.equal(early.errors.unknown_template, 1);
    assert.equal(d.stats().pendingSets, 1);
    const late = d.decode(tpl256(), EXPORTER, 0);
    assert.equal(late.flows.length, 2);
    assert.equal(late.releasedRecords, 2);
    assert.equal(late.flows[0]?.firstSeenMs, BigInt(T0 * 1000 - 5000));
    assert.equal(d.stats().pendingSets, 0);
    assert.equal(d.stats().pendingBytes, 0);
  });

  it("copies what it buffers: the caller may reuse its buffer (a Buffer's slice() is a view)", () => {
    const { d } = decoder();
    const dg = Buffer.from(data256(rec, rec));
    d.decode(dg, EXPORTER, 0);
    dg.fill(0xee);
    const late = d.decode(tpl256(), EXPORTER, 0);
    assert.deepEqual(
      late.flows.map((f) => [f.srcAddr, f.srcToDstBytes]),
      [
        ["10.0.0.1", 3n],
        ["10.0.0.1", 3n],
      ],
    );
  });

  it("keeps v9 sysUptime times relative to the header they came with", () => {
    const { d } = decoder();
    const tpl = v9Template(270, [
      [8, 4],
      [12, 4],
      [22, 4],
      [21, 4],
    ]);
    const r = new Bytes().ip4("10.0.0.1").ip4("10.0.0.2").u32(9000).u32(9500).build();
    d.decode(v9Message([dataSet(270, [r])], { sysUptimeMs: 10_000, exportSecs: T0 }), EXPORTER, 0);
    const f = d.decode(v9Message([v9TemplateSet([tpl])], { sysUptimeMs: 70_000, exportSecs: T0 + 60 }), EXPORTER, 0)
      .flows[0];
    assert.equal(f?.firstSeenMs, BigInt(T0 * 1000 - 1000));
    assert.equal(f?.lastSeenMs, BigInt(T0 * 1000 - 500));
  });

  it("bounds the buffer by sets and bytes, dropping the oldest", () => {
    const { d } = decoder({ pendingSetsMax: 2 });
    for (let i = 0; i < 3; i++) d.decode(ipfixMessage([dataSet(300 + i, [rec])]), EXPORTER, 0);
    assert.equal(d.stats().pendingSets, 2);
    assert.equal(d.stats().errors.pending_overflow, 1);
    // The first (template 300) was dropped, 301 and 302 wait.
    assert.equal(d.decode(ipfixMessage([ipfixTemplateSet([ipfixTemplate(300, T256)])]), EXPORTER, 0).flows.length, 0);
    assert.equal(d.decode(ipfixMessage([ipfixTemplateSet([ipfixTemplate(302, T256)])]), EXPORTER, 0).flows.length, 1);

    const small = decoder({ pendingBytesMax: 2 * rec.length + 10 });
    for (let i = 0; i < 4; i++) small.d.decode(ipfixMessage([dataSet(300 + i, [rec])]), EXPORTER, 0);
    assert.ok(small.d.stats().pendingBytes <= 2 * rec.length + 10);
    assert.equal(small.d.stats().pendingSets, 2);
  });

  it("drops buffered data after pendingMs by the decoder's clock", () => {
    const { d, clock } = decoder({ pendingMs: 5000 });
    d.decode(data256(rec), EXPORTER, 0);
    clock.now += 5001;
    const r = d.decode(tpl256(), EXPORTER, 0);
    assert.equal(r.flows.length, 0);
    assert.equal(r.errors.pending_expired, 1);
    assert.equal(d.stats().pendingSets, 0);
  });
});

describe("times", () => {
  it("anchors IPFIX flowStart/EndSysUpTime on systemInitTimeMilliseconds from options data", () => {
    const { d } = decoder();
    const init = T0 * 1000 - 3_600_000;
    const r = d.decode(
      ipfixMessage([
        ipfixTemplateSet(
          [
            ipfixTemplate(
              256,
              [
                [143, 4],
                [160, 8],
              ],
              1,
            ),
          ],
          true,
        ),
        dataSet(256, [new Bytes().u32(1).u64(init).build()]),
        ipfixTemplateSet([
          ipfixTemplate(257, [
            [8, 4],
            [12, 4],
            [22, 4],
            [21, 4],
          ]),
        ]),
        dataSet(257, [new Bytes().ip4("10.0.0.1").ip4("10.0.0.2").u32(1000).u32(2000).build()]),
      ]),
      EXPORTER,
      0,
    );
    assert.equal(r.options[0]?.systemInitTimeMs, init);
    assert.deepEqual([r.flows[0]?.firstSeenMs, r.flows[0]?.lastSeenMs], [BigInt(init + 1000), BigInt(init + 2000)]);
  });

  it("reads delta-microseconds, NTP microseconds and durations", () => {
    const { d } = decoder();
    d.decode(
      ipfixMessage([
        ipfixTemplateSet([
          ipfixTemplate(256, [
            [8, 4],
            [12, 4],
            [158, 4],
            [159, 4],
          ]),
          ipfixTemplate(257, [
            [8, 4],
            [12, 4],
            [154, 8],
            [161, 4],
          ]),
        ]),
      ]),
      EXPORTER,
      0,
    );
    const ntpSecs = T0 + 2208988800;
    const r = d.decode(
      ipfixMessage([
        dataSet(256, [new Bytes().ip4("10.0.0.1").ip4("10.0.0.2").u32(3_000_000).u32(1_000_000).build()]),
        dataSet(257, [
          new Bytes()
            .ip4("10.0.0.1")
            .ip4("10.0.0.2")
            .u32(ntpSecs)
            .u32(2 ** 31)
            .u32(250)
            .build(),
        ]),
      ]),
      EXPORTER,
      0,
    );
    assert.deepEqual(
      r.flows.map((f) => [f.firstSeenMs, f.lastSeenMs]),
      [
        [BigInt(T0 * 1000 - 3000), BigInt(T0 * 1000 - 1000)],
        [BigInt(T0 * 1000 + 500), BigInt(T0 * 1000 + 750)],
      ],
    );
  });
});

describe("hostile input becomes counted errors", () => {
  const cases: [string, () => Uint8Array, string][] = [
    ["empty", () => new Uint8Array(0), "truncated"],
    ["sFlow", () => new Bytes().u32(5).u32(1).build(), "bad_version"],
    ["IPFIX shorter than its header", () => new Bytes().u16(10).u16(16).u32(0).build(), "truncated"],
    ["IPFIX length below the header", () => new Bytes().u16(10).u16(8).u32(0).u32(0).u32(0).build(), "bad_length"],
    ["IPFIX length beyond the datagram", () => new Bytes().u16(10).u16(400).u32(0).u32(0).u32(0).build(), "truncated"],
    [
      "set length beyond the message",
      () => ipfixMessage([new Bytes().u16(256).u16(1000).u32(0).build()]),
      "bad_length",
    ],
    ["set length below 4", () => ipfixMessage([new Bytes().u16(256).u16(2).build()]), "bad_length"],
    ["reserved set id", () => ipfixMessage([new Bytes().u16(7).u16(4).build()]), "bad_set_id"],
    ["template id below 256", () => ipfixMessage([ipfixTemplateSet([ipfixTemplate(12, T256)])]), "bad_template"],
    [
      "template field count beyond the set",
      () => ipfixMessage([ipfixTemplateSet([new Bytes().u16(256).u16(60000).u16(8).u16(4).build()])]),
      "truncated",
    ],
    [
      "options template with no scope",
      () =>
        ipfixMessage([
          ipfixTemplateSet(
            [
              ipfixTemplate(
                256,
                [
                  [34, 4],
                  [8, 4],
                ],
                0,
              ),
            ],
            true,
          ),
        ]),
      "bad_template",
    ],
    [
      "v9 template with zero fields",
      () => v9Message([v9TemplateSet([new Bytes().u16(256).u16(0).build()])]),
      "bad_template",
    ],
    ["v5 count above 30", () => new Bytes().u16(5).u16(31).u32(0).u32(0).u32(0).u32(0).u32(0).build(), "bad_length"],
    [
      "v5 shorter than its count",
      () => new Bytes().u16(5).u16(2).u32(0).u32(0).u32(0).u32(0).u32(0).build(),
      "truncated",
    ],
    ["v9 header only half there", () => new Bytes().u16(9).u16(1).u32(0).build(), "truncated"],
  ];
  for (const [name, make, reason] of cases) {
    it(name, () => {
      const { d } = decoder();
      const r = d.decode(make(), EXPORTER, 0);
      assert.ok(((r.errors as Record<string, number>)[reason] ?? 0) >= 1, `${reason} in ${JSON.stringify(r.errors)}`);
      assert.equal(r.flows.length, 0);
      assert.equal(d.internalErrorCount, 0);
    });
  }

  it("refuses templates with more fields than the limit, and goes on with the next one", () => {
    const { d } = decoder({ maxFieldsPerTemplate: 8 });
    const r = d.decode(
      ipfixMessage([ipfixTemplateSet([ipfixTemplate(256, T256), ipfixTemplate(257, T256.slice(0, 4))])]),
      EXPORTER,
      0,
    );
    assert.equal(r.errors.too_many_fields, 1);
    assert.equal(r.templatesLearned, 1);
  });

  it("skips zero-length fields, and a template of nothing but those never loops", () => {
    const { d } = decoder();
    const r = d.decode(
      ipfixMessage([
        ipfixTemplateSet([
          ipfixTemplate(256, [
            [8, 4],
            [5, 0],
            [12, 4],
          ]),
          ipfixTemplate(257, [
            [1, 0],
            [2, 0],
          ]),
        ]),
        dataSet(256, [new Bytes().ip4("10.0.0.1").ip4("10.0.0.2").build()]),
        dataSet(257, [new Bytes().u32(0).build()]),
      ]),
      EXPORTER,
      0,
    );
    assert.equal(r.errors.zero_length_field, 3);
    assert.equal(r.errors.template_loop, 1);
    assert.equal(r.flows.length, 1);
  });

  it("skips fields whose length their element cannot have", () => {
    const { d } = decoder();
    const r = d.decode(
      ipfixMessage([
        ipfixTemplateSet([
          ipfixTemplate(256, [
            [8, 3],
            [8, 4],
            [12, 4],
            [1, 9],
          ]),
        ]),
        dataSet(256, [new Bytes().raw([9, 9, 9]).ip4("10.0.0.1").ip4("10.0.0.2").raw(new Array(9).fill(1)).build()]),
      ]),
      EXPORTER,
      0,
    );
    assert.equal(r.errors.bad_field_length, 2);
    assert.equal(r.flows[0]?.srcAddr, "10.0.0.1");
    assert.equal(r.flows[0]?.srcToDstBytes, 0n);
  });

  it("drops a record whose counters no flow can have (beyond 2^53)", () => {
    const { d } = decoder();
    d.decode(tpl256(), EXPORTER, 0);
    const r = d.decode(data256(rec256("10.0.0.1", "10.0.0.2", 1, 2, 2 ** 60, 1)), EXPORTER, 0);
    assert.equal(r.errors.bad_value, 1);
    assert.equal(r.flows.length, 0);
  });

  it("stops at a variable-length field that runs past the set", () => {
    const { d } = decoder();
    d.decode(
      ipfixMessage([
        ipfixTemplateSet([
          ipfixTemplate(256, [
            [8, 4],
            [12, 4],
            [96, 0xffff],
          ]),
        ]),
      ]),
      EXPORTER,
      0,
    );
    const ok = new Bytes().ip4("10.0.0.1").ip4("10.0.0.2").u8(1).u8(0x41).build();
    const bad = new Bytes().ip4("10.0.0.3").ip4("10.0.0.4").u8(255).u16(5000).build();
    const r = d.decode(ipfixMessage([dataSet(256, [ok, bad])]), EXPORTER, 0);
    assert.equal(r.flows.length, 1);
    assert.equal(r.errors.truncated, 1);
  });

  it("ignores v9 zero padding after the last flowset", () => {
    const { d } = decoder();
    const r = d.decode(
      concat([v9Message([v9TemplateSet([v9Template(256, [[8, 4]])])]), new Uint8Array(100)]),
      EXPORTER,
      0,
    );
    assert.deepEqual(r.errors, {});
    assert.equal(r.templatesLearned, 1);
  });

  it("rejects limits that make no sense", () => {
    assert.throws(() => new NetflowDecoder({ maxSources: 0 }), NetflowConfigError);
    assert.throws(() => new NetflowDecoder({ pendingMs: -1 }), NetflowConfigError);
  });
});
