// Routes each record to the threshold rules whose target it concerns, in a cost that does not
// grow with the number of rules: hosts by an address-hash table, IPv4 networks by one map per
// prefix length, applications by a cache from the record's (shared) name string, categories,
// exporters and nodes by maps. Built once per rule set; observe() allocates nothing once the
// application cache has seen a name.
import type { IngestFlow } from "../state/ingest-flow.js";
import { KeyTable } from "./key-table.js";
import { addrHash, CidrSet, DST, hashAddress, hashAddressText, ipv4Of, SRC } from "./record-keys.js";
import { BOTH, canonicalAddress, matchesApplication, type ThresholdRule } from "./threshold.js";

const APP_CACHE_MAX = 4096;
const NONE: readonly ThresholdRule[] = [];

function pushTo<K>(m: Map<K, ThresholdRule[]>, k: K, r: ThresholdRule): void {
  const list = m.get(k);
  if (list) list.push(r);
  else m.set(k, [r]);
}

export class ThresholdIndex {
  private readonly hostKeys: KeyTable;
  private readonly hostRules: ThresholdRule[][] = [];
  /** IPv4 networks: prefix lengths in use, and per length the rules by network base. */
  private readonly v4Prefixes: number[] = [];
  private readonly v4Masks: number[] = [];
  private readonly v4Nets: Map<number, ThresholdRule[]>[] = [];
  private readonly v6Nets: Array<{ set: CidrSet; rule: ThresholdRule }> = [];
  private readonly localRules: ThresholdRule[] = [];
  private readonly appTargets: Array<{ name: string; rule: ThresholdRule }> = [];
  private readonly appCache = new Map<string, readonly ThresholdRule[]>();
  private readonly categories = new Map<string, ThresholdRule[]>();
  private readonly exporters = new Map<string, ThresholdRule[]>();
  private readonly interfaces = new Map<string, Array<{ ifIndex: number; rule: ThresholdRule }>>();
  private readonly nodes = new Map<string, ThresholdRule[]>();
  readonly size: number;

  constructor(
    readonly rules: readonly ThresholdRule[],
    private readonly local: CidrSet,
  ) {
    this.size = rules.length;
    const hostTargets = rules.filter((r) => r.def.target.kind === "host");
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
    for (const r of rules) {
      const t = r.def.target;
      switch (t.kind) {
        case "network": {
          const [addr = "", len = "0"] = t.value.split("/");
          const bits = Number(len);
          if (!addr.includes(":")) {
            const v4 = addr.split(".").reduce((n, p) => n * 256 + Number(p), 0);
            const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
            let i = this.v4Prefixes.indexOf(bits);
            if (i < 0) {
              i = this.v4Prefixes.length;
              this.v4Prefixes.push(bits);
              this.v4Masks.push(mask);
              this.v4Nets.push(new Map());
            }
            pushTo(this.v4Nets[i] as Map<number, ThresholdRule[]>, (v4 & mask) >>> 0, r);
          } else this.v6Nets.push({ set: new CidrSet([t.value]), rule: r });
          break;
        }
        case "local-hosts":
          this.localRules.push(r);
          break;
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
    const locals = this.localRules.length;
    const apps = this.appTargets.length > 0;
    const cats = this.categories.size > 0;
    const exporters = this.exporters.size > 0 || this.interfaces.size > 0;
    for (let i = 0; i < count; i++) {
      const f = flows[i] as IngestFlow;
      if (nodeRules !== undefined) for (const r of nodeRules) r.add(0, f, BOTH, wall);
      if (hosts) {
        hashAddress(f, SRC);
        const s = this.hostKeys.find(addrHash.h1, addrHash.h2);
        hashAddress(f, DST);
        const d = this.hostKeys.find(addrHash.h1, addrHash.h2);
        if (s >= 0) for (const r of this.hostRules[s] as ThresholdRule[]) r.add(0, f, s === d ? BOTH : SRC, wall);
        if (d >= 0 && d !== s) for (const r of this.hostRules[d] as ThresholdRule[]) r.add(0, f, DST, wall);
      }
      if (v4n > 0) {
        const s4 = ipv4Of(f, SRC);
        const d4 = s4 >= 0 ? ipv4Of(f, DST) : -1;
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
      if (v6n > 0 && f.ipVersion === 6) {
        for (let p = 0; p < v6n; p++) {
          const n = this.v6Nets[p] as { set: CidrSet; rule: ThresholdRule };
          const sIn = n.set.hasSide(f, SRC);
          const dIn = n.set.hasSide(f, DST);
          if (sIn || dIn) n.rule.add(0, f, sIn && dIn ? BOTH : sIn ? SRC : DST, wall);
        }
      }
      if (locals > 0) {
        const srcLocal = this.local.hasSide(f, SRC);
        const dstLocal = this.local.hasSide(f, DST);
        if (srcLocal || dstLocal)
          for (let k = 0; k < locals; k++) (this.localRules[k] as ThresholdRule).addLocal(f, srcLocal, dstLocal, wall);
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
