import { useMutation, useQueryClient } from "@tanstack/react-query";
import { webhookKeys, type WebhookPage } from "@/features/webhooks/api/webhook-types";
import { apiClient, unwrap } from "@/lib/api-client";

export function useDeleteWebhook() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (webhookId: string) =>
      unwrap(apiClient.DELETE("/api/v1/webhooks/{webhook_id}", { params: { path: { webhook_id: webhookId } } })),
    onSuccess: (_answer, webhookId) => {
      // Off the list at once, not after the refetch: its open deliveries view, which would now be answered 404,
      // goes with it and stops asking.
      queryClient.setQueriesData<WebhookPage>({ queryKey: webhookKeys.lists }, (page) =>
        page?.items.some((webhook) => webhook.id === webhookId)
          ? { ...page, items: page.items.filter((webhook) => webhook.id !== webhookId), total: page.total - 1 }
          : page,
      );
      queryClient.removeQueries({ queryKey: webhookKeys.deliveries(webhookId) });
    },
    // Refused as not found, it was deleted elsewhere: either way the list is fetched again to show what is left.
    onSettled: () => queryClient.invalidateQueries({ queryKey: webhookKeys.lists }),
  });
}
