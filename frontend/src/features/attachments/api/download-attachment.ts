import { apiClient } from "@/lib/api-client";

/** The download needs the bearer token, so a plain link will not do: fetch the bytes, then hand them to the browser. */
export async function downloadAttachment(attachmentId: string, filename: string): Promise<void> {
  const { data } = await apiClient.GET("/api/v1/attachments/{attachment_id}/download", {
    params: { path: { attachment_id: attachmentId } },
    parseAs: "blob",
  });
  const url = URL.createObjectURL(data as Blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
