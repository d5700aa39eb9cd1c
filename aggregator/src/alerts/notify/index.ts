// The notification endpoints' public surface: the dispatcher the alert engine hands
// notifications to, the config validator, and what receivers need to check signatures.
export {
  type DispatcherOptions,
  type DropReason,
  type EndpointMetricRow,
  NotificationDispatcher,
} from "./dispatcher.js";
export { endpointId, parseEndpoint } from "./settings.js";
export * from "./types.js";
export { SIGNATURE_HEADER, signWebhook, verifyWebhookSignature, WEBHOOK_SCHEMA_VERSION } from "./webhook.js";
