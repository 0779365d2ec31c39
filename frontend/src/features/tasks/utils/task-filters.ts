import type { TaskListQuery } from "@/features/tasks/api/get-tasks";

export const PAGE_SIZE = 20;

export const SORT_OPTIONS = [
  { value: "", label: "Newest first" },
  { value: "due_date:asc", label: "Due date, soonest first" },
  { value: "due_date:desc", label: "Due date, latest first" },
  { value: "priority:desc", label: "Priority, highest first" },
  { value: "priority:asc", label: "Priority, lowest first" },
  { value: "title:asc", label: "Title, A–Z" },
  { value: "status:asc", label: "Status" },
  { value: "updated_at:desc", label: "Recently updated" },
] as const;

/** The list's filters as they live in the URL: short, readable, bookmarkable. */
export type TaskFilters = {
  search: string;
  status: string[];
  priority: string[];
  tags: string[];
  dueFrom: string;
  dueTo: string;
  sort: string;
  page: number;
};

function list(params: URLSearchParams, key: string): string[] {
  return (params.get(key) ?? "").split(",").filter(Boolean);
}

export function filtersFromParams(params: URLSearchParams): TaskFilters {
  const page = Number(params.get("page"));
  return {
    search: params.get("search") ?? "",
    status: list(params, "status"),
    priority: list(params, "priority"),
    tags: list(params, "tags"),
    dueFrom: params.get("due_from") ?? "",
    dueTo: params.get("due_to") ?? "",
    sort: params.get("sort") ?? "",
    page: Number.isInteger(page) && page > 0 ? page : 1,
  };
}

export function filtersToParams(filters: TaskFilters): URLSearchParams {
  const params = new URLSearchParams();
  if (filters.search) params.set("search", filters.search);
  if (filters.status.length) params.set("status", filters.status.join(","));
  if (filters.priority.length) params.set("priority", filters.priority.join(","));
  if (filters.tags.length) params.set("tags", filters.tags.join(","));
  if (filters.dueFrom) params.set("due_from", filters.dueFrom);
  if (filters.dueTo) params.set("due_to", filters.dueTo);
  if (filters.sort) params.set("sort", filters.sort);
  if (filters.page > 1) params.set("page", String(filters.page));
  return params;
}

/** Dates in the URL are calendar days; the API wants instants, so a day runs from local midnight to its last millisecond. */
export function filtersToQuery(filters: TaskFilters): TaskListQuery {
  const query: TaskListQuery = { page: filters.page, page_size: PAGE_SIZE };
  if (filters.search) query.search = filters.search;
  if (filters.status.length) query.status = filters.status;
  if (filters.priority.length) query.priority = filters.priority;
  if (filters.tags.length) query.tags = filters.tags;
  if (filters.dueFrom) query.due_from = new Date(`${filters.dueFrom}T00:00:00`).toISOString();
  if (filters.dueTo) query.due_to = new Date(`${filters.dueTo}T23:59:59.999`).toISOString();
  if (filters.sort) query.sort = [filters.sort];
  return query;
}
