import type { components, paths } from "@/api/schema";

export type Webhook = components["schemas"]["Webhook"];
export type CreatedWebhook = components["schemas"]["CreatedWebhook"];
export type WebhookWrite = components["schemas"]["WebhookCreate"];
export type WebhookEvent = WebhookWrite["events"][number];
export type WebhookPage = components["schemas"]["WebhookPage"];
export type WebhookDelivery = components["schemas"]["WebhookDelivery"];
export type WebhookQuery = NonNullable<paths["/api/v1/webhooks"]["get"]["parameters"]["query"]>;

/** What a webhook can subscribe to, in the order the form offers them, with what each means to a person. */
export const WEBHOOK_EVENTS: { event: WebhookEvent; label: string }[] = [
  { event: "task.created", label: "Task created" },
  { event: "task.updated", label: "Task updated" },
  { event: "task.deleted", label: "Task deleted" },
  { event: "attachment.added", label: "File attached" },
  { event: "attachment.removed", label: "File removed" },
  { event: "reminder.sent", label: "Reminder sent" },
];

export const webhookKeys = {
  all: ["webhooks"] as const,
  lists: ["webhooks", "list"] as const,
  list: (query: WebhookQuery) => ["webhooks", "list", query] as const,
  deliveries: (webhookId: string) => ["webhooks", "deliveries", webhookId] as const,
};
