import { EmptyState } from "@/components/empty-state";
import { Spinner } from "@/components/spinner";
import { useAuditEvents } from "@/features/audit/api/get-audit-events";
import { EventSummary } from "@/features/audit/components/event-summary";
import { formatDateTime, humanize } from "@/lib/format";

export function TaskHistory({ taskId, userLabel }: { taskId: string; userLabel: (userId: string | null) => string }) {
  const events = useAuditEvents({ task_id: taskId, page_size: 50 });
  return (
    <section className="card" aria-labelledby="history-heading">
      <h2 id="history-heading">History</h2>
      {events.isPending ? (
        <Spinner label="Loading history…" />
      ) : events.isError ? (
        <EmptyState title="The history could not be loaded." />
      ) : events.data.items.length === 0 ? (
        <EmptyState title="Nothing has happened to this task yet." />
      ) : (
        <ol className="timeline">
          {events.data.items.map((event) => (
            <li key={event.id}>
              <div className="timeline-head">
                <strong>{humanize(event.event_type)}</strong>
                <span className="muted">
                  {formatDateTime(event.created_at)} · {userLabel(event.user_id)}
                </span>
              </div>
              <EventSummary event={event} />
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
