import { useMutation, useQueryClient } from "@tanstack/react-query";
import { taskKeys, type TaskWrite } from "@/features/tasks/api/task-types";
import { apiClient, unwrap } from "@/lib/api-client";

/** A full update (PUT): the form always sends every field. */
export function useUpdateTask(taskId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: TaskWrite) =>
      unwrap(apiClient.PUT("/api/v1/tasks/{task_id}", { params: { path: { task_id: taskId } }, body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: taskKeys.all }),
  });
}
