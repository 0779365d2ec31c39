import { useQuery } from "@tanstack/react-query";
import { taskKeys } from "@/features/tasks/api/task-types";
import { apiClient, unwrap } from "@/lib/api-client";

function getTask(taskId: string) {
  return unwrap(apiClient.GET("/api/v1/tasks/{task_id}", { params: { path: { task_id: taskId } } }));
}

export function useTask(taskId: string) {
  return useQuery({ queryKey: taskKeys.detail(taskId), queryFn: () => getTask(taskId) });
}
