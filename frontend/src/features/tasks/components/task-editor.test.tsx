import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { LoadedTask, Task } from "@/features/tasks/api/task-types";
import { TaskEditor } from "@/features/tasks/components/task-editor";
import { setTokens } from "@/lib/tokens";
import { apiError, json, serve } from "@/testing/fake-server";
import { renderWithProviders } from "@/testing/render";

const loadedVersion: Task = {
  id: "t1",
  owner_id: "u1",
  owner_email: "ada@example.com",
  title: "Plan the launch",
  description: "Book the room",
  status: "TODO",
  priority: "MEDIUM",
  due_date: null,
  tags: ["launch"],
  created_at: "2030-01-01T00:00:00+00:00",
  updated_at: "2030-01-01T00:00:00+00:00",
};
// Saved in another tab after this form was loaded.
const newerVersion: Task = { ...loadedVersion, title: "Plan the launch party", updated_at: "2030-01-02T00:00:00+00:00" };
const loaded: LoadedTask = { task: loadedVersion, attachments: [], etag: '"1"' };
const TASK_PATH = "/api/v1/tasks/t1";
const stale = () => apiError(412, "PRECONDITION_FAILED", "The task has changed since you loaded it");

function renderEditor() {
  const callbacks = { onSaved: vi.fn(), onDiscarded: vi.fn(), onCancel: vi.fn() };
  renderWithProviders(<TaskEditor loaded={loaded} {...callbacks} />);
  return callbacks;
}

async function changePriorityAndSave() {
  await userEvent.selectOptions(screen.getByLabelText("Priority"), "HIGH");
  await userEvent.click(screen.getByRole("button", { name: "Save changes" }));
}

function row(name: string) {
  return within(screen.getByRole("row", { name: new RegExp(`^${name}`) }));
}

describe("task editor", () => {
  beforeEach(() => {
    localStorage.clear();
    setTokens({ accessToken: "access", refreshToken: "refresh" });
  });

  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("saves with If-Match naming the version it loaded", async () => {
    const requests = serve(() => json(200, { ...loadedVersion, priority: "HIGH" }, { ETag: '"2"' }));
    const { onSaved } = renderEditor();

    await changePriorityAndSave();

    await vi.waitFor(() => expect(onSaved).toHaveBeenCalled());
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: "PUT", path: TASK_PATH, body: { title: "Plan the launch", priority: "HIGH" } });
    expect(requests[0]?.headers.get("If-Match")).toBe('"1"');
  });

  it("on 412 shows the newer version beside the user's change, and reapplies only that change on top of it", async () => {
    const requests = serve((request) => {
      if (request.method === "PUT") return stale();
      if (request.method === "GET") return json(200, { task: newerVersion, attachments: [] }, { ETag: '"2"' });
      return json(200, { ...newerVersion, priority: "HIGH" }, { ETag: '"3"' });
    });
    const { onSaved } = renderEditor();

    await changePriorityAndSave();

    const conflict = await screen.findByRole("alert");
    expect(within(conflict).getByRole("heading")).toHaveTextContent("This task was changed while you were editing it");
    expect(row("Title").getByText("Plan the launch party")).toBeInTheDocument();
    expect(row("Title").getByText("unchanged")).toBeInTheDocument();
    expect(row("Priority").getByText("High")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Save changes" })).not.toBeInTheDocument();
    expect(onSaved).not.toHaveBeenCalled();

    await userEvent.click(screen.getByRole("button", { name: "Reapply my changes" }));

    await vi.waitFor(() => expect(onSaved).toHaveBeenCalled());
    expect(requests.map(({ method }) => method)).toEqual(["PUT", "GET", "PATCH"]);
    const reapplied = requests[2];
    expect(reapplied?.body).toEqual({ priority: "HIGH" });
    expect(reapplied?.headers.get("If-Match")).toBe('"2"');
  });

  it("on 412 lets the user discard their change, sending nothing more", async () => {
    const requests = serve((request) =>
      request.method === "PUT" ? stale() : json(200, { task: newerVersion, attachments: [] }, { ETag: '"2"' }),
    );
    const { onDiscarded, onSaved } = renderEditor();

    await changePriorityAndSave();
    await screen.findByRole("alert");
    await userEvent.click(screen.getByRole("button", { name: "Discard my changes" }));

    expect(onDiscarded).toHaveBeenCalled();
    expect(onSaved).not.toHaveBeenCalled();
    expect(requests.map(({ method }) => method)).toEqual(["PUT", "GET"]);
  });

  it("marks a field both edits changed, and shows the newest version again when the reapply meets another", async () => {
    const newest: Task = { ...newerVersion, priority: "LOW" };
    let gets = 0;
    const requests = serve((request) => {
      if (request.method === "GET") {
        gets += 1;
        return gets === 1
          ? json(200, { task: newerVersion, attachments: [] }, { ETag: '"2"' })
          : json(200, { task: newest, attachments: [] }, { ETag: '"3"' });
      }
      if (request.method === "PATCH" && request.headers.get("If-Match") === '"3"')
        return json(200, { ...newest, priority: "HIGH" }, { ETag: '"4"' });
      return stale();
    });
    const { onSaved } = renderEditor();

    await changePriorityAndSave();
    await screen.findByRole("alert");
    await userEvent.click(screen.getByRole("button", { name: "Reapply my changes" }));

    // Priority was changed here and there meanwhile: the row says so, and the reapply would replace theirs.
    await vi.waitFor(() => expect(row("Priority").getByText("Low")).toBeInTheDocument());
    expect(screen.getByRole("row", { name: /^Priority/ })).toHaveClass("clash");
    expect(screen.getByText(/yours replaces theirs/)).toBeInTheDocument();

    await userEvent.click(screen.getByRole("button", { name: "Reapply my changes" }));
    await vi.waitFor(() => expect(onSaved).toHaveBeenCalled());
    expect(requests.map(({ method, headers }) => `${method} ${headers.get("If-Match") ?? ""}`)).toEqual([
      'PUT "1"',
      "GET ",
      'PATCH "2"',
      "GET ",
      'PATCH "3"',
    ]);
  });
});
