import { useState, type FormEvent } from "react";
import { FieldError } from "@/components/field-error";
import { TagInput } from "@/components/tag-input";
import { TASK_PRIORITIES, TASK_STATUSES, type Task, type TaskWrite } from "@/features/tasks/api/task-types";
import { TITLE_MAX_LENGTH, validateTask, type TaskFormValues } from "@/features/tasks/utils/task-validation";
import { humanize, isoToLocalInput, localInputToIso } from "@/lib/format";

type TaskFormProps = {
  initial?: Task;
  submitLabel: string;
  pending: boolean;
  serverErrors?: Record<string, string[]>;
  onSubmit: (body: TaskWrite) => void;
  onCancel: () => void;
};

function initialValues(task?: Task): TaskFormValues {
  return {
    title: task?.title ?? "",
    description: task?.description ?? "",
    status: task?.status ?? "TODO",
    priority: task?.priority ?? "MEDIUM",
    dueDate: isoToLocalInput(task?.due_date),
    tags: task?.tags ?? [],
  };
}

export function TaskForm({ initial, submitLabel, pending, serverErrors, onSubmit, onCancel }: TaskFormProps) {
  const [values, setValues] = useState<TaskFormValues>(() => initialValues(initial));
  const [clientErrors, setClientErrors] = useState<Record<string, string[]>>({});
  const errors = { ...serverErrors, ...clientErrors };

  function set<K extends keyof TaskFormValues>(key: K, value: TaskFormValues[K]) {
    setValues((current) => ({ ...current, [key]: value }));
    // An edited field's old complaint no longer applies; the next submit checks it again.
    const field = key === "dueDate" ? "due_date" : key;
    setClientErrors((current) => Object.fromEntries(Object.entries(current).filter(([name]) => name !== field)));
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    const found = validateTask(values);
    setClientErrors(found);
    if (Object.keys(found).length) return;
    onSubmit({
      title: values.title.trim(),
      description: values.description || null,
      status: values.status as TaskWrite["status"],
      priority: values.priority as TaskWrite["priority"],
      due_date: localInputToIso(values.dueDate),
      tags: values.tags,
    });
  }

  const describe = (name: string) => (errors[name] ? `${name}-error` : undefined);

  return (
    <form className="card task-form" onSubmit={submit} noValidate>
      <div className="field">
        <label htmlFor="title">Title</label>
        <input
          id="title"
          value={values.title}
          maxLength={TITLE_MAX_LENGTH + 50}
          aria-invalid={!!errors.title || undefined}
          aria-describedby={describe("title")}
          onChange={(event) => set("title", event.target.value)}
        />
        <span className="hint">
          {values.title.trim().length}/{TITLE_MAX_LENGTH}
        </span>
        <FieldError id="title-error" messages={errors.title} />
      </div>
      <div className="field">
        <label htmlFor="description">Description</label>
        <textarea
          id="description"
          rows={5}
          value={values.description}
          aria-invalid={!!errors.description || undefined}
          aria-describedby={describe("description")}
          onChange={(event) => set("description", event.target.value)}
        />
        <FieldError id="description-error" messages={errors.description} />
      </div>
      <div className="field-row">
        <div className="field">
          <label htmlFor="status">Status</label>
          <select id="status" value={values.status} onChange={(event) => set("status", event.target.value)}>
            {TASK_STATUSES.map((status) => (
              <option key={status} value={status}>
                {humanize(status)}
              </option>
            ))}
          </select>
          <FieldError id="status-error" messages={errors.status} />
        </div>
        <div className="field">
          <label htmlFor="priority">Priority</label>
          <select id="priority" value={values.priority} onChange={(event) => set("priority", event.target.value)}>
            {TASK_PRIORITIES.map((priority) => (
              <option key={priority} value={priority}>
                {humanize(priority)}
              </option>
            ))}
          </select>
          <FieldError id="priority-error" messages={errors.priority} />
        </div>
        <div className="field">
          <label htmlFor="due_date">Due date</label>
          <input
            id="due_date"
            type="datetime-local"
            value={values.dueDate}
            aria-invalid={!!errors.due_date || undefined}
            aria-describedby={describe("due_date")}
            onChange={(event) => set("dueDate", event.target.value)}
          />
          <FieldError id="due_date-error" messages={errors.due_date} />
        </div>
      </div>
      <div className="field">
        <label htmlFor="tags">Tags</label>
        <TagInput
          id="tags"
          tags={values.tags}
          onChange={(tags) => set("tags", tags)}
          placeholder="Type a tag and press Enter"
          describedBy={describe("tags")}
          invalid={!!errors.tags}
        />
        <FieldError id="tags-error" messages={errors.tags} />
      </div>
      <div className="actions">
        <button type="submit" className="button primary" disabled={pending}>
          {pending ? "Saving…" : submitLabel}
        </button>
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
