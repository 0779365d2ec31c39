import { Link, useNavigate } from "react-router";
import { useDeleteTask } from "@/features/tasks/api/delete-task";
import type { Task } from "@/features/tasks/api/task-types";
import { formatDateTime, humanize } from "@/lib/format";
import { toast } from "@/lib/toast-store";

export function TaskDetails({ task, isOwner }: { task: Task; isOwner: boolean }) {
  const navigate = useNavigate();
  const deleteTask = useDeleteTask();

  function remove() {
    if (!window.confirm(`Delete “${task.title}”? This cannot be undone.`)) return;
    deleteTask.mutate(task.id, {
      onSuccess: () => {
        toast.success("Task deleted.");
        navigate("/tasks");
      },
      onError: (error) => toast.error(error),
    });
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
