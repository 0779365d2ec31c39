import { useMutation, useQueryClient } from "@tanstack/react-query";
import { webhookKeys, type WebhookWrite } from "@/features/webhooks/api/webhook-types";
import { apiClient, unwrap } from "@/lib/api-client";

/** The answer is the only one that carries the webhook's secret: whoever calls this must show it then. */
export function useCreateWebhook() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: WebhookWrite) => unwrap(apiClient.POST("/api/v1/webhooks", { body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: webhookKeys.lists }),
  });
}
