import { useMutation, useQueryClient } from "@tanstack/react-query";
import { ifMatch, taskKeys } from "@/features/tasks/api/task-types";
import { apiClient, unwrap } from "@/lib/api-client";

/** Deletes the version `etag` names: a task changed since it was shown is not deleted (412). */
export function useDeleteTask() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ taskId, etag }: { taskId: string; etag: string | null }) =>
      unwrap(apiClient.DELETE("/api/v1/tasks/{task_id}", { params: { path: { task_id: taskId }, header: ifMatch(etag) } })),
    // Stale, not refetched: the task's own query, still shown until the page moves on, would answer 404.
    onSuccess: () => queryClient.invalidateQueries({ queryKey: taskKeys.all, refetchType: "none" }),
  });
}
