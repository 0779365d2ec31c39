import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useTask } from "@/features/tasks/api/get-task";
import type { Task } from "@/features/tasks/api/task-types";
import { TaskDetails } from "@/features/tasks/components/task-details";
import { setTokens } from "@/lib/tokens";
import { apiError, json, serve } from "@/testing/fake-server";
import { renderWithProviders } from "@/testing/render";

const shownVersion: Task = {
  id: "t1",
  owner_id: "u1",
  owner_email: "ada@example.com",
  title: "Old plan",
  description: null,
  status: "TODO",
  priority: "MEDIUM",
  due_date: null,
  tags: [],
  created_at: "2030-01-01T00:00:00+00:00",
  updated_at: "2030-01-01T00:00:00+00:00",
};
const changedVersion: Task = { ...shownVersion, title: "New plan, keep it", updated_at: "2030-01-02T00:00:00+00:00" };

/** The detail page's part: the task as the query holds it, with the version it is. */
function TaskPage({ onChangedMeanwhile }: { onChangedMeanwhile: () => void }) {
  const task = useTask("t1");
  return task.data ? <TaskDetails task={task.data.task} etag={task.data.etag} isOwner onChangedMeanwhile={onChangedMeanwhile} /> : null;
}

describe("deleting a task", () => {
  beforeEach(() => {
    localStorage.clear();
    setTokens({ accessToken: "access", refreshToken: "refresh" });
    vi.spyOn(window, "confirm").mockReturnValue(true);
  });

  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it("sends If-Match; on 412 says the task changed, shows it, and deletes that version when asked again", async () => {
    let gets = 0;
    const requests = serve((request) => {
      if (request.method === "GET") {
        gets += 1;
        return gets === 1
          ? json(200, { task: shownVersion, attachments: [] }, { ETag: '"1"' })
          : json(200, { task: changedVersion, attachments: [] }, { ETag: '"2"' });
      }
      return request.headers.get("If-Match") === '"2"'
        ? new Response(null, { status: 204 })
        : apiError(412, "PRECONDITION_FAILED", "The task has changed since you loaded it");
    });
    const onChangedMeanwhile = vi.fn();
    renderWithProviders(<TaskPage onChangedMeanwhile={onChangedMeanwhile} />);

    await userEvent.click(await screen.findByRole("button", { name: "Delete task" }));

    expect(await screen.findByRole("alert")).toHaveTextContent("This task was changed since you loaded it, so it was not deleted.");
    expect(await screen.findByRole("heading", { name: "New plan, keep it" })).toBeInTheDocument();
    expect(onChangedMeanwhile).toHaveBeenCalledTimes(1);

    await userEvent.click(screen.getByRole("button", { name: "Delete task" }));
    await vi.waitFor(() => expect(requests.filter(({ method }) => method === "DELETE")).toHaveLength(2));
    expect(window.confirm).toHaveBeenLastCalledWith("Delete “New plan, keep it”? This cannot be undone.");
    expect(requests.map(({ method, headers }) => `${method} ${headers.get("If-Match") ?? ""}`)).toEqual([
      "GET ",
      'DELETE "1"',
      "GET ",
      'DELETE "2"',
    ]);
  });
});
