import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { webhookKeys, type WebhookQuery } from "@/features/webhooks/api/webhook-types";
import { apiClient, unwrap } from "@/lib/api-client";

export function useWebhooks(query: WebhookQuery) {
  return useQuery({
    queryKey: webhookKeys.list(query),
    queryFn: () => unwrap(apiClient.GET("/api/v1/webhooks", { params: { query } })),
    placeholderData: keepPreviousData,
  });
}
