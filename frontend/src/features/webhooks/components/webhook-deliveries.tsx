import { EmptyState } from "@/components/empty-state";
import { Spinner } from "@/components/spinner";
import { DELIVERIES_SHOWN, DELIVERY_POLL_MS, useDeliveries } from "@/features/webhooks/api/get-deliveries";
import type { WebhookDelivery } from "@/features/webhooks/api/webhook-types";
import { ApiError } from "@/lib/api-error";
import { formatDateTime } from "@/lib/format";

const STATUS_LABELS: Record<WebhookDelivery["status"], string> = {
  pending: "Pending",
  delivered: "Delivered",
  failed: "Failed",
};

/** What the receiver last answered, or why there was no answer. */
function lastAnswer(delivery: WebhookDelivery) {
  if (delivery.last_response_code === null && !delivery.last_error) return <span className="muted">—</span>;
  return (
    <>
      {delivery.last_response_code !== null && <span className="nowrap">HTTP {delivery.last_response_code}</span>}
      {delivery.last_error && <p className="delivery-error">{delivery.last_error}</p>}
    </>
  );
}

/** A webhook's newest deliveries, asked for again every few seconds while shown. */
export function WebhookDeliveries({ webhookId, id }: { webhookId: string; id: string }) {
  const deliveries = useDeliveries(webhookId);
  const total = deliveries.data?.total ?? 0;

  return (
    <section id={id} className="deliveries" aria-labelledby={`${id}-heading`}>
      <div className="deliveries-head">
        <h3 id={`${id}-heading`}>Recent deliveries</h3>
        <span className="muted">
          Updated every {DELIVERY_POLL_MS / 1000} s
          {deliveries.dataUpdatedAt > 0 && ` · last at ${new Date(deliveries.dataUpdatedAt).toLocaleTimeString()}`}
        </span>
        <button
          type="button"
          className="button small"
          disabled={deliveries.isFetching}
          onClick={() => void deliveries.refetch()}
        >
          {deliveries.isFetching ? "Refreshing…" : "Refresh"}
        </button>
      </div>
      {deliveries.isPending ? (
        <Spinner label="Loading deliveries…" />
      ) : deliveries.isError ? (
        <EmptyState
          title={
            deliveries.error instanceof ApiError && deliveries.error.status === 404
              ? "This webhook no longer exists."
              : "The deliveries could not be loaded."
          }
        />
      ) : deliveries.data.items.length === 0 ? (
        <EmptyState title="No deliveries yet.">
          <p className="muted">One is made each time a subscribed event happens to one of your tasks.</p>
        </EmptyState>
      ) : (
        <>
          <div className="table-card">
            <table className="deliveries-table">
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Last answer</th>
                  <th scope="col">Queued</th>
                  <th scope="col">Last attempt</th>
                  <th scope="col">Delivered</th>
                </tr>
              </thead>
              <tbody>
                {deliveries.data.items.map((delivery) => (
                  <tr key={delivery.id} data-testid="delivery">
                    <td>
                      <code className="event-name">{delivery.event}</code>
                    </td>
                    <td>
                      <span className={`badge delivery-${delivery.status}`}>{STATUS_LABELS[delivery.status]}</span>
                    </td>
                    <td>{delivery.attempts}</td>
                    <td>{lastAnswer(delivery)}</td>
                    <td className="nowrap">{formatDateTime(delivery.created_at)}</td>
                    <td className="nowrap">{formatDateTime(delivery.last_attempt_at)}</td>
                    <td className="nowrap">{formatDateTime(delivery.delivered_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {total > deliveries.data.items.length && (
            <p className="muted">
              The newest {DELIVERIES_SHOWN} of {total} deliveries.
            </p>
          )}
        </>
      )}
    </section>
  );
}
