import { useRef, useState, type DragEvent } from "react";
import { uploadAttachment } from "@/features/attachments/api/upload-attachment";
import { ApiError, errorMessage } from "@/lib/api-error";
import { toast } from "@/lib/toast-store";

type Upload = { key: number; name: string; progress: number; error?: string; done?: boolean };

function explain(error: unknown): string {
  if (error instanceof ApiError && error.status === 413) {
    const maxBytes = Number(error.details.max_bytes);
    const limit = maxBytes > 0 ? ` (the limit is ${Math.round(maxBytes / (1024 * 1024))} MB)` : "";
    return `This file is too large to upload${limit}. Try a smaller file or compress it.`;
  }
  return errorMessage(error);
}

export function UploadArea({ taskId, onUploaded }: { taskId: string; onUploaded: () => void }) {
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [dragging, setDragging] = useState(false);
  const nextKey = useRef(1);

  function patch(key: number, changes: Partial<Upload>) {
    setUploads((current) => current.map((upload) => (upload.key === key ? { ...upload, ...changes } : upload)));
  }

  async function uploadOne(file: File) {
    const key = nextKey.current++;
    setUploads((current) => [...current, { key, name: file.name, progress: 0 }]);
    try {
      await uploadAttachment(taskId, file, (progress) => patch(key, { progress }));
      patch(key, { progress: 1, done: true });
      toast.success(`Uploaded ${file.name}.`);
      onUploaded();
    } catch (error) {
      patch(key, { error: explain(error) });
      if (!(error instanceof ApiError && error.status === 413)) toast.error(error);
    }
  }

  function start(files: FileList | null) {
    if (!files) return;
    Array.from(files).forEach((file) => void uploadOne(file));
  }

  function onDrop(event: DragEvent) {
    event.preventDefault();
    setDragging(false);
    start(event.dataTransfer.files);
  }

  return (
    <div className="upload">
      <div
        className={`dropzone${dragging ? " dragging" : ""}`}
        onDragOver={(event) => {
          event.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <p>Drag and drop files here, or</p>
        <label htmlFor="attachment-file" className="button">
          Choose files
        </label>
        <input
          id="attachment-file"
          className="visually-hidden"
          type="file"
          multiple
          aria-label="Upload attachments"
          onChange={(event) => {
            start(event.target.files);
            event.target.value = "";
          }}
        />
      </div>
      {uploads.length > 0 && (
        <ul className="upload-list">
          {uploads.map((upload) => (
            <li key={upload.key} className={upload.error ? "failed" : upload.done ? "done" : ""}>
              <span className="upload-name">{upload.name}</span>
              <progress max={1} value={upload.progress} aria-label={`Upload progress for ${upload.name}`} />
              <span className="upload-state">
                {upload.error ? "Failed" : upload.done ? "Done" : `${Math.round(upload.progress * 100)}%`}
              </span>
              {upload.error && (
                <p className="field-error" role="alert">
                  {upload.error}
                </p>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
