// Counter records of sFlow counter samples: generic interface counters (ifTable, as SNMP would
// poll them) and Ethernet counters (dot3Stats), for the exporters/interfaces view.
import type { InterfaceCounters } from "../../state/types.js";

export const GENERIC_COUNTERS_BYTES = 88;
export const ETHERNET_COUNTERS_BYTES = 52;

const TWO32 = 4294967296;
const DIRECTIONS = ["unknown", "full-duplex", "half-duplex", "in", "out"] as const;

/** One interface's counters from a counter sample, keyed by the agent that sent it. */
export interface InterfaceCounterSample {
  exporter: string;
  ifIndex: number;
  counters: InterfaceCounters;
}

function u64(v: DataView, o: number): number {
  return v.getUint32(o) * TWO32 + v.getUint32(o + 4);
}

/**
 * The generic interface counters record at v[o, o+88), or null when a 64-bit value is beyond
 * 2^53 (no real counter is: that is corruption). Packets are unicast + multicast + broadcast.
 */
export function readGenericCounters(v: DataView, o: number, atMs: number): InterfaceCounterSample | null {
  const speed = u64(v, o + 8);
  const inOctets = u64(v, o + 24);
  const outOctets = u64(v, o + 56);
  if (speed > Number.MAX_SAFE_INTEGER || inOctets > Number.MAX_SAFE_INTEGER || outOctets > Number.MAX_SAFE_INTEGER) {
    return null;
  }
  const direction = v.getUint32(o + 16);
  const status = v.getUint32(o + 20);
  return {
    exporter: "",
    ifIndex: v.getUint32(o),
    counters: {
      inOctets,
      outOctets,
      inPackets: v.getUint32(o + 32) + v.getUint32(o + 36) + v.getUint32(o + 40),
      outPackets: v.getUint32(o + 64) + v.getUint32(o + 68) + v.getUint32(o + 72),
      inErrors: v.getUint32(o + 48),
      outErrors: v.getUint32(o + 80),
      inDiscards: v.getUint32(o + 44),
      outDiscards: v.getUint32(o + 76),
      speedBps: speed,
      operUp: (status & 2) !== 0,
      atMs,
      ifType: v.getUint32(o + 4),
      direction: DIRECTIONS[direction] ?? "unknown",
      adminUp: (status & 1) !== 0,
      inUnknownProtos: v.getUint32(o + 52),
      promiscuous: v.getUint32(o + 84) === 1,
    },
  };
}

/** dot3Stats of an Ethernet counters record at v[o, o+52). */
export function readEthernetCounters(v: DataView, o: number): NonNullable<InterfaceCounters["ethernet"]> {
  return {
    alignmentErrors: v.getUint32(o),
    fcsErrors: v.getUint32(o + 4),
    singleCollisionFrames: v.getUint32(o + 8),
    multipleCollisionFrames: v.getUint32(o + 12),
    sqeTestErrors: v.getUint32(o + 16),
    deferredTransmissions: v.getUint32(o + 20),
    lateCollisions: v.getUint32(o + 24),
    excessiveCollisions: v.getUint32(o + 28),
    internalMacTransmitErrors: v.getUint32(o + 32),
    carrierSenseErrors: v.getUint32(o + 36),
    frameTooLongs: v.getUint32(o + 40),
    internalMacReceiveErrors: v.getUint32(o + 44),
    symbolErrors: v.getUint32(o + 48),
  };
}
