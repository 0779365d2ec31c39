import type { components } from "@/api/schema";

export type Task = components["schemas"]["Task"];
export type TaskDetail = components["schemas"]["TaskDetail"];
export type TaskWrite = components["schemas"]["TaskWrite"];
type TaskStatus = Task["status"];
type TaskPriority = Task["priority"];

export const TASK_STATUSES: TaskStatus[] = ["TODO", "IN_PROGRESS", "DONE", "BLOCKED"];
export const TASK_PRIORITIES: TaskPriority[] = ["LOW", "MEDIUM", "HIGH", "CRITICAL"];

export const taskKeys = {
  all: ["tasks"] as const,
  list: (query: object) => ["tasks", "list", query] as const,
  detail: (taskId: string) => ["tasks", "detail", taskId] as const,
};
