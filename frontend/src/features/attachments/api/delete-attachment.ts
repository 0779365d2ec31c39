import { useMutation } from "@tanstack/react-query";
import { apiClient, unwrap } from "@/lib/api-client";

export function useDeleteAttachment(onDeleted: () => void) {
  return useMutation({
    mutationFn: (attachmentId: string) =>
      unwrap(
        apiClient.DELETE("/api/v1/attachments/{attachment_id}", { params: { path: { attachment_id: attachmentId } } }),
      ),
    onSuccess: onDeleted,
  });
}
