// Sampling rates per exporter/domain, learned from v9/IPFIX options data (per sampler or
// selector id where the options carry one) or from the records themselves.
import type { RecordFields } from "./record.js";

/** The "no sampler id" entry: the rate of the whole exporter/domain. */
export const ANY_SAMPLER = -1;
/** Sampler ids per source are few in practice; more than this and the oldest are forgotten. */
const MAX_SAMPLERS = 256;
/** 1-in-N with N beyond this is not a sampling rate but garbage (fuzzed or broken exporters). */
export const MAX_RATE = 1 << 24;

/**
 * The 1-in-N rate that a record's sampling elements describe, or 0 if it has none: an interval
 * (34, 50), a packet interval/space pair (305/306, RFC 5477: N = (interval + space) / interval),
 * a size/population pair (309/310) or a probability (311).
 */
export function rateFromFields(r: RecordFields): number {
  let rate = 0;
  if (r.samplingInterval > 0) rate = r.samplingInterval;
  else if (r.samplerRandomInterval > 0) rate = r.samplerRandomInterval;
  else if (r.samplingPacketInterval > 0 && r.samplingPacketSpace >= 0)
    rate = (r.samplingPacketInterval + r.samplingPacketSpace) / r.samplingPacketInterval;
  else if (r.samplingSize > 0 && r.samplingPopulation > 0) rate = r.samplingPopulation / r.samplingSize;
  else if (r.samplingProbability > 0 && r.samplingProbability <= 1) rate = 1 / r.samplingProbability;
  if (!(rate >= 1)) return 0;
  rate = Math.round(rate);
  return rate > MAX_RATE ? 0 : rate;
}

export class SamplingTable {
  private readonly rates = new Map<number, number>();

  /** Returns true if this changed what the table knew. */
  learn(samplerId: number, rate: number): boolean {
    if (this.rates.get(samplerId) === rate) return false;
    if (!this.rates.has(samplerId) && this.rates.size >= MAX_SAMPLERS) {
      const oldest = this.rates.keys().next();
      if (!oldest.done) this.rates.delete(oldest.value);
    }
    this.rates.set(samplerId, rate);
    return true;
  }

  /** The rate of a sampler, else of the source, else 0 (unknown). */
  rate(samplerId: number): number {
    if (this.rates.size === 0) return 0;
    if (samplerId !== ANY_SAMPLER) {
      const r = this.rates.get(samplerId);
      if (r !== undefined) return r;
    }
    const any = this.rates.get(ANY_SAMPLER);
    if (any !== undefined) return any;
    // Options that name their sampler while the records do not: with one sampler there is
    // no doubt which one it was.
    if (samplerId === ANY_SAMPLER && this.rates.size === 1) return this.rates.values().next().value ?? 0;
    return 0;
  }

  entries(): { samplerId: number | null; rate: number }[] {
    return [...this.rates].map(([id, rate]) => ({ samplerId: id === ANY_SAMPLER ? null : id, rate }));
  }
}
