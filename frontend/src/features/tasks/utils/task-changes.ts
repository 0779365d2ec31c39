import type { Task, TaskWrite } from "@/features/tasks/api/task-types";
import type { TaskFormValues } from "@/features/tasks/utils/task-validation";
import { isoToLocalInput, localInputToIso } from "@/lib/format";
import { ApiError } from "@/lib/api-error";

export const TASK_WRITE_FIELDS = ["title", "description", "status", "priority", "due_date", "tags"] as const;
export type TaskWriteField = (typeof TASK_WRITE_FIELDS)[number];
export type TaskChanges = Partial<TaskWrite>;

/** What the form shows for a task, or for a new one. */
export function taskFormValues(task?: Task): TaskFormValues {
  return {
    title: task?.title ?? "",
    description: task?.description ?? "",
    status: task?.status ?? "TODO",
    priority: task?.priority ?? "MEDIUM",
    dueDate: isoToLocalInput(task?.due_date),
    tags: task?.tags ?? [],
  };
}

/** What the form sends for its values: every writable field. */
export function taskWriteBody(values: TaskFormValues): TaskWrite {
  return {
    title: values.title.trim(),
    description: values.description || null,
    status: values.status as TaskWrite["status"],
    priority: values.priority as TaskWrite["priority"],
    due_date: localInputToIso(values.dueDate),
    tags: values.tags,
  };
}

function same(left: unknown, right: unknown): boolean {
  return JSON.stringify(left ?? null) === JSON.stringify(right ?? null);
}

/**
 * The fields `sent` gives other values than `task` has, both read as the form reads them (a due date to the
 * minute, a blank description as none), so a field nobody touched never counts as changed.
 */
export function changesFrom(task: Task, sent: TaskWrite): TaskChanges {
  const shown = taskWriteBody(taskFormValues(task));
  const changes: Record<string, unknown> = {};
  for (const field of TASK_WRITE_FIELDS) {
    if (field in sent && !same(sent[field], shown[field])) changes[field] = sent[field];
  }
  return changes as TaskChanges;
}

/** A write refused because the task changed since the version it was based on. */
export function isStaleVersion(error: unknown): boolean {
  return error instanceof ApiError && error.status === 412;
}
