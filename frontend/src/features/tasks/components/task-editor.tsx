import { useState } from "react";
import { useFetchCurrentTask } from "@/features/tasks/api/get-task";
import type { LoadedTask, TaskWrite } from "@/features/tasks/api/task-types";
import { usePatchTask, useUpdateTask } from "@/features/tasks/api/update-task";
import { EditConflict } from "@/features/tasks/components/edit-conflict";
import { TaskForm } from "@/features/tasks/components/task-form";
import { changesFrom, isStaleVersion, type TaskChanges } from "@/features/tasks/utils/task-changes";
import { ApiError } from "@/lib/api-error";
import { toast } from "@/lib/toast-store";

type TaskEditorProps = {
  loaded: LoadedTask;
  onSaved: () => void;
  onDiscarded: () => void;
  onCancel: () => void;
};

type Conflict = { changes: TaskChanges; current: LoadedTask };

/**
 * The edit form, saved only over the version it was loaded with (If-Match). When someone saved a newer version
 * meanwhile, the server refuses (412): the editor fetches that version and shows it, and the user reapplies
 * their changes on top of it or discards them.
 */
export function TaskEditor({ loaded, onSaved, onDiscarded, onCancel }: TaskEditorProps) {
  // The version the form shows, kept as loaded even when the page's query refetches a newer one, so that a save
  // is checked against what the user actually edited.
  const [base] = useState(loaded);
  const taskId = base.task.id;
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [fetchingCurrent, setFetchingCurrent] = useState(false);
  const updateTask = useUpdateTask(taskId);
  const patchTask = usePatchTask(taskId);
  const fetchCurrentTask = useFetchCurrentTask();

  async function showConflict(changes: TaskChanges) {
    setFetchingCurrent(true);
    try {
      setConflict({ changes, current: await fetchCurrentTask(taskId) });
    } catch {
      // The query cache already reported it (a task deleted meanwhile, say); the form stays as it was.
    } finally {
      setFetchingCurrent(false);
    }
  }

  function save(body: TaskWrite) {
    updateTask.mutate(
      { body, etag: base.etag },
      {
        onSuccess: () => {
          toast.success("Task updated.");
          onSaved();
        },
        onError: (error) => (isStaleVersion(error) ? void showConflict(changesFrom(base.task, body)) : toast.error(error)),
      },
    );
  }

  function reapply(current: Conflict) {
    patchTask.mutate(
      { changes: current.changes, etag: current.current.etag },
      {
        onSuccess: () => {
          toast.success("Your changes were applied to the current version.");
          onSaved();
        },
        // Changed yet again: show that version, with the same changes to reapply.
        onError: (error) => (isStaleVersion(error) ? void showConflict(current.changes) : toast.error(error)),
      },
    );
  }

  if (conflict)
    return (
      <EditConflict
        loaded={base.task}
        current={conflict.current.task}
        changes={conflict.changes}
        pending={patchTask.isPending || fetchingCurrent}
        onReapply={() => reapply(conflict)}
        onDiscard={() => {
          toast.success("Your changes were discarded.");
          onDiscarded();
        }}
      />
    );

  return (
    <TaskForm
      initial={base.task}
      submitLabel="Save changes"
      pending={updateTask.isPending || fetchingCurrent}
      serverErrors={updateTask.error instanceof ApiError ? updateTask.error.fieldErrors : undefined}
      onCancel={onCancel}
      onSubmit={save}
    />
  );
}
