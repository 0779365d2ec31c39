import { Link, useSearchParams } from "react-router";
import { EmptyState } from "@/components/empty-state";
import { SelectField, TextField } from "@/components/form-field";
import { Spinner } from "@/components/spinner";
import { AUDIT_EVENT_TYPES, useAuditEvents, type AuditQuery } from "@/features/audit/api/get-audit-events";
import { EventSummary } from "@/features/audit/components/event-summary";
import { formatDateTime, humanize } from "@/lib/format";

const PAGE_SIZE = 25;
const EVENT_TYPE_OPTIONS = [
  { value: "", label: "All events" },
  ...AUDIT_EVENT_TYPES.map((type) => ({ value: type, label: humanize(type) })),
];

export function AuditLog({ userLabel }: { userLabel: (userId: string | null) => string }) {
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number(params.get("page")) || 1);
  const eventType = params.get("event_type") ?? "";
  const taskId = params.get("task_id") ?? "";
  const from = params.get("from") ?? "";
  const to = params.get("to") ?? "";

  const query: AuditQuery = { page, page_size: PAGE_SIZE };
  if (eventType) query.event_type = [eventType];
  if (taskId) query.task_id = taskId;
  if (from) query.from = new Date(`${from}T00:00:00`).toISOString();
  if (to) query.to = new Date(`${to}T23:59:59.999`).toISOString();
  const events = useAuditEvents(query);

  function update(key: string, value: string) {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    if (key !== "page") next.delete("page");
    setParams(next);
  }

  const total = events.data?.total ?? 0;
  const pageCount = Math.max(1, Math.ceil(total / PAGE_SIZE));

  return (
    <div>
      <div className="page-header">
        <h1>Audit log</h1>
      </div>
      <section className="card filters" aria-label="Filters">
        <div className="field-row">
          <SelectField
            id="audit-type"
            label="Event type"
            options={EVENT_TYPE_OPTIONS}
            value={eventType}
            onChange={(event) => update("event_type", event.target.value)}
          />
          <TextField id="audit-task" label="Task id" grow value={taskId} onChange={(event) => update("task_id", event.target.value.trim())} />
          <TextField id="audit-from" label="From" type="date" value={from} onChange={(event) => update("from", event.target.value)} />
          <TextField id="audit-to" label="To" type="date" value={to} onChange={(event) => update("to", event.target.value)} />
        </div>
      </section>
      {events.isPending ? (
        <Spinner label="Loading events…" />
      ) : events.isError ? (
        <EmptyState title="The events could not be loaded." />
      ) : events.data.items.length === 0 ? (
        <EmptyState title="No events match these filters." />
      ) : (
        <>
          <div className="card table-card">
            <table>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Event</th>
                  <th scope="col">By</th>
                  <th scope="col">Task</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {events.data.items.map((event) => (
                  <tr key={event.id}>
                    <td className="nowrap">{formatDateTime(event.created_at)}</td>
                    <td className="nowrap">{humanize(event.event_type)}</td>
                    <td>{userLabel(event.user_id)}</td>
                    <td>{event.task_id ? <Link to={`/tasks/${event.task_id}`}>Open</Link> : "—"}</td>
                    <td>
                      <EventSummary event={event} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav className="pagination" aria-label="Pagination">
            <button type="button" className="button" disabled={page <= 1} onClick={() => update("page", String(page - 1))}>
              Previous
            </button>
            <span>
              Page {page} of {pageCount}
            </span>
            <button
              type="button"
              className="button"
              disabled={page >= pageCount}
              onClick={() => update("page", String(page + 1))}
            >
              Next
            </button>
          </nav>
        </>
      )}
    </div>
  );
}
