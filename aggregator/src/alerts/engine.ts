// The alert engine: rules in, alerts out. Records reach it from the ingest pipeline (after the
// live state has counted them); flow checks judge each record, host checks count per host in
// bounded tables, threshold rules add to the counters of the targets they name. A timer (every
// 10 s) judges threshold rules, releases host alerts that went quiet, flushes the store and
// reloads blacklists, in slices that yield to ingest. Alerts are engaged (one per rule and
// entity, deduplicated; saved across restarts), released into the bounded, persisted store of
// past alerts, or one-shot (flow alerts, deduplicated per flow and rate-limited per rule).
// Notifications go to an AlertSink and never block.
import { randomUUID } from "node:crypto";
import type { AlertCheckName, AlertRuleDefinition } from "@flowlens/contracts";
import type { Logger } from "pino";
import type { RecordObserver } from "../ingest/pipeline.js";
import type { IngestFlow } from "../state/ingest-flow.js";
import { EngagedFile } from "./engaged-file.js";
import {
  BlacklistCheck,
  type FlowCheck,
  type FlowHit,
  HighRttCheck,
  InsecureProtocolCheck,
  LongLivedCheck,
  RetransmissionCheck,
  RiskCheck,
  UnexpectedApplicationCheck,
} from "./flow-checks.js";
import {
  DnsErrorsCheck,
  type Engage,
  FlowFloodCheck,
  type HostCheckHit,
  IcmpFloodCheck,
  PortScanCheck,
  type RecordCheck,
  SynFloodCheck,
} from "./host-checks.js";
import type { AlertEntity, AlertNotification, EndpointConfig } from "./notify/types.js";
import { CidrSet } from "./record-keys.js";
import { PastAlertStore } from "./store.js";
import { type ThresholdEmitter, ThresholdRule } from "./threshold.js";
import { ThresholdIndex } from "./threshold-index.js";
import type { AlertRecord, AlertSink } from "./types.js";

export interface AlertEngineOptions {
  logger: Logger;
  sink?: AlertSink;
  /** Where past alerts persist (alerts.jsonl); none: memory only. */
  dataDir?: string;
  maxPastAlerts?: number;
  localNetworks?: readonly string[];
  /** How often the timer evaluates (threshold rules, quiet host alerts, the store); 10 s. */
  evaluateIntervalMs?: number;
  /** Threshold periods last this many times their window (tests and demos); 1. */
  windowScale?: number;
  /** Rows an evaluation handles at most before it yields to ingest. */
  evaluationSliceRows?: number;
  /** Time an evaluation runs at most (checked every 16 rows) before it yields to ingest; 5 ms. */
  evaluationSliceMs?: number;
  /** Alerts one rule may have engaged at once; more crossings are counted, not engaged. */
  maxEngagedPerRule?: number;
  /** Hosts each local-hosts threshold rule keeps counters for. */
  maxHostsPerRule?: number;
  /** Entities each host check keeps (hosts or host pairs). */
  maxEntitiesPerCheck?: number;
  /** One-shot alerts per rule and minute; more are counted as suppressed. */
  flowAlertsPerMinute?: number;
  /** Endpoints every alert goes to, besides its rule's. */
  endpoints?: EndpointConfig[];
  clock?: () => number;
}

/** A rule as loaded: parsed, or refused with the reasons. */
export interface LoadedRule {
  origin: string;
  name?: string;
  rule?: AlertRuleDefinition;
  /** The rule's notify list as validated endpoints (with options); absent: the bare notify list. */
  endpoints?: EndpointConfig[];
  errors: string[];
}

export interface RuleStatus {
  name: string;
  origin: string;
  accepted: boolean;
  errors: string[];
  enabled: boolean;
  kind: "threshold" | "check" | "unknown";
  check?: string;
  metric?: string;
  severity?: string;
  engaged: number;
  lastTransitionMs?: number;
  /** Set when the rule is accepted but cannot run (e.g. insecure-protocol without local networks). */
  note?: string;
}

interface ActiveRule {
  def: AlertRuleDefinition;
  origin: string;
  /** JSON of the definition: an unchanged rule keeps its state and alerts across reloads. */
  fingerprint: string;
  flowCheck?: FlowCheck;
  hostCheck?: RecordCheck;
  threshold?: ThresholdRule;
  /** Quiet time after which a host-check alert is released. */
  quietMs: number;
  endpoints: EndpointConfig[];
  engaged: number;
  lastTransitionMs?: number;
  minuteStart: number;
  minuteCount: number;
  suppressed: number;
  note?: string;
}

export interface AlertEngineStats {
  records: number;
  evaluations: number;
  lastEvaluationMs: number;
  evaluationSeconds: number;
  observeErrors: number;
  flowAlertsSuppressed: number;
  flowAlertsDeduplicated: number;
  checkOverflows: number;
  /** Timer evaluations skipped because the previous one had not finished. */
  evaluationsSkipped: number;
  /** Longest stretch an evaluation ran without yielding to ingest, last cycle. */
  longestSliceSeconds: number;
  /** Threshold rows (targets) counted. */
  thresholdRows: number;
  /** Engaged-alert snapshots that could not be written. */
  engagedWriteErrors: number;
  /** Crossings not engaged because their rule had maxEngagedPerRule alerts engaged. */
  engagedCapped: number;
}

const FLOW_DEDUPE_MAX = 65_536;
const FLOW_DEDUPE_TTL_MS = 3_600_000;
/** Engaged alerts whose value changed are saved at least this often (structural changes at once). */
const ENGAGED_SAVE_MS = 60_000;

const yieldToIngest = () => new Promise<void>((resolve) => setImmediate(resolve));

export class AlertEngine implements RecordObserver, ThresholdEmitter {
  private rules: ActiveRule[] = [];
  private flowRules: ActiveRule[] = [];
  private hostRules: ActiveRule[] = [];
  private refused: LoadedRule[] = [];
  private thresholds: ThresholdIndex | null = null;
  private thresholdOwners = new Map<ThresholdRule, ActiveRule>();
  /** Bumped by setRules: an evaluation in progress stops visiting rules of an older set. */
  private generation = 0;
  private evaluating: Promise<void> | undefined;
  private readonly engagedFile: EngagedFile | undefined;
  private engagedDirty = false;
  private engagedSavedMs = 0;
  private started = false;
  /** Alerts restored at start, until a rule set takes them back. */
  private readonly restored = new Set<AlertRecord>();
  /** Engaged alerts by rule + entity. */
  private readonly engaged = new Map<string, AlertRecord>();
  private readonly flowSeen = new Map<string, number>();
  readonly store: PastAlertStore;
  private timer: NodeJS.Timeout | undefined;
  private readonly clock: () => number;
  private readonly local: CidrSet;
  /** Latest flow time seen (records' lastSeenMs, not beyond the wall clock). */
  private flowNowMs = 0;
  readonly stats: AlertEngineStats = {
    records: 0,
    evaluations: 0,
    lastEvaluationMs: 0,
    evaluationSeconds: 0,
    observeErrors: 0,
    flowAlertsSuppressed: 0,
    flowAlertsDeduplicated: 0,
    checkOverflows: 0,
    evaluationsSkipped: 0,
    longestSliceSeconds: 0,
    thresholdRows: 0,
    engagedWriteErrors: 0,
    engagedCapped: 0,
  };

  constructor(private readonly options: AlertEngineOptions) {
    this.clock = options.clock ?? Date.now;
    this.local = new CidrSet(options.localNetworks ?? []);
    this.store = new PastAlertStore(options.dataDir, options.maxPastAlerts ?? 10_000, (err) =>
      options.logger.error({ error: err.message, dataDir: options.dataDir }, "alert store write failed"),
    );
    this.engagedFile = options.dataDir !== undefined ? new EngagedFile(options.dataDir) : undefined;
  }

  /**
   * Opens the store, takes back the alerts engaged at the last stop (those of rules that are
   * gone are released at the next setRules or evaluation), starts the timer.
   */
  start(): void {
    this.store.open();
    const s = this.store.snapshotStats();
    if (s.corruptLines > 0)
      this.options.logger.warn(
        { corruptLines: s.corruptLines, dataDir: this.options.dataDir },
        "alert store: skipped damaged lines",
      );
    if (this.engagedFile !== undefined) {
      const restored = this.engagedFile.load();
      if (this.engagedFile.damaged > 0)
        this.options.logger.warn(
          { damaged: this.engagedFile.damaged, dataDir: this.options.dataDir },
          "engaged alerts snapshot damaged: entries skipped",
        );
      for (const a of restored) {
        const key = this.entityKey(a.rule, a.entity.kind, a.entity.value);
        if (this.engaged.has(key)) continue;
        this.engaged.set(key, a);
        this.restored.add(a);
      }
      if (restored.length > 0) {
        this.options.logger.info({ engaged: restored.length }, "engaged alerts restored");
        this.adoptRestored();
      }
    }
    this.started = true;
    const every = this.options.evaluateIntervalMs ?? 10_000;
    this.timer = setInterval(() => void this.evaluate(), every);
    this.timer.unref();
  }

  /** Stops the timer and saves the store and the engaged alerts (they stay engaged). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.evaluating;
    if (this.started) this.saveEngaged(this.clock(), true);
    this.started = false;
    this.store.close();
  }

  /** Replaces the rule set; unchanged rules keep their state and engaged alerts. */
  setRules(loaded: readonly LoadedRule[]): void {
    const old = new Map(this.rules.map((r) => [r.def.name, r]));
    const next: ActiveRule[] = [];
    const refused: LoadedRule[] = [];
    const seen = new Set<string>();
    for (const l of loaded) {
      if (l.rule === undefined) {
        refused.push(l);
        continue;
      }
      if (seen.has(l.rule.name)) {
        refused.push({ ...l, rule: undefined, errors: [`${l.origin}: a rule named ${l.rule.name} is already loaded`] });
        continue;
      }
      seen.add(l.rule.name);
      const fingerprint = JSON.stringify([l.rule, l.endpoints ?? null]);
      const prev = old.get(l.rule.name);
      if (prev !== undefined && prev.fingerprint === fingerprint) {
        prev.origin = l.origin;
        next.push(prev);
        old.delete(l.rule.name);
        continue;
      }
      try {
        next.push(this.compile(l.rule, l.origin, fingerprint, l.endpoints));
      } catch (err) {
        refused.push({ ...l, rule: undefined, errors: [`${l.origin}: ${(err as Error).message}`] });
      }
    }
    // Rules gone or changed: their engaged alerts end now.
    const now = this.clock();
    for (const gone of old.values()) {
      for (const [key, a] of this.engaged) if (a.rule === gone.def.name) this.release(key, a, gone, now);
    }
    this.rules = next;
    this.generation++;
    this.flowRules = next.filter((r) => r.flowCheck !== undefined && r.def.enabled);
    this.hostRules = next.filter((r) => r.hostCheck !== undefined && r.def.enabled);
    const thresholds = next.filter((r) => r.threshold !== undefined && r.def.enabled);
    this.thresholdOwners = new Map(thresholds.map((r) => [r.threshold as ThresholdRule, r]));
    this.thresholds =
      thresholds.length > 0
        ? new ThresholdIndex(
            thresholds.map((r) => r.threshold as ThresholdRule),
            this.local,
          )
        : null;
    this.refused = refused;
    this.adoptRestored();
    for (const r of refused) this.options.logger.warn({ origin: r.origin, errors: r.errors }, "alert rule refused");
    this.options.logger.info(
      { rules: next.length, refused: refused.length, engaged: this.engaged.size },
      "alert rules loaded",
    );
  }

  /**
   * Alerts engaged before a restart: a threshold rule takes back those of its entities, a check
   * rule keeps them until they go quiet; those of rules no longer loaded (or off) are released.
   */
  private adoptRestored(): void {
    if (this.generation === 0 || this.restored.size === 0) return;
    const byName = new Map(this.rules.map((r) => [r.def.name, r]));
    const now = this.clock();
    for (const a of this.restored) {
      const key = this.entityKey(a.rule, a.entity.kind, a.entity.value);
      if (this.engaged.get(key) !== a) continue;
      const r = byName.get(a.rule);
      if (r === undefined || !r.def.enabled || (r.threshold !== undefined && !r.threshold.adopt(a)))
        this.release(key, a, r, now);
      else r.engaged++;
    }
    this.restored.clear();
  }

  private compile(
    def: AlertRuleDefinition,
    origin: string,
    fingerprint: string,
    endpoints: EndpointConfig[] | undefined,
  ): ActiveRule {
    const r: ActiveRule = {
      def,
      origin,
      fingerprint,
      quietMs: 60_000,
      endpoints: endpoints ?? def.notify.map((n) => ({ kind: n.kind, target: n.target })),
      engaged: 0,
      minuteStart: 0,
      minuteCount: 0,
      suppressed: 0,
    };
    const check = def.check;
    if (check === undefined) {
      const t = def.threshold;
      if (t === undefined) throw new Error("a rule is a threshold or a check");
      // Released by the rule's own evaluation (hysteresis), never for going quiet.
      r.quietMs = Number.POSITIVE_INFINITY;
      r.threshold = new ThresholdRule(def.name, t, this, {
        maxHosts: this.options.maxHostsPerRule ?? 65_536,
        now: this.clock(),
        ...(this.options.windowScale !== undefined ? { windowScale: this.options.windowScale } : {}),
      });
      if (t.target.kind === "local-hosts" && this.local.size === 0)
        r.note = "no local networks are configured: local-hosts matches nothing";
      return r;
    }
    const p = check.params;
    const cap = this.options.maxEntitiesPerCheck ?? 65_536;
    const engage: Engage = (hit) => this.engageHost(r, hit);
    if (typeof p.windowSeconds === "number") r.quietMs = Math.max(2 * p.windowSeconds * 1000, 10_000);
    if (!def.enabled) return r;
    const name: AlertCheckName = check.name;
    switch (name) {
      case "port-scan":
        r.hostCheck = new PortScanCheck(p, engage, cap);
        break;
      case "syn-flood":
        r.hostCheck = new SynFloodCheck(p, engage, cap);
        break;
      case "icmp-flood":
        r.hostCheck = new IcmpFloodCheck(p, engage, cap);
        break;
      case "flow-flood":
        r.hostCheck = new FlowFloodCheck(p, engage, cap);
        break;
      case "dns-errors":
        r.hostCheck = new DnsErrorsCheck(p, engage, cap);
        break;
      case "tls-risks":
      case "flow-risks":
        r.flowCheck = new RiskCheck(p);
        break;
      case "high-rtt":
        r.flowCheck = new HighRttCheck(p);
        break;
      case "retransmissions":
        r.flowCheck = new RetransmissionCheck(p);
        break;
      case "long-lived-flow":
        r.flowCheck = new LongLivedCheck(p);
        break;
      case "unexpected-application":
        r.flowCheck = new UnexpectedApplicationCheck(p);
        break;
      case "insecure-protocol":
        r.flowCheck = new InsecureProtocolCheck(p, this.local);
        if (this.local.size === 0) r.note = "no local networks are configured: nothing is remote-to-local";
        break;
      case "blacklisted-host":
        r.flowCheck = new BlacklistCheck(
          p.file as string,
          (entries, bad, error) => {
            // Called once per failure streak: the note and the log line say the streak began.
            if (error) {
              r.note = `${error} (keeping the last good list: ${entries} entries)`;
              this.options.logger.warn({ rule: def.name, error, entries }, "blacklist not loaded");
            } else {
              r.note = bad > 0 ? `${bad} unparseable lines skipped` : undefined;
              this.options.logger.info({ rule: def.name, entries, badLines: bad }, "blacklist loaded");
            }
          },
          { refreshMs: ((p.refreshSeconds as number | undefined) ?? 300) * 1000 },
        );
        break;
    }
    return r;
  }

  observeRecords(flows: readonly IngestFlow[], count: number, node: string): void {
    const flowRules = this.flowRules;
    const hostRules = this.hostRules;
    const wall = this.clock();
    try {
      for (let i = 0; i < count; i++) {
        const f = flows[i] as IngestFlow;
        const t = f.lastSeenMs;
        if (t > this.flowNowMs && t <= wall + 60_000) this.flowNowMs = t;
        for (let j = 0; j < hostRules.length; j++) (hostRules[j] as ActiveRule).hostCheck?.observe(f);
        for (let j = 0; j < flowRules.length; j++) {
          const r = flowRules[j] as ActiveRule;
          const hit = (r.flowCheck as FlowCheck).judge(f);
          if (hit !== null) this.flowAlert(r, f, hit, wall);
        }
      }
      this.thresholds?.observe(flows, count, node, wall);
      this.stats.records += count;
    } catch (err) {
      // A check must never take ingest down; count it and go on with the next batch.
      this.stats.observeErrors++;
      this.options.logger.error({ error: (err as Error).message }, "alert check failed on a batch");
    }
  }

  private entityKey(rule: string, kind: string, value: string): string {
    return `${rule}\u0000${kind}\u0000${value}`;
  }

  private engageHost(r: ActiveRule, hit: HostCheckHit): AlertRecord | null {
    return this.engageEntity(r, { kind: "host", value: hit.entity }, hit, this.clock());
  }

  /** Engages (or, when engaged already, updates) the alert of a rule and entity. */
  private engageEntity(
    r: ActiveRule,
    entity: AlertEntity,
    hit: { value: number; threshold: number; summary: string; labels: Record<string, string> },
    now: number,
  ): AlertRecord | null {
    const key = this.entityKey(r.def.name, entity.kind, entity.value);
    const existing = this.engaged.get(key);
    if (existing !== undefined) {
      existing.value = hit.value;
      const upper = r.threshold?.upper ?? true;
      if (upper ? hit.value > existing.peak : hit.value < existing.peak) existing.peak = hit.value;
      existing.lastSeenMs = now;
      existing.hits++;
      return existing;
    }
    if (r.engaged >= (this.options.maxEngagedPerRule ?? 1000)) {
      // A rule crossed by thousands of entities at once is one problem, not thousands: the
      // first ones are engaged (and notified), the rest counted.
      this.stats.engagedCapped++;
      return null;
    }
    const a: AlertRecord = {
      id: randomUUID(),
      rule: r.def.name,
      ...(r.def.check ? { check: r.def.check.name } : {}),
      ...(r.def.threshold ? { metric: r.def.threshold.metric } : {}),
      severity: r.def.severity,
      entity,
      state: "engaged",
      oneShot: false,
      value: hit.value,
      threshold: hit.threshold,
      peak: hit.value,
      startedAtMs: now,
      lastSeenMs: now,
      hits: 1,
      summary: hit.summary,
      labels: hit.labels,
      acknowledged: false,
    };
    this.engaged.set(key, a);
    this.engagedDirty = true;
    r.engaged++;
    r.lastTransitionMs = now;
    this.notify(r, "engaged", a);
    return a;
  }

  /** ThresholdEmitter: a threshold rule's target crossed. */
  engageThreshold(t: ThresholdRule, entity: AlertEntity, value: number, now: number): AlertRecord | null {
    const r = this.activeRuleOf(t);
    if (r === undefined) return null;
    const d = t.def;
    const target = d.target.kind === "local-hosts" ? `local host ${entity.value}` : `${d.target.kind} ${entity.value}`;
    return this.engageEntity(
      r,
      entity,
      {
        value,
        threshold: d.value,
        summary: `${target}: ${d.metric} over ${d.window} is ${value} (${d.operator} ${d.value})`,
        labels: {
          metric: d.metric,
          window: d.window,
          operator: d.operator,
          target: `${d.target.kind}:${d.target.value}`,
          ...(d.hysteresis > 0 ? { hysteresis: String(d.hysteresis) } : {}),
        },
      },
      now,
    );
  }

  /** ThresholdEmitter: a threshold rule's target went back across the value (and hysteresis). */
  releaseThreshold(t: ThresholdRule, a: AlertRecord, now: number): void {
    const key = this.entityKey(a.rule, a.entity.kind, a.entity.value);
    if (this.engaged.get(key) === a) this.release(key, a, this.activeRuleOf(t), now);
  }

  private activeRuleOf(t: ThresholdRule): ActiveRule | undefined {
    return this.thresholdOwners.get(t);
  }

  private flowAlert(r: ActiveRule, f: IngestFlow, hit: FlowHit, now: number): void {
    const flowKey =
      f.communityId !== "" ? f.communityId : `${f.srcAddr}|${f.srcPort}|${f.dstAddr}|${f.dstPort}|${f.proto}`;
    const key = `${r.def.name}\u0000${flowKey}`;
    const seenUntil = this.flowSeen.get(key);
    if (seenUntil !== undefined && seenUntil > now) {
      this.stats.flowAlertsDeduplicated++;
      return;
    }
    if (now - r.minuteStart >= 60_000) {
      r.minuteStart = now;
      r.minuteCount = 0;
    }
    if (r.minuteCount >= (this.options.flowAlertsPerMinute ?? 100)) {
      r.suppressed++;
      this.stats.flowAlertsSuppressed++;
      return;
    }
    r.minuteCount++;
    this.flowSeen.delete(key);
    this.flowSeen.set(key, now + FLOW_DEDUPE_TTL_MS);
    if (this.flowSeen.size > FLOW_DEDUPE_MAX) this.flowSeen.delete(this.flowSeen.keys().next().value as string);
    const a: AlertRecord = {
      id: randomUUID(),
      rule: r.def.name,
      ...(r.def.check ? { check: r.def.check.name } : {}),
      severity: r.def.severity,
      entity: { kind: "flow", value: flowKey },
      state: "past",
      oneShot: true,
      value: hit.value,
      ...(hit.threshold !== undefined ? { threshold: hit.threshold } : {}),
      peak: hit.value,
      startedAtMs: now,
      endedAtMs: now,
      lastSeenMs: now,
      hits: 1,
      summary: hit.summary,
      labels: { ...hit.labels, host: hit.host },
      acknowledged: false,
    };
    r.lastTransitionMs = now;
    this.store.add(a);
    this.notify(r, "flow", a);
  }

  private release(key: string, a: AlertRecord, r: ActiveRule | undefined, now: number): void {
    this.engaged.delete(key);
    this.engagedDirty = true;
    a.state = "past";
    a.endedAtMs = now;
    this.store.add(a);
    if (r !== undefined) {
      r.engaged = Math.max(0, r.engaged - 1);
      r.lastTransitionMs = now;
    }
    // A rule that is gone has no endpoints of its own left: the common ones still hear of it.
    this.notify(r, "released", a);
  }

  /**
   * The timer's work: judge threshold rules, release quiet check alerts, sweep check tables,
   * reload lists, flush the store, save engaged alerts. Runs in slices of rows that yield to
   * ingest in between; a call while one runs waits for it (and is counted as skipped).
   */
  evaluate(): Promise<void> {
    if (this.evaluating !== undefined) {
      this.stats.evaluationsSkipped++;
      return this.evaluating;
    }
    this.evaluating = this.runEvaluation().finally(() => {
      this.evaluating = undefined;
    });
    return this.evaluating;
  }

  private async runEvaluation(): Promise<void> {
    const t0 = performance.now();
    let sliceStart = t0;
    let busy = 0;
    let longest = 0;
    const now = this.clock();
    const endSlice = () => {
      const d = performance.now() - sliceStart;
      busy += d;
      if (d > longest) longest = d;
    };
    try {
      this.housekeeping(now);
      const generation = this.generation;
      const sliceRows = this.options.evaluationSliceRows ?? 65_536;
      const sliceMs = this.options.evaluationSliceMs ?? 5;
      let n = 0;
      let rows = 0;
      for (const r of this.rules) {
        const t = r.threshold;
        if (t === undefined || !r.def.enabled) continue;
        const slots = t.beginCycle(now);
        try {
          for (let i = 0; i < slots.length; i++) {
            t.visit(slots[i] as number, now);
            n++;
            if (n % sliceRows === 0 || ((n & 15) === 0 && performance.now() - sliceStart >= sliceMs)) {
              endSlice();
              await yieldToIngest();
              sliceStart = performance.now();
              // A new rule set replaced this one meanwhile: the next cycle judges that one.
              if (this.generation !== generation) return;
            }
          }
        } finally {
          t.endCycle();
        }
        rows += t.rows;
      }
      this.stats.thresholdRows = rows;
      this.saveEngaged(now, false);
      this.store.flush();
    } catch (err) {
      this.options.logger.error({ error: (err as Error).message }, "alert evaluation failed");
    } finally {
      endSlice();
      this.stats.evaluations++;
      this.stats.lastEvaluationMs = now;
      this.stats.evaluationSeconds = busy / 1000;
      this.stats.longestSliceSeconds = longest / 1000;
    }
  }

  /** Check rules' timer work: quiet alerts released, stale table entries swept, lists reloaded. */
  private housekeeping(now: number): void {
    const byName = new Map(this.rules.map((r) => [r.def.name, r]));
    for (const [key, a] of this.engaged) {
      const r = byName.get(a.rule);
      if (r === undefined) {
        // Restored before any rule set was loaded: judged once rules are there.
        if (this.generation > 0) this.release(key, a, r, now);
      } else if (now - a.lastSeenMs >= r.quietMs) this.release(key, a, r, now);
    }
    let overflows = 0;
    for (const r of this.rules) {
      r.hostCheck?.sweep(this.flowNowMs);
      r.flowCheck?.tick?.(now);
      overflows += (r.hostCheck?.overflows ?? 0) + (r.threshold?.overflows ?? 0);
    }
    for (const [k, until] of this.flowSeen) {
      if (until > now) break;
      this.flowSeen.delete(k);
    }
    this.stats.checkOverflows = overflows;
  }

  /** Saves the engaged alerts when the set changed, or their values did a while ago. */
  private saveEngaged(now: number, force: boolean): void {
    const file = this.engagedFile;
    if (file === undefined) return;
    const due = this.engagedDirty || (this.engaged.size > 0 && now - this.engagedSavedMs >= ENGAGED_SAVE_MS);
    if (!force && !due) return;
    try {
      file.save([...this.engaged.values()]);
      this.engagedDirty = false;
      this.engagedSavedMs = now;
    } catch (err) {
      this.stats.engagedWriteErrors++;
      this.options.logger.error(
        { error: (err as Error).message, dataDir: this.options.dataDir },
        "engaged alerts not saved",
      );
    }
  }

  private notify(r: ActiveRule | undefined, event: AlertNotification["event"], a: AlertRecord): void {
    const sink = this.options.sink;
    const own = r?.endpoints ?? [];
    const endpoints = this.options.endpoints?.length ? [...own, ...this.options.endpoints] : own;
    if (sink === undefined || endpoints.length === 0) return;
    const n: AlertNotification = {
      event,
      id: a.id,
      rule: a.rule,
      ...(a.check !== undefined ? { check: a.check } : {}),
      ...(a.metric !== undefined ? { metric: a.metric } : {}),
      severity: a.severity,
      entity: a.entity,
      value: a.value,
      ...(a.threshold !== undefined ? { threshold: a.threshold } : {}),
      peak: a.peak,
      startedAtMs: a.startedAtMs,
      ...(a.endedAtMs !== undefined ? { endedAtMs: a.endedAtMs } : {}),
      summary: a.summary,
      labels: a.labels,
    };
    try {
      sink.send(endpoints, n);
    } catch (err) {
      this.options.logger.error({ error: (err as Error).message, rule: a.rule }, "alert sink threw");
    }
  }

  /** Engaged alerts, newest first. */
  engagedAlerts(): AlertRecord[] {
    return [...this.engaged.values()].sort((a, b) => b.startedAtMs - a.startedAtMs);
  }

  pastAlerts(): AlertRecord[] {
    return this.store.list();
  }

  /** Acknowledges an engaged or past alert; undefined when there is no such alert. */
  acknowledge(id: string): AlertRecord | undefined {
    const now = this.clock();
    for (const a of this.engaged.values()) {
      if (a.id === id) {
        a.acknowledged = true;
        a.acknowledgedAtMs = now;
        this.engagedDirty = true;
        return a;
      }
    }
    return this.store.ack(id, now);
  }

  ruleStatuses(): RuleStatus[] {
    const out: RuleStatus[] = this.rules.map((r) => ({
      name: r.def.name,
      origin: r.origin,
      accepted: true,
      errors: [],
      enabled: r.def.enabled,
      kind: r.def.check ? "check" : "threshold",
      ...(r.def.check ? { check: r.def.check.name } : {}),
      ...(r.def.threshold ? { metric: r.def.threshold.metric } : {}),
      severity: r.def.severity,
      engaged: r.engaged,
      ...(r.lastTransitionMs !== undefined ? { lastTransitionMs: r.lastTransitionMs } : {}),
      ...(r.note !== undefined ? { note: r.note } : {}),
    }));
    for (const l of this.refused)
      out.push({
        name: l.name ?? l.origin,
        origin: l.origin,
        accepted: false,
        errors: l.errors,
        enabled: false,
        kind: "unknown",
        engaged: 0,
      });
    return out;
  }

  /** Engaged alerts per rule and severity, for flowlens_alerts_engaged. */
  engagedCounts(): Array<[{ rule: string; severity: string }, number]> {
    const m = new Map<string, [{ rule: string; severity: string }, number]>();
    for (const a of this.engaged.values()) {
      const k = `${a.rule}\u0000${a.severity}`;
      const e = m.get(k);
      if (e) e[1]++;
      else m.set(k, [{ rule: a.rule, severity: a.severity }, 1]);
    }
    return [...m.values()];
  }

  /** The blacklists of blacklisted-host rules: entries held, failed loads, whether the last failed. */
  blacklists(): Array<{ rule: string; entries: number; failures: number; failing: boolean }> {
    const out: Array<{ rule: string; entries: number; failures: number; failing: boolean }> = [];
    for (const r of this.rules) {
      const c = r.flowCheck;
      if (c instanceof BlacklistCheck) {
        out.push({ rule: r.def.name, entries: c.entries, failures: c.failures, failing: c.loadError !== undefined });
      }
    }
    return out;
  }

  /** Bytes held by check state (tables, bitmaps) and threshold counters. */
  checkMemoryBytes(): number {
    let n = 0;
    for (const r of this.rules) n += (r.hostCheck?.memoryBytes ?? 0) + (r.threshold?.memoryBytes ?? 0);
    return n;
  }
}
