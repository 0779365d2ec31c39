import { useNavigate } from "react-router";
import type { Task } from "@/features/tasks/api/task-types";
import { formatDateTime, humanize } from "@/lib/format";

export function TaskTable({ tasks }: { tasks: Task[] }) {
  const navigate = useNavigate();
  return (
    <table className="task-table">
      <thead>
        <tr>
          <th scope="col">Title</th>
          <th scope="col">Owner</th>
          <th scope="col">Status</th>
          <th scope="col">Priority</th>
          <th scope="col">Due</th>
          <th scope="col">Tags</th>
        </tr>
      </thead>
      <tbody>
        {tasks.map((task) => (
          <tr key={task.id} className="clickable" onClick={() => navigate(`/tasks/${task.id}`)}>
            <td>
              <a
                href={`/tasks/${task.id}`}
                onClick={(event) => {
                  event.preventDefault();
                  event.stopPropagation();
                  navigate(`/tasks/${task.id}`);
                }}
              >
                {task.title}
              </a>
            </td>
            <td>{task.owner_email ?? "—"}</td>
            <td>
              <span className={`badge status-${task.status.toLowerCase()}`}>{humanize(task.status)}</span>
            </td>
            <td>
              <span className={`badge priority-${task.priority.toLowerCase()}`}>{humanize(task.priority)}</span>
            </td>
            <td>{formatDateTime(task.due_date)}</td>
            <td>
              {task.tags.map((tag) => (
                <span key={tag} className="chip small">
                  {tag}
                </span>
              ))}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
