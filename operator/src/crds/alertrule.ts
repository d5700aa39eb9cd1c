// AlertRule: a threshold on a metric of one target, or one of the built-in flow checks, with
// where to notify. The aggregator evaluates it; the API server makes sure it is well formed.
import {
  ALERT_CHECK_NAMES,
  ALERT_OPERATORS,
  ALERT_SEVERITIES,
  ALERT_TARGET_KINDS,
  ALERT_WINDOWS,
  type AlertRuleSpec,
  type AlertRuleStatus,
  NOTIFY_KINDS,
} from "@flowlens/contracts";
import { collectorRefSchema, conditionsSchema, observedGenerationSchema } from "./common.js";
import type { CrdDefinition } from "./crd.js";
import type { EnumOf, Schema } from "./schema.js";

/**
 * An enum from one of the lists parseAlertRule validates against (contracts/src/alert-rule.ts):
 * the CRD and the parser share one source, and the spec types derive from the same lists, so
 * the enum is exhaustive by construction.
 */
const listed = <V extends string>(list: readonly V[]): EnumOf<V> => [...list] as unknown as EnumOf<V>;

const HOSTNAME = "^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$";

export const alertRuleSpecSchema = {
  type: "object",
  description: "One alert: exactly one of threshold and check.",
  properties: {
    collectorRef: { ...collectorRefSchema, required: true },
    threshold: {
      type: "object",
      description: "Alert when a metric of a target crosses a value over a window.",
      properties: {
        target: {
          type: "object",
          required: true,
          properties: {
            kind: { type: "string", required: true, enum: listed(ALERT_TARGET_KINDS) },
            value: {
              type: "string",
              required: true,
              description:
                "host: an IP address; network: a CIDR; local-hosts: * (every local host, each its own alert) or a CIDR narrowing them; application: an nDPI name (TLS.Google); category: an nDPI category (Web); interface: EXPORTER:IFINDEX; exporter: an IP address; node: a node name.",
              minLength: 1,
              maxLength: 253,
            },
          },
          "x-kubernetes-validations": [
            {
              rule: "!(self.kind in ['host', 'exporter']) || isIP(self.value)",
              messageExpression: "'a ' + self.kind + ' target is an IP address'",
            },
            {
              rule: "self.kind != 'network' || isCIDR(self.value)",
              message: "a network target is a CIDR such as 10.0.0.0/8",
            },
            {
              rule: "self.kind != 'local-hosts' || self.value == '*' || isCIDR(self.value)",
              message: "a local-hosts target is * (all) or a CIDR inside them",
            },
            {
              rule: "self.kind != 'interface' || (self.value.contains(':') && isIP(self.value.substring(0, self.value.lastIndexOf(':'))) && self.value.substring(self.value.lastIndexOf(':') + 1).matches('^[0-9]{1,10}$'))",
              message: "an interface target is EXPORTER:IFINDEX, e.g. 192.0.2.1:3",
            },
            {
              rule: `self.kind != 'node' || self.value.matches(r'${HOSTNAME}')`,
              message: "a node target is a node name",
            },
          ],
        },
        metric: {
          type: "string",
          required: true,
          description: "What is measured, e.g. bytes, packets, flows, bps, pps.",
          minLength: 1,
          maxLength: 63,
          pattern: "^[a-z][A-Za-z0-9_]*$",
        },
        window: { type: "string", required: true, enum: listed(ALERT_WINDOWS) },
        operator: { type: "string", required: true, enum: listed(ALERT_OPERATORS) },
        value: { type: "number", required: true },
        hysteresis: {
          type: "number",
          description: "How far back across the value the metric must go before the alert is released.",
          minimum: 0,
        },
      },
    },
    check: {
      type: "object",
      description: "One of the built-in flow checks.",
      properties: {
        name: { type: "string", required: true, enum: listed(ALERT_CHECK_NAMES) },
        params: {
          type: "object",
          description: "Parameters of the check: integers or strings (write booleans and fractions as strings).",
          maxProperties: 32,
          additionalProperties: {
            "x-kubernetes-int-or-string": true,
            anyOf: [{ type: "integer" }, { type: "string" }],
            maxLength: 256,
          },
          "x-kubernetes-validations": [
            { rule: "self.all(k, k.matches('^[a-z][a-zA-Z0-9]*$'))", message: "param names are camelCase" },
          ],
        },
      },
    },
    severity: {
      type: "string",
      required: true,
      enum: listed(ALERT_SEVERITIES),
    },
    notify: {
      type: "array",
      description: "Where to send the alert when it engages and when it is released.",
      maxItems: 16,
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["kind", "target"],
      items: {
        type: "object",
        properties: {
          kind: { type: "string", required: true, enum: listed(NOTIFY_KINDS) },
          target: {
            type: "string",
            required: true,
            description:
              "webhook, slack, alertmanager: an http(s) URL; email: an address; syslog: [udp|tcp|tls://]HOST:PORT; nagios: a command file path or nsca://HOST:PORT.",
            minLength: 1,
            maxLength: 2048,
          },
        },
        "x-kubernetes-validations": [
          {
            rule: "self.kind == 'email' ? self.target.matches(r'^[^@\\s]+@[^@\\s]+$') : self.kind == 'syslog' ? self.target.matches(r'^((udp|tcp|tls)://)?[^\\s/]+:[0-9]{1,5}$') : self.kind == 'nagios' ? self.target.matches(r'^(/.*|nsca://[^\\s/]+:[0-9]{1,5})$') : (isURL(self.target) && url(self.target).getScheme() in ['http', 'https'] && url(self.target).getHost() != '')",
            messageExpression:
              "self.kind == 'email' ? 'an email target is an address such as ops@example.com' : self.kind == 'syslog' ? 'a syslog target is [udp|tcp|tls://]HOST:PORT' : self.kind == 'nagios' ? 'a nagios target is a command file path or nsca://HOST:PORT' : 'a ' + self.kind + ' target is an http(s) URL'",
          },
        ],
      },
    },
  },
  "x-kubernetes-validations": [
    { rule: "has(self.threshold) != has(self.check)", message: "exactly one of threshold and check must be set" },
  ],
} as const satisfies Schema<AlertRuleSpec>;

export const alertRuleStatusSchema = {
  type: "object",
  description: "Written by the operator.",
  properties: {
    observedGeneration: observedGenerationSchema,
    engaged: { type: "integer", format: "int32", minimum: 0, description: "Alerts of this rule engaged now." },
    lastTransitionTime: { type: "string", format: "date-time", description: "When an alert last engaged or released." },
    conditions: conditionsSchema,
  },
} as const satisfies Schema<AlertRuleStatus>;

export const alertRuleCrd: CrdDefinition = {
  kind: "AlertRule",
  plural: "alertrules",
  singular: "alertrule",
  shortNames: ["ar"],
  description: "An alert evaluated by a FlowCollector's aggregator: a metric threshold or a flow check.",
  spec: alertRuleSpecSchema,
  status: alertRuleStatusSchema,
  printerColumns: [
    { name: "Collector", type: "string", jsonPath: ".spec.collectorRef.name" },
    { name: "Severity", type: "string", jsonPath: ".spec.severity" },
    { name: "Engaged", type: "integer", jsonPath: ".status.engaged" },
    { name: "Status", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
    { name: "Check", type: "string", jsonPath: ".spec.check.name", priority: 1 },
    { name: "Metric", type: "string", jsonPath: ".spec.threshold.metric", priority: 1 },
  ],
};
