// Slack incoming webhook: a message with fallback `text` (notifications, screen readers) and
// one attachment whose colour bar says the severity (green when an alert is released), holding
// Block Kit blocks with the details. Slack answers 200 "ok"; 4xx bodies name the problem
// (invalid_payload, channel_not_found) and are not retried.
import { type Delivery, DeliveryError, headline, maxSeverity, type NotifyEndpoint, summaryText } from "./endpoint.js";
import { HttpPoster } from "./http.js";
import type { HttpTarget } from "./settings.js";
import type { AlertNotification, AlertSeverity } from "./types.js";

export const SLACK_COLOURS: Readonly<Record<AlertSeverity | "released", string>> = {
  critical: "#a30200",
  error: "#e01e5a",
  warning: "#daa038",
  info: "#439fe0",
  released: "#2eb886",
};

// Slack's limits: section text 3000 characters, 10 fields of 2000.
const MAX_TEXT = 2900;

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function slackEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function clip(s: string, max = MAX_TEXT): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function fields(n: AlertNotification): { type: "mrkdwn"; text: string }[] {
  const f: [string, string][] = [
    ["Severity", n.severity],
    ["Entity", `${n.entity.kind} ${n.entity.value}`],
    ["Value", String(n.value)],
  ];
  if (n.threshold !== undefined) f.push(["Threshold", String(n.threshold)]);
  if (n.peak !== undefined) f.push(["Peak", String(n.peak)]);
  f.push(["Started", new Date(n.startedAtMs).toISOString()]);
  if (n.endedAtMs !== undefined) f.push(["Ended", new Date(n.endedAtMs).toISOString()]);
  for (const [k, v] of Object.entries(n.labels)) {
    if (f.length >= 10) break;
    f.push([k, v]);
  }
  return f.map(([k, v]) => ({ type: "mrkdwn", text: clip(`*${slackEscape(k)}*\n${slackEscape(v)}`, 1990) }));
}

export function slackMessage(
  d: Delivery,
  opts: { channel?: string; username?: string; iconEmoji?: string } = {},
): Record<string, unknown> {
  const base = {
    ...(opts.channel ? { channel: opts.channel } : {}),
    ...(opts.username ? { username: opts.username } : {}),
    ...(opts.iconEmoji ? { icon_emoji: opts.iconEmoji } : {}),
  };
  if (d.type === "summary") {
    const text = summaryText(d.summary);
    return {
      ...base,
      text: `Flowlens: ${text}`,
      attachments: [
        {
          color: SLACK_COLOURS[maxSeverity(d.summary)],
          blocks: [{ type: "section", text: { type: "mrkdwn", text: clip(slackEscape(text)) } }],
        },
      ],
    };
  }
  if (d.type === "resend") throw new DeliveryError("slack: no resend", false);
  const n = d.n;
  const title = headline(n);
  const context = [n.check ? `check ${n.check}` : undefined, n.metric ? `metric ${n.metric}` : undefined, `id ${n.id}`]
    .filter(Boolean)
    .join(" · ");
  return {
    ...base,
    text: clip(`${title}: ${n.summary}`),
    attachments: [
      {
        color: n.event === "released" ? SLACK_COLOURS.released : SLACK_COLOURS[n.severity],
        blocks: [
          { type: "header", text: { type: "plain_text", text: clip(title, 150) } },
          { type: "section", text: { type: "mrkdwn", text: clip(slackEscape(n.summary)) } },
          { type: "section", fields: fields(n) },
          { type: "context", elements: [{ type: "mrkdwn", text: clip(slackEscape(context)) }] },
        ],
      },
    ],
  };
}

export class SlackEndpoint implements NotifyEndpoint {
  readonly summarises = true;
  private readonly poster: HttpPoster;

  constructor(
    target: HttpTarget,
    private readonly opts: { channel?: string; username?: string; iconEmoji?: string },
  ) {
    // The path of a Slack webhook URL is its secret: errors name the origin only.
    this.poster = new HttpPoster(target, `slack ${target.url.origin}`);
  }

  async deliver(d: Delivery, signal: AbortSignal): Promise<void> {
    await this.poster.post(JSON.stringify(slackMessage(d, this.opts)), {}, signal);
  }

  async close(): Promise<void> {
    this.poster.close();
  }
}
