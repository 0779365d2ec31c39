import { useState, type FormEvent } from "react";
import { Field, SelectField, TextareaField, TextField } from "@/components/form-field";
import { TagInput } from "@/components/tag-input";
import { TASK_PRIORITIES, TASK_STATUSES, type Task, type TaskWrite } from "@/features/tasks/api/task-types";
import { taskFormValues, taskWriteBody } from "@/features/tasks/utils/task-changes";
import { TITLE_MAX_LENGTH, validateTask, type TaskFormValues } from "@/features/tasks/utils/task-validation";
import { humanize } from "@/lib/format";

type TaskFormProps = {
  initial?: Task;
  submitLabel: string;
  pending: boolean;
  serverErrors?: Record<string, string[]>;
  onSubmit: (body: TaskWrite) => void;
  onCancel: () => void;
};

export function TaskForm({ initial, submitLabel, pending, serverErrors, onSubmit, onCancel }: TaskFormProps) {
  const [values, setValues] = useState<TaskFormValues>(() => taskFormValues(initial));
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
    onSubmit(taskWriteBody(values));
  }

  return (
    <form className="card task-form" onSubmit={submit} noValidate>
      <TextField
        id="title"
        label="Title"
        hint={`${values.title.trim().length}/${TITLE_MAX_LENGTH}`}
        errors={errors.title}
        value={values.title}
        maxLength={TITLE_MAX_LENGTH + 50}
        onChange={(event) => set("title", event.target.value)}
      />
      <TextareaField
        id="description"
        label="Description"
        errors={errors.description}
        rows={5}
        value={values.description}
        onChange={(event) => set("description", event.target.value)}
      />
      <div className="field-row">
        <SelectField
          id="status"
          label="Status"
          errors={errors.status}
          options={TASK_STATUSES.map((status) => ({ value: status, label: humanize(status) }))}
          value={values.status}
          onChange={(event) => set("status", event.target.value)}
        />
        <SelectField
          id="priority"
          label="Priority"
          errors={errors.priority}
          options={TASK_PRIORITIES.map((priority) => ({ value: priority, label: humanize(priority) }))}
          value={values.priority}
          onChange={(event) => set("priority", event.target.value)}
        />
        <TextField
          id="due_date"
          label="Due date"
          errors={errors.due_date}
          type="datetime-local"
          value={values.dueDate}
          onChange={(event) => set("dueDate", event.target.value)}
        />
      </div>
      <Field id="tags" label="Tags" errors={errors.tags}>
        {(control) => (
          <TagInput {...control} tags={values.tags} onChange={(tags) => set("tags", tags)} placeholder="Type a tag and press Enter" />
        )}
      </Field>
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
