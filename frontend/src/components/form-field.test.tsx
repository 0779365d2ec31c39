import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import { Field, SelectField, TextareaField, TextField } from "@/components/form-field";

describe("form fields", () => {
  it("names the control by its label and leaves a valid control undescribed", () => {
    render(<TextField id="email" label="Email" type="email" defaultValue="" />);
    const input = screen.getByLabelText("Email");
    expect(input).toHaveAttribute("id", "email");
    expect(input).toHaveAttribute("type", "email");
    expect(input).not.toHaveAttribute("aria-invalid");
    expect(input).not.toHaveAttribute("aria-describedby");
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("marks the control invalid and describes it by the error", () => {
    render(<TextField id="email" label="Email" errors={["Email is required.", "Really."]} />);
    const input = screen.getByLabelText("Email");
    const error = screen.getByRole("alert");
    expect(error).toHaveTextContent("Email is required. Really.");
    expect(error).toHaveAttribute("id", "email-error");
    expect(input).toHaveAttribute("aria-invalid", "true");
    expect(input).toHaveAttribute("aria-describedby", "email-error");
    expect(input).toHaveAccessibleDescription("Email is required. Really.");
  });

  it("treats an empty list of errors as no error", () => {
    render(<TextField id="email" label="Email" errors={[]} />);
    expect(screen.getByLabelText("Email")).not.toHaveAttribute("aria-invalid");
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("describes the control by its hint, and by the hint then the error", () => {
    const { rerender } = render(<TextField id="title" label="Title" hint="0/200" />);
    expect(screen.getByText("0/200")).toHaveAttribute("id", "title-hint");
    expect(screen.getByLabelText("Title")).toHaveAttribute("aria-describedby", "title-hint");
    expect(screen.getByLabelText("Title")).not.toHaveAttribute("aria-invalid");

    rerender(<TextField id="title" label="Title" hint="0/200" errors={["Title is required."]} />);
    expect(screen.getByLabelText("Title")).toHaveAttribute("aria-describedby", "title-hint title-error");
    expect(screen.getByLabelText("Title")).toHaveAccessibleDescription("0/200 Title is required.");
  });

  it("wires a textarea and a select the same way", () => {
    render(
      <>
        <TextareaField id="description" label="Description" rows={5} errors={["Too long."]} defaultValue="" />
        <SelectField
          id="priority"
          label="Priority"
          options={[
            { value: "LOW", label: "Low" },
            { value: "HIGH", label: "High" },
          ]}
          defaultValue="HIGH"
        />
      </>,
    );
    const description = screen.getByLabelText("Description");
    expect(description.tagName).toBe("TEXTAREA");
    expect(description).toHaveAttribute("aria-invalid", "true");
    expect(description).toHaveAccessibleDescription("Too long.");
    const priority = screen.getByLabelText("Priority");
    expect(priority).toHaveValue("HIGH");
    expect(screen.getAllByRole("option").map((option) => option.textContent)).toEqual(["Low", "High"]);
  });

  it("hands any control its id and aria wiring", () => {
    render(
      <Field id="tags" label="Tags" errors={["At most 20 tags."]} grow>
        {(control) => <input {...control} data-testid="custom" />}
      </Field>,
    );
    const control = screen.getByLabelText("Tags");
    expect(control).toBe(screen.getByTestId("custom"));
    expect(control).toHaveAttribute("aria-invalid", "true");
    expect(control).toHaveAccessibleDescription("At most 20 tags.");
    expect(control.closest(".field")).toHaveClass("grow");
  });

  it("passes the native props through to a controlled input", async () => {
    function Controlled() {
      const [value, setValue] = useState("");
      return <TextField id="name" label="Name" value={value} onChange={(event) => setValue(event.target.value.toUpperCase())} />;
    }
    render(<Controlled />);
    await userEvent.type(screen.getByLabelText("Name"), "ada");
    expect(screen.getByLabelText("Name")).toHaveValue("ADA");
  });
});
