import { useState, type FormEvent } from "react";
import { TextField } from "@/components/form-field";
import { useChangePassword } from "@/features/auth/api/change-password";
import { validateNewPassword, type FieldErrors } from "@/features/auth/utils/validation";
import { ApiError } from "@/lib/api-error";
import { toast } from "@/lib/toast-store";

export function ChangePasswordForm({ onSuccess }: { onSuccess?: () => void }) {
  const [currentPassword, setCurrentPassword] = useState("");
  const [newPassword, setNewPassword] = useState("");
  const [confirmation, setConfirmation] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const changePassword = useChangePassword();

  function submit(event: FormEvent) {
    event.preventDefault();
    const found = validateNewPassword(newPassword, confirmation);
    if (!currentPassword) found.current_password = ["Enter your current password."];
    setErrors(found);
    if (Object.keys(found).length) return;
    changePassword.mutate(
      { current_password: currentPassword, new_password: newPassword },
      {
        onSuccess: () => {
          toast.success("Password changed.");
          setCurrentPassword("");
          setNewPassword("");
          setConfirmation("");
          onSuccess?.();
        },
        onError: (error) => {
          if (error instanceof ApiError) setErrors(error.fieldErrors);
          toast.error(error);
        },
      },
    );
  }

  const fields = [
    { id: "current_password", label: "Current password", value: currentPassword, set: setCurrentPassword, auto: "current-password" },
    { id: "new_password", label: "New password", value: newPassword, set: setNewPassword, auto: "new-password" },
    { id: "confirm_password", label: "Confirm new password", value: confirmation, set: setConfirmation, auto: "new-password" },
  ];

  return (
    <form className="card narrow" onSubmit={submit} noValidate>
      <h1>Change password</h1>
      {fields.map((field) => (
        <TextField
          key={field.id}
          id={field.id}
          label={field.label}
          errors={errors[field.id]}
          type="password"
          autoComplete={field.auto}
          value={field.value}
          onChange={(event) => field.set(event.target.value)}
        />
      ))}
      <button type="submit" className="button primary" disabled={changePassword.isPending}>
        {changePassword.isPending ? "Saving…" : "Change password"}
      </button>
    </form>
  );
}
