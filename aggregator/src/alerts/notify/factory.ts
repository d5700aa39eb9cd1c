// Builds the endpoint of a kind from its typed settings: the one place that knows every kind.
import { AlertmanagerEndpoint } from "./alertmanager.js";
import { EmailEndpoint } from "./email.js";
import type { NotifyEndpoint } from "./endpoint.js";
import { NagiosEndpoint } from "./nagios.js";
import type { EndpointSettings } from "./settings.js";
import { SlackEndpoint } from "./slack.js";
import { SyslogEndpoint } from "./syslog.js";
import { WebhookEndpoint } from "./webhook.js";

export function createEndpoint(settings: EndpointSettings, now: () => number): NotifyEndpoint {
  const s = settings.specific;
  switch (s.kind) {
    case "webhook":
      return new WebhookEndpoint(s.http, s.secret, now);
    case "slack":
      return new SlackEndpoint(s.http, {
        ...(s.channel ? { channel: s.channel } : {}),
        ...(s.username ? { username: s.username } : {}),
        ...(s.iconEmoji ? { iconEmoji: s.iconEmoji } : {}),
      });
    case "email":
      return new EmailEndpoint(s, settings.common.timeoutMs);
    case "alertmanager":
      return new AlertmanagerEndpoint(s, now);
    case "syslog":
      return new SyslogEndpoint(s, now);
    case "nagios":
      return new NagiosEndpoint(s, now);
  }
}
