import type { components } from "@/api/schema";
import { EmptyState } from "@/components/empty-state";
import { useDeleteAttachment } from "@/features/attachments/api/delete-attachment";
import { downloadAttachment } from "@/features/attachments/api/download-attachment";
import { UploadArea } from "@/features/attachments/components/upload-area";
import { formatBytes, formatDateTime } from "@/lib/format";
import { toast } from "@/lib/toast-store";

type AttachmentSummary = components["schemas"]["AttachmentSummary"];

type AttachmentsPanelProps = {
  taskId: string;
  attachments: AttachmentSummary[];
  canManage: boolean;
  onChanged: () => void;
};

export function AttachmentsPanel({ taskId, attachments, canManage, onChanged }: AttachmentsPanelProps) {
  const deleteAttachment = useDeleteAttachment(onChanged);

  function remove(attachment: AttachmentSummary) {
    if (!window.confirm(`Delete ${attachment.filename}?`)) return;
    deleteAttachment.mutate(attachment.id, {
      onSuccess: () => toast.success(`Deleted ${attachment.filename}.`),
      onError: (error) => toast.error(error),
    });
  }

  function download(attachment: AttachmentSummary) {
    downloadAttachment(attachment.id, attachment.filename).catch((error: unknown) => toast.error(error));
  }

  return (
    <section className="card" aria-labelledby="attachments-heading">
      <h2 id="attachments-heading">Attachments</h2>
      {attachments.length === 0 ? (
        <EmptyState title="No attachments." />
      ) : (
        <table className="attachments">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Size</th>
              <th scope="col">Added</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {attachments.map((attachment) => (
              <tr key={attachment.id}>
                <td>{attachment.filename}</td>
                <td>{formatBytes(attachment.size_bytes)}</td>
                <td>{formatDateTime(attachment.created_at)}</td>
                <td className="row-actions">
                  <button type="button" className="button small" onClick={() => download(attachment)}>
                    Download <span className="visually-hidden">{attachment.filename}</span>
                  </button>
                  {canManage && (
                    <button
                      type="button"
                      className="button small danger"
                      onClick={() => remove(attachment)}
                      disabled={deleteAttachment.isPending}
                    >
                      Delete <span className="visually-hidden">{attachment.filename}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canManage && <UploadArea taskId={taskId} onUploaded={onChanged} />}
    </section>
  );
}
