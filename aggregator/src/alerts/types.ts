// The alert engine's own types: an alert as the engine, the store and the API see it, and the
// sink notifications go to (the notification dispatcher, or a recording sink in tests).
import type { AlertEntity, AlertNotification, AlertSeverity, EndpointConfig } from "./notify/types.js";

export type AlertState = "engaged" | "past";

export interface AlertRecord {
  id: string;
  rule: string;
  check?: string;
  metric?: string;
  severity: AlertSeverity;
  entity: AlertEntity;
  state: AlertState;
  /** A one-shot flow alert: past from the start, never engaged. */
  oneShot: boolean;
  value: number;
  threshold?: number;
  peak: number;
  startedAtMs: number;
  endedAtMs?: number;
  /** Last time the condition was seen to hold (wall clock). */
  lastSeenMs: number;
  /** How many times it was seen while engaged (deduplicated triggers), 1 for one-shot alerts. */
  hits: number;
  summary: string;
  labels: Record<string, string>;
  acknowledged: boolean;
  acknowledgedAtMs?: number;
}

/** Where notifications go; send never blocks and never throws. */
export interface AlertSink {
  send(endpoints: EndpointConfig[], n: AlertNotification): void;
}
