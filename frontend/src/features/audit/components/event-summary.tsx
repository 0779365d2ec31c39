import type { AuditEvent } from "@/features/audit/api/get-audit-events";

const HIDDEN_DETAILS = new Set(["correlation_id"]);

function describeValue(value: unknown): string {
  if (value === null || value === undefined || value === "") return "—";
  if (Array.isArray(value)) return value.join(", ") || "—";
  if (typeof value === "object") {
    const change = value as { old?: unknown; new?: unknown; from?: unknown; to?: unknown };
    if ("old" in change || "new" in change) return `${describeValue(change.old)} → ${describeValue(change.new)}`;
    if ("from" in change || "to" in change) return `${describeValue(change.from)} → ${describeValue(change.to)}`;
    return JSON.stringify(value);
  }
  return String(value);
}

function isChange(value: unknown): boolean {
  return typeof value === "object" && value !== null && ("old" in value || "new" in value);
}

function isChangeSet(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && Object.values(value).length > 0 &&
    Object.values(value).every(isChange)
  );
}

/** The event's details as "field: value" lines, leaving out bookkeeping such as the correlation id. */
export function EventSummary({ event }: { event: AuditEvent }) {
  const entries = Object.entries(event.details)
    .filter(([key]) => !HIDDEN_DETAILS.has(key))
    // A TASK_UPDATED event nests its field changes under one key: show one line per changed field.
    .flatMap(([key, value]) => (isChangeSet(value) ? Object.entries(value) : [[key, value] as const]));
  if (!entries.length) return <span className="muted">—</span>;
  return (
    <ul className="event-details">
      {entries.map(([key, value]) => (
        <li key={key}>
          <span className="muted">{key.replaceAll("_", " ")}:</span> {describeValue(value)}
        </li>
      ))}
    </ul>
  );
}
