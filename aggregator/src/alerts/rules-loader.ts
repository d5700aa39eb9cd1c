// Alert rules from files: --alert-rules names a YAML or JSON file, or a directory of them
// (*.yaml, *.yml, *.json; names starting with "." skipped, as the ..data links of a mounted
// ConfigMap). A file holds one rule, a list of rules, or a Kubernetes List ({items: [...]}) of
// AlertRule resources (what the operator writes). Every rule goes through parseAlertRule and its
// notify entries through parseEndpoint; a rule that does not parse is kept as refused, with the
// reasons, and the others load. Notify entries get the aggregator's endpoint defaults (SMTP
// server, sender, credentials, webhook secret) for what they do not say. The default rules come first; a rule of the same name (or
// NAMESPACE/same name) replaces one. A watcher polls the path and reloads on change: polling,
// because a ConfigMap volume is updated by swapping a symlink, which file watches miss.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { parseAlertRule } from "@flowlens/contracts";
import type { Logger } from "pino";
import { parse as parseYaml } from "yaml";
import { DEFAULT_RULE_PREFIX, defaultRules } from "./default-rules.js";
import type { LoadedRule } from "./engine.js";
import { type EndpointDefaults, withEndpointDefaults } from "./notify/defaults.js";
import { parseEndpoint } from "./notify/settings.js";
import type { EndpointConfig } from "./notify/types.js";

const RULE_FILE = /\.(ya?ml|json)$/i;
/** A rules file larger than this is refused (a mistake, not a rule set). */
const MAX_FILE_BYTES = 16 * 1024 * 1024;
const MAX_RULES = 10_000;

export class RulesPathError extends Error {}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The files a path stands for, sorted; throws RulesPathError when it is neither file nor directory. */
export function ruleFiles(path: string): string[] {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (err) {
    throw new RulesPathError(`${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (st.isFile()) return [path];
  if (!st.isDirectory()) throw new RulesPathError(`${path}: neither a file nor a directory`);
  return readdirSync(path)
    .filter((n) => !n.startsWith(".") && RULE_FILE.test(n))
    .sort()
    .map((n) => join(path, n))
    .filter((f) => {
      try {
        return statSync(f).isFile();
      } catch {
        return false;
      }
    });
}

/** The rules of one file's text (YAML is a superset of JSON). */
export function rulesFromText(text: string, file: string, defaults: EndpointDefaults = {}): LoadedRule[] {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    return [{ origin: file, errors: [`${file}: not YAML or JSON: ${(err as Error).message.split("\n")[0]}`] }];
  }
  if (doc === null || doc === undefined) return [];
  const items: unknown[] = Array.isArray(doc)
    ? doc
    : isRecord(doc) &&
        Array.isArray(doc.items) &&
        (doc.kind === "List" || doc.kind === undefined || doc.kind === "AlertRuleList")
      ? doc.items
      : [doc];
  if (items.length > MAX_RULES)
    return [{ origin: file, errors: [`${file}: ${items.length} rules, at most ${MAX_RULES}`] }];
  return items.map((item, i) =>
    ruleFromItem(item, items.length === 1 && !Array.isArray(doc) ? file : `${file}[${i}]`, defaults),
  );
}

function ruleFromItem(item: unknown, origin: string, defaults: EndpointDefaults): LoadedRule {
  const r = parseAlertRule(item, origin);
  if (!r.ok) {
    const md = isRecord(item) && isRecord(item.metadata) ? item.metadata : isRecord(item) ? item : {};
    const name = typeof md.name === "string" ? md.name : undefined;
    return { origin, ...(name !== undefined ? { name } : {}), errors: r.errors };
  }
  // The notify entries as written (they may carry options and filters the bare list drops).
  const spec = isRecord(item) && isRecord(item.spec) ? item.spec : isRecord(item) ? item : {};
  const raw = Array.isArray(spec.notify) ? spec.notify : [];
  const endpoints: EndpointConfig[] = [];
  const errors: string[] = [];
  raw.forEach((n, i) => {
    const e = parseEndpoint(withEndpointDefaults(n, defaults));
    if (e.ok) endpoints.push(e.endpoint);
    else for (const m of e.errors) errors.push(`${origin}: spec.notify[${i}].${m}`);
  });
  if (errors.length > 0) return { origin, name: r.rule.name, errors };
  return { origin, name: r.rule.name, rule: r.rule, endpoints, errors: [] };
}

/** The name a rule overrides a default by: its own, or the part after NAMESPACE/. */
function shortName(name: string): string {
  const slash = name.lastIndexOf("/");
  return slash >= 0 ? name.slice(slash + 1) : name;
}

/**
 * The rule set: the defaults (unless `withDefaults` is false), replaced by same-named rules,
 * then the rules of `path`. Throws RulesPathError when the path itself is missing.
 */
export function loadRules(
  path: string | undefined,
  withDefaults = true,
  endpointDefaults: EndpointDefaults = {},
): LoadedRule[] {
  const loaded: LoadedRule[] = [];
  if (path !== undefined) {
    for (const file of ruleFiles(path)) {
      let text: string;
      try {
        const st = statSync(file);
        if (st.size > MAX_FILE_BYTES) {
          loaded.push({ origin: file, errors: [`${file}: ${st.size} bytes, at most ${MAX_FILE_BYTES}`] });
          continue;
        }
        text = readFileSync(file, "utf8");
      } catch (err) {
        loaded.push({
          origin: file,
          errors: [`${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`],
        });
        continue;
      }
      loaded.push(...rulesFromText(text, file, endpointDefaults));
    }
  }
  if (!withDefaults) return loaded;
  const overridden = new Set(
    loaded.map((l) => shortName(l.rule?.name ?? l.name ?? "")).filter((n) => n.startsWith(DEFAULT_RULE_PREFIX)),
  );
  return [...defaultRules().filter((d) => !overridden.has(d.name ?? "")), ...loaded];
}

/** What a path looks like now, to notice a change: names, sizes, times and inodes. */
function signature(path: string): string {
  try {
    return ruleFiles(path)
      .map((f) => {
        const st = statSync(f);
        return `${basename(f)}:${st.size}:${st.mtimeMs}:${st.ino}`;
      })
      .join("|");
  } catch (err) {
    return `error:${(err as Error).message}`;
  }
}

/** Reloads the rules of a path when it changes, and hands them to `apply`. */
export class RulesWatcher {
  private timer: NodeJS.Timeout | undefined;
  private last = "";
  reloads = 0;
  lastError: string | undefined;

  constructor(
    private readonly path: string,
    private readonly apply: (rules: LoadedRule[]) => void,
    private readonly logger: Logger,
    private readonly withDefaults = true,
    private readonly intervalMs = 2000,
    private readonly endpointDefaults: EndpointDefaults = {},
  ) {}

  /** Loads once (throws RulesPathError if the path is missing), then polls. */
  start(): LoadedRule[] {
    this.last = signature(this.path);
    const rules = loadRules(this.path, this.withDefaults, this.endpointDefaults);
    this.apply(rules);
    this.timer = setInterval(() => this.poll(), this.intervalMs);
    this.timer.unref();
    return rules;
  }

  poll(): void {
    const sig = signature(this.path);
    if (sig === this.last) return;
    this.last = sig;
    try {
      const rules = loadRules(this.path, this.withDefaults, this.endpointDefaults);
      this.lastError = undefined;
      this.reloads++;
      this.logger.info(
        { path: this.path, rules: rules.length, refused: rules.filter((r) => r.rule === undefined).length },
        "alert rules changed: reloaded",
      );
      this.apply(rules);
    } catch (err) {
      // The path is gone (a ConfigMap being replaced): the rules loaded last stay.
      this.lastError = (err as Error).message;
      this.logger.warn({ path: this.path, error: this.lastError }, "alert rules not reloaded");
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
