import type { Task } from "@/features/tasks/api/task-types";
import { changesFrom, taskFormValues, taskWriteBody, TASK_WRITE_FIELDS, type TaskChanges, type TaskWriteField } from "@/features/tasks/utils/task-changes";
import { formatDateTime, humanize } from "@/lib/format";

const LABELS: Record<TaskWriteField, string> = {
  title: "Title",
  description: "Description",
  status: "Status",
  priority: "Priority",
  due_date: "Due",
  tags: "Tags",
};

function shown(field: TaskWriteField, value: unknown): string {
  if (value === null || value === undefined || value === "") return "—";
  if (field === "status" || field === "priority") return humanize(String(value));
  if (field === "due_date") return formatDateTime(String(value));
  if (field === "tags") return (value as string[]).length ? (value as string[]).join(", ") : "—";
  return String(value);
}

type EditConflictProps = {
  /** The version the form was loaded with. */
  loaded: Task;
  /** The version saved since, now current. */
  current: Task;
  /** What the user changed, relative to `loaded`. */
  changes: TaskChanges;
  pending: boolean;
  onReapply: () => void;
  onDiscard: () => void;
};

/** Shown instead of the form when a save met a newer version (412): the current version and the user's changes. */
export function EditConflict({ loaded, current, changes, pending, onReapply, onDiscard }: EditConflictProps) {
  const theirs = changesFrom(loaded, taskWriteBody(taskFormValues(current)));
  const mine = TASK_WRITE_FIELDS.filter((field) => field in changes);
  return (
    <section className="card conflict" role="alert" aria-labelledby="conflict-title">
      <h2 id="conflict-title">This task was changed while you were editing it</h2>
      <p>
        Someone saved a newer version (perhaps you, in another tab) after you opened this form, so your changes were not
        saved. Below is the current version{mine.length ? ", with your changes beside it" : ""}.
      </p>
      <table className="conflict-table">
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">Current version</th>
            <th scope="col">Your change</th>
          </tr>
        </thead>
        <tbody>
          {TASK_WRITE_FIELDS.map((field) => {
            const clash = field in changes && field in theirs;
            return (
              <tr key={field} className={clash ? "clash" : undefined}>
                <th scope="row">{LABELS[field]}</th>
                <td>
                  {shown(field, current[field])}
                  {field in theirs && <span className="conflict-note"> (changed since you loaded it)</span>}
                </td>
                <td>{field in changes ? shown(field, changes[field]) : <span className="muted">unchanged</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p className="hint">
        {mine.length
          ? `“Reapply my changes” saves only the ${mine.length === 1 ? "field" : "fields"} you changed on top of the current version${
              mine.some((field) => field in theirs) ? "; where both of you changed a field, yours replaces theirs" : ""
            }. “Discard my changes” keeps the current version as it is.`
          : "You had not changed anything: discard to see the current version."}
      </p>
      <div className="actions">
        <button type="button" className="button primary" onClick={onReapply} disabled={pending || !mine.length}>
          {pending ? "Saving…" : "Reapply my changes"}
        </button>
        <button type="button" className="button" onClick={onDiscard} disabled={pending}>
          Discard my changes
        </button>
      </div>
    </section>
  );
}
