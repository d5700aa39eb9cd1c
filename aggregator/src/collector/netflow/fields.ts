// Information elements the decoder understands: IANA IPFIX elements (RFC 7012 and the IANA
// registry; NetFlow v9 field types 1..127 are the same numbers), RFC 5103 reverse elements and
// ntop's L7 elements. Each maps to a field kind, the small integer that a compiled template
// plan switches on; every element not listed decodes as Skip.

/** Field kinds: what the record decoder does with the bytes of one field. */
export const Kind = {
  Skip: 0,
  Octets: 1,
  Packets: 2,
  PostOctets: 3,
  PostPackets: 4,
  TotalOctets: 5,
  TotalPackets: 6,
  InitiatorOctets: 7,
  InitiatorPackets: 8,
  ResponderOctets: 9,
  ResponderPackets: 10,
  RevOctets: 11,
  RevPackets: 12,
  RevTotalOctets: 13,
  RevTotalPackets: 14,
  RevTcpFlags: 15,
  Proto: 16,
  TcpFlags: 17,
  SrcPort: 18,
  DstPort: 19,
  SrcAddr4: 20,
  DstAddr4: 21,
  SrcAddr6: 22,
  DstAddr6: 23,
  InIf: 24,
  OutIf: 25,
  InPhysIf: 26,
  OutPhysIf: 27,
  Vlan: 28,
  Dot1qVlan: 29,
  IpVersion: 30,
  StartSysUptime: 31,
  EndSysUptime: 32,
  StartSeconds: 33,
  EndSeconds: 34,
  StartMillis: 35,
  EndMillis: 36,
  StartNtp: 37,
  EndNtp: 38,
  StartDeltaMicros: 39,
  EndDeltaMicros: 40,
  DurationMillis: 41,
  DurationMicros: 42,
  SystemInitMillis: 43,
  IcmpTypeCode4: 44,
  IcmpTypeCode6: 45,
  IcmpType: 46,
  IcmpCode: 47,
  EndReason: 48,
  BiflowDirection: 49,
  SamplerId: 50,
  SamplingInterval: 51,
  SamplerRandomInterval: 52,
  SamplingPacketInterval: 53,
  SamplingPacketSpace: 54,
  SamplingSize: 55,
  SamplingPopulation: 56,
  SamplingProbability: 57,
  L7Name: 58,
  TransportSrcPort: 59,
  TransportDstPort: 60,
  DataLinkFrame: 61,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** RFC 5103: reverse-direction elements are the forward IE numbers under this PEN. */
export const REVERSE_PEN = 29305;
/** ntop (nProbe): its elements in IPFIX, under its PEN. */
export const NTOP_PEN = 35632;
/** nProbe's NetFlow v9 encoding of the same elements: id + NTOP_V9_BASE, no PEN. */
export const NTOP_V9_BASE = 57472;
export const NTOP_L7_PROTO = 118;
export const NTOP_L7_PROTO_NAME = 119;

/** Expected encoded size of a kind: exact bytes, or a range for reduced-size integers. */
export type SizeRule = { exact: number } | { min: number; max: number } | "any";

const uint: SizeRule = { min: 1, max: 8 };
const u8to4: SizeRule = { min: 1, max: 4 };

interface IeDef {
  name: string;
  kind: Kind;
  size: SizeRule;
}

function ie(name: string, kind: Kind = Kind.Skip, size: SizeRule = "any"): IeDef {
  return { name, kind, size };
}

/**
 * IANA elements by number. The ones with a kind feed the flow record or the sampling table;
 * the rest are here for their names (template descriptions, unknown-element accounting).
 */
export const IANA: ReadonlyMap<number, IeDef> = new Map<number, IeDef>([
  [1, ie("octetDeltaCount", Kind.Octets, uint)],
  [2, ie("packetDeltaCount", Kind.Packets, uint)],
  [3, ie("deltaFlowCount")],
  [4, ie("protocolIdentifier", Kind.Proto, { exact: 1 })],
  [5, ie("ipClassOfService")],
  [6, ie("tcpControlBits", Kind.TcpFlags, { min: 1, max: 2 })],
  [7, ie("sourceTransportPort", Kind.SrcPort, { min: 1, max: 2 })],
  [8, ie("sourceIPv4Address", Kind.SrcAddr4, { exact: 4 })],
  [9, ie("sourceIPv4PrefixLength")],
  [10, ie("ingressInterface", Kind.InIf, u8to4)],
  [11, ie("destinationTransportPort", Kind.DstPort, { min: 1, max: 2 })],
  [12, ie("destinationIPv4Address", Kind.DstAddr4, { exact: 4 })],
  [13, ie("destinationIPv4PrefixLength")],
  [14, ie("egressInterface", Kind.OutIf, u8to4)],
  [15, ie("ipNextHopIPv4Address")],
  [16, ie("bgpSourceAsNumber")],
  [17, ie("bgpDestinationAsNumber")],
  [18, ie("bgpNextHopIPv4Address")],
  [19, ie("postMCastPacketDeltaCount")],
  [20, ie("postMCastOctetDeltaCount")],
  [21, ie("flowEndSysUpTime", Kind.EndSysUptime, u8to4)],
  [22, ie("flowStartSysUpTime", Kind.StartSysUptime, u8to4)],
  [23, ie("postOctetDeltaCount", Kind.PostOctets, uint)],
  [24, ie("postPacketDeltaCount", Kind.PostPackets, uint)],
  [25, ie("minimumIpTotalLength")],
  [26, ie("maximumIpTotalLength")],
  [27, ie("sourceIPv6Address", Kind.SrcAddr6, { exact: 16 })],
  [28, ie("destinationIPv6Address", Kind.DstAddr6, { exact: 16 })],
  [29, ie("sourceIPv6PrefixLength")],
  [30, ie("destinationIPv6PrefixLength")],
  [31, ie("flowLabelIPv6")],
  [32, ie("icmpTypeCodeIPv4", Kind.IcmpTypeCode4, { exact: 2 })],
  [33, ie("igmpType")],
  [34, ie("samplingInterval", Kind.SamplingInterval, u8to4)],
  [35, ie("samplingAlgorithm")],
  [36, ie("flowActiveTimeout")],
  [37, ie("flowIdleTimeout")],
  [38, ie("engineType")],
  [39, ie("engineId")],
  [40, ie("exportedOctetTotalCount")],
  [41, ie("exportedMessageTotalCount")],
  [42, ie("exportedFlowRecordTotalCount")],
  [44, ie("sourceIPv4Prefix")],
  [45, ie("destinationIPv4Prefix")],
  [46, ie("mplsTopLabelType")],
  [47, ie("mplsTopLabelIPv4Address")],
  [48, ie("samplerId", Kind.SamplerId, u8to4)],
  [49, ie("samplerMode")],
  [50, ie("samplerRandomInterval", Kind.SamplerRandomInterval, u8to4)],
  [51, ie("classId")],
  [52, ie("minimumTTL")],
  [53, ie("maximumTTL")],
  [54, ie("fragmentIdentification")],
  [55, ie("postIpClassOfService")],
  [56, ie("sourceMacAddress")],
  [57, ie("postDestinationMacAddress")],
  [58, ie("vlanId", Kind.Vlan, { min: 1, max: 2 })],
  [59, ie("postVlanId")],
  [60, ie("ipVersion", Kind.IpVersion, { exact: 1 })],
  [61, ie("flowDirection")],
  [62, ie("ipNextHopIPv6Address")],
  [63, ie("bgpNextHopIPv6Address")],
  [64, ie("ipv6ExtensionHeaders")],
  [70, ie("mplsTopLabelStackSection")],
  [71, ie("mplsLabelStackSection2")],
  [72, ie("mplsLabelStackSection3")],
  [80, ie("destinationMacAddress")],
  [81, ie("postSourceMacAddress")],
  [82, ie("interfaceName")],
  [83, ie("interfaceDescription")],
  [84, ie("samplerName")],
  [85, ie("octetTotalCount", Kind.TotalOctets, uint)],
  [86, ie("packetTotalCount", Kind.TotalPackets, uint)],
  [88, ie("fragmentOffset")],
  [89, ie("forwardingStatus")],
  [90, ie("mplsVpnRouteDistinguisher")],
  [94, ie("applicationDescription")],
  [95, ie("applicationId")],
  [96, ie("applicationName")],
  [98, ie("postIpDiffServCodePoint")],
  [130, ie("exporterIPv4Address")],
  [131, ie("exporterIPv6Address")],
  [136, ie("flowEndReason", Kind.EndReason, { exact: 1 })],
  [137, ie("commonPropertiesId")],
  [138, ie("observationPointId")],
  [139, ie("icmpTypeCodeIPv6", Kind.IcmpTypeCode6, { exact: 2 })],
  [143, ie("meteringProcessId")],
  [144, ie("exportingProcessId")],
  [145, ie("templateId")],
  [148, ie("flowId")],
  [149, ie("observationDomainId")],
  [150, ie("flowStartSeconds", Kind.StartSeconds, { exact: 4 })],
  [151, ie("flowEndSeconds", Kind.EndSeconds, { exact: 4 })],
  [152, ie("flowStartMilliseconds", Kind.StartMillis, uint)],
  [153, ie("flowEndMilliseconds", Kind.EndMillis, uint)],
  [154, ie("flowStartMicroseconds", Kind.StartNtp, { exact: 8 })],
  [155, ie("flowEndMicroseconds", Kind.EndNtp, { exact: 8 })],
  [156, ie("flowStartNanoseconds", Kind.StartNtp, { exact: 8 })],
  [157, ie("flowEndNanoseconds", Kind.EndNtp, { exact: 8 })],
  [158, ie("flowStartDeltaMicroseconds", Kind.StartDeltaMicros, u8to4)],
  [159, ie("flowEndDeltaMicroseconds", Kind.EndDeltaMicros, u8to4)],
  [160, ie("systemInitTimeMilliseconds", Kind.SystemInitMillis, uint)],
  [161, ie("flowDurationMilliseconds", Kind.DurationMillis, u8to4)],
  [162, ie("flowDurationMicroseconds", Kind.DurationMicros, u8to4)],
  [176, ie("icmpTypeIPv4", Kind.IcmpType, { exact: 1 })],
  [177, ie("icmpCodeIPv4", Kind.IcmpCode, { exact: 1 })],
  [178, ie("icmpTypeIPv6", Kind.IcmpType, { exact: 1 })],
  [179, ie("icmpCodeIPv6", Kind.IcmpCode, { exact: 1 })],
  [180, ie("udpSourcePort", Kind.TransportSrcPort, { min: 1, max: 2 })],
  [181, ie("udpDestinationPort", Kind.TransportDstPort, { min: 1, max: 2 })],
  [182, ie("tcpSourcePort", Kind.TransportSrcPort, { min: 1, max: 2 })],
  [183, ie("tcpDestinationPort", Kind.TransportDstPort, { min: 1, max: 2 })],
  [225, ie("postNATSourceIPv4Address")],
  [226, ie("postNATDestinationIPv4Address")],
  [227, ie("postNAPTSourceTransportPort")],
  [228, ie("postNAPTDestinationTransportPort")],
  [231, ie("initiatorOctets", Kind.InitiatorOctets, uint)],
  [232, ie("responderOctets", Kind.ResponderOctets, uint)],
  [233, ie("firewallEvent")],
  [234, ie("ingressVRFID")],
  [235, ie("egressVRFID")],
  [236, ie("VRFname")],
  [239, ie("biflowDirection", Kind.BiflowDirection, { exact: 1 })],
  [243, ie("dot1qVlanId", Kind.Dot1qVlan, { min: 1, max: 2 })],
  [244, ie("dot1qPriority")],
  [245, ie("dot1qCustomerVlanId")],
  [252, ie("ingressPhysicalInterface", Kind.InPhysIf, u8to4)],
  [253, ie("egressPhysicalInterface", Kind.OutPhysIf, u8to4)],
  [298, ie("initiatorPackets", Kind.InitiatorPackets, uint)],
  [299, ie("responderPackets", Kind.ResponderPackets, uint)],
  [302, ie("selectorId", Kind.SamplerId, uint)],
  [304, ie("selectorAlgorithm")],
  [305, ie("samplingPacketInterval", Kind.SamplingPacketInterval, u8to4)],
  [306, ie("samplingPacketSpace", Kind.SamplingPacketSpace, u8to4)],
  [309, ie("samplingSize", Kind.SamplingSize, u8to4)],
  [310, ie("samplingPopulation", Kind.SamplingPopulation, u8to4)],
  [311, ie("samplingProbability", Kind.SamplingProbability, { min: 4, max: 8 })],
  [312, ie("dataLinkFrameSize")],
  [313, ie("ipHeaderPacketSection")],
  [315, ie("dataLinkFrameSection", Kind.DataLinkFrame)],
  [352, ie("layer2OctetDeltaCount")],
]);

/** RFC 5103 reverse elements that have a place in the flow record (dstToSrc side). */
const REVERSE: ReadonlyMap<number, Kind> = new Map<number, Kind>([
  [1, Kind.RevOctets],
  [2, Kind.RevPackets],
  [6, Kind.RevTcpFlags],
  [85, Kind.RevTotalOctets],
  [86, Kind.RevTotalPackets],
]);

/** What a field specifier means to the decoder. */
export interface FieldMeaning {
  kind: Kind;
  size: SizeRule;
  /** Neither IANA nor one of the enterprises this decoder knows. */
  unknownEnterprise: boolean;
}

const SKIP_KNOWN: FieldMeaning = { kind: Kind.Skip, size: "any", unknownEnterprise: false };
const SKIP_UNKNOWN: FieldMeaning = { kind: Kind.Skip, size: "any", unknownEnterprise: true };
const L7_NAME: FieldMeaning = { kind: Kind.L7Name, size: "any", unknownEnterprise: false };

/**
 * The meaning of field (pen, id) in a template. NetFlow v9 has no PEN (pen 0): its ids above
 * 32767 are vendor-specific, of which nProbe's are recognised.
 */
export function fieldMeaning(pen: number, id: number, version: 9 | 10): FieldMeaning {
  if (pen === 0) {
    if (version === 9 && id >= 0x8000) {
      if (id === NTOP_V9_BASE + NTOP_L7_PROTO_NAME) return L7_NAME;
      return id === NTOP_V9_BASE + NTOP_L7_PROTO ? SKIP_KNOWN : SKIP_UNKNOWN;
    }
    const def = IANA.get(id);
    return def ? { kind: def.kind, size: def.size, unknownEnterprise: false } : SKIP_KNOWN;
  }
  if (pen === REVERSE_PEN) {
    const kind = REVERSE.get(id);
    const def = IANA.get(id);
    return kind !== undefined && def ? { kind, size: def.size, unknownEnterprise: false } : SKIP_KNOWN;
  }
  if (pen === NTOP_PEN) return id === NTOP_L7_PROTO_NAME ? L7_NAME : SKIP_KNOWN;
  return SKIP_UNKNOWN;
}

/** A human name for field (pen, id), for template descriptions and stats. */
export function fieldName(pen: number, id: number): string {
  if (pen === 0) {
    if (id === NTOP_V9_BASE + NTOP_L7_PROTO) return "ntop.L7_PROTO";
    if (id === NTOP_V9_BASE + NTOP_L7_PROTO_NAME) return "ntop.L7_PROTO_NAME";
    return IANA.get(id)?.name ?? `ie${id}`;
  }
  if (pen === REVERSE_PEN) {
    const n = IANA.get(id)?.name;
    return n ? `reverse${n[0]?.toUpperCase()}${n.slice(1)}` : `reverse.ie${id}`;
  }
  if (pen === NTOP_PEN) {
    if (id === NTOP_L7_PROTO) return "ntop.L7_PROTO";
    if (id === NTOP_L7_PROTO_NAME) return "ntop.L7_PROTO_NAME";
  }
  return `${pen}.${id}`;
}

/** Kinds that take the field's bytes as they are, so any length (variable included) is fine. */
export function takesBytes(kind: Kind): boolean {
  return kind === Kind.Skip || kind === Kind.L7Name || kind === Kind.DataLinkFrame;
}

export function sizeAllowed(rule: SizeRule, length: number): boolean {
  if (rule === "any") return true;
  if ("exact" in rule) return length === rule.exact;
  return length >= rule.min && length <= rule.max;
}
