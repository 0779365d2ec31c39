import { describe, expect, it } from "vitest";
import type { Task } from "@/features/tasks/api/task-types";
import { changesFrom, taskFormValues, taskWriteBody } from "@/features/tasks/utils/task-changes";

const task: Task = {
  id: "t1",
  owner_id: "u1",
  owner_email: "ada@example.com",
  title: "Plan the launch",
  description: null,
  status: "TODO",
  priority: "MEDIUM",
  due_date: "2030-01-15T09:30:00+00:00",
  tags: ["launch"],
  created_at: "2030-01-01T00:00:00+00:00",
  updated_at: "2030-01-01T00:00:00+00:00",
};

describe("what the user changed", () => {
  it("is nothing when the form is sent as it was loaded", () => {
    expect(changesFrom(task, taskWriteBody(taskFormValues(task)))).toEqual({});
  });

  it("is only the fields whose values differ", () => {
    const sent = { ...taskWriteBody(taskFormValues(task)), priority: "HIGH" as const, tags: ["launch", "q3"] };
    expect(changesFrom(task, sent)).toEqual({ priority: "HIGH", tags: ["launch", "q3"] });
  });

  it("reads a due date to the minute and a blank description as none, as the form does", () => {
    const withSeconds = { ...task, due_date: "2030-01-15T09:30:42+00:00", description: "" };
    expect(changesFrom(withSeconds, taskWriteBody(taskFormValues(task)))).toEqual({});
    expect(changesFrom(task, { ...taskWriteBody(taskFormValues(task)), due_date: null })).toEqual({ due_date: null });
  });
});
