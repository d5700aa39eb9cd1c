// Status conditions, as the Kubernetes API conventions define them: one per type, the
// transition time kept while the status stays the same (so that rewriting an unchanged status
// changes nothing, and no write loops through the watch), observedGeneration on each.
import type { Condition } from "@flowlens/contracts";

export type ConditionStatus = "True" | "False" | "Unknown";

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/** The conditions `next` describes, carrying over transition times from `previous` where the status is the same. */
export function mergeConditions(
  previous: readonly Condition[] | undefined,
  next: readonly ConditionInput[],
  generation: number | undefined,
  now: Date,
): Condition[] {
  return next.map((c) => {
    const old = previous?.find((p) => p.type === c.type);
    return {
      type: c.type,
      status: c.status,
      reason: c.reason,
      // The API server caps messages at 32 KiB; a long list of issues must not make the write fail.
      message: c.message.length > 4096 ? `${c.message.slice(0, 4093)}...` : c.message,
      lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : now.toISOString(),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
  });
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** Whether two statuses say the same thing (key order aside). */
export function sameStatus(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, value: unknown) =>
    value && typeof value === "object" && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([x], [y]) => x.localeCompare(y)))
      : value,
  );
}

/** A transition worth an Event: a condition that appeared, or changed status or reason. */
export interface Transition {
  type: string;
  from: Condition | undefined;
  to: Condition;
}

export function transitions(previous: readonly Condition[] | undefined, next: readonly Condition[]): Transition[] {
  return next
    .map((to) => ({ type: to.type, from: findCondition(previous, to.type), to }))
    .filter((t) => !t.from || t.from.status !== t.to.status || t.from.reason !== t.to.reason);
}
