import { useQuery } from "@tanstack/react-query";
import { webhookKeys } from "@/features/webhooks/api/webhook-types";
import { apiClient, unwrap } from "@/lib/api-client";

/** How often an open "Recent deliveries" view asks again: the outbox sends within seconds, retries later. */
export const DELIVERY_POLL_MS = 5_000;
/** The newest ones only: the view tells what became of the last events, it is not an archive. */
export const DELIVERIES_SHOWN = 20;

export function useDeliveries(webhookId: string) {
  return useQuery({
    queryKey: webhookKeys.deliveries(webhookId),
    queryFn: () =>
      unwrap(
        apiClient.GET("/api/v1/webhooks/{webhook_id}/deliveries", {
          params: { path: { webhook_id: webhookId }, query: { page: 1, page_size: DELIVERIES_SHOWN } },
        }),
      ),
    staleTime: 0,
    // A webhook deleted elsewhere answers 404 for good: asking every few seconds would only repeat the error.
    refetchInterval: (query) => (query.state.status === "error" ? false : DELIVERY_POLL_MS),
  });
}
