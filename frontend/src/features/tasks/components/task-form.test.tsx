import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { TaskForm } from "@/features/tasks/components/task-form";
import { renderWithProviders } from "@/testing/render";

function renderForm(serverErrors?: Record<string, string[]>) {
  const onSubmit = vi.fn();
  renderWithProviders(
    <TaskForm submitLabel="Create task" pending={false} serverErrors={serverErrors} onSubmit={onSubmit} onCancel={() => {}} />,
  );
  return onSubmit;
}

describe("task form", () => {
  it("requires a title and sends nothing without one", async () => {
    const onSubmit = renderForm();
    await userEvent.click(screen.getByRole("button", { name: "Create task" }));
    expect(screen.getByText("Title is required.")).toBeInTheDocument();
    expect(screen.getByLabelText("Title")).toHaveAttribute("aria-invalid", "true");
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it("drops the title error once a title is typed", async () => {
    renderForm();
    await userEvent.click(screen.getByRole("button", { name: "Create task" }));
    await userEvent.type(screen.getByLabelText("Title"), "Plan the launch");
    expect(screen.queryByText("Title is required.")).not.toBeInTheDocument();
  });

  it("refuses a title longer than 200 characters", async () => {
    const onSubmit = renderForm();
    await userEvent.type(screen.getByLabelText("Title"), "x".repeat(201));
    await userEvent.click(screen.getByRole("button", { name: "Create task" }));
    expect(screen.getByText("Title must be at most 200 characters.")).toBeInTheDocument();
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it("refuses a tag longer than 50 characters", async () => {
    const onSubmit = renderForm();
    await userEvent.type(screen.getByLabelText("Title"), "Plan the launch");
    await userEvent.type(screen.getByLabelText("Tags"), `${"t".repeat(51)}{enter}`);
    await userEvent.click(screen.getByRole("button", { name: "Create task" }));
    expect(screen.getByText("Each tag must be at most 50 characters.")).toBeInTheDocument();
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it("sends a valid task with its tags as chips, lower-cased", async () => {
    const onSubmit = renderForm();
    await userEvent.type(screen.getByLabelText("Title"), "  Plan the launch ");
    await userEvent.selectOptions(screen.getByLabelText("Priority"), "HIGH");
    await userEvent.type(screen.getByLabelText("Tags"), "Backend{enter}urgent,");
    expect(screen.getByRole("button", { name: "Remove tag backend" })).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Create task" }));
    expect(onSubmit).toHaveBeenCalledWith({
      title: "Plan the launch",
      description: null,
      status: "TODO",
      priority: "HIGH",
      due_date: null,
      tags: ["backend", "urgent"],
    });
  });

  it("shows the server's field errors next to their fields", () => {
    renderForm({ title: ["A task with this title is not allowed."] });
    expect(screen.getByText("A task with this title is not allowed.")).toHaveAttribute("id", "title-error");
    expect(screen.getByLabelText("Title")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByLabelText("Title")).toHaveAccessibleDescription("0/200 A task with this title is not allowed.");
  });
});
