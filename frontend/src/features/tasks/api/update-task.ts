import { useMutation, useQueryClient } from "@tanstack/react-query";
import { ifMatch, taskKeys, type TaskWrite } from "@/features/tasks/api/task-types";
import { apiClient, unwrap } from "@/lib/api-client";

/** A full update (PUT) of the version `etag` names: the form always sends every field. */
export function useUpdateTask(taskId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ body, etag }: { body: TaskWrite; etag: string | null }) =>
      unwrap(apiClient.PUT("/api/v1/tasks/{task_id}", { params: { path: { task_id: taskId }, header: ifMatch(etag) }, body })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: taskKeys.all }),
  });
}

/** Only the given fields (PATCH), on top of the version `etag` names: how a change is reapplied after a conflict. */
export function usePatchTask(taskId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ changes, etag }: { changes: Partial<TaskWrite>; etag: string | null }) =>
      unwrap(
        apiClient.PATCH("/api/v1/tasks/{task_id}", { params: { path: { task_id: taskId }, header: ifMatch(etag) }, body: changes }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: taskKeys.all }),
  });
}
