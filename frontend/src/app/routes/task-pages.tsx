import { useQueryClient } from "@tanstack/react-query";
import { Navigate, useNavigate, useParams } from "react-router";
import { EmptyState } from "@/components/empty-state";
import { Spinner } from "@/components/spinner";
import { AttachmentsPanel } from "@/features/attachments/components/attachments-panel";
import { AuditLog } from "@/features/audit/components/audit-log";
import { TaskHistory } from "@/features/audit/components/task-history";
import { useMe } from "@/features/auth/api/get-me";
import { useCreateTask } from "@/features/tasks/api/create-task";
import { useTask } from "@/features/tasks/api/get-task";
import { taskKeys } from "@/features/tasks/api/task-types";
import { TaskDetails } from "@/features/tasks/components/task-details";
import { TaskEditor } from "@/features/tasks/components/task-editor";
import { TaskForm } from "@/features/tasks/components/task-form";
import { TaskList } from "@/features/tasks/components/task-list";
import { ApiError } from "@/lib/api-error";
import { toast } from "@/lib/toast-store";

/** Audit events name users by id only; "You", the task owner's email, or a short id reads better. */
function useUserLabel(knownUsers: Record<string, string> = {}) {
  const me = useMe(true);
  return (userId: string | null) => {
    if (!userId) return "System";
    if (userId === me.data?.id) return "You";
    return knownUsers[userId] ?? `User ${userId.slice(0, 8)}`;
  };
}

function useTaskId(): string {
  return useParams().taskId ?? "";
}

function fieldErrors(error: unknown): Record<string, string[]> | undefined {
  return error instanceof ApiError ? error.fieldErrors : undefined;
}

export function TaskListPage() {
  return <TaskList />;
}

export function NewTaskPage() {
  const navigate = useNavigate();
  const createTask = useCreateTask();
  return (
    <div>
      <div className="page-header">
        <h1>New task</h1>
      </div>
      <TaskForm
        submitLabel="Create task"
        pending={createTask.isPending}
        serverErrors={fieldErrors(createTask.error)}
        onCancel={() => navigate("/tasks")}
        onSubmit={(body) =>
          createTask.mutate(body, {
            onSuccess: (task) => {
              toast.success("Task created.");
              navigate(`/tasks/${task.id}`);
            },
            onError: (error) => toast.error(error),
          })
        }
      />
    </div>
  );
}

export function TaskDetailPage() {
  const taskId = useTaskId();
  const task = useTask(taskId);
  const me = useMe(true);
  const queryClient = useQueryClient();
  const owner = task.data?.task;
  const userLabel = useUserLabel(owner?.owner_email ? { [owner.owner_id]: owner.owner_email } : {});

  if (task.isPending) return <Spinner label="Loading task…" />;
  if (task.isError)
    return (
      <EmptyState title={task.error instanceof ApiError && task.error.status === 404 ? "This task does not exist." : "The task could not be loaded."} />
    );

  const isOwner = me.data?.id === task.data.task.owner_id;
  const refreshHistory = () => void queryClient.invalidateQueries({ queryKey: ["audit-events"] });
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: taskKeys.detail(taskId) });
    refreshHistory();
  };

  return (
    <div className="detail-layout">
      <TaskDetails task={task.data.task} etag={task.data.etag} isOwner={isOwner} onChangedMeanwhile={refreshHistory} />
      <AttachmentsPanel taskId={taskId} attachments={task.data.attachments} canManage={isOwner} onChanged={refresh} />
      <TaskHistory taskId={taskId} userLabel={userLabel} />
    </div>
  );
}

export function EditTaskPage() {
  const taskId = useTaskId();
  const navigate = useNavigate();
  const task = useTask(taskId);
  const me = useMe(true);

  if (task.isPending || me.isPending) return <Spinner label="Loading task…" />;
  if (task.isError) return <EmptyState title="The task could not be loaded." />;
  if (me.data?.id !== task.data.task.owner_id) return <Navigate to={`/tasks/${taskId}`} replace />;

  const toTask = () => navigate(`/tasks/${taskId}`);
  return (
    <div>
      <div className="page-header">
        <h1>Edit task</h1>
      </div>
      <TaskEditor key={taskId} loaded={task.data} onSaved={toTask} onDiscarded={toTask} onCancel={toTask} />
    </div>
  );
}

export function AuditPage() {
  return <AuditLog userLabel={useUserLabel()} />;
}
