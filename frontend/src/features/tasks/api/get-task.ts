import { useQuery, useQueryClient } from "@tanstack/react-query";
import { taskKeys, type LoadedTask } from "@/features/tasks/api/task-types";
import { apiClient, unwrap } from "@/lib/api-client";

async function getTask(taskId: string): Promise<LoadedTask> {
  const answer = await apiClient.GET("/api/v1/tasks/{task_id}", { params: { path: { task_id: taskId } } });
  const detail = await unwrap(Promise.resolve(answer));
  return { ...detail, etag: answer.response.headers.get("ETag") };
}

export function useTask(taskId: string) {
  return useQuery({ queryKey: taskKeys.detail(taskId), queryFn: () => getTask(taskId) });
}

/** Fetches the task's current version now, whatever the cache holds, and keeps it there: after a 412. */
export function useFetchCurrentTask() {
  const queryClient = useQueryClient();
  return (taskId: string) => queryClient.fetchQuery({ queryKey: taskKeys.detail(taskId), queryFn: () => getTask(taskId), staleTime: 0 });
}
