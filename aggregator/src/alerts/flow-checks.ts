// One-shot flow checks: each looks at one record and says whether it is an alert. The common
// (clean) record is judged on numbers and cached strings only; the alert's text is made on a hit.
import { readFileSync, statSync } from "node:fs";
import { type AlertCheckDefinition, isListUrl, NDPI_RISKS, type NdpiRiskSlug } from "@flowlens/contracts";
import { ABSENT, type IngestFlow } from "../state/ingest-flow.js";
import { fetchList } from "./list-fetch.js";
import { CidrSet, DST, ipv4Of, SRC } from "./record-keys.js";

export interface FlowHit {
  /** The host the alert is about (the local or offending side). */
  host: string;
  value: number;
  threshold?: number;
  summary: string;
  labels: Record<string, string>;
}

export interface FlowCheck {
  /** A hit, or null for the (common) clean record. */
  judge(f: IngestFlow): FlowHit | null;
  /** Timer work (reloading a list file). */
  tick?(nowMs: number): void;
}

const TCP = 6;

function flowLabels(f: IngestFlow): Record<string, string> {
  return {
    flow: `${f.srcAddr}:${f.srcPort} -> ${f.dstAddr}:${f.dstPort}`,
    proto: String(f.proto),
    l7: f.l7,
    communityId: f.communityId,
  };
}

/** Names of applications, matching an nDPI name itself, its sub-protocols (TLS matches TLS.Google) or a category. */
class NameSet {
  private readonly names: string[];
  private readonly set: Set<string>;
  constructor(names: readonly string[]) {
    this.names = [...names];
    this.set = new Set(names);
  }
  /** The matching name, or undefined. */
  match(l7: string, category: string): string | undefined {
    if (this.set.has(l7)) return l7;
    if (this.set.has(category)) return category;
    for (const n of this.names) {
      const k = n.length;
      if (l7.length <= k) continue;
      // TLS.Google is TLS (its master) and Google (its service).
      if (l7.charCodeAt(k) === 46 && l7.startsWith(n)) return n;
      if (l7.charCodeAt(l7.length - k - 1) === 46 && l7.endsWith(n)) return n;
    }
    return undefined;
  }
}

const riskSlugByName = new Map<string, NdpiRiskSlug>(
  Object.entries(NDPI_RISKS).map(([slug, name]) => [name, slug as NdpiRiskSlug]),
);

export class RiskCheck implements FlowCheck {
  private readonly wanted: Set<NdpiRiskSlug>;
  constructor(params: AlertCheckDefinition["params"]) {
    this.wanted = new Set(params.risks as NdpiRiskSlug[]);
  }
  judge(f: IngestFlow): FlowHit | null {
    const n = f.riskCount;
    if (n === 0) return null;
    let found: string[] | null = null;
    for (let i = 0; i < n; i++) {
      const slug = riskSlugByName.get(f.risks[i] as string);
      if (slug !== undefined && this.wanted.has(slug)) {
        if (found === null) found = [];
        found.push(slug);
      }
    }
    if (found === null) return null;
    const labels = flowLabels(f);
    labels.risks = found.join(",");
    if (f.l7 !== "") labels.l7 = f.l7;
    return {
      host: f.srcAddr,
      value: found.length,
      summary: `${f.srcAddr} -> ${f.dstAddr}:${f.dstPort} (${f.l7}): ${found.map((s) => NDPI_RISKS[s as NdpiRiskSlug]).join(", ")}`,
      labels,
    };
  }
}

export class HighRttCheck implements FlowCheck {
  private readonly clientUs: number;
  private readonly serverUs: number;
  constructor(params: AlertCheckDefinition["params"]) {
    this.clientUs = (params.clientMs as number) * 1000;
    this.serverUs = (params.serverMs as number) * 1000;
  }
  judge(f: IngestFlow): FlowHit | null {
    if (f.proto !== TCP) return null;
    const c = f.clientNwLatencyUs;
    const s = f.serverNwLatencyUs;
    const clientHigh = this.clientUs > 0 && c !== ABSENT && c > this.clientUs;
    const serverHigh = this.serverUs > 0 && s !== ABSENT && s > this.serverUs;
    if (!clientHigh && !serverHigh) return null;
    const labels = flowLabels(f);
    if (c !== ABSENT) labels.clientMs = (c / 1000).toFixed(1);
    if (s !== ABSENT) labels.serverMs = (s / 1000).toFixed(1);
    const ms = Math.max(clientHigh ? c : 0, serverHigh ? s : 0) / 1000;
    return {
      host: serverHigh ? f.dstAddr : f.srcAddr,
      value: ms,
      threshold: (serverHigh ? this.serverUs : this.clientUs) / 1000,
      summary: `${f.srcAddr} -> ${f.dstAddr}:${f.dstPort}: handshake latency ${ms.toFixed(1)} ms (${serverHigh ? "server" : "client"} side)`,
      labels,
    };
  }
}

export class RetransmissionCheck implements FlowCheck {
  private readonly ratio: number;
  private readonly minPackets: number;
  constructor(params: AlertCheckDefinition["params"]) {
    this.ratio = params.ratio as number;
    this.minPackets = params.minPackets as number;
  }
  judge(f: IngestFlow): FlowHit | null {
    if (f.proto !== TCP) return null;
    const packets = f.srcToDstPackets + f.dstToSrcPackets;
    if (packets < this.minPackets) return null;
    const retrans = f.srcRetransmits + f.dstRetransmits;
    const r = retrans / packets;
    if (r < this.ratio || retrans === 0) return null;
    const labels = flowLabels(f);
    labels.retransmits = String(retrans);
    labels.packets = String(packets);
    // The side that retransmits most is the one whose data gets lost: the sender.
    const host = f.dstRetransmits > f.srcRetransmits ? f.dstAddr : f.srcAddr;
    return {
      host,
      value: Math.round(r * 1000) / 1000,
      threshold: this.ratio,
      summary: `${f.srcAddr} -> ${f.dstAddr}:${f.dstPort}: ${retrans} of ${packets} packets retransmitted (${(r * 100).toFixed(1)}%)`,
      labels,
    };
  }
}

export class LongLivedCheck implements FlowCheck {
  private readonly ms: number;
  constructor(params: AlertCheckDefinition["params"]) {
    this.ms = (params.seconds as number) * 1000;
  }
  judge(f: IngestFlow): FlowHit | null {
    const d = f.lastSeenMs - f.firstSeenMs;
    if (d < this.ms) return null;
    return {
      host: f.srcAddr,
      value: Math.round(d / 1000),
      threshold: this.ms / 1000,
      summary: `${f.srcAddr} -> ${f.dstAddr}:${f.dstPort} (${f.l7}) has lasted ${Math.round(d / 1000)} s`,
      labels: flowLabels(f),
    };
  }
}

export class UnexpectedApplicationCheck implements FlowCheck {
  private readonly apps: NameSet;
  private readonly networks: CidrSet | null;
  constructor(params: AlertCheckDefinition["params"]) {
    this.apps = new NameSet(params.applications as string[]);
    const nets = params.networks as string[] | undefined;
    this.networks = nets && nets.length > 0 ? new CidrSet(nets) : null;
  }
  judge(f: IngestFlow): FlowHit | null {
    const app = this.apps.match(f.l7, f.l7Category);
    if (app === undefined) return null;
    let host = f.srcAddr;
    if (this.networks !== null) {
      if (this.networks.hasSide(f, SRC)) host = f.srcAddr;
      else if (this.networks.hasSide(f, DST)) host = f.dstAddr;
      else return null;
    }
    const labels = flowLabels(f);
    labels.application = app;
    return {
      host,
      value: 1,
      summary: `${host}: unexpected ${f.l7} (${f.srcAddr} -> ${f.dstAddr}:${f.dstPort})`,
      labels,
    };
  }
}

/** Remote hosts speaking a clear-text protocol to local ones. Needs local networks. */
export class InsecureProtocolCheck implements FlowCheck {
  private readonly apps: NameSet;
  constructor(
    params: AlertCheckDefinition["params"],
    private readonly local: CidrSet,
  ) {
    this.apps = new NameSet(params.applications as string[]);
  }
  judge(f: IngestFlow): FlowHit | null {
    if (this.local.size === 0) return null;
    const app = this.apps.match(f.l7, "");
    if (app === undefined) return null;
    if (!this.local.hasSide(f, DST) || this.local.hasSide(f, SRC)) return null;
    const labels = flowLabels(f);
    labels.application = app;
    labels.remote = f.srcAddr;
    return {
      host: f.dstAddr,
      value: 1,
      summary: `remote ${f.srcAddr} uses ${f.l7} on local ${f.dstAddr}:${f.dstPort}`,
      labels,
    };
  }
}

/** Parses a blacklist: one address or CIDR per line, # comments; bad lines are counted. */
export function parseBlacklist(text: string): { exact: Set<string>; cidrs: CidrSet; bad: number; entries: number } {
  const exact = new Set<string>();
  const cidrs: string[] = [];
  let bad = 0;
  for (const raw of text.split("\n")) {
    const line = (raw.split("#")[0] as string).trim();
    if (line === "") continue;
    if (line.includes("/")) {
      const c = new CidrSet([line]);
      if (c.size === 1) cidrs.push(line);
      else bad++;
    } else if (ipv4OfText4(line) || line.includes(":")) exact.add(line);
    else bad++;
  }
  return { exact, cidrs: new CidrSet(cidrs), bad, entries: exact.size + cidrs.length };
}

function ipv4OfText4(s: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(s) && s.split(".").every((p) => Number(p) <= 255);
}

export interface BlacklistOptions {
  /** How often a list at a URL is fetched again. */
  refreshMs?: number;
  /** Bound on one fetch, headers and body. */
  timeoutMs?: number;
  /** Bound on the list's size (file or body). */
  maxBytes?: number;
}

/** A failed first fetch is retried sooner than the refresh period: a rule without its list is blind. */
const RETRY_MS = 30_000;

/**
 * A flow to or from a listed address. The list is a file (reloaded when its size or mtime
 * changes) or an http(s) URL (fetched at start, then every refreshMs with a conditional GET).
 * Any failure keeps the last good list; failures are counted, and reported to `onLoad` once
 * per streak so a dead server is one log line, not one a minute.
 */
export class BlacklistCheck implements FlowCheck {
  private exact = new Set<string>();
  private exactV4 = new Set<number>();
  private cidrs = new CidrSet([]);
  private mtimeMs = -1;
  private size = -1;
  entries = 0;
  badLines = 0;
  loadError: string | undefined;
  /** Loads or fetches that failed, all told. */
  failures = 0;
  private readonly url: string | undefined;
  private readonly refreshMs: number;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private etag: string | undefined;
  private lastModified: string | undefined;
  /** When the next fetch is due; undefined until the first tick after a fetch settles. */
  private nextFetchMs: number | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly source: string,
    private readonly onLoad: (entries: number, bad: number, error?: string) => void = () => {},
    opts: BlacklistOptions = {},
  ) {
    this.url = isListUrl(source) ? source : undefined;
    this.refreshMs = opts.refreshMs ?? 300_000;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
    if (this.url !== undefined) this.startFetch(this.url);
    else this.tick();
  }

  /** Reloads the file when its size or modification time changed; fetches the URL when due. */
  tick(nowMs: number = Date.now()): void {
    if (this.url !== undefined) {
      if (this.inFlight !== undefined) return;
      if (this.nextFetchMs === undefined) {
        this.nextFetchMs =
          nowMs +
          (this.entries === 0 && this.loadError !== undefined ? Math.min(this.refreshMs, RETRY_MS) : this.refreshMs);
      } else if (nowMs >= this.nextFetchMs) this.startFetch(this.url);
      return;
    }
    try {
      const st = statSync(this.source);
      if (st.mtimeMs === this.mtimeMs && st.size === this.size) return;
      if (st.size > this.maxBytes) throw new Error(`${st.size} bytes, more than the ${this.maxBytes} allowed`);
      this.apply(readFileSync(this.source, "utf8"));
      this.mtimeMs = st.mtimeMs;
      this.size = st.size;
    } catch (err) {
      this.failed(`blacklist ${this.source}: ${(err as Error).message}`);
    }
  }

  /** Settles when no fetch is in flight (for tests and orderly shutdown). */
  async settled(): Promise<void> {
    await this.inFlight;
  }

  private startFetch(url: string): void {
    this.nextFetchMs = undefined;
    this.inFlight = fetchList(url, {
      timeoutMs: this.timeoutMs,
      maxBytes: this.maxBytes,
      ...(this.etag !== undefined ? { etag: this.etag } : {}),
      ...(this.lastModified !== undefined ? { lastModified: this.lastModified } : {}),
    })
      .then((r) => {
        if (r.changed) {
          this.apply(r.text);
          this.etag = r.etag;
          this.lastModified = r.lastModified;
        } else if (this.loadError !== undefined) {
          // Unchanged, and reachable again: the streak is over, the list as it was.
          this.loadError = undefined;
          this.onLoad(this.entries, this.badLines);
        }
      })
      .catch((err: Error) => this.failed(`blacklist ${err.message}`))
      .finally(() => {
        this.inFlight = undefined;
      });
  }

  private apply(text: string): void {
    const parsed = parseBlacklist(text);
    this.exact = parsed.exact;
    this.exactV4 = new Set([...parsed.exact].map((a) => (ipv4OfText4(a) ? v4Int(a) : -1)).filter((n) => n >= 0));
    this.cidrs = parsed.cidrs;
    this.entries = parsed.entries;
    this.badLines = parsed.bad;
    this.loadError = undefined;
    this.onLoad(parsed.entries, parsed.bad);
  }

  private failed(msg: string): void {
    this.failures++;
    if (this.loadError === undefined) this.onLoad(this.entries, this.badLines, msg);
    this.loadError = msg;
  }

  /** Whether an address (text) is on the list now. */
  has(address: string): boolean {
    return this.exact.has(address) || this.cidrs.hasText(address);
  }

  private listed(f: IngestFlow, side: typeof SRC | typeof DST): boolean {
    const v4 = ipv4Of(f, side);
    if (v4 >= 0) return this.exactV4.has(v4) || this.cidrs.hasV4(v4);
    const a = side === SRC ? f.srcAddr : f.dstAddr;
    return this.exact.has(a) || this.cidrs.hasText(a);
  }

  judge(f: IngestFlow): FlowHit | null {
    if (this.entries <= 0) return null;
    const srcListed = this.listed(f, SRC);
    const dstListed = !srcListed && this.listed(f, DST);
    if (!srcListed && !dstListed) return null;
    const bad = srcListed ? f.srcAddr : f.dstAddr;
    const other = srcListed ? f.dstAddr : f.srcAddr;
    const labels = flowLabels(f);
    labels.blacklisted = bad;
    return {
      host: other,
      value: 1,
      summary: `${other} ${srcListed ? "was contacted by" : "contacted"} blacklisted ${bad} (${f.l7}, port ${f.dstPort})`,
      labels,
    };
  }
}

function v4Int(a: string): number {
  return a.split(".").reduce((n, p) => n * 256 + Number(p), 0);
}
