import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { TextField } from "@/components/form-field";
import { useRegister } from "@/features/auth/api/register";
import { MIN_PASSWORD_LENGTH, validateCredentials, type FieldErrors } from "@/features/auth/utils/validation";
import { ApiError } from "@/lib/api-error";
import { toast } from "@/lib/toast-store";

export function RegisterForm({ onSuccess }: { onSuccess: (email: string) => void }) {
  const [email, setEmail] = useState("");
  const [fullName, setFullName] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const register = useRegister();

  function submit(event: FormEvent) {
    event.preventDefault();
    const found = validateCredentials(email, password);
    if (password && password.length < MIN_PASSWORD_LENGTH)
      found.password = [`The password must be at least ${MIN_PASSWORD_LENGTH} characters.`];
    setErrors(found);
    if (Object.keys(found).length) return;
    register.mutate(
      { email: email.trim(), password, full_name: fullName.trim() || null },
      {
        onSuccess: () => {
          toast.success("Account created. You can sign in now.");
          onSuccess(email.trim());
        },
        onError: (error) => {
          if (error instanceof ApiError) setErrors(error.fieldErrors);
          toast.error(error);
        },
      },
    );
  }

  return (
    <form className="card auth-card" onSubmit={submit} noValidate>
      <h1>Create an account</h1>
      <TextField
        id="register-email"
        label="Email"
        errors={errors.email}
        type="email"
        autoComplete="username"
        value={email}
        onChange={(event) => setEmail(event.target.value)}
      />
      <TextField
        id="register-name"
        label="Full name (optional)"
        errors={errors.full_name}
        autoComplete="name"
        value={fullName}
        onChange={(event) => setFullName(event.target.value)}
      />
      <TextField
        id="register-password"
        label="Password"
        errors={errors.password}
        type="password"
        autoComplete="new-password"
        value={password}
        onChange={(event) => setPassword(event.target.value)}
      />
      <button type="submit" className="button primary" disabled={register.isPending}>
        {register.isPending ? "Creating…" : "Create account"}
      </button>
      <p className="muted">
        Already registered? <Link to="/login">Sign in</Link>
      </p>
    </form>
  );
}
