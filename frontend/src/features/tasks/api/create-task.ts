import { useMutation, useQueryClient } from "@tanstack/react-query";
import { taskKeys, type TaskWrite } from "@/features/tasks/api/task-types";
import { apiClient, unwrap } from "@/lib/api-client";

export function useCreateTask() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: TaskWrite) => unwrap(apiClient.POST("/api/v1/tasks", { body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: taskKeys.all }),
  });
}
