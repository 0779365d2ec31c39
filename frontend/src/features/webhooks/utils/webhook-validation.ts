import type { WebhookEvent } from "@/features/webhooks/api/webhook-types";

export type WebhookFormValues = { url: string; events: WebhookEvent[] };

/** Mirrors the API's first checks; whether the address may be called at all only the server can tell. */
export function validateWebhook(values: WebhookFormValues): Record<string, string[]> {
  const errors: Record<string, string[]> = {};
  const url = values.url.trim();
  if (!url) errors.url = ["Enter the URL the events are sent to."];
  else if (!isHttpUrl(url)) errors.url = ["Enter a full http:// or https:// URL, such as https://example.com/hooks."];
  if (values.events.length === 0) errors.events = ["Choose at least one event."];
  return errors;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}
