// Routes each record to the threshold rules whose target it concerns, in a cost that does not
// grow with the number of rules: hosts by an address-hash table, IPv4 networks by one map per
// prefix length, applications by a cache from the record's (shared) name string, categories,
// exporters and nodes by maps. Built once per rule set; observe() allocates nothing once the
// application cache has seen a name.
import type { IngestFlow } from "../state/ingest-flow.js";
import { KeyTable } from "./key-table.js";
import { addrHash, CidrSet, DST, hashAddress, hashAddressText, ipv4Of, ipv6Of, SRC } from "./record-keys.js";
import { BOTH, canonicalAddress, matchesApplication, type RecordFacts, type ThresholdRule } from "./threshold.js";

const APP_CACHE_MAX = 4096;
const facts: RecordFacts = {
  srcV4: -1,
  dstV4: -1,
  srcV6: false,
  dstV6: false,
  srcWords: new Uint32Array(4),
  dstWords: new Uint32Array(4),
  srcH1: 0,
  srcH2: 0,
  dstH1: 0,
  dstH2: 0,
};
const NONE: readonly ThresholdRule[] = [];

function pushTo<K>(m: Map<K, ThresholdRule[]>, k: K, r: ThresholdRule): void {
  const list = m.get(k);
  if (list) list.push(r);
  else m.set(k, [r]);
}

/** An IPv4 CIDR's base and mask; null for IPv6. */
function parseV4Cidr(cidr: string): { bits: number; mask: number; base: number } | null {
  const [addr = "", len = "32"] = cidr.split("/");
  if (addr.includes(":")) return null;
  const bits = Number(len);
  const v4 = addr.split(".").reduce((n, p) => n * 256 + Number(p), 0);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { bits, mask, base: (v4 & mask) >>> 0 };
}

/**
 * Rules counting the same thing share one set of counters (a warning and an error rule on one
 * host's bytes count each record once): the first of each group counts, the others follow it.
 * A rule that led or followed before keeps the arrays it has, so a reload that keeps it keeps
 * what was counted. Returns the rules records are routed to.
 */
function shareCounters(rules: readonly ThresholdRule[]): ThresholdRule[] {
  const leaders = new Map<string, ThresholdRule>();
  const counting: ThresholdRule[] = [];
  for (const r of rules) {
    const key = r.counterKey;
    const leader = key === null ? undefined : leaders.get(key);
    if (leader !== undefined) {
      r.shareCountersOf(leader);
      continue;
    }
    if (key !== null) leaders.set(key, r);
    r.countOwn();
    counting.push(r);
  }
  return counting;
}

export class ThresholdIndex {
  private readonly hostKeys: KeyTable;
  private readonly hostRules: ThresholdRule[][] = [];
  /** IPv4 networks: prefix lengths in use, and per length the rules by network base. */
  private readonly v4Prefixes: number[] = [];
  private readonly v4Masks: number[] = [];
  private readonly v4Nets: Map<number, ThresholdRule[]>[] = [];
  private readonly v6Nets: Array<{ set: CidrSet; rule: ThresholdRule }> = [];
  /** local-hosts rules narrowed by an IPv4 CIDR, indexed as networks are; the others apart. */
  private readonly localPrefixes: number[] = [];
  private readonly localMasks: number[] = [];
  private readonly localNets: Map<number, ThresholdRule[]>[] = [];
  private readonly localRules: ThresholdRule[] = [];
  private readonly localCount: number;
  private readonly appTargets: Array<{ name: string; rule: ThresholdRule }> = [];
  private readonly appCache = new Map<string, readonly ThresholdRule[]>();
  private readonly categories = new Map<string, ThresholdRule[]>();
  private readonly exporters = new Map<string, ThresholdRule[]>();
  private readonly interfaces = new Map<string, Array<{ ifIndex: number; rule: ThresholdRule }>>();
  private readonly nodes = new Map<string, ThresholdRule[]>();
  readonly size: number;

  /** Rules that count (one per shared counter), the others reading theirs. */
  readonly counting: readonly ThresholdRule[];

  constructor(
    readonly rules: readonly ThresholdRule[],
    private readonly local: CidrSet,
  ) {
    this.size = rules.length;
    this.counting = shareCounters(rules);
    this.localCount = rules.filter((r) => r.def.target.kind === "local-hosts").length;
    const hostTargets = this.counting.filter((r) => r.def.target.kind === "host");
    this.hostKeys = new KeyTable(Math.max(1, hostTargets.length));
    for (const r of hostTargets) {
      hashAddressText(canonicalAddress(r.def.target.value));
      let s = this.hostKeys.find(addrHash.h1, addrHash.h2);
      if (s < 0) {
        s = this.hostKeys.add(addrHash.h1, addrHash.h2, r.def.target.value);
        this.hostRules[s] = [];
      }
      (this.hostRules[s] as ThresholdRule[]).push(r);
    }
    for (const r of this.counting) {
      const t = r.def.target;
      switch (t.kind) {
        case "network": {
          const v4 = parseV4Cidr(t.value);
          if (v4 !== null) {
            let i = this.v4Prefixes.indexOf(v4.bits);
            if (i < 0) {
              i = this.v4Prefixes.length;
              this.v4Prefixes.push(v4.bits);
              this.v4Masks.push(v4.mask);
              this.v4Nets.push(new Map());
            }
            pushTo(this.v4Nets[i] as Map<number, ThresholdRule[]>, v4.base, r);
          } else this.v6Nets.push({ set: new CidrSet([t.value]), rule: r });
          break;
        }
        case "local-hosts": {
          const v4 = t.value === "*" ? null : parseV4Cidr(t.value);
          if (v4 === null) {
            this.localRules.push(r);
            break;
          }
          let i = this.localPrefixes.indexOf(v4.bits);
          if (i < 0) {
            i = this.localPrefixes.length;
            this.localPrefixes.push(v4.bits);
            this.localMasks.push(v4.mask);
            this.localNets.push(new Map());
          }
          pushTo(this.localNets[i] as Map<number, ThresholdRule[]>, v4.base, r);
          break;
        }
        case "application":
          this.appTargets.push({ name: t.value, rule: r });
          break;
        case "category":
          pushTo(this.categories, t.value, r);
          break;
        case "exporter":
          pushTo(this.exporters, canonicalAddress(t.value), r);
          break;
        case "interface": {
          const colon = t.value.lastIndexOf(":");
          const exporter = canonicalAddress(t.value.slice(0, colon));
          const list = this.interfaces.get(exporter) ?? [];
          list.push({ ifIndex: Number(t.value.slice(colon + 1)), rule: r });
          this.interfaces.set(exporter, list);
          break;
        }
        case "node":
          pushTo(this.nodes, t.value, r);
          break;
        case "host":
          break;
      }
    }
  }

  private appRules(l7: string): readonly ThresholdRule[] {
    let list = this.appCache.get(l7);
    if (list === undefined) {
      const found = this.appTargets.filter((a) => matchesApplication(l7, a.name)).map((a) => a.rule);
      list = found.length > 0 ? found : NONE;
      if (this.appCache.size >= APP_CACHE_MAX) this.appCache.clear();
      this.appCache.set(l7, list);
    }
    return list;
  }

  observe(flows: readonly IngestFlow[], count: number, node: string, wall: number): void {
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i] as ThresholdRule;
      if (wall >= r.periodEndMs) r.advance(wall);
    }
    const nodeRules = this.nodes.size > 0 ? this.nodes.get(node) : undefined;
    const hosts = this.hostKeys.size > 0;
    const v4n = this.v4Prefixes.length;
    const v6n = this.v6Nets.length;
    const locals = this.localCount;
    const localAll = this.localRules.length;
    const localPrefixes = this.localPrefixes.length;
    const needV4 = v4n > 0 || locals > 0;
    const needV6 = v6n > 0 || locals > 0;
    const k = facts;
    const apps = this.appTargets.length > 0;
    const cats = this.categories.size > 0;
    const exporters = this.exporters.size > 0 || this.interfaces.size > 0;
    for (let i = 0; i < count; i++) {
      const f = flows[i] as IngestFlow;
      if (nodeRules !== undefined) for (const r of nodeRules) r.add(0, f, BOTH, wall);
      if (hosts || locals > 0) {
        hashAddress(f, SRC);
        k.srcH1 = addrHash.h1;
        k.srcH2 = addrHash.h2;
        hashAddress(f, DST);
        k.dstH1 = addrHash.h1;
        k.dstH2 = addrHash.h2;
      }
      if (hosts) {
        const s = this.hostKeys.find(k.srcH1, k.srcH2);
        const d = this.hostKeys.find(k.dstH1, k.dstH2);
        if (s >= 0) for (const r of this.hostRules[s] as ThresholdRule[]) r.add(0, f, s === d ? BOTH : SRC, wall);
        if (d >= 0 && d !== s) for (const r of this.hostRules[d] as ThresholdRule[]) r.add(0, f, DST, wall);
      }
      k.srcV4 = needV4 ? ipv4Of(f, SRC) : -1;
      k.dstV4 = needV4 && k.srcV4 >= 0 ? ipv4Of(f, DST) : -1;
      k.srcV6 = needV6 && k.srcV4 < 0 && f.ipVersion === 6 && ipv6Of(f, SRC, k.srcWords);
      k.dstV6 = needV6 && k.srcV4 < 0 && f.ipVersion === 6 && ipv6Of(f, DST, k.dstWords);
      if (v4n > 0) {
        const s4 = k.srcV4;
        const d4 = k.dstV4;
        if (s4 >= 0 || d4 >= 0) {
          for (let p = 0; p < v4n; p++) {
            const mask = this.v4Masks[p] as number;
            const nets = this.v4Nets[p] as Map<number, ThresholdRule[]>;
            const ms = s4 >= 0 ? nets.get((s4 & mask) >>> 0) : undefined;
            const md = d4 >= 0 ? nets.get((d4 & mask) >>> 0) : undefined;
            // Both ends in one network: one flow of the network, counted once.
            if (ms !== undefined) for (const r of ms) r.add(0, f, ms === md ? BOTH : SRC, wall);
            if (md !== undefined && md !== ms) for (const r of md) r.add(0, f, DST, wall);
          }
        }
      }
      if (v6n > 0 && (k.srcV6 || k.dstV6)) {
        for (let p = 0; p < v6n; p++) {
          const n = this.v6Nets[p] as { set: CidrSet; rule: ThresholdRule };
          const sIn = k.srcV6 && n.set.hasV6Words(k.srcWords);
          const dIn = k.dstV6 && n.set.hasV6Words(k.dstWords);
          if (sIn || dIn) n.rule.add(0, f, sIn && dIn ? BOTH : sIn ? SRC : DST, wall);
        }
      }
      if (locals > 0) {
        const local = this.local;
        const srcLocal = k.srcV4 >= 0 ? local.hasV4(k.srcV4) : k.srcV6 && local.hasV6Words(k.srcWords);
        const dstLocal = k.dstV4 >= 0 ? local.hasV4(k.dstV4) : k.dstV6 && local.hasV6Words(k.dstWords);
        if (srcLocal || dstLocal) {
          for (let j = 0; j < localAll; j++)
            (this.localRules[j] as ThresholdRule).addLocal(f, srcLocal, dstLocal, k, wall);
          for (let p = 0; p < localPrefixes; p++) {
            const mask = this.localMasks[p] as number;
            const nets = this.localNets[p] as Map<number, ThresholdRule[]>;
            const ls = srcLocal && k.srcV4 >= 0 ? nets.get((k.srcV4 & mask) >>> 0) : undefined;
            const ld = dstLocal && k.dstV4 >= 0 ? nets.get((k.dstV4 & mask) >>> 0) : undefined;
            if (ls !== undefined) for (const r of ls) r.addLocalSide(f, SRC, k.srcH1, k.srcH2, wall);
            if (ld !== undefined) for (const r of ld) r.addLocalSide(f, DST, k.dstH1, k.dstH2, wall);
          }
        }
      }
      if (apps) {
        const list = this.appRules(f.l7);
        for (let k = 0; k < list.length; k++) (list[k] as ThresholdRule).add(0, f, BOTH, wall);
      }
      if (cats) {
        const list = this.categories.get(f.l7Category);
        if (list !== undefined) for (const r of list) r.add(0, f, BOTH, wall);
      }
      if (exporters && f.exportVersion !== 0) {
        const list = this.exporters.get(f.exporter);
        if (list !== undefined) for (const r of list) r.add(0, f, BOTH, wall);
        const ifs = this.interfaces.get(f.exporter);
        if (ifs !== undefined)
          for (const x of ifs) if (x.ifIndex === f.inIf || x.ifIndex === f.outIf) x.rule.add(0, f, BOTH, wall);
      }
    }
  }
}
