import type { ComponentProps, ReactNode } from "react";

/** What a field hands its control: the id its label points at, and the invalid state and descriptions to announce. */
export type FieldControlProps = {
  id: string;
  "aria-invalid"?: true;
  "aria-describedby"?: string;
};

type FieldProps = {
  /** The control's id; the hint and the error take `${id}-hint` and `${id}-error`. */
  id: string;
  label: string;
  /** A line under the control, read as part of its description (a character count, an example). */
  hint?: ReactNode;
  /** The field's messages, from the form's own checks or the server; none or an empty list shows nothing. */
  errors?: string[];
  /** Takes the free width of a field row. */
  grow?: boolean;
};

/** Messages under a form control; `id` is what the control names in aria-describedby. */
function FieldError({ id, messages }: { id: string; messages?: string[] }) {
  if (!messages?.length) return null;
  return (
    <p id={id} className="field-error" role="alert">
      {messages.join(" ")}
    </p>
  );
}

/**
 * A label, any control, an optional hint and the field's errors, wired together: the label names the control,
 * and the control is marked invalid and described by the hint and the error while they show.
 */
export function Field({ id, label, hint, errors, grow, children }: FieldProps & { children: (control: FieldControlProps) => ReactNode }) {
  const hasHint = hint !== undefined && hint !== null && hint !== false;
  const invalid = !!errors?.length;
  const describedBy = [hasHint && `${id}-hint`, invalid && `${id}-error`].filter(Boolean).join(" ");
  return (
    <div className={grow ? "field grow" : "field"}>
      <label htmlFor={id}>{label}</label>
      {children({ id, "aria-invalid": invalid || undefined, "aria-describedby": describedBy || undefined })}
      {hasHint && (
        <span id={`${id}-hint`} className="hint">
          {hint}
        </span>
      )}
      <FieldError id={`${id}-error`} messages={errors} />
    </div>
  );
}

/** Props of the native control that the field does not set itself. */
type Native<T extends "input" | "select" | "textarea"> = Omit<ComponentProps<T>, "id" | "aria-invalid" | "aria-describedby">;

export function TextField({ id, label, hint, errors, grow, ...input }: FieldProps & Native<"input">) {
  return (
    <Field id={id} label={label} hint={hint} errors={errors} grow={grow}>
      {(control) => <input {...input} {...control} />}
    </Field>
  );
}

export function TextareaField({ id, label, hint, errors, grow, ...textarea }: FieldProps & Native<"textarea">) {
  return (
    <Field id={id} label={label} hint={hint} errors={errors} grow={grow}>
      {(control) => <textarea {...textarea} {...control} />}
    </Field>
  );
}

export type SelectOption = { value: string; label: string };

export function SelectField({
  id,
  label,
  hint,
  errors,
  grow,
  options,
  ...select
}: FieldProps & Omit<Native<"select">, "children"> & { options: readonly SelectOption[] }) {
  return (
    <Field id={id} label={label} hint={hint} errors={errors} grow={grow}>
      {(control) => (
        <select {...select} {...control}>
          {options.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}
