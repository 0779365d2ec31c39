import { useMutation, useQueryClient } from "@tanstack/react-query";
import { taskKeys } from "@/features/tasks/api/task-types";
import { apiClient, unwrap } from "@/lib/api-client";

export function useDeleteTask() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (taskId: string) =>
      unwrap(apiClient.DELETE("/api/v1/tasks/{task_id}", { params: { path: { task_id: taskId } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: taskKeys.all }),
  });
}
