// What only the operator can judge about a spec the API server accepted: references to other
// objects, and settings this version cannot carry out. Each becomes a condition with a reason
// on the resource (Ready=False), never a Pod that crash-loops.

export type IssueReason =
  | "CollectorNotFound"
  | "CollectorMisconfigured"
  | "NatsNotConfigured"
  | "SecretInOtherNamespace"
  | "MixedIpfixProtocols"
  | "SecretNotFound"
  | "RetentionNotSupported"
  | "SecretNameTaken";

export interface ConfigurationIssue {
  /** CamelCase; the reason of the condition. */
  reason: IssueReason;
  /** One sentence saying what to change. */
  message: string;
  /** The spec field at fault, as a path (spec.export.transport). */
  field: string;
}

/** Thrown by the desired*() functions when asked for objects of a spec that has issues. */
export class ConfigurationError extends Error {
  readonly code = "CONFIGURATION_ISSUE";
  constructor(
    readonly resource: string,
    readonly issues: readonly ConfigurationIssue[],
  ) {
    super(`${resource}: ${issues.map((i) => `${i.reason}: ${i.message}`).join("; ")}`);
  }
}
