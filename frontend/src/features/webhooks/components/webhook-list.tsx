import { useState } from "react";
import { useSearchParams } from "react-router";
import { EmptyState } from "@/components/empty-state";
import { Spinner } from "@/components/spinner";
import { useDeleteWebhook } from "@/features/webhooks/api/delete-webhook";
import { useWebhooks } from "@/features/webhooks/api/get-webhooks";
import type { Webhook } from "@/features/webhooks/api/webhook-types";
import { WebhookDeliveries } from "@/features/webhooks/components/webhook-deliveries";
import { formatDateTime } from "@/lib/format";
import { toast } from "@/lib/toast-store";

const PAGE_SIZE = 20;

/** The user's webhooks (never their secrets), each with its recent deliveries on request; ?page=2 in the URL. */
export function WebhookList() {
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number(params.get("page")) || 1);
  const webhooks = useWebhooks({ page, page_size: PAGE_SIZE });
  const deleteWebhook = useDeleteWebhook();
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());

  function toggleDeliveries(webhookId: string) {
    setOpen((current) => {
      const next = new Set(current);
      if (!next.delete(webhookId)) next.add(webhookId);
      return next;
    });
  }

  function remove(webhook: Webhook) {
    if (!window.confirm(`Delete the webhook to ${webhook.url}? Nothing more is sent to it, and this cannot be undone.`)) return;
    deleteWebhook.mutate(webhook.id, {
      onSuccess: () => toast.success("Webhook deleted."),
      onError: (error) => toast.error(error),
    });
  }

  function showPage(next: number) {
    const updated = new URLSearchParams(params);
    if (next > 1) updated.set("page", String(next));
    else updated.delete("page");
    setParams(updated);
  }

  const total = webhooks.data?.total ?? 0;
  const pageCount = Math.max(1, Math.ceil(total / PAGE_SIZE));

  return (
    <section aria-labelledby="webhooks-heading">
      <h2 id="webhooks-heading">Your webhooks</h2>
      {webhooks.isPending ? (
        <Spinner label="Loading webhooks…" />
      ) : webhooks.isError ? (
        <EmptyState title="The webhooks could not be loaded.">
          <button type="button" className="button" onClick={() => void webhooks.refetch()}>
            Try again
          </button>
        </EmptyState>
      ) : webhooks.data.items.length === 0 ? (
        <EmptyState title="No webhooks yet.">
          <p className="muted">Add one above to have your tasks' changes sent to another service.</p>
        </EmptyState>
      ) : (
        <>
          <ul className="webhook-list" aria-label="Webhooks">
            {webhooks.data.items.map((webhook) => {
              const shown = open.has(webhook.id);
              const deliveriesId = `deliveries-${webhook.id}`;
              return (
                <li key={webhook.id} className="card webhook" data-testid="webhook">
                  <div className="webhook-head">
                    <div className="webhook-text">
                      <p className="webhook-url">{webhook.url}</p>
                      <p>
                        {webhook.events.map((event) => (
                          <code key={event} className="chip small event-name">
                            {event}
                          </code>
                        ))}
                      </p>
                      <p className="muted">Added {formatDateTime(webhook.created_at)}</p>
                    </div>
                    <div className="actions">
                      <button
                        type="button"
                        className="button small"
                        aria-expanded={shown}
                        aria-controls={shown ? deliveriesId : undefined}
                        onClick={() => toggleDeliveries(webhook.id)}
                      >
                        {shown ? "Hide deliveries" : "Recent deliveries"} <span className="visually-hidden">of {webhook.url}</span>
                      </button>
                      <button
                        type="button"
                        className="button small danger"
                        disabled={deleteWebhook.isPending && deleteWebhook.variables === webhook.id}
                        onClick={() => remove(webhook)}
                      >
                        Delete <span className="visually-hidden">the webhook to {webhook.url}</span>
                      </button>
                    </div>
                  </div>
                  {shown && <WebhookDeliveries webhookId={webhook.id} id={deliveriesId} />}
                </li>
              );
            })}
          </ul>
          <nav className="pagination" aria-label="Pagination">
            <button type="button" className="button" disabled={page <= 1} onClick={() => showPage(page - 1)}>
              Previous
            </button>
            <span>
              Page {page} of {pageCount}
            </span>
            <button type="button" className="button" disabled={page >= pageCount} onClick={() => showPage(page + 1)}>
              Next
            </button>
          </nav>
        </>
      )}
    </section>
  );
}
