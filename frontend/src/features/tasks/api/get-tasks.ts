import { keepPreviousData, useQuery } from "@tanstack/react-query";
import type { paths } from "@/api/schema";
import { taskKeys } from "@/features/tasks/api/task-types";
import { apiClient, unwrap } from "@/lib/api-client";

export type TaskListQuery = NonNullable<paths["/api/v1/tasks"]["get"]["parameters"]["query"]>;

export function useTasks(query: TaskListQuery) {
  return useQuery({
    queryKey: taskKeys.list(query),
    queryFn: () => unwrap(apiClient.GET("/api/v1/tasks", { params: { query } })),
    placeholderData: keepPreviousData,
  });
}
