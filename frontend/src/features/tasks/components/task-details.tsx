import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { useDeleteTask } from "@/features/tasks/api/delete-task";
import { useFetchCurrentTask } from "@/features/tasks/api/get-task";
import type { Task } from "@/features/tasks/api/task-types";
import { isStaleVersion } from "@/features/tasks/utils/task-changes";
import { formatDateTime, humanize } from "@/lib/format";
import { toast } from "@/lib/toast-store";

type TaskDetailsProps = {
  task: Task;
  /** The version shown, which is the only one Delete deletes. */
  etag: string | null;
  isOwner: boolean;
  /** Called when a delete found the task changed since it was shown: whatever else the page shows may be out of date. */
  onChangedMeanwhile?: () => void;
};

export function TaskDetails({ task, etag, isOwner, onChangedMeanwhile }: TaskDetailsProps) {
  const navigate = useNavigate();
  const deleteTask = useDeleteTask();
  const fetchCurrentTask = useFetchCurrentTask();
  const [changedMeanwhile, setChangedMeanwhile] = useState(false);

  function remove() {
    if (!window.confirm(`Delete “${task.title}”? This cannot be undone.`)) return;
    setChangedMeanwhile(false);
    deleteTask.mutate(
      { taskId: task.id, etag },
      {
        onSuccess: () => {
          toast.success("Task deleted.");
          navigate("/tasks");
        },
        onError: (error) => {
          if (!isStaleVersion(error)) return toast.error(error);
          // Someone changed it since it was shown: show what it is now, and let the user decide again.
          setChangedMeanwhile(true);
          void fetchCurrentTask(task.id).catch(() => {});
          onChangedMeanwhile?.();
        },
      },
    );
  }

  return (
    <section className="card task-details" aria-labelledby="task-title">
      <div className="page-header">
        <h1 id="task-title">{task.title}</h1>
        {isOwner && (
          <div className="actions">
            <Link to={`/tasks/${task.id}/edit`} className="button primary">
              Edit task
            </Link>
            <button type="button" className="button danger" onClick={remove} disabled={deleteTask.isPending}>
              Delete task
            </button>
          </div>
        )}
      </div>
      {changedMeanwhile && (
        <p className="notice" role="alert">
          This task was changed since you loaded it, so it was not deleted. It now shows the current version: delete it
          again if you still want to.
        </p>
      )}
      <p className="description">{task.description || <span className="muted">No description.</span>}</p>
      <dl className="details-grid">
        <dt>Status</dt>
        <dd>
          <span className={`badge status-${task.status.toLowerCase()}`}>{humanize(task.status)}</span>
        </dd>
        <dt>Priority</dt>
        <dd>
          <span className={`badge priority-${task.priority.toLowerCase()}`}>{humanize(task.priority)}</span>
        </dd>
        <dt>Due</dt>
        <dd>{formatDateTime(task.due_date)}</dd>
        <dt>Owner</dt>
        <dd>{task.owner_email ?? task.owner_id}</dd>
        <dt>Tags</dt>
        <dd>
          {task.tags.length
            ? task.tags.map((tag) => (
                <span key={tag} className="chip small">
                  {tag}
                </span>
              ))
            : "—"}
        </dd>
        <dt>Created</dt>
        <dd>{formatDateTime(task.created_at)}</dd>
        <dt>Updated</dt>
        <dd>{formatDateTime(task.updated_at)}</dd>
      </dl>
    </section>
  );
}
