// The live state's configuration: defaults sized for one aggregator replica watching a large
// cluster (about 100k hosts), and the validation that keeps a bad value from becoming an
// unbounded or broken structure.
import type { StateConfig } from "./types.js";

export class StateConfigError extends Error {
  readonly code = "BAD_STATE_CONFIG";
}

export function defaultStateConfig(): StateConfig {
  return {
    maxHosts: 100_000,
    maxPeersPerHost: 16,
    topKCapacity: 1000,
    topKSeries: 20,
    maxActiveFlows: 100_000,
    maxRecentFlows: 10_000,
    activeFlowTtlMs: 5 * 60_000,
    maxApplications: 256,
    maxNodes: 1024,
    maxExporters: 256,
    maxInterfacesPerExporter: 1024,
  };
}

/** Lower bounds: two hosts so a flow's src cannot evict its dst mid-record, one of the rest. */
const MIN: Record<keyof StateConfig, number> = {
  maxHosts: 2,
  maxPeersPerHost: 1,
  topKCapacity: 1,
  topKSeries: 0,
  maxActiveFlows: 1,
  maxRecentFlows: 0,
  activeFlowTtlMs: 1,
  maxApplications: 1,
  maxNodes: 1,
  maxExporters: 1,
  maxInterfacesPerExporter: 1,
};

/** Throws StateConfigError naming the first bad field. */
export function validateStateConfig(c: StateConfig): StateConfig {
  for (const [k, min] of Object.entries(MIN) as Array<[keyof StateConfig, number]>) {
    const v = c[k];
    if (!Number.isSafeInteger(v) || v < min) {
      throw new StateConfigError(`state config ${k} must be an integer >= ${min}, got ${String(v)}`);
    }
  }
  return c;
}
