import type { components } from "@/api/schema";

export type Task = components["schemas"]["Task"];
export type TaskDetail = components["schemas"]["TaskDetail"];
export type TaskWrite = components["schemas"]["TaskWrite"];
type TaskStatus = Task["status"];
type TaskPriority = Task["priority"];

/** A task as loaded: the answer of GET /tasks/{id} and the version it is (its ETag; null if none was sent). */
export type LoadedTask = TaskDetail & { etag: string | null };

export const TASK_STATUSES: TaskStatus[] = ["TODO", "IN_PROGRESS", "DONE", "BLOCKED"];
export const TASK_PRIORITIES: TaskPriority[] = ["LOW", "MEDIUM", "HIGH", "CRITICAL"];

export const taskKeys = {
  all: ["tasks"] as const,
  list: (query: object) => ["tasks", "list", query] as const,
  detail: (taskId: string) => ["tasks", "detail", taskId] as const,
};

/** The header that makes a write apply only to the version `etag` names (412 otherwise). */
export function ifMatch(etag: string | null): { "If-Match"?: string } {
  return etag ? { "If-Match": etag } : {};
}
