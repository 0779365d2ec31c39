import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { TextField } from "@/components/form-field";
import { useLogin } from "@/features/auth/api/login";
import { validateCredentials, type FieldErrors } from "@/features/auth/utils/validation";
import { ApiError } from "@/lib/api-error";
import { toast } from "@/lib/toast-store";

export function LoginForm({ onSuccess }: { onSuccess: () => void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const login = useLogin();

  function submit(event: FormEvent) {
    event.preventDefault();
    const found = validateCredentials(email, password);
    setErrors(found);
    if (Object.keys(found).length) return;
    login.mutate(
      { email: email.trim(), password },
      {
        onSuccess,
        onError: (error) => {
          if (error instanceof ApiError) setErrors(error.fieldErrors);
          toast.error(error);
        },
      },
    );
  }

  return (
    <form className="card auth-card" onSubmit={submit} noValidate>
      <h1>Sign in</h1>
      <TextField
        id="login-email"
        label="Email"
        errors={errors.email}
        type="email"
        autoComplete="username"
        value={email}
        onChange={(event) => setEmail(event.target.value)}
      />
      <TextField
        id="login-password"
        label="Password"
        errors={errors.password}
        type="password"
        autoComplete="current-password"
        value={password}
        onChange={(event) => setPassword(event.target.value)}
      />
      <button type="submit" className="button primary" disabled={login.isPending}>
        {login.isPending ? "Signing in…" : "Sign in"}
      </button>
      <p className="muted">
        No account yet? <Link to="/register">Create one</Link>
      </p>
    </form>
  );
}
